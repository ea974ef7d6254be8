//! A model's stream events as the client's protocol frames them: OpenAI `data:` chunks ending
//! with `data: [DONE]`, or Anthropic's named events ending with `message_stop`.
//!
//! Tool calls stream as OpenAI `delta.tool_calls` chunks (the first of a call with its id and
//! name) or as Anthropic `tool_use` content blocks (opened with an empty `input`, then
//! `input_json_delta`s), numbered after any text block before them.

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
        /// The content blocks of choice 0 so far.
        blocks: Blocks,
        /// Why choice 0 ended (sent with the usage at the end).
        finish: Option<FinishReason>,
    },
}

/// Anthropic content blocks: one is open at a time, numbered from 0 in order.
#[derive(Debug, Default)]
pub struct Blocks {
    /// The open block: its index and what it holds.
    open: Option<(u32, Block)>,
    /// The index the next block gets.
    next: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Block {
    Text,
    /// The call of this number.
    Tool(u32),
}

impl Blocks {
    /// Makes `want` the open block (closing another, opening it with `open` at the next index),
    /// and returns its index.
    fn ensure(
        &mut self,
        want: Block,
        out: &mut Vec<Bytes>,
        stream: &anthropic::Stream,
        open: impl FnOnce(u32) -> Bytes,
    ) -> u32 {
        if let Some((index, block)) = self.open {
            if block == want {
                return index;
            }
            out.push(stream.close(index));
        }
        let index = self.next;
        self.next += 1;
        self.open = Some((index, want));
        out.push(open(index));
        index
    }

    /// Closes the open block; an answer with no block at all gets an empty text block, as
    /// Anthropic sends.
    fn end(&mut self, out: &mut Vec<Bytes>, stream: &anthropic::Stream) {
        if self.next == 0 {
            self.ensure(Block::Text, out, stream, |i| stream.open_text(i));
        }
        if let Some((index, _)) = self.open.take() {
            out.push(stream.close(index));
        }
    }
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
                blocks: Blocks::default(),
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
                    StreamEvent::ToolCall {
                        index,
                        call,
                        id,
                        name,
                        arguments,
                    } => out.push(stream.tool_call(
                        *index,
                        *call,
                        id.as_deref(),
                        name.as_deref(),
                        arguments,
                    )),
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
                blocks,
                finish,
            } => {
                if !*started {
                    *started = true;
                    out.push(stream.start(0));
                }
                match event {
                    StreamEvent::Delta { index: 0, text } if !text.is_empty() => {
                        let i =
                            blocks.ensure(Block::Text, &mut out, stream, |i| stream.open_text(i));
                        out.push(stream.delta(i, text));
                    }
                    StreamEvent::ToolCall {
                        index: 0,
                        call,
                        id,
                        name,
                        arguments,
                    } => {
                        let i = blocks.ensure(Block::Tool(*call), &mut out, stream, |i| {
                            stream.open_tool(
                                i,
                                id.as_deref().unwrap_or_default(),
                                name.as_deref().unwrap_or_default(),
                            )
                        });
                        if !arguments.is_empty() {
                            out.push(stream.input_delta(i, arguments));
                        }
                    }
                    StreamEvent::Finish { index: 0, reason } => *finish = Some(*reason),
                    StreamEvent::Done { usage, .. } => {
                        blocks.end(&mut out, stream);
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

#[cfg(test)]
#[path = "sse_tests.rs"]
mod tests;
