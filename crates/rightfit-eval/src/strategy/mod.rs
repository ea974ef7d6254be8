//! Strategies: how a candidate turns one example into an answer, with every call it makes.
//!
//! A single call (zero-shot, few-shot, chain-of-thought, log-likelihood) or several:
//! self-consistency samples in parallel and votes; reflection drafts, has a critic check and
//! revises, in turn; a cascade runs its stages in order until one is confident enough. Every
//! call counts towards the example's latency (parallel calls: the slowest; calls in turn: the
//! sum), tokens and cost, and is kept as a [`Step`] so a person can see why the answer came
//! out as it did.

mod cascade;
pub mod extract;
mod multi;
mod similar;

use std::collections::BTreeMap;
use std::sync::Arc;

use rightfit_config::project::{
    Candidate, Component, ModelConfig, OutputContract, ProviderConfig, ShotSelect, Shots, Strategy,
};
use rightfit_providers::Provider;
use rightfit_store::RunStore;
use rightfit_types::Step;
use serde_json::Value;

pub use similar::SimilarShots;

use crate::example::Example;
use crate::prompt::{Call, Templates};
use crate::runner::{AnswerBody, call};
use crate::score::Scorer;

/// Everything a strategy may use for one run of one component.
pub struct Env<'a> {
    /// The component.
    pub component: &'a Component,
    /// Every model of the project, by name.
    pub models: &'a BTreeMap<String, ModelConfig>,
    /// Providers built for the candidate being evaluated (its model, critic, embedder,
    /// verifier, and a cascade's stages' models), by model name.
    pub providers: &'a BTreeMap<String, Arc<dyn Provider>>,
    /// The component's templates.
    pub templates: &'a Templates,
    /// The component's scorer (answers are parsed with it for votes and validators).
    pub scorer: &'a Scorer,
    /// The run's few-shot examples (fixed candidates take the first `k`).
    pub shots: &'a [Example],
    /// Similarity selection over `shots`, per embedder model.
    pub similar: &'a SimilarShots,
    /// The response cache lives here.
    pub store: &'a dyn RunStore,
    /// Use and fill the response cache.
    pub cache: bool,
}

impl std::fmt::Debug for Env<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Env")
            .field("component", &self.component.name)
            .field("providers", &self.providers.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

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
    /// The calls, for a multi-call strategy.
    pub steps: Vec<Step>,
    /// The strategy could not answer: why.
    pub error: Option<String>,
}

impl Outcome {
    fn failed(error: String) -> Self {
        Self {
            error: Some(error),
            cost_usd: Some(0.0),
            ..Self::default()
        }
    }

    /// Adds another call's figures, made after this one (latencies add up).
    fn then(&mut self, other: &Outcome) {
        self.latency_ms += other.latency_ms;
        self.absorb(other);
    }

    /// Adds another call's tokens, cost and count (not its latency).
    fn absorb(&mut self, other: &Outcome) {
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
    fn step(&self, kind: &str, by: &str, raw: &str) -> Step {
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
        }
    }
}

