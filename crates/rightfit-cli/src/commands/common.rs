//! What several commands share: opening the store, printing a run's report, the recommendation
//! for a run, the HTML report, and where an export goes.

use std::io::{IsTerminal, Write};
use std::path::Path;

use anyhow::Context;
use rightfit_config::Settings;
use rightfit_config::calibration::load_calibrations;
use rightfit_config::project::{ConstraintsConfig, Project};
use rightfit_decide::Recommendation;
use rightfit_llama::gguf::shape::shape_of;
use rightfit_llama::models::ModelStore;
use rightfit_report::{HtmlSection, RunReport};
use rightfit_store::SqliteStore;

use super::output::line;
use crate::args::{ProjectArgs, ReportFormat};
use crate::errors::user;

/// The store `--store` names, else the project's.
pub async fn store_for(args: &ProjectArgs) -> anyhow::Result<SqliteStore> {
    match &args.store {
        Some(path) => SqliteStore::open(path).await.map_err(user),
        None => open_store(&super::project::load(&args.config)?, args).await,
    }
}

/// Table width: the terminal's, or 200 columns when stdout is not one.
pub fn width() -> u16 {
    if std::io::stdout().is_terminal() {
        0
    } else {
        200
    }
}

/// `path` created for writing, or stdout.
pub fn output(path: Option<&Path>) -> anyhow::Result<Box<dyn Write>> {
    Ok(match path {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path)
                .with_context(|| format!("creating {}", path.display()))
                .map_err(user)?,
        )),
        None => Box::new(std::io::stdout().lock()),
    })
}

/// Opens the project's store (or the one given).
pub async fn open_store(project: &Project, args: &ProjectArgs) -> anyhow::Result<SqliteStore> {
    let path = args.store.as_deref().unwrap_or(&project.store);
    SqliteStore::open(path).await.map_err(user)
}

/// Prints a report in the chosen format.
pub fn print_report(r: &RunReport, format: ReportFormat) -> anyhow::Result<()> {
    match format {
        ReportFormat::Table => line(rightfit_report::terminal(r, width()).trim_end()),
        ReportFormat::Markdown => line(rightfit_report::markdown(r).trim_end()),
        ReportFormat::Json => line(rightfit_report::json(r)),
    }
}

/// Prints the lift table (every candidate against its model's zero-shot and the baseline, the
/// component's `baseline` or else the best candidate that is not a cascade) after a report,
/// in the table and Markdown formats; JSON readers compute it from the summaries.
/// Students among the candidates (`project`'s trained ones) get a table of their own.
pub fn print_lift(
    r: &RunReport,
    project: Option<&Project>,
    format: ReportFormat,
) -> anyhow::Result<()> {
    let component = project.and_then(|p| p.components.get(&r.run.component));
    let baseline = component.and_then(|c| c.baseline.as_deref());
    let Some(lift) = rightfit_report::lift(&r.candidates, baseline) else {
        return Ok(());
    };
    match format {
        ReportFormat::Table => {
            line("")?;
            line(rightfit_report::lift_terminal(&lift, &r.primary_metric).trim_end())?;
            let students = component.map(super::distill::trained).unwrap_or_default();
            let table = rightfit_report::students_lift_terminal(&lift, &students);
            if !table.is_empty() {
                line("")?;
                line(table.trim_end())?;
            }
            Ok(())
        }
        ReportFormat::Markdown => {
            line("")?;
            line(rightfit_report::lift_markdown(&lift, &r.primary_metric).trim_end())
        }
        ReportFormat::Json => Ok(()),
    }
}

/// The recommendation for a stored run (`extra` overriding the component's constraints), with
/// this machine's saved calibrations and the shapes of the local models it has.
pub fn recommend_run(
    settings: &Settings,
    project: &Project,
    r: &RunReport,
    extra: &ConstraintsConfig,
) -> anyhow::Result<Recommendation> {
    let calibrations = load_calibrations(settings).map_err(user)?;
    let models = ModelStore::new(settings.models_dir());
    let locate = |file: &str| {
        let path = models.resolve(file).ok()?.path;
        let shape = shape_of(&path).ok()?;
        Some((path.to_string_lossy().into_owned(), shape))
    };
    rightfit_decide::recommend_run(project, r, extra, &calibrations, &locate).map_err(user)
}

/// Writes the HTML report (`rightfit_report::html`) to `path`.
pub fn write_html(path: &Path, title: &str, sections: &[HtmlSection]) -> anyhow::Result<()> {
    let page = rightfit_report::html(title, &rightfit_config::time::now_rfc3339(), sections);
    std::fs::write(path, page).with_context(|| format!("writing {}", path.display()))?;
    #[allow(clippy::print_stderr)]
    {
        eprintln!(
            "wrote {} (open it in a browser; it needs no network)",
            path.display()
        );
    }
    Ok(())
}
