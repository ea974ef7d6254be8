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
    /// The key was refused (HTTP 401) or does not allow this (HTTP 403).
    #[error("{provider}: {status}: {message}")]
    Auth {
        /// Which provider and model.
        provider: String,
        /// 401 or 403.
        status: u16,
        /// The server's message (any key in it redacted) and what to do.
        message: String,
    },
    /// The model (or endpoint) does not exist there (HTTP 404).
    #[error("{provider}: 404 not found: {message}")]
    NotFound {
        /// Which provider and model.
        provider: String,
        /// The server's message and what to do.
        message: String,
    },
    /// Too many requests (HTTP 429, or the provider's overload signal).
    #[error("{provider}: rate limited{}: {message}", retry_after.map(|d| format!(" (retry after {:.1} s)", d.as_secs_f64())).unwrap_or_default())]
    RateLimited {
        /// Which provider and model.
        provider: String,
        /// How long the server asked us to wait (`Retry-After`).
        retry_after: Option<std::time::Duration>,
        /// The server's message.
        message: String,
    },
    /// The server failed (HTTP 5xx, or an error event in the middle of a stream).
    #[error("{provider}: server error {status}: {message}")]
    Server {
        /// Which provider and model.
        provider: String,
        /// The HTTP status (0 for an error event inside a stream).
        status: u16,
        /// The server's message.
        message: String,
    },
    /// No answer in time.
    #[error("{provider}: timed out {phase} after {:.1} s", after.as_secs_f64())]
    Timeout {
        /// Which provider and model.
        provider: String,
        /// `connecting`, `waiting for the first byte`, or `before the answer was complete`.
        phase: &'static str,
        /// The limit that was reached.
        after: std::time::Duration,
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
            ProviderError::Unavailable { .. }
                | ProviderError::Truncated { .. }
                | ProviderError::RateLimited { .. }
                | ProviderError::Server { .. }
                | ProviderError::Timeout { .. }
        )
    }

    /// How long the server asked the caller to wait before trying again.
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        match self {
            ProviderError::RateLimited { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}
