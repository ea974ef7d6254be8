//! `rightfit serve` as a process, with a real local model (SmolLM2-135M): the official SDKs get
//! the same greedy answer as `rightfit chat` gives for the same conversation, through both APIs,
//! whole and streamed; SIGTERM drains the traffic log, which `rightfit traffic` then reads.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rightfit_testkit::clients::{self, Client};
use serde_json::Value;

use crate::{home_with_model, rightfit, stderr, stdout};

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A project whose component `greeter` answers with the local SmolLM2 (`smollm2`), served on
/// `port` with keys; returns the config file's path.
pub(crate) fn project(dir: &Path, port: u16) -> String {
    std::fs::create_dir_all(dir.join("data")).expect("data dir");
    std::fs::write(
        dir.join("data/tickets.jsonl"),
        rightfit_config::project::STARTER_DATA,
    )
    .expect("data");
    let toml = format!(
        r#"
[models.smollm2]
provider = "local"
model = "smollm2-135m"
context_size = 2048
parallel = 2

[components.greeter]
prompt = "{{{{ text }}}}"
dataset = {{ path = "data/tickets.jsonl", id = "id" }}
reference = "team"
output = {{ type = "text" }}
metrics = ["exact_match"]

[[components.greeter.candidates]]
model = "smollm2"

[gateway]
listen = "127.0.0.1:{port}"
auth = "keys"
flush_ms = 50
"#
    );
    let file = dir.join("rightfit.toml");
    std::fs::write(&file, toml).expect("config");
    file.to_string_lossy().into_owned()
}

