//! Gateway keys: who may call, how often, and how much they may spend — held across every
//! gateway (replica) on one store.
//!
//! Keys live in the store as SHA-256 hashes (`rightfit keys create` prints the secret once).
//! The gateway keeps the key table in memory and re-reads it every [`REFRESH`]: a key made,
//! changed or revoked by any process on the store (`rightfit keys`, another replica) is honoured
//! here within [`REFRESH`] plus one store read, without a restart.
//!
//! The limits are the store's, not this process's, so they hold for a key whatever replica
//! each of its requests reaches ([`admit`]):
//!
//! - **Budget** (`budget_usd`): a request is admitted only if the key's spend as stored now
//!   ([`TrafficStore::spent`], one read per request of a budgeted key) is below the budget. A
//!   finished request's cost is added to the store ([`TrafficStore::add_spend`]) as soon as it
//!   is known, before the answer completes (`App::finish`): before a whole answer is returned,
//!   before the last frames of a stream. So the stored spend only lags by the requests still
//!   running, and a budget is overshot only by requests admitted while the stored spend was
//!   below it that were still running when it crossed: the final spend is below
//!   `budget + n × c`, with `n` the key's requests in flight on all replicas (admitted, cost
//!   not yet added) when the stored spend first reached the budget, the crossing one
//!   included, and `c` the largest cost of one request. Every request admitted after that
//!   reads a spend at or over the budget. A client that waits for each answer before sending
//!   the next overshoots by at most its last request. A cost the store cannot take when the
//!   request finishes is added by the traffic writer with the record (that request counts as
//!   in flight until then); the writer and the journal's replay add no cost that was added at
//!   finish (`crate::journal::Spend`).
//! - **Rate** (`requests_per_minute`): a token bucket in the store
//!   ([`TrafficStore::take_request`]: one atomic statement on the database's clock, shared by
//!   every replica; it holds a minute's worth and refills continuously), so the limit is exact
//!   across replicas. A refused request gets 429 with `Retry-After` in whole seconds (at
//!   least 1).
//!
//! When the store cannot answer: a budget that cannot be read refuses the request (503 with
//! `Retry-After: 1`; money is not spent blind), and a rate limit that cannot be checked is
//! decided by this process's own bucket for the key (the same size and refill), so the gateway
//! keeps serving and, while the store is down, a key gets at most its limit from each replica
//! (never no limit at all). Each such error is logged and counted
//! (`rightfit_key_store_errors_total`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use http::HeaderMap;
use rightfit_store::{Admission, TrafficStore};
use rightfit_types::GatewayKey;

use crate::error::GatewayError;
use crate::metrics::{KeyCheck, Metrics};

/// Refuses a gateway that would listen on a non-loopback address with `auth = "none"`: anyone
/// who could reach it could spend the model budget. `insecure` (`rightfit serve --insecure`)
/// allows it.
pub fn check_exposure(
    gateway: &rightfit_config::project::GatewayConfig,
    insecure: bool,
) -> Result<(), String> {
    let addr = gateway.listen;
    if gateway.auth == rightfit_config::project::GatewayAuth::None
        && !addr.ip().is_loopback()
        && !insecure
    {
        return Err(format!(
            "refusing to serve {addr} without gateway keys: anyone who can reach it could spend your model budget — \
             set [gateway] auth = \"keys\" and make a key with 'rightfit keys create', or pass --insecure"
        ));
    }
    Ok(())
}

/// How often keys are re-read from the store.
pub const REFRESH: Duration = Duration::from_secs(2);

/// How long a request refused for a limit that could not be checked is told to wait.
const STORE_RETRY_S: u64 = 1;

/// One key as the gateway tracks it.
#[derive(Debug)]
pub struct KeyState {
    key: RwLock<GatewayKey>,
    /// This process's bucket, used only while the store cannot be asked.
    fallback: Mutex<Bucket>,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// What admission needs of a key, read once.
struct Limits {
    id: String,
    name: String,
    requests_per_minute: Option<u32>,
    budget_usd: Option<f64>,
}

impl KeyState {
    fn new(key: GatewayKey) -> Self {
        let tokens = key.requests_per_minute.map_or(0.0, f64::from);
        Self {
            key: RwLock::new(key),
            fallback: Mutex::new(Bucket {
                tokens,
                at: Instant::now(),
            }),
        }
    }

    /// The key's public id.
    pub fn id(&self) -> String {
        self.key.read().map(|k| k.id.clone()).unwrap_or_default()
    }

    /// The key's budget in US dollars, as of the last refresh.
    pub fn budget_usd(&self) -> Option<f64> {
        self.key.read().ok().and_then(|k| k.budget_usd)
    }

    /// The key's limits; refuses a revoked key.
    fn limits(&self) -> Result<Limits, GatewayError> {
        let key = self
            .key
            .read()
            .map_err(|_| GatewayError::internal("key table poisoned"))?;
        if key.revoked_at.is_some() {
            return Err(GatewayError::authentication(
                "this gateway key has been revoked",
            ));
        }
        Ok(Limits {
            id: key.id.clone(),
            name: key.name.clone(),
            requests_per_minute: key.requests_per_minute,
            budget_usd: key.budget_usd,
        })
    }

