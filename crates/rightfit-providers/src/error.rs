//! What can go wrong when calling a model.

/// An error from a provider. Each names the provider so that a message can be acted on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProviderError {
    /// The request is not valid for this provider (bad parameters, prompt too long, ...).
    #[error("{provider}: invalid request: {detail}")]
    InvalidRequest {
        /// Which provider.
        provider: String,
        /// What is wrong and how to fix it.
        detail: String,
    },
    /// The provider cannot do this at all.
    #[error("{provider}: {what} is not supported by this provider")]
    Unsupported {
        /// Which provider.
        provider: String,
        /// The missing feature.
        what: &'static str,
    },
    /// The model could not be loaded or reached.
    #[error("{provider}: unavailable: {detail}")]
    Unavailable {
        /// Which provider.
        provider: String,
        /// Why.
        detail: String,
    },
    /// The provider broke its protocol (malformed body, unexpected event).
    #[error("{provider}: protocol error: {detail}")]
    Protocol {
        /// Which provider.
        provider: String,
        /// What was wrong.
        detail: String,
    },
    /// The answer stopped before it was complete.
    #[error("{provider}: the answer was cut short: {detail}")]
    Truncated {
        /// Which provider.
        provider: String,
        /// What happened.
        detail: String,
    },
    /// The model failed while working on the request.
    #[error("{provider}: {detail}")]
    Engine {
        /// Which provider.
        provider: String,
        /// What failed.
        detail: String,
    },
    /// The request was cancelled (the engine shut down, or the caller went away).
    #[error("{provider}: request cancelled")]
    Cancelled {
        /// Which provider.
        provider: String,
    },
}

impl ProviderError {
    /// Whether trying the same request again may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            ProviderError::Unavailable { .. } | ProviderError::Truncated { .. }
        )
    }
}
