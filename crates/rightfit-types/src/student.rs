//! What a trained student is and where it came from: the manifest `rightfit distill` writes
//! beside a student's weights, read back by `rightfit students`, the evaluator (which notes it in
//! a run) and the lift table.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The manifest's format; a reader refuses a newer one.
pub const STUDENT_FORMAT: u32 = 1;

/// A trained student's provenance, settings and figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StudentManifest {
    /// [`STUDENT_FORMAT`] when written.
    pub format: u32,
    /// The component it answers for.
    pub component: String,
    /// Its name in the component.
    pub student: String,
    /// `classifier` or `lora`.
    pub kind: String,
    /// When training finished (RFC 3339, UTC).
    pub trained_at: String,
    /// The rightfit version that trained it.
    pub rightfit: String,
    /// The model it stands on: the classifier's embedder, or the LoRA base.
    pub base: BaseModel,
    /// What it learned from.
    pub data: TrainingDataInfo,
    /// Its settings as configured (the student's table, every default filled in).
    pub settings: serde_json::Value,
    /// How training went.
    pub training: TrainingInfo,
    /// Files of the artefact (relative to its directory) and their SHA-256.
    pub files: BTreeMap<String, String>,
}

/// The model under a student.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BaseModel {
    /// Its `[models]` name.
    pub model: String,
    /// The file or directory it was loaded from (local models), or the hosted model id.
    pub source: String,
    /// SHA-256 of its file (local GGUF models), so a student is never served on another base.
    pub sha256: Option<String>,
}

/// Where the training rows came from and what was kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingDataInfo {
    /// The source, in words (`teacher qwen/zero-shot on data/train.csv`).
    pub source: String,
    /// The teacher candidate, when a teacher answered the inputs.
    pub teacher: Option<String>,
    /// Rows read from the source.
    pub read: u64,
    /// Rows the teacher could not answer or whose answer did not parse.
    pub dropped: u64,
    /// Rows refused because the evaluation data holds them too (same id or same input).
    pub refused_overlap: u64,
    /// Rows left out for another reason (too long, no usable reference).
    pub skipped: u64,
    /// Rows trained on.
    pub train: u64,
    /// Rows held out to stop early.
    pub validation: u64,
    /// SHA-256 of the training and validation rows as trained on (ids, inputs, answers).
    pub sha256: String,
    /// What labelling the rows cost (teacher calls), US dollars; `None` when unknown.
    pub labelling_cost_usd: Option<f64>,
}

/// How training went.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingInfo {
    /// Epochs run (early stopping may end before the configured number).
    pub epochs: u32,
    /// The epoch whose weights were kept (the best on the validation rows).
    pub best_epoch: u32,
    /// Figures on the validation rows at the kept epoch (`loss`, `accuracy`, ...).
    pub validation: BTreeMap<String, f64>,
    /// Seconds spent by phase (`label`, `embed`, `tokenize`, `train`).
    pub seconds: BTreeMap<String, f64>,
    /// Training rows processed per second over the training phase.
    pub examples_per_s: f64,
    /// Peak resident memory of the process during training, bytes (Linux), when known.
    pub peak_rss_bytes: Option<u64>,
    /// Whether it resumed from a checkpoint of an interrupted run.
    pub resumed: bool,
}
