//! Scoring predictions a team already has (`rightfit score`): pairs in, one metric out.

use std::collections::{BTreeMap, BTreeSet};

use rightfit_config::project::{METRICS, OutputContract};
use rightfit_types::{Estimate, ExampleRecord};
use serde::Serialize;
use serde_json::Value;

use crate::score::Scorer;
use crate::stats::{StatsOptions, bootstrap_mean};

/// What the metric needs beyond predictions and references.
#[derive(Debug, Clone, Default)]
pub struct OfflineOptions {
    /// Labels for accuracy / macro_f1 (default: the distinct references, sorted).
    pub labels: Vec<String>,
    /// Schema for json_schema.
    pub schema: Option<Value>,
    /// Slots for span metrics (default: every slot in the references).
    pub slots: Vec<String>,
    /// Bootstrap seed.
    pub seed: u64,
}

/// The score of a set of predictions.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OfflineScore {
    /// The metric.
    pub metric: String,
    /// Pairs scored.
    pub n: u64,
    /// Mean per-example score (0..1) with a 95% bootstrap interval.
    pub mean: Option<Estimate>,
    /// The corpus-level value where the metric has one (macro_f1, corpus BLEU, corpus chrF).
    pub corpus: BTreeMap<String, f64>,
    /// Predictions the scorer could not parse into the contract (counted as wrong).
    pub unparseable: u64,
    /// Per-example scores, by id, in input order.
    pub per_example: Vec<(String, f64)>,
}

/// Scores `(id, prediction, reference)` triples with one metric.
pub fn score(
    metric: &str,
    pairs: &[(String, String, Value)],
    options: &OfflineOptions,
) -> Result<OfflineScore, String> {
    let base = metric.strip_suffix(":stem").unwrap_or(metric);
    if !METRICS.iter().any(|(n, _)| *n == base) || base == "judge" {
        let known: Vec<&str> = METRICS
            .iter()
            .map(|(n, _)| *n)
            .filter(|n| *n != "judge")
            .collect();
        return Err(format!(
            "unknown metric '{metric}': expected one of {}",
            known.join(", ")
        ));
    }
    let output = match base {
        "accuracy" | "macro_f1" => {
            let labels = if options.labels.is_empty() {
                let set: BTreeSet<String> = pairs
                    .iter()
                    .filter_map(|(_, _, r)| match r {
                        Value::String(s) => Some(s.clone()),
                        Value::Number(n) => Some(n.to_string()),
                        _ => None,
                    })
                    .collect();
                set.into_iter().collect()
            } else {
                options.labels.clone()
            };
            if labels.len() < 2 {
                return Err(
                    "accuracy and macro_f1 need at least two labels (--labels a,b,c)".into(),
                );
            }
            OutputContract::Label {
                labels,
                map: BTreeMap::new(),
            }
        }
        "span_exact" | "span_f1" => {
            let slots = if options.slots.is_empty() {
                let set: BTreeSet<String> = pairs
                    .iter()
                    .filter_map(|(_, _, r)| r.as_object())
                    .flat_map(|o| o.keys().cloned())
                    .collect();
                set.into_iter().collect()
            } else {
                options.slots.clone()
            };
            OutputContract::Spans { slots }
        }
        "json_schema" => OutputContract::Json {
            schema: Some(
                options
                    .schema
                    .clone()
                    .ok_or("json_schema needs --schema FILE")?,
            ),
        },
        "json_valid" => OutputContract::Json { schema: None },
        _ => OutputContract::Text { no_answer: None },
    };
    let scorer = Scorer::from_parts(output, vec![metric.to_owned()])?;
    let mut per_example = Vec::with_capacity(pairs.len());
    let mut records = Vec::with_capacity(pairs.len());
    let mut unparseable = 0;
    for (id, prediction, reference) in pairs {
        let reference = match reference {
            Value::Number(n) => Value::String(n.to_string()),
            other => other.clone(),
        };
        let s = scorer.score(prediction, &reference);
        unparseable += u64::from(s.unparseable);
        per_example.push((id.clone(), s.score));
        let mut record = ExampleRecord::new("", "", id.clone(), records.len() as u64, reference);
        record.output = Some(prediction.clone());
        record.score = Some(s.score);
        record.scores = s.scores;
        record.parsed = s.parsed;
        record.unparseable = s.unparseable;
        records.push(record);
    }
    let values: Vec<f64> = per_example.iter().map(|(_, v)| *v).collect();
    let opts = StatsOptions {
        seed: options.seed,
        ..StatsOptions::default()
    };
    let mean = bootstrap_mean(&values, opts.confidence, opts.resamples, opts.seed).ok();
    Ok(OfflineScore {
        metric: metric.to_owned(),
        n: values.len() as u64,
        mean,
        corpus: scorer.corpus(&records),
        unparseable,
        per_example,
    })
}
