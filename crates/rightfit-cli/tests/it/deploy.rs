//! `deploy/compose.yaml` run with the real binaries on this machine (no Docker here): each
//! service's command, environment and mounts come from the file (variables from
//! `deploy/.env.example`; the image's working directory, environment, entrypoint, port and health
//! check from the `Dockerfile`), and only what a container would hide is mapped:
//! - `postgres`: a fresh database on the test PostgreSQL server (`RIGHTFIT_TEST_POSTGRES`,
//!   Debian's package) instead of the image; the role, database and password the gateways use
//!   must be the ones the service is given;
//! - `model-server`: llama.cpp's own `llama-server` (`RIGHTFIT_TEST_LLAMA_SERVER`) with the
//!   service's arguments, the models volume mapped to the test model's directory, its port to a
//!   free one;
//! - `gateway-1`, `gateway-2`: the `rightfit` binary with the service's command and environment,
//!   each in a directory standing for its container's file system (bind mounts copied in, named
//!   volumes as empty directories), `RIGHTFIT_DATABASE_URL` pointed at the test database and the
//!   model server's compose address at its local port.
//!
//! Then, as a team would use it: both replicas start at once on the empty database, a key made
//! as `docker compose run gateway-1 keys create` is honoured by both, both answer chat
//! completions through the model server (SmolLM2-135M), one traffic log holds both replicas'
//! requests while each replica's metrics count only its own, a key revoked through the other
//! replica is refused by both, and SIGTERM drains each replica, whose journal is in its volume.

mod compose;

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use rightfit_testkit::llama_server::LlamaServer;
use rightfit_testkit::postgres::TestDatabase;
use serde_json::{Map, Value, json};

use crate::gateway::{free_port, wait_ready};
use crate::{stderr, stdout};
use compose::{Image, arg_after, deploy, environment, repo, strings};

/// How long a shared state change (a new key, a revocation, a stored record) may take to show
/// before the test gives up: far above the gateway's 2 s key refresh and 200 ms writer flush, so
/// that a slow machine never fails it.
const DEADLINE: Duration = Duration::from_secs(90);

/// A child process killed (and reaped) when dropped; its output goes to a log file.
struct Running {
    name: String,
    child: Option<Child>,
    log: PathBuf,
}

impl Running {
    fn child(&mut self) -> &mut Child {
        self.child.as_mut().expect("running")
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGTERM, as `docker compose stop` sends: whether it then exited 0, and its log.
    fn stop(mut self) -> (bool, String) {
        let mut child = self.child.take().expect("running");
        let term = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("kill");
        assert!(term.success(), "{}: kill -TERM failed", self.name);
        let status = child.wait().expect("wait");
        (status.success(), self.log())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn logs(running: &[Running]) -> String {
    running
        .iter()
        .map(|p| format!("--- {}:\n{}", p.name, p.log()))
        .collect::<Vec<_>>()
        .join("\n")
}

/// One gateway service as it runs here: its container's file system under `root`, its command
/// and environment, and the local port standing for its container port.
struct Replica {
    name: String,
    root: PathBuf,
    workdir: PathBuf,
    /// The named volumes' directories.
    volumes: Vec<PathBuf>,
    env: BTreeMap<String, String>,
    serve: Vec<String>,
    port: u16,
}

impl Replica {
    /// `docker compose run --rm NAME ARGS…`: the image's entrypoint (`rightfit`) with `args`, in
    /// this replica's container.
    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run rightfit")
    }

    fn command<S: AsRef<std::ffi::OsStr>>(&self, args: &[S]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_rightfit"));
        c.args(args)
            .current_dir(&self.workdir)
            .env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .envs(&self.env);
        c
    }

    fn start(&self) -> Running {
        let log = self.root.join("container.log");
        let out = File::create(&log).expect("log");
        let child = self
            .command(&self.serve)
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("log"))
            .stderr(out)
            .spawn()
            .expect("start rightfit serve");
        Running {
            name: self.name.clone(),
            child: Some(child),
            log,
        }
    }
}

/// What the gateways must agree with: the postgres service's settings, the model server's
/// compose address and model alias, and the test's stand-ins for both.
struct Upstreams<'a> {
    pg_user: &'a str,
    pg_db: &'a str,
    pg_password: &'a str,
    database_url: &'a str,
    model_address: String,
    model_url: String,
    alias: String,
}

