//! `rightfit traffic list | stats | export`: what the gateway recorded, from the project's store.

use rightfit_eval::dataset::{self, TrafficQuery};
use rightfit_types::TrafficFilter;

use super::common::{output, store_for, width};
use super::output::{json as print_json, line, note};
use crate::args::{
    ExportArgs, ExportFormat, ListFormat, ReportFormat, TrafficCommand, TrafficSelect,
};
use crate::errors::user;

/// `--since` as the text traffic times compare with.
fn since(text: Option<&str>) -> anyhow::Result<Option<String>> {
    let now = rightfit_config::time::unix_now();
    text.map(|t| rightfit_config::time::parse_since(t, now))
        .transpose()
        .map_err(user)
}

/// A filter from the flags `list` and `stats` share.
fn selected(select: &TrafficSelect) -> anyhow::Result<TrafficFilter> {
    Ok(TrafficFilter {
        component: select.component.clone(),
        since: since(select.since.as_deref())?,
        ..TrafficFilter::default()
    })
}

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
            let total = store.count_traffic(&filter).await?;
            line(rightfit_report::traffic_list_page(&records, total, width()).trim_end())
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
            export: ExportArgs {
                format,
                output: path,
            },
        } => {
            let query = TrafficQuery {
                component,
                reference_from,
                since: since(since_text.as_deref())?,
                limit,
            };
            let store = store_for(&project).await?;
            let (rows, skipped) = dataset::from_traffic(&*store, &query).await?;
            dataset::write_rows(
                &mut output(path.as_deref())?,
                &rows,
                format == ExportFormat::Csv,
            )?;
            // On stderr: stdout may be the dataset.
            note(dataset::describe_export(
                &query,
                rows.len(),
                skipped,
                path.as_deref(),
            ));
            Ok(())
        }
    }
}
