//! `rightfit eval`: run candidates on components' data, store the run, print the report.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rightfit_config::Settings;
use rightfit_config::project::{ModelConfig, Project, ProviderConfig};
use rightfit_eval::runner::{self, EvalOptions, Progress, ProviderFactory};
use rightfit_llama::store::ModelStore;
use rightfit_llama::{Engine, EngineOptions, LocalProvider};
use rightfit_providers::{HostedProvider, Provider};
use rightfit_report::RunReport;
use rightfit_store::{RunStore, SqliteStore};
use rightfit_types::{RunInfo, RunStatus};
use tokio::sync::watch;

use super::output::line;
use crate::args::{EvalArgs, ProjectArgs, ReportFormat};
use crate::errors::user;

/// Builds providers for models named in the project.
pub struct Factory {
    settings: Settings,
    prefix_cache: bool,
}

impl Factory {
    pub fn new(settings: &Settings) -> Self {
        Self {
            settings: settings.clone(),
            prefix_cache: true,
        }
    }

    /// Turns the engine's prompt-prefix reuse off (the benchmark's baseline).
    pub fn without_prefix_cache(mut self) -> Self {
        self.prefix_cache = false;
        self
    }
}

#[async_trait::async_trait]
impl ProviderFactory for Factory {
    async fn provider(&self, model: &ModelConfig) -> Result<Arc<dyn Provider>, String> {
        match &model.provider {
            ProviderConfig::Local {
                model: file,
                context_size,
                parallel,
                chat_template,
                batch_invariant,
                prefix_cache,
            } => {
                let store = ModelStore::new(self.settings.models_dir());
                let resolved = store
                    .resolve(file)
                    .map_err(|e| format!("models.{}: {e}", model.name))?;
                let options = EngineOptions {
                    context_size: context_size.unwrap_or(0),
                    parallel: parallel.unwrap_or(model.concurrency) as u32,
                    threads: self.settings.threads,
                    prefix_cache: self.prefix_cache && *prefix_cache,
                    batch_invariant: *batch_invariant,
                    chat_template: chat_template.clone().or_else(|| {
                        resolved
                            .entry
                            .and_then(|e| e.chat_template)
                            .map(str::to_owned)
                    }),
                    ..EngineOptions::default()
                };
                // Start the peak-RSS counter afresh so this model's peak is its own (Linux).
                let _ = std::fs::write("/proc/self/clear_refs", "5");
                let path = resolved.path.clone();
                let engine = tokio::task::spawn_blocking(move || Engine::load(&path, options))
                    .await
                    .map_err(|e| format!("loading task failed: {e}"))?
                    .map_err(|e| format!("models.{}: {e}", model.name))?;
                Ok(Arc::new(LocalProvider::new(model.name.clone(), engine)))
            }
            _ => Ok(Arc::new(HostedProvider::from_config(model)?)),
        }
    }
}

/// Opens the project's store (or the one given).
pub async fn open_store(project: &Project, args: &ProjectArgs) -> anyhow::Result<SqliteStore> {
    let path: PathBuf = args.store.clone().unwrap_or_else(|| project.store.clone());
    SqliteStore::open(&path).await.map_err(user)
}

/// Progress bars, one per candidate, on stderr.
struct Bars {
    bar: Mutex<Option<(ProgressBar, Instant, String)>>,
    draw: bool,
}

impl Bars {
    fn new() -> Self {
        Self {
            bar: Mutex::new(None),
            draw: std::io::stderr().is_terminal(),
        }
    }
}

