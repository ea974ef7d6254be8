//! A student's training rows, from any of its sources, in one shape: examples of the component
//! whose reference is the answer to learn.
//!
//! - a dataset with references, read the component's way;
//! - the train part of the component's own split;
//! - a teacher candidate's answers to inputs (through the evaluator's strategy code and its
//!   response cache, so labelling again costs nothing), parsed into the contract, with the
//!   unparseable dropped and counted;
//! - gateway traffic (`rightfit traffic export`'s rows), with the served or a shadow's answers
//!   (for a `tool_call` component: the functions offered and the answer's calls).
//!
//! Rows that are also in the component's evaluation data are refused and counted: the same id
//! in the same file, or the same input once normalised (case, white space). Then a seeded
//! sample (`limit`) and a seeded validation split, both stratified by label for label
//! contracts.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use rightfit_config::project::{Component, OutputContract, Project, Student, TrainingData};
use rightfit_eval::dataset::{ExportRow, TrafficQuery, from_traffic};
use rightfit_eval::example::{
    self, Example, load_inputs, load_labelled, sample_examples, split_examples, split_parts,
};
use rightfit_eval::prompt::Templates;
use rightfit_eval::score::Scorer;
use rightfit_eval::strategy::{Answerer, SimilarShots, models_called};
use rightfit_eval::teacher;
use rightfit_eval::tool_call;
use rightfit_providers::Provider;
use rightfit_registry::ProviderFactory;
use rightfit_store::Store;
use rightfit_types::Message;
use sha2::{Digest, Sha256};

use crate::error::{DistillError, Result};
use rightfit_types::progress::{Progress, Unit};

/// The fewest training rows a student takes.
pub const MIN_ROWS: usize = 8;

/// A student's rows, split, with what happened to the others.
#[derive(Debug, Clone)]
pub struct TrainingSet {
    /// Rows trained on.
    pub train: Vec<Example>,
    /// Rows held out to stop early.
    pub validation: Vec<Example>,
    /// Rows the source gave.
    pub read: u64,
    /// Rows a teacher could not answer usefully, with why.
    pub dropped: Vec<(String, String)>,
    /// Rows refused because the evaluation data holds them too.
    pub refused_overlap: u64,
    /// Rows without a usable reference, or cut by `limit`.
    pub skipped: u64,
    /// The teacher, when one answered.
    pub teacher: Option<String>,
    /// What the teacher's calls cost.
    pub labelling_cost_usd: Option<f64>,
}

impl TrainingSet {
    /// SHA-256 over the rows as trained on (part, id, input, answer), in order.
    pub fn sha256(&self, templates: &Templates) -> String {
        let mut h = Sha256::new();
        for (part, rows) in [("train", &self.train), ("validation", &self.validation)] {
            for e in rows {
                let input = input_text(templates, e);
                let answer = example::answer_text(&e.reference);
                h.update(format!("{part}\u{0}{}\u{0}{input}\u{0}{answer}\n", e.id).as_bytes());
            }
        }
        hex::encode(h.finalize())
    }
}

/// What a student's sources need.
pub struct Sources<'a> {
    /// The project.
    pub project: &'a Project,
    /// The component the student answers for.
    pub component: &'a Component,
    /// Builds the teacher's models.
    pub providers: &'a dyn ProviderFactory,
    /// The response cache (teacher answers) and the traffic log.
    pub store: &'a dyn Store,
}

impl std::fmt::Debug for Sources<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sources")
            .field("component", &self.component.name)
            .finish_non_exhaustive()
    }
}

/// The input a row shows, as the leakage check and the hash compare it.
pub fn input_text(templates: &Templates, e: &Example) -> String {
    match templates.task(e) {
        Ok((system, prompt)) => match system {
            Some(s) => format!("{s}\n\n{prompt}"),
            None => prompt,
        },
        Err(_) => e.vars.to_string(),
    }
}