/// The `model-server` service as llama-server with the service's arguments: the models volume
/// mapped to the test model's directory, the host to 127.0.0.1, the port to a free one. Returns
/// the server, its compose address (`http://model-server:PORT/v1`) and the model's alias.
fn model_server(service: &Value) -> (LlamaServer, String, String) {
    assert!(
        service["image"]
            .as_str()
            .is_some_and(|i| i.starts_with("ghcr.io/ggml-org/llama.cpp:server")),
        "{service}"
    );
    let test_model = crate::model();
    let models_dir = test_model.parent().expect("models dir");
    let mount = strings(&service["volumes"])
        .first()
        .and_then(|m| m.split(':').nth(1).map(str::to_owned))
        .expect("a models volume, SRC:DST");
    let mut args = strings(&service["command"]);
    let port = arg_after(&args, "--port").expect("--port").to_owned();
    let alias = arg_after(&args, "--alias").expect("--alias").to_owned();
    for i in 0..args.len() {
        if let Some(file) = args[i].strip_prefix(&format!("{mount}/")) {
            args[i] = models_dir.join(file).to_string_lossy().into_owned();
        }
        match i.checked_sub(1).map(|p| args[p].as_str()) {
            Some("--host") => args[i] = "127.0.0.1".to_owned(),
            Some("--port") => args[i] = "0".to_owned(),
            _ => {}
        }
    }
    let model = PathBuf::from(arg_after(&args, "--model").expect("--model"));
    assert_eq!(
        model, test_model,
        "the model server serves the file `rightfit models pull smollm2-135m` downloads"
    );
    let binary = std::env::var(rightfit_config::env::TEST_LLAMA_SERVER)
        .expect("RIGHTFIT_TEST_LLAMA_SERVER: run scripts/test (scripts/test-tools builds it)");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = LlamaServer::start(Path::new(&binary), &model, &args)
        .unwrap_or_else(|e| panic!("model-server: {e}"));
    let (status, listed) = server.get("/v1/models").expect("model list");
    assert_eq!(status, 200, "{listed}");
    assert!(listed.contains(&alias), "{listed}");
    (server, format!("http://model-server:{port}/v1"), alias)
}

/// Lays out the `name` gateway service's container under `dir` and returns how to run it.
fn replica(
    name: &str,
    service: &Value,
    image: &Image,
    upstreams: &Upstreams<'_>,
    dir: &Path,
) -> Replica {
    for dep in ["postgres", "model-server"] {
        assert_eq!(
            service["depends_on"][dep]["condition"], "service_healthy",
            "{name} waits for {dep}"
        );
    }
    // The container's file system: bind mounts copied in, named volumes empty directories.
    let root = dir.join(name);
    let in_root = |path: &str| root.join(path.trim_start_matches('/'));
    let mut volumes = Vec::new();
    for mount in strings(&service["volumes"]) {
        let parts: Vec<&str> = mount.split(':').collect();
        let (source, target) = (parts[0], in_root(parts[1]));
        if source.starts_with('.') || source.starts_with('/') {
            copy(&deploy().join(source), &target);
        } else {
            std::fs::create_dir_all(&target).expect("volume");
            volumes.push(target);
        }
    }
    // The command, with paths into the container's file system and the listen address on a free
    // local port instead of the container's.
    let published = strings(&service["ports"]);
    let container_port = published
        .first()
        .and_then(|p| p.rsplit(':').next())
        .expect("a published port");
    assert_eq!(image.expose, [container_port], "{name}: EXPOSE");
    let port = free_port();
    let mut serve = strings(&service["command"]);
    assert_eq!(serve.first().map(String::as_str), Some("serve"), "{name}");
    let listen = arg_after(&serve, "--listen").expect("--listen").to_owned();
    assert_eq!(listen, format!("0.0.0.0:{container_port}"), "{name}");
    for a in &mut serve {
        if *a == listen {
            *a = format!("127.0.0.1:{port}");
        } else if a.starts_with('/') {
            *a = in_root(a.as_str()).to_string_lossy().into_owned();
        }
    }
    // The mounted project reaches the model server at its compose address: here, its port.
    let config = PathBuf::from(arg_after(&serve, "-c").expect("-c"));
    let toml = std::fs::read_to_string(&config)
        .unwrap_or_else(|e| panic!("{name}: {}: {e} (not mounted?)", config.display()));
    let address = &upstreams.model_address;
    assert!(toml.contains(&format!("\"{address}\"")), "{toml}");
    assert!(
        toml.contains(&format!("model = \"{}\"", upstreams.alias)),
        "{toml}"
    );
    std::fs::write(&config, toml.replace(address, &upstreams.model_url)).expect("project");

    // The environment: the image's, then the service's. The store is the postgres service's
    // database, with the password that service was given; here, the test database.
    let mut env: BTreeMap<String, String> = image
        .env
        .iter()
        .map(|(k, v)| {
            let v = if v.starts_with('/') {
                in_root(v).to_string_lossy().into_owned()
            } else {
                v.clone()
            };
            (k.clone(), v)
        })
        .collect();
    env.extend(environment(service));
    let Upstreams { pg_user, pg_db, .. } = upstreams;
    assert_eq!(
        env["RIGHTFIT_DATABASE_URL"],
        format!("postgres://{pg_user}@postgres:5432/{pg_db}"),
        "{name}: the store is the postgres service's database"
    );
    assert_eq!(env["PGPASSWORD"], upstreams.pg_password, "{name}");
    env.insert(
        "RIGHTFIT_DATABASE_URL".to_owned(),
        upstreams.database_url.to_owned(),
    );
    let home = PathBuf::from(&env["RIGHTFIT_HOME"]);
    std::fs::create_dir_all(&home).expect("home");
    env.insert("HOME".to_owned(), home.to_string_lossy().into_owned());
    Replica {
        name: name.to_owned(),
        workdir: in_root(&image.workdir),
        root,
        volumes,
        env,
        serve,
        port,
    }
}

