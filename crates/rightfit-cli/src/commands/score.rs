//! `rightfit score`: score predictions a team already has.

use std::collections::HashMap;
use std::path::Path;

use anyhow::Context;
use rightfit_eval::offline::{self, OfflineOptions};
use serde_json::Value;

use super::output::{json as print_json, line, table};
use crate::args::{ReportFormat, ScoreArgs};
use crate::errors::user;

/// Lines that could not be used, each with its file and line.
type Problems = Vec<String>;

/// Reads `id -> value of field` from a JSONL file (or a single JSON object mapping ids to values,
/// the layout of SQuAD prediction files). Bad lines are reported, never dropped silently.
fn read(
    path: &Path,
    id_field: &str,
    field: &str,
) -> anyhow::Result<(Vec<(String, Value)>, Problems)> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading {}", path.display()))
        .map_err(user)?;
    if let Ok(Value::Object(map)) = serde_json::from_str::<Value>(&text)
        && !map.contains_key(id_field)
    {
        return Ok((map.into_iter().collect(), Vec::new()));
    }
    let mut rows = Vec::new();
    let mut problems = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        if raw.trim().is_empty() {
            continue;
        }
        let at = format!("{}:{}", path.display(), i + 1);
        let v: Value = match serde_json::from_str(raw) {
            Ok(v) => v,
            Err(e) => {
                problems.push(format!("{at}: not JSON ({e})"));
                continue;
            }
        };
        let id = match v.get(id_field) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => {
                problems.push(format!("{at}: no '{id_field}' field"));
                continue;
            }
        };
        match v.get(field) {
            Some(value) => rows.push((id, value.clone())),
            None => problems.push(format!("{at}: no '{field}' field")),
        }
    }
    Ok((rows, problems))
}

/// `rightfit score`.
pub fn run(args: ScoreArgs) -> anyhow::Result<()> {
    let (predictions, mut problems) =
        read(&args.predictions, &args.id_field, &args.prediction_field)?;
    let (references, ref_problems) = read(&args.references, &args.id_field, &args.reference_field)?;
    problems.extend(ref_problems);
    let by_id: HashMap<&str, &Value> = predictions.iter().map(|(id, v)| (id.as_str(), v)).collect();
    let mut pairs = Vec::new();
    let mut missing = Vec::new();
    for (id, reference) in &references {
        match by_id.get(id.as_str()) {
            Some(Value::String(p)) => pairs.push((id.clone(), p.clone(), reference.clone())),
            Some(other) => pairs.push((id.clone(), other.to_string(), reference.clone())),
            None => missing.push(id.clone()),
        }
    }
    let schema = match &args.schema {
        Some(path) => Some(
            serde_json::from_str(
                &std::fs::read_to_string(path)
                    .with_context(|| format!("reading {}", path.display()))
                    .map_err(user)?,
            )
            .with_context(|| format!("{}: not JSON", path.display()))
            .map_err(user)?,
        ),
        None => None,
    };
    let options = OfflineOptions {
        labels: args.labels.clone(),
        schema,
        slots: args.slots.clone(),
        seed: 42,
    };
    let result =
        offline::score(&args.metric, &pairs, &options).map_err(|e| user(anyhow::anyhow!(e)))?;
    for p in problems.iter().take(20) {
        #[allow(clippy::print_stderr)]
        {
            eprintln!("skipped: {p}");
        }
    }
    if args.format == ReportFormat::Json {
        return print_json(&serde_json::json!({
            "result": result,
            "missing_predictions": missing,
            "skipped_lines": problems,
        }));
    }
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
        missing.len().to_string(),
        problems.len().to_string(),
    ]);
    line(t)
}
