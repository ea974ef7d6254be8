//! Reading a stream: SSE bytes in, rightfit events out, with the timings filled in.

use std::collections::VecDeque;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use futures::stream::BoxStream;
use rightfit_config::Secret;
use rightfit_types::{StreamEvent, Timings};
use tokio::time::{Instant, timeout_at};

use super::super::codec::{Decoder, Parsed, StreamFault};
use super::super::sse::SseParser;
use super::errors::{error_chain, map_fault};
use crate::error::ProviderError;
use crate::provider::EventStream;

pub(super) const TIMED_OUT: &str = "timed out";

pub(super) enum ReadError {
    Fault(StreamFault),
    Dropped(String),
}

/// A stream being read.
pub(super) struct Live {
    pub(super) body: BoxStream<'static, reqwest::Result<Bytes>>,
    pub(super) parser: SseParser,
    pub(super) decoder: Box<dyn Decoder>,
    pub(super) pending: VecDeque<StreamEvent>,
    pub(super) deadline: Instant,
    pub(super) started: Instant,
    pub(super) queue: Duration,
    pub(super) first_token: Option<Instant>,
    pub(super) finished: bool,
    pub(super) label: String,
    pub(super) timeout: Duration,
    pub(super) redact_key: Option<Secret>,
}

impl Live {
    /// Reads one chunk of the body and decodes what it completes.
    pub(super) async fn fill(&mut self) -> Result<(), ReadError> {
        match self.body.next().await {
            Some(Ok(bytes)) => {
                for event in self.parser.feed(&bytes) {
                    let events = self.decoder.event(&event).map_err(ReadError::Fault)?;
                    self.pending.extend(events);
                }
                Ok(())
            }
            Some(Err(e)) => {
                self.finished = true;
                Err(ReadError::Dropped(error_chain(&e)))
            }
            None => {
                self.finished = true;
                let events = self.decoder.end().map_err(ReadError::Fault)?;
                if !events.iter().any(|e| matches!(e, StreamEvent::Done { .. })) {
                    return Err(ReadError::Fault(StreamFault::Truncated(
                        "the stream ended before its final event".to_owned(),
                    )));
                }
                self.pending.extend(events);
                Ok(())
            }
        }
    }

    pub(super) async fn next(&mut self) -> Option<Result<StreamEvent, ProviderError>> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Some(Ok(self.stamp(event)));
            }
            if self.finished {
                return None;
            }
            let result = match timeout_at(self.deadline, self.fill()).await {
                Ok(r) => r,
                Err(_) => {
                    self.finished = true;
                    return Some(Err(ProviderError::Timeout {
                        provider: self.label.clone(),
                        phase: "before the answer was complete (timeout_s)",
                        after: self.timeout,
                    }));
                }
            };
            match result {
                Ok(()) => {}
                Err(ReadError::Fault(f)) => {
                    self.finished = true;
                    self.pending.clear();
                    return Some(Err(self.fault(f)));
                }
                Err(ReadError::Dropped(detail)) => {
                    self.pending.clear();
                    return Some(Err(ProviderError::Truncated {
                        provider: self.label.clone(),
                        detail: format!("the connection dropped mid-stream: {detail}"),
                    }));
                }
            }
        }
    }

    fn fault(&self, fault: StreamFault) -> ProviderError {
        map_fault(&self.label, self.redact_key.as_ref(), fault)
    }

    /// Notes the first token and fills in the final timings.
    fn stamp(&mut self, event: StreamEvent) -> StreamEvent {
        match event {
            StreamEvent::Delta { .. } => {
                self.first_token.get_or_insert_with(Instant::now);
                event
            }
            StreamEvent::Done { usage, .. } => {
                self.finished = true;
                self.pending.clear();
                let ttft = self
                    .first_token
                    .map_or(0.0, |t| ms(t.duration_since(self.started)));
                StreamEvent::Done {
                    usage,
                    timings: Timings {
                        queue_ms: ms(self.queue),
                        ttft_ms: ttft,
                        total_ms: ms(self.started.elapsed()),
                        prompt_tokens_evaluated: usage
                            .prompt_tokens
                            .saturating_sub(usage.cached_prompt_tokens),
                        generated_tokens: usage.completion_tokens,
                    },
                }
            }
            other => other,
        }
    }

    pub(super) fn into_stream(self) -> EventStream {
        futures::stream::unfold(Some(self), |live| async move {
            let mut live = live?;
            let item = live.next().await?;
            Some((item, Some(live)))
        })
        .boxed()
    }
}

/// Milliseconds, for timings.
pub(super) fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

pub(super) async fn read_all(
    body: &mut BoxStream<'static, reqwest::Result<Bytes>>,
    deadline: Instant,
) -> Result<Vec<u8>, ReadError> {
    let mut out = Vec::new();
    loop {
        match timeout_at(deadline, body.next()).await {
            Err(_) => return Err(ReadError::Dropped(TIMED_OUT.to_owned())),
            Ok(None) => return Ok(out),
            Ok(Some(Ok(b))) => out.extend_from_slice(&b),
            Ok(Some(Err(e))) => return Err(ReadError::Dropped(error_chain(&e))),
        }
    }
}

/// The events of a whole answer, for a server that answered a stream request whole.
pub(super) fn events_of(parsed: Parsed) -> Vec<StreamEvent> {
    let mut events = Vec::new();
    for c in parsed.choices {
        if !c.text.is_empty() {
            events.push(StreamEvent::Delta {
                index: c.index,
                text: c.text,
            });
        }
        if let Some(tokens) = c.logprobs {
            events.push(StreamEvent::Logprobs {
                index: c.index,
                tokens,
            });
        }
        for (call, tc) in c.tool_calls.into_iter().enumerate() {
            events.push(StreamEvent::ToolCall {
                index: c.index,
                call: u32::try_from(call).unwrap_or(u32::MAX),
                id: Some(tc.id),
                name: Some(tc.name),
                arguments: tc.arguments,
            });
        }
        events.push(StreamEvent::Finish {
            index: c.index,
            reason: c.finish_reason,
        });
    }
    events.push(StreamEvent::Done {
        usage: parsed.usage.unwrap_or_default(),
        timings: Timings::default(),
    });
    events
}
