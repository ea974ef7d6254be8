//! `rightfit runs list | show | compare | export`.

use rightfit_eval::runner::settle;
use rightfit_eval::summary::run_report;

use super::common::{output, print_lift, print_report, store_for};
use super::output::{json, line, note};
use crate::args::{ExportArgs, ExportFormat, RunsCommand};
use crate::errors::user;

pub async fn run(cmd: RunsCommand) -> anyhow::Result<()> {
    match cmd {
        RunsCommand::List {
            project,
            component,
            limit,
            json: as_json,
        } => {
            let store = store_for(&project).await?;
            let mut runs = store.runs(component.as_deref(), limit).await?;
            settle(&*store, &mut runs).await?;
            if as_json {
                return json(&serde_json::to_value(&runs)?);
            }
            line(rightfit_report::runs_terminal(&runs).trim_end())
        }
        RunsCommand::Show {
            project,
            run,
            format,
        } => {
            let store = store_for(&project).await?;
            let mut info = [store.resolve_run(&run).await.map_err(user)?];
            settle(&*store, &mut info).await?;
            let r = run_report(&*store, &info[0]).await?;
            print_report(&r, format)?;
            // The project's baseline and students, when the project file is readable.
            let p = super::project::load(&project.config).ok();
            print_lift(&r, p.as_ref(), format)
        }
        RunsCommand::Compare {
            project,
            run_a,
            run_b,
            json: as_json,
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
            if as_json {
                return json(&rightfit_report::comparisons_json(&a.id, &b.id, &results));
            }
            line(rightfit_report::comparisons_terminal(&a.id, &b.id, &results).trim_end())
        }
        RunsCommand::Export {
            project,
            run,
            export: ExportArgs {
                format,
                output: path,
            },
        } => {
            let store = store_for(&project).await?;
            let info = store.resolve_run(&run).await.map_err(user)?;
            let records = store.records(&info.id, None).await?;
            let mut out = output(path.as_deref())?;
            rightfit_eval::records::write_records(&mut out, &records, format == ExportFormat::Csv)?;
            if let Some(path) = path {
                note(format!(
                    "wrote {} records to {}",
                    records.len(),
                    path.display()
                ));
            }
            Ok(())
        }
    }
}
