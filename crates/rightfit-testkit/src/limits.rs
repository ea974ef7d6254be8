//! Rate limits checked, not enforced. The server notes each request a hosted API would have
//! refused with 429 as too soon — one that came before the `Retry-After` of a scripted 429 had
//! passed, or one over a requests- or tokens-per-minute limit — and answers it as scripted all
//! the same. A test counts them to prove that a client waited, without timing the client: a slow
//! machine only makes a client later, never too soon.

use std::time::{Duration, Instant};

/// Allowance for two clocks read a moment apart: a client that waited exactly as long as it had
/// to is not too soon.
const SLACK: f64 = 1e-6;

/// What the server checks, and how many requests came too soon.
#[derive(Debug, Default)]
pub(crate) struct RateCheck {
    /// The end of the last `Retry-After` the server sent.
    not_before: Option<Instant>,
    requests: Option<Allowance>,
    tokens: Option<Allowance>,
    too_soon: usize,
}

impl RateCheck {
    /// Checks requests and tokens per minute from `now` on (`None`: that kind is not checked).
    pub(crate) fn set_limits(&mut self, now: Instant, requests: Option<u32>, tokens: Option<u32>) {
        self.requests = requests.map(|n| Allowance::new(n, now));
        self.tokens = tokens.map(|n| Allowance::new(n, now));
    }

    /// Notes a request that arrived at `now` and whose answer reports `tokens` (prompt and
    /// completion). A request that is too soon is counted and, as an API refuses it, takes
    /// nothing from the allowances.
    pub(crate) fn arrive(&mut self, now: Instant, tokens: u32) {
        let early = self.not_before.is_some_and(|t| now < t);
        let requests_left = self.requests.as_mut().is_none_or(|a| a.has(now, 1.0));
        let tokens_left = self
            .tokens
            .as_mut()
            .is_none_or(|a| a.has(now, f64::from(tokens)));
        if early || !requests_left || !tokens_left {
            self.too_soon += 1;
            return;
        }
        if let Some(a) = &mut self.requests {
            a.available -= 1.0;
        }
        if let Some(a) = &mut self.tokens {
            a.available -= f64::from(tokens);
        }
    }

    /// The server answered 429 with `Retry-After: seconds` at `now`.
    pub(crate) fn retry_after(&mut self, now: Instant, seconds: u64) {
        let until = now + Duration::from_secs(seconds);
        self.not_before = Some(self.not_before.map_or(until, |t| t.max(until)));
    }

    pub(crate) fn too_soon(&self) -> usize {
        self.too_soon
    }
}

/// A per-minute allowance as hosted APIs keep one: a minute's worth at once, refilling
/// continuously.
#[derive(Debug)]
struct Allowance {
    per_minute: f64,
    available: f64,
    at: Instant,
}

impl Allowance {
    fn new(per_minute: u32, now: Instant) -> Self {
        let per_minute = f64::from(per_minute.max(1));
        Self {
            per_minute,
            available: per_minute,
            at: now,
        }
    }

    /// Refills up to `now`; whether `amount` is there.
    fn has(&mut self, now: Instant, amount: f64) -> bool {
        let refill = now.saturating_duration_since(self.at).as_secs_f64() * self.per_minute / 60.0;
        self.available = (self.available + refill).min(self.per_minute);
        self.at = self.at.max(now);
        self.available + SLACK >= amount
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_minute_at_once_then_the_refill() {
        let t0 = Instant::now();
        let mut c = RateCheck::default();
        c.set_limits(t0, Some(60), None);
        for _ in 0..60 {
            c.arrive(t0, 0);
        }
        assert_eq!(c.too_soon(), 0);
        c.arrive(t0 + Duration::from_millis(500), 0);
        assert_eq!(c.too_soon(), 1, "the 61st within the same second");
        c.arrive(t0 + Duration::from_secs(1), 0);
        assert_eq!(c.too_soon(), 1, "one second refills one request");
    }

    #[test]
    fn tokens_are_charged_as_reported() {
        let t0 = Instant::now();
        let mut c = RateCheck::default();
        c.set_limits(t0, None, Some(600));
        c.arrive(t0, 500);
        c.arrive(t0, 100);
        assert_eq!(c.too_soon(), 0);
        c.arrive(t0, 10);
        assert_eq!(c.too_soon(), 1);
        // 10 tokens a second: 6 s give back 60.
        c.arrive(t0 + Duration::from_secs(6), 60);
        assert_eq!(c.too_soon(), 1);
    }

    #[test]
    fn a_request_before_retry_after_is_too_soon() {
        let t0 = Instant::now();
        let mut c = RateCheck::default();
        c.retry_after(t0, 2);
        c.arrive(t0 + Duration::from_millis(1_999), 0);
        assert_eq!(c.too_soon(), 1);
        c.arrive(t0 + Duration::from_secs(2), 0);
        assert_eq!(c.too_soon(), 1);
    }
}
