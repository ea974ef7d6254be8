//! When to try a request again, and how long to wait first.

use std::time::{Duration, SystemTime};

use crate::error::ProviderError;

/// Exponential backoff with jitter, bounded in count and in total time, honouring `Retry-After`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// The most time one request may take, all attempts and waits included.
    pub budget: Duration,
    /// The wait before the first retry (before jitter); it doubles each time.
    pub base: Duration,
    /// The longest computed wait (a server's `Retry-After` may ask for longer).
    pub cap: Duration,
}

impl RetryPolicy {
    /// A policy with the usual base (0.5 s) and cap (30 s).
    pub fn new(max_retries: u32, budget: Duration) -> Self {
        Self {
            max_retries,
            budget,
            base: Duration::from_millis(500),
            cap: Duration::from_secs(30),
        }
    }

    /// How long to wait before retry number `retry` (1 for the first retry) after `error`,
    /// `elapsed` into the request; `Err` explains why not to retry.
    pub fn wait(
        &self,
        retry: u32,
        error: &ProviderError,
        elapsed: Duration,
    ) -> Result<Duration, GiveUp> {
        if !error.is_transient() {
            return Err(GiveUp::Permanent);
        }
        if retry > self.max_retries {
            return Err(GiveUp::Attempts(self.max_retries + 1));
        }
        let wait = match error.retry_after() {
            // The server said when; a little jitter keeps many clients from returning at once.
            Some(after) => after + after.mul_f64(0.1 * fastrand::f64()),
            None => {
                let full = self
                    .base
                    .saturating_mul(1u32 << (retry - 1).min(16))
                    .min(self.cap);
                // "Equal jitter": half fixed, half random.
                full / 2 + full.mul_f64(0.5 * fastrand::f64())
            }
        };
        if elapsed + wait > self.budget {
            return Err(GiveUp::Budget {
                wait,
                budget: self.budget,
            });
        }
        Ok(wait)
    }
}

/// Why a failed request is not tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GiveUp {
    /// The error will not go away by itself.
    Permanent,
    /// All attempts were made.
    Attempts(u32),
    /// The next wait would pass the time budget.
    Budget {
        /// The wait that was needed.
        wait: Duration,
        /// The budget (`retry_budget_s`).
        budget: Duration,
    },
}

impl GiveUp {
    /// Words to append to the last error, or `None` when there is nothing to add.
    pub fn note(&self) -> Option<String> {
        match self {
            GiveUp::Permanent => None,
            GiveUp::Attempts(n) => Some(format!("gave up after {n} attempts (max_retries)")),
            GiveUp::Budget { wait, budget } => Some(format!(
                "gave up: waiting {:.1} s more would pass the {:.0} s retry budget (retry_budget_s)",
                wait.as_secs_f64(),
                budget.as_secs_f64()
            )),
        }
    }
}

/// Reads `Retry-After` (seconds, possibly fractional, or an HTTP date) or OpenAI's
/// `retry-after-ms`. Dates in the past mean "now".
pub(crate) fn parse_retry_after(
    retry_after: Option<&str>,
    retry_after_ms: Option<&str>,
) -> Option<Duration> {
    parse_retry_after_at(retry_after, retry_after_ms, SystemTime::now())
}

/// [`parse_retry_after`] with a date read as from `now`.
fn parse_retry_after_at(
    retry_after: Option<&str>,
    retry_after_ms: Option<&str>,
    now: SystemTime,
) -> Option<Duration> {
    if let Some(ms) = retry_after_ms.and_then(|v| v.trim().parse::<f64>().ok())
        && ms.is_finite()
        && ms >= 0.0
    {
        return Some(Duration::from_secs_f64(ms / 1000.0));
    }
    let value = retry_after?.trim();
    if let Ok(s) = value.parse::<f64>() {
        return (s.is_finite() && s >= 0.0).then(|| Duration::from_secs_f64(s));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server() -> ProviderError {
        ProviderError::Server {
            provider: "m".into(),
            status: 503,
            message: "busy".into(),
        }
    }

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        let p = RetryPolicy::new(10, Duration::from_secs(3600));
        for retry in 1..=8 {
            let full = Duration::from_millis(500)
                .saturating_mul(1 << (retry - 1))
                .min(Duration::from_secs(30));
            for _ in 0..50 {
                let w = p.wait(retry, &server(), Duration::ZERO).expect("retry");
                assert!(
                    w >= full / 2 && w <= full,
                    "retry {retry}: {w:?} vs {full:?}"
                );
            }
        }
    }

    #[test]
    fn permanent_errors_and_exhausted_attempts_are_not_retried() {
        let p = RetryPolicy::new(2, Duration::from_secs(60));
        let bad = ProviderError::InvalidRequest {
            provider: "m".into(),
            detail: "x".into(),
        };
        assert_eq!(p.wait(1, &bad, Duration::ZERO), Err(GiveUp::Permanent));
        assert!(p.wait(2, &server(), Duration::ZERO).is_ok());
        assert_eq!(
            p.wait(3, &server(), Duration::ZERO),
            Err(GiveUp::Attempts(3))
        );
    }

    #[test]
    fn retry_after_is_honoured_and_bounded_by_the_budget() {
        let p = RetryPolicy::new(5, Duration::from_secs(10));
        let limited = |s| ProviderError::RateLimited {
            provider: "m".into(),
            retry_after: Some(Duration::from_secs(s)),
            message: String::new(),
        };
        let w = p.wait(1, &limited(2), Duration::ZERO).expect("retry");
        assert!(
            w >= Duration::from_secs(2) && w <= Duration::from_millis(2200),
            "{w:?}"
        );
        let e = p
            .wait(1, &limited(20), Duration::ZERO)
            .expect_err("too long");
        assert!(matches!(e, GiveUp::Budget { .. }));
        assert!(e.note().expect("note").contains("retry_budget_s"));
        let late = p.wait(1, &limited(2), Duration::from_secs(9));
        assert!(matches!(late, Err(GiveUp::Budget { .. })));
    }

    #[test]
    fn retry_after_forms() {
        assert_eq!(
            parse_retry_after(Some("3"), None),
            Some(Duration::from_secs(3))
        );
        assert_eq!(
            parse_retry_after(Some("0.5"), None),
            Some(Duration::from_millis(500))
        );
        assert_eq!(
            parse_retry_after(Some("3"), Some("250")),
            Some(Duration::from_millis(250))
        );
        assert_eq!(parse_retry_after(Some("soon"), None), None);
        assert_eq!(parse_retry_after(Some("-1"), None), None);
        assert_eq!(parse_retry_after(None, None), None);
        // Dates are read against a fixed now (a whole second, as HTTP dates are).
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_764_000_000);
        let later = httpdate::fmt_http_date(now + Duration::from_secs(120));
        assert_eq!(
            parse_retry_after_at(Some(&later), None, now),
            Some(Duration::from_secs(120))
        );
        let past = httpdate::fmt_http_date(now - Duration::from_secs(60));
        assert_eq!(
            parse_retry_after_at(Some(&past), None, now),
            Some(Duration::ZERO)
        );
        // Without a given now, a date is read against the clock.
        let past = httpdate::fmt_http_date(SystemTime::now() - Duration::from_secs(60));
        assert_eq!(parse_retry_after(Some(&past), None), Some(Duration::ZERO));
    }
}
