//! A gateway over testkit upstreams, in a temporary project directory.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rightfit_config::project::{ModelConfig, Project};
use rightfit_gateway::{Gateway, Options};
use rightfit_providers::Provider;
use rightfit_registry::{BuildError, ModelRegistry, ProviderFactory};
use rightfit_store::{SqliteStore, Store};
use rightfit_testkit::{Protocol, ServerConfig, TestServer};
use rightfit_types::{TrafficFilter, TrafficRecord};
use tokio::sync::{mpsc, oneshot};

/// Builds hosted providers only (these tests run no local model).
pub struct Hosted;

#[async_trait::async_trait]
impl ProviderFactory for Hosted {
    async fn provider(&self, model: &ModelConfig) -> Result<Arc<dyn Provider>, BuildError> {
        Ok(Arc::new(ModelRegistry::hosted(model)?))
    }
}

/// An OpenAI-protocol upstream that takes no key.
pub async fn upstream() -> TestServer {
    let mut config = ServerConfig::new(Protocol::OpenAi);
    config.api_key = None;
    TestServer::start(config).await.expect("upstream")
}

/// A model block for an upstream: no retries, so a fault reaches the gateway's fallback at once.
pub fn model(name: &str, server: &TestServer, extra: &str) -> String {
    format!(
        r#"
[models.{name}]
provider = "openai-compatible"
base_url = "{}/v1"
model = "{name}-model"
price = {{ input = 1.0, output = 2.0 }}
max_retries = 0
{extra}
"#,
        server.base_url()
    )
}

/// A label component over the starter data with one zero-shot candidate per model name.
pub fn component(name: &str, models: &[&str], serve: &str) -> String {
    let mut s = format!(
        r#"
[components.{name}]
system = "Answer with one word: billing, technical or account."
prompt = "Ticket: {{{{ text }}}}\nTeam:"
dataset = {{ path = "data/tickets.jsonl", id = "id" }}
reference = "team"
output = {{ type = "label", labels = ["billing", "technical", "account"] }}
metrics = ["accuracy"]
max_tokens = 8
"#
    );
    for m in models {
        s.push_str(&format!(
            "\n[[components.{name}.candidates]]\nname = \"{m}\"\nmodel = \"{m}\"\n"
        ));
    }
    if !serve.is_empty() {
        s.push_str(&format!("\n[components.{name}.serve]\n{serve}\n"));
    }
    s
}

/// A gateway serving `toml` (a `[gateway]` table with `auth = "none"` and a short flush is
/// added unless the text has one).
pub struct Running {
    pub _dir: tempfile::TempDir,
    pub file: PathBuf,
    pub addr: SocketAddr,
    pub store: Arc<dyn Store>,
    pub app: Arc<rightfit_gateway::App>,
    pub gateway_router: axum::Router,
    pub reload: mpsc::Sender<()>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<Result<(), String>>>,
}

impl Running {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Stops the gateway gracefully and waits until the traffic log is drained.
    pub async fn stop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(30), t)
                .await
                .expect("shutdown within 30 s")
                .expect("serve task")
                .expect("serve");
        }
    }

    /// Every stored record, oldest first.
    pub async fn records(&self) -> Vec<TrafficRecord> {
        self.store
            .traffic(&TrafficFilter::default())
            .await
            .expect("traffic")
    }

    /// Waits until `n` records are stored (the writer flushes every 20 ms in tests).
    pub async fn wait_records(&self, n: usize) -> Vec<TrafficRecord> {
        for _ in 0..500 {
            let r = self.records().await;
            if r.len() >= n {
                return r;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let r = self.records().await;
        panic!("expected {n} traffic records, found {}: {r:#?}", r.len());
    }
}

pub fn project_dir(toml: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("project dir");
    std::fs::create_dir_all(dir.path().join("data")).expect("data dir");
    std::fs::write(
        dir.path().join("data/tickets.jsonl"),
        rightfit_config::project::STARTER_DATA,
    )
    .expect("data");
    let file = dir.path().join("rightfit.toml");
    let mut text = toml.to_owned();
    if !text.contains("[gateway]") {
        text.push_str("\n[gateway]\nauth = \"none\"\nflush_ms = 20\n");
    }
    std::fs::write(&file, text).expect("config");
    (dir, file)
}

/// Starts a gateway on a free port.
pub async fn start(toml: &str) -> Running {
    let (dir, file) = project_dir(toml);
    let project = Project::load(&file).expect("valid project");
    let store = Arc::new(
        SqliteStore::open(&dir.path().join("traffic.db"))
            .await
            .expect("store"),
    );
    start_with(dir, file, project, store).await
}

pub async fn start_with(
    dir: tempfile::TempDir,
    file: PathBuf,
    project: Project,
    store: Arc<dyn Store>,
) -> Running {
    start_with_factory(dir, file, project, store, Arc::new(Hosted)).await
}

/// [`start`] with providers built by `factory`.
pub async fn start_factory(toml: &str, factory: Arc<dyn ProviderFactory>) -> Running {
    let (dir, file) = project_dir(toml);
    let project = Project::load(&file).expect("valid project");
    let store = Arc::new(
        SqliteStore::open(&dir.path().join("traffic.db"))
            .await
            .expect("store"),
    );
    start_with_factory(dir, file, project, store, factory).await
}

async fn start_with_factory(
    dir: tempfile::TempDir,
    file: PathBuf,
    project: Project,
    store: Arc<dyn Store>,
    factory: Arc<dyn ProviderFactory>,
) -> Running {
    // Every test gateway keeps the default journal, beside the store as `rightfit serve` has it.
    let journal = project.gateway.journal_dir(&dir.path().join("traffic.db"));
    let gateway = Gateway::start(Options {
        file: file.clone(),
        project,
        factory,
        store: store.clone(),
        journal,
    })
    .await
    .expect("gateway starts");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let app = gateway.app.clone();
    let gateway_router = gateway.router();
    let (stop, stopped) = oneshot::channel::<()>();
    let (reload, reloads) = mpsc::channel(4);
    let task = tokio::spawn(gateway.serve(
        listener,
        async {
            let _ = stopped.await;
        },
        reloads,
    ));
    Running {
        _dir: dir,
        file,
        addr,
        store,
        app,
        gateway_router,
        reload,
        stop: Some(stop),
        task: Some(task),
    }
}

/// How long [`eventually`] polls before it calls the test stuck: a guard against hanging, far
/// longer than anything it waits for should take.
pub const STUCK: Duration = Duration::from_secs(60);

/// Polls `check` until it holds; panics with `what` only if it never does (after [`STUCK`]).
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let stuck = tokio::time::Instant::now() + STUCK;
    while !check().await {
        assert!(tokio::time::Instant::now() < stuck, "{what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A plain HTTP client (no connection reuse surprises between tests).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

/// An OpenAI chat body.
pub fn chat(model: &str, text: &str) -> serde_json::Value {
    serde_json::json!({"model": model, "messages": [{"role": "user", "content": text}]})
}
