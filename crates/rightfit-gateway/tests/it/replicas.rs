//! Replicas: three gateways on one store (each its own connection pool, journal and process
//! state, as separate `rightfit serve` processes have) share keys' budgets, rate limits and
//! revocations through the store.
//!
//! Each test body takes the three store handles, so that the same checks run on any backend:
//! the SQLite variants open one file three times.

use std::sync::Arc;

use rightfit_config::project::Project;
use rightfit_store::{PostgresStore, SqliteStore, Store, new_key};
use rightfit_testkit::TestServer;
use rightfit_testkit::postgres::TestDatabase;
use rightfit_types::GatewayKey;
use serde_json::{Value, json};

use crate::support::{Running, chat, client, component, project_dir, start_with, upstream};

/// What one request costs: 10 prompt tokens at $500/M and 5 completion tokens at $1000/M.
const COST: f64 = 0.01;

/// Slack for sums of floating-point dollars.
const EPS: f64 = 1e-9;

/// `n` handles on one SQLite file, each with its own pool, and the directory that holds it.
async fn sqlite(n: usize) -> (tempfile::TempDir, Vec<Arc<dyn Store>>) {
    let dir = tempfile::tempdir().expect("store dir");
    let path = dir.path().join("shared.db");
    let mut stores: Vec<Arc<dyn Store>> = Vec::new();
    for _ in 0..n {
        stores.push(Arc::new(SqliteStore::open(&path).await.expect("store")));
    }
    (dir, stores)
}

/// A gateway per store, each in a project directory of its own (so a journal of its own),
/// serving one priced model with keys required. Keys must be stored first (or refreshed).
async fn replicas(stores: &[Arc<dyn Store>]) -> (TestServer, Vec<Running>) {
    let up = upstream().await;
    let toml = format!(
        r#"
[models.priced]
provider = "openai-compatible"
base_url = "{}/v1"
model = "priced-model"
price = {{ input = 500.0, output = 1000.0 }}
max_retries = 0

{}
[gateway]
auth = "keys"
flush_ms = 20
"#,
        up.base_url(),
        component("triage", &["priced"], "")
    );
    let mut gateways = Vec::new();
    for store in stores {
        let (dir, file) = project_dir(&toml);
        let project = Project::load(&file).expect("valid project");
        gateways.push(start_with(dir, file, project, store.clone()).await);
    }
    (up, gateways)
}

/// Makes and stores a key; returns it with its secret.
async fn key(
    store: &dyn Store,
    name: &str,
    rpm: Option<u32>,
    budget: Option<f64>,
) -> (GatewayKey, String) {
    let made = new_key(name, rpm, budget, "2026-12-05T00:00:00.000Z".into()).expect("key");
    store.put_key(&made.key).await.expect("put key");
    (made.key.clone(), made.secret.expose().to_owned())
}

/// One chat request to `g`, read to its end: status, `Retry-After`, body (an error's JSON, or
/// the text of a stream).
async fn send(
    http: &reqwest::Client,
    g: &Running,
    secret: &str,
    stream: bool,
) -> (u16, Option<String>, Value) {
    let mut body = chat("priced", "Hi");
    body["stream"] = json!(stream);
    let r = http
        .post(g.url("/v1/chat/completions"))
        .bearer_auth(secret)
        .json(&body)
        .send()
        .await
        .expect("send");
    let status = r.status().as_u16();
    let retry = r
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().expect("ascii").to_owned());
    let text = r.text().await.expect("body");
    let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, retry, value)
}

