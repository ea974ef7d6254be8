//! Chat over HTTP, and what every call shares: waiting for the client-side rate limits, posting
//! with the protocol's headers within the first-byte limit, reading and checking answers, and
//! retrying under the policy (`attempts`). Embeddings reuse all of it.

use std::collections::VecDeque;
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use rightfit_types::{
    ChatRequest, ChatResponse, EmbeddingRequest, EmbeddingResponse, Prompt, StreamEvent, Timings,
    Usage,
};
use tokio::time::{Instant, timeout_at};

use super::super::codec::Parsed;
use super::super::sse::SseParser;
use super::client::HostedProvider;
use super::errors::excerpt;
use super::live::{Live, ReadError, TIMED_OUT, events_of, ms, read_all};
use crate::error::ProviderError;
use crate::hosted::pool::EndpointStats;
use crate::provider::{Capabilities, EventStream, Health, Provider, collect_stream};

impl HostedProvider {
    /// Waits for the client-side rate limits for one request estimated at `estimate` tokens;
    /// returns the wait and the estimate taken.
    pub(super) async fn admit(&self, estimate: f64) -> (Duration, f64) {
        let mut waited = Duration::ZERO;
        if let Some(b) = &self.requests {
            waited += b.take(1.0).await;
        }
        if let Some(b) = &self.tokens {
            waited += b.take(estimate).await;
        }
        (waited, estimate)
    }

    /// Gives back (or takes more of) a token estimate once the real count is known.
    pub(super) async fn settle(&self, estimate: f64, used: Option<u32>) {
        if let (Some(b), Some(used)) = (&self.tokens, used) {
            b.settle(estimate, f64::from(used)).await;
        }
    }

    /// Sends one chat request and checks its status, within the first-byte limit.
    async fn send(
        &self,
        base: &str,
        request: &ChatRequest,
        stream: bool,
        deadline: Instant,
    ) -> Result<reqwest::Response, ProviderError> {
        let body = self
            .codec
            .chat_body(&self.model, request, stream)
            .map_err(|detail| ProviderError::InvalidRequest {
                provider: self.label.clone(),
                detail,
            })?;
        let url = self.codec.chat_url(base, &self.model, stream);
        self.post(base, &url, &body, stream, deadline).await
    }

    /// Posts a JSON body to `url` (at the endpoint `base`) with the protocol's headers and checks
    /// the status, within the first-byte limit; an unsuccessful status becomes the error a person
    /// can act on.
    pub(super) async fn post(
        &self,
        base: &str,
        url: &str,
        body: &serde_json::Value,
        stream: bool,
        deadline: Instant,
    ) -> Result<reqwest::Response, ProviderError> {
        let mut builder = self.client.post(url).json(body);
        for (name, value) in self.codec.headers(self.key.as_ref()) {
            builder = builder.header(name, value);
        }
        if stream {
            builder = builder.header(reqwest::header::ACCEPT, "text/event-stream");
        }
        let (first_deadline, phase, after) = self.first_byte_deadline(deadline);
        let response = match timeout_at(first_deadline, builder.send()).await {
            Err(_) => {
                return Err(ProviderError::Timeout {
                    provider: self.label.clone(),
                    phase,
                    after,
                });
            }
            Ok(Err(e)) => return Err(self.transport_error(&e, base)),
            Ok(Ok(r)) => r,
        };
        if !response.status().is_success() {
            return Err(self.status_error(response, deadline, base).await);
        }
        Ok(response)
    }

    fn first_byte_deadline(&self, deadline: Instant) -> (Instant, &'static str, Duration) {
        match self.first_byte {
            Some(fb) if Instant::now() + fb < deadline => {
                (Instant::now() + fb, "waiting for the first byte", fb)
            }
            _ => (
                deadline,
                "before the answer was complete (timeout_s)",
                self.timeout,
            ),
        }
    }

