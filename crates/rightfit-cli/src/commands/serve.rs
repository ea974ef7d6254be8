//! `rightfit serve`: the gateway, until Ctrl-C or SIGTERM; SIGHUP (or `--watch`) reloads the
//! policies.

use std::sync::Arc;

use anyhow::{Context, anyhow};
use rightfit_config::Settings;
use rightfit_config::project::GatewayAuth;
use rightfit_gateway::{Gateway, Options, auth::check_exposure, signals};
use rightfit_registry::ModelRegistry;
use tokio::sync::mpsc;

use super::common::open_store;
use super::output::note;
use super::project::load;
use crate::args::{AuthMode, ServeArgs};
use crate::errors::user;

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
    check_exposure(&project.gateway, args.insecure).map_err(|e| user(anyhow!(e)))?;
    let addr = project.gateway.listen;
    let store = open_store(&project, &args.project).await?;
    let store_path = project.store_at(args.project.store.as_deref());
    let shown_store = store.location().to_path_buf();
    let keys = store.keys().await.map_err(user)?;
    let live_keys = keys.iter().filter(|k| k.revoked_at.is_none()).count();
    let components: Vec<String> = project.components.keys().cloned().collect();
    let models: Vec<String> = project.models.keys().cloned().collect();
    let auth = project.gateway.auth;
    let file = args.project.config.clone();
    let journal = project.gateway.journal_for(&store_path, &project.root);
    let gateway = Gateway::start(Options {
        file: file.clone(),
        project,
        factory: Arc::new(ModelRegistry::new(settings)),
        store,
        journal,
    })
    .await
    .map_err(|e| user(anyhow!(e)))?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| user(anyhow!("cannot listen on {addr}: {e}")))?;
    let bound = listener.local_addr().context("reading the bound address")?;
    note(rightfit_report::serve_banner(
        bound,
        &components,
        &models,
        auth,
        live_keys,
        &shown_store,
    ));
    let (reload_tx, reload_rx) = mpsc::channel(4);
    signals::reload_on_sighup(reload_tx.clone()).context("listening for SIGHUP")?;
    if args.watch {
        signals::reload_on_change(file, reload_tx);
    }
    let written = gateway.app.recorder.stats().clone();
    let shutdown = async {
        signals::shutdown().await;
        note("stopping: finishing answers in flight and writing the traffic log");
    };
    gateway
        .serve(listener, shutdown, reload_rx)
        .await
        .map_err(|e| anyhow!(e))?;
    let written = written.written.load(std::sync::atomic::Ordering::Relaxed);
    note(format!("stopped: {written} traffic records written"));
    Ok(())
}
