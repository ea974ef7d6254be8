//! A classifier on frozen embeddings: multinomial logistic regression or a one-hidden-layer MLP
//! over standardised features, trained by [`train`] and applied in plain Rust (one matrix-vector
//! product per layer), so serving needs no tensor library.
//!
//! An index: the types and the forward pass are in `model`, training in `train` (which builds on
//! `model`).

mod model;
mod train;

pub use model::{Classifier, MIN_EXAMPLES_PER_LABEL, ModelKind, TrainOptions};
pub(crate) use model::{Dense, argmax};
pub use train::{EpochReport, TrainReport, check_label_counts, train};