    /// Opens a stream and reads until its first event, so that a failure before anything was
    /// produced can still be retried.
    async fn open(
        &self,
        base: &str,
        request: &ChatRequest,
        started: Instant,
        queue: Duration,
    ) -> Result<Live, ProviderError> {
        let deadline = Instant::now() + self.timeout;
        let response = self.send(base, request, true, deadline).await?;
        let is_json = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        let mut live = Live {
            body: response.bytes_stream().boxed(),
            parser: SseParser::new(),
            decoder: self.codec.stream_decoder(request),
            pending: VecDeque::new(),
            deadline,
            started,
            queue,
            first_token: None,
            finished: false,
            label: self.label.clone(),
            timeout: self.timeout,
            redact_key: self.key.clone(),
        };
        if is_json {
            // Some OpenAI-compatible servers ignore `stream: true` and answer whole.
            let (first_deadline, phase, after) = self.first_byte_deadline(deadline);
            let body = read_all(&mut live.body, first_deadline)
                .await
                .map_err(|e| self.read_error(e, phase, after))?;
            let parsed = self.parse_whole(&body, request)?;
            live.pending.extend(events_of(parsed));
            live.finished = true;
            return Ok(live);
        }
        let (first_deadline, phase, after) = self.first_byte_deadline(deadline);
        while live.pending.is_empty() && !live.finished {
            match timeout_at(first_deadline, live.fill()).await {
                Err(_) => {
                    return Err(ProviderError::Timeout {
                        provider: self.label.clone(),
                        phase,
                        after,
                    });
                }
                Ok(Err(ReadError::Fault(f))) => return Err(self.fault(f)),
                Ok(Err(ReadError::Dropped(detail))) => {
                    return Err(ProviderError::Truncated {
                        provider: self.label.clone(),
                        detail: format!("the connection dropped before the answer began: {detail}"),
                    });
                }
                Ok(Ok(())) => {}
            }
        }
        Ok(live)
    }

    pub(super) fn read_error(
        &self,
        e: ReadError,
        phase: &'static str,
        after: Duration,
    ) -> ProviderError {
        match e {
            ReadError::Fault(f) => self.fault(f),
            ReadError::Dropped(detail) if detail == TIMED_OUT => ProviderError::Timeout {
                provider: self.label.clone(),
                phase,
                after,
            },
            ReadError::Dropped(detail) => ProviderError::Truncated {
                provider: self.label.clone(),
                detail: format!("the connection dropped while reading the answer: {detail}"),
            },
        }
    }

    /// Reads a successful body with `parse`; a body that is not JSON, does not parse, or holds
    /// an error object (some servers send errors with status 200) is a protocol error.
    pub(super) fn read_json<T>(
        &self,
        body: &[u8],
        parse: impl FnOnce(serde_json::Value) -> Result<T, String>,
    ) -> Result<T, ProviderError> {
        let value: serde_json::Value =
            serde_json::from_slice(body).map_err(|e| ProviderError::Protocol {
                provider: self.label.clone(),
                detail: format!("the answer is not JSON ({e}): {}", excerpt(body)),
            })?;
        parse(value).map_err(|detail| {
            let detail = match self.codec.error_body(body) {
                Some(e) => format!("an error came back with status 200: {}", e.message),
                None => detail,
            };
            ProviderError::Protocol {
                provider: self.label.clone(),
                detail: self.redact(&detail),
            }
        })
    }

    fn parse_whole(&self, body: &[u8], request: &ChatRequest) -> Result<Parsed, ProviderError> {
        let n = request.n.max(1);
        let parsed = self.read_json(body, |value| self.codec.parse_reply(value, request))?;
        if parsed.choices.len() != n as usize {
            return Err(ProviderError::Protocol {
                provider: self.label.clone(),
                detail: format!(
                    "asked for {n} choice(s), the answer has {}",
                    parsed.choices.len()
                ),
            });
        }
        Ok(parsed)
    }

    /// One whole (non-streamed) attempt.
    async fn whole(
        &self,
        base: &str,
        request: &ChatRequest,
        started: Instant,
        queue: Duration,
    ) -> Result<(ChatResponse, Option<Usage>), ProviderError> {
        let deadline = Instant::now() + self.timeout;
        let response = self.send(base, request, false, deadline).await?;
        let mut body = response.bytes_stream().boxed();
        let bytes = read_all(&mut body, deadline).await.map_err(|e| {
            self.read_error(
                e,
                "before the answer was complete (timeout_s)",
                self.timeout,
            )
        })?;
        let parsed = self.parse_whole(&bytes, request)?;
        let usage = parsed.usage;
        let total_ms = ms(started.elapsed());
        let u = usage.unwrap_or_default();
        Ok((
            ChatResponse {
                id: parsed.id.unwrap_or_else(local_id),
                model: self.model.clone(),
                choices: parsed.choices,
                usage: u,
                timings: Timings {
                    queue_ms: ms(queue),
                    ttft_ms: 0.0,
                    total_ms,
                    prompt_tokens_evaluated: u.prompt_tokens.saturating_sub(u.cached_prompt_tokens),
                    generated_tokens: u.completion_tokens,
                },
            },
            usage,
        ))
    }
}

