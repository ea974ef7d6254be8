//! From a component's dataset to evaluation examples: references mapped, few-shot examples
//! held out, a seeded sample drawn.

use std::collections::HashSet;
use std::path::PathBuf;

use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::SeedableRng;
use rand_core::RngCore;
use rightfit_config::project::{Component, DatasetConfig};
use serde_json::{Map, Value};

use crate::dataset::{self, DatasetSpec, FieldPath, Format, Row};

mod error;
mod reference;

pub use error::PrepareError;
use reference::{ReferenceMapper, path};

/// One example: the template's variables and the reference answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Example {
    /// The row id.
    pub id: String,
    /// The line it came from.
    pub line: u64,
    /// The row's fields (the prompt template's variables).
    pub vars: Value,
    /// The reference: a label name, text (or a list of texts), a JSON value, or a slot object.
    pub reference: Value,
    /// A conversation the application already rendered (a request served by the gateway):
    /// it is sent as is instead of the component's templates, with the component's few-shot
    /// examples (rendered by the templates) before its first non-system message.
    pub conversation: Option<Vec<rightfit_types::Message>>,
}

impl Example {
    /// An example that is an application's own conversation (see [`Example::conversation`]).
    pub fn from_conversation(
        id: impl Into<String>,
        messages: Vec<rightfit_types::Message>,
    ) -> Self {
        Self {
            id: id.into(),
            line: 0,
            vars: Value::Object(Map::new()),
            reference: Value::Null,
            conversation: Some(messages),
        }
    }
}

/// A row that could not become an example.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedRow {
    /// The file.
    pub path: PathBuf,
    /// 1-based line.
    pub line: u64,
    /// Why.
    pub reason: String,
}

/// What a run evaluates.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The examples, in sample order (the dataset's order).
    pub examples: Vec<Example>,
    /// Few-shot examples, in the order they are shown (the first k are used).
    pub shots: Vec<Example>,
    /// Rows read from the dataset.
    pub rows_read: usize,
    /// Rows that could not be used, with where and why.
    pub skipped: Vec<SkippedRow>,
    /// The dataset, for display.
    pub dataset: String,
    /// The part of `examples` this process evaluates (`--shard I/N`); `None`: all of them.
    pub shard: Option<crate::shard::Shard>,
}

impl Prepared {
    /// One line for a person: `N examples from DATASET (R rows read, S skipped; first: FILE:LINE:
    /// REASON)`, after `shard I/N: K of ` for a shard.
    pub fn describe(&self) -> String {
        let first = self
            .skipped
            .first()
            .map(|s| format!("; first: {}:{}: {}", s.path.display(), s.line, s.reason));
        let total = self.examples.len() as u64;
        let part = self
            .shard
            .map(|s| format!("shard {s}: {} of ", s.size(total)));
        format!(
            "{}{} examples from {} ({} rows read, {} skipped{})",
            part.unwrap_or_default(),
            total,
            self.dataset,
            self.rows_read,
            self.skipped.len(),
            first.unwrap_or_default()
        )
    }
}

fn spec(d: &DatasetConfig) -> Result<DatasetSpec, PrepareError> {
    let format = match d.format.as_deref() {
        None => None,
        Some("jsonl") => Some(Format::Jsonl),
        Some("csv") => Some(Format::Csv),
        Some("tsv") => Some(Format::Tsv),
        Some("json") => Some(Format::Json),
        Some("squad") => Some(Format::Squad),
        Some("bfcl") => Some(Format::Bfcl),
        Some(other) => {
            return Err(PrepareError::Path {
                key: "dataset.format".into(),
                message: format!("unknown format '{other}'"),
            });
        }
    };
    Ok(DatasetSpec {
        path: d.path.clone(),
        format,
        records: d.records.clone(),
        columns: d.columns.clone(),
        id_field: d.id.clone(),
        answers: d.answers.clone(),
    })
}

fn load_examples(
    d: &DatasetConfig,
    mapper: &ReferenceMapper,
    skipped: &mut Vec<SkippedRow>,
) -> Result<(Vec<Example>, usize), PrepareError> {
    let loaded = dataset::load(&spec(d)?)?;
    let read = loaded.rows.len() + loaded.skipped.len();
    for s in &loaded.skipped {
        skipped.push(SkippedRow {
            path: loaded.path.clone(),
            line: s.line,
            reason: s.reason.clone(),
        });
    }
    let mut examples = Vec::with_capacity(loaded.rows.len());
    for row in &loaded.rows {
        let mapped = mapper
            .map(row)
            .and_then(|r| Ok((r, mapper.conversation(row)?)));
        match mapped {
            Ok((reference, conversation)) => examples.push(Example {
                id: row.id.clone(),
                line: row.line,
                vars: row.fields.clone(),
                reference,
                conversation,
            }),
            Err(reason) => skipped.push(SkippedRow {
                path: loaded.path.clone(),
                line: row.line,
                reason,
            }),
        }
    }
    Ok((examples, read))
}

