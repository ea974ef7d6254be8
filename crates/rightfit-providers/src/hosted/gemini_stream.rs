//! Reading a streamed Gemini response: whole `GenerateContentResponse` chunks, no end marker.
//! Function calls arrive whole, one part each.

use rightfit_types::{FinishReason, StreamEvent, Timings, Usage};
use serde_json::Value;

use super::{WireResponse, error_of, finish_reason, with_calls};
use crate::hosted::codec::{Decoder, StreamFault};
use crate::hosted::sse::SseEvent;

/// Reads one streamed response of `finished.len()` candidates.
#[derive(Debug)]
pub(super) struct GeminiDecoder {
    /// Which candidates have had their `finishReason`.
    finished: Vec<bool>,
    /// Function calls each candidate has made.
    calls: Vec<usize>,
    /// The latest `usageMetadata` (each chunk repeats the totals so far).
    usage: Option<Usage>,
    /// Chunks read.
    chunks: u64,
}

impl GeminiDecoder {
    /// A decoder for a response of `n` candidates (at least one).
    pub(super) fn new(n: u32) -> Self {
        let n = n.max(1) as usize;
        Self {
            finished: vec![false; n],
            calls: vec![0; n],
            usage: None,
            chunks: 0,
        }
    }

    fn finish(&mut self, index: u32, reason: FinishReason, out: &mut Vec<StreamEvent>) {
        let reason = with_calls(reason, self.calls[index as usize] > 0);
        let done = &mut self.finished[index as usize];
        if !*done {
            *done = true;
            out.push(StreamEvent::Finish { index, reason });
        }
    }
}

impl Decoder for GeminiDecoder {
    fn event(&mut self, event: &SseEvent) -> Result<Vec<StreamEvent>, StreamFault> {
        let data: Value = serde_json::from_str(&event.data).map_err(|e| {
            StreamFault::Protocol(format!("chunk is not JSON ({e}): {}", event.data))
        })?;
        if let Some(error) = error_of(&data) {
            return Err(StreamFault::Upstream {
                message: error.message,
                kind: error.kind,
            });
        }
        let chunk: WireResponse = serde_json::from_value(data).map_err(|e| {
            StreamFault::Protocol(format!("chunk is not a GenerateContentResponse: {e}"))
        })?;
        self.chunks += 1;
        if let Some(usage) = chunk.usage_metadata {
            self.usage = Some(usage.to_usage());
        }
        let n = self.finished.len();
        let mut out = Vec::new();
        for (position, candidate) in chunk.candidates.into_iter().enumerate() {
            let index = candidate.index(position);
            if index as usize >= n {
                return Err(StreamFault::Protocol(format!(
                    "candidate index {index}, but {n} candidate(s) were asked for"
                )));
            }
            let text = candidate.text();
            if !text.is_empty() {
                if self.finished[index as usize] {
                    return Err(StreamFault::Protocol(format!(
                        "text for candidate {index} after its finishReason"
                    )));
                }
                out.push(StreamEvent::Delta { index, text });
            }
            let calls = candidate
                .calls(index, self.calls[index as usize])
                .map_err(StreamFault::Protocol)?;
            if !calls.is_empty() && self.finished[index as usize] {
                return Err(StreamFault::Protocol(format!(
                    "a functionCall for candidate {index} after its finishReason"
                )));
            }
            for call in calls {
                let number = self.calls[index as usize];
                self.calls[index as usize] += 1;
                out.push(StreamEvent::ToolCall {
                    index,
                    call: u32::try_from(number).unwrap_or(u32::MAX),
                    id: Some(call.id),
                    name: Some(call.name),
                    arguments: call.arguments,
                });
            }
            if let Some(result) = candidate.logprobs_result {
                let tokens = result.tokens();
                if !tokens.is_empty() {
                    out.push(StreamEvent::Logprobs { index, tokens });
                }
            }
            if let Some(reason) = candidate.finish_reason.as_deref().and_then(finish_reason) {
                self.finish(index, reason, &mut out);
            }
        }
        if chunk
            .prompt_feedback
            .is_some_and(|f| f.block_reason.is_some())
        {
            // The prompt was blocked: no candidate will come.
            for index in 0..n {
                let index = u32::try_from(index).unwrap_or(u32::MAX);
                self.finish(index, FinishReason::ContentFilter, &mut out);
            }
        }
        Ok(out)
    }

    fn end(&mut self) -> Result<Vec<StreamEvent>, StreamFault> {
        if self.chunks == 0 {
            return Err(StreamFault::Truncated(
                "the Gemini stream ended before its first chunk".into(),
            ));
        }
        if let Some(index) = self.finished.iter().position(|done| !done) {
            return Err(StreamFault::Truncated(format!(
                "the Gemini stream ended before candidate {index} finished (no finishReason)"
            )));
        }
        Ok(vec![StreamEvent::Done {
            usage: self.usage.unwrap_or_default(),
            timings: Timings::default(),
        }])
    }
}
