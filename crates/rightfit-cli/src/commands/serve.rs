//! `rightfit serve`: the gateway, until Ctrl-C or SIGTERM; SIGHUP (or `--watch`) reloads the
//! policies.

use std::sync::Arc;

use anyhow::{Context, anyhow};
use rightfit_config::project::GatewayAuth;
use rightfit_gateway::{Gateway, Options, signals};
use rightfit_registry::ModelRegistry;
use rightfit_store::TrafficStore;
use tokio::sync::mpsc;

use super::common::open_store;
use super::project::load;
use crate::args::{AuthMode, ServeArgs};
use crate::errors::user;
use rightfit_config::Settings;

/// Runs the gateway.
pub async fn run(settings: &Settings, args: ServeArgs) -> anyhow::Result<()> {
    let mut project = load(&args.project.config)?;
    if let Some(addr) = args.listen {
        project.gateway.listen = addr;
    }
    match args.auth {
        Some(AuthMode::Keys) => project.gateway.auth = GatewayAuth::Keys,
        Some(AuthMode::None) => project.gateway.auth = GatewayAuth::None,
        None => {}
    }
    let addr = project.gateway.listen;
    if project.gateway.auth == GatewayAuth::None && !addr.ip().is_loopback() && !args.insecure {
        return Err(user(anyhow!(
            "refusing to serve {addr} without gateway keys: anyone who can reach it could spend your model budget — \
             set [gateway] auth = \"keys\" and make a key with 'rightfit keys create', or pass --insecure"
        )));
    }
    let store = Arc::new(open_store(&project, &args.project).await?);
    let store_path = args
        .project
        .store
        .clone()
        .unwrap_or_else(|| project.store.clone());
    let keys = store.keys().await.map_err(user)?;
    let live_keys = keys.iter().filter(|k| k.revoked_at.is_none()).count();
    let components: Vec<String> = project.components.keys().cloned().collect();
    let models: Vec<String> = project.models.keys().cloned().collect();
    let auth = project.gateway.auth;
    let file = args.project.config.clone();
    let gateway = Gateway::start(Options {
        file: file.clone(),
        project,
        factory: Arc::new(ModelRegistry::new(settings)),
        store,
    })
    .await
    .map_err(|e| user(anyhow!(e)))?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| user(anyhow!("cannot listen on {addr}: {e}")))?;
    let bound = listener.local_addr().context("reading the bound address")?;
    #[allow(clippy::print_stderr)]
    {
        eprintln!("rightfit gateway on http://{bound}/v1 (OpenAI and Anthropic APIs)");
        eprintln!("  components: {}", list(&components));
        eprintln!("  models:     {}", list(&models));
        eprintln!(
            "  keys:       {}",
            match auth {
                GatewayAuth::Keys if live_keys == 0 =>
                    "required, and none exist yet: make one with 'rightfit keys create --name NAME'"
                        .to_owned(),
                GatewayAuth::Keys => format!("required ({live_keys} active)"),
                GatewayAuth::None => "not required (auth = \"none\")".to_owned(),
            }
        );
        eprintln!("  traffic:    {}", store_path.display());
        eprintln!("  metrics:    http://{bound}/metrics   health: http://{bound}/health");
        eprintln!(
            "Ctrl-C stops (answers in flight finish, the traffic log is drained); SIGHUP reloads."
        );
    }
    let (reload_tx, reload_rx) = mpsc::channel(4);
    signals::reload_on_sighup(reload_tx.clone()).context("listening for SIGHUP")?;
    if args.watch {
        signals::reload_on_change(file, reload_tx);
    }
    let written = gateway.app.recorder.stats().clone();
    gateway
        .serve(listener, shutdown_signal(), reload_rx)
        .await
        .map_err(|e| anyhow!(e))?;
    #[allow(clippy::print_stderr)]
    {
        eprintln!(
            "stopped: {} traffic records written",
            written.written.load(std::sync::atomic::Ordering::Relaxed)
        );
    }
    Ok(())
}

fn list(names: &[String]) -> String {
    if names.is_empty() {
        "(none)".to_owned()
    } else {
        names.join(", ")
    }
}

/// Ctrl-C or SIGTERM, said on stderr.
async fn shutdown_signal() {
    signals::shutdown().await;
    #[allow(clippy::print_stderr)]
    {
        eprintln!("stopping: finishing answers in flight and writing the traffic log");
    }
}
