//! A model's stream events as the client's protocol frames them: OpenAI `data:` chunks ending
//! with `data: [DONE]`, or Anthropic's named events ending with `message_stop`.

use axum::body::Bytes;
use rightfit_types::{FinishReason, StreamEvent};

use crate::api::Api;
use crate::error::GatewayError;
use crate::wire::{anthropic, openai};

/// Frames for one streamed answer.
#[derive(Debug)]
pub enum Sse {
    /// OpenAI chunks.
    OpenAi {
        stream: openai::Stream,
        /// Choices whose opening (role) chunk was sent.
        opened: Vec<bool>,
    },
    /// Anthropic events.
    Anthropic {
        stream: anthropic::Stream,
        /// `message_start` was sent.
        started: bool,
        /// Why choice 0 ended (sent with the usage at the end).
        finish: Option<FinishReason>,
    },
}

impl Sse {
    /// A writer for an answer with `n` choices.
    pub fn new(api: Api, id: &str, model: &str, created: u64, include_usage: bool, n: u32) -> Self {
        match api {
            Api::OpenAi => Sse::OpenAi {
                stream: openai::Stream::new(id, model, created, include_usage),
                opened: vec![false; n.max(1) as usize],
            },
            Api::Anthropic => Sse::Anthropic {
                stream: anthropic::Stream::new(id, model),
                started: false,
                finish: None,
            },
        }
    }

    /// The frames for one event (none for what the protocol does not carry).
    pub fn frames(&mut self, event: &StreamEvent) -> Vec<Bytes> {
        let mut out = Vec::new();
        match self {
            Sse::OpenAi { stream, opened } => {
                let index = match event {
                    StreamEvent::Delta { index, .. }
                    | StreamEvent::Logprobs { index, .. }
                    | StreamEvent::ToolCall { index, .. }
                    | StreamEvent::Finish { index, .. } => Some(*index),
                    StreamEvent::Done { .. } => None,
                };
                if let Some(i) = index
                    && let Some(o) = opened.get_mut(i as usize)
                    && !*o
                {
                    *o = true;
                    out.push(stream.first(i));
                }
                match event {
                    StreamEvent::Delta { index, text } => out.push(stream.delta(*index, text)),
                    StreamEvent::Logprobs { index, tokens } => {
                        out.push(stream.logprobs(*index, tokens));
                    }
                    StreamEvent::ToolCall { .. } => {}
                    StreamEvent::Finish { index, reason } => {
                        out.push(stream.finish(*index, *reason));
                    }
                    StreamEvent::Done { usage, .. } => {
                        if let Some(u) = stream.usage(usage) {
                            out.push(u);
                        }
                        out.push(stream.done());
                    }
                }
            }
            Sse::Anthropic {
                stream,
                started,
                finish,
            } => {
                if !*started {
                    *started = true;
                    out.push(stream.start(0));
                }
                match event {
                    StreamEvent::Delta { index: 0, text } if !text.is_empty() => {
                        out.push(stream.delta(text));
                    }
                    StreamEvent::Finish { index: 0, reason } => *finish = Some(*reason),
                    StreamEvent::Done { usage, .. } => {
                        out.push(stream.finish(finish.unwrap_or(FinishReason::Stop), usage));
                    }
                    _ => {}
                }
            }
        }
        out
    }

    /// The frame that reports an error mid-stream.
    pub fn error(&self, e: &GatewayError) -> Bytes {
        match self {
            Sse::OpenAi { stream, .. } => stream.error(e),
            Sse::Anthropic { stream, .. } => stream.error(e),
        }
    }
}