/// Rows as examples without references (`Value::Null`), for a pool a model will label.
fn load_unlabelled(d: &DatasetConfig) -> Result<(Vec<Example>, usize), PrepareError> {
    let loaded = dataset::load(&spec(d)?)?;
    let read = loaded.rows.len() + loaded.skipped.len();
    let examples = loaded
        .rows
        .iter()
        .map(|row| Example {
            id: row.id.clone(),
            line: row.line,
            vars: row.fields.clone(),
            reference: Value::Null,
            conversation: None,
        })
        .collect();
    Ok((examples, read))
}

/// A stratification key of an example (its reference, as text).
fn stratum(e: &Example) -> String {
    match &e.reference {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Examples as dataset rows (for sampling and splitting by their fields).
fn as_rows(examples: &[Example]) -> Vec<Row> {
    examples
        .iter()
        .map(|e| Row {
            id: e.id.clone(),
            line: e.line,
            fields: e.vars.clone(),
        })
        .collect()
}

/// `k` examples spread over strata round-robin, seeded.
fn pick_shots(pool: &[Example], k: usize, stratify: bool, seed: u64) -> Vec<Example> {
    let mut order: Vec<usize> = (0..pool.len()).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    for i in (1..order.len()).rev() {
        let j = (rng.next_u64() % (i as u64 + 1)) as usize;
        order.swap(i, j);
    }
    if !stratify {
        return order.into_iter().take(k).map(|i| pool[i].clone()).collect();
    }
    let mut groups: Vec<(String, Vec<usize>)> = Vec::new();
    for i in order {
        let key = stratum(&pool[i]);
        match groups.iter_mut().find(|(g, _)| *g == key) {
            Some((_, members)) => members.push(i),
            None => groups.push((key, vec![i])),
        }
    }
    let mut picked = Vec::with_capacity(k.min(pool.len()));
    let mut round = 0;
    while picked.len() < k {
        let mut any = false;
        for (_, members) in &groups {
            if let Some(&i) = members.get(round) {
                any = true;
                if picked.len() < k {
                    picked.push(pool[i].clone());
                }
            }
        }
        if !any {
            break;
        }
        round += 1;
    }
    picked
}

/// Reads the component's data and draws what a run evaluates.
///
/// Few-shot examples come from the few-shot dataset, inline examples, or else the component's
/// own dataset, in which case they are held out of evaluation. Then `limit` examples are drawn
/// with `seed` (stratified by the `stratify` field when set) and kept in file order.
pub fn prepare(c: &Component, limit: Option<u64>, seed: u64) -> Result<Prepared, PrepareError> {
    let mapper = ReferenceMapper::new(c)?;
    let mut skipped = Vec::new();
    let (mut examples, rows_read) = load_examples(&c.dataset, &mapper, &mut skipped)?;
    // With a split, the test part is evaluated and the train part is the few-shot pool.
    let mut train: Option<Vec<Example>> = None;
    if let Some(sp) = &c.split {
        let by = sp
            .stratify
            .as_deref()
            .map(|f| path("split.stratify", f))
            .transpose()?;
        let parts = dataset::split(&as_rows(&examples), sp.test_fraction, by.as_ref(), seed);
        let test: HashSet<String> = parts.test.into_iter().map(|r| r.id).collect();
        let (test, rest): (Vec<Example>, Vec<Example>) =
            examples.into_iter().partition(|e| test.contains(&e.id));
        examples = test;
        train = Some(rest);
    }
    let k_max = c.shots_wanted();
    let mut shots = Vec::new();
    if let (Some(fs), true) = (&c.few_shot, k_max > 0) {
        if !fs.examples.is_empty() {
            shots = fs
                .examples
                .iter()
                .enumerate()
                .map(|(i, (vars, answer))| Example {
                    id: format!("shot-{}", i + 1),
                    line: 0,
                    vars: vars.clone(),
                    reference: Value::String(answer.clone()),
                    conversation: None,
                })
                .collect();
        } else if let Some(d) = &fs.dataset {
            let mut pool_skipped = Vec::new();
            let (pool, _) = if fs.labelled_by.is_some() {
                // Labelled by a model before the run: rows need no reference.
                load_unlabelled(d)?
            } else {
                load_examples(d, &mapper, &mut pool_skipped)?
            };
            shots = pick_shots(&pool, k_max, fs.stratify, fs.seed);
        } else if let Some(pool) = &train {
            shots = pick_shots(pool, k_max, fs.stratify, fs.seed);
        } else {
            shots = pick_shots(&examples, k_max, fs.stratify, fs.seed);
            let held: HashSet<&str> = shots.iter().map(|s| s.id.as_str()).collect();
            examples.retain(|e| !held.contains(e.id.as_str()));
        }
        // A pool (similarity choice, model labelling) takes up to its size; every candidate
        // needs at least its own k.
        let k_shown = c
            .candidates
            .iter()
            .filter_map(|cand| cand.shots.as_ref().map(|s| s.k))
            .max()
            .unwrap_or(0);
        if shots.len() < k_shown {
            return Err(PrepareError::Empty(format!(
                "component '{}': a candidate wants {k_shown} few-shot examples but only {} are available",
                c.name,
                shots.len()
            )));
        }
    }
    if let Some(limit) = limit.or(c.limit) {
        let limit = limit as usize;
        if limit < examples.len() {
            let rows = as_rows(&examples);
            let picked = match &c.stratify {
                Some(field) => {
                    dataset::stratified_sample(&rows, limit, &path("stratify", field)?, seed)
                }
                None => dataset::sample(&rows, limit, seed),
            };
            let keep: HashSet<String> = picked.into_iter().map(|r| r.id).collect();
            examples.retain(|e| keep.contains(&e.id));
        }
    }
    skipped.sort_by_key(|s| s.line);
    if examples.is_empty() {
        return Err(PrepareError::Empty(format!(
            "component '{}': no usable rows in {} ({} skipped{})",
            c.name,
            c.dataset.path.display(),
            skipped.len(),
            skipped
                .first()
                .map(|s| format!("; first: line {}: {}", s.line, s.reason))
                .unwrap_or_default()
        )));
    }
    Ok(Prepared {
        examples,
        shots,
        rows_read,
        skipped,
        dataset: c.dataset.path.display().to_string(),
        shard: None,
    })
}

/// Rows of a dataset other than the component's own (a training file), as examples whose
/// references are read the component's way (its `reference` field or spans, its label map);
/// rows without a usable reference are skipped with where and why.
pub fn load_labelled(
    c: &Component,
    d: &DatasetConfig,
) -> Result<(Vec<Example>, Vec<SkippedRow>, usize), PrepareError> {
    let mapper = ReferenceMapper::new(c)?;
    let mut skipped = Vec::new();
    let (examples, read) = load_examples(d, &mapper, &mut skipped)?;
    Ok((examples, skipped, read))
}

/// Rows of a dataset as inputs without references, for a teacher to answer.
pub fn load_inputs(d: &DatasetConfig) -> Result<(Vec<Example>, usize), PrepareError> {
    load_unlabelled(d)
}

/// The component's own data split in two with `seed` as a run with that seed splits it: the
/// test part (what `rightfit eval` may evaluate: every usable row when the component has no
/// `split`) and the train part (empty without a `split`).
pub fn split_parts(c: &Component, seed: u64) -> Result<(Vec<Example>, Vec<Example>), PrepareError> {
    let mapper = ReferenceMapper::new(c)?;
    let mut skipped = Vec::new();
    let (examples, _) = load_examples(&c.dataset, &mapper, &mut skipped)?;
    let Some(sp) = &c.split else {
        return Ok((examples, Vec::new()));
    };
    let by = sp
        .stratify
        .as_deref()
        .map(|f| path("split.stratify", f))
        .transpose()?;
    let parts = dataset::split(&as_rows(&examples), sp.test_fraction, by.as_ref(), seed);
    let test: HashSet<String> = parts.test.into_iter().map(|r| r.id).collect();
    Ok(examples.into_iter().partition(|e| test.contains(&e.id)))
}

/// Examples divided by a seeded split: about `fraction` of them (strictly between 0 and 1) in
/// the second part, stratified by reference when `by_reference` (labels keep their proportions
/// on both sides). Each part keeps the input order.
pub fn split_examples(
    examples: Vec<Example>,
    fraction: f64,
    by_reference: bool,
    seed: u64,
) -> (Vec<Example>, Vec<Example>) {
    let (rows, by) = stratum_rows(&examples, by_reference);
    let parts = dataset::split(&rows, fraction, by.as_ref(), seed);
    let second: HashSet<String> = parts.test.into_iter().map(|r| r.id).collect();
    examples.into_iter().partition(|e| !second.contains(&e.id))
}

/// Up to `limit` examples, a seeded sample (stratified by reference when `by_reference`), in
/// input order.
pub fn sample_examples(
    mut examples: Vec<Example>,
    limit: usize,
    by_reference: bool,
    seed: u64,
) -> Vec<Example> {
    if limit >= examples.len() {
        return examples;
    }
    let (rows, by) = stratum_rows(&examples, by_reference);
    let picked = match &by {
        Some(by) => dataset::stratified_sample(&rows, limit, by, seed),
        None => dataset::sample(&rows, limit, seed),
    };
    let keep: HashSet<String> = picked.into_iter().map(|r| r.id).collect();
    examples.retain(|e| keep.contains(&e.id));
    examples
}

/// Examples as rows whose one field (`stratum`) is their reference, when asked.
fn stratum_rows(examples: &[Example], by_reference: bool) -> (Vec<Row>, Option<FieldPath>) {
    let rows = examples
        .iter()
        .map(|e| Row {
            id: e.id.clone(),
            line: e.line,
            fields: serde_json::json!({ "stratum": stratum(e) }),
        })
        .collect();
    let by = by_reference
        .then(|| "stratum".parse::<FieldPath>().ok())
        .flatten();
    (rows, by)
}

/// The few-shot answer for an example: what the model should have said.
pub fn answer_text(reference: &Value) -> String {
    match reference {
        Value::String(s) => s.clone(),
        Value::Array(items) => items.first().map(answer_text).unwrap_or_default(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests;
