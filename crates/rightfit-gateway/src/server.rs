//! The HTTP server: routes, the listener, reloads, key refreshes and graceful shutdown.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::State as Axum;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http::{HeaderMap, StatusCode, header};
use rightfit_config::project::{Durability, GatewayAuth, Project};
use rightfit_registry::ProviderFactory;
use rightfit_store::Store;
use serde_json::json;
use tokio::net::TcpListener;

use crate::api::Api;
use crate::app::App;
use crate::auth::{Keys, REFRESH};
use crate::error::{ErrorKind, GatewayError};
use crate::generate::generate;
use crate::journal::{self, Journal};
use crate::listen;
use crate::metrics::Metrics;
use crate::recorder::{self, Writer};
use crate::state::State;
use crate::wire::openai;

/// How to start a gateway.
pub struct Options {
    /// The project file (re-read on reload).
    pub file: PathBuf,
    /// The project as first loaded.
    pub project: Project,
    pub factory: Arc<dyn ProviderFactory>,
    /// Where traffic and keys are kept.
    pub store: Arc<dyn Store>,
    /// The traffic journal's directory (`GatewayConfig::journal_dir`); `None`: no journal, so a
    /// killed gateway loses the records of its last `flush_ms`.
    pub journal: Option<PathBuf>,
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("file", &self.file)
            .finish_non_exhaustive()
    }
}

/// Opens the journal in `dir` and stores what an earlier gateway left in it.
async fn open_journal(
    store: &dyn Store,
    dir: &std::path::Path,
    durability: Durability,
) -> Result<Journal, String> {
    let (journal, left) = Journal::open(dir, durability)?;
    if !left.is_empty() {
        let replayed = journal::replay(store, dir, &left).await?;
        if replayed.unreadable > 0 {
            tracing::warn!("{}", replayed.describe(dir));
        } else {
            tracing::info!("{}", replayed.describe(dir));
        }
    }
    Ok(journal)
}

/// A gateway ready to serve: its app and the traffic writer's task.
pub struct Gateway {
    /// Shared by every request.
    pub app: Arc<App>,
    file: PathBuf,
    writer: Writer,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("file", &self.file)
            .finish_non_exhaustive()
    }
}

impl Gateway {
    /// Builds the state (loading every model a policy can call) and starts the traffic
    /// writer.
    pub async fn start(o: Options) -> Result<Self, String> {
        let g = o.project.gateway.clone();
        let state = State::build(o.project, &*o.factory, None).await?;
        // What an earlier gateway answered but did not store goes in first, so that keys'
        // spend counts it.
        let journal = match &o.journal {
            Some(dir) => Some(Arc::new(open_journal(&*o.store, dir, g.durability).await?)),
            None => None,
        };
        let keys = Keys::load(&*o.store, g.auth == GatewayAuth::Keys).await?;
        let metrics = Metrics::new();
        let (recorder, writer) = recorder::spawn(
            o.store.clone(),
            metrics.clone(),
            g.batch,
            Duration::from_millis(g.flush_ms),
            journal,
        );
        let app = Arc::new(App::new(
            state,
            o.factory,
            o.store,
            recorder,
            metrics,
            keys,
            g.body_limit_bytes,
        ));
        Ok(Self {
            app,
            file: o.file,
            writer,
        })
    }

    /// The routes, for serving on another listener or in-process.
    pub fn router(&self) -> Router {
        router(self.app.clone())
    }

    /// Re-reads the project file and swaps in what it now says; on any error the running
    /// state stays and the error is returned. The listen address and the traffic writer
    /// settings apply from the next start.
    pub async fn reload(&self) -> Result<(), String> {
        reload(&self.app, &self.file).await
    }

