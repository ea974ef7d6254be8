//! Client-side rate limits: requests and tokens per minute, as token buckets.
//!
//! A bucket holds up to one minute's allowance and refills continuously. A request takes what it
//! needs, waiting until the bucket has it; a request bigger than a whole minute's allowance waits
//! for a full bucket and then leaves it in debt, so the limit still holds on average. Token counts
//! are estimated before a request (prompt characters / 4 + `max_tokens`) and corrected with the
//! provider's reported usage afterwards.

use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

/// One limit.
#[derive(Debug)]
pub(crate) struct Bucket {
    per_minute: f64,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    available: f64,
    at: Instant,
}

impl Bucket {
    /// A full bucket for `per_minute` units per minute.
    pub fn per_minute(per_minute: u32) -> Self {
        let per_minute = f64::from(per_minute.max(1));
        Self {
            per_minute,
            state: Mutex::new(State {
                available: per_minute,
                at: Instant::now(),
            }),
        }
    }

    /// Takes `amount` units, waiting as long as needed. Returns how long it waited.
    ///
    /// Callers queue on the lock in arrival order (tokio's mutex is fair), so a large request is
    /// not starved by small ones.
    pub async fn take(&self, amount: f64) -> Duration {
        let started = Instant::now();
        let mut state = self.state.lock().await;
        loop {
            let now = Instant::now();
            let refill = now.duration_since(state.at).as_secs_f64() * self.per_minute / 60.0;
            state.available = (state.available + refill).min(self.per_minute);
            state.at = now;
            let need = amount.min(self.per_minute);
            if state.available >= need {
                state.available -= amount;
                return started.elapsed();
            }
            let wait = (need - state.available) * 60.0 / self.per_minute;
            tokio::time::sleep(Duration::from_secs_f64(wait)).await;
        }
    }

    /// Corrects an estimate: gives back `estimated - actual` (or takes more when the request
    /// used more than estimated).
    pub async fn settle(&self, estimated: f64, actual: f64) {
        let mut state = self.state.lock().await;
        state.available = (state.available + estimated - actual).min(self.per_minute);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_full_bucket_serves_a_minute_at_once_then_paces() {
        let b = Bucket::per_minute(60);
        for _ in 0..60 {
            assert_eq!(b.take(1.0).await, Duration::ZERO);
        }
        let waited = b.take(1.0).await;
        assert!(
            waited >= Duration::from_millis(990) && waited <= Duration::from_millis(1010),
            "{waited:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_larger_than_the_allowance_leaves_debt() {
        let b = Bucket::per_minute(100);
        assert_eq!(b.take(250.0).await, Duration::ZERO);
        // 150 in debt: the next unit needs 151 units of refill = 90.6 s.
        let waited = b.take(1.0).await;
        assert!(waited >= Duration::from_secs(90), "{waited:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn settling_returns_unused_tokens() {
        let b = Bucket::per_minute(100);
        b.take(100.0).await;
        b.settle(100.0, 40.0).await;
        assert_eq!(b.take(60.0).await, Duration::ZERO);
    }
}
