//! Students for label contracts (issue 20): a small classifier trained on frozen sentence
//! embeddings, and the embedding model it reads.
//!
//! - [`SentenceEmbedder`]: all-MiniLM-L6-v2 (BERT, 6 layers, 384 dimensions, mean pooling, L2
//!   normalisation) run in candle on the CPU, tokenized by the `tokenizers` crate from the model's
//!   `tokenizer.json`; a [`Provider`](rightfit_providers::Provider) with embeddings only.
//! - [`classifier`]: multinomial logistic regression or a one-hidden-layer MLP, trained by
//!   [`train`] (standardised features, mini-batch Adam, L2, seeded, early stopping on a
//!   validation split) and applied in plain Rust.
//! - [`artefact`]: a trained classifier on disk (JSON manifest with provenance, plus weights),
//!   written atomically and read back with located errors.
//! - [`ClassifierProvider`]: a classifier served as a `Provider` over any embedding provider:
//!   chat answers the most probable label with ln P as its token log-probability; log-likelihood
//!   requests score each label.
//!
//! Talks to: `rightfit-types` (requests and responses) and `rightfit-providers` (the trait). The
//! registry, the CLI and the evaluator build on it; it depends on none of them. The model
//! directory comes from `rightfit-llama`'s store (`rightfit models pull all-minilm-l6-v2`).

pub mod artefact;
mod bert;
pub mod classifier;
mod embedder;
mod error;
mod measure;
mod provider;

pub use artefact::{Artefact, ArtefactInfo, EmbedderRef, Provenance};
pub use bert::BertConfig;
pub use classifier::{
    Classifier, EpochReport, MIN_EXAMPLES_PER_LABEL, ModelKind, TrainOptions, TrainReport,
    check_label_counts, train,
};
pub use embedder::{EmbedderOptions, SentenceEmbedder};
pub use error::StudentError;
pub use measure::{file_sha256, peak_rss_bytes};
pub use provider::{ClassifierProvider, InputFn};