    /// Takes a request from this process's bucket (holding `rpm`, refilled at `rpm` a minute);
    /// how long until one is there if it is empty.
    fn take_local(&self, rpm: u32, now: Instant) -> Result<Admission, GatewayError> {
        let mut b = self
            .fallback
            .lock()
            .map_err(|_| GatewayError::internal("rate limiter poisoned"))?;
        let rate = f64::from(rpm) / 60.0;
        let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
        b.tokens = (b.tokens + elapsed * rate).min(f64::from(rpm));
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            return Ok(Admission::Admitted);
        }
        // A limit of 0 a minute never refills: a day, as the store says.
        let wait = if rate > 0.0 {
            (1.0 - b.tokens) / rate
        } else {
            86_400.0
        };
        Ok(Admission::Wait(Duration::from_secs_f64(wait.min(86_400.0))))
    }
}

/// Seconds for `Retry-After`: whole, rounded up, at least 1.
fn retry_after_s(wait: Duration) -> u64 {
    let whole = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    whole.max(1)
}

/// Lets a request of `key` in, or says why not: revoked (401), over its budget as stored now
/// (429 `insufficient_quota`), over its rate limit as the store's shared bucket says (429 with
/// `Retry-After`). The budget is read before a token is taken, so a request refused for its
/// budget takes nothing from the rate limit. See the module docs for what happens when the
/// store cannot answer.
pub async fn admit(
    key: &KeyState,
    store: &dyn TrafficStore,
    metrics: &Metrics,
) -> Result<(), GatewayError> {
    let limits = key.limits()?;
    if let Some(budget) = limits.budget_usd {
        let spent = store.spent(&limits.id).await.map_err(|e| {
            metrics.key_store_error(KeyCheck::Budget);
            tracing::error!(
                "gateway key {}: budget not checked, request refused: {e}",
                limits.id
            );
            GatewayError::unavailable(
                "the gateway cannot check this key's budget right now; try again shortly",
            )
            .with_retry_after(STORE_RETRY_S)
        })?;
        if spent >= budget {
            return Err(GatewayError::budget_exhausted(format!(
                "gateway key '{}' has spent ${spent:.4} of its ${budget:.4} budget",
                limits.name
            )));
        }
    }
    if let Some(rpm) = limits.requests_per_minute {
        let admission = match store.take_request(&limits.id, rpm).await {
            Ok(a) => a,
            Err(e) => {
                metrics.key_store_error(KeyCheck::RateLimit);
                tracing::warn!(
                    "gateway key {}: rate limit not checked in the store, this gateway's own bucket decides: {e}",
                    limits.id
                );
                key.take_local(rpm, Instant::now())?
            }
        };
        if let Admission::Wait(wait) = admission {
            return Err(GatewayError::rate_limited(
                format!(
                    "gateway key '{}' is limited to {rpm} requests per minute",
                    limits.name
                ),
                Some(retry_after_s(wait)),
            ));
        }
    }
    Ok(())
}

/// The gateway's keys.
#[derive(Debug)]
pub struct Keys {
    required: bool,
    by_hash: RwLock<HashMap<String, Arc<KeyState>>>,
}

impl Keys {
    /// Keys as stored; `required = false` lets every request in (`auth = "none"`).
    pub async fn load(store: &dyn TrafficStore, required: bool) -> Result<Self, String> {
        let keys = Self {
            required,
            by_hash: RwLock::new(HashMap::new()),
        };
        if required {
            keys.refresh(store).await?;
        }
        Ok(keys)
    }

    /// Whether keys are checked.
    pub fn required(&self) -> bool {
        self.required
    }

    /// Re-reads the store: new keys appear, revocations and limits take effect (this
    /// process's fallback buckets of known keys are kept).
    pub async fn refresh(&self, store: &dyn TrafficStore) -> Result<(), String> {
        let stored = store.keys().await.map_err(|e| e.to_string())?;
        let mut map = self
            .by_hash
            .write()
            .map_err(|_| "key table poisoned".to_owned())?;
        let mut next = HashMap::with_capacity(stored.len());
        for key in stored {
            let hash = key.hash.clone();
            let state = match map.remove(&hash) {
                Some(s) => {
                    if let Ok(mut k) = s.key.write() {
                        *k = key;
                    }
                    s
                }
                None => Arc::new(KeyState::new(key)),
            };
            next.insert(hash, state);
        }
        *map = next;
        Ok(())
    }

    /// The key a request carries (`Authorization: Bearer KEY` or `x-api-key: KEY`), known and
    /// not revoked, with no limit checked (listings and health take no store round trip);
    /// `None` when keys are not required. A generation request goes on to [`admit`].
    pub fn authenticate(&self, headers: &HeaderMap) -> Result<Option<Arc<KeyState>>, GatewayError> {
        if !self.required {
            return Ok(None);
        }
        let secret = headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .or_else(|| headers.get("x-api-key").and_then(|v| v.to_str().ok()))
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                GatewayError::authentication(
                    "no gateway key: send 'Authorization: Bearer KEY' (or 'x-api-key: KEY'); make one with 'rightfit keys create'",
                )
            })?;
        let hash = rightfit_store::hash_secret(secret);
        let state = self
            .by_hash
            .read()
            .map_err(|_| GatewayError::internal("key table poisoned"))?
            .get(&hash)
            .cloned()
            .ok_or_else(|| GatewayError::authentication("unknown gateway key"))?;
        state.limits()?;
        Ok(Some(state))
    }
}

#[cfg(test)]
#[path = "auth_tests.rs"]
mod tests;
