//! What one call, or one strategy's calls, produced for one example: the answer with its
//! latency, tokens, cost and steps. Strategies combine outcomes of calls made in turn (latencies
//! add up) or in parallel (the slowest counts).

use rightfit_types::{Step, TokenLogprob};
use serde_json::Value;

/// What a strategy produced for one example.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// What was sent (the first call's prompt).
    pub input: Value,
    /// The final answer, as the scorer will read it.
    pub text: String,
    /// Served time of all calls, milliseconds.
    pub latency_ms: f64,
    /// Time to first token of a single streamed call.
    pub ttft_ms: Option<f64>,
    /// Prompt tokens of all calls.
    pub tokens_in: u64,
    /// Generated tokens of all calls.
    pub tokens_out: u64,
    /// Cost of all calls, `None` when a call's price is unknown.
    pub cost_usd: Option<f64>,
    /// Calls made.
    pub calls: u32,
    /// Every call was answered from the response cache.
    pub cached: bool,
    /// How sure the strategy is, where it can say.
    pub confidence: Option<f64>,
    /// The token log-probabilities of a single call's answer, when they were asked for.
    pub logprobs: Option<Vec<TokenLogprob>>,
    /// The calls, for a multi-call strategy.
    pub steps: Vec<Step>,
    /// The strategy could not answer: why.
    pub error: Option<String>,
}

impl Outcome {
    pub(crate) fn failed(error: String) -> Self {
        Self {
            error: Some(error),
            cost_usd: Some(0.0),
            ..Self::default()
        }
    }

    /// Adds another call's figures, made after this one (latencies add up).
    pub(crate) fn then(&mut self, other: &Outcome) {
        self.latency_ms += other.latency_ms;
        self.absorb(other);
    }

    /// Adds another call's tokens, cost and count (not its latency).
    pub(crate) fn absorb(&mut self, other: &Outcome) {
        self.tokens_in += other.tokens_in;
        self.tokens_out += other.tokens_out;
        self.cost_usd = match (self.cost_usd, other.cost_usd) {
            (Some(a), Some(b)) => Some(a + b),
            _ => None,
        };
        self.calls += other.calls;
        self.cached = self.cached && other.cached;
    }

    /// This outcome as one step of a larger strategy.
    pub(crate) fn step(&self, kind: &str, by: &str, raw: &str) -> Step {
        Step {
            kind: kind.to_owned(),
            by: by.to_owned(),
            output: raw.to_owned(),
            answer: (raw != self.text).then(|| self.text.clone()),
            confidence: self.confidence,
            latency_ms: self.latency_ms,
            tokens_in: self.tokens_in,
            tokens_out: self.tokens_out,
            cost_usd: self.cost_usd,
            cached: self.cached,
            error: self.error.clone(),
            logprobs: self.logprobs.clone(),
        }
    }
}
