//! Why a component's data could not be prepared.

use crate::dataset;

/// Why a component's data could not be prepared.
#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    /// The dataset could not be read.
    #[error(transparent)]
    Dataset(#[from] dataset::DatasetError),
    /// A field path in the config is malformed.
    #[error("{key}: {message}")]
    Path {
        /// The config key.
        key: String,
        /// What is wrong.
        message: String,
    },
    /// Nothing left to evaluate.
    #[error("{0}")]
    Empty(String),
}
