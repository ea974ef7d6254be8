//! The [`Provider`] trait and what comes with it: the event stream, capabilities, health,
//! memory use, and the helpers every implementation shares (collecting a stream into one
//! answer, scaling an embedding to unit length).

use async_trait::async_trait;
use futures::stream::BoxStream;
use rightfit_types::{
    ChatRequest, ChatResponse, Choice, EmbeddingRequest, EmbeddingResponse, FinishReason,
    LoglikelihoodRequest, LoglikelihoodResponse, StreamEvent, Timings, TokenLogprob, ToolCall,
    Usage, add_streamed_call,
};

use crate::error::ProviderError;

/// A stream of events for one request; it ends after [`StreamEvent::Done`] or an error.
pub type EventStream = BoxStream<'static, Result<StreamEvent, ProviderError>>;

/// What a provider can do beyond chat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Capabilities {
    /// Raw text completion (no chat template).
    pub completion: bool,
    /// Embeddings.
    pub embeddings: bool,
    /// Log-likelihood of given continuations.
    pub loglikelihood: bool,
    /// GBNF grammars.
    pub grammar: bool,
    /// JSON Schema constrained output.
    pub json_schema: bool,
    /// Tool calling: requests with `tools`, tool turns and assistant calls.
    pub tools: bool,
    /// Images in user turns.
    pub images: bool,
}

/// The answer to a health check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    /// Whether the provider can take requests now.
    pub ready: bool,
    /// A short human-readable description (model loaded, endpoint reachable, ...).
    pub detail: String,
}

/// One way to call one model.
#[async_trait]
pub trait Provider: Send + Sync + std::fmt::Debug {
    /// The name this provider answers to (the model's name in rightfit).
    fn name(&self) -> &str;

    /// What the provider supports beyond chat.
    fn capabilities(&self) -> Capabilities;

    /// Streams the answer to a request, event by event.
    ///
    /// Dropping the stream cancels the request.
    async fn stream(&self, request: ChatRequest) -> Result<EventStream, ProviderError>;

    /// Answers a request in one piece. The default collects [`Provider::stream`].
    async fn complete(&self, request: ChatRequest) -> Result<ChatResponse, ProviderError> {
        let n = request.n.max(1);
        let stream = self.stream(request).await?;
        collect_stream(self.name(), n, stream).await
    }

    /// Embeds texts.
    async fn embed(&self, request: EmbeddingRequest) -> Result<EmbeddingResponse, ProviderError> {
        let _ = request;
        Err(ProviderError::Unsupported {
            provider: self.name().to_owned(),
            what: "embeddings",
        })
    }

    /// Scores fixed continuations of a context.
    async fn loglikelihood(
        &self,
        request: LoglikelihoodRequest,
    ) -> Result<LoglikelihoodResponse, ProviderError> {
        let _ = request;
        Err(ProviderError::Unsupported {
            provider: self.name().to_owned(),
            what: "log-likelihood",
        })
    }

    /// Whether the provider can take requests now.
    async fn health(&self) -> Result<Health, ProviderError>;

    /// Whether the provider enforces its own timeouts and retries (hosted models do, with
    /// `Retry-After` and a time budget); callers then must not add their own on top.
    fn retries_internally(&self) -> bool {
        false
    }

    /// Memory this process spends on the model, for models run in-process; `None` otherwise.
    async fn memory(&self) -> Option<MemoryUse> {
        None
    }

    /// Each endpoint's counts (requests, failures, ejections, in flight), for models reached
    /// over HTTP — several for a fleet; empty for models run in-process.
    fn endpoints(&self) -> Vec<crate::hosted::pool::EndpointStats> {
        Vec::new()
    }
}

/// Memory an in-process model uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MemoryUse {
    /// The weights.
    pub model_bytes: u64,
    /// Peak resident set size of the whole process so far.
    pub peak_rss_bytes: u64,
}

/// Scales a vector to unit (Euclidean) length, as [`EmbeddingRequest::normalize`] asks; a zero
/// vector stays zero.
pub fn unit_length(vector: &mut [f32]) {
    let norm = vector
        .iter()
        .map(|x| f64::from(*x) * f64::from(*x))
        .sum::<f64>()
        .sqrt();
    if norm > 0.0 {
        vector
            .iter_mut()
            .for_each(|x| *x = (f64::from(*x) / norm) as f32);
    }
}

