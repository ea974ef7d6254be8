//! Three `rightfit serve` replicas on one PostgreSQL store, under load, one killed with SIGKILL
//! mid-run: every request a surviving replica answered is stored; the killed replica's answers
//! not yet written (at most what it answered in its last `flush_ms`, 200 ms by default, plus a
//! batch being written) are in its journal, and its next start on the same port stores them, so
//! nothing answered is lost. `rightfit traffic` then reads every replica's records from the one
//! log. The upstream is the testkit's OpenAI server.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Child;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rightfit_testkit::postgres::TestDatabase;
use rightfit_testkit::{Protocol, Reply, ServerConfig, TestServer};
use serde_json::Value;

use crate::gateway::free_port;
use crate::journal::{ask, serve, stop, stored};
use crate::{rightfit, stderr, stdout};

fn project(dir: &Path, upstream: &str, store: &str) -> String {
    std::fs::create_dir_all(dir.join("data")).expect("data dir");
    std::fs::write(
        dir.join("data/tickets.jsonl"),
        rightfit_config::project::STARTER_DATA,
    )
    .expect("data");
    let toml = format!(
        r#"
[project]
store = "{store}"

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
"#
    );
    let file = dir.join("rightfit.toml");
    std::fs::write(&file, toml).expect("config");
    file.to_string_lossy().into_owned()
}

/// What each replica answered, by port.
type Answered = Arc<Mutex<Vec<BTreeSet<String>>>>;

#[tokio::test(flavor = "multi_thread")]
async fn three_replicas_on_postgres_lose_nothing_when_one_is_killed() {
    let mut upstream = ServerConfig::new(Protocol::OpenAi);
    upstream.api_key = None;
    upstream.default_reply = Reply::text("billing").with_tokens(12, 2);
    let upstream = TestServer::start(upstream).await.expect("upstream");
    let db = TestDatabase::create().await;
    let home = tempfile::tempdir().expect("home");
    let dir = tempfile::tempdir().expect("project");
    let config = project(dir.path(), &upstream.base_url(), db.url());
    let ports = [free_port(), free_port(), free_port()];

    let (home_path, config_arg) = (home.path().to_owned(), config.clone());
    let (answered, mut survivors, killed_port) = tokio::task::spawn_blocking(move || {
        // Started together: the first start's migrations race on the empty database too.
        let starts: Vec<_> = ports
            .iter()
            .map(|&port| {
                let (h, c) = (home_path.clone(), config_arg.clone());
                std::thread::spawn(move || serve(&h, &c, port))
            })
            .collect();
        let mut servers: Vec<Child> = starts
            .into_iter()
            .map(|s| s.join().expect("start"))
            .collect();
        let answered: Answered = Arc::new(Mutex::new(vec![BTreeSet::new(); 3]));
        let alive = Arc::new([
            AtomicBool::new(true),
            AtomicBool::new(true),
            AtomicBool::new(true),
        ]);
        let count = Arc::new(AtomicUsize::new(0));
        let stop_load = Arc::new(AtomicBool::new(false));
        let next = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..9)
            .map(|_| {
                let (answered, alive, count, stop_load, next) = (
                    answered.clone(),
                    alive.clone(),
                    count.clone(),
                    stop_load.clone(),
                    next.clone(),
                );
                std::thread::spawn(move || {
                    while !stop_load.load(Ordering::Relaxed) {
                        let n = next.fetch_add(1, Ordering::Relaxed);
                        let replica = n % 3;
                        if !alive[replica].load(Ordering::Relaxed) {
                            continue;
                        }
                        if let Some(id) = ask(ports[replica], n % 4 == 0, n) {
                            answered.lock().expect("ids")[replica].insert(id);
                            count.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                })
            })
            .collect();
        let wait_for = |enough: usize, servers: &mut Vec<Child>| {
            while count.load(Ordering::Relaxed) < enough {
                for s in servers.iter_mut() {
                    if let Ok(Some(status)) = s.try_wait() {
                        panic!("a replica exited under load: {status}");
                    }
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        };
        wait_for(300, &mut servers);
        // Replica 2 dies mid-run; the load goes on over the other two.
        let mut killed = servers.remove(1);
        alive[1].store(false, Ordering::Relaxed);
        killed.kill().expect("SIGKILL");
        assert!(!killed.wait().expect("wait").success());
        let at_kill = count.load(Ordering::Relaxed);
        wait_for(at_kill + 300, &mut servers);
        stop_load.store(true, Ordering::Relaxed);
        for t in threads {
            t.join().expect("client thread");
        }
        let answered = answered.lock().expect("ids").clone();
        (answered, servers, ports[1])
    })
    .await
    .expect("load");
    assert!(
        answered.iter().all(|a| !a.is_empty()),
        "every replica served"
    );

    // The survivors stop cleanly (writing what they hold): all they answered is stored.
    for s in survivors.drain(..) {
        tokio::task::spawn_blocking(move || stop(s))
            .await
            .expect("stop");
    }
    let kept = stored(home.path(), &config);
    for replica in [0, 2] {
        let lost: Vec<_> = answered[replica].difference(&kept).collect();
        assert!(lost.is_empty(), "replica {replica} lost {lost:?}");
    }
    // The killed one's answers not yet written are in its journal (at most its last flush
    // interval's worth); the next start on its port replays them.
    let pending = answered[1].difference(&kept).count();
    eprintln!(
        "killed replica: {} answered, {pending} not in the store before its restart",
        answered[1].len()
    );
    let journal = dir
        .path()
        .join(format!(".rightfit/gateway-{killed_port}.journal"));
    assert!(journal.is_dir(), "{} missing", journal.display());
    let (home_path, config_arg) = (home.path().to_owned(), config.clone());
    tokio::task::spawn_blocking(move || stop(serve(&home_path, &config_arg, killed_port)))
        .await
        .expect("restart");
    let kept = stored(home.path(), &config);
    let all: BTreeSet<String> = answered.iter().flatten().cloned().collect();
    let lost: Vec<_> = all.difference(&kept).collect();
    assert!(lost.is_empty(), "{} lost: {lost:?}", lost.len());

    // One log: the stats count every replica's records (and any a replica recorded for a
    // request whose answer the kill cut off).
    let o = rightfit(
        home.path(),
        &["traffic", "stats", "-c", &config, "--format", "json"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let stats: Value = serde_json::from_str(&stdout(&o)).expect("json");
    let rows = stats.as_array().expect("rows");
    let requests: u64 = rows
        .iter()
        .map(|r| r["requests"].as_u64().expect("requests"))
        .sum();
    assert_eq!(requests as usize, kept.len(), "{stats}");
    assert!(kept.len() >= all.len());
}
