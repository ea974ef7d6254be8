//! What the readers produce and the loader returns: rows, skipped records, the errors that stop
//! a whole file. The readers (one per format) and the loader import these; this module imports
//! none of them.

use std::path::PathBuf;

use serde_json::{Map, Value};

use super::path::FieldPath;

/// One example of a dataset.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Stable id: the `id_field` value, or the record's 1-based position (`"1"`, `"2"`, ...).
    pub id: String,
    /// 1-based line of the file where the record starts.
    pub line: u64,
    /// The record's fields; always a JSON object. CSV/TSV values are strings.
    pub fields: Value,
}

impl Row {
    /// The value at `path` in this row's fields.
    pub fn get(&self, path: &FieldPath) -> Option<&Value> {
        path.get(&self.fields)
    }

    /// The value at `path` as text: a string as is, a number or boolean written out. `None` when
    /// the field is missing, null, an array or an object.
    pub fn text(&self, path: &FieldPath) -> Option<String> {
        match self.get(path)? {
            Value::String(text) => Some(text.clone()),
            Value::Number(number) => Some(number.to_string()),
            Value::Bool(flag) => Some(flag.to_string()),
            Value::Null | Value::Array(_) | Value::Object(_) => None,
        }
    }
}

/// A record that did not become a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// 1-based line where the record starts.
    pub line: u64,
    /// Why it was skipped, for a person to fix the file.
    pub reason: String,
}

/// The largest dataset file read: 2 GiB. A dataset is read whole (and its rows kept) in memory;
/// a larger one is refused before a byte is read rather than exhaust it.
pub const MAX_DATASET_BYTES: u64 = 2 << 30;

/// A dataset file that cannot be read at all.
#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    /// The file could not be opened or read.
    #[error("{}: cannot read the dataset: {source} — check the dataset's path", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The file is larger than [`MAX_DATASET_BYTES`]: it would be read whole into memory.
    #[error(
        "{}: {bytes} bytes is more than a dataset may be ({max} bytes) — sample or split it first",
        path.display(),
        max = MAX_DATASET_BYTES
    )]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size.
        bytes: u64,
    },
    /// The file is not UTF-8 text.
    #[error(
        "{}:{line}:{column}: not UTF-8 text (column counts bytes) — re-save the file as UTF-8",
        path.display()
    )]
    NotUtf8 {
        /// The file.
        path: PathBuf,
        /// 1-based line of the first invalid byte.
        line: u64,
        /// 1-based byte column of the first invalid byte.
        column: u64,
    },
    /// No format was given and the extension does not name one.
    #[error(
        "{}: cannot tell the dataset format from the file name — name it .jsonl, .ndjson, .csv, \
         .tsv or .json, or set the dataset's `format`",
        path.display()
    )]
    UnknownFormat {
        /// The file.
        path: PathBuf,
    },
    /// A whole-file JSON format that is not valid JSON.
    #[error(
        "{}:{line}:{column}: not valid JSON: {message} — fix the file; if it holds one object per \
         line, name it .jsonl or set format = \"jsonl\"",
        path.display()
    )]
    JsonSyntax {
        /// The file.
        path: PathBuf,
        /// 1-based line of the error.
        line: u64,
        /// 1-based column of the error.
        column: u64,
        /// What serde_json reported.
        message: String,
    },
    /// The file is well-formed but not laid out as the format expects.
    #[error("{}: {message}", path.display())]
    Layout {
        /// The file.
        path: PathBuf,
        /// What was expected and what to change.
        message: String,
    },
    /// The spec asks for something that does not apply or does not parse.
    #[error("{}: {message}", path.display())]
    Spec {
        /// The file.
        path: PathBuf,
        /// Which setting is wrong and what to do.
        message: String,
    },
}

/// A record as a reader produced it, before it gets an id.
#[derive(Debug)]
pub(crate) struct Record {
    /// 1-based line where the record starts.
    pub(crate) line: u64,
    /// Its fields, or why it cannot be a row.
    pub(crate) fields: Result<Map<String, Value>, String>,
}

/// "an object", "a string", ... for messages.
pub(crate) fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
