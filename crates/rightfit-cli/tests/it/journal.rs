//! `rightfit serve` killed with SIGKILL under load loses no answered request: with the default
//! `durability = "process"` every answer's traffic record is in the journal before the client
//! has it, and the next start stores it. With `durability = "none"` the same kill loses them (the
//! check that this test can fail). The upstream is the testkit's OpenAI server; the database
//! writer is held back (`flush_ms` of ten minutes) so that only the journal can save anything.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use rightfit_testkit::{Protocol, Reply, ServerConfig, TestServer};
use serde_json::Value;

use crate::gateway::{free_port, wait_ready};
use crate::{rightfit, stderr, stdout};

fn project(dir: &Path, upstream: &str, durability: &str) -> String {
    std::fs::create_dir_all(dir.join("data")).expect("data dir");
    std::fs::write(
        dir.join("data/tickets.jsonl"),
        rightfit_config::project::STARTER_DATA,
    )
    .expect("data");
    let toml = format!(
        r#"
[models.upstream]
provider = "openai-compatible"
base_url = "{upstream}/v1"
model = "served-model"

[components.intent]
prompt = "{{{{ text }}}}"
dataset = {{ path = "data/tickets.jsonl", id = "id" }}
reference = "team"
output = {{ type = "text" }}
metrics = ["exact_match"]

[[components.intent.candidates]]
model = "upstream"

[gateway]
auth = "none"
flush_ms = 600000
batch = 1000000
durability = "{durability}"
"#
    );
    let file = dir.join("rightfit.toml");
    std::fs::write(&file, toml).expect("config");
    file.to_string_lossy().into_owned()
}

pub(crate) fn serve(home: &Path, config: &str, port: u16) -> Child {
    let mut child = Command::new(env!("CARGO_BIN_EXE_rightfit"))
        .args([
            "serve",
            "-c",
            config,
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .env("RIGHTFIT_HOME", home)
        .env_remove("RIGHTFIT_LOG")
        .env_remove("RIGHTFIT_DATABASE_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start rightfit serve");
    wait_ready(&mut child, port);
    child
}

/// One request over its own HTTP/1.0 connection: the id of the answer when it arrived whole
/// (status 200 and, streamed, up to `[DONE]`), else `None`.
pub(crate) fn ask(port: u16, stream: bool, n: usize) -> Option<String> {
    let body = serde_json::json!({
        "model": "intent",
        "messages": [{"role": "user", "content": format!("request {n}")}],
        "stream": stream,
    })
    .to_string();
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
    let head = format!(
        "POST /v1/chat/completions HTTP/1.0\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).ok()?;
    s.write_all(body.as_bytes()).ok()?;
    let mut answer = String::new();
    s.read_to_string(&mut answer).ok()?;
    if !answer.starts_with("HTTP/1.0 200") && !answer.starts_with("HTTP/1.1 200") {
        return None;
    }
    let (_, body) = answer.split_once("\r\n\r\n")?;
    let json = if stream {
        if !body.contains("data: [DONE]") {
            return None;
        }
        body.lines().find_map(|l| l.strip_prefix("data: "))?
    } else {
        body
    };
    let v: Value = serde_json::from_str(json).ok()?;
    v["id"].as_str().map(str::to_owned)
}

/// Sends requests from 8 threads (every third one streamed) until `enough` have been answered,
/// kills the gateway with SIGKILL while the others are still in flight, and returns the ids of
/// every answer that arrived whole.
fn load_then_kill(server: &mut Child, port: u16, enough: usize) -> BTreeSet<String> {
    let answered = Arc::new(Mutex::new(BTreeSet::new()));
    let count = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let next = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let (answered, count, stop, next) =
                (answered.clone(), count.clone(), stop.clone(), next.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if let Some(id) = ask(port, n % 3 == 0, n) {
                        answered.lock().expect("ids").insert(id);
                        count.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    while count.load(Ordering::Relaxed) < enough {
        if let Ok(Some(status)) = server.try_wait() {
            panic!("rightfit serve exited under load: {status}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    server.kill().expect("SIGKILL");
    let status = server.wait().expect("wait");
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().expect("client thread");
    }
    assert!(!status.success(), "killed, not exited: {status}");
    answered.lock().expect("ids").clone()
}

/// Every traffic id in the project's store.
pub(crate) fn stored(home: &Path, config: &str) -> BTreeSet<String> {
    let o = rightfit(
        home,
        &[
            "traffic", "list", "-c", config, "--format", "json", "--limit", "1000000",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v: Value = serde_json::from_str(&stdout(&o)).expect("json");
    let records = v.as_array().expect("an array");
    records
        .iter()
        .map(|r| r["id"].as_str().expect("id").to_owned())
        .collect()
}

pub(crate) fn stop(mut server: Child) -> String {
    let term = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .expect("kill");
    assert!(term.success());
    let status = server.wait().expect("wait");
    let mut err = String::new();
    if let Some(mut e) = server.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    assert!(status.success(), "serve after SIGTERM: {status}\n{err}");
    err
}

fn segments(dir: &Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |d| {
        d.flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == "jsonl"))
            .count()
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_under_load_loses_no_answered_request() {
    let mut upstream = ServerConfig::new(Protocol::OpenAi);
    upstream.api_key = None;
    upstream.default_reply = Reply::text("billing").with_tokens(12, 2);
    let upstream = TestServer::start(upstream).await.expect("upstream");
    let base = upstream.base_url();

    let home = tempfile::tempdir().expect("home");
    let dir = tempfile::tempdir().expect("project");
    let config = project(dir.path(), &base, "process");
    let journal = dir.path().join(".rightfit/runs.db.journal");
    let port = free_port();
    let (home_path, config_arg) = (home.path().to_owned(), config.clone());
    let answered = tokio::task::spawn_blocking(move || {
        let mut server = serve(&home_path, &config_arg, port);
        load_then_kill(&mut server, port, 400)
    })
    .await
    .expect("load");
    assert!(answered.len() >= 400, "{} answered", answered.len());
    // The writer never ran: only the journal holds them.
    assert!(stored(home.path(), &config).is_empty());
    assert!(segments(&journal) >= 1);

    // The next start stores them before serving; a clean stop leaves no segment behind.
    let port = free_port();
    let (home_path, config_arg) = (home.path().to_owned(), config.clone());
    let log = tokio::task::spawn_blocking(move || stop(serve(&home_path, &config_arg, port)))
        .await
        .expect("restart");
    let kept = stored(home.path(), &config);
    let lost: Vec<_> = answered.difference(&kept).collect();
    assert!(
        lost.is_empty(),
        "{} of {} answered requests lost: {lost:?}\n{log}",
        lost.len(),
        answered.len()
    );
    assert_eq!(
        segments(&journal),
        0,
        "segments left in {}",
        journal.display()
    );

    // Without the journal the same kill loses what the writer had not stored.
    let dir = tempfile::tempdir().expect("project");
    let config = project(dir.path(), &base, "none");
    let port = free_port();
    let (home_path, config_arg) = (home.path().to_owned(), config.clone());
    let answered = tokio::task::spawn_blocking(move || {
        let mut server = serve(&home_path, &config_arg, port);
        load_then_kill(&mut server, port, 100)
    })
    .await
    .expect("load");
    assert!(answered.len() >= 100);
    assert!(!dir.path().join(".rightfit/runs.db.journal").exists());
    let (home_path, config_arg) = (home.path().to_owned(), config.clone());
    let port = free_port();
    tokio::task::spawn_blocking(move || stop(serve(&home_path, &config_arg, port)))
        .await
        .expect("restart");
    assert!(stored(home.path(), &config).is_empty());
}