impl Progress for Bars {
    fn candidate(&self, name: &str, total: u64, done: u64) {
        let target = if self.draw {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        let bar = ProgressBar::with_draw_target(Some(total), target);
        bar.set_style(
            ProgressStyle::with_template(
                "{msg:<28} [{bar:30}] {pos}/{len} {per_sec} eta {eta} {prefix}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        bar.set_message(name.to_owned());
        bar.set_position(done);
        bar.enable_steady_tick(Duration::from_millis(250));
        if let Ok(mut slot) = self.bar.lock() {
            *slot = Some((bar, Instant::now(), name.to_owned()));
        }
    }

    fn advance(&self, failed: bool) {
        if let Ok(slot) = self.bar.lock()
            && let Some((bar, _, _)) = slot.as_ref()
        {
            bar.inc(1);
            if failed {
                bar.set_prefix("(failures: see the report)");
            }
        }
    }

    fn finish_candidate(&self) {
        if let Ok(mut slot) = self.bar.lock()
            && let Some((bar, started, name)) = slot.take()
        {
            let n = bar.position();
            let secs = started.elapsed().as_secs_f64();
            bar.finish_and_clear();
            #[allow(clippy::print_stderr)]
            {
                eprintln!(
                    "{name}: {n}/{} examples done ({secs:.1} s)",
                    bar.length().unwrap_or(0)
                );
            }
        }
    }
}

/// Builds a run's report from the store.
pub async fn report(store: &dyn RunStore, run: &RunInfo) -> anyhow::Result<RunReport> {
    let candidates = store.candidates(&run.id).await?;
    let records = store.records(&run.id, None).await?;
    let summary = rightfit_eval::summary::summarize(run, &candidates, &records);
    let corpus: BTreeMap<String, BTreeMap<String, f64>> =
        serde_json::from_value(run.meta["corpus"].clone()).unwrap_or_default();
    Ok(RunReport {
        run: run.clone(),
        primary_metric: run.meta["primary_metric"]
            .as_str()
            .unwrap_or("score")
            .to_owned(),
        candidates: summary.candidates,
        corpus,
        comparisons: summary.comparisons,
    })
}

/// Prints a report in the chosen format.
pub fn print_report(r: &RunReport, format: ReportFormat) -> anyhow::Result<()> {
    match format {
        ReportFormat::Table => {
            let width = if std::io::stdout().is_terminal() {
                0
            } else {
                200
            };
            line(rightfit_report::terminal(r, width).trim_end())
        }
        ReportFormat::Markdown => line(rightfit_report::markdown(r).trim_end()),
        ReportFormat::Json => line(rightfit_report::json(r)),
    }
}

/// Prints the lift table (every candidate against its model's zero-shot and the baseline, the
/// component's `baseline` or else the best candidate that is not a cascade) after a report,
/// in the table and Markdown formats; JSON readers compute it from the summaries.
pub fn print_lift(
    r: &RunReport,
    baseline: Option<&str>,
    format: ReportFormat,
) -> anyhow::Result<()> {
    let Some(lift) = rightfit_report::lift(&r.candidates, baseline) else {
        return Ok(());
    };
    match format {
        ReportFormat::Table => {
            line("")?;
            line(rightfit_report::lift_terminal(&lift, &r.primary_metric).trim_end())
        }
        ReportFormat::Markdown => {
            line("")?;
            line(rightfit_report::lift_markdown(&lift, &r.primary_metric).trim_end())
        }
        ReportFormat::Json => Ok(()),
    }
}

/// `rightfit eval`.
pub async fn run(settings: &Settings, args: EvalArgs) -> anyhow::Result<()> {
    let project = super::project::load(&args.project.config)?;
    let store = open_store(&project, &args.project).await?;
    let components: Vec<String> = if args.components.is_empty() {
        project.components.keys().cloned().collect()
    } else {
        for c in &args.components {
            project.component(c).map_err(|e| user(anyhow::anyhow!(e)))?;
        }
        args.components.clone()
    };
    let options = EvalOptions {
        limit: args.limit,
        seed: args.seed,
        only: args.candidates.clone(),
        cache: !args.no_cache,
    };
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            #[allow(clippy::print_stderr)]
            {
                eprintln!("\ninterrupted: keeping what finished (Ctrl-C again to abort at once)");
            }
            let _ = stop_tx.send(true);
            if tokio::signal::ctrl_c().await.is_ok() {
                std::process::exit(130);
            }
        }
    });
    let factory = Factory::new(settings);
    let bars = Bars::new();
    let mut json_reports: Vec<RunReport> = Vec::new();
    let mut html_sections = Vec::new();
    for component in &components {
        let (run, prepared, only) = match &args.resume {
            Some(which) => {
                let found = if which == "latest" {
                    store
                        .latest_unfinished(component)
                        .await?
                        .ok_or_else(|| {
                            user(anyhow::anyhow!(
                                "no unfinished run of component '{component}' to resume — run 'rightfit eval' without --resume"
                            ))
                        })?
                } else {
                    store.resolve_run(which).await.map_err(user)?
                };
                if found.component != *component {
                    if args.components.is_empty() {
                        continue;
                    }
                    return Err(user(anyhow::anyhow!(
                        "run {} is of component '{}', not '{component}'",
                        found.id,
                        found.component
                    )));
                }
                runner::reopen(&project, found, &store)
                    .await
                    .map_err(user)?
            }
            None => {
                let (run, prepared) = runner::start(&project, component, &options, &store)
                    .await
                    .map_err(user)?;
                (run, prepared, options.only.clone())
            }
        };
        #[allow(clippy::print_stderr)]
        {
            eprintln!(
                "{}: run {} — {} examples from {} ({} rows read, {} skipped{})",
                component,
                run.id,
                prepared.examples.len(),
                prepared.dataset,
                prepared.rows_read,
                prepared.skipped.len(),
                prepared
                    .skipped
                    .first()
                    .map(|s| format!("; first: {}:{}: {}", s.path.display(), s.line, s.reason))
                    .unwrap_or_default()
            );
        }
        let outcome = runner::execute(
            &project,
            run,
            prepared,
            &only,
            &options,
            &store,
            &factory,
            &bars,
            stop_rx.clone(),
        )
        .await
        .map_err(user)?;
        let report = report(&store, &outcome).await?;
        if args.html.is_some() {
            let recommendation =
                super::decide::recommend_run(settings, &project, &report, &Default::default())?;
            html_sections.push(rightfit_report::HtmlSection {
                records: store.records(&outcome.id, None).await?,
                report: report.clone(),
                recommendation: Some(recommendation),
            });
        }
        if args.format == ReportFormat::Json && components.len() > 1 {
            // Several components: one JSON array at the end, so stdout stays one document.
            json_reports.push(report);
        } else {
            print_report(&report, args.format)?;
            let baseline = project
                .component(component)
                .ok()
                .and_then(|c| c.baseline.as_deref());
            print_lift(&report, baseline, args.format)?;
        }
        if outcome.status == RunStatus::Interrupted {
            if !json_reports.is_empty() {
                line(serde_json::to_string_pretty(&json_reports)?)?;
            }
            let config = if args.project.config == std::path::Path::new("rightfit.toml") {
                String::new()
            } else {
                format!(" -c {}", args.project.config.display())
            };
            let store = args
                .project
                .store
                .as_ref()
                .map(|p| format!(" --store {}", p.display()))
                .unwrap_or_default();
            return Err(user(anyhow::anyhow!(
                "run {} interrupted; continue it with: rightfit eval{config}{store} {component} --resume {}",
                outcome.id,
                outcome.id
            )));
        }
    }
    if !json_reports.is_empty() {
        line(serde_json::to_string_pretty(&json_reports)?)?;
    }
    if let Some(path) = &args.html {
        super::decide::write_html(
            path,
            &format!("rightfit — {}", project.name),
            &html_sections,
        )?;
    }
    #[allow(clippy::print_stderr)]
    {
        eprintln!("runs kept in {}", store.path().display());
    }
    store.close().await;
    Ok(())
}
