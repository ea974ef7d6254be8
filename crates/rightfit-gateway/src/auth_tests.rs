use std::path::PathBuf;

use async_trait::async_trait;
use rightfit_store::{SqliteStore, StoreError, new_key};
use rightfit_types::{TrafficFilter, TrafficRecord};

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

/// A store holding one key made with these limits, and that key's state as the gateway has it.
async fn stored(rpm: Option<u32>, budget: Option<f64>) -> (SqliteStore, Arc<KeyState>) {
    let store = SqliteStore::open_in_memory().await.expect("store");
    let made = new_key("app", rpm, budget, "2026-11-30T00:00:00Z".into()).expect("key");
    store.put_key(&made.key).await.expect("put");
    let keys = Keys::load(&store, true).await.expect("load");
    let mut headers = HeaderMap::new();
    headers.insert(
        "x-api-key",
        made.secret.expose().parse().expect("header value"),
    );
    let state = keys
        .authenticate(&headers)
        .expect("known")
        .expect("keys required");
    (store, state)
}

#[test]
fn the_fallback_bucket_allows_a_minute_then_refills() {
    // Read before the key's bucket starts, so that no real time passes between them: the
    // bucket refills only by the instants given below.
    let t0 = Instant::now();
    let k = KeyState::new(key(Some(60), None));
    for _ in 0..60 {
        let a = k.take_local(60, t0).expect("bucket");
        assert_eq!(a, Admission::Admitted);
    }
    let Admission::Wait(wait) = k.take_local(60, t0).expect("bucket") else {
        panic!("61st in the same instant let in");
    };
    assert_eq!(retry_after_s(wait), 1);
    // One request per second refills.
    let a = k.take_local(60, t0 + Duration::from_millis(1_001));
    assert_eq!(a.expect("bucket"), Admission::Admitted);
    let a = k.take_local(60, t0 + Duration::from_millis(1_002));
    assert!(matches!(a.expect("bucket"), Admission::Wait(_)));
}

#[test]
fn retry_after_is_whole_seconds_rounded_up_and_at_least_one() {
    assert_eq!(retry_after_s(Duration::ZERO), 1);
    assert_eq!(retry_after_s(Duration::from_millis(10)), 1);
    assert_eq!(retry_after_s(Duration::from_secs(12)), 12);
    assert_eq!(retry_after_s(Duration::from_millis(12_001)), 13);
}

#[tokio::test]
async fn a_budget_is_checked_against_the_stored_spend() {
    let (store, k) = stored(None, Some(0.01)).await;
    let metrics = Metrics::new();
    admit(&k, &store, &metrics).await.expect("nothing spent");
    // Spend added by anyone on the store (another replica) counts at the next admission.
    store.add_spend(&k.id(), 0.004).await.expect("add");
    admit(&k, &store, &metrics).await.expect("0.004 of 0.01");
    store.add_spend(&k.id(), 0.006).await.expect("add");
    let e = admit(&k, &store, &metrics).await.expect_err("spent");
    assert_eq!(e.status().as_u16(), 429);
    assert_eq!(e.code(), Some("insufficient_quota"));
    assert!(e.message().contains("budget"), "{e}");
    assert_eq!(metrics.key_store_errors(KeyCheck::Budget), 0);
}

#[tokio::test]
async fn the_rate_limit_is_the_stores_bucket_and_says_when_to_retry() {
    let (store, k) = stored(Some(2), None).await;
    let metrics = Metrics::new();
    admit(&k, &store, &metrics).await.expect("first");
    admit(&k, &store, &metrics).await.expect("second");
    let e = admit(&k, &store, &metrics).await.expect_err("third");
    assert_eq!(e.status().as_u16(), 429);
    assert_eq!(e.code(), Some("rate_limit_exceeded"));
    // Two a minute: a token comes back every 30 s.
    let retry = e.retry_after_s().expect("retry-after");
    assert!((1..=30).contains(&retry), "{retry}");
    // The store's bucket is the one that emptied: this process's own is untouched.
    assert_eq!(
        k.take_local(2, Instant::now()).expect("bucket"),
        Admission::Admitted
    );
    assert_eq!(metrics.key_store_errors(KeyCheck::RateLimit), 0);
}

