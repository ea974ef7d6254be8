//! What differs between protocols: URLs, headers, body shapes, stream events and error bodies.
//!
//! A [`Codec`] is pure: it turns a [`ChatRequest`] into a URL, headers and a JSON body, and the
//! server's JSON (whole, or one SSE event at a time) back into rightfit's types. The transport in
//! [`super`] does the I/O, timeouts, retries and rate limits once for every protocol.
//!
//! Embeddings are a separate, smaller trait ([`EmbeddingCodec`]), reached through
//! [`Codec::embeddings`]: not every protocol has them (Anthropic has none).

use rightfit_config::Secret;
use rightfit_types::{ChatRequest, Choice, Message, Role, StreamEvent, Usage};
use serde_json::Value;

use super::sse::SseEvent;

/// One protocol's wire format.
pub(crate) trait Codec: Send + Sync + std::fmt::Debug {
    /// The provider kind as config spells it (`openai`, `anthropic`, `gemini`, `openai-compatible`).
    fn kind(&self) -> &'static str;

    /// The URL of a chat request. `base_url` has no trailing slash and is what the user
    /// configured or the protocol's default (`https://api.openai.com/v1`,
    /// `https://api.anthropic.com`, `https://generativelanguage.googleapis.com/v1beta`).
    fn chat_url(&self, base_url: &str, model: &str, stream: bool) -> String;

    /// Headers to send with every request (key, protocol version); `Content-Type:
    /// application/json` is added by the transport.
    fn headers(&self, key: Option<&Secret>) -> Vec<(&'static str, String)>;

    /// The JSON body of a chat request. `Err` holds what is wrong with the request for this
    /// protocol (it becomes `ProviderError::InvalidRequest`).
    fn chat_body(
        &self,
        model: &str,
        request: &ChatRequest,
        stream: bool,
    ) -> Result<serde_json::Value, String>;

    /// Reads a whole (non-streamed) successful response body. `Err` says what was malformed.
    fn parse_chat(&self, body: serde_json::Value) -> Result<Parsed, String>;

    /// A decoder for one streamed response to a request for `n` choices.
    fn decoder(&self, n: u32) -> Box<dyn Decoder>;

    /// Reads a whole response to `request`. Protocols whose reading depends on what was asked
    /// (Anthropic: a `tool_use` block is the JSON output of a forced tool, or a tool call)
    /// override this; the others read it as [`Codec::parse_chat`] does.
    fn parse_reply(&self, body: Value, _request: &ChatRequest) -> Result<Parsed, String> {
        self.parse_chat(body)
    }

    /// A decoder for one streamed response to `request` (see [`Codec::parse_reply`]).
    fn stream_decoder(&self, request: &ChatRequest) -> Box<dyn Decoder> {
        self.decoder(request.n.max(1))
    }

    /// The message and type of an error body in this protocol's shape; `None` when the body is
    /// not one (an HTML page from a proxy, say).
    fn error_body(&self, body: &[u8]) -> Option<ErrorBody>;

    /// The protocol's embeddings API, or `Err(what)`: what cannot be done and what to use
    /// instead, for `ProviderError::Unsupported`.
    fn embeddings(&self) -> Result<&dyn EmbeddingCodec, &'static str> {
        Err("embeddings")
    }
}

/// One protocol's embeddings endpoint: pure, like [`Codec`].
pub(crate) trait EmbeddingCodec: Send + Sync {
    /// The URL of an embeddings request (`base_url` as in [`Codec::chat_url`]).
    fn embed_url(&self, base_url: &str, model: &str) -> String;

    /// The JSON body that asks for one vector per input, as floats.
    fn embed_body(&self, model: &str, inputs: &[String]) -> Value;

    /// Reads a successful response: the vectors in input order. The transport checks that
    /// there is one per input, all of one length. `Err` says what was malformed.
    fn parse_embeddings(&self, body: Value) -> Result<Embedded, String>;

