//! The one error type of the crate: every variant names the file or the input it is about.

use std::path::PathBuf;

/// What went wrong while loading, training or writing.
#[derive(Debug, thiserror::Error)]
pub enum DistillError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A GGUF file is unreadable or lacks what this crate needs.
    #[error("{path}: {detail}")]
    Gguf {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// The base model is a valid GGUF but not one this trainer can train.
    #[error("{path}: cannot fine-tune this model: {detail}")]
    Unsupported {
        /// The base model file.
        path: PathBuf,
        /// Why.
        detail: String,
    },
    /// An adapter does not fit its base model (or is not an adapter).
    #[error("{path}: {detail}")]
    Adapter {
        /// The adapter file.
        path: PathBuf,
        /// What does not match.
        detail: String,
    },
    /// A checkpoint does not belong to this run (other base, other LoRA settings) or is damaged.
    #[error("{path}: checkpoint: {detail}")]
    Checkpoint {
        /// The checkpoint file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// Training settings that cannot work (rank 0, no target projections, ...).
    #[error("invalid settings: {0}")]
    Settings(String),
    /// An example or batch that cannot be trained on.
    #[error("invalid example: {0}")]
    Example(String),
    /// A student's directory holds something that is not what its manifest says (a missing or
    /// changed file, an unreadable manifest).
    #[error("{path}: {detail}")]
    Artefact {
        /// The file.
        path: PathBuf,
        /// What is wrong and what to do.
        detail: String,
    },
    /// A student's training data cannot be used (a source that cannot be read, too few rows, a
    /// teacher whose every answer failed to parse); says which student and what to change.
    #[error("{0}")]
    Data(String),
    /// A model the student needs (its teacher, embedder or base) could not be built or called.
    #[error("{0}")]
    Model(String),
    /// Training was stopped (Ctrl-C); the last checkpoint is kept and the next run resumes it.
    #[error("stopped: {0}")]
    Stopped(String),
    /// A tensor operation failed (a bug, or memory exhausted).
    #[error("tensor computation: {0}")]
    Tensor(#[from] candle_core::Error),
}

/// The crate's result type.
pub type Result<T, E = DistillError> = std::result::Result<T, E>;

pub(crate) fn gguf_err(path: &std::path::Path, detail: impl std::fmt::Display) -> DistillError {
    DistillError::Gguf {
        path: path.to_owned(),
        detail: detail.to_string(),
    }
}

pub(crate) fn io_err(path: &std::path::Path, source: std::io::Error) -> DistillError {
    DistillError::Io {
        path: path.to_owned(),
        source,
    }
}
