//! Google Gemini API (`generateContent`, `streamGenerateContent?alt=sse`).

/// The Gemini protocol.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Gemini;
