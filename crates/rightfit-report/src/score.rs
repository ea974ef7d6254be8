//! The score of predictions a team already has (`rightfit score`).

use rightfit_types::OfflineScore;

use crate::fmt::table;

/// One row: the metric, its mean with the interval, corpus values, and what was not scored.
pub fn score_terminal(result: &OfflineScore, missing: usize, skipped_lines: usize) -> String {
    let mut t = table(&[
        "metric",
        "n",
        "mean",
        "95% CI",
        "corpus",
        "unparseable",
        "missing predictions",
        "skipped lines",
    ]);
    t.add_row(vec![
        result.metric.clone(),
        result.n.to_string(),
        result
            .mean
            .as_ref()
            .map_or("—".into(), |e| format!("{:.4}", e.mean)),
        result
            .mean
            .as_ref()
            .map_or("—".into(), |e| format!("[{:.4}, {:.4}]", e.low, e.high)),
        result
            .corpus
            .iter()
            .map(|(k, v)| format!("{k} {v:.4}"))
            .collect::<Vec<_>>()
            .join(", "),
        result.unparseable.to_string(),
        missing.to_string(),
        skipped_lines.to_string(),
    ]);
    format!("{t}\n")
}

/// The result as JSON, with the ids that had no prediction and the lines that were skipped.
pub fn score_json(
    result: &OfflineScore,
    missing: &[String],
    skipped_lines: &[String],
) -> serde_json::Value {
    serde_json::json!({
        "result": result,
        "missing_predictions": missing,
        "skipped_lines": skipped_lines,
    })
}
