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
use rightfit_types::{
    ChatRequest, Choice, FinishReason, Prompt, ResponseFormat, StreamEvent, Timings, Usage,
};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::codec::{
    Codec, Decoder, EmbeddingCodec, ErrorBody, Parsed, StreamFault, json_number, split_system,
};
use super::sse::SseEvent;

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
        let turns: Vec<Value> = turns
            .into_iter()
            .map(|m| json!({ "role": m.role.as_str(), "content": m.content }))
            .collect();
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

    fn parse_chat(&self, body: Value) -> Result<Parsed, String> {
        if body.get("type").and_then(Value::as_str) == Some("error") {
            let message = error_of(&body).map_or_else(|| body.to_string(), |e| e.message);
            return Err(format!(
                "the response is an error, not a message: {message}"
            ));
        }
        let message: WireMessage =
            serde_json::from_value(body).map_err(|e| format!("not an Anthropic message: {e}"))?;
        let mut text = String::new();
        for (i, block) in message.content.iter().enumerate() {
            block_text(block, &mut text).map_err(|e| format!("content[{i}]: {e}"))?;
        }
        let finish_reason = message
            .stop_reason
            .as_deref()
            .map_or(FinishReason::Stop, finish_reason);
        Ok(Parsed {
            id: message.id,
            choices: vec![Choice {
                tool_calls: Vec::new(),
                index: 0,
                text,
                finish_reason,
                logprobs: None,
            }],
            usage: message.usage.map(|u| u.to_usage()),
        })
    }

    fn decoder(&self, _n: u32) -> Box<dyn Decoder> {
        Box::new(AnthropicDecoder::default())
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
/// some now and then) count as a normal stop.
fn finish_reason(reason: &str) -> FinishReason {
    match reason {
        "max_tokens" | "model_context_window_exceeded" => FinishReason::Length,
        "refusal" => FinishReason::ContentFilter,
        // end_turn, stop_sequence, tool_use (the forced JSON tool), pause_turn, and new ones.
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

/// Where a stream is.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Before `message_start`.
    #[default]
    Waiting,
    /// Between `message_start` and `message_stop`.
    Open,
    /// After `message_stop` (`Done` was returned).
    Done,
}

/// The content block being streamed.
#[derive(Debug, Clone, PartialEq, Eq)]
struct OpenBlock {
    index: u64,
    kind: String,
}

/// Reads one streamed message.
#[derive(Debug, Default)]
struct AnthropicDecoder {
    stage: Stage,
    block: Option<OpenBlock>,
    stop_reason: Option<FinishReason>,
    usage: WireUsage,
}

/// Parses a part of an event's data, naming the event when it does not fit.
fn field<T: for<'de> Deserialize<'de>>(
    data: &Value,
    key: &str,
    event: &str,
) -> Result<T, StreamFault> {
    let value = data.get(key).cloned().unwrap_or(Value::Null);
    serde_json::from_value(value)
        .map_err(|e| StreamFault::Protocol(format!("{event} event: `{key}`: {e}")))
}

impl AnthropicDecoder {
    fn require(&self, stage: Stage, event: &str) -> Result<(), StreamFault> {
        if self.stage == stage {
            return Ok(());
        }
        let why = match self.stage {
            Stage::Waiting => "before message_start",
            Stage::Open => "after message_start",
            Stage::Done => "after message_stop",
        };
        Err(StreamFault::Protocol(format!("{event} event {why}")))
    }

    fn block_start(&mut self, data: &Value) -> Result<Vec<StreamEvent>, StreamFault> {
        const EVENT: &str = "content_block_start";
        self.require(Stage::Open, EVENT)?;
        if let Some(open) = &self.block {
            return Err(StreamFault::Protocol(format!(
                "{EVENT} event while content block {} is still open",
                open.index
            )));
        }
        let index: u64 = field(data, "index", EVENT)?;
        let block: WireBlock = field(data, "content_block", EVENT)?;
        let mut out = Vec::new();
        // A text block starts empty in practice; should it not, its text is the first delta.
        if block.kind == "text"
            && let Some(text) = block.text.filter(|t| !t.is_empty())
        {
            out.push(StreamEvent::Delta { index: 0, text });
        }
        self.block = Some(OpenBlock {
            index,
            kind: block.kind,
        });
        Ok(out)
    }

    fn block_delta(&mut self, data: &Value) -> Result<Vec<StreamEvent>, StreamFault> {
        const EVENT: &str = "content_block_delta";
        self.require(Stage::Open, EVENT)?;
        let index: u64 = field(data, "index", EVENT)?;
        if self.block.as_ref().is_none_or(|b| b.index != index) {
            return Err(StreamFault::Protocol(format!(
                "{EVENT} event for content block {index}, which is not open"
            )));
        }
        let delta: Value = field(data, "delta", EVENT)?;
        let key = match delta.get("type").and_then(Value::as_str) {
            Some("text_delta") => "text",
            Some("input_json_delta") => "partial_json",
            // thinking_delta, signature_delta and delta types added later carry no answer.
            Some(_) => return Ok(Vec::new()),
            None => {
                return Err(StreamFault::Protocol(format!(
                    "{EVENT} event: a delta without `type`: {delta}"
                )));
            }
        };
        let text: String = field(&delta, key, EVENT)?;
        if text.is_empty() {
            return Ok(Vec::new());
        }
        Ok(vec![StreamEvent::Delta { index: 0, text }])
    }

    fn block_stop(&mut self, data: &Value) -> Result<Vec<StreamEvent>, StreamFault> {
        const EVENT: &str = "content_block_stop";
        self.require(Stage::Open, EVENT)?;
        let index: u64 = field(data, "index", EVENT)?;
        if self.block.as_ref().is_none_or(|b| b.index != index) {
            return Err(StreamFault::Protocol(format!(
                "{EVENT} event for content block {index}, which is not open"
            )));
        }
        self.block = None;
        Ok(Vec::new())
    }

    fn message_delta(&mut self, data: &Value) -> Result<Vec<StreamEvent>, StreamFault> {
        const EVENT: &str = "message_delta";
        self.require(Stage::Open, EVENT)?;
        let delta: Value = field(data, "delta", EVENT)?;
        if let Some(reason) = delta.get("stop_reason").and_then(Value::as_str) {
            self.stop_reason = Some(finish_reason(reason));
        }
        if data.get("usage").is_some_and(|u| !u.is_null()) {
            let usage: WireUsage = field(data, "usage", EVENT)?;
            self.usage.update(&usage);
        }
        Ok(Vec::new())
    }

    fn message_stop(&mut self) -> Result<Vec<StreamEvent>, StreamFault> {
        self.require(Stage::Open, "message_stop")?;
        if let Some(open) = &self.block {
            return Err(StreamFault::Protocol(format!(
                "message_stop event while content block {} is still open",
                open.index
            )));
        }
        self.stage = Stage::Done;
        Ok(vec![
            StreamEvent::Finish {
                index: 0,
                // A message always gets a stop reason in message_delta; without one the model
                // still ended its turn.
                reason: self.stop_reason.unwrap_or(FinishReason::Stop),
            },
            StreamEvent::Done {
                usage: self.usage.to_usage(),
                timings: Timings::default(),
            },
        ])
    }
}

impl Decoder for AnthropicDecoder {
    fn event(&mut self, event: &SseEvent) -> Result<Vec<StreamEvent>, StreamFault> {
        let data: Value = serde_json::from_str(&event.data).map_err(|e| {
            StreamFault::Protocol(format!("event data is not JSON ({e}): {}", event.data))
        })?;
        // The data's `type` repeats the `event:` line; either one is enough.
        let kind = data
            .get("type")
            .and_then(Value::as_str)
            .or(event.event.as_deref())
            .unwrap_or_default();
        match kind {
            "message_start" => {
                self.require(Stage::Waiting, kind)?;
                let Some(message) = data.get("message").filter(|m| m.is_object()) else {
                    return Err(StreamFault::Protocol(format!(
                        "message_start event without a `message` object: {data}"
                    )));
                };
                if message.get("usage").is_some_and(|u| !u.is_null()) {
                    self.usage = field(message, "usage", kind)?;
                }
                self.stage = Stage::Open;
                Ok(Vec::new())
            }
            "content_block_start" => self.block_start(&data),
            "content_block_delta" => self.block_delta(&data),
            "content_block_stop" => self.block_stop(&data),
            "message_delta" => self.message_delta(&data),
            "message_stop" => self.message_stop(),
            "error" => Err(error_of(&data).map_or_else(
                || StreamFault::Upstream {
                    message: event.data.clone(),
                    kind: None,
                },
                |e| StreamFault::Upstream {
                    message: e.message,
                    kind: e.kind,
                },
            )),
            "ping" => Ok(Vec::new()),
            _ if self.stage == Stage::Done => Err(StreamFault::Protocol(format!(
                "{kind:?} event after message_stop"
            ))),
            // Anthropic may add event types; they carry nothing this decoder needs.
            _ => Ok(Vec::new()),
        }
    }

    fn end(&mut self) -> Result<Vec<StreamEvent>, StreamFault> {
        let missing = match (self.stage, &self.block, self.stop_reason) {
            (Stage::Done, _, _) => return Ok(Vec::new()),
            (Stage::Waiting, _, _) => "before message_start: no message began".to_owned(),
            (Stage::Open, Some(open), _) => format!(
                "inside content block {} ({}), before its content_block_stop and message_stop",
                open.index, open.kind
            ),
            (Stage::Open, None, None) => {
                "before message_delta (no stop reason) and message_stop".to_owned()
            }
            (Stage::Open, None, Some(_)) => "after message_delta, before message_stop".to_owned(),
        };
        Err(StreamFault::Truncated(format!(
            "the Anthropic stream ended {missing}"
        )))
    }
}

#[cfg(test)]
#[path = "anthropic_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "anthropic_stream_tests.rs"]
mod stream_tests;
