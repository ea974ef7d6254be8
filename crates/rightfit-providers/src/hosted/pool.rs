//! The endpoints serving one model (a fleet, or just one): which takes the next attempt, which
//! are out of rotation after failing, and the counts a caller can read.
//!
//! An attempt goes to the healthy endpoint with the fewest requests in flight; ties go round-robin
//! from the one after the last chosen, so that a client sending one request at a time still
//! spreads. An endpoint that fails by its own fault (see [`is_endpoint_fault`]) is ejected for a
//! cool-down that doubles while it keeps failing, up to a cap, and is reset by a success. When
//! every endpoint is ejected, the one whose cool-down ends first is tried rather than none.
//! The decisions take the time as an argument, so they are tested without waiting.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use crate::error::ProviderError;

/// How long an endpoint that failed stays out of rotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ejection {
    /// The first cool-down after a success (or from the start).
    pub cooldown: Duration,
    /// The longest cool-down: each further failure in a row doubles it up to this.
    pub max_cooldown: Duration,
}

impl Default for Ejection {
    /// 5 s, doubling up to 60 s.
    fn default() -> Self {
        Self {
            cooldown: Duration::from_secs(5),
            max_cooldown: Duration::from_secs(60),
        }
    }
}

/// One endpoint's counts at one moment (for tests, `rightfit` metrics and messages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointStats {
    /// Its base URL, as configured.
    pub url: String,
    /// Attempts sent to it (a request retried on another endpoint counts once on each).
    pub requests: u64,
    /// Attempts that failed by its fault: no connection, a timeout, a cut answer, 5xx or 429.
    pub failures: u64,
    /// Times it was taken out of rotation.
    pub ejections: u64,
    /// Attempts under way now (a stream counts until it ends or is dropped).
    pub in_flight: usize,
    /// What is left of its cool-down; `None` while it is in rotation.
    pub ejected_for: Option<Duration>,
}

/// Whether `error` says the endpoint that answered it is unwell, so that it is ejected and the
/// request tried on another: no connection, a timeout, an answer cut short, an error event in a
/// stream, 5xx, 429. Client errors (other 4xx), refused keys and protocol errors are not.
pub(crate) fn is_endpoint_fault(error: &ProviderError) -> bool {
    match error {
        ProviderError::Server { status, .. } => *status == 0 || *status >= 500,
        ProviderError::Unavailable { .. }
        | ProviderError::Truncated { .. }
        | ProviderError::RateLimited { .. }
        | ProviderError::Timeout { .. } => true,
        _ => false,
    }
}

#[derive(Debug, Default)]
struct Endpoint {
    requests: u64,
    failures: u64,
    ejections: u64,
    in_flight: usize,
    /// Failures in a row since the last success: sets the next cool-down.
    streak: u32,
    ejected_until: Option<Instant>,
}

impl Endpoint {
    fn healthy(&self, now: Instant) -> bool {
        self.ejected_until.is_none_or(|until| until <= now)
    }
}

#[derive(Debug)]
struct State {
    endpoints: Vec<Endpoint>,
    /// Where the round-robin among equally loaded endpoints starts next.
    next: usize,
}

impl State {
    /// The endpoint for the next attempt: the healthy one outside `exclude` with the fewest in
    /// flight (ties round-robin); with `fallback`, when none is healthy, the one whose cool-down
    /// ends first.
    fn choose(&mut self, now: Instant, exclude: &[usize], fallback: bool) -> Option<usize> {
        let n = self.endpoints.len();
        let order = (0..n).map(|k| (self.next + k) % n);
        let open = |i: &usize| !exclude.contains(i);
        let chosen = order
            .clone()
            .filter(open)
            .filter(|&i| self.endpoints[i].healthy(now))
            .min_by_key(|&i| self.endpoints[i].in_flight)
            .or_else(|| {
                fallback
                    .then(|| {
                        order.filter(open).min_by_key(|&i| {
                            (self.endpoints[i].ejected_until, self.endpoints[i].in_flight)
                        })
                    })
                    .flatten()
            })?;
        self.next = (chosen + 1) % n;
        Some(chosen)
    }
}

/// The endpoints of one model and their state; shared by every request to the model.
#[derive(Debug)]
pub(crate) struct Pool {
    urls: Vec<String>,
    state: Mutex<State>,
    ejection: Ejection,
}

impl Pool {
    /// A pool of `urls` (at least one), in rotation from the start.
    pub fn new(urls: Vec<String>, ejection: Ejection) -> Self {
        Self {
            state: Mutex::new(State {
                endpoints: urls.iter().map(|_| Endpoint::default()).collect(),
                next: 0,
            }),
            urls,
            ejection,
        }
    }

