//! Request parsing and response rendering for the OpenAI and Anthropic APIs.
//!
//! [`openai::parse`] and [`anthropic::parse`] turn a request body into a validated
//! [`GatewayRequest`] or a 400 that names the field at fault. The renderers turn a
//! [`rightfit_types::ChatResponse`] (or stream events) into the bodies and SSE frames the
//! official SDKs read. Pure functions: no I/O, no routing.

use rightfit_types::{ChatRequest, MAX_REQUEST_DEPTH, Message, json_depth};
use serde_json::{Map, Value};

use crate::api::Api;
use crate::error::GatewayError;

pub mod anthropic;
pub mod openai;
pub mod tools;

/// A validated generation request, whichever API it came in on.
#[derive(Debug, Clone, PartialEq)]
pub struct GatewayRequest {
    pub api: Api,
    /// The model or component the client named (`model`).
    pub model: String,
    /// What to generate. `chat.model` is the name the client sent (the router replaces it with
    /// the target's model id); `chat.prompt` holds the same conversation as `messages`.
    pub chat: ChatRequest,
    /// Whether the client asked for server-sent events.
    pub stream: bool,
    /// Whether a stream should end with a usage chunk (OpenAI `stream_options.include_usage`;
    /// always true for Anthropic, whose stream always reports usage). Whole answers always
    /// carry usage.
    pub include_usage: bool,
    /// The end user (OpenAI `user`, Anthropic `metadata.user_id`), for sticky routing.
    pub user: Option<String>,
    /// The body as sent, minus `messages` (and Anthropic's `system`): the parameters to log.
    pub params: Value,
    /// The conversation: one system message first when the request had any, then the turns.
    pub messages: Vec<Message>,
}

/// Parts of the body not yet read, with the errors both APIs share.
pub(crate) struct Fields<'a> {
    body: &'a Map<String, Value>,
}

impl<'a> Fields<'a> {
    pub(crate) fn new(body: &'a Map<String, Value>) -> Self {
        Self { body }
    }

    /// The field, with `null` read as absent (clients send `null` for "not set").
    pub(crate) fn get(&self, key: &str) -> Option<&'a Value> {
        self.body.get(key).filter(|v| !v.is_null())
    }

    pub(crate) fn string(&self, key: &str) -> Result<Option<&'a str>, GatewayError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(invalid_type(key, "a string", other)),
        }
    }

    pub(crate) fn required_string(&self, key: &str) -> Result<&'a str, GatewayError> {
        match self.string(key)? {
            Some(s) if !s.is_empty() => Ok(s),
            Some(_) => Err(invalid_value(key, &format!("'{key}' must not be empty."))),
            None => Err(missing(key)),
        }
    }

    pub(crate) fn bool(&self, key: &str) -> Result<Option<bool>, GatewayError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(other) => Err(invalid_type(key, "a boolean", other)),
        }
    }

    /// A number in `min..=max`.
    pub(crate) fn number(
        &self,
        key: &str,
        min: f64,
        max: f64,
    ) -> Result<Option<f32>, GatewayError> {
        let Some(value) = self.get(key) else {
            return Ok(None);
        };
        let Some(x) = value.as_f64() else {
            return Err(invalid_type(key, "a number", value));
        };
        if !(min..=max).contains(&x) {
            return Err(invalid_value(
                key,
                &format!("{x} is not valid for '{key}': it must be from {min} to {max}."),
            ));
        }
        // Sampling parameters are f32; the range check above keeps the value finite.
        Ok(Some(x as f32))
    }

    /// An integer in `min..=max`.
    pub(crate) fn integer(
        &self,
        key: &str,
        min: u32,
        max: u32,
    ) -> Result<Option<u32>, GatewayError> {
        let Some(value) = self.get(key) else {
            return Ok(None);
        };
        let out_of_range = || {
            invalid_value(
                key,
                &format!(
                    "{value} is not valid for '{key}': it must be an integer from {min} to {max}."
                ),
            )
        };
        if let Some(n) = value.as_u64() {
            return u32::try_from(n)
                .ok()
                .filter(|n| (min..=max).contains(n))
                .map(Some)
                .ok_or_else(out_of_range);
        }
        match value {
            Value::Number(_) => Err(out_of_range()),
            other => Err(invalid_type(key, "an integer", other)),
        }
    }

    /// Refuses a field the gateway cannot honour when it is set to anything but `null`, an
    /// empty list or `false`.
    pub(crate) fn refuse(&self, key: &str, why: &str) -> Result<(), GatewayError> {
        match self.get(key) {
            None | Some(Value::Bool(false)) => Ok(()),
            Some(Value::Array(a)) if a.is_empty() => Ok(()),
            Some(_) => Err(unsupported(key, why)),
        }
    }
}