/// Lower case, runs of white space as one space, trimmed.
fn normalise(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// Builds the student's training set.
pub async fn training_set(
    src: &Sources<'_>,
    student: &Student,
    progress: &dyn Progress,
) -> Result<TrainingSet> {
    let c = src.component;
    let where_ = format!("components.{}.students.{}", c.name, student.name);
    let templates = Templates::new(c).map_err(|e| DistillError::Data(format!("{where_}: {e}")))?;
    let prepare = |e: example::PrepareError| DistillError::Data(format!("{where_}: {e}"));
    let mut set = TrainingSet {
        train: Vec::new(),
        validation: Vec::new(),
        read: 0,
        dropped: Vec::new(),
        refused_overlap: 0,
        skipped: 0,
        teacher: None,
        labelling_cost_usd: None,
    };
    // Rows from the source, and the file they came from when it is the component's own (then
    // the same id is the same row).
    let (rows, same_file) = match &student.data {
        TrainingData::Dataset { dataset } => {
            let (rows, skipped, read) = load_labelled(c, dataset).map_err(prepare)?;
            set.read = read as u64;
            set.skipped += skipped.len() as u64;
            (rows, dataset.path == c.dataset.path)
        }
        TrainingData::Split => {
            let (_, train) = split_parts(c, src.project.seed).map_err(prepare)?;
            set.read = train.len() as u64;
            (train, true)
        }
        TrainingData::Teacher { candidate, inputs } => {
            let (inputs, same) = match inputs {
                Some(d) => {
                    let (rows, read) = load_inputs(d).map_err(prepare)?;
                    set.read = read as u64;
                    (rows, d.path == c.dataset.path)
                }
                None => {
                    let (_, train) = split_parts(c, src.project.seed).map_err(prepare)?;
                    set.read = train.len() as u64;
                    (train, true)
                }
            };
            // Label only what will be trained on: refuse overlaps and sample first.
            let inputs = refuse_overlap(src, &templates, inputs, same, &mut set)?;
            let inputs = limit(student, c, inputs, false, &mut set);
            // A tool_call teacher's parsed calls become references with the input's functions.
            let offered: BTreeMap<String, Vec<serde_json::Value>> = inputs
                .iter()
                .map(|e| (e.id.clone(), tool_call::offered(&e.reference).to_vec()))
                .collect();
            let mut taught = label(src, &templates, candidate, inputs, progress).await?;
            if matches!(c.output, OutputContract::ToolCall { .. }) {
                with_functions(&mut taught, &offered);
            }
            set.teacher = Some(candidate.clone());
            set.labelling_cost_usd = taught.cost_usd;
            set.dropped = taught.dropped;
            if taught.examples.is_empty() {
                return Err(DistillError::Data(format!(
                    "{where_}: teacher '{candidate}' gave no usable answer ({} dropped; first: {}) — check the teacher's candidate with 'rightfit eval'",
                    set.dropped.len(),
                    set.dropped
                        .first()
                        .map_or("none".to_owned(), |(id, why)| format!("{id}: {why}"))
                )));
            }
            return finish(student, c, taught.examples, set, &where_);
        }
        TrainingData::Traffic { reference_from } => {
            let rows = traffic_rows(src, reference_from.as_deref(), &mut set).await?;
            (rows, false)
        }
    };
    let rows = refuse_overlap(src, &templates, rows, same_file, &mut set)?;
    let by_label = matches!(c.output, OutputContract::Label { .. });
    let rows = limit(student, c, rows, by_label, &mut set);
    finish(student, c, rows, set, &where_)
}

/// Drops rows the evaluation data holds too.
fn refuse_overlap(
    src: &Sources<'_>,
    templates: &Templates,
    rows: Vec<Example>,
    same_file: bool,
    set: &mut TrainingSet,
) -> Result<Vec<Example>> {
    let c = src.component;
    let (evaluated, _) = split_parts(c, src.project.seed)
        .map_err(|e| DistillError::Data(format!("components.{}: {e}", c.name)))?;
    let ids: HashSet<&str> = evaluated.iter().map(|e| e.id.as_str()).collect();
    let inputs: HashSet<String> = evaluated
        .iter()
        .map(|e| normalise(&input_text(templates, e)))
        .collect();
    let before = rows.len();
    let kept: Vec<Example> = rows
        .into_iter()
        .filter(|e| {
            let same_row = same_file && ids.contains(e.id.as_str());
            !same_row && !inputs.contains(&normalise(&input_text(templates, e)))
        })
        .collect();
    set.refused_overlap += (before - kept.len()) as u64;
    Ok(kept)
}

/// A seeded sample of at most the student's `limit` rows.
fn limit(
    student: &Student,
    c: &Component,
    rows: Vec<Example>,
    by_label: bool,
    set: &mut TrainingSet,
) -> Vec<Example> {
    let _ = c;
    match student.limit {
        Some(n) if n < rows.len() => {
            set.skipped += (rows.len() - n) as u64;
            sample_examples(rows, n, by_label, student.seed)
        }
        _ => rows,
    }
}

/// Checks the count and splits off the validation rows.
fn finish(
    student: &Student,
    c: &Component,
    rows: Vec<Example>,
    mut set: TrainingSet,
    where_: &str,
) -> Result<TrainingSet> {
    if rows.len() < MIN_ROWS {
        return Err(DistillError::Data(format!(
            "{where_}: {} usable training rows ({} read, {} refused as in the evaluation data, {} dropped, {} skipped); a student needs at least {MIN_ROWS}",
            rows.len(),
            set.read,
            set.refused_overlap,
            set.dropped.len(),
            set.skipped
        )));
    }
    let by_label = matches!(c.output, OutputContract::Label { .. });
    let (train, validation) = split_examples(rows, student.validation, by_label, student.seed);
    if validation.is_empty() || train.is_empty() {
        return Err(DistillError::Data(format!(
            "{where_}: validation = {} leaves {} training and {} validation rows: both need some",
            student.validation,
            train.len(),
            validation.len()
        )));
    }
    set.train = train;
    set.validation = validation;
    Ok(set)
}

/// The teacher answers the inputs.
async fn label(
    src: &Sources<'_>,
    templates: &Templates,
    candidate: &str,
    inputs: Vec<Example>,
    progress: &dyn Progress,
) -> Result<teacher::Taught> {
    let c = src.component;
    let teacher = c.candidate(candidate).ok_or_else(|| {
        DistillError::Data(format!(
            "components.{}: no candidate '{candidate}' to teach",
            c.name
        ))
    })?;
    let mut providers: BTreeMap<String, Arc<dyn Provider>> = BTreeMap::new();
    for name in models_called(c, teacher) {
        let model = src.project.models.get(&name).ok_or_else(|| {
            DistillError::Model(format!(
                "teacher '{candidate}': model '{name}' is not defined"
            ))
        })?;
        let p = src
            .providers
            .provider(model)
            .await
            .map_err(|e| DistillError::Model(format!("teacher '{candidate}': {e}")))?;
        providers.insert(name, p);
    }
    let scorer = Scorer::new(c).map_err(DistillError::Data)?;
    // Few-shot teachers show the run's examples, drawn as a run draws them.
    let shots = if teacher.shots.is_some() {
        example::prepare(c, Some(1), src.project.seed)
            .map_err(|e| DistillError::Data(format!("components.{}: {e}", c.name)))?
            .shots
    } else {
        Vec::new()
    };
    let similar = SimilarShots::default();
    let answerer = Answerer {
        component: c,
        models: &src.project.models,
        providers: &providers,
        templates,
        scorer: &scorer,
        shots: &shots,
        similar: &similar,
        store: src.store,
        cache: true,
    };
    let concurrency = src
        .project
        .models
        .get(&teacher.model)
        .map_or(4, |m| m.concurrency);
    progress.start(
        &format!("labelling with {candidate}"),
        Some(inputs.len() as u64),
        0,
        Unit::Items,
    );
    let each = |_: bool| progress.advance(1);
    let taught = teacher::answer_all(&answerer, teacher, inputs, concurrency, &each).await;
    progress.finish();
    Ok(taught)
}

/// Served requests of the component as rows: the answer served (or a shadow's) is the
/// reference, parsed into the contract; a row without one is skipped.
async fn traffic_rows(
    src: &Sources<'_>,
    reference_from: Option<&str>,
    set: &mut TrainingSet,
) -> Result<Vec<Example>> {
    let c = src.component;
    let query = TrafficQuery {
        component: c.name.clone(),
        reference_from: reference_from.map(str::to_owned),
        since: None,
        limit: None,
    };
    let (exported, skipped) = from_traffic(src.store, &query)
        .await
        .map_err(|e| DistillError::Data(format!("reading the traffic log: {e}")))?;
    let scorer = Scorer::new(c).map_err(DistillError::Data)?;
    set.read = exported.len() as u64 + skipped.total();
    set.skipped += skipped.total();
    let tool_call = matches!(c.output, OutputContract::ToolCall { .. });
    let mut rows = Vec::new();
    for row in exported {
        if tool_call {
            match tool_row(row) {
                Ok(e) => rows.push(e),
                Err((id, why)) => set.dropped.push((id, why)),
            }
            continue;
        }
        let parsed = scorer.score(&row.reference, &serde_json::Value::Null);
        let reference = match parsed.parsed {
            _ if parsed.unparseable => {
                set.dropped.push((
                    row.id.clone(),
                    format!("unparseable answer: {:?}", row.reference),
                ));
                continue;
            }
            Some(v) => v,
            None => serde_json::Value::String(row.reference.trim().to_owned()),
        };
        let messages: Vec<Message> = match serde_json::from_value(row.messages) {
            Ok(m) => m,
            Err(e) => {
                set.dropped
                    .push((row.id.clone(), format!("unreadable messages: {e}")));
                continue;
            }
        };
        let mut e = Example::from_conversation(row.id, messages);
        e.reference = reference;
        rows.push(e);
    }
    Ok(rows)
}

/// A `tool_call` teacher's answers (its calls) as references with the functions each input
/// offered; an answer calling a function not offered is dropped with why.
fn with_functions(
    taught: &mut teacher::Taught,
    offered: &BTreeMap<String, Vec<serde_json::Value>>,
) {
    let examples = std::mem::take(&mut taught.examples);
    for mut e in examples {
        let functions = offered.get(&e.id).cloned().unwrap_or_default();
        match tool_call::reference(functions, &e.reference) {
            Ok(r) => {
                e.reference = r;
                taught.examples.push(e);
            }
            Err(why) => taught
                .dropped
                .push((e.id, format!("teacher's calls: {why}"))),
        }
    }
}

/// A `tool_call` component's traffic row as an example: its conversation, and as reference the
/// functions it offered with the reference answer's calls expected (none when it answered in
/// text), as the contract reads an exported row; or the row's id and why it is unusable.
fn tool_row(row: ExportRow) -> std::result::Result<Example, (String, String)> {
    let empty = serde_json::Value::Array(Vec::new());
    let functions = tool_call::functions(row.tools.as_ref().unwrap_or(&empty))
        .map_err(|e| (row.id.clone(), format!("offered tools: {e}")))?;
    let reference = tool_call::reference(functions, row.reference_calls.as_ref().unwrap_or(&empty))
        .map_err(|e| (row.id.clone(), format!("reference calls: {e}")))?;
    let messages = tool_call::messages::conversation(&row.messages)
        .map_err(|e| (row.id.clone(), format!("unreadable messages: {e}")))?;
    let mut e = Example::from_conversation(row.id, messages);
    e.reference = reference;
    Ok(e)
}

/// Where a student's artefact lives, relative to nothing: its directory.
pub fn artefact_dir(student: &Student) -> &Path {
    &student.artefact
}

#[cfg(test)]
mod tests;
