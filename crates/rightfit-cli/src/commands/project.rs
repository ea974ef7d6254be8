//! `rightfit init` and `rightfit config check`.

use std::path::Path;

use anyhow::Context;
use rightfit_config::Settings;
use rightfit_config::project::{Project, ProviderConfig, STARTER, STARTER_DATA};
use rightfit_llama::models::ModelStore;
use rightfit_providers::Provider;
use rightfit_registry::ModelRegistry;

use super::output::{line, table};
use crate::args::{ConfigCommand, InitArgs};
use crate::errors::user;

/// Writes the starter project.
pub fn init(args: InitArgs) -> anyhow::Result<()> {
    let file = args.dir.join("rightfit.toml");
    if file.exists() && !args.force {
        return Err(user(anyhow::anyhow!(
            "{} already exists — pass --force to overwrite it",
            file.display()
        )));
    }
    let data = args.dir.join("data");
    std::fs::create_dir_all(&data)
        .with_context(|| format!("creating {}", data.display()))
        .map_err(user)?;
    std::fs::write(&file, STARTER)
        .with_context(|| format!("writing {}", file.display()))
        .map_err(user)?;
    let tickets = data.join("tickets.jsonl");
    if !tickets.exists() {
        std::fs::write(&tickets, STARTER_DATA)
            .with_context(|| format!("writing {}", tickets.display()))
            .map_err(user)?;
    }
    line(format!(
        "wrote {} and {}\nnext: rightfit config check -c {0}   then   rightfit eval -c {0}",
        file.display(),
        tickets.display()
    ))
}

/// Calls each hosted model's health check, all at once; returns the problems.
async fn ping(p: &Project) -> anyhow::Result<Vec<String>> {
    let hosted: Vec<_> = p
        .models
        .values()
        .filter(|m| !matches!(m.provider, ProviderConfig::Local { .. }))
        .collect();
    if hosted.is_empty() {
        return Ok(Vec::new());
    }
    let checks = hosted.iter().map(|m| async move {
        let result = match ModelRegistry::hosted(m) {
            // A missing key is already reported above.
            Err(_) => return None,
            Ok(provider) => provider.health().await,
        };
        Some((m.name.clone(), result))
    });
    let mut rows = table(&["model", "online check"]);
    let mut problems = Vec::new();
    for (name, result) in futures::future::join_all(checks)
        .await
        .into_iter()
        .flatten()
    {
        let detail = match result {
            Ok(h) if h.ready => h.detail,
            Ok(h) => {
                problems.push(format!("models.{name}: {}", h.detail));
                format!("unavailable: {}", h.detail)
            }
            Err(e) => {
                problems.push(format!("models.{name}: {e}"));
                format!("failed: {e}")
            }
        };
        rows.add_row(vec![name, detail]);
    }
    line(rows)?;
    Ok(problems)
}

/// Loads a project file, as a user error when it is wrong.
pub fn load(path: &Path) -> anyhow::Result<Project> {
    Project::load(path).map_err(user)
}

/// `config check`.
pub async fn config(settings: &Settings, cmd: ConfigCommand) -> anyhow::Result<()> {
    let ConfigCommand::Check { project, online } = cmd;
    let p = load(&project.config)?;
    let store = ModelStore::new(settings.models_dir());
    let readiness = p.readiness(|m| store.resolve(m).map(|r| r.path).map_err(|e| e.to_string()));
    let mut problems = readiness.problems;
    let runs = project.store.as_deref().unwrap_or(&p.store);
    line(rightfit_report::project_terminal(&p, runs, &readiness.local_files).trim_end())?;
    if online {
        problems.extend(ping(&p).await?);
    }
    if problems.is_empty() {
        line(if online {
            "datasets, local models and API keys: present; hosted models: reachable, keys accepted"
        } else {
            "datasets, local models and API keys: present"
        })
    } else {
        for p in &problems {
            line(format!("problem: {p}"))?;
        }
        Err(user(anyhow::anyhow!(
            "{} problem(s) — the file is valid but cannot run yet",
            problems.len()
        )))
    }
}
