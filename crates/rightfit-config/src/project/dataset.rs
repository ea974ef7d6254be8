//! Where a component's rows, a few-shot pool or a student's training rows are read from.

use std::path::PathBuf;

/// A dataset as the config names it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DatasetConfig {
    /// The file, resolved against the project file's directory.
    pub path: PathBuf,
    /// `jsonl`, `csv`, `tsv`, `json`, `squad`, `bfcl`; `None` to infer from the extension.
    pub format: Option<String>,
    /// JSON: field path to the array of records.
    pub records: Option<String>,
    /// CSV/TSV without a header row: the column names.
    pub columns: Option<Vec<String>>,
    /// Field path of the row id.
    pub id: Option<String>,
    /// `bfcl` only: BFCL's `possible_answer` file, joined to the questions by `id` (resolved like
    /// `path`); without it every row expects no call (BFCL's irrelevance sets). Left out of the
    /// serialisation when absent, so other datasets keep their run hash.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answers: Option<PathBuf>,
}