/// Budget = 10 requests' cost; 6 clients at once, each sending one request after another (odd
/// ones streamed) to its replica until it is refused for the budget.
async fn a_budget_holds_across(stores: Vec<Arc<dyn Store>>) {
    const CLIENTS: usize = 6;
    let budget = 10.0 * COST;
    let (k, secret) = key(&*stores[0], "shared", None, Some(budget)).await;
    let (_up, gateways) = replicas(&stores).await;
    let gateways = Arc::new(gateways);
    let mut clients = Vec::new();
    for c in 0..CLIENTS {
        let (gateways, secret) = (gateways.clone(), secret.clone());
        clients.push(tokio::spawn(async move {
            let http = client();
            let g = &gateways[c % gateways.len()];
            let mut answered = 0_usize;
            loop {
                let (status, _, body) = send(&http, g, &secret, c % 2 == 1).await;
                match status {
                    200 => answered += 1,
                    429 => {
                        assert_eq!(body["error"]["code"], "insufficient_quota", "{body}");
                        return answered;
                    }
                    _ => panic!("client {c}: unexpected {status}: {body}"),
                }
                assert!(answered <= 100, "client {c} was never refused");
            }
        }));
    }
    let mut answered = 0;
    for c in clients {
        answered += c.await.expect("client");
    }
    // Every answer's cost was in the store before the answer completed: what is stored now is
    // all of them, once each.
    let spent = stores[1].spent(&k.id).await.expect("spent");
    assert!(
        (spent - answered as f64 * COST).abs() < EPS,
        "{answered} answers, ${spent} spent"
    );
    // Not refused early; overshot by at most one request per client in flight.
    assert!(answered >= 10, "{answered}");
    assert!(answered <= 10 + CLIENTS, "{answered}");
    assert!(spent <= budget + CLIENTS as f64 * COST + EPS, "{spent}");
    // The traffic writers store every record and add none of these costs again.
    let records = gateways[0].wait_records(answered).await;
    assert_eq!(records.len(), answered);
    assert!(records.iter().all(|r| r.key_id.as_deref() == Some(&k.id)));
    assert!(
        records
            .iter()
            .all(|r| (r.cost_usd.expect("priced") - COST).abs() < EPS),
        "{records:#?}"
    );
    let Ok(mut gateways) = Arc::try_unwrap(gateways) else {
        panic!("a client still holds the gateways");
    };
    for g in &mut gateways {
        g.stop().await;
    }
    let after = stores[2].spent(&k.id).await.expect("spent");
    assert!((after - spent).abs() < EPS, "${spent} then ${after}");
}

/// 5 requests a minute; 15 requests one after another, round-robin over the replicas.
async fn a_rate_limit_holds_across(stores: Vec<Arc<dyn Store>>) {
    let (_, secret) = key(&*stores[0], "limited", Some(5), None).await;
    let (_up, gateways) = replicas(&stores).await;
    let http = client();
    let mut statuses = Vec::new();
    for i in 0..15 {
        let (status, retry, body) = send(&http, &gateways[i % 3], &secret, false).await;
        if status == 429 {
            assert_eq!(body["error"]["code"], "rate_limit_exceeded", "{body}");
            // A token comes back every 12 s: wait whole seconds, at least 1, at most 12.
            let retry: u64 = retry.expect("retry-after").parse().expect("seconds");
            assert!((1..=12).contains(&retry), "{retry}");
        }
        statuses.push(status);
    }
    // The first five take the bucket's five tokens, whichever replica they reach; a token takes
    // 12 s to come back, so every later request is refused.
    let mut expected = vec![200; 5];
    expected.extend([429; 10]);
    assert_eq!(statuses, expected);
}

/// A key revoked in the store (as `rightfit keys revoke` does) while three replicas serve it.
async fn a_revocation_reaches_every_replica(stores: Vec<Arc<dyn Store>>) {
    let (k, secret) = key(&*stores[0], "doomed", None, None).await;
    let (_up, gateways) = replicas(&stores).await;
    let http = client();
    for g in &gateways {
        assert_eq!(send(&http, g, &secret, false).await.0, 200);
    }
    assert!(stores[2].revoke_key(&k.name).await.expect("revoke"));
    // Each replica's next refresh (every 2 s in the background; driven here) refuses it.
    for g in &gateways {
        g.app.keys.refresh(&*g.store).await.expect("refresh");
        let (status, _, body) = send(&http, g, &secret, false).await;
        assert_eq!(status, 401, "{body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .expect("message")
                .contains("revoked"),
            "{body}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_budget_holds_across_replicas_on_one_sqlite_file() {
    let (_dir, stores) = sqlite(3).await;
    a_budget_holds_across(stores).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rate_limit_holds_across_replicas_on_one_sqlite_file() {
    let (_dir, stores) = sqlite(3).await;
    a_rate_limit_holds_across(stores).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_revocation_reaches_every_replica_on_one_sqlite_file() {
    let (_dir, stores) = sqlite(3).await;
    a_revocation_reaches_every_replica(stores).await;
}

/// `n` stores on one new database of the test PostgreSQL server, each its own connection pool
/// (as `n` processes would have); the database is dropped with the returned guard.
async fn postgres(n: usize) -> (TestDatabase, Vec<Arc<dyn Store>>) {
    let db = TestDatabase::create().await;
    let mut stores: Vec<Arc<dyn Store>> = Vec::new();
    for _ in 0..n {
        stores.push(Arc::new(
            PostgresStore::open(db.url()).await.expect("store"),
        ));
    }
    (db, stores)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_budget_holds_across_replicas_on_postgres() {
    let (_db, stores) = postgres(3).await;
    a_budget_holds_across(stores).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rate_limit_holds_across_replicas_on_postgres() {
    let (_db, stores) = postgres(3).await;
    a_rate_limit_holds_across(stores).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_revocation_reaches_every_replica_on_postgres() {
    let (_db, stores) = postgres(3).await;
    a_revocation_reaches_every_replica(stores).await;
}
