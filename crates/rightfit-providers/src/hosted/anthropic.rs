//! Anthropic Messages API (`POST /v1/messages`).
//!
//! Decisions worth knowing:
//! - The API has no `n`, no log-probabilities and no raw completion: requests for them are
//!   refused rather than silently answered with less. `seed` is a hint and is dropped.
//! - `max_tokens` is required by the API; [`DEFAULT_MAX_TOKENS`] is sent when the request
//!   leaves it open.
//! - Greedy decoding sends `temperature: 0` alone: `top_p`/`top_k` change nothing then, and
//!   recent models refuse `temperature` together with `top_p`.
//! - JSON output (`json_object`, `json_schema`) is asked for with one tool whose input schema is
//!   the wanted schema and a `tool_choice` that forces it; the tool's input comes back as the
//!   choice's text (compact JSON; keys of a whole response come back sorted, since the body is
//!   read as a `serde_json::Value`; a stream passes the model's JSON through as written).
//! - Content blocks are concatenated in order; `thinking` and unknown blocks are skipped.

use rightfit_config::Secret;
use rightfit_types::{ChatRequest, Choice, FinishReason, Prompt, ResponseFormat, ToolCall, Usage};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::codec::{Codec, Decoder, EmbeddingCodec, ErrorBody, Parsed, json_number, split_system};

/// The `anthropic-version` header value sent unless configured otherwise.
pub(crate) const DEFAULT_VERSION: &str = "2023-06-01";

/// `max_tokens` sent when the request does not set one (the API requires it).
pub(crate) const DEFAULT_MAX_TOKENS: u32 = 4096;

/// The name of the forced tool that carries JSON output when the schema has no name.
const JSON_TOOL_NAME: &str = "respond";

/// The description of that tool.
const JSON_TOOL_DESCRIPTION: &str = "Respond with the answer as this tool's input.";

/// The Anthropic protocol.
#[derive(Debug, Clone)]
pub(crate) struct Anthropic {
    /// The `anthropic-version` header.
    pub version: String,
}

impl Default for Anthropic {
    fn default() -> Self {
        Self {
            version: DEFAULT_VERSION.to_owned(),
        }
    }
}

impl Codec for Anthropic {
    fn kind(&self) -> &'static str {
        "anthropic"
    }

    fn chat_url(&self, base_url: &str, _model: &str, _stream: bool) -> String {
        let base = base_url.trim_end_matches('/');
        if base.ends_with("/v1") {
            format!("{base}/messages")
        } else {
            format!("{base}/v1/messages")
        }
    }

    fn headers(&self, key: Option<&Secret>) -> Vec<(&'static str, String)> {
        let mut headers = Vec::with_capacity(2);
        if let Some(key) = key {
            headers.push(("x-api-key", key.expose().to_owned()));
        }
        headers.push(("anthropic-version", self.version.clone()));
        headers
    }

    fn chat_body(&self, model: &str, request: &ChatRequest, stream: bool) -> Result<Value, String> {
        let Prompt::Messages(messages) = &request.prompt else {
            return Err("Anthropic's Messages API has no raw text completion; \
                        send the prompt as messages"
                .into());
        };
        if request.n == 0 {
            return Err("n = 0: ask for at least one choice".into());
        }
        if request.n > 1 {
            return Err(format!(
                "n = {}: Anthropic's Messages API has no `n` and returns one choice per request; \
                 send {} requests instead",
                request.n, request.n
            ));
        }
        if request.logprobs.is_some() {
            return Err(
                "Anthropic's Messages API does not return log-probabilities; \
                        leave `logprobs` unset for this provider"
                    .into(),
            );
        }

        let (system, turns) = split_system(messages);
        let turns = tools::turns(&turns)?;
        if turns.is_empty() {
            return Err(
                "the conversation has no user or assistant message; Anthropic needs at \
                        least one (system messages go to `system`)"
                    .into(),
            );
        }

        let mut body = Map::new();
        body.insert("model".into(), model.into());
        if let Some(system) = system {
            body.insert("system".into(), system.into());
        }
        body.insert("messages".into(), turns.into());
        body.insert(
            "max_tokens".into(),
            request.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS).into(),
        );
        let sampling = &request.sampling;
        match sampling.temperature {
            Some(t) if !sampling.is_greedy() => {
                body.insert("temperature".into(), json_number(t));
                if let Some(top_p) = sampling.top_p {
                    body.insert("top_p".into(), json_number(top_p));
                }
                if let Some(top_k) = sampling.top_k {
                    body.insert("top_k".into(), top_k.into());
                }
            }
            // Greedy: top_p and top_k change nothing then, and recent models refuse a request
            // that sets both temperature and top_p, so only the temperature goes.
            _ => {
                body.insert("temperature".into(), json_number(0.0));
            }
        }
        if !request.stop.is_empty() {
            body.insert("stop_sequences".into(), request.stop.clone().into());
        }
        if stream {
            body.insert("stream".into(), true.into());
        }
        if !request.tools.is_empty() && json_output(request) {
            return Err(
                "Anthropic carries JSON output (response_format json_object/json_schema) as a \
                 forced tool, which cannot be combined with the request's own tools; ask for \
                 text, or add the output schema as one more tool"
                    .into(),
            );
        }
        tools::insert_tools(&mut body, request)?;
        match &request.response_format {
            ResponseFormat::Text => {}
            ResponseFormat::JsonObject => force_tool(&mut body, "", &json!({"type": "object"}))?,
            ResponseFormat::JsonSchema { name, schema, .. } => force_tool(&mut body, name, schema)?,
            ResponseFormat::Grammar { .. } => {
                return Err(
                    "GBNF grammars work with the embedded engine only; Anthropic can \
                            constrain output by a JSON Schema (response_format json_schema)"
                        .into(),
                );
            }
        }
        Ok(Value::Object(body))
    }

    /// Reads a message as the answer to a JSON-output request (a `tool_use` block is the JSON
    /// text); [`Codec::parse_reply`] reads tool calls when the request asked for text.
    fn parse_chat(&self, body: Value) -> Result<Parsed, String> {
        read_message(body, true)
    }

    fn parse_reply(&self, body: Value, request: &ChatRequest) -> Result<Parsed, String> {
        read_message(body, json_output(request))
    }

    fn decoder(&self, _n: u32) -> Box<dyn Decoder> {
        Box::new(AnthropicDecoder::new(true))
    }

    fn stream_decoder(&self, request: &ChatRequest) -> Box<dyn Decoder> {
        Box::new(AnthropicDecoder::new(json_output(request)))
    }

    fn error_body(&self, body: &[u8]) -> Option<ErrorBody> {
        let value: Value = serde_json::from_slice(body).ok()?;
        error_of(&value)
    }

    fn embeddings(&self) -> Result<&dyn EmbeddingCodec, &'static str> {
        Err(
            "embeddings (Anthropic has no embeddings API: configure an embeddings model with \
             provider openai, openai-compatible or gemini; Anthropic recommends Voyage AI's, \
             reachable as openai-compatible)",
        )
    }
}

