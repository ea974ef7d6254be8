//! `rightfit recommend` and `rightfit report`: stored runs + constraints → a recommendation per
//! component, in the terminal, as Markdown or JSON, and as a self-contained HTML report.

use std::io::IsTerminal;
use std::path::Path;

use anyhow::{Context, anyhow};
use rightfit_config::Settings;
use rightfit_config::project::{ConstraintsConfig, ModelConfig, Project, ProviderConfig};
use rightfit_decide::device::{self, Calibration, CalibrationRecord};
use rightfit_decide::{
    Budget, CandidateFacts, Constraints, Deployment, Objective, QualityFloor, Recommendation,
};
use rightfit_llama::store::ModelStore;
use rightfit_report::{HtmlSection, RunReport};
use rightfit_store::RunStore;
use rightfit_types::{RunInfo, RunStatus};

use super::eval::{open_store, print_report, report};
use super::output::{json as print_json, line};
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

/// Validated constraints, with the device id looked up in the catalogue.
pub fn constraints(c: &ConstraintsConfig) -> anyhow::Result<Constraints> {
    c.check()
        .map_err(|(key, message)| user(anyhow!("constraint {key}: {message}")))?;
    let device = match &c.device {
        None => None,
        Some(id) => Some(device::find(id).ok_or_else(|| {
            let ids: Vec<String> = device::catalogue().into_iter().map(|d| d.id).collect();
            user(anyhow!(
                "unknown device '{id}': the catalogue has {} (see 'rightfit devices')",
                ids.join(", ")
            ))
        })?),
    };
    let budget = match (
        c.max_cost_per_1k_usd,
        c.max_monthly_usd,
        c.requests_per_month,
    ) {
        (Some(usd), _, _) => Some(Budget::Per1k { usd }),
        (None, Some(usd), Some(requests)) => Some(Budget::Monthly { usd, requests }),
        _ => None,
    };
    let objective = match c.prefer.as_deref() {
        Some("quality") => Some(Objective::Quality),
        Some("cost") => Some(Objective::Cost),
        Some("latency") => Some(Objective::Latency),
        _ => None,
    };
    Ok(Constraints {
        quality_floor: c
            .min_quality
            .map(QualityFloor::Absolute)
            .or(c.min_quality_of_best.map(QualityFloor::Relative)),
        max_p95_latency_ms: c.max_p95_latency_ms,
        max_p95_ttft_ms: c.max_p95_ttft_ms,
        budget,
        memory_cap_bytes: c.max_memory_gb.map(|gb| (gb * 1e9) as u64),
        device,
        offline: c.offline.unwrap_or(false),
        objective,
        context_tokens: c.context_tokens,
    })
}

/// How a model of the project is deployed (local models: with the shape of their file, when it
/// is on this machine, and the calibration measured with it or its quantisation).
fn deployment(
    settings: &Settings,
    model: &ModelConfig,
    calibrations: &[CalibrationRecord],
) -> Deployment {
    match &model.provider {
        ProviderConfig::Local {
            model: file,
            context_size,
            parallel,
            ..
        } => {
            let path = ModelStore::new(settings.models_dir())
                .resolve(file)
                .ok()
                .map(|m| m.path);
            let shape = path.as_ref().and_then(|p| super::devices::shape_of(p).ok());
            let calibration = match (&path, &shape) {
                (Some(p), Some(s)) => {
                    device::choose_calibration(calibrations, &p.to_string_lossy(), &s.quantization)
                        .map(|r| r.calibration.clone())
                }
                _ => None,
            };
            Deployment::Local {
                shape,
                context_size: *context_size,
                parallel: parallel.unwrap_or(1),
                cost_per_hour: model.cost_per_hour,
                calibration,
            }
        }
        other => Deployment::Hosted {
            provider: other.kind().to_owned(),
        },
    }
}

/// The recommendation for one stored run.
pub fn recommend_run(
    settings: &Settings,
    project: &Project,
    r: &RunReport,
    extra: &ConstraintsConfig,
) -> anyhow::Result<Recommendation> {
    let component = project.components.get(&r.run.component).ok_or_else(|| {
        user(anyhow!(
            "run {} is of component '{}', which {} no longer has",
            r.run.id,
            r.run.component,
            project.file.display()
        ))
    })?;
    let merged = component.constraints.overridden_by(extra);
    let constraints = constraints(&merged)?;
    let calibrations = super::devices::load_calibrations(settings)?;
    let mut facts = Vec::new();
    for s in &r.candidates {
        let model = project.models.get(&s.model).ok_or_else(|| {
            user(anyhow!(
                "run {}: candidate '{}' uses model '{}', which {} no longer defines",
                r.run.id,
                s.candidate,
                s.model,
                project.file.display()
            ))
        })?;
        facts.push(CandidateFacts {
            summary: s.clone(),
            deployment: deployment(settings, model, &calibrations),
        });
    }
    Ok(rightfit_decide::recommend(
        &r.run.component,
        &r.primary_metric,
        &facts,
        &r.comparisons,
        &constraints,
        &Calibration::default(),
    ))
}

