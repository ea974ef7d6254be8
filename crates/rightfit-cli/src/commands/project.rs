//! `rightfit init` and `rightfit config check`.

use std::path::Path;

use rightfit_config::Settings;
use rightfit_config::project::{Project, write_starter};
use rightfit_llama::models::ModelStore;
use rightfit_registry::ModelRegistry;

use super::output::line;
use crate::args::{ConfigCommand, InitArgs};
use crate::errors::user;

pub fn init(args: InitArgs) -> anyhow::Result<()> {
    let (file, tickets) = write_starter(&args.dir, args.force).map_err(user)?;
    line(format!(
        "wrote {} and {}\nnext: rightfit config check -c {0}   then   rightfit eval -c {0}",
        file.display(),
        tickets.display()
    ))
}

/// Loads a project file, as a user error when it is wrong.
pub fn load(path: &Path) -> anyhow::Result<Project> {
    Project::load(path).map_err(user)
}

pub async fn config(settings: &Settings, cmd: ConfigCommand) -> anyhow::Result<()> {
    let ConfigCommand::Check { project, online } = cmd;
    let p = load(&project.config)?;
    let store = ModelStore::new(settings.models_dir());
    let readiness = p.readiness(|m| store.resolve(m).map(|r| r.path).map_err(|e| e.to_string()));
    let mut problems = readiness.problems;
    // Named as messages name it: a URL without its password.
    let runs = rightfit_store::redact(&p.store_at(project.store.as_deref()).to_string_lossy());
    line(rightfit_report::project_terminal(&p, runs.as_ref(), &readiness.local_files).trim_end())?;
    if online && let Some(checks) = ModelRegistry::check_hosted(&p).await {
        let rows: Vec<_> = checks
            .iter()
            .map(|c| (c.model.clone(), c.detail.clone()))
            .collect();
        line(rightfit_report::online_checks_terminal(&rows))?;
        problems.extend(checks.into_iter().filter_map(|c| c.problem));
    }
    line(rightfit_report::readiness_terminal(&problems, online))?;
    if problems.is_empty() {
        return Ok(());
    }
    let n = problems.len();
    Err(user(anyhow::anyhow!(
        "{n} problem(s) — the file is valid but cannot run yet"
    )))
}
