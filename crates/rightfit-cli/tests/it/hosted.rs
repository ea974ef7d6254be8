//! `rightfit chat` and `rightfit eval` with hosted models, against the testkit's protocol-faithful
//! servers (no model file needed).

use std::path::Path;
use std::process::{Command, Output};

use rightfit_testkit::{Protocol, Reply, ServerConfig, Step, TestServer};

use crate::{stderr, stdout};

pub(crate) async fn run(home: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rightfit"));
    cmd.args(args)
        .env("RIGHTFIT_HOME", home)
        .env_remove("RIGHTFIT_LOG")
        .env_remove("RIGHTFIT_DATABASE_URL")
        .env_remove("OPENAI_API_KEY")
        .env_remove("ANTHROPIC_API_KEY")
        .env_remove("GEMINI_API_KEY");
    for (k, v) in env {
        cmd.env(k, v);
    }
    tokio::task::spawn_blocking(move || cmd.output().expect("run rightfit"))
        .await
        .expect("task")
}

/// A project directory holding `rightfit.toml` (this text) and the starter data it can read as
/// `data/tickets.jsonl`; returns the directory (kept alive by the caller) and the config's path.
pub(crate) fn project(toml: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().expect("project");
    std::fs::create_dir_all(dir.path().join("data")).expect("data dir");
    std::fs::write(
        dir.path().join("data/tickets.jsonl"),
        rightfit_config::project::STARTER_DATA,
    )
    .expect("data");
    let config = dir.path().join("rightfit.toml");
    std::fs::write(&config, toml).expect("config");
    (dir, config.to_string_lossy().into_owned())
}

