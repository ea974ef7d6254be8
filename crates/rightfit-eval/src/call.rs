//! One model call, the layer every strategy, the judge and the labeller stand on: the response
//! cache, a timeout, retries of transient errors, and reading the answer into an [`Outcome`]
//! (tokens, cost, confidence).

use std::sync::Arc;
use std::time::{Duration, Instant};

use rightfit_config::project::{ConfidenceSource, ModelConfig};
use rightfit_config::time as clock;
use rightfit_providers::{Provider, ProviderError};
use rightfit_store::RunStore;
use rightfit_types::{CachedResponse, ChatResponse, LoglikelihoodResponse};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::extract;
use crate::outcome::Outcome;
use crate::prompt::Call;
use crate::token_confidence::token_confidence;

/// What a call returned, with how long it took.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Answer {
    pub response: AnswerBody,
    /// Time being served, milliseconds (queueing behind this run's own requests excluded where
    /// the provider reports it).
    pub latency_ms: f64,
    /// Time to the first token, milliseconds, where known.
    pub ttft_ms: Option<f64>,
}

/// The body of an answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AnswerBody {
    /// A generation.
    Chat(ChatResponse),
    /// Continuation scores.
    Loglikelihood(LoglikelihoodResponse),
}

/// The content hash of a call to a model: same model, same request, same key.
pub fn cache_key(model: &ModelConfig, call: &Call) -> String {
    let identity = serde_json::json!({
        "provider": model.provider,
        "call": call,
    });
    let mut h = Sha256::new();
    h.update(identity.to_string().as_bytes());
    hex::encode(h.finalize())
}

/// Calls a model with cache, timeout and retries. Returns the answer, whether it came from the
/// cache, and how many attempts were made.
pub async fn call(
    provider: &Arc<dyn Provider>,
    model: &ModelConfig,
    store: &dyn RunStore,
    call: &Call,
    use_cache: bool,
) -> Result<(Answer, bool), String> {
    let key = cache_key(model, call);
    if use_cache
        && let Ok(Some(hit)) = store.cache_get(&key).await
        && let Ok(answer) = serde_json::from_value::<Answer>(hit.response)
    {
        return Ok((answer, true));
    }
    // Hosted providers time out and retry by themselves (honouring Retry-After, within
    // retry_budget_s); wrapping them in a second loop would multiply the attempts.
    let own = provider.retries_internally();
    let timeout = if own {
        Duration::from_secs_f64(model.retry_budget_s + model.timeout_s)
    } else {
        Duration::from_secs_f64(model.timeout_s)
    };
    let max_retries = if own { 0 } else { model.max_retries };
    let mut attempt = 0u32;
    let answer = loop {
        let started = Instant::now();
        let result = tokio::time::timeout(timeout, once(provider, call)).await;
        let wall_ms = started.elapsed().as_secs_f64() * 1000.0;
        let error = match result {
            Ok(Ok(body)) => break measured(body, wall_ms),
            Ok(Err(e)) if !e.is_transient() => return Err(e.to_string()),
            Ok(Err(e)) => e.to_string(),
            Err(_) => format!(
                "{}: no answer within {:.0} s (timeout_s)",
                provider.name(),
                model.timeout_s
            ),
        };
        if attempt >= max_retries {
            return Err(format!("{error} (after {} attempts)", attempt + 1));
        }
        tracing::warn!(model = %model.name, attempt, %error, "transient error, retrying");
        let backoff = Duration::from_millis(500u64.saturating_mul(1 << attempt.min(4)));
        tokio::time::sleep(backoff).await;
        attempt += 1;
    };
    if use_cache && let Ok(value) = serde_json::to_value(&answer) {
        let entry = CachedResponse {
            key,
            provider: provider.name().to_owned(),
            response: value,
            created_at: clock::now_rfc3339(),
        };
        if let Err(e) = store.cache_put(&entry).await {
            tracing::warn!(error = %e, "could not write the response cache");
        }
    }
    Ok((answer, false))
}

async fn once(provider: &Arc<dyn Provider>, call: &Call) -> Result<AnswerBody, ProviderError> {
    match call {
        Call::Chat(request) => provider
            .complete(request.clone())
            .await
            .map(AnswerBody::Chat),
        Call::Loglikelihood(request) => provider
            .loglikelihood(request.clone())
            .await
            .map(AnswerBody::Loglikelihood),
    }
}

fn measured(body: AnswerBody, wall_ms: f64) -> Answer {
    let (latency_ms, ttft_ms) = match &body {
        AnswerBody::Chat(r) => {
            let t = &r.timings;
            if t.total_ms > 0.0 {
                let served = (t.total_ms - t.queue_ms).max(0.0);
                let ttft = (t.ttft_ms > 0.0).then(|| (t.ttft_ms - t.queue_ms).max(0.0));
                (served, ttft)
            } else {
                (wall_ms, None)
            }
        }
        AnswerBody::Loglikelihood(_) => (wall_ms, None),
    };
    Answer {
        response: body,
        latency_ms,
        ttft_ms,
    }
}

/// One call to a model, read into an outcome: the raw text (for a log-likelihood call, the most
/// likely continuation, trimmed: the label; for tool calls, the calls as canonical JSON, see
/// [`crate::tool_call`]), and confidence where the response carries it. A
/// failed call is an outcome with its error, counted as one call.
pub async fn call_read(
    provider: &Arc<dyn Provider>,
    config: &ModelConfig,
    store: &dyn RunStore,
    request: &Call,
    use_cache: bool,
) -> (Outcome, String) {
    let (answer, cached) = match call(provider, config, store, request, use_cache).await {
        Ok(a) => a,
        Err(e) => {
            let mut o = Outcome::failed(e);
            o.calls = 1;
            o.input = request.input();
            return (o, String::new());
        }
    };
    let mut o = Outcome {
        input: request.input(),
        latency_ms: answer.latency_ms,
        ttft_ms: answer.ttft_ms,
        calls: 1,
        cached,
        ..Outcome::default()
    };
    let raw = match (&answer.response, request) {
        (AnswerBody::Chat(r), _) => {
            o.tokens_in = u64::from(r.usage.prompt_tokens);
            o.tokens_out = u64::from(r.usage.completion_tokens);
            let choice = r.choices.first();
            // Where the provider returned token log-probabilities: the geometric mean
            // probability of the answer's tokens.
            o.confidence = choice
                .and_then(|c| c.logprobs.as_deref())
                .and_then(|l| token_confidence(ConfidenceSource::TokenMean, l));
            o.logprobs = choice.and_then(|c| c.logprobs.clone());
            // Calls become their canonical JSON text (the text said before them is dropped).
            choice
                .map(crate::tool_call::answer_text)
                .unwrap_or_default()
        }
        (AnswerBody::Loglikelihood(r), Call::Loglikelihood(req)) => {
            o.tokens_in = u64::from(r.context_tokens)
                + r.scores.iter().map(|s| u64::from(s.tokens)).sum::<u64>();
            o.confidence = extract::label_margin(r, &req.continuations, req.normalize);
            r.best_normalised(&req.continuations, req.normalize)
                .and_then(|i| req.continuations.get(i))
                .map(|c| c.trim().to_owned())
                .unwrap_or_default()
        }
        _ => String::new(),
    };
    o.cost_usd = config.request_cost(o.tokens_in, o.tokens_out, o.latency_ms);
    o.text = raw.clone();
    (o, raw)
}
