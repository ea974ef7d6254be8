//! Where a component's rows, a few-shot pool or a student's training rows are read from.

use std::path::PathBuf;

/// A dataset as the config names it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DatasetConfig {
    /// The file, resolved against the project file's directory.
    pub path: PathBuf,
    /// `jsonl`, `csv`, `tsv`, `json`, `squad`; `None` to infer from the extension.
    pub format: Option<String>,
    /// JSON: field path to the array of records.
    pub records: Option<String>,
    /// CSV/TSV without a header row: the column names.
    pub columns: Option<Vec<String>>,
    /// Field path of the row id.
    pub id: Option<String>,
}