    /// The same endpoints, counts reset, with another cool-down.
    pub fn with_ejection(&self, ejection: Ejection) -> Self {
        Self::new(self.urls.clone(), ejection)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The state stays consistent under every panic (each update is a few plain stores).
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Every URL, in the order configured.
    pub fn urls(&self) -> &[String] {
        &self.urls
    }

    /// Each endpoint's counts now.
    pub fn stats(&self) -> Vec<EndpointStats> {
        let now = Instant::now();
        self.lock()
            .endpoints
            .iter()
            .zip(&self.urls)
            .map(|(e, url)| EndpointStats {
                url: url.clone(),
                requests: e.requests,
                failures: e.failures,
                ejections: e.ejections,
                in_flight: e.in_flight,
                ejected_for: e
                    .ejected_until
                    .filter(|&until| until > now)
                    .map(|until| until - now),
            })
            .collect()
    }

    /// Takes the best endpoint for an attempt (see [`State::choose`]; never none).
    pub fn acquire(self: &Arc<Self>) -> Lease {
        self.acquire_at(Instant::now())
    }

    fn acquire_at(self: &Arc<Self>, now: Instant) -> Lease {
        let mut state = self.lock();
        // With fallback, a pool of at least one endpoint always yields one.
        let index = state.choose(now, &[], true).unwrap_or(0);
        self.lease(&mut state, index)
    }

    /// Takes the best healthy endpoint not in `tried`, if there is one.
    pub fn acquire_untried(self: &Arc<Self>, tried: &[usize]) -> Option<Lease> {
        let mut state = self.lock();
        let index = state.choose(Instant::now(), tried, false)?;
        Some(self.lease(&mut state, index))
    }

    /// Takes endpoint `index` again (a retry that must not move to another).
    pub fn acquire_same(self: &Arc<Self>, index: usize) -> Lease {
        let mut state = self.lock();
        self.lease(&mut state, index)
    }

    fn lease(self: &Arc<Self>, state: &mut State, index: usize) -> Lease {
        let e = &mut state.endpoints[index];
        e.requests += 1;
        e.in_flight += 1;
        Lease {
            pool: self.clone(),
            index,
            ejections_then: e.ejections,
        }
    }

    fn succeeded(&self, lease: &Lease) {
        let mut state = self.lock();
        let e = &mut state.endpoints[lease.index];
        // An attempt begun before the endpoint's latest ejection says nothing of it since.
        if e.ejections == lease.ejections_then {
            e.streak = 0;
            e.ejected_until = None;
        }
    }

    fn failed(&self, lease: &Lease, error: &ProviderError, now: Instant) {
        let mut state = self.lock();
        let e = &mut state.endpoints[lease.index];
        e.failures += 1;
        // Requests that were under way when another of them ejected the endpoint fail together:
        // that is one ejection, not one per request.
        if e.ejections != lease.ejections_then && !e.healthy(now) {
            return;
        }
        e.streak = e.streak.saturating_add(1);
        let doubled = self
            .ejection
            .cooldown
            .saturating_mul(1u32 << (e.streak - 1).min(16))
            .min(self.ejection.max_cooldown);
        let asked = error
            .retry_after()
            .unwrap_or_default()
            .min(self.ejection.max_cooldown);
        e.ejected_until = Some(now + doubled.max(asked));
        e.ejections += 1;
    }
}

/// One attempt's hold on an endpoint: counted in flight until dropped.
#[derive(Debug)]
pub(crate) struct Lease {
    pool: Arc<Pool>,
    index: usize,
    /// The endpoint's ejection count when the attempt began.
    ejections_then: u64,
}

impl Lease {
    /// The endpoint's base URL.
    pub fn url(&self) -> &str {
        &self.pool.urls[self.index]
    }

    /// The endpoint's place in the pool.
    pub fn index(&self) -> usize {
        self.index
    }

    /// The endpoint answered: it is well again.
    pub fn succeeded(&self) {
        self.pool.succeeded(self);
    }

    /// The attempt failed with `error`; an endpoint fault ejects the endpoint.
    pub fn failed(&self, error: &ProviderError) {
        if is_endpoint_fault(error) {
            self.pool.failed(self, error, Instant::now());
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        let mut state = self.pool.lock();
        let e = &mut state.endpoints[self.index];
        e.in_flight = e.in_flight.saturating_sub(1);
    }
}

#[cfg(test)]
#[path = "pool_tests.rs"]
mod tests;