#[tokio::test]
async fn a_budgeted_request_is_refused_before_it_takes_a_token() {
    let (store, k) = stored(Some(1), Some(0.01)).await;
    let metrics = Metrics::new();
    store.add_spend(&k.id(), 0.02).await.expect("add");
    let e = admit(&k, &store, &metrics).await.expect_err("spent");
    assert_eq!(e.code(), Some("insufficient_quota"));
    // The one token a minute is still there.
    assert_eq!(
        store.take_request(&k.id(), 1).await.expect("take"),
        Admission::Admitted
    );
}

#[tokio::test]
async fn when_the_store_cannot_answer_a_budget_refuses_and_a_rate_limit_is_local() {
    let metrics = Metrics::new();
    let (_store, budgeted) = stored(None, Some(1.0)).await;
    let e = admit(&budgeted, &Down, &metrics)
        .await
        .expect_err("budget unknown");
    assert_eq!(e.status().as_u16(), 503);
    assert_eq!(e.retry_after_s(), Some(1));
    assert!(!e.message().contains(":memory:"), "{e}");
    assert_eq!(metrics.key_store_errors(KeyCheck::Budget), 1);
    // One a minute, by this process's bucket: the first passes, the second waits.
    let (_store, limited) = stored(Some(1), None).await;
    admit(&limited, &Down, &metrics)
        .await
        .expect("local bucket");
    let e = admit(&limited, &Down, &metrics)
        .await
        .expect_err("local bucket empty");
    assert_eq!(e.status().as_u16(), 429);
    assert!(e.retry_after_s().expect("retry-after") >= 1);
    assert_eq!(metrics.key_store_errors(KeyCheck::RateLimit), 2);
}

#[test]
fn a_revoked_key_is_refused() {
    let mut g = key(None, None);
    g.revoked_at = Some("2026-11-30T01:00:00Z".into());
    let e = KeyState::new(g).limits().err().expect("revoked");
    assert_eq!(e.status().as_u16(), 401);
}

/// A store that answers nothing, as one that is down.
#[derive(Debug)]
struct Down;

fn down() -> StoreError {
    StoreError::KeyNotFound {
        path: PathBuf::from(":memory:"),
        key: "down".into(),
    }
}

#[async_trait]
impl TrafficStore for Down {
    async fn put_traffic(&self, _: &[TrafficRecord]) -> Result<(), StoreError> {
        Err(down())
    }
    async fn put_traffic_missing(&self, _: &[TrafficRecord]) -> Result<Vec<bool>, StoreError> {
        Err(down())
    }
    async fn traffic(&self, _: &TrafficFilter) -> Result<Vec<TrafficRecord>, StoreError> {
        Err(down())
    }
    async fn count_traffic(&self, _: &TrafficFilter) -> Result<u64, StoreError> {
        Err(down())
    }
    async fn put_key(&self, _: &GatewayKey) -> Result<(), StoreError> {
        Err(down())
    }
    async fn keys(&self) -> Result<Vec<GatewayKey>, StoreError> {
        Err(down())
    }
    async fn key_by_hash(&self, _: &str) -> Result<Option<GatewayKey>, StoreError> {
        Err(down())
    }
    async fn revoke_key(&self, _: &str) -> Result<bool, StoreError> {
        Err(down())
    }
    async fn add_spend(&self, _: &str, _: f64) -> Result<(), StoreError> {
        Err(down())
    }
    async fn spent(&self, _: &str) -> Result<f64, StoreError> {
        Err(down())
    }
    async fn take_request(&self, _: &str, _: u32) -> Result<Admission, StoreError> {
        Err(down())
    }
}
