//! [`ClassifierProvider`]: a trained classifier served behind the [`Provider`] trait, over any
//! provider that embeds (a local GGUF engine's mean-pooled embeddings, or a
//! [`crate::SentenceEmbedder`]). One embedding call and one small matrix product per request.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use futures::StreamExt;
use rightfit_providers::{
    Capabilities, EndpointStats, EventStream, Health, MemoryUse, Provider, ProviderError,
};
use rightfit_types::{
    ChatRequest, ChatResponse, Choice, ContinuationScore, EmbeddingRequest, FinishReason,
    LoglikelihoodRequest, LoglikelihoodResponse, Prompt, ResponseFormat, Role, StreamEvent,
    Timings, TokenLogprob, TopLogprob, Usage,
};

use crate::classifier::{Classifier, argmax};
use crate::measure::ms_since;

/// ln p, floored so that a probability that underflowed to 0 stays a finite number (JSON has
/// no infinities).
fn ln_p(p: f32) -> f64 {
    f64::from(p).max(1e-30).ln()
}

/// Turns the text a request carries (the last user message, or a log-likelihood context) into
/// the text to embed. The default passes it through: train on the same strings you serve.
pub type InputFn = Arc<dyn Fn(&str) -> String + Send + Sync>;

/// A classifier answering label questions.
#[derive(Clone)]
pub struct ClassifierProvider {
    name: String,
    classifier: Arc<Classifier>,
    embedder: Arc<dyn Provider>,
    normalize: bool,
    input: InputFn,
}

impl std::fmt::Debug for ClassifierProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClassifierProvider")
            .field("name", &self.name)
            .field("labels", &self.classifier.labels().len())
            .field("embedder", &self.embedder.name())
            .field("normalize", &self.normalize)
            .finish_non_exhaustive()
    }
}

/// The answer to one text: the label probabilities and what the embedding cost.
struct Scored {
    probabilities: Vec<f32>,
    prompt_tokens: u32,
    elapsed_ms: f64,
}

impl ClassifierProvider {
    /// Serves `classifier` under `name`, embedding with `embedder`; `normalize` must be what the
    /// training embeddings used (the artefact's `embedder.normalize`).
    pub fn new(
        name: impl Into<String>,
        classifier: Arc<Classifier>,
        embedder: Arc<dyn Provider>,
        normalize: bool,
    ) -> Self {
        Self {
            name: name.into(),
            classifier,
            embedder,
            normalize,
            input: Arc::new(str::to_owned),
        }
    }

    /// Sets how a request's text becomes the text to embed.
    pub fn with_input(mut self, input: InputFn) -> Self {
        self.input = input;
        self
    }

    /// The classifier.
    pub fn classifier(&self) -> &Classifier {
        &self.classifier
    }

    fn invalid(&self, detail: impl Into<String>) -> ProviderError {
        ProviderError::InvalidRequest {
            provider: self.name.clone(),
            detail: detail.into(),
        }
    }

    async fn score(&self, text: &str) -> Result<Scored, ProviderError> {
        let start = Instant::now();
        let response = self
            .embedder
            .embed(EmbeddingRequest {
                model: String::new(),
                inputs: vec![(self.input)(text)],
                normalize: self.normalize,
            })
            .await?;
        let embedding = response
            .embeddings
            .first()
            .ok_or_else(|| ProviderError::Protocol {
                provider: self.embedder.name().to_owned(),
                detail: "no embedding in the answer".to_owned(),
            })?;
        let probabilities =
            self.classifier
                .probabilities(embedding)
                .map_err(|e| ProviderError::Engine {
                    provider: self.name.clone(),
                    detail: e.to_string(),
                })?;
        Ok(Scored {
            probabilities,
            prompt_tokens: response.prompt_tokens,
            elapsed_ms: ms_since(start),
        })
    }

    /// The text a chat request asks about: the last user message, or the raw text.
    fn request_text<'a>(&self, request: &'a ChatRequest) -> Result<&'a str, ProviderError> {
        match &request.prompt {
            Prompt::Text(t) => Ok(t),
            Prompt::Messages(messages) => messages
                .iter()
                .rev()
                .find(|m| m.role == Role::User)
                .map(|m| m.content.as_str())
                .ok_or_else(|| self.invalid("the conversation has no user message to classify")),
        }
    }

    /// The label as the request's format wants it: bare, or `{"label": …}` for JSON formats.
    fn render(label: &str, format: &ResponseFormat) -> String {
        match format {
            ResponseFormat::JsonObject | ResponseFormat::JsonSchema { .. } => {
                serde_json::json!({ "label": label }).to_string()
            }
            ResponseFormat::Text | ResponseFormat::Grammar { .. } => label.to_owned(),
        }
    }
}

