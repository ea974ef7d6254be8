//! What several commands share: opening the store, printing a run's report, the recommendation
//! for a run, the HTML report, and where an export goes.

use std::io::{IsTerminal, Write};
use std::path::Path;

use anyhow::Context;
use rightfit_config::Settings;
use rightfit_config::calibration::load_calibrations;
use rightfit_config::project::{ConstraintsConfig, Project, store_override};
use rightfit_decide::Recommendation;
use rightfit_distill::manifest;
use rightfit_registry::ModelRegistry;
use rightfit_report::{HtmlLift, HtmlSection, RunReport};
use std::sync::Arc;

use rightfit_store::{RunStore, Store};

use super::output::{line, note};
use crate::args::{ProjectArgs, ReportFormat};
use crate::errors::user;

/// The store `--store` or `RIGHTFIT_DATABASE_URL` names, else the project's (whose file is then
/// read, and a bad one is the error).
pub async fn store_for(args: &ProjectArgs) -> anyhow::Result<Arc<dyn Store>> {
    match store_override(args.store.as_deref()) {
        Some(location) => rightfit_store::open(&location).await.map_err(user),
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

/// Opens the project's store (or the one given: [`Project::store_at`]).
pub async fn open_store(project: &Project, args: &ProjectArgs) -> anyhow::Result<Arc<dyn Store>> {
    let location = project.store_at(args.store.as_deref());
    rightfit_store::open(&location).await.map_err(user)
}

/// Prints a report in the chosen format.
pub fn print_report(r: &RunReport, format: ReportFormat) -> anyhow::Result<()> {
    match format {
        ReportFormat::Table => line(rightfit_report::terminal(r, width()).trim_end()),
        ReportFormat::Markdown => line(rightfit_report::markdown(r).trim_end()),
        ReportFormat::Json => line(rightfit_report::json(r)),
    }
}

/// What the lift table of `r` is set against and the trained students beside it (`project`'s
/// baseline for the component and its candidates that answer with a trained student).
fn lift_of(r: &RunReport, project: Option<&Project>) -> HtmlLift {
    let Some(c) = project.and_then(|p| p.components.get(&r.run.component)) else {
        return HtmlLift::default();
    };
    let read = |path: &Path| manifest::read(path).map_err(|e| e.to_string());
    HtmlLift {
        baseline: c.baseline.clone(),
        students: rightfit_report::trained_students(c, read),
    }
}

/// Prints the lift table after a report (`rightfit_report::lift_section`) in the table and
/// Markdown formats.
pub fn print_lift(
    r: &RunReport,
    project: Option<&Project>,
    format: ReportFormat,
) -> anyhow::Result<()> {
    if format == ReportFormat::Json {
        return Ok(());
    }
    let l = lift_of(r, project);
    let markdown = format == ReportFormat::Markdown;
    match rightfit_report::lift_section(r, l.baseline.as_deref(), &l.students, markdown) {
        Some(text) => line(text),
        None => Ok(()),
    }
}

/// One component's part of the HTML report: the run's records, and the lift and students
/// from `project`.
pub async fn html_section(
    store: &dyn RunStore,
    report: RunReport,
    recommendation: Option<Recommendation>,
    project: Option<&Project>,
) -> anyhow::Result<HtmlSection> {
    Ok(HtmlSection {
        records: store.records(&report.run.id, None).await?,
        lift: lift_of(&report, project),
        report,
        recommendation,
    })
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
    let registry = ModelRegistry::new(settings);
    let locate = |file: &str| {
        let (resolved, shape) = registry.shape(file).ok()?;
        Some((resolved.path.to_string_lossy().into_owned(), shape))
    };
    rightfit_decide::recommend_run(project, r, extra, &calibrations, &locate).map_err(user)
}

/// Writes the HTML report (`rightfit_report::html`) to `path`.
pub fn write_html(path: &Path, title: &str, sections: &[HtmlSection]) -> anyhow::Result<()> {
    let page = rightfit_report::html(title, &rightfit_config::time::now_rfc3339(), sections);
    std::fs::write(path, page).with_context(|| format!("writing {}", path.display()))?;
    note(format!(
        "wrote {} (open it in a browser; it needs no network)",
        path.display()
    ));
    Ok(())
}

/// On the first Ctrl-C: `message` on stderr, then `first` (which asks the work to stop where it
/// can keep what it did); a second Ctrl-C exits at once (status 130).
pub fn on_ctrl_c(message: &'static str, first: impl FnOnce() + Send + 'static) {
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            note(message);
            first();
            if tokio::signal::ctrl_c().await.is_ok() {
                std::process::exit(130);
            }
        }
    });
}