/// Whether the request asks for JSON output, which Anthropic carries as a forced tool whose
/// `tool_use` input is the answer's text.
fn json_output(request: &ChatRequest) -> bool {
    matches!(
        request.response_format,
        ResponseFormat::JsonObject | ResponseFormat::JsonSchema { .. }
    )
}

/// Reads a whole message. With `json_output`, `tool_use` input is the choice's text; otherwise
/// `tool_use` blocks are the choice's tool calls.
fn read_message(body: Value, json_output: bool) -> Result<Parsed, String> {
    if body.get("type").and_then(Value::as_str) == Some("error") {
        let message = error_of(&body).map_or_else(|| body.to_string(), |e| e.message);
        return Err(format!(
            "the response is an error, not a message: {message}"
        ));
    }
    let message: WireMessage =
        serde_json::from_value(body).map_err(|e| format!("not an Anthropic message: {e}"))?;
    let mut text = String::new();
    let mut tool_calls = Vec::new();
    for (i, block) in message.content.iter().enumerate() {
        if block.kind == "tool_use" && !json_output {
            tool_calls.push(tool_call(block).map_err(|e| format!("content[{i}]: {e}"))?);
        } else {
            block_text(block, &mut text).map_err(|e| format!("content[{i}]: {e}"))?;
        }
    }
    let finish_reason = message
        .stop_reason
        .as_deref()
        .map_or(FinishReason::Stop, |r| finish_reason(r, json_output));
    Ok(Parsed {
        id: message.id,
        choices: vec![Choice {
            tool_calls,
            index: 0,
            text,
            finish_reason,
            logprobs: None,
        }],
        usage: message.usage.map(|u| u.to_usage()),
    })
}

/// A `tool_use` block as a call: its input object becomes the arguments' JSON text.
fn tool_call(block: &WireBlock) -> Result<ToolCall, String> {
    let id = block
        .id
        .clone()
        .filter(|id| !id.is_empty())
        .ok_or("a tool_use block without `id`")?;
    let name = block
        .name
        .clone()
        .filter(|n| !n.is_empty())
        .ok_or_else(|| format!("tool_use block {id} without a `name`"))?;
    let input = block
        .input
        .as_ref()
        .ok_or_else(|| format!("tool_use block {id} ({name}) without `input`"))?;
    Ok(ToolCall {
        id,
        name,
        arguments: input.to_string(),
    })
}

