//! `rightfit recommend` and `rightfit report`: stored runs + constraints → a recommendation per
//! component (`rightfit_decide::recommend_run`), in the terminal, as Markdown or JSON, and as a
//! self-contained HTML report.

use rightfit_config::Settings;
use rightfit_config::project::ConstraintsConfig;
use rightfit_eval::summary::{run_report, runs_to_judge};
use rightfit_types::RunStatus;

use super::common::{
    html_section, open_store, print_report, recommend_run, store_for, width, write_html,
};
use super::output::{json as print_json, line, note, stream};
use crate::args::{ConstraintArgs, RecommendArgs, ReportArgs, ReportFormat};
use crate::errors::user;

/// The flags as a constraints table, to lay over the config's.
fn flags(a: &ConstraintArgs) -> ConstraintsConfig {
    ConstraintsConfig {
        min_quality: a.min_quality,
        min_quality_of_best: a.min_quality_of_best,
        max_p95_latency_ms: a.max_p95_ms,
        max_p95_ttft_ms: a.max_ttft_ms,
        max_cost_per_1k_usd: a.max_cost_per_1k,
        max_monthly_usd: a.max_monthly_usd,
        requests_per_month: a.requests_per_month,
        max_memory_gb: a.max_memory_gb,
        device: a.device.clone(),
        offline: a.offline.then_some(true),
        prefer: a.prefer.clone(),
        context_tokens: a.context_tokens,
    }
}

pub async fn recommend(settings: &Settings, args: RecommendArgs) -> anyhow::Result<()> {
    let project = super::project::load(&args.project.config)?;
    let store = open_store(&project, &args.project).await?;
    let extra = flags(&args.constraints);
    rightfit_decide::project::check_constraints(&project, &extra).map_err(user)?;
    let runs = runs_to_judge(&*store, &project, args.run.as_deref(), &args.components);
    let runs = runs.await.map_err(user)?;
    let mut sections = Vec::new();
    let mut all = Vec::new();
    for run in &runs {
        let r = run_report(&*store, run).await?;
        let rec = recommend_run(settings, &project, &r, &extra)?;
        if run.status != RunStatus::Finished {
            note(format!(
                "note: run {} is {} — the recommendation uses what it measured so far",
                run.id,
                run.status.as_str()
            ));
        }
        if args.html.is_some() {
            sections.push(html_section(&*store, r, Some(rec.clone()), Some(&project)).await?);
        }
        all.push((run.id.clone(), rec));
    }
    if let Some(path) = &args.html {
        write_html(path, &format!("rightfit — {}", project.name), &sections)?;
    }
    match args.format {
        ReportFormat::Json => print_json(&rightfit_report::recommendations_json(&all)),
        // Verbatim: each recommendation ends with a blank line.
        ReportFormat::Markdown => stream(&rightfit_report::recommendations_markdown(&all)),
        ReportFormat::Table => {
            line(rightfit_report::recommendations_terminal(&all, width()).trim_end())
        }
    }
}

pub async fn report_command(settings: &Settings, args: ReportArgs) -> anyhow::Result<()> {
    // A database named outright (--store): the project file is optional (no recommendation
    // without it); otherwise the store is the project's, and a bad project file is the error.
    let store = store_for(&args.project).await?;
    let project = super::project::load(&args.project.config).ok();
    let run = store.resolve_run(&args.run).await.map_err(user)?;
    let r = run_report(&*store, &run).await?;
    let none = ConstraintsConfig::default();
    let rec = project
        .as_ref()
        .map(|p| recommend_run(settings, p, &r, &none));
    let rec = rec.transpose()?;
    if let Some(path) = &args.html {
        let section = html_section(&*store, r.clone(), rec.clone(), project.as_ref()).await?;
        write_html(path, &format!("rightfit — run {}", run.id), &[section])?;
        if !args.print {
            return Ok(());
        }
    }
    print_report(&r, args.format)?;
    if let (Some(rec), ReportFormat::Table) = (&rec, args.format) {
        line("")?;
        line(rightfit_report::recommendation_terminal(rec, width()).trim_end())?;
    }
    Ok(())
}