    /// The most inputs one request may carry; longer lists are sent in several requests.
    fn max_inputs(&self) -> usize;
}

/// A whole embeddings response, read.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Embedded {
    /// One vector per input, in input order.
    pub vectors: Vec<Vec<f32>>,
    /// Tokens read, when the server reported them.
    pub prompt_tokens: Option<u32>,
}

/// A JSON array of numbers as a vector. `Err` is a suffix for a path (`: expected ...`).
pub(crate) fn float_vector(value: &Value) -> Result<Vec<f32>, String> {
    let Value::Array(items) = value else {
        let hint = if value.is_string() {
            " (a base64 string: the request asked for floats)"
        } else {
            ""
        };
        return Err(format!(": expected an array of numbers{hint}"));
    };
    items
        .iter()
        .enumerate()
        .map(|(i, x)| {
            x.as_f64()
                .map(|x| x as f32)
                .filter(|x| x.is_finite())
                .ok_or_else(|| format!("[{i}]: expected a finite number, got {x}"))
        })
        .collect()
}

/// A whole response, read.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Parsed {
    /// The provider's id for the response, when it sent one.
    pub id: Option<String>,
    /// The choices, ordered by index, with their logprobs when present.
    pub choices: Vec<Choice>,
    /// Token counts, when the server reported them.
    pub usage: Option<Usage>,
}

/// An error body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ErrorBody {
    /// The human-readable message.
    pub message: String,
    /// The error's type or code (`invalid_request_error`, `model_not_found`,
    /// `overloaded_error`, `RESOURCE_EXHAUSTED`, ...), when given.
    pub kind: Option<String>,
}

/// Turns one response's SSE events into rightfit's stream events.
pub(crate) trait Decoder: Send {
    /// Reads one SSE event. Returns the [`StreamEvent`]s it completes (possibly none).
    /// [`StreamEvent::Done`] must be the last one returned, once the protocol's end marker has
    /// been read; its `timings` are filled in by the transport, so leave them default. Usage the
    /// server did not report is `Usage::default()`.
    fn event(&mut self, event: &SseEvent) -> Result<Vec<StreamEvent>, StreamFault>;

    /// The connection ended (cleanly) before `Done` was returned. Return the last events when
    /// the protocol allows a stream without an end marker (OpenAI-compatible servers that omit
    /// `[DONE]` once every choice has finished), or `StreamFault::Truncated`.
    fn end(&mut self) -> Result<Vec<StreamEvent>, StreamFault>;
}

/// Why a stream could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StreamFault {
    /// An event that does not fit the protocol (bad JSON, unknown shape, wrong order).
    Protocol(String),
    /// The stream stopped before the protocol's end marker.
    Truncated(String),
    /// The server sent an error inside the stream.
    Upstream {
        /// Its message.
        message: String,
        /// Its type (`overloaded_error`, `rate_limit_error`, `api_error`, ...).
        kind: Option<String>,
    },
}

/// Splits a conversation for APIs that take the system prompt in a field of its own: the system
/// messages joined with a blank line (`None` when there are none), and the other turns in order.
pub(crate) fn split_system(messages: &[Message]) -> (Option<String>, Vec<&Message>) {
    let (system, turns): (Vec<&Message>, Vec<&Message>) =
        messages.iter().partition(|m| m.role == Role::System);
    let system = (!system.is_empty()).then(|| {
        system
            .iter()
            .map(|m| m.content.as_str())
            .collect::<Vec<_>>()
            .join("\n\n")
    });
    (system, turns)
}

/// An `f32` setting as the JSON number a person would write: `0.7`, not the `0.699999988079071`
/// that widening the `f32` to `f64` gives.
pub(crate) fn json_number(x: f32) -> serde_json::Value {
    x.to_string().parse::<f64>().map_or_else(
        |_| serde_json::Value::from(f64::from(x)),
        serde_json::Value::from,
    )
}
