//! `rightfit eval`: run candidates on components' data, store the run, print the report.

use rightfit_config::Settings;
use rightfit_eval::runner::{self, EvalOptions};
use rightfit_eval::summary::run_report;
use rightfit_registry::ModelRegistry;
use rightfit_report::RunReport;
use tokio::sync::watch;

use super::common::{
    html_section, on_ctrl_c, open_store, print_lift, print_report, recommend_run, write_html,
};
use super::output::{line, note};
use crate::args::{EvalArgs, ReportFormat};
use crate::errors::user;
use rightfit_report::progress::Bars;

pub async fn run(settings: &Settings, args: EvalArgs) -> anyhow::Result<()> {
    let project = super::project::load(&args.project.config)?;
    let store = open_store(&project, &args.project).await?;
    let components = project.components_named(&args.components);
    let components = components.map_err(|e| user(anyhow::anyhow!(e)))?;
    let options = EvalOptions {
        limit: args.limit,
        seed: args.seed,
        only: args.candidates.clone(),
        cache: !args.no_cache,
        shard: args.shard,
    };
    let (stop_tx, stop_rx) = watch::channel(false);
    on_ctrl_c(
        "\ninterrupted: keeping what finished (Ctrl-C again to abort at once)",
        move || {
            let _ = stop_tx.send(true);
        },
    );
    let registry = ModelRegistry::new(settings);
    let bars = Bars::new();
    let mut json_reports: Vec<RunReport> = Vec::new();
    let mut html_sections = Vec::new();
    for component in &components {
        let (resume, skip_others) = (args.resume.as_deref(), args.components.is_empty());
        let opened = runner::open(&project, component, resume, skip_others, &options, &*store);
        let Some((run, prepared, only)) = opened.await.map_err(user)? else {
            continue;
        };
        let (id, what) = (&run.id, prepared.describe());
        note(format!("{component}: run {id} — {what}"));
        let outcome = runner::execute(
            &project,
            run,
            prepared,
            &only,
            &options,
            &*store,
            &registry,
            &bars,
            stop_rx.clone(),
        )
        .await
        .map_err(user)?;
        let report = run_report(&*store, &outcome).await?;
        if args.html.is_some() {
            let rec = recommend_run(settings, &project, &report, &Default::default())?;
            let section = html_section(&*store, report.clone(), Some(rec), Some(&project));
            html_sections.push(section.await?);
        }
        if args.format == ReportFormat::Json && components.len() > 1 {
            // Several components: one JSON array at the end, so stdout stays one document.
            json_reports.push(report);
        } else {
            print_report(&report, args.format)?;
            print_lift(&report, Some(&project), args.format)?;
        }
        if let Some(partial) = runner::partial(&outcome) {
            note(partial);
        }
        if runner::interrupted(&outcome, args.shard) {
            if !json_reports.is_empty() {
                line(serde_json::to_string_pretty(&json_reports)?)?;
            }
            let (config, store) = (&args.project.config, args.project.store.as_deref());
            let command = rightfit_report::resume_command(config, store, component, &outcome.id);
            let shard = args.shard.map(|s| format!(" --shard {s}"));
            let id = &outcome.id;
            return Err(user(anyhow::anyhow!(
                "run {id} interrupted; continue it with: {command}{}",
                shard.unwrap_or_default()
            )));
        }
    }
    if !json_reports.is_empty() {
        line(serde_json::to_string_pretty(&json_reports)?)?;
    }
    if let Some(path) = &args.html {
        let title = format!("rightfit — {}", project.name);
        write_html(path, &title, &html_sections)?;
    }
    note(format!("runs kept in {}", store.location().display()));
    store.shut_down().await;
    Ok(())
}