#[tokio::test(flavor = "multi_thread")]
async fn chat_with_each_hosted_provider() {
    let home = tempfile::tempdir().expect("home");
    for (protocol, spec, var, path) in [
        (Protocol::OpenAi, "gpt-4o", "OPENAI_API_KEY", "/v1"),
        (
            Protocol::Anthropic,
            "claude-3-5-sonnet-latest",
            "ANTHROPIC_API_KEY",
            "",
        ),
        (
            Protocol::Gemini,
            "gemini-2.5-flash",
            "GEMINI_API_KEY",
            "/v1beta",
        ),
    ] {
        let server = TestServer::start(ServerConfig::new(protocol))
            .await
            .expect("server");
        let url = format!("{}{path}", server.base_url());
        let o = run(
            home.path(),
            &["chat", "--model", spec, "--base-url", &url, "Say hello."],
            &[(var, "test-key")],
        )
        .await;
        assert!(o.status.success(), "{spec}: {}", stderr(&o));
        assert_eq!(stdout(&o).trim(), "Hello from the test server.", "{spec}");
        let sent = &server.requests()[0];
        assert!(
            sent.body.to_string().contains("Say hello."),
            "{spec}: {}",
            sent.body
        );
        assert!(
            sent.body.to_string().contains(spec) || sent.path.contains(spec),
            "{spec}: model id sent: {} {:?}",
            sent.body,
            sent.path
        );

        // Without the key: a clear error naming the variable, exit 1, nothing sent.
        let o = run(
            home.path(),
            &["chat", "--model", spec, "--base-url", &url, "Say hello."],
            &[],
        )
        .await;
        assert_eq!(o.status.code(), Some(1), "{spec}");
        assert!(stderr(&o).contains(var), "{spec}: {}", stderr(&o));
        assert_eq!(server.request_count(), 1);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn chat_reports_a_refused_key_without_printing_it() {
    let home = tempfile::tempdir().expect("home");
    let server = TestServer::start(ServerConfig::new(Protocol::OpenAi))
        .await
        .expect("server");
    let url = format!("{}/v1", server.base_url());
    let key = "sk-proj-SECRETSECRET0123456789";
    let o = run(
        home.path(),
        &[
            "chat",
            "--model",
            "openai:gpt-4.1",
            "--base-url",
            &url,
            "Hi",
        ],
        &[("OPENAI_API_KEY", key)],
    )
    .await;
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(e.contains("401") && e.contains("OPENAI_API_KEY"), "{e}");
    assert!(!e.contains("SECRET") && !e.contains(key), "{e}");
}

#[tokio::test(flavor = "multi_thread")]
async fn eval_runs_a_hosted_candidate_through_faults() {
    let home = tempfile::tempdir().expect("home");
    let mut config = ServerConfig::new(Protocol::OpenAi);
    config.api_key = None;
    config.default_reply = Reply::text("billing");
    let server = TestServer::start(config).await.expect("server");
    // The first requests meet a 500, a 429 and a dropped connection; all are retried.
    server.push([
        Step::Status(500),
        Step::RateLimited {
            retry_after_s: Some(1),
        },
        Step::Drop,
    ]);
    let toml = format!(
        r#"
[models.remote]
provider = "openai-compatible"
base_url = "{}/v1"
model = "served-model"
price = {{ input = 1.0, output = 2.0 }}

[components.triage]
system = "Answer with one word: billing, technical or account."
prompt = "Ticket: {{{{ text }}}}\nTeam:"
dataset = {{ path = "data/tickets.jsonl", id = "id" }}
reference = "team"
output = {{ type = "label", labels = ["billing", "technical", "account"] }}
metrics = ["accuracy"]
max_tokens = 8

[[components.triage.candidates]]
model = "remote"
strategy = "zero-shot"
"#,
        server.base_url()
    );
    let (_dir, config) = project(&toml);
    let o = run(
        home.path(),
        &["eval", "-c", &config, "--format", "json"],
        &[],
    )
    .await;
    assert!(o.status.success(), "{}", stderr(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json report");
    let c = &report["candidates"][0];
    let rows = rightfit_config::project::STARTER_DATA.lines().count() as u64;
    let billing = rightfit_config::project::STARTER_DATA
        .lines()
        .filter(|l| l.contains("\"team\": \"billing\""))
        .count() as f64;
    assert_eq!(c["examples"], rows);
    assert_eq!(c["failures"], 0, "{c}");
    let accuracy = c["quality"]["mean"].as_f64().expect("accuracy");
    assert!(
        (accuracy - billing / rows as f64).abs() < 1e-9,
        "{accuracy}"
    );
    // 10 prompt tokens at $1/M and 1 completion token at $2/M per request, as the server said.
    let per_request = c["cost_per_request_usd"].as_f64().expect("cost");
    assert!((per_request - 12e-6).abs() < 1e-12, "{per_request}");
    assert!(
        c["ttft_ms"]["p50"].as_f64().is_some(),
        "time to first token measured: {c}"
    );
    assert_eq!(
        server.request_count() as u64,
        rows + 3,
        "each fault cost one extra request"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn embed_with_hosted_models() {
    let home = tempfile::tempdir().expect("home");
    let server = TestServer::start(ServerConfig::new(Protocol::OpenAi))
        .await
        .expect("server");
    let url = format!("{}/v1", server.base_url());
    let spec = "openai:text-embedding-3-small";
    let args = [
        "embed",
        "--model",
        spec,
        "--base-url",
        &url,
        "one",
        "two",
        "one",
    ];
    let o = run(home.path(), &args, &[("OPENAI_API_KEY", "test-key")]).await;
    assert!(o.status.success(), "{}", stderr(&o));
    let vectors: Vec<Vec<f32>> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON array per line"))
        .collect();
    let unit = |text: &str| {
        let mut v = rightfit_testkit::embedding(text, 8);
        rightfit_providers::unit_length(&mut v);
        v
    };
    assert_eq!(vectors, [unit("one"), unit("two"), unit("one")]);
    assert_eq!(server.requests()[0].path, "/v1/embeddings");

    // --no-normalize prints the server's vectors as they came.
    let mut raw_args = args.to_vec();
    raw_args.insert(1, "--no-normalize");
    let o = run(home.path(), &raw_args, &[("OPENAI_API_KEY", "test-key")]).await;
    let first: Vec<f32> =
        serde_json::from_str(stdout(&o).lines().next().expect("a line")).expect("JSON array");
    assert_eq!(first, rightfit_testkit::embedding("one", 8));

    // Anthropic has none: a user error saying so, nothing sent.
    let anthropic = TestServer::start(ServerConfig::new(Protocol::Anthropic))
        .await
        .expect("server");
    let url = anthropic.base_url();
    let o = run(
        home.path(),
        &[
            "embed",
            "--model",
            "anthropic:claude-3-5-haiku-latest",
            "--base-url",
            &url,
            "x",
        ],
        &[("ANTHROPIC_API_KEY", "test-key")],
    )
    .await;
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("no embeddings API"), "{}", stderr(&o));
    assert_eq!(anthropic.request_count(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn config_check_online_calls_each_hosted_model() {
    let home = tempfile::tempdir().expect("home");
    let open = TestServer::start({
        let mut c = ServerConfig::new(Protocol::OpenAi);
        c.api_key = None;
        c
    })
    .await
    .expect("server");
    let claude = TestServer::start(ServerConfig::new(Protocol::Anthropic))
        .await
        .expect("server");
    let toml = format!(
        r#"
[models.served]
provider = "openai-compatible"
base_url = "{}/v1"
model = "served-model"

[models.claude]
provider = "anthropic"
base_url = "{}"
model = "claude-3-5-haiku-latest"
api_key = "env:CLAUDE_KEY"

[components.triage]
prompt = "Ticket: {{{{ text }}}}\nTeam:"
dataset = {{ path = "data/tickets.jsonl", id = "id" }}
reference = "team"
output = {{ type = "label", labels = ["billing", "technical", "account"] }}
metrics = ["accuracy"]

[[components.triage.candidates]]
model = "served"
strategy = "zero-shot"
"#,
        open.base_url(),
        claude.base_url()
    );
    let (_dir, config) = project(&toml);

    let o = run(
        home.path(),
        &["config", "check", "-c", &config, "--online"],
        &[("CLAUDE_KEY", "test-key")],
    )
    .await;
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("keys accepted"), "{}", stdout(&o));
    assert!(stdout(&o).contains("0.8 / 4 (catalogue"), "{}", stdout(&o));
    assert_eq!(open.request_count(), 1);
    assert_eq!(claude.request_count(), 1);

    let wrong = "sk-ant-api03-WRONGWRONG-0123456789";
    let o = run(
        home.path(),
        &["config", "check", "-c", &config, "--online"],
        &[("CLAUDE_KEY", wrong)],
    )
    .await;
    assert_eq!(o.status.code(), Some(1));
    let out = format!("{}{}", stdout(&o), stderr(&o));
    assert!(
        out.contains("models.claude") && out.contains("401"),
        "{out}"
    );
    assert!(out.contains("CLAUDE_KEY"), "{out}");
    assert!(!out.contains("WRONGWRONG"), "{out}");
}
