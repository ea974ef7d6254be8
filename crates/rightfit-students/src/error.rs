//! What can go wrong when loading a model, training a classifier, or reading an artefact.

use std::path::PathBuf;

/// An error from this crate. Each names the file, row or field it is about, and what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StudentError {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A model directory is missing a file or holds something unusable.
    #[error("{path}: {detail}")]
    Model {
        /// The file.
        path: PathBuf,
        /// What is wrong and what to do.
        detail: String,
    },
    /// The tensor library failed while running the model.
    #[error("running {model}: {detail}")]
    Compute {
        /// The model.
        model: String,
        /// What failed.
        detail: String,
    },
    /// The training data cannot train a classifier; nothing was trained.
    #[error("training data: {0}")]
    Data(String),
    /// A training option is out of range.
    #[error("training option {option}: {detail}")]
    Option {
        /// The option's name.
        option: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// A classifier artefact is corrupt, of another format version, or does not fit its use.
    #[error("{path}: {detail}")]
    Artefact {
        /// The artefact's file (manifest or weights).
        path: PathBuf,
        /// What is wrong and what to do.
        detail: String,
    },
    /// An input does not fit the classifier (wrong dimensions, NaN).
    #[error("input: {0}")]
    Input(String),
}

impl StudentError {
    pub(crate) fn compute(model: &str, e: impl std::fmt::Display) -> Self {
        StudentError::Compute {
            model: model.to_owned(),
            detail: e.to_string(),
        }
    }
}
