//! What can go wrong in the engine.

use std::path::PathBuf;

use crate::gguf::GgufError;

/// What went wrong in the engine.
#[derive(Debug, Clone, thiserror::Error)]
pub enum EngineError {
    /// The file is not a usable model.
    #[error("{0}")]
    Model(String),
    /// llama.cpp refused the model or context.
    #[error("{path}: llama.cpp could not load the model: {detail}")]
    Load {
        /// The model file.
        path: PathBuf,
        /// What failed.
        detail: String,
    },
    /// A LoRA adapter file cannot be applied to this model.
    #[error("{path}: LoRA adapter: {detail}")]
    Adapter {
        /// The adapter file.
        path: PathBuf,
        /// Why.
        detail: String,
    },
    /// The request cannot be served as asked.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// No chat template could render the conversation.
    #[error("chat template: {0}")]
    Template(String),
    /// A grammar or JSON Schema could not be compiled.
    #[error("grammar: {0}")]
    Grammar(String),
    /// The KV cache could not hold the work.
    #[error("context full: {0}")]
    ContextFull(String),
    /// llama.cpp failed during decoding.
    #[error("decode failed: {0}")]
    Decode(String),
    /// The engine stopped before answering.
    #[error("the engine has stopped")]
    Stopped,
}

impl From<GgufError> for EngineError {
    fn from(e: GgufError) -> Self {
        EngineError::Model(e.to_string())
    }
}
