//! Anthropic answers: `message` bodies and the named stream events.

use bytes::{Bytes, BytesMut};
use rightfit_types::{ChatResponse, FinishReason, ToolCall, Usage};
use serde::Serialize;
use serde_json::{Value, json};

use crate::error::GatewayError;
use crate::wire::sse;

/// Anthropic's `stop_reason`. A matched stop sequence is reported as `end_turn`: a
/// [`FinishReason::Stop`] does not say whether one matched.
pub fn stop_reason(reason: FinishReason) -> &'static str {
    match reason {
        FinishReason::Stop => "end_turn",
        FinishReason::Length => "max_tokens",
        FinishReason::ContentFilter => "refusal",
        FinishReason::ToolCalls => "tool_use",
    }
}

/// The `message` body for a whole answer (choice 0; Anthropic has no `n`).
///
/// Its content is a text block (left out when the model called tools without saying anything),
/// then one `tool_use` block per call, whose `input` is the call's arguments parsed (see
/// [`input`]).
///
/// `id` is the gateway's (`msg_...`), `model` the name the client asked for. Usage follows
/// Anthropic's meaning: `input_tokens` excludes the prompt tokens read from a cache, which are
/// `cache_read_input_tokens`.
pub fn response(id: &str, model: &str, resp: &ChatResponse) -> Value {
    let (text, calls, reason) = resp
        .choices
        .first()
        .map_or(("", &[][..], FinishReason::Stop), |c| {
            (c.text.as_str(), c.tool_calls.as_slice(), c.finish_reason)
        });
    let mut content = Vec::with_capacity(calls.len() + 1);
    if !text.is_empty() || calls.is_empty() {
        content.push(json!({"type": "text", "text": text}));
    }
    for call in calls {
        content.push(json!({
            "type": "tool_use",
            "id": call.id,
            "name": call.name,
            "input": input(call),
        }));
    }
    json!({
        "id": id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason(reason),
        "stop_sequence": null,
        "usage": usage(&resp.usage),
    })
}

/// A call's arguments as Anthropic's `input`, which must be a JSON object. Arguments that are
/// not one (a model that wrote broken JSON) become `{}`, with an error logged: an Anthropic
/// client cannot be given anything else, and the traffic record keeps what the model wrote.
pub fn input(call: &ToolCall) -> Value {
    match call.arguments_json() {
        Some(value @ Value::Object(_)) => value,
        _ => {
            tracing::error!(
                "tool call '{}' ({}): the arguments are not a JSON object, sent as {{}} to an \
                 Anthropic client: {}",
                call.id,
                call.name,
                call.arguments
            );
            json!({})
        }
    }
}

fn usage(usage: &Usage) -> Value {
    json!({
        "input_tokens": usage.prompt_tokens.saturating_sub(usage.cached_prompt_tokens),
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": usage.cached_prompt_tokens,
        "output_tokens": usage.completion_tokens,
    })
}

/// The events of one streamed answer, each `event: NAME\ndata: {...}\n\n`.
///
/// Send `start`; then for each content block in order `open_text` or `open_tool` with the
/// block's index (from 0), its `delta`s or `input_delta`s, and `close`; then `finish`. On a
/// failure after `start`, send `error` and close the stream; the SDKs raise it.
#[derive(Debug, Clone)]
pub struct Stream {
    /// `msg_...`.
    pub id: String,
    /// The name the client asked for.
    pub model: String,
}

impl Stream {
    /// The events for one answer.
    pub fn new(id: impl Into<String>, model: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            model: model.into(),
        }
    }

    /// `message_start` (with `input_tokens`, 0 when not known yet: `finish` reports the
    /// totals) and a `ping`.
    pub fn start(&self, input_tokens: u32) -> Bytes {
        let message = json!({
            "id": self.id,
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [],
            "stop_reason": null,
            "stop_sequence": null,
            "usage": {"input_tokens": input_tokens, "output_tokens": 0},
        });
        let mut out = BytesMut::new();
        out.extend_from_slice(&event(
            "message_start",
            &json!({"type": "message_start", "message": message}),
        ));
        out.extend_from_slice(&event("ping", &json!({"type": "ping"})));
        out.freeze()
    }

    /// `content_block_start` of an empty text block.
    pub fn open_text(&self, index: u32) -> Bytes {
        event(
            "content_block_start",
            &json!({"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}}),
        )
    }

    /// `content_block_start` of a `tool_use` block with an empty `input` (its arguments follow
    /// as `input_delta`s).
    pub fn open_tool(&self, index: u32, id: &str, name: &str) -> Bytes {
        event(
            "content_block_start",
            &json!({
                "type": "content_block_start",
                "index": index,
                "content_block": {"type": "tool_use", "id": id, "name": name, "input": {}},
            }),
        )
    }

    /// More text: a `content_block_delta` with a `text_delta`.
    pub fn delta(&self, index: u32, text: &str) -> Bytes {
        self.block_delta(index, BlockDeltaBody::Text { text })
    }

    /// More of a call's arguments: a `content_block_delta` with an `input_json_delta`.
    pub fn input_delta(&self, index: u32, partial_json: &str) -> Bytes {
        self.block_delta(index, BlockDeltaBody::InputJson { partial_json })
    }

    fn block_delta(&self, index: u32, delta: BlockDeltaBody<'_>) -> Bytes {
        #[derive(Serialize)]
        struct BlockDelta<'a> {
            r#type: &'static str,
            index: u32,
            delta: BlockDeltaBody<'a>,
        }
        let delta = BlockDelta {
            r#type: "content_block_delta",
            index,
            delta,
        };
        sse(Some("content_block_delta"), &delta)
    }

    /// `content_block_stop`.
    pub fn close(&self, index: u32) -> Bytes {
        event(
            "content_block_stop",
            &json!({"type": "content_block_stop", "index": index}),
        )
    }

    /// `message_delta` (stop reason and usage: all the token counts, so that a `start` sent
    /// with 0 input tokens is corrected), and `message_stop`.
    pub fn finish(&self, reason: FinishReason, totals: &Usage) -> Bytes {
        let mut out = BytesMut::new();
        out.extend_from_slice(&event(
            "message_delta",
            &json!({
                "type": "message_delta",
                "delta": {"stop_reason": stop_reason(reason), "stop_sequence": null},
                "usage": usage(totals),
            }),
        ));
        out.extend_from_slice(&event("message_stop", &json!({"type": "message_stop"})));
        out.freeze()
    }

    /// `event: error`: a failure after the stream began.
    pub fn error(&self, error: &GatewayError) -> Bytes {
        event("error", &error.anthropic_body())
    }
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum BlockDeltaBody<'a> {
    #[serde(rename = "text_delta")]
    Text { text: &'a str },
    #[serde(rename = "input_json_delta")]
    InputJson { partial_json: &'a str },
}

fn event(name: &str, data: &Value) -> Bytes {
    sse(Some(name), data)
}

#[cfg(test)]
#[path = "render_tests.rs"]
mod tests;
