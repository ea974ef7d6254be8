//! `rightfit traffic list | stats | export` and `rightfit keys` on records written through the
//! store's `TrafficStore` (as the gateway writes them), and an export evaluated by `rightfit
//! eval` against the testkit's OpenAI server.

use std::path::Path;

use rightfit_store::{SqliteStore, TrafficStore};
use rightfit_testkit::{Protocol, Reply, ServerConfig, TestServer};
use rightfit_types::TrafficRecord;
use serde_json::{Value, json};

use crate::hosted::run;
use crate::{stderr, stdout};

fn record(id: &str, at: &str, candidate: &str, messages: Value, output: &str) -> TrafficRecord {
    TrafficRecord {
        id: id.to_owned(),
        at: at.to_owned(),
        api: "openai".to_owned(),
        key_id: Some("key_0123456789abcdef".to_owned()),
        component: Some("intent".to_owned()),
        requested: "intent".to_owned(),
        route: "split".to_owned(),
        candidate: candidate.to_owned(),
        role: "primary".to_owned(),
        parent: None,
        input: json!({"messages": messages, "params": {"temperature": 0.0}}),
        output: Some(output.to_owned()),
        tool_calls: Vec::new(),
        finish_reason: Some("stop".to_owned()),
        stream: false,
        status: 200,
        error: None,
        latency_ms: 120.0,
        ttft_ms: None,
        tokens_in: 30,
        tokens_out: 2,
        cost_usd: Some(0.0001),
        escalated: false,
        confidence: None,
        score: None,
        steps: Vec::new(),
    }
}

fn asked(system: Option<&str>, user: &str) -> Value {
    let mut messages = Vec::new();
    if let Some(system) = system {
        messages.push(json!({"role": "system", "content": system}));
    }
    messages.push(json!({"role": "user", "content": user}));
    Value::Array(messages)
}

const SYSTEM: &str = "Name the intent in snake_case.";

/// What the gateway would have logged for component `intent`: served by `big` or `small`, `big`
/// shadowing `small` once; a failure; another component's request.
pub(crate) fn log() -> Vec<TrafficRecord> {
    let r1 = record(
        "req_1",
        "2026-11-30T10:00:00.000Z",
        "big",
        asked(Some(SYSTEM), "wake me at 7"),
        "set_alarm",
    );
    let r2 = record(
        "req_2",
        "2026-11-30T10:01:00.000Z",
        "small",
        asked(Some(SYSTEM), "ten minute timer"),
        "set_alarm",
    );
    let mut s2 = record(
        "req_2-shadow-1",
        "2026-11-30T10:01:00.000Z",
        "big",
        asked(Some(SYSTEM), "ten minute timer"),
        "set_timer",
    );
    s2.role = "shadow".to_owned();
    s2.route = "shadow".to_owned();
    s2.parent = Some("req_2".to_owned());
    s2.score = Some(0.0);
    // Served by small and not shadowed: no reference by big.
    let r3 = record(
        "req_3",
        "2026-11-30T10:02:00.000Z",
        "small",
        asked(Some(SYSTEM), "play jazz"),
        "play_music",
    );
    // No system message: the export writes "" for it.
    let r4 = record(
        "req_4",
        "2026-11-30T10:03:00.000Z",
        "big",
        asked(None, "will it rain"),
        "weather",
    );
    let mut failed = record(
        "req_5",
        "2026-11-30T10:04:00.000Z",
        "big",
        asked(Some(SYSTEM), "x"),
        "x",
    );
    failed.output = None;
    failed.status = 502;
    failed.error = Some("upstream answered HTTP 500".to_owned());
    let mut other = record(
        "req_6",
        "2026-11-30T10:05:00.000Z",
        "big",
        asked(None, "summarise"),
        "a summary",
    );
    other.component = Some("summary".to_owned());
    other.requested = "summary".to_owned();
    vec![r1, r2, s2, r3, r4, failed, other]
}

