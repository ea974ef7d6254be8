//! Gateway keys: who may call, how often, and how much they may spend.
//!
//! Keys live in the store as SHA-256 hashes (`rightfit keys create` prints the secret once).
//! The gateway keeps them in memory and re-reads the store every [`REFRESH`], so a key made or
//! revoked by another process takes effect within that time without a restart. A key's rate
//! limit is a token bucket (its requests per minute, refilled continuously, bursting up to one
//! minute's worth); its budget is checked before a request and its spend updated as requests
//! finish (in this process; replicas each see the store's figure as of their last refresh).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use http::HeaderMap;
use rightfit_store::TrafficStore;
use rightfit_types::GatewayKey;

use crate::error::GatewayError;

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

/// Spend is kept in millionths of a dollar so it can be an atomic integer.
const MICRO: f64 = 1_000_000.0;

/// One key as the gateway tracks it.
#[derive(Debug)]
pub struct KeyState {
    key: RwLock<GatewayKey>,
    bucket: Mutex<Bucket>,
    spent_micro: AtomicU64,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl KeyState {
    fn new(key: GatewayKey) -> Self {
        let tokens = key.requests_per_minute.map_or(0.0, f64::from);
        let spent = (key.spent_usd.max(0.0) * MICRO) as u64;
        Self {
            key: RwLock::new(key),
            bucket: Mutex::new(Bucket {
                tokens,
                at: Instant::now(),
            }),
            spent_micro: AtomicU64::new(spent),
        }
    }

    /// The key's public id.
    pub fn id(&self) -> String {
        self.key.read().map(|k| k.id.clone()).unwrap_or_default()
    }

    /// Adds a finished request's cost to the key's spend.
    pub fn spend(&self, usd: f64) {
        if usd.is_finite() && usd > 0.0 {
            self.spent_micro
                .fetch_add((usd * MICRO).round() as u64, Ordering::Relaxed);
        }
    }

    /// Refuses a revoked key, a key over budget, or a request over the rate limit.
    fn admit(&self, now: Instant) -> Result<(), GatewayError> {
        let key = self
            .key
            .read()
            .map_err(|_| GatewayError::internal("key table poisoned"))?;
        if key.revoked_at.is_some() {
            return Err(GatewayError::authentication(
                "this gateway key has been revoked",
            ));
        }
        if let Some(budget) = key.budget_usd {
            let spent = self.spent_micro.load(Ordering::Relaxed) as f64 / MICRO;
            if spent >= budget {
                return Err(GatewayError::budget_exhausted(format!(
                    "gateway key '{}' has spent ${spent:.4} of its ${budget:.4} budget",
                    key.name
                )));
            }
        }
        if let Some(rpm) = key.requests_per_minute {
            let rate = f64::from(rpm) / 60.0;
            let mut b = self
                .bucket
                .lock()
                .map_err(|_| GatewayError::internal("rate limiter poisoned"))?;
            let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
            b.tokens = (b.tokens + elapsed * rate).min(f64::from(rpm));
            b.at = now;
            if b.tokens < 1.0 {
                let wait = ((1.0 - b.tokens) / rate).ceil().max(1.0) as u64;
                return Err(GatewayError::rate_limited(
                    format!(
                        "gateway key '{}' is limited to {rpm} requests per minute",
                        key.name
                    ),
                    Some(wait),
                ));
            }
            b.tokens -= 1.0;
        }
        Ok(())
    }
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

    /// Re-reads the store: new keys appear, revocations and limits take effect, counters and
    /// buckets of known keys are kept.
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
                    let store_spent = (key.spent_usd.max(0.0) * MICRO) as u64;
                    s.spent_micro.fetch_max(store_spent, Ordering::Relaxed);
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

    /// The key a request carries (`Authorization: Bearer KEY` or `x-api-key: KEY`), admitted;
    /// `None` when keys are not required.
    pub fn check(&self, headers: &HeaderMap) -> Result<Option<Arc<KeyState>>, GatewayError> {
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
        state.admit(Instant::now())?;
        Ok(Some(state))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(rpm: Option<u32>, budget: Option<f64>) -> GatewayKey {
        GatewayKey {
            id: "key_1".into(),
            name: "app".into(),
            hash: "h".into(),
            prefix: "rf-abc".into(),
            created_at: "2026-11-30T00:00:00Z".into(),
            revoked_at: None,
            requests_per_minute: rpm,
            budget_usd: budget,
            spent_usd: 0.0,
        }
    }

    #[test]
    fn the_bucket_allows_a_minute_then_refills() {
        // Read before the key's bucket starts, so that no real time passes between them: the
        // bucket refills only by the instants given below.
        let t0 = Instant::now();
        let k = KeyState::new(key(Some(60), None));
        for _ in 0..60 {
            k.admit(t0).expect("within the burst");
        }
        let e = k.admit(t0).expect_err("61st in the same instant");
        assert_eq!(e.status().as_u16(), 429);
        // One request per second refills.
        k.admit(t0 + Duration::from_millis(1_001))
            .expect("a second later");
        assert!(k.admit(t0 + Duration::from_millis(1_002)).is_err());
    }

    #[test]
    fn a_budget_stops_requests_once_spent() {
        let k = KeyState::new(key(None, Some(0.01)));
        k.admit(Instant::now()).expect("nothing spent");
        k.spend(0.004);
        k.admit(Instant::now()).expect("0.004 of 0.01");
        k.spend(0.006);
        let e = k.admit(Instant::now()).expect_err("spent");
        assert_eq!(e.status().as_u16(), 429);
        assert!(e.message().contains("budget"), "{e}");
    }

    #[test]
    fn a_revoked_key_is_refused() {
        let mut g = key(None, None);
        g.revoked_at = Some("2026-11-30T01:00:00Z".into());
        let e = KeyState::new(g).admit(Instant::now()).expect_err("revoked");
        assert_eq!(e.status().as_u16(), 401);
    }
}
