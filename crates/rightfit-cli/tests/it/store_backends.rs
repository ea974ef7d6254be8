//! Every command that reads or writes the store, run the same way on a SQLite file and on a
//! PostgreSQL database (named by `RIGHTFIT_DATABASE_URL`, the way a deployment names it): the
//! traffic a gateway logged is listed, summed and exported, the export is evaluated, the run is
//! listed, shown, exported and reported, a recommendation made, keys made, listed and revoked.
//! Both backends must give the same answers.

use std::path::Path;

use rightfit_testkit::postgres::TestDatabase;
use rightfit_testkit::{Protocol, Reply, ServerConfig, TestServer};
use serde_json::Value;

use crate::hosted::run;
use crate::stderr;
use crate::traffic::log;

/// What the commands answered, with what differs by nature (ids, times, paths) left out.
#[derive(Debug, PartialEq)]
struct Answers {
    traffic: Value,
    stats: Value,
    exported: String,
    quality: f64,
    examples: u64,
    runs: usize,
    records: usize,
    keys: Vec<(String, bool)>,
}

async fn ok(home: &Path, args: &[&str], store: &str) -> String {
    let o = run(home, args, &[("RIGHTFIT_DATABASE_URL", store)]).await;
    assert!(o.status.success(), "{args:?} on {store}: {}", stderr(&o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

async fn every_command(store: &str, upstream: &str) -> Answers {
    let home = tempfile::tempdir().expect("home");
    let dir = tempfile::tempdir().expect("project");
    // What `rightfit serve` would have written.
    let db = rightfit_store::open(Path::new(store)).await.expect("store");
    db.put_traffic(&log()).await.expect("traffic");
    db.shut_down().await;
    let config = dir.path().join("rightfit.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[models.candidate]
provider = "openai-compatible"
base_url = "{upstream}/v1"
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
"#
        ),
    )
    .expect("config");
    let config = config.to_string_lossy().into_owned();
    let c = config.as_str();
    let h = home.path();

    let traffic: Value = serde_json::from_str(
        &ok(h, &["traffic", "list", "-c", c, "--format", "json"], store).await,
    )
    .expect("list json");
    let stats: Value = serde_json::from_str(
        &ok(h, &["traffic", "stats", "-c", c, "--format", "json"], store).await,
    )
    .expect("stats json");
    let dataset = dir.path().join("traffic.jsonl");
    let d = dataset.to_string_lossy().into_owned();
    let args = [
        "traffic",
        "export",
        "-c",
        c,
        "--component",
        "intent",
        "--reference-from",
        "big",
        "-o",
        &d,
    ];
    ok(h, &args, store).await;
    let exported = std::fs::read_to_string(&dataset).expect("dataset");

    let report: Value =
        serde_json::from_str(&ok(h, &["eval", "-c", c, "--format", "json"], store).await)
            .expect("eval json");
    let candidate = &report["candidates"][0];
    let runs: Value =
        serde_json::from_str(&ok(h, &["runs", "list", "-c", c, "--json"], store).await)
            .expect("runs json");
    let run_id = runs[0]["id"].as_str().expect("run id").to_owned();
    ok(h, &["runs", "show", "-c", c, &run_id[..12]], store).await;
    let records = ok(h, &["runs", "export", "-c", c, "latest"], store).await;
    let html = dir.path().join("report.html");
    let html_arg = html.to_string_lossy().into_owned();
    ok(
        h,
        &["report", "-c", c, "latest", "--html", &html_arg],
        store,
    )
    .await;
    assert!(std::fs::metadata(&html).expect("html").len() > 0);
    ok(h, &["recommend", "-c", c], store).await;

    ok(h, &["keys", "create", "-c", c, "--name", "app"], store).await;
    ok(h, &["keys", "create", "-c", c, "--name", "batch"], store).await;
    ok(h, &["keys", "revoke", "-c", c, "batch"], store).await;
    let keys: Value =
        serde_json::from_str(&ok(h, &["keys", "list", "-c", c, "--format", "json"], store).await)
            .expect("keys json");
    // Oldest first, but two keys made in one second (`created_at` has whole seconds) come in
    // the order of their random ids: by name here.
    let mut keys: Vec<(String, bool)> = keys
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| {
            (
                k["name"].as_str().expect("name").to_owned(),
                !k["revoked_at"].is_null(),
            )
        })
        .collect();
    keys.sort();
    Answers {
        traffic,
        stats,
        exported,
        quality: candidate["quality"]["mean"].as_f64().expect("quality"),
        examples: candidate["examples"].as_u64().expect("examples"),
        runs: runs.as_array().expect("runs").len(),
        records: records.lines().count(),
        keys,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_command_answers_the_same_on_sqlite_and_postgres() {
    let mut server = ServerConfig::new(Protocol::OpenAi);
    server.api_key = None;
    server.default_reply = Reply::text("set_alarm").with_tokens(12, 2);
    let server = TestServer::start(server).await.expect("server");
    let files = tempfile::tempdir().expect("sqlite dir");
    let sqlite = files.path().join("runs.db").to_string_lossy().into_owned();
    let db = TestDatabase::create().await;

    let on_sqlite = every_command(&sqlite, &server.base_url()).await;
    let on_postgres = every_command(db.url(), &server.base_url()).await;
    // The answers are right, not only equal.
    assert_eq!(on_sqlite.traffic.as_array().map(Vec::len), Some(7));
    assert_eq!(on_sqlite.exported.lines().count(), 3);
    assert_eq!(on_sqlite.examples, 3);
    assert!((on_sqlite.quality - 1.0 / 3.0).abs() < 1e-9);
    assert_eq!((on_sqlite.runs, on_sqlite.records), (1, 3));
    assert_eq!(
        on_sqlite.keys,
        [("app".to_owned(), false), ("batch".to_owned(), true)]
    );
    assert_eq!(on_sqlite, on_postgres);
}