pub(crate) async fn write_log(path: &Path) {
    let store = SqliteStore::open(path).await.expect("store");
    store.put_traffic(&log()).await.expect("traffic");
    store.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_export_is_a_dataset_eval_scores_against_the_chosen_references() {
    let home = tempfile::tempdir().expect("home");
    let dir = tempfile::tempdir().expect("project");
    // The project's own store: where 'rightfit serve' logs and where 'traffic' reads by default.
    write_log(&dir.path().join(".rightfit/runs.db")).await;
    let mut server_config = ServerConfig::new(Protocol::OpenAi);
    server_config.api_key = None;
    server_config.default_reply = Reply::text("set_alarm").with_tokens(12, 2);
    let server = TestServer::start(server_config).await.expect("server");
    let config = dir.path().join("rightfit.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[models.candidate]
provider = "openai-compatible"
base_url = "{}/v1"
model = "served-model"

[components.intent]
system = "{{{{ system }}}}"
prompt = "{{{{ input }}}}"
dataset = {{ path = "traffic.jsonl", id = "id" }}
reference = "reference"
output = {{ type = "text" }}
metrics = ["exact_match"]

[[components.intent.candidates]]
model = "candidate"
strategy = "zero-shot"
"#,
            server.base_url()
        ),
    )
    .expect("config");
    let config = config.to_string_lossy().into_owned();
    let dataset = dir.path().join("traffic.jsonl");
    let dataset_arg = dataset.to_string_lossy().into_owned();

    let o = run(
        home.path(),
        &[
            "traffic",
            "export",
            "-c",
            &config,
            "--component",
            "intent",
            "--reference-from",
            "big",
            "-o",
            &dataset_arg,
        ],
        &[],
    )
    .await;
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("exported 3 requests")
            && stderr(&o).contains("skipped 1: 1 without an answer by big"),
        "{}",
        stderr(&o)
    );
    let rows: Vec<Value> = std::fs::read_to_string(&dataset)
        .expect("dataset")
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON row"))
        .collect();
    let got: Vec<(&str, &str, &str, &str, &str)> = rows
        .iter()
        .map(|r| {
            let s = |k: &str| r[k].as_str().expect(k);
            (
                s("id"),
                s("system"),
                s("input"),
                s("output"),
                s("reference"),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("req_1", SYSTEM, "wake me at 7", "set_alarm", "set_alarm"),
            (
                "req_2",
                SYSTEM,
                "ten minute timer",
                "set_alarm",
                "set_timer"
            ),
            ("req_4", "", "will it rain", "weather", "weather"),
        ]
    );
    assert_eq!(rows[0]["messages"], asked(Some(SYSTEM), "wake me at 7"));
    assert_eq!(rows[1]["candidate"], "small");
    assert_eq!(rows[0]["component"], "intent");
    assert_eq!(rows[0]["at"], "2026-11-30T10:00:00.000Z");

    // Evaluate a candidate that always answers "set_alarm" on it: right on req_1 only.
    let o = run(
        home.path(),
        &["eval", "-c", &config, "--format", "json"],
        &[],
    )
    .await;
    assert!(o.status.success(), "{}", stderr(&o));
    let report: Value = serde_json::from_slice(&o.stdout).expect("json report");
    let c = &report["candidates"][0];
    assert_eq!(c["examples"], 3, "{c}");
    assert_eq!(c["failures"], 0, "{c}");
    let mean = c["quality"]["mean"].as_f64().expect("quality");
    assert!((mean - 1.0 / 3.0).abs() < 1e-9, "{mean}");
    // The model was asked what the clients asked, with their system prompts (none where the
    // client sent none: `{{ system }}` rendering empty sends no system message).
    let mut sent: Vec<Value> = server
        .requests()
        .iter()
        .map(|r| r.body["messages"].clone())
        .collect();
    sent.sort_by_key(|m| m.to_string());
    let mut expected = vec![
        json!([{"role": "system", "content": SYSTEM}, {"role": "user", "content": "wake me at 7"}]),
        json!([{"role": "system", "content": SYSTEM}, {"role": "user", "content": "ten minute timer"}]),
        json!([{"role": "user", "content": "will it rain"}]),
    ];
    expected.sort_by_key(|m| m.to_string());
    assert_eq!(sent, expected);

    // Without --reference-from, each primary's own answer is its reference; CSV works too.
    let o = run(
        home.path(),
        &[
            "traffic",
            "export",
            "-c",
            &config,
            "--component",
            "intent",
            "--format",
            "csv",
            "--limit",
            "2",
        ],
        &[],
    )
    .await;
    assert!(o.status.success(), "{}", stderr(&o));
    let csv = stdout(&o);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "id,at,component,candidate,system,input,messages,output,reference"
    );
    assert_eq!(lines.len(), 3, "{csv}");
    assert!(
        lines[2].starts_with("req_2,") && lines[2].ends_with(",set_alarm,set_alarm"),
        "{csv}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn list_and_stats_read_what_the_gateway_logged() {
    let home = tempfile::tempdir().expect("home");
    let dir = tempfile::tempdir().expect("store dir");
    let store = dir.path().join("gateway.db");
    write_log(&store).await;
    let store = store.to_string_lossy().into_owned();

    let o = run(
        home.path(),
        &["traffic", "list", "--store", &store, "--format", "json"],
        &[],
    )
    .await;
    assert!(o.status.success(), "{}", stderr(&o));
    let listed: Vec<TrafficRecord> = serde_json::from_slice(&o.stdout).expect("records");
    let ids: Vec<&str> = listed.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "req_6",
            "req_5",
            "req_4",
            "req_3",
            "req_2-shadow-1",
            "req_2",
            "req_1"
        ]
    );
    assert_eq!(listed[6], log()[0], "a record reads back whole");

    let o = run(
        home.path(),
        &[
            "traffic",
            "list",
            "--store",
            &store,
            "--component",
            "intent",
            "--role",
            "primary",
            "--candidate",
            "big",
            "--format",
            "json",
        ],
        &[],
    )
    .await;
    let listed: Vec<TrafficRecord> = serde_json::from_slice(&o.stdout).expect("records");
    let ids: Vec<&str> = listed.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["req_5", "req_4", "req_1"]);

    let o = run(
        home.path(),
        &[
            "traffic", "list", "--store", &store, "--errors", "--format", "json",
        ],
        &[],
    )
    .await;
    let listed: Vec<TrafficRecord> = serde_json::from_slice(&o.stdout).expect("records");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, "req_5");

    let o = run(
        home.path(),
        &[
            "traffic",
            "list",
            "--store",
            &store,
            "--since",
            "2026-11-30T11:02:30+01:00",
            "--limit",
            "2",
        ],
        &[],
    )
    .await;
    assert!(o.status.success(), "{}", stderr(&o));
    let table = stdout(&o);
    assert!(
        table.contains("req_6") && table.contains("req_5"),
        "{table}"
    );
    assert!(!table.contains("req_4 "), "{table}");
    assert!(table.contains("the newest 2 of 3 records"), "{table}");
    assert!(
        table.contains("error: upstream answered HTTP 500"),
        "{table}"
    );

    let o = run(
        home.path(),
        &["traffic", "list", "--store", &store, "--since", "yesterday"],
        &[],
    )
    .await;
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("7d"), "{}", stderr(&o));

    let o = run(
        home.path(),
        &[
            "traffic",
            "stats",
            "--store",
            &store,
            "--component",
            "intent",
            "--format",
            "json",
        ],
        &[],
    )
    .await;
    assert!(o.status.success(), "{}", stderr(&o));
    let rows: Value = serde_json::from_slice(&o.stdout).expect("stats");
    let summary: Vec<(String, String, u64, u64)> = rows
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| {
            (
                r["candidate"].as_str().expect("candidate").to_owned(),
                r["role"].as_str().expect("role").to_owned(),
                r["requests"].as_u64().expect("requests"),
                r["errors"].as_u64().expect("errors"),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("big".to_owned(), "primary".to_owned(), 3, 1),
            ("big".to_owned(), "shadow".to_owned(), 1, 0),
            ("small".to_owned(), "primary".to_owned(), 2, 0),
        ]
    );
    assert_eq!(rows[1]["mean_score"], 0.0);

    let o = run(home.path(), &["traffic", "stats", "--store", &store], &[]).await;
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("summary"), "{}", stdout(&o));
}

