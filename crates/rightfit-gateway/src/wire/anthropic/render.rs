//! Anthropic answers: `message` bodies and the named stream events.

use bytes::{Bytes, BytesMut};
use rightfit_types::{ChatResponse, FinishReason, Usage};
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
/// `id` is the gateway's (`msg_...`), `model` the name the client asked for. Usage follows
/// Anthropic's meaning: `input_tokens` excludes the prompt tokens read from a cache, which are
/// `cache_read_input_tokens`.
pub fn response(id: &str, model: &str, resp: &ChatResponse) -> Value {
    let (text, reason) = resp.choices.first().map_or(("", FinishReason::Stop), |c| {
        (c.text.as_str(), c.finish_reason)
    });
    json!({
        "id": id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": text}],
        "stop_reason": stop_reason(reason),
        "stop_sequence": null,
        "usage": usage(&resp.usage),
    })
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
/// Send `start`, then `delta`s, then `finish`. On a failure after `start`, send `error` and
/// close the stream; the SDKs raise it.
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
    /// totals), `content_block_start` for text block 0, and a `ping`.
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
        out.extend_from_slice(&event(
            "content_block_start",
            &json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        ));
        out.extend_from_slice(&event("ping", &json!({"type": "ping"})));
        out.freeze()
    }

    /// More text: a `content_block_delta` with a `text_delta`.
    pub fn delta(&self, text: &str) -> Bytes {
        #[derive(Serialize)]
        struct BlockDelta<'a> {
            r#type: &'static str,
            index: u32,
            delta: TextDelta<'a>,
        }
        #[derive(Serialize)]
        struct TextDelta<'a> {
            r#type: &'static str,
            text: &'a str,
        }
        let delta = BlockDelta {
            r#type: "content_block_delta",
            index: 0,
            delta: TextDelta {
                r#type: "text_delta",
                text,
            },
        };
        sse(Some("content_block_delta"), &delta)
    }

    /// `content_block_stop`, `message_delta` (stop reason and usage: all the token counts, so
    /// that a `start` sent with 0 input tokens is corrected), and `message_stop`.
    pub fn finish(&self, reason: FinishReason, totals: &Usage) -> Bytes {
        let mut out = BytesMut::new();
        out.extend_from_slice(&event(
            "content_block_stop",
            &json!({"type": "content_block_stop", "index": 0}),
        ));
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

fn event(name: &str, data: &Value) -> Bytes {
    sse(Some(name), data)
}

#[cfg(test)]
#[path = "render_tests.rs"]
mod tests;
