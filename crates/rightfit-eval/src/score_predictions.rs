//! Scoring predictions a team already has (`rightfit score`): pairs in, one metric out.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use rightfit_config::project::{METRICS, OutputContract};
use rightfit_types::ExampleRecord;
pub use rightfit_types::OfflineScore;
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

/// Where `rightfit score` reads its pairs: two JSONL files matched by id.
#[derive(Debug, Clone, Copy)]
pub struct ScoreFiles<'a> {
    /// One prediction per line.
    pub predictions: &'a Path,
    /// One reference per line.
    pub references: &'a Path,
    /// Field holding the id in both.
    pub id_field: &'a str,
    /// Field holding the prediction.
    pub prediction_field: &'a str,
    /// Field holding the reference.
    pub reference_field: &'a str,
    /// A JSON Schema file, for json_schema.
    pub schema: Option<&'a Path>,
}

/// The score of two files, with what could not be scored.
#[derive(Debug, Clone, PartialEq)]
pub struct FileScore {
    /// The score of the pairs found.
    pub result: OfflineScore,
    /// Ids with a reference but no prediction.
    pub missing: Vec<String>,
    /// Lines that could not be used, each with its file and line.
    pub problems: Vec<String>,
}

/// Why two files cannot be scored.
#[derive(Debug, thiserror::Error)]
pub enum ScoreFilesError {
    /// A file cannot be read.
    #[error("reading {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The schema file is not JSON.
    #[error("{}: not JSON", path.display())]
    Schema {
        /// The file.
        path: PathBuf,
        /// Why.
        source: serde_json::Error,
    },
    /// The metric or its options.
    #[error("{0}")]
    Metric(String),
}

fn read_text(path: &Path) -> Result<String, ScoreFilesError> {
    std::fs::read_to_string(path).map_err(|source| ScoreFilesError::Read {
        path: path.to_owned(),
        source,
    })
}

/// Pairs each reference with the prediction of the same id and scores them with `metric`
/// (`options.schema` comes from `files.schema`).
pub fn score_files(
    metric: &str,
    files: &ScoreFiles,
    mut options: OfflineOptions,
) -> Result<FileScore, ScoreFilesError> {
    let (predictions, mut problems) =
        read(files.predictions, files.id_field, files.prediction_field)?;
    let (references, ref_problems) = read(files.references, files.id_field, files.reference_field)?;
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
    if let Some(path) = files.schema {
        let schema =
            serde_json::from_str(&read_text(path)?).map_err(|source| ScoreFilesError::Schema {
                path: path.to_owned(),
                source,
            })?;
        options.schema = Some(schema);
    }
    let result = score(metric, &pairs, &options).map_err(ScoreFilesError::Metric)?;
    Ok(FileScore {
        result,
        missing,
        problems,
    })
}

/// `(id, value)` pairs in file order, and the lines that could not be used, each with its file
/// and line.
type Read = (Vec<(String, Value)>, Vec<String>);

/// Reads `id -> value of field` from a JSONL file (or a single JSON object mapping ids to values,
/// the layout of SQuAD prediction files). Bad lines are reported, never dropped silently.
fn read(path: &Path, id_field: &str, field: &str) -> Result<Read, ScoreFilesError> {
    let text = read_text(path)?;
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