/// Adds the tool that carries JSON output and forces the model to call it.
fn force_tool(body: &mut Map<String, Value>, name: &str, schema: &Value) -> Result<(), String> {
    let name = if name.is_empty() {
        JSON_TOOL_NAME
    } else {
        name
    };
    let name_ok = name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if !name_ok {
        return Err(format!(
            "json_schema name {name:?}: Anthropic carries JSON output as a tool, whose name may \
             only hold letters, digits, '_' and '-' (at most 64); rename the schema"
        ));
    }
    match schema.get("type") {
        None => {}
        Some(Value::String(t)) if t == "object" => {}
        Some(other) => {
            return Err(format!(
                "json_schema {name:?} has type {other}: Anthropic carries JSON output as a tool's \
                 input, which must be an object; wrap the value in an object property"
            ));
        }
    }
    if !schema.is_object() {
        return Err(format!(
            "json_schema {name:?}: the schema must be a JSON object"
        ));
    }
    body.insert(
        "tools".into(),
        json!([{
            "name": name,
            "description": JSON_TOOL_DESCRIPTION,
            "input_schema": schema,
        }]),
    );
    body.insert("tool_choice".into(), json!({"type": "tool", "name": name}));
    Ok(())
}

/// The rightfit spelling of a `stop_reason`. Values this code does not know (the API adds
/// some now and then) count as a normal stop; so does `tool_use` when the tool was the forced
/// one that carries JSON output (`json_output`).
fn finish_reason(reason: &str, json_output: bool) -> FinishReason {
    match reason {
        "max_tokens" | "model_context_window_exceeded" => FinishReason::Length,
        "refusal" => FinishReason::ContentFilter,
        "tool_use" if !json_output => FinishReason::ToolCalls,
        // end_turn, stop_sequence, the forced JSON tool, pause_turn, and new ones.
        _ => FinishReason::Stop,
    }
}

/// The message and type of an `{"type": "error", "error": {"type", "message"}}` value.
fn error_of(value: &Value) -> Option<ErrorBody> {
    let error = value.get("error")?;
    let message = error.get("message")?.as_str()?.to_owned();
    let kind = error.get("type").and_then(Value::as_str).map(str::to_owned);
    Some(ErrorBody { message, kind })
}

/// Appends what a content block contributes to the choice's text.
fn block_text(block: &WireBlock, text: &mut String) -> Result<(), String> {
    match block.kind.as_str() {
        "text" => {
            let t = block.text.as_deref().ok_or("a text block without `text`")?;
            text.push_str(t);
        }
        "tool_use" => {
            let input = block
                .input
                .as_ref()
                .ok_or("a tool_use block without `input`")?;
            let json = serde_json::to_string(input).map_err(|e| e.to_string())?;
            text.push_str(&json);
        }
        // thinking, redacted_thinking and block types added later carry no answer text.
        _ => {}
    }
    Ok(())
}

/// A whole response, as far as rightfit reads it.
#[derive(Debug, Deserialize)]
struct WireMessage {
    id: Option<String>,
    content: Vec<WireBlock>,
    stop_reason: Option<String>,
    usage: Option<WireUsage>,
}

/// One content block.
#[derive(Debug, Deserialize)]
struct WireBlock {
    #[serde(rename = "type")]
    kind: String,
    text: Option<String>,
    /// A `tool_use` block's call id.
    id: Option<String>,
    /// A `tool_use` block's function.
    name: Option<String>,
    input: Option<Value>,
}

/// Token counts; the cache fields are absent or `null` when no cache was involved.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
struct WireUsage {
    input_tokens: Option<u32>,
    output_tokens: Option<u32>,
    cache_creation_input_tokens: Option<u32>,
    cache_read_input_tokens: Option<u32>,
}

impl WireUsage {
    /// Fields set in `later` replace these (stream usage is cumulative).
    fn update(&mut self, later: &WireUsage) {
        self.input_tokens = later.input_tokens.or(self.input_tokens);
        self.output_tokens = later.output_tokens.or(self.output_tokens);
        self.cache_creation_input_tokens = later
            .cache_creation_input_tokens
            .or(self.cache_creation_input_tokens);
        self.cache_read_input_tokens = later
            .cache_read_input_tokens
            .or(self.cache_read_input_tokens);
    }

    /// `input_tokens` excludes cached tokens, so the prompt is the sum of all three.
    fn to_usage(self) -> Usage {
        let read = self.cache_read_input_tokens.unwrap_or(0);
        Usage {
            prompt_tokens: self.input_tokens.unwrap_or(0)
                + self.cache_creation_input_tokens.unwrap_or(0)
                + read,
            completion_tokens: self.output_tokens.unwrap_or(0),
            cached_prompt_tokens: read,
        }
    }
}

#[path = "anthropic_stream.rs"]
mod stream;
#[path = "anthropic_tools.rs"]
mod tools;

use stream::AnthropicDecoder;

#[cfg(test)]
#[path = "anthropic_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "anthropic_stream_tests.rs"]
mod stream_tests;