/// One HTTP/1.0 exchange with a gateway on 127.0.0.1: the status and the body.
fn http(
    port: u16,
    method: &str,
    path: &str,
    key: Option<&str>,
    body: Option<&Value>,
) -> (u16, String) {
    let body = body.map(Value::to_string).unwrap_or_default();
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(120)))
        .expect("timeout");
    let auth = key.map_or(String::new(), |k| format!("Authorization: Bearer {k}\r\n"));
    let head = format!(
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).expect("write");
    s.write_all(body.as_bytes()).expect("write");
    let mut answer = String::new();
    s.read_to_string(&mut answer).expect("read");
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {answer:?}"));
    (status, body.to_owned())
}

fn chat(port: u16, key: Option<&str>, text: &str) -> (u16, Value) {
    let body = json!({
        "model": "triage",
        "messages": [{"role": "user", "content": text}],
        "max_tokens": 16,
    });
    let (status, answer) = http(port, "POST", "/v1/chat/completions", key, Some(&body));
    let v = serde_json::from_str(&answer).unwrap_or_else(|_| json!({"raw": answer}));
    (status, v)
}

/// Polls `probe` until it returns true; panics with `what` and `context()` after [`DEADLINE`].
fn eventually(what: &str, mut probe: impl FnMut() -> bool, context: impl Fn() -> String) {
    let started = Instant::now();
    while !probe() {
        assert!(
            started.elapsed() < DEADLINE,
            "{what}: not within {} s\n{}",
            DEADLINE.as_secs(),
            context()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The requests a gateway's own `/metrics` counts as answered (200) for `component`.
fn answered_in_metrics(port: u16, component: &str) -> u64 {
    let (status, text) = http(port, "GET", "/metrics", None, None);
    assert_eq!(status, 200, "{text}");
    let labels = format!("component=\"{component}\"");
    text.lines()
        .filter(|l| l.starts_with("rightfit_requests_total{"))
        .filter(|l| l.contains(&labels) && l.contains("status=\"200\""))
        .map(|l| {
            let n = l.rsplit(' ').next().and_then(|n| n.parse::<f64>().ok());
            n.expect("a count") as u64
        })
        .sum()
}

/// Copies a file or a directory tree (a bind mount's source) to `to`.
fn copy(from: &Path, to: &Path) {
    if from.is_dir() {
        std::fs::create_dir_all(to).expect("dir");
        for entry in std::fs::read_dir(from).expect("read dir").flatten() {
            copy(&entry.path(), &to.join(entry.file_name()));
        }
    } else {
        std::fs::create_dir_all(to.parent().expect("parent")).expect("dir");
        std::fs::copy(from, to).unwrap_or_else(|e| panic!("{}: {e}", from.display()));
    }
}

/// The gateways and their upstreams, as the compose file describes them.
fn gateways(
    services: &Map<String, Value>,
    image: &Image,
    upstreams: &Upstreams<'_>,
    dir: &Path,
) -> Vec<Replica> {
    let (one, two) = (&services["gateway-1"], &services["gateway-2"]);
    assert_eq!(one["image"], two["image"]);
    assert_eq!(one["command"], two["command"]);
    assert_ne!(one["ports"], two["ports"], "each replica its own host port");
    let replicas = vec![
        replica("gateway-1", one, image, upstreams, dir),
        replica("gateway-2", two, image, upstreams, dir),
    ];
    let named: BTreeSet<String> = [one, two]
        .iter()
        .flat_map(|s| strings(&s["volumes"]))
        .filter(|m| !m.starts_with('.') && !m.starts_with('/'))
        .collect();
    assert_eq!(named.len(), 2, "each replica its own journal volume");
    replicas
}

#[test]
fn the_compose_services_run_with_the_real_binaries_smollm2() {
    let services = compose::services();
    let names: BTreeSet<&str> = services.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        BTreeSet::from(["gateway-1", "gateway-2", "model-server", "postgres"])
    );
    let image = compose::image();
    assert_eq!(image.entrypoint, ["rightfit"], "Dockerfile ENTRYPOINT");

    // postgres: a test database stands for it; the gateways must use its role, database and
    // password.
    let postgres = &services["postgres"];
    assert!(
        postgres["image"]
            .as_str()
            .is_some_and(|i| i.starts_with("postgres:")),
        "{postgres}"
    );
    assert!(strings(&postgres["healthcheck"]["test"]).contains(&"pg_isready".to_owned()));
    let pg = environment(postgres);
    assert!(!pg["POSTGRES_PASSWORD"].is_empty());
    let db = tokio::runtime::Runtime::new()
        .expect("runtime")
        .block_on(TestDatabase::create());

    let (llama, model_address, alias) = model_server(&services["model-server"]);
    let upstreams = Upstreams {
        pg_user: &pg["POSTGRES_USER"],
        pg_db: &pg["POSTGRES_DB"],
        pg_password: &pg["POSTGRES_PASSWORD"],
        database_url: db.url(),
        model_address,
        model_url: llama.base_url(),
        alias,
    };
    let dir = tempfile::tempdir().expect("containers");
    let replicas = gateways(&services, &image, &upstreams, dir.path());

    // `docker compose up`: both replicas at once on the empty database (its tables are made by
    // whichever takes the advisory lock first).
    let mut running: Vec<Running> = replicas.iter().map(Replica::start).collect();
    for (r, p) in replicas.iter().zip(&mut running) {
        wait_ready(p.child(), r.port);
    }

    // The image's health check against each replica, and against nothing (it fails).
    let check = &image.healthcheck;
    let script = image
        .copies
        .iter()
        .find(|(to, _)| to.ends_with(&format!("/{}", check[0])))
        .map(|(_, from)| repo().join(from))
        .expect("the health check script is copied into the image");
    for r in &replicas {
        let args = check[1..].iter().map(|a| {
            if *a == image.expose[0] {
                r.port.to_string()
            } else {
                a.clone()
            }
        });
        let o = Command::new(&script).args(args).output().expect("check");
        assert!(o.status.success(), "{}: {}", r.name, stderr(&o));
    }
    let o = Command::new(&script)
        .arg(free_port().to_string())
        .output()
        .expect("check");
    assert!(!o.status.success());

    // `docker compose run --rm gateway-1 keys create --name …`: both replicas honour the key
    // once they have re-read the keys, and say their model is ready.
    let created = replicas[0].run(&["keys", "create", "--name", "deploy-test"]);
    assert!(created.status.success(), "{}", stderr(&created));
    let key = stdout(&created)
        .split_whitespace()
        .find(|w| w.starts_with("rf-"))
        .expect("the secret")
        .to_owned();
    for r in &replicas {
        eventually(
            &format!("{} honours the new key", r.name),
            || http(r.port, "GET", "/v1/models", Some(&key), None).0 == 200,
            || logs(&running),
        );
        let (status, ready) = http(r.port, "GET", "/health/ready", Some(&key), None);
        assert_eq!(status, 200, "{}: {ready}", r.name);
        let ready: Value = serde_json::from_str(&ready).expect("json");
        assert_eq!(ready["models"]["smollm2"]["ready"], true, "{ready}");
    }

    // Chat completions through each replica and the model server; none without the key.
    let mut markers = Vec::new();
    for r in &replicas {
        for n in 0..2 {
            let marker = format!("ticket {n} through {}", r.name);
            let text = format!("My invoice is wrong ({marker})");
            let (status, answer) = chat(r.port, Some(&key), &text);
            assert_eq!(status, 200, "{}: {answer}\n{}", r.name, logs(&running));
            let message = &answer["choices"][0]["message"];
            assert!(message["content"].is_string(), "{answer}");
            let tokens = answer["usage"]["completion_tokens"].as_u64();
            assert!(tokens > Some(0), "{answer}");
            markers.push(marker);
        }
        let (status, answer) = chat(r.port, None, "no key");
        assert_eq!(status, 401, "{}: {answer}", r.name);
    }
    // Metrics are per process: each replica counts its own two.
    for r in &replicas {
        assert_eq!(answered_in_metrics(r.port, "triage"), 2, "{}", r.name);
    }

    // One traffic log: `rightfit traffic list` (in either container) shows both replicas'
    // requests, all under the one key, and `traffic stats` counts them.
    let list = || {
        let o = replicas[1].run(&["traffic", "list", "--format", "json"]);
        assert!(o.status.success(), "{}", stderr(&o));
        serde_json::from_str::<Value>(&stdout(&o)).expect("json")
    };
    let last = std::cell::RefCell::new(Value::Null);
    eventually(
        "both replicas' requests in the traffic log",
        || {
            *last.borrow_mut() = list();
            let text = last.borrow().to_string();
            markers.iter().all(|m| text.contains(m.as_str()))
        },
        || format!("{:#}\n{}", last.borrow(), logs(&running)),
    );
    let records = list();
    let records = records.as_array().expect("records");
    assert_eq!(records.len(), 4, "{records:#?}");
    for marker in &markers {
        let found = records
            .iter()
            .filter(|r| r.to_string().contains(marker.as_str()));
        assert_eq!(found.count(), 1, "{marker}: {records:#?}");
    }
    assert!(records.iter().all(|r| r["status"] == 200), "{records:#?}");
    let key_ids: BTreeSet<String> = records.iter().map(|r| r["key_id"].to_string()).collect();
    assert_eq!(key_ids.len(), 1, "{key_ids:?}");
    let o = replicas[0].run(&["traffic", "stats", "--format", "json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let stats: Value = serde_json::from_str(&stdout(&o)).expect("json");
    let rows = stats.as_array().expect("rows");
    let requests: u64 = rows.iter().filter_map(|r| r["requests"].as_u64()).sum();
    assert_eq!(requests, 4, "{stats:#}");

    // Revoked through the other replica's container: both replicas refuse it.
    let revoked = replicas[1].run(&["keys", "revoke", "deploy-test"]);
    assert!(revoked.status.success(), "{}", stderr(&revoked));
    for r in &replicas {
        eventually(
            &format!("{} refuses the revoked key", r.name),
            || http(r.port, "GET", "/v1/models", Some(&key), None).0 == 401,
            || logs(&running),
        );
        let (status, answer) = chat(r.port, Some(&key), "revoked");
        assert_eq!(status, 401, "{}: {answer}", r.name);
    }

    // `docker compose stop`: SIGTERM drains each replica; its journal is in its volume, so a new
    // container for the replica replays what it holds.
    for (r, p) in replicas.iter().zip(running) {
        let (ok, log) = p.stop();
        assert!(ok, "{} after SIGTERM:\n{log}", r.name);
        let journal = r
            .workdir
            .join(format!(".rightfit/gateway-{}.journal", r.port));
        assert!(journal.is_dir(), "{}: no {}", r.name, journal.display());
        assert!(
            r.volumes.iter().any(|v| journal.starts_with(v)),
            "{}: the journal {} is in no volume",
            r.name,
            journal.display()
        );
    }
    drop(llama);
    drop(db);
}
