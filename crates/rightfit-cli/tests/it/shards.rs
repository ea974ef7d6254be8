//! `rightfit eval --shard I/N`: two processes, one after the other, evaluate their halves of one
//! evaluation into one run of a shared PostgreSQL store (`--store URL`), as two machines would;
//! `runs list` and `report` then see one finished run with every record. The candidate is the
//! testkit's OpenAI-compatible server (no model file needed).

use rightfit_testkit::postgres::TestDatabase;
use rightfit_testkit::{Protocol, Reply, ServerConfig, TestServer};
use serde_json::Value;

use crate::hosted::{project, run};
use crate::{stderr, stdout};

fn json(o: &std::process::Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout(o)))
}

#[tokio::test(flavor = "multi_thread")]
async fn two_shards_fill_one_run_of_a_shared_postgres_store() {
    let home = tempfile::tempdir().expect("home");
    let mut config = ServerConfig::new(Protocol::OpenAi);
    config.api_key = None;
    config.default_reply = Reply::text("billing");
    let server = TestServer::start(config).await.expect("server");
    let toml = format!(
        r#"
[models.remote]
provider = "openai-compatible"
base_url = "{}/v1"
model = "served-model"

[components.triage]
prompt = "Ticket: {{{{ text }}}}\nTeam:"
dataset = {{ path = "data/tickets.jsonl", id = "id" }}
reference = "team"
output = {{ type = "label", labels = ["billing", "technical", "account"] }}
metrics = ["accuracy"]

[[components.triage.candidates]]
model = "remote"
"#,
        server.base_url()
    );
    let (_dir, config) = project(&toml);
    let db = TestDatabase::create().await;
    let rows = rightfit_config::project::STARTER_DATA.lines().count() as u64;
    let home = home.path();
    let with_store = |args: &[&str]| {
        let mut all: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        all.extend(["-c", config.as_str(), "--store", db.url()].map(str::to_owned));
        all
    };
    let eval = |shard: &str| {
        let args = with_store(&["eval", "--format", "json", "--shard", shard]);
        async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            run(home, &args, &[]).await
        }
    };

    let first = eval("1/2").await;
    assert!(first.status.success(), "{}", stderr(&first));
    let report = json(&first);
    let id = report["run"]["id"].as_str().expect("run id").to_owned();
    assert_eq!(report["run"]["status"], "interrupted", "shard 2/2 to go");
    assert_eq!(report["run"]["rows_used"], rows, "the run is every example");
    assert_eq!(report["candidates"][0]["examples"], rows.div_ceil(2));
    let note = stderr(&first);
    assert!(
        note.contains("shard 1/2:") && note.contains(&format!("{id} is partial")),
        "{note}"
    );
    assert!(note.contains(&format!("2/2 ({})", rows / 2)), "{note}");

    let second = eval("2/2").await;
    assert!(second.status.success(), "{}", stderr(&second));
    let report = json(&second);
    assert_eq!(report["run"]["id"], id.as_str(), "one run for both shards");
    assert_eq!(report["run"]["status"], "finished");
    assert_eq!(report["candidates"][0]["examples"], rows);
    assert!(!stderr(&second).contains("partial"), "{}", stderr(&second));
    assert_eq!(
        server.request_count() as u64,
        rows,
        "each example asked once"
    );

    let args = with_store(&["runs", "list", "--json"]);
    let listed = run(
        home,
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
        &[],
    )
    .await;
    assert!(listed.status.success(), "{}", stderr(&listed));
    let runs = json(&listed);
    let runs = runs.as_array().expect("a list");
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0]["status"], "finished");
    let args = with_store(&["report", &id, "--format", "json"]);
    let shown = run(
        home,
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
        &[],
    )
    .await;
    assert!(shown.status.success(), "{}", stderr(&shown));
    let whole = json(&shown);
    assert_eq!(whole["run"]["status"], "finished");
    assert_eq!(whole["candidates"][0]["examples"], rows);
    assert_eq!(whole["candidates"][0]["failures"], 0);

    // A shard that does not exist is refused before anything runs.
    let bad = eval("3/2").await;
    assert_eq!(bad.status.code(), Some(2), "a usage error");
    assert!(
        stderr(&bad).contains("there is no shard 3/2"),
        "{}",
        stderr(&bad)
    );
}