#[async_trait]
impl Provider for ClassifierProvider {
    fn name(&self) -> &str {
        &self.name
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            completion: true,
            embeddings: false,
            loglikelihood: true,
            grammar: false,
            json_schema: false,
            tools: false,
            images: false,
        }
    }

    /// The answer is the most probable label, with one log-probability: ln P(label), so that a
    /// cascade's confidence (the geometric mean probability of the answer's tokens) is the class
    /// probability. `logprobs = Some(k)` adds the `k` next most probable labels.
    async fn complete(&self, request: ChatRequest) -> Result<ChatResponse, ProviderError> {
        let text = self.request_text(&request)?;
        let scored = self.score(text).await?;
        let p = &scored.probabilities;
        let (best, p_best) = argmax(p);
        let labels = self.classifier.labels();
        let label = labels.get(best).map_or("", String::as_str);
        let mut ranked: Vec<usize> = (0..p.len()).collect();
        ranked.sort_by(|a, b| p[*b].total_cmp(&p[*a]));
        let top: Vec<TopLogprob> = ranked
            .iter()
            .take(request.logprobs.unwrap_or(0) as usize)
            .map(|&i| TopLogprob {
                token: labels[i].clone(),
                logprob: ln_p(p[i]),
            })
            .collect();
        let choice = |index: u32| Choice {
            tool_calls: Vec::new(),
            index,
            text: Self::render(label, &request.response_format),
            finish_reason: FinishReason::Stop,
            logprobs: Some(vec![TokenLogprob {
                token: label.to_owned(),
                logprob: ln_p(p_best),
                top: top.clone(),
            }]),
        };
        let n = request.n.max(1);
        Ok(ChatResponse {
            id: String::new(),
            model: self.name.clone(),
            choices: (0..n).map(choice).collect(),
            usage: Usage {
                prompt_tokens: scored.prompt_tokens,
                completion_tokens: n,
                cached_prompt_tokens: 0,
            },
            timings: Timings {
                queue_ms: 0.0,
                ttft_ms: scored.elapsed_ms,
                total_ms: scored.elapsed_ms,
                prompt_tokens_evaluated: scored.prompt_tokens,
                generated_tokens: n,
            },
        })
    }

    async fn stream(&self, request: ChatRequest) -> Result<EventStream, ProviderError> {
        let response = self.complete(request).await?;
        let mut events = Vec::new();
        for c in response.choices {
            events.push(Ok(StreamEvent::Delta {
                index: c.index,
                text: c.text,
            }));
            if let Some(tokens) = c.logprobs {
                events.push(Ok(StreamEvent::Logprobs {
                    index: c.index,
                    tokens,
                }));
            }
            events.push(Ok(StreamEvent::Finish {
                index: c.index,
                reason: c.finish_reason,
            }));
        }
        events.push(Ok(StreamEvent::Done {
            usage: response.usage,
            timings: response.timings,
        }));
        Ok(futures::stream::iter(events).boxed())
    }

    /// Each continuation must be a label (surrounding whitespace ignored, then case ignored);
    /// its score is ln P(label) over one token.
    async fn loglikelihood(
        &self,
        request: LoglikelihoodRequest,
    ) -> Result<LoglikelihoodResponse, ProviderError> {
        let labels = self.classifier.labels();
        let mut picks = Vec::with_capacity(request.continuations.len());
        for c in &request.continuations {
            let c = c.trim();
            let i = labels
                .iter()
                .position(|l| l == c)
                .or_else(|| labels.iter().position(|l| l.eq_ignore_ascii_case(c)))
                .ok_or_else(|| {
                    self.invalid(format!(
                        "continuation '{c}' is not one of the classifier's {} labels",
                        labels.len()
                    ))
                })?;
            picks.push(i);
        }
        let scored = self.score(&request.context).await?;
        let (best, _) = argmax(&scored.probabilities);
        Ok(LoglikelihoodResponse {
            model: self.name.clone(),
            scores: picks
                .iter()
                .map(|&i| ContinuationScore {
                    logprob: ln_p(scored.probabilities[i]),
                    tokens: 1,
                    is_greedy: i == best,
                })
                .collect(),
            context_tokens: scored.prompt_tokens,
        })
    }

    async fn health(&self) -> Result<Health, ProviderError> {
        let inner = self.embedder.health().await?;
        Ok(Health {
            ready: inner.ready,
            detail: format!(
                "{:?} classifier over {} labels; embeddings from {}",
                self.classifier.kind(),
                self.classifier.labels().len(),
                inner.detail
            ),
        })
    }

    async fn memory(&self) -> Option<MemoryUse> {
        self.embedder.memory().await
    }

    /// The embedder's: each request is one embedding call to it (an embedding model reached
    /// over HTTP has endpoints; one run in-process has none).
    fn endpoints(&self) -> Vec<EndpointStats> {
        self.embedder.endpoints()
    }
}
