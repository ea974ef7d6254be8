//! What a caller gives the runner and hears back: options and errors (progress is
//! `rightfit_types::progress`).

/// What to evaluate.
#[derive(Debug, Clone)]
pub struct EvalOptions {
    /// Sample size (overrides the component's `limit`).
    pub limit: Option<u64>,
    /// Sampling and bootstrap seed (default: the project's).
    pub seed: Option<u64>,
    /// Only these candidates (by name); all when empty.
    pub only: Vec<String>,
    /// Use and fill the response cache.
    pub cache: bool,
    /// Evaluate only this part of the examples, into the run every shard of the same evaluation
    /// shares (see `runner::sharded`); `None`: all of them, into a run of its own.
    pub shard: Option<crate::shard::Shard>,
}

impl Default for EvalOptions {
    fn default() -> Self {
        Self {
            limit: None,
            seed: None,
            only: Vec::new(),
            cache: true,
            shard: None,
        }
    }
}

/// Why a run could not go on.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// The data could not be prepared.
    #[error(transparent)]
    Prepare(#[from] crate::example::PrepareError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] rightfit_store::StoreError),
    /// A model could not be built.
    #[error(transparent)]
    Build(#[from] rightfit_registry::BuildError),
    /// Something about the request is wrong (unknown candidate, changed config on resume...).
    #[error("{0}")]
    Invalid(String),
}
