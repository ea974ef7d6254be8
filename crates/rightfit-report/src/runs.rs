//! Stored runs as tables: the list (`rightfit runs list`) and two runs compared example by
//! example (`rightfit runs compare`).

use std::path::Path;

use rightfit_types::{PairedComparison, RunInfo, RunStatus};
use serde_json::json;

use crate::fmt::table;

/// The command that continues an interrupted run: `rightfit eval` with the project file
/// (unless it is the default `rightfit.toml`) and the store (when one was named), as given.
pub fn resume_command(config: &Path, store: Option<&Path>, component: &str, run: &str) -> String {
    let mut command = "rightfit eval".to_owned();
    if config != Path::new("rightfit.toml") {
        command.push_str(&format!(" -c {}", config.display()));
    }
    if let Some(store) = store {
        command.push_str(&format!(" --store {}", store.display()));
    }
    format!("{command} {component} --resume {run}")
}

/// Runs, newest first as given, or how to start one.
pub fn runs_terminal(runs: &[RunInfo]) -> String {
    if runs.is_empty() {
        return "no runs yet — start one with 'rightfit eval'\n".to_owned();
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
            r.id.clone(),
            r.component.clone(),
            status(r),
            r.started_at.clone(),
            r.rows_used.to_string(),
            r.rows_skipped.to_string(),
            r.dataset.clone(),
        ]);
    }
    format!("{t}\n")
}

/// A run's status, with why it failed or was interrupted when the run says.
fn status(r: &RunInfo) -> String {
    let why = match r.status {
        RunStatus::Failed => r.meta.get("error"),
        RunStatus::Interrupted => r.meta.get("interrupted"),
        _ => None,
    };
    match why.and_then(|w| w.as_str()) {
        Some(why) => format!("{}: {why}", r.status.as_str()),
        None => r.status.as_str().to_owned(),
    }
}

/// Run `b` against run `a`, a comparison or why there is none per candidate pair, as JSON.
pub fn comparisons_json(
    a: &str,
    b: &str,
    results: &[Result<PairedComparison, String>],
) -> serde_json::Value {
    let list: Vec<serde_json::Value> = results
        .iter()
        .map(|r| match r {
            Ok(c) => serde_json::to_value(c).unwrap_or_default(),
            Err(e) => json!({ "error": e }),
        })
        .collect();
    json!({ "a": a, "b": b, "comparisons": list })
}

/// The same as a table, after a line per pair that could not be compared.
pub fn comparisons_terminal(
    a: &str,
    b: &str,
    results: &[Result<PairedComparison, String>],
) -> String {
    let mut out = format!("B = {b}  vs  A = {a}\n");
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
                        .as_ref()
                        .map_or("—".to_owned(), |m| format!("{:.3}", m.p_value)),
                ]);
            }
            Err(e) => out.push_str(&format!("cannot compare: {e}\n")),
        }
    }
    out.push_str(&format!("{t}\n"));
    out
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::resume_command;

    #[test]
    fn the_resume_command_names_only_what_differs_from_the_defaults() {
        let default = Path::new("rightfit.toml");
        assert_eq!(
            resume_command(default, None, "tickets", "20261204-1"),
            "rightfit eval tickets --resume 20261204-1"
        );
        let other = Path::new("examples/distill.toml");
        assert_eq!(
            resume_command(other, Some(Path::new("/tmp/r.db")), "intent", "r2"),
            "rightfit eval -c examples/distill.toml --store /tmp/r.db intent --resume r2"
        );
    }
}
