//! Anthropic Messages API.

/// The `anthropic-version` header value sent unless configured otherwise.
pub(crate) const DEFAULT_VERSION: &str = "2023-06-01";

/// The Anthropic protocol.
#[derive(Debug, Clone)]
pub(crate) struct Anthropic {
    /// The `anthropic-version` header.
    pub version: String,
}