#[async_trait]
impl Provider for HostedProvider {
    fn name(&self) -> &str {
        &self.name
    }

    fn retries_internally(&self) -> bool {
        true
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            completion: false,
            embeddings: self.codec.embeddings().is_ok(),
            loglikelihood: false,
            grammar: self.codec.kind() == "openai-compatible",
            json_schema: true,
            tools: true,
            images: true,
        }
    }

    async fn stream(&self, request: ChatRequest) -> Result<EventStream, ProviderError> {
        let (queue, estimate) = self.admit(estimate_tokens(&request)).await;
        let started = Instant::now();
        let request = &request;
        // Only the opening is retried: once an event is handed on, the caller has seen it.
        let (live, lease) = self
            .retrying(started, move |base| async move {
                self.open(&base, request, started, queue).await
            })
            .await?;
        let tokens = self.tokens.clone();
        Ok(futures::stream::unfold(Some((live, lease)), move |state| {
            let tokens = tokens.clone();
            async move {
                // The lease lives as long as the stream: it counts as in flight until then.
                let (mut live, lease) = state?;
                let item = live.next().await?;
                match (&item, &tokens) {
                    (Ok(StreamEvent::Done { usage, .. }), Some(b)) => {
                        b.settle(estimate, f64::from(usage.total_tokens())).await;
                    }
                    (Err(e), _) => lease.failed(e),
                    _ => {}
                }
                Some((item, Some((live, lease))))
            }
        })
        .boxed())
    }

    async fn complete(&self, request: ChatRequest) -> Result<ChatResponse, ProviderError> {
        let (queue, estimate) = self.admit(estimate_tokens(&request)).await;
        let started = Instant::now();
        let n = request.n.max(1);
        let request = &request;
        let ((response, usage), _) = if self.stream_whole {
            // A stream that fails half-way is retried whole: nothing reached the caller yet.
            self.retrying(started, move |base| async move {
                let live = self.open(&base, request, started, queue).await?;
                let response = collect_stream(&self.label, n, live.into_stream()).await?;
                let usage = Some(response.usage);
                Ok((response, usage))
            })
            .await?
        } else {
            self.retrying(started, move |base| async move {
                self.whole(&base, request, started, queue).await
            })
            .await?
        };
        self.settle(estimate, usage.map(|u| u.total_tokens())).await;
        let mut response = response;
        if response.id.is_empty() {
            response.id = local_id();
        }
        response.model = self.model.clone();
        Ok(response)
    }

    async fn embed(&self, request: EmbeddingRequest) -> Result<EmbeddingResponse, ProviderError> {
        self.embed_texts(request).await
    }

    async fn health(&self) -> Result<Health, ProviderError> {
        Ok(self.check_health().await)
    }

    fn endpoints(&self) -> Vec<EndpointStats> {
        self.pool.stats()
    }
}

fn estimate_tokens(request: &ChatRequest) -> f64 {
    let chars = match &request.prompt {
        Prompt::Messages(m) => m.iter().map(|m| m.content.len()).sum::<usize>(),
        Prompt::Text(t) => t.len(),
    };
    let out = request.max_tokens.unwrap_or(1024) * request.n.max(1);
    (chars / 4) as f64 + f64::from(out)
}

fn local_id() -> String {
    format!("rightfit-{:016x}", fastrand::u64(..))
}

#[cfg(test)]
mod tests {
    use rightfit_types::ChatRequest;

    use super::estimate_tokens;

    #[test]
    fn token_estimate_counts_prompt_and_output() {
        let r = ChatRequest::chat(vec![rightfit_types::Message::user("x".repeat(400))])
            .with_max_tokens(50);
        assert_eq!(estimate_tokens(&r), 150.0);
    }
}