impl Env<'_> {
    fn provider(&self, model: &str) -> Result<(&ModelConfig, &Arc<dyn Provider>), String> {
        let config = self
            .models
            .get(model)
            .ok_or_else(|| format!("model '{model}' is not defined"))?;
        let provider = self
            .providers
            .get(model)
            .ok_or_else(|| format!("model '{model}' was not loaded for this candidate"))?;
        Ok((config, provider))
    }

    fn is_local(&self, model: &str) -> bool {
        self.models
            .get(model)
            .is_some_and(|m| matches!(m.provider, ProviderConfig::Local { .. }))
    }

    /// One call to `model`, read into an outcome: the raw text (for a log-likelihood call, the
    /// most likely continuation's index as text is not useful, so the label), and confidence
    /// where the response carries it.
    pub(crate) async fn call(&self, model: &str, request: &Call) -> (Outcome, String) {
        let (config, provider) = match self.provider(model) {
            Ok(p) => p,
            Err(e) => return (Outcome::failed(e), String::new()),
        };
        let (answer, cached) =
            match call::call(provider, config, self.store, request, self.cache).await {
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
                    .and_then(|c| c.logprobs.as_ref())
                    .filter(|l| !l.is_empty())
                    .map(|l| (l.iter().map(|t| t.logprob).sum::<f64>() / l.len() as f64).exp());
                choice.map(|c| c.text.clone()).unwrap_or_default()
            }
            (AnswerBody::Loglikelihood(r), Call::Loglikelihood(req)) => {
                o.tokens_in = u64::from(r.context_tokens)
                    + r.scores.iter().map(|s| u64::from(s.tokens)).sum::<u64>();
                o.confidence = extract::label_margin(r);
                r.best()
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

    /// The few-shot examples a candidate shows for an example, with the embedding call it
    /// took to choose them (similarity selection), if any.
    async fn shots_for(
        &self,
        candidate: &Candidate,
        example: &Example,
    ) -> Result<(Vec<Example>, Option<Outcome>), String> {
        match &candidate.shots {
            None => Ok((Vec::new(), None)),
            Some(s) => match &s.select {
                ShotSelect::Fixed => Ok((self.shots[..s.k.min(self.shots.len())].to_vec(), None)),
                ShotSelect::Similar { embedder } => {
                    let (model, provider) = self.provider(embedder)?;
                    self.similar
                        .choose(self, (embedder, model, provider), s.k, example)
                        .await
                }
            },
        }
    }

    /// One call of the candidate's own prompt (its shots, reasoning, constraint), with the
    /// answer read out of it; `sample` varies the seed of a self-consistency sample.
    async fn once(
        &self,
        candidate: &Candidate,
        shots: &[Example],
        example: &Example,
        sample: Option<u64>,
    ) -> (Outcome, String) {
        let local = self.is_local(&candidate.model);
        let mut request =
            match self
                .templates
                .call(self.component, candidate, shots, example, local)
            {
                Ok(r) => r,
                Err(e) => {
                    return (
                        Outcome::failed(format!("line {}: {e}", example.line)),
                        String::new(),
                    );
                }
            };
        if let (Some(i), Call::Chat(r)) = (sample, &mut request) {
            r.sampling.seed = Some(candidate.seed.unwrap_or(0).wrapping_add(i));
        }
        let (mut o, raw) = self.call(&candidate.model, &request).await;
        if o.error.is_none() {
            o.text = self.read_answer(candidate, &raw, local);
        }
        (o, raw)
    }

    /// The answer in a raw output: the final line of reasoning; the label of a constrained
    /// hosted answer (`{"label": ...}`).
    fn read_answer(&self, candidate: &Candidate, raw: &str, local: bool) -> String {
        if candidate.reason {
            return extract::final_answer(raw, &candidate.answer_prefix).unwrap_or_default();
        }
        if candidate.constrained
            && !local
            && matches!(self.component.output, OutputContract::Label { .. })
            && let Ok(v) = serde_json::from_str::<Value>(raw)
            && let Some(label) = v.get("label").and_then(Value::as_str)
        {
            return label.to_owned();
        }
        raw.to_owned()
    }

    /// A candidate's answer to an example, by its strategy.
    pub async fn answer(&self, candidate: &Candidate, example: &Example) -> Outcome {
        if let Strategy::Cascade(cascade) = &candidate.strategy {
            return cascade::run(self, cascade, example).await;
        }
        self.plain(candidate, example).await
    }

    /// Any strategy but a cascade (a cascade's stages are these).
    async fn plain(&self, candidate: &Candidate, example: &Example) -> Outcome {
        let (shots, chose) = match self.shots_for(candidate, example).await {
            Ok(s) => s,
            Err(e) => return Outcome::failed(format!("few-shot selection: {e}")),
        };
        let mut outcome = match &candidate.strategy {
            Strategy::SelfConsistency { samples } => {
                multi::self_consistency(self, candidate, &shots, example, *samples).await
            }
            Strategy::Reflection { rounds, critic } => {
                let critic = critic.as_deref().unwrap_or(&candidate.model);
                multi::reflection(self, candidate, &shots, example, *rounds, critic).await
            }
            _ => {
                let (mut o, raw) = self.once(candidate, &shots, example, None).await;
                if candidate.reason && o.error.is_none() {
                    o.steps.push(o.step("reasoning", &candidate.model, &raw));
                }
                o
            }
        };
        if let Some(embedding) = chose {
            // The embedding call came first: its figures add to the answer's.
            outcome.then(&embedding);
            let by = match &candidate.shots {
                Some(Shots {
                    select: ShotSelect::Similar { embedder },
                    ..
                }) => embedder.as_str(),
                _ => "",
            };
            let mut step = embedding.step("select-shots", by, &embedding.text);
            step.answer = None;
            outcome.steps.insert(0, step);
        }
        outcome
    }
}
