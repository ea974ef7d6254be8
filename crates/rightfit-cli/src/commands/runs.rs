//! `rightfit runs list | show | compare | export`.

use std::io::Write;

use anyhow::Context;
use rightfit_store::RunStore;
use rightfit_types::ExampleRecord;
use serde_json::json;

use super::eval::{open_store, print_lift, print_report, report};
use super::output::{json as print_json, line, table};
use crate::args::{ExportFormat, ProjectArgs, RunsCommand};
use crate::errors::user;

/// The store `--store` names, else the project's.
pub async fn store_for(args: &ProjectArgs) -> anyhow::Result<rightfit_store::SqliteStore> {
    match &args.store {
        Some(path) => rightfit_store::SqliteStore::open(path).await.map_err(user),
        None => {
            let project = super::project::load(&args.config)?;
            open_store(&project, args).await
        }
    }
}

/// Dispatches a `runs` subcommand.
pub async fn run(cmd: RunsCommand) -> anyhow::Result<()> {
    match cmd {
        RunsCommand::List {
            project,
            component,
            limit,
            json,
        } => {
            let store = store_for(&project).await?;
            let runs = store.runs(component.as_deref(), limit).await?;
            if json {
                return print_json(&serde_json::to_value(&runs)?);
            }
            if runs.is_empty() {
                return line("no runs yet — start one with 'rightfit eval'");
            }
            let mut t = table(&[
                "run",
                "component",
                "status",
                "started",
                "examples",
                "skipped",
                "dataset",
            ]);
            for r in runs {
                t.add_row(vec![
                    r.id,
                    r.component,
                    r.status.as_str().to_owned(),
                    r.started_at,
                    r.rows_used.to_string(),
                    r.rows_skipped.to_string(),
                    r.dataset,
                ]);
            }
            line(t)
        }
        RunsCommand::Show {
            project,
            run,
            format,
        } => {
            let store = store_for(&project).await?;
            let info = store.resolve_run(&run).await.map_err(user)?;
            let r = report(&store, &info).await?;
            print_report(&r, format)?;
            // The project's baseline for this component, when the project file is readable.
            let baseline = super::project::load(&project.config).ok().and_then(|p| {
                p.components
                    .get(&info.component)
                    .and_then(|c| c.baseline.clone())
            });
            print_lift(&r, baseline.as_deref(), format)
        }
        RunsCommand::Compare {
            project,
            run_a,
            run_b,
            json,
        } => {
            let store = store_for(&project).await?;
            let a = store.resolve_run(&run_a).await.map_err(user)?;
            let b = store.resolve_run(&run_b).await.map_err(user)?;
            let ra = store.records(&a.id, None).await?;
            let rb = store.records(&b.id, None).await?;
            let results = rightfit_eval::summary::compare_runs(&ra, &rb, a.seed);
            if results.is_empty() {
                return Err(user(anyhow::anyhow!(
                    "runs {} and {} share no candidate name and do not have one candidate each",
                    a.id,
                    b.id
                )));
            }
            if json {
                let list: Vec<serde_json::Value> = results
                    .iter()
                    .map(|r| match r {
                        Ok(c) => serde_json::to_value(c).unwrap_or_default(),
                        Err(e) => json!({ "error": e }),
                    })
                    .collect();
                return print_json(&json!({ "a": a.id, "b": b.id, "comparisons": list }));
            }
            line(format!("B = {}  vs  A = {}", b.id, a.id))?;
            let mut t = table(&[
                "candidate A",
                "candidate B",
                "n",
                "mean A %",
                "mean B %",
                "B − A (95% CI)",
                "P(B worse)",
                "McNemar p",
            ]);
            for r in results {
                match r {
                    Ok(c) => {
                        t.add_row(vec![
                            c.a.clone(),
                            c.b.clone(),
                            c.n.to_string(),
                            format!("{:.1}", c.mean_a * 100.0),
                            format!("{:.1}", c.mean_b * 100.0),
                            format!(
                                "{:+.1} [{:+.1}, {:+.1}]",
                                c.diff.mean * 100.0,
                                c.diff.low * 100.0,
                                c.diff.high * 100.0
                            ),
                            format!("{:.2}", c.p_b_worse),
                            c.mcnemar
                                .map_or("—".to_owned(), |m| format!("{:.3}", m.p_value)),
                        ]);
                    }
                    Err(e) => line(format!("cannot compare: {e}"))?,
                }
            }
            line(t)
        }
        RunsCommand::Export {
            project,
            run,
            format,
            output,
        } => {
            let store = store_for(&project).await?;
            let info = store.resolve_run(&run).await.map_err(user)?;
            let records = store.records(&info.id, None).await?;
            let mut out: Box<dyn Write> = match &output {
                Some(path) => Box::new(std::io::BufWriter::new(
                    std::fs::File::create(path)
                        .with_context(|| format!("creating {}", path.display()))
                        .map_err(user)?,
                )),
                None => Box::new(std::io::stdout().lock()),
            };
            match format {
                ExportFormat::Jsonl => {
                    for r in &records {
                        writeln!(out, "{}", serde_json::to_string(r)?)?;
                    }
                }
                ExportFormat::Csv => write_csv(&mut out, &records)?,
            }
            out.flush()?;
            if let Some(path) = output {
                #[allow(clippy::print_stderr)]
                {
                    eprintln!("wrote {} records to {}", records.len(), path.display());
                }
            }
            Ok(())
        }
    }
}

fn write_csv(out: &mut dyn Write, records: &[ExampleRecord]) -> anyhow::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record([
        "run_id",
        "candidate",
        "example_id",
        "position",
        "output",
        "reference",
        "score",
        "scores",
        "parsed",
        "unparseable",
        "latency_ms",
        "ttft_ms",
        "tokens_in",
        "tokens_out",
        "cost_usd",
        "calls",
        "cached",
        "error",
        "input",
        "confidence",
        "steps",
    ])?;
    let opt = |v: Option<f64>| v.map(|x| x.to_string()).unwrap_or_default();
    for r in records {
        w.write_record([
            r.run_id.clone(),
            r.candidate.clone(),
            r.example_id.clone(),
            r.position.to_string(),
            r.output.clone().unwrap_or_default(),
            r.reference.to_string(),
            opt(r.score),
            serde_json::to_string(&r.scores)?,
            r.parsed.as_ref().map(|p| p.to_string()).unwrap_or_default(),
            r.unparseable.to_string(),
            r.latency_ms.to_string(),
            opt(r.ttft_ms),
            r.tokens_in.to_string(),
            r.tokens_out.to_string(),
            opt(r.cost_usd),
            r.calls.to_string(),
            r.cached.to_string(),
            r.error.clone().unwrap_or_default(),
            r.input.to_string(),
            opt(r.confidence),
            serde_json::to_string(&r.steps)?,
        ])?;
    }
    w.flush()?;
    Ok(())
}
