//! `rightfit traffic list | stats | export`: what the gateway recorded, from the project's store.

mod export;
mod since;

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;
use rightfit_store::TrafficStore;
use rightfit_types::TrafficFilter;

use self::export::{ExportRow, Skipped, export_rows};
use super::output::{json as print_json, line};
use super::runs::store_for;
use crate::args::{ExportFormat, ListFormat, ReportFormat, TrafficCommand, TrafficSelect};
use crate::errors::user;

/// Table width: the terminal's, or 200 columns when stdout is not one.
fn width() -> u16 {
    if std::io::stdout().is_terminal() {
        0
    } else {
        200
    }
}

/// `--since` as the text traffic times compare with.
fn since(text: Option<&str>) -> anyhow::Result<Option<String>> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    text.map(|t| since::parse_since(t, now))
        .transpose()
        .map_err(|e| user(anyhow::anyhow!(e)))
}

/// A filter from the flags `list` and `stats` share.
fn selected(select: &TrafficSelect) -> anyhow::Result<TrafficFilter> {
    Ok(TrafficFilter {
        component: select.component.clone(),
        since: since(select.since.as_deref())?,
        ..TrafficFilter::default()
    })
}

/// Dispatches a `traffic` subcommand.
pub async fn run(cmd: TrafficCommand) -> anyhow::Result<()> {
    match cmd {
        TrafficCommand::List {
            project,
            select,
            candidate,
            role,
            errors,
            limit,
            format,
        } => {
            let filter = TrafficFilter {
                candidate,
                role,
                errors_only: errors,
                limit: Some(limit),
                newest_first: true,
                ..selected(&select)?
            };
            let store = store_for(&project).await?;
            let records = store.traffic(&filter).await?;
            if format == ListFormat::Json {
                return print_json(&serde_json::to_value(&records)?);
            }
            if records.is_empty() {
                return line("no traffic recorded for this selection — see 'rightfit serve'");
            }
            let total = store.count_traffic(&filter).await?;
            line(rightfit_report::traffic_list_terminal(&records, width()).trim_end())?;
            if total > records.len() as u64 {
                line(format!(
                    "the newest {} of {total} records; --limit shows more",
                    records.len()
                ))?;
            }
            Ok(())
        }
        TrafficCommand::Stats {
            project,
            select,
            format,
        } => {
            let store = store_for(&project).await?;
            let records = store.traffic(&selected(&select)?).await?;
            let rows = rightfit_report::traffic_stats(&records);
            match format {
                ReportFormat::Table => {
                    line(rightfit_report::traffic_stats_terminal(&rows, width()).trim_end())
                }
                ReportFormat::Markdown => {
                    line(rightfit_report::traffic_stats_markdown(&rows).trim_end())
                }
                ReportFormat::Json => print_json(&serde_json::to_value(&rows)?),
            }
        }
        TrafficCommand::Export {
            project,
            component,
            reference_from,
            since: since_text,
            limit,
            format,
            output,
        } => {
            let since = since(since_text.as_deref())?;
            let store = store_for(&project).await?;
            let primaries = store
                .traffic(&TrafficFilter {
                    component: Some(component.clone()),
                    role: Some("primary".to_owned()),
                    since: since.clone(),
                    ok_only: true,
                    // With every row kept, the limit can go to the store.
                    limit: limit.filter(|_| reference_from.is_none()),
                    ..TrafficFilter::default()
                })
                .await?;
            let shadows = match &reference_from {
                Some(candidate) => {
                    store
                        .traffic(&TrafficFilter {
                            component: Some(component.clone()),
                            candidate: Some(candidate.clone()),
                            role: Some("shadow".to_owned()),
                            since,
                            ok_only: true,
                            ..TrafficFilter::default()
                        })
                        .await?
                }
                None => Vec::new(),
            };
            let (mut rows, skipped) = export_rows(&primaries, &shadows, reference_from.as_deref());
            if let Some(limit) = limit {
                rows.truncate(limit);
            }
            write_rows(&rows, format, output.as_deref())?;
            report_export(
                &component,
                rows.len(),
                skipped,
                reference_from.as_deref(),
                output.as_deref(),
            );
            Ok(())
        }
    }
}

fn write_rows(
    rows: &[ExportRow],
    format: ExportFormat,
    output: Option<&Path>,
) -> anyhow::Result<()> {
    let mut out: Box<dyn Write> = match output {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path)
                .with_context(|| format!("creating {}", path.display()))
                .map_err(user)?,
        )),
        None => Box::new(std::io::stdout().lock()),
    };
    match format {
        ExportFormat::Jsonl => {
            for r in rows {
                writeln!(out, "{}", serde_json::to_string(r)?)?;
            }
        }
        ExportFormat::Csv => {
            let mut w = csv::Writer::from_writer(&mut out);
            w.write_record([
                "id",
                "at",
                "component",
                "candidate",
                "system",
                "input",
                "messages",
                "output",
                "reference",
            ])?;
            for r in rows {
                w.write_record([
                    r.id.as_str(),
                    r.at.as_str(),
                    r.component.as_str(),
                    r.candidate.as_str(),
                    r.system.as_str(),
                    r.input.as_str(),
                    r.messages.to_string().as_str(),
                    r.output.as_str(),
                    r.reference.as_str(),
                ])?;
            }
            w.flush()?;
        }
    }
    out.flush()?;
    Ok(())
}

/// What was written and what was left out, on stderr (stdout may be the dataset).
fn report_export(
    component: &str,
    written: usize,
    skipped: Skipped,
    reference_from: Option<&str>,
    output: Option<&Path>,
) {
    let mut message = format!("exported {written} requests of component '{component}'");
    if let Some(path) = output {
        message.push_str(&format!(" to {}", path.display()));
    }
    if skipped.total() > 0 {
        let mut reasons = Vec::new();
        if skipped.no_reference > 0 {
            reasons.push(format!(
                "{} without an answer by {}",
                skipped.no_reference,
                reference_from.unwrap_or("the reference candidate")
            ));
        }
        if skipped.no_input > 0 {
            reasons.push(format!("{} without a user message", skipped.no_input));
        }
        if skipped.no_output > 0 {
            reasons.push(format!("{} without a logged answer", skipped.no_output));
        }
        message.push_str(&format!(
            "; skipped {}: {}",
            skipped.total(),
            reasons.join(", ")
        ));
    }
    #[allow(clippy::print_stderr)]
    {
        eprintln!("{message}");
    }
}
