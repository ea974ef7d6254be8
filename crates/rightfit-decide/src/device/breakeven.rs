//! When running a small model on owned or rented hardware costs less than a hosted API.
//!
//! One device serving one request at a time (batch 1), all month: its cost is fixed, so the
//! cost per request falls as volume rises, down to the cost at full use. Local is cheaper once
//! the monthly cost divided by the hosted price per request — the break-even volume — is a
//! volume one device can serve.

use serde::{Deserialize, Serialize};

use super::profile::DevicePrice;
use super::roofline::Speed;

/// Hours in a month: 365 × 24 ÷ 12.
pub const HOURS_PER_MONTH: f64 = 730.0;

/// Seconds in a month ([`HOURS_PER_MONTH`] × 3,600, about 30.4 days).
pub const SECONDS_PER_MONTH: f64 = HOURS_PER_MONTH * 3600.0;

/// The break-even between a local deployment and a hosted API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BreakEven {
    /// What the hardware costs per month, US dollars, whether busy or idle.
    pub local_monthly_usd: f64,
    /// Requests one device serves per month at full use.
    pub capacity_per_month: f64,
    /// Local cost per request at full use, US dollars.
    pub local_cost_per_request_at_capacity: f64,
    /// The hosted API's cost per request, US dollars.
    pub hosted_cost_per_request: f64,
    /// Requests per month above which local is cheaper; `None` when it never is.
    pub requests_per_month: Option<f64>,
}

/// What the hardware costs per month, US dollars.
///
/// - rented: `usd per hour × 730 h`;
/// - owned: `purchase ÷ months` (straight-line write-off) `+ watts × 730 h ÷ 1000 × usd per
///   kWh` (drawing its load power all month, as at full use).
pub fn monthly_cost(price: &DevicePrice) -> f64 {
    match *price {
        DevicePrice::Hourly { usd } => usd * HOURS_PER_MONTH,
        DevicePrice::Owned {
            purchase_usd,
            months,
            watts,
            usd_per_kwh,
        } => {
            let write_off = if months > 0.0 {
                purchase_usd / months
            } else {
                purchase_usd
            };
            write_off + watts * HOURS_PER_MONTH / 1000.0 * usd_per_kwh
        }
    }
}

/// The break-even volume for a local model at `speed` on hardware priced `price`, against a
/// hosted API costing `hosted_cost_per_request`.
///
/// - capacity = [`SECONDS_PER_MONTH`] ÷ (`request_ms` ÷ 1000): requests one device serves,
///   one at a time, busy all month;
/// - local cost per request at capacity = monthly cost ÷ capacity;
/// - break-even = monthly cost ÷ hosted cost per request, when that is at most the capacity;
///   otherwise `None`: one device never gets cheaper than the API (equivalently, its cost per
///   request at full use is above the hosted price). A hosted cost of zero (or less, or not a
///   number) also gives `None`.
///
/// A non-positive `request_ms` is treated as a nanosecond, keeping figures finite.
pub fn break_even(speed: &Speed, price: &DevicePrice, hosted_cost_per_request: f64) -> BreakEven {
    let monthly = monthly_cost(price);
    let request_s = (speed.request_ms / 1000.0).max(1e-9);
    let capacity = SECONDS_PER_MONTH / request_s;
    let at_capacity = monthly / capacity;
    let requests_per_month = if hosted_cost_per_request > 0.0 && hosted_cost_per_request.is_finite()
    {
        let volume = monthly / hosted_cost_per_request;
        (volume <= capacity).then_some(volume)
    } else {
        None
    };
    BreakEven {
        local_monthly_usd: monthly,
        capacity_per_month: capacity,
        local_cost_per_request_at_capacity: at_capacity,
        hosted_cost_per_request,
        requests_per_month,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn speed(request_ms: f64) -> Speed {
        Speed {
            prefill_tokens_per_s: 100.0,
            decode_tokens_per_s: 10.0,
            ttft_ms: 0.0,
            request_ms,
        }
    }

    #[test]
    fn monthly_cost_of_rented_and_owned_hardware() {
        assert_eq!(monthly_cost(&DevicePrice::Hourly { usd: 2.0 }), 1460.0);
        // $360 over 36 months = $10, plus 100 W × 730 h = 73 kWh at $0.20 = $14.60.
        let owned = DevicePrice::Owned {
            purchase_usd: 360.0,
            months: 36.0,
            watts: 100.0,
            usd_per_kwh: 0.20,
        };
        assert!((monthly_cost(&owned) - 24.6).abs() < 1e-9);
    }

    #[test]
    fn break_even_below_capacity() {
        // One request per second: capacity = 2,628,000 a month; $1,460 a month.
        let b = break_even(&speed(1000.0), &DevicePrice::Hourly { usd: 2.0 }, 0.001);
        assert_eq!(b.capacity_per_month, 2_628_000.0);
        assert_eq!(b.local_monthly_usd, 1460.0);
        assert!((b.local_cost_per_request_at_capacity - 1460.0 / 2_628_000.0).abs() < 1e-15);
        // $1,460 ÷ $0.001 = 1,460,000 requests, below the capacity.
        let volume = b.requests_per_month.expect("cheaper above 1.46M requests");
        assert!((volume - 1_460_000.0).abs() < 1e-6);
        assert!(b.local_cost_per_request_at_capacity < b.hosted_cost_per_request);
    }

    #[test]
    fn never_cheaper_when_the_volume_exceeds_what_one_device_serves() {
        // Ten seconds a request: 262,800 a month; $1,460 ÷ $0.001 = 1.46M > capacity.
        let b = break_even(&speed(10_000.0), &DevicePrice::Hourly { usd: 2.0 }, 0.001);
        assert_eq!(b.requests_per_month, None);
        assert!(b.local_cost_per_request_at_capacity > b.hosted_cost_per_request);
    }

    #[test]
    fn zero_or_invalid_hosted_cost_never_breaks_even() {
        for hosted in [0.0, -1.0, f64::NAN] {
            let b = break_even(&speed(1000.0), &DevicePrice::Hourly { usd: 2.0 }, hosted);
            assert_eq!(b.requests_per_month, None, "hosted {hosted}");
        }
    }

    #[test]
    fn exactly_at_capacity_breaks_even_at_capacity() {
        // 1 h a request: 730 requests a month; $730 a month; hosted $1 a request → 730.
        let b = break_even(&speed(3_600_000.0), &DevicePrice::Hourly { usd: 1.0 }, 1.0);
        assert_eq!(b.capacity_per_month, 730.0);
        assert_eq!(b.local_cost_per_request_at_capacity, 1.0);
        assert_eq!(b.requests_per_month, Some(730.0));
    }

    #[test]
    fn faster_requests_raise_capacity_and_lower_the_cost_at_capacity() {
        let price = DevicePrice::Hourly { usd: 1.0 };
        let slow = break_even(&speed(2000.0), &price, 0.01);
        let fast = break_even(&speed(500.0), &price, 0.01);
        assert!(fast.capacity_per_month > slow.capacity_per_month);
        assert!(fast.local_cost_per_request_at_capacity < slow.local_cost_per_request_at_capacity);
        // The break-even volume depends on the price only, while it is reachable.
        assert_eq!(fast.requests_per_month, slow.requests_per_month);
    }
}
