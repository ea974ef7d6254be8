//! When running a small model on owned or rented hardware costs less than a hosted API.

use serde::{Deserialize, Serialize};

use super::{DevicePrice, Speed};

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

/// The break-even volume for a local model at `speed` on hardware priced `price`, against a
/// hosted API costing `hosted_cost_per_request`.
pub fn break_even(speed: &Speed, price: &DevicePrice, hosted_cost_per_request: f64) -> BreakEven {
    let _ = (speed, price, hosted_cost_per_request);
    todo!("break_even")
}