/// Waits until the gateway answers /health.
pub(crate) fn wait_ready(server: &mut Child, port: u16) {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(120) {
        if let Ok(Some(status)) = server.try_wait() {
            panic!("rightfit serve exited early: {status}");
        }
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            use std::io::{Read, Write};
            let _ = s.write_all(b"GET /health HTTP/1.0\r\n\r\n");
            let mut answer = String::new();
            let _ = s.read_to_string(&mut answer);
            if answer.starts_with("HTTP/1.0 200") || answer.starts_with("HTTP/1.1 200") {
                return;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("rightfit serve was not ready within 120 s");
}

/// Creates a gateway key named `sdk` for the project and returns its secret.
pub(crate) fn create_key(home: &Path, config: &str) -> String {
    let o = rightfit(home, &["keys", "create", "--name", "sdk", "-c", config]);
    assert!(o.status.success(), "{}", stderr(&o));
    stdout(&o)
        .split_whitespace()
        .find(|w| w.starts_with("rf-"))
        .expect("the secret")
        .to_owned()
}

/// Starts `rightfit serve` for the project and waits until it answers on `port`.
pub(crate) fn serve(home: &Path, config: &str, port: u16) -> Child {
    let mut server = Command::new(env!("CARGO_BIN_EXE_rightfit"))
        .args(["serve", "-c", config])
        .env("RIGHTFIT_HOME", home)
        .env("RIGHTFIT_THREADS", "2")
        .env_remove("RIGHTFIT_LOG")
        .env_remove("RIGHTFIT_DATABASE_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("rightfit serve");
    wait_ready(&mut server, port);
    server
}

/// SIGTERM: answers finish, the traffic log is drained, the process exits 0. Returns its
/// stderr (the log).
pub(crate) fn stop(server: Child) -> String {
    let pid = server.id().to_string();
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(killed.success());
    let output = server.wait_with_output().expect("serve exits");
    let log = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "{log}");
    log
}

/// The records `rightfit traffic list` shows for the project at `config`, and the listing's
/// text, for messages.
pub(crate) fn traffic_list(home: &Path, config: &str) -> (Vec<Value>, String) {
    let o = rightfit(home, &["traffic", "list", "-c", config, "--format", "json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let listing = stdout(&o);
    let records = serde_json::from_str(&listing).expect("json");
    (records, listing)
}

#[test]
fn the_sdks_get_the_local_models_answer_through_the_gateway_smollm2() {
    let home = home_with_model();
    let dir = tempfile::tempdir().expect("project");
    let port = free_port();
    let config = project(dir.path(), port);
    let secret = create_key(home.path(), &config);
    let mut server = serve(home.path(), &config, port);
    let base = format!("http://127.0.0.1:{port}");
    let mut runs: BTreeMap<&str, BTreeMap<String, Value>> = BTreeMap::new();
    for (name, client) in [
        ("openai-python", Client::OpenAiPython),
        ("anthropic-python", Client::AnthropicPython),
        ("openai-node", Client::OpenAiNode),
    ] {
        let calls = clients::run_skipping(
            client,
            &base,
            &secret,
            "greeter",
            Some("rf-wrong"),
            &["json_object"],
        );
        match calls {
            Ok(c) => {
                runs.insert(name, c);
            }
            Err(e) => {
                let _ = server.kill();
                panic!("{e}");
            }
        }
    }
    let log = stop(server);
    // Answered: plain and stream by each of the three clients, and the Python openai
    // client's two calls with log-probabilities; refused calls (unknown model, bad key) are
    // counted in the metrics, not logged.
    assert!(log.contains("stopped: 8 traffic records written"), "{log}");
    // The reference: the same conversation through `rightfit chat`, greedy, same limit.
    let o = rightfit(
        home.path(),
        &[
            "chat",
            "--system",
            "Be brief.",
            "--max-tokens",
            "48",
            "Say hello.",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let direct = stdout(&o).trim().to_owned();
    assert!(!direct.is_empty());
    for (name, calls) in &runs {
        for call in ["plain", "stream"] {
            let text = calls[call]["text"].as_str().expect("text").trim();
            assert_eq!(text, direct, "{name} {call}: {}", calls[call]);
        }
        assert_eq!(calls["not_found"]["error_status"], 404, "{name}");
        assert_eq!(calls["bad_key"]["error_status"], 401, "{name}");
    }
    // The local model's own token log-probabilities, whole and streamed, through the SDK: the
    // greedy answer's tokens, each the most likely at its place, spelling the answer.
    for call in ["logprobs", "logprobs_stream"] {
        let c = &runs["openai-python"][call];
        let text = c["text"].as_str().expect("text");
        assert_eq!(text.trim(), direct, "{call}: {c}");
        let tokens = c["logprobs"]
            .as_array()
            .unwrap_or_else(|| panic!("{call}: {c}"));
        let joined: String = tokens
            .iter()
            .map(|t| t["token"].as_str().expect("token"))
            .collect();
        assert_eq!(joined, text, "{call}: {c}");
        for t in tokens {
            let lp = t["logprob"].as_f64().expect("logprob");
            assert!(lp <= 0.0, "{t}");
            assert_eq!(t["top"].as_array().map(Vec::len), Some(2), "{t}");
            assert_eq!(t["top"][0][0], t["token"], "greedy: {t}");
            assert_eq!(t["top"][0][1].as_f64(), Some(lp), "{t}");
        }
    }
    // The same tokens whole or streamed (the second request reuses the cached prompt, so its
    // numbers may round differently).
    let (whole, streamed) = (
        &runs["openai-python"]["logprobs"]["logprobs"],
        &runs["openai-python"]["logprobs_stream"]["logprobs"],
    );
    assert_eq!(
        whole.as_array().map(Vec::len),
        streamed.as_array().map(Vec::len)
    );
    for (a, b) in whole
        .as_array()
        .into_iter()
        .flatten()
        .zip(streamed.as_array().into_iter().flatten())
    {
        assert_eq!(a["token"], b["token"]);
        let d = a["logprob"].as_f64().unwrap_or(0.0) - b["logprob"].as_f64().unwrap_or(1.0);
        assert!(d.abs() < 0.05, "{a} vs {b}");
    }
    let usage = &runs["openai-python"]["plain"]["usage"];
    assert!(
        usage["completion_tokens"].as_u64().expect("tokens") > 0,
        "{usage}"
    );
    // The log as `rightfit traffic` shows it.
    let (records, listing) = traffic_list(home.path(), &config);
    let answered: Vec<&Value> = records.iter().filter(|r| r["status"] == 200).collect();
    assert_eq!(answered.len(), 8, "{listing}");
    assert!(
        answered
            .iter()
            .all(|r| r["candidate"] == "smollm2/zero-shot")
    );
    let same = answered
        .iter()
        .filter(|r| r["output"].as_str().map(str::trim) == Some(direct.as_str()))
        .count();
    assert_eq!(same, 8, "{listing}");
}