#[tokio::test(flavor = "multi_thread")]
async fn keys_show_the_secret_once_and_store_its_hash() {
    let home = tempfile::tempdir().expect("home");
    let dir = tempfile::tempdir().expect("store dir");
    let path = dir.path().join("gateway.db");
    let store = path.to_string_lossy().into_owned();

    let o = run(
        home.path(),
        &[
            "keys",
            "create",
            "--store",
            &store,
            "--name",
            "ci",
            "--requests-per-minute",
            "60",
            "--budget-usd",
            "2.5",
        ],
        &[],
    )
    .await;
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let secret = out
        .lines()
        .find(|l| l.starts_with("rf-"))
        .expect("the secret on a line of its own")
        .to_owned();
    assert_eq!(secret.len(), 67, "{out}");
    assert!(out.contains("it cannot be shown again"), "{out}");

    let db = SqliteStore::open(&path).await.expect("store");
    let key = db
        .key_by_hash(&rightfit_store::hash_secret(&secret))
        .await
        .expect("look-up")
        .expect("stored under the secret's hash");
    db.close().await;
    assert_eq!(key.name, "ci");
    assert_eq!(key.requests_per_minute, Some(60));
    assert_eq!(key.budget_usd, Some(2.5));
    assert!(out.contains(&key.id), "{out}");
    let file = std::fs::read(&path).expect("db file");
    assert!(
        !String::from_utf8_lossy(&file).contains(&secret[3..]),
        "the secret itself is not in the database"
    );

    let o = run(
        home.path(),
        &["keys", "create", "--store", &store, "--name", "ci"],
        &[],
    )
    .await;
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("already has a gateway key named 'ci'"),
        "{}",
        stderr(&o)
    );

    let o = run(home.path(), &["keys", "list", "--store", &store], &[]).await;
    assert!(o.status.success(), "{}", stderr(&o));
    let table = stdout(&o);
    assert!(
        table.contains("ci") && table.contains(&key.prefix),
        "{table}"
    );
    assert!(!table.contains(&secret), "{table}");

    let o = run(
        home.path(),
        &["keys", "revoke", "--store", &store, "ci"],
        &[],
    )
    .await;
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("revoked gateway key 'ci'"),
        "{}",
        stdout(&o)
    );
    let o = run(
        home.path(),
        &["keys", "revoke", "--store", &store, &key.id],
        &[],
    )
    .await;
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("already revoked"), "{}", stdout(&o));
    let o = run(
        home.path(),
        &["keys", "revoke", "--store", &store, "nope"],
        &[],
    )
    .await;
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("rightfit keys list"), "{}", stderr(&o));

    let o = run(
        home.path(),
        &["keys", "list", "--store", &store, "--format", "json"],
        &[],
    )
    .await;
    let keys: Value = serde_json::from_slice(&o.stdout).expect("json");
    assert!(keys[0]["revoked_at"].is_string(), "{keys}");
    assert_eq!(keys.as_array().map(Vec::len), Some(1));
}
