//! Reading a streamed Anthropic message: `message_start`, content blocks (text, or a
//! `tool_use` whose input arrives as `input_json_delta` fragments), `message_delta`,
//! `message_stop`.

use rightfit_types::{FinishReason, StreamEvent, Timings};
use serde::Deserialize;
use serde_json::Value;

use super::{WireBlock, WireUsage, error_of, finish_reason};
use crate::hosted::codec::{Decoder, StreamFault};
use crate::hosted::sse::SseEvent;

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
    /// For a `tool_use` block read as a tool call: the call's number, and its input as the
    /// start event gave it (used when no `input_json_delta` follows).
    call: Option<(u32, String)>,
    /// Whether any argument text arrived for the call.
    arguments: bool,
}

/// Reads one streamed message.
#[derive(Debug, Default)]
pub(super) struct AnthropicDecoder {
    /// `tool_use` input is the answer text (JSON output through a forced tool), not a call.
    json_output: bool,
    stage: Stage,
    block: Option<OpenBlock>,
    /// Tool calls begun.
    calls: u32,
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
    /// A decoder for a message; `json_output` as in [`super::Codec::parse_reply`].
    pub(super) fn new(json_output: bool) -> Self {
        Self {
            json_output,
            ..Self::default()
        }
    }

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
            && let Some(text) = block.text.clone().filter(|t| !t.is_empty())
        {
            out.push(StreamEvent::Delta { index: 0, text });
        }
        let call = if block.kind == "tool_use" && !self.json_output {
            let call = super::tool_call(&block)
                .map_err(|e| StreamFault::Protocol(format!("{EVENT} event: {e}")))?;
            let number = self.calls;
            self.calls += 1;
            out.push(StreamEvent::ToolCall {
                index: 0,
                call: number,
                id: Some(call.id),
                name: Some(call.name),
                arguments: String::new(),
            });
            Some((number, call.arguments))
        } else {
            None
        };
        self.block = Some(OpenBlock {
            index,
            kind: block.kind,
            call,
            arguments: false,
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
        let Some(open) = self.block.as_mut() else {
            return Ok(Vec::new());
        };
        match (&open.call, key) {
            (Some((call, _)), "partial_json") => {
                open.arguments = true;
                if text.is_empty() {
                    return Ok(Vec::new());
                }
                Ok(vec![StreamEvent::ToolCall {
                    index: 0,
                    call: *call,
                    id: None,
                    name: None,
                    arguments: text,
                }])
            }
            (Some((call, _)), _) => Err(StreamFault::Protocol(format!(
                "{EVENT} event: text for content block {index}, which is tool call {call}"
            ))),
            (None, "partial_json") if !self.json_output => Err(StreamFault::Protocol(format!(
                "{EVENT} event: tool arguments for content block {index}, a {} block, \
                     not a tool_use that began a call",
                open.kind
            ))),
            (None, _) if text.is_empty() => Ok(Vec::new()),
            (None, _) => Ok(vec![StreamEvent::Delta { index: 0, text }]),
        }
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
        let mut out = Vec::new();
        if let Some(OpenBlock {
            call: Some((call, start_input)),
            arguments: false,
            ..
        }) = self.block.take()
        {
            // No input_json_delta: the input is what the start event carried (`{}`).
            out.push(StreamEvent::ToolCall {
                index: 0,
                call,
                id: None,
                name: None,
                arguments: start_input,
            });
        }
        self.block = None;
        Ok(out)
    }

    fn message_delta(&mut self, data: &Value) -> Result<Vec<StreamEvent>, StreamFault> {
        const EVENT: &str = "message_delta";
        self.require(Stage::Open, EVENT)?;
        let delta: Value = field(data, "delta", EVENT)?;
        if let Some(reason) = delta.get("stop_reason").and_then(Value::as_str) {
            self.stop_reason = Some(finish_reason(reason, self.json_output));
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