/// The text of a message's `content`: a string, or a list of `{"type": "text", "text"}` parts
/// joined with "\n" (as vLLM does); other parts are refused here (the callers that take images
/// or tool blocks read those parts before they come here).
pub(crate) fn text_content(value: &Value, param: &str) -> Result<String, GatewayError> {
    let parts = match value {
        Value::String(s) => return Ok(s.clone()),
        Value::Array(parts) => parts,
        other => {
            return Err(invalid_type(
                param,
                "a string or an array of text parts",
                other,
            ));
        }
    };
    let mut texts = Vec::with_capacity(parts.len());
    for (j, part) in parts.iter().enumerate() {
        texts.push(text_part(part, &format!("{param}[{j}]"))?);
    }
    Ok(texts.join("\n"))
}

/// The text of one `{"type": "text", "text"}` part at `param`; a part of another kind is refused.
pub(crate) fn text_part<'a>(part: &'a Value, param: &str) -> Result<&'a str, GatewayError> {
    match part.get("type").and_then(Value::as_str) {
        Some("text") => match part.get("text") {
            Some(Value::String(text)) => Ok(text),
            Some(other) => Err(invalid_type(&format!("{param}.text"), "a string", other)),
            None => Err(missing(&format!("{param}.text"))),
        },
        Some(kind) => {
            let reason = match kind {
                "input_audio" | "audio" => {
                    ": audio input is not supported; the gateway passes text and images"
                }
                "file" | "document" => ": send the document's text as text parts",
                _ => " here; send text parts",
            };
            Err(unsupported(
                &format!("{param}.type"),
                &format!("'{kind}' content is not supported{reason}."),
            ))
        }
        None => Err(missing(&format!("{param}.type"))),
    }
}

/// The body as a JSON object, or the 400 to answer. A body nested deeper than
/// [`MAX_REQUEST_DEPTH`] is refused here, so that its traffic record stays within what the store
/// writes and every reader reads ([`rightfit_types::MAX_RECORD_DEPTH`]).
pub(crate) fn object(body: &[u8]) -> Result<Map<String, Value>, GatewayError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(v) if json_depth(&v) > MAX_REQUEST_DEPTH => Err(GatewayError::invalid_request(
            format!(
                "The request body nests {} levels deep; this gateway takes at most {MAX_REQUEST_DEPTH}.",
                json_depth(&v)
            ),
            None,
        )),
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(GatewayError::invalid_request(
            format!(
                "The request body must be a JSON object, but it is {}.",
                json_kind(&other)
            ),
            None,
        )),
        Err(e) => Err(GatewayError::invalid_request(
            format!("We could not parse the JSON body of your request: {e}."),
            None,
        )),
    }
}

pub(crate) fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

pub(crate) fn invalid_type(param: &str, expected: &str, got: &Value) -> GatewayError {
    GatewayError::invalid_request(
        format!(
            "Invalid type for '{param}': expected {expected}, but got {} instead.",
            json_kind(got)
        ),
        Some(param),
    )
    .with_code("invalid_type")
}

pub(crate) fn invalid_value(param: &str, message: &str) -> GatewayError {
    GatewayError::invalid_request(message, Some(param)).with_code("invalid_value")
}

pub(crate) fn missing(param: &str) -> GatewayError {
    GatewayError::invalid_request(
        format!("Missing required parameter: '{param}'."),
        Some(param),
    )
    .with_code("missing_required_parameter")
}

pub(crate) fn unsupported(param: &str, why: &str) -> GatewayError {
    GatewayError::invalid_request(format!("'{param}': {why}"), Some(param))
        .with_code("unsupported_parameter")
}

/// One `data:` server-sent event (`event: NAME` first when named) whose data is `value` as
/// JSON, serialized straight into the frame.
pub(crate) fn sse<T: serde::Serialize>(event: Option<&str>, value: &T) -> bytes::Bytes {
    let mut out = Vec::with_capacity(256);
    if let Some(event) = event {
        out.extend_from_slice(b"event: ");
        out.extend_from_slice(event.as_bytes());
        out.push(b'\n');
    }
    out.extend_from_slice(b"data: ");
    // Writing into a Vec cannot fail, and serializing the gateway's own types cannot either:
    // string keys only, and serde_json writes non-finite floats as null.
    let _ = serde_json::to_writer(&mut out, value);
    out.extend_from_slice(b"\n\n");
    bytes::Bytes::from(out)
}

#[cfg(test)]
mod parse_tests_support;
