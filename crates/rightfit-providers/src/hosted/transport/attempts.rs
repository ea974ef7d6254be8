//! The attempts of one request: which endpoint each goes to, trying another endpoint at once
//! when one fails by its own fault, and the retry policy (backoff, `Retry-After`, the time
//! budget) once no untried healthy endpoint is left.

use std::future::Future;

use tokio::time::Instant;

use super::super::pool::{Lease, is_endpoint_fault};
use super::super::retry::GiveUp;
use super::client::HostedProvider;
use super::errors::annotate;
use crate::error::ProviderError;

impl HostedProvider {
    /// Runs `attempt` (given the endpoint's base URL) until it succeeds or may not be tried
    /// again; returns its value and the hold on the endpoint that answered (a stream keeps it
    /// until it ends, so that it counts as in flight).
    ///
    /// An endpoint fault (no connection, timeout, cut answer, 5xx, 429) ejects the endpoint and
    /// moves the request at once to a healthy endpoint it has not tried — once per endpoint,
    /// within `retry_budget_s`, without using up `max_retries`. After that, and for every
    /// other transient error, the retry policy decides: a wait, then the best endpoint (the same
    /// one for an error that is not the endpoint's fault). Other errors are returned at once.
    pub(super) async fn retrying<T, F, Fut>(
        &self,
        started: Instant,
        mut attempt: F,
    ) -> Result<(T, Lease), ProviderError>
    where
        F: FnMut(String) -> Fut,
        Fut: Future<Output = Result<T, ProviderError>>,
    {
        let mut lease = self.pool.acquire();
        let mut tried: Vec<usize> = Vec::new();
        let (mut retry, mut attempts) = (0, 0);
        loop {
            attempts += 1;
            if !tried.contains(&lease.index()) {
                tried.push(lease.index());
            }
            let error = match attempt(lease.url().to_owned()).await {
                Ok(v) => {
                    lease.succeeded();
                    return Ok((v, lease));
                }
                Err(e) => e,
            };
            lease.failed(&error);
            let (at, url) = (lease.index(), lease.url().to_owned());
            drop(lease);
            let fault = is_endpoint_fault(&error);
            if fault
                && started.elapsed() < self.retry.budget
                && let Some(next) = self.pool.acquire_untried(&tried)
            {
                tracing::warn!(model = %self.name, failed = %url, next = %next.url(), %error, "trying another endpoint");
                lease = next;
                continue;
            }
            retry += 1;
            match self.retry.wait(retry, &error, started.elapsed()) {
                Ok(wait) => {
                    tracing::warn!(model = %self.name, retry, wait_s = wait.as_secs_f64(), %error, "retrying");
                    tokio::time::sleep(wait).await;
                    lease = if fault {
                        self.pool.acquire()
                    } else {
                        self.pool.acquire_same(at)
                    };
                }
                Err(give_up) => {
                    let fleet = self.pool.urls().len() > 1;
                    let note = match give_up {
                        // Moving to another endpoint does not use up `max_retries`.
                        GiveUp::Attempts(n) if fleet && attempts != n => Some(format!(
                            "gave up after {attempts} attempts (each endpoint once, then max_retries)"
                        )),
                        other => other.note(),
                    };
                    let mut notes: Vec<String> = note.into_iter().collect();
                    if fleet && fault {
                        let urls: Vec<&str> = tried
                            .iter()
                            .map(|&i| self.pool.urls()[i].as_str())
                            .collect();
                        notes.push(format!("endpoints tried: {}", urls.join(", ")));
                    }
                    return Err(if notes.is_empty() {
                        error
                    } else {
                        annotate(error, &notes.join("; "))
                    });
                }
            }
        }
    }
}
