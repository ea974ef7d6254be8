//! Reading a streamed response: `chat.completion.chunk` events, then `[DONE]`.

use rightfit_types::{FinishReason, StreamEvent, Usage};
use serde_json::Value;

use super::tools::StreamedCalls;
use super::wire::{
    error_from_value, excerpt, parse_finish, parse_index, parse_logprobs, parse_usage, refused,
    type_name,
};
use crate::hosted::codec::{Decoder, StreamFault};
use crate::hosted::sse::SseEvent;

/// Reads one streamed response (`chat.completion.chunk` events, then `[DONE]`).
#[derive(Debug)]
pub(super) struct OpenAiDecoder {
    compatible: bool,
    /// Which choices have had their `finish_reason`.
    finished: Vec<bool>,
    /// Which choices sent a `refusal` (they finish as `ContentFilter`).
    refused: Vec<bool>,
    /// The tool calls each choice has begun.
    calls: Vec<StreamedCalls>,
    /// The last `usage` a chunk carried.
    usage: Option<Usage>,
    /// `Done` has been returned.
    done: bool,
}

impl OpenAiDecoder {
    /// A decoder for a request for `n` choices (at least one).
    pub(super) fn new(compatible: bool, n: u32) -> Self {
        let n = n.max(1) as usize;
        Self {
            compatible,
            finished: vec![false; n],
            refused: vec![false; n],
            calls: vec![StreamedCalls::default(); n],
            usage: None,
            done: false,
        }
    }

    fn done(&mut self) -> Vec<StreamEvent> {
        self.done = true;
        vec![StreamEvent::Done {
            usage: self.usage.unwrap_or_default(),
            timings: Default::default(),
        }]
    }

    fn upstream(data: &str, value: Option<&Value>) -> StreamFault {
        match value.and_then(error_from_value) {
            Some(err) => StreamFault::Upstream {
                message: err.message,
                kind: err.kind,
            },
            None => StreamFault::Upstream {
                message: excerpt(data.trim()),
                kind: None,
            },
        }
    }

    fn chunk(&mut self, chunk: &Value) -> Result<Vec<StreamEvent>, String> {
        if !chunk.is_object() {
            return Err(format!("a chunk is {}, not an object", type_name(chunk)));
        }
        if let Some(usage) = parse_usage(chunk.get("usage")).map_err(|e| format!("usage{e}"))? {
            self.usage = Some(usage);
        }
        let choices = match chunk.get("choices") {
            // Some servers send the usage chunk without `choices`.
            None | Some(Value::Null) => return Ok(Vec::new()),
            Some(Value::Array(choices)) => choices,
            Some(other) => {
                return Err(format!(
                    "`choices` is {}, expected an array",
                    type_name(other)
                ));
            }
        };
        let mut out = Vec::new();
        for (i, choice) in choices.iter().enumerate() {
            self.choice(choice, &mut out)
                .map_err(|e| format!("choices[{i}]{e}"))?;
        }
        Ok(out)
    }

    /// One choice of a chunk. `Err` is a suffix for a path.
    fn choice(&mut self, choice: &Value, out: &mut Vec<StreamEvent>) -> Result<(), String> {
        if !choice.is_object() {
            return Err(format!(": expected an object, got {}", type_name(choice)));
        }
        let index = parse_index(choice)?;
        let slot = index as usize;
        if slot >= self.finished.len() {
            return Err(format!(
                ".index: choice {index} of a request for {} choice(s)",
                self.finished.len()
            ));
        }
        match choice.get("delta") {
            None | Some(Value::Null) => {}
            Some(Value::Object(delta)) => {
                match delta.get("content") {
                    None | Some(Value::Null) => {}
                    Some(Value::String(text)) => {
                        if !text.is_empty() {
                            out.push(StreamEvent::Delta {
                                index,
                                text: text.clone(),
                            });
                        }
                    }
                    Some(other) => {
                        return Err(format!(
                            ".delta.content: expected a string or null, got {}",
                            type_name(other)
                        ));
                    }
                }
                if refused(delta.get("refusal")) {
                    self.refused[slot] = true;
                }
                if let Some(calls) = delta.get("tool_calls") {
                    if self.finished[slot] {
                        return Err(format!(
                            ".delta.tool_calls: a tool call for choice {index} after it finished"
                        ));
                    }
                    self.calls[slot].delta(calls, index, self.compatible, out)?;
                }
            }
            Some(other) => {
                return Err(format!(
                    ".delta: expected an object, got {}",
                    type_name(other)
                ));
            }
        }
        if let Some(tokens) = parse_logprobs(choice.get("logprobs"))?
            && !tokens.is_empty()
        {
            out.push(StreamEvent::Logprobs { index, tokens });
        }
        if let Some(reason) = parse_finish(choice.get("finish_reason"))? {
            // A repeated finish (some servers resend it with the usage) says nothing new.
            if !self.finished[slot] {
                self.finished[slot] = true;
                let reason = if self.refused[slot] {
                    FinishReason::ContentFilter
                } else if reason == FinishReason::Stop && self.calls[slot].any() {
                    // Some compatible servers say `stop` after calling tools.
                    FinishReason::ToolCalls
                } else {
                    reason
                };
                out.push(StreamEvent::Finish { index, reason });
            }
        }
        Ok(())
    }
}

impl Decoder for OpenAiDecoder {
    fn event(&mut self, event: &SseEvent) -> Result<Vec<StreamEvent>, StreamFault> {
        if self.done {
            return Ok(Vec::new());
        }
        match event.event.as_deref() {
            None | Some("message") => {}
            Some("error") => {
                let value = serde_json::from_str::<Value>(&event.data).ok();
                return Err(Self::upstream(&event.data, value.as_ref()));
            }
            // Other event types (`ping`, vendor extensions) carry nothing for us.
            Some(_) => return Ok(Vec::new()),
        }
        let data = event.data.trim();
        if data == "[DONE]" {
            return Ok(self.done());
        }
        let value: Value = serde_json::from_str(data).map_err(|e| {
            StreamFault::Protocol(format!(
                "a stream event is not JSON ({e}): {}",
                excerpt(data)
            ))
        })?;
        // An error mid-stream: `{"error": ...}`, or vLLM's `{"object": "error", "message"}`.
        if value.get("error").is_some()
            || value.get("object").and_then(Value::as_str) == Some("error")
        {
            return Err(Self::upstream(data, Some(&value)));
        }
        self.chunk(&value).map_err(StreamFault::Protocol)
    }

    fn end(&mut self) -> Result<Vec<StreamEvent>, StreamFault> {
        if self.done {
            return Ok(Vec::new());
        }
        let unfinished: Vec<String> = self
            .finished
            .iter()
            .enumerate()
            .filter(|(_, finished)| !**finished)
            .map(|(i, _)| i.to_string())
            .collect();
        if self.compatible && unfinished.is_empty() {
            return Ok(self.done());
        }
        let mut message = String::from("the stream ended without [DONE]");
        match unfinished.len() {
            0 => {}
            1 => message.push_str(&format!(" and choice {} never finished", unfinished[0])),
            _ => message.push_str(&format!(
                " and choices {} never finished",
                unfinished.join(", ")
            )),
        }
        Err(StreamFault::Truncated(message))
    }
}

#[cfg(test)]
mod tests;