    /// Serves on `listener` until `shutdown` resolves, then stops taking connections,
    /// finishes requests in flight (streams included), waits for shadow calls, and drains the
    /// traffic writer. `reload` resolves each time the policies should be re-read.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
        mut reloads: tokio::sync::mpsc::Receiver<()>,
    ) -> Result<(), String> {
        let app = self.app.clone();
        let file = self.file.clone();
        let reloader = tokio::spawn(async move {
            while reloads.recv().await.is_some() {
                match reload(&app, &file).await {
                    Ok(()) => tracing::info!("reloaded {}", file.display()),
                    Err(e) => tracing::error!(
                        "reload of {} refused, still serving the previous policies: {e}",
                        file.display()
                    ),
                }
            }
        });
        let app = self.app.clone();
        let refresher = tokio::spawn(async move {
            if !app.keys.required() {
                return;
            }
            let mut tick = tokio::time::interval(REFRESH);
            loop {
                tick.tick().await;
                if let Err(e) = app.keys.refresh(&*app.store).await {
                    tracing::warn!("gateway keys not refreshed: {e}");
                }
            }
        });
        let g = &self.app.state().project.gateway;
        let limits = listen::Limits {
            header_timeout: Duration::from_secs_f64(g.header_timeout_s),
            per_client: g.max_connections_per_client,
        };
        listen::serve(listener, router(self.app.clone()), limits, shutdown).await;
        reloader.abort();
        refresher.abort();
        let _ = reloader.await;
        let _ = refresher.await;
        self.app.tasks.close();
        self.app.tasks.wait().await;
        self.writer.close().await
    }
}

async fn reload(app: &App, file: &std::path::Path) -> Result<(), String> {
    let project = Project::load(file).map_err(|e| e.to_string())?;
    let old = app.state();
    let next = State::build(project, &*app.factory, Some(&old)).await?;
    app.swap(next);
    Ok(())
}

/// The gateway's routes over `app`.
pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/v1/chat/completions", post(chat))
        .route("/v1/messages", post(messages))
        .route("/v1/models", get(models))
        .route("/health", get(live))
        .route("/health/ready", get(ready))
        .route("/metrics", get(metrics))
        .fallback(not_found)
        .with_state(app)
}

async fn chat(Axum(app): Axum<Arc<App>>, headers: HeaderMap, body: Body) -> Response {
    generate(app, Api::OpenAi, headers, body).await
}

async fn messages(Axum(app): Axum<Arc<App>>, headers: HeaderMap, body: Body) -> Response {
    generate(app, Api::Anthropic, headers, body).await
}

async fn models(Axum(app): Axum<Arc<App>>, headers: HeaderMap) -> Response {
    if let Err(e) = app.keys.authenticate(&headers) {
        return e.into_response(Api::OpenAi);
    }
    let state = app.state();
    let mut list: Vec<(String, String)> = state
        .components
        .keys()
        .map(|c| (c.clone(), "rightfit-component".to_owned()))
        .collect();
    list.extend(
        state
            .project
            .models
            .values()
            .map(|m| (m.name.clone(), m.provider.kind().to_owned())),
    );
    axum::Json(openai::models(&list)).into_response()
}

/// Liveness, for anyone who can reach the gateway: it answers, and says nothing else (no
/// component, model, upstream address or upstream error).
async fn live() -> Response {
    axum::Json(json!({"status": "ok"})).into_response()
}

/// Readiness in detail, behind a key like the API (with `auth = "keys"`): what the gateway
/// serves and each built model's own health; 503 while one says it is not ready.
async fn ready(Axum(app): Axum<Arc<App>>, headers: HeaderMap) -> Response {
    if let Err(e) = app.keys.authenticate(&headers) {
        return e.into_response(Api::OpenAi);
    }
    let state = app.state();
    let mut models = serde_json::Map::new();
    let mut ready = true;
    for (name, p) in state.providers.all() {
        let (ok, detail) = match tokio::time::timeout(Duration::from_secs(2), p.health()).await {
            Ok(Ok(h)) => (h.ready, h.detail),
            Ok(Err(e)) => (false, GatewayError::from_provider(&e).message().to_owned()),
            Err(_) => (false, "health check timed out".to_owned()),
        };
        ready &= ok;
        models.insert(name, json!({"ready": ok, "detail": detail}));
    }
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({
        "status": if ready { "ok" } else { "degraded" },
        "components": state.components.keys().collect::<Vec<_>>(),
        "models": models,
    });
    (status, axum::Json(body)).into_response()
}

async fn metrics(Axum(app): Axum<Arc<App>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        app.metrics.render_with(&app.state().providers.endpoints()),
    )
        .into_response()
}

async fn not_found() -> Response {
    GatewayError::new(
        ErrorKind::NotFound,
        "no such route: the gateway serves POST /v1/chat/completions, POST /v1/messages, GET /v1/models, GET /health, GET /health/ready and GET /metrics",
    )
    .into_response(Api::OpenAi)
}
