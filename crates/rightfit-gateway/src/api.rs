//! Which API a request came in on; it decides the shape of the answer and of its errors.

/// The API a request came in on, and so the shape of its answer and errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Api {
    /// OpenAI Chat Completions (`POST /v1/chat/completions`).
    OpenAi,
    /// Anthropic Messages (`POST /v1/messages`).
    Anthropic,
}

impl Api {
    /// `openai` or `anthropic`, for logs, metrics and traffic records.
    pub fn as_str(self) -> &'static str {
        match self {
            Api::OpenAi => "openai",
            Api::Anthropic => "anthropic",
        }
    }
}