/// The run a component is judged on: its newest finished run, else its newest run.
async fn latest_run(store: &dyn RunStore, component: &str) -> anyhow::Result<Option<RunInfo>> {
    let runs = store.runs(Some(component), 50).await?;
    Ok(runs
        .iter()
        .find(|r| r.status == RunStatus::Finished)
        .or(runs.first())
        .cloned())
}

fn width() -> u16 {
    if std::io::stdout().is_terminal() {
        0
    } else {
        200
    }
}

/// Writes the HTML report.
pub fn write_html(path: &Path, title: &str, sections: &[HtmlSection]) -> anyhow::Result<()> {
    let page = rightfit_report::html(title, &rightfit_eval::clock::now_rfc3339(), sections);
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

/// `rightfit recommend`.
pub async fn recommend(settings: &Settings, args: RecommendArgs) -> anyhow::Result<()> {
    let project = super::project::load(&args.project.config)?;
    let store = open_store(&project, &args.project).await?;
    let extra = flags(&args.constraints);
    // Bad constraints are refused before anything is read.
    for c in project.components.values() {
        constraints(&c.constraints.overridden_by(&extra))?;
    }
    let runs: Vec<RunInfo> = match &args.run {
        Some(id) => vec![store.resolve_run(id).await.map_err(user)?],
        None => {
            let names: Vec<String> = if args.components.is_empty() {
                project.components.keys().cloned().collect()
            } else {
                for c in &args.components {
                    project.component(c).map_err(|e| user(anyhow!(e)))?;
                }
                args.components.clone()
            };
            let mut runs = Vec::new();
            for name in &names {
                match latest_run(&store, name).await? {
                    Some(run) => runs.push(run),
                    None if !args.components.is_empty() => {
                        return Err(user(anyhow!(
                            "component '{name}' has no stored run — evaluate it first: rightfit eval {name}"
                        )));
                    }
                    None => {}
                }
            }
            if runs.is_empty() {
                return Err(user(anyhow!(
                    "no stored runs in {} — evaluate first: rightfit eval",
                    project.store.display()
                )));
            }
            runs
        }
    };
    let mut sections = Vec::new();
    let mut all = Vec::new();
    for run in &runs {
        let r = report(&store, run).await?;
        let rec = recommend_run(settings, &project, &r, &extra)?;
        if run.status != RunStatus::Finished {
            #[allow(clippy::print_stderr)]
            {
                eprintln!(
                    "note: run {} is {} — the recommendation uses what it measured so far",
                    run.id,
                    run.status.as_str()
                );
            }
        }
        if args.html.is_some() {
            sections.push(HtmlSection {
                records: store.records(&run.id, None).await?,
                report: r,
                recommendation: Some(rec.clone()),
            });
        }
        all.push((run.id.clone(), rec));
    }
    if let Some(path) = &args.html {
        write_html(path, &format!("rightfit — {}", project.name), &sections)?;
    }
    match args.format {
        ReportFormat::Json => print_json(&serde_json::json!(
            all.iter()
                .map(|(run, rec)| serde_json::json!({"run": run, "recommendation": rec}))
                .collect::<Vec<_>>()
        )),
        ReportFormat::Markdown => {
            for (run, rec) in &all {
                line(format!(
                    "{}_run {run}_\n",
                    rightfit_report::recommendation_markdown(rec)
                ))?;
            }
            Ok(())
        }
        ReportFormat::Table => {
            for (i, (run, rec)) in all.iter().enumerate() {
                if i > 0 {
                    line("")?;
                }
                line(format!("run {run}"))?;
                line(rightfit_report::recommendation_terminal(rec, width()).trim_end())?;
            }
            Ok(())
        }
    }
}

/// `rightfit report`.
pub async fn report_command(settings: &Settings, args: ReportArgs) -> anyhow::Result<()> {
    let (project, store) = match &args.project.store {
        // A database named outright: the project file is optional (no recommendation without it).
        Some(path) => (
            super::project::load(&args.project.config).ok(),
            rightfit_store::SqliteStore::open(path)
                .await
                .map_err(user)?,
        ),
        None => {
            let p = super::project::load(&args.project.config)?;
            let s = open_store(&p, &args.project).await?;
            (Some(p), s)
        }
    };
    let run = store.resolve_run(&args.run).await.map_err(user)?;
    let r = report(&store, &run).await?;
    let rec = match &project {
        Some(p) => Some(recommend_run(
            settings,
            p,
            &r,
            &ConstraintsConfig::default(),
        )?),
        None => None,
    };
    if let Some(path) = &args.html {
        let section = HtmlSection {
            records: store.records(&run.id, None).await?,
            report: r.clone(),
            recommendation: rec.clone(),
        };
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