/// Collects a stream of events into one response with `n` choices.
///
/// A stream that ends before [`StreamEvent::Done`] is an error, never a silently short answer.
pub async fn collect_stream(
    model: &str,
    n: u32,
    mut stream: EventStream,
) -> Result<ChatResponse, ProviderError> {
    use futures::StreamExt;

    let mut texts = vec![String::new(); n as usize];
    let mut reasons: Vec<Option<FinishReason>> = vec![None; n as usize];
    let mut logprobs: Vec<Option<Vec<TokenLogprob>>> = vec![None; n as usize];
    let mut calls: Vec<Vec<ToolCall>> = vec![Vec::new(); n as usize];
    let mut done: Option<(Usage, Timings)> = None;
    while let Some(event) = stream.next().await {
        match event? {
            StreamEvent::Delta { index, text } => {
                let slot = texts
                    .get_mut(index as usize)
                    .ok_or_else(|| bad_index(model, index))?;
                slot.push_str(&text);
            }
            StreamEvent::Logprobs { index, tokens } => {
                logprobs
                    .get_mut(index as usize)
                    .ok_or_else(|| bad_index(model, index))?
                    .get_or_insert_with(Vec::new)
                    .extend(tokens);
            }
            StreamEvent::ToolCall {
                index,
                call,
                id,
                name,
                arguments,
            } => {
                let choice = calls
                    .get_mut(index as usize)
                    .ok_or_else(|| bad_index(model, index))?;
                add_streamed_call(choice, call, id.as_deref(), name.as_deref(), &arguments)
                    .map_err(|detail| ProviderError::Protocol {
                        provider: model.to_owned(),
                        detail: format!("choice {index}: {detail}"),
                    })?;
            }
            StreamEvent::Finish { index, reason } => {
                *reasons
                    .get_mut(index as usize)
                    .ok_or_else(|| bad_index(model, index))? = Some(reason);
            }
            StreamEvent::Done { usage, timings } => {
                done = Some((usage, timings));
                break;
            }
        }
    }
    let Some((usage, timings)) = done else {
        return Err(ProviderError::Truncated {
            provider: model.to_owned(),
            detail: "the stream ended before its final event".to_owned(),
        });
    };
    let choices = texts
        .into_iter()
        .zip(reasons)
        .zip(logprobs)
        .zip(calls)
        .enumerate()
        .map(|(index, (((text, reason), logprobs), tool_calls))| Choice {
            index: index as u32,
            text,
            tool_calls,
            finish_reason: reason.unwrap_or(FinishReason::Stop),
            logprobs,
        })
        .collect();
    Ok(ChatResponse {
        id: String::new(),
        model: model.to_owned(),
        choices,
        usage,
        timings,
    })
}

fn bad_index(model: &str, index: u32) -> ProviderError {
    ProviderError::Protocol {
        provider: model.to_owned(),
        detail: format!("event for choice {index}, which was not requested"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::stream;

    fn events(list: Vec<Result<StreamEvent, ProviderError>>) -> EventStream {
        Box::pin(stream::iter(list))
    }

    #[tokio::test]
    async fn collects_choices_in_index_order() {
        let s = events(vec![
            Ok(StreamEvent::Delta {
                index: 1,
                text: "b".into(),
            }),
            Ok(StreamEvent::Delta {
                index: 0,
                text: "a".into(),
            }),
            Ok(StreamEvent::Delta {
                index: 0,
                text: "c".into(),
            }),
            Ok(StreamEvent::Finish {
                index: 0,
                reason: FinishReason::Length,
            }),
            Ok(StreamEvent::Done {
                usage: Usage::default(),
                timings: Timings::default(),
            }),
        ]);
        let r = collect_stream("m", 2, s).await.expect("complete stream");
        assert_eq!(r.choices[0].text, "ac");
        assert_eq!(r.choices[0].finish_reason, FinishReason::Length);
        assert_eq!(r.choices[1].text, "b");
    }

    #[test]
    fn unit_length_scales_and_leaves_zero_alone() {
        let mut v = [3.0, -4.0];
        unit_length(&mut v);
        assert_eq!(v, [0.6, -0.8]);
        let mut zero = [0.0f32; 3];
        unit_length(&mut zero);
        assert_eq!(zero, [0.0; 3]);
    }

    #[tokio::test]
    async fn a_stream_without_done_is_an_error() {
        let s = events(vec![Ok(StreamEvent::Delta {
            index: 0,
            text: "a".into(),
        })]);
        let err = collect_stream("m", 1, s).await.expect_err("truncated");
        assert!(matches!(err, ProviderError::Truncated { .. }), "{err}");
    }

    #[tokio::test]
    async fn an_event_for_an_unknown_choice_is_an_error() {
        let s = events(vec![Ok(StreamEvent::Delta {
            index: 3,
            text: "a".into(),
        })]);
        let err = collect_stream("m", 1, s).await.expect_err("bad index");
        assert!(matches!(err, ProviderError::Protocol { .. }), "{err}");
    }
}
