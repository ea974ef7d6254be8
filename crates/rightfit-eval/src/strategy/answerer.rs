//! The answerer and its single calls: a model by name, one call of a candidate's own prompt,
//! and the answer read out of its output. The strategies build on these.

use std::collections::BTreeMap;
use std::sync::Arc;

use rightfit_config::project::{Candidate, Component, ModelConfig, OutputContract, ProviderConfig};
use rightfit_providers::Provider;
use rightfit_store::RunStore;
use serde_json::Value;

use super::similar::SimilarShots;
use crate::call::call_read;
use crate::example::Example;
use crate::extract;
use crate::outcome::Outcome;
use crate::prompt::{Call, Templates};
use crate::score::Scorer;
use crate::token_confidence::token_confidence;

/// Answers examples of one component with its candidates' strategies: everything a strategy may
/// use for one run (or one served state) of the component.
pub struct Answerer<'a> {
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

impl std::fmt::Debug for Answerer<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Answerer")
            .field("component", &self.component.name)
            .field("providers", &self.providers.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Answerer<'_> {
    pub(crate) fn provider(
        &self,
        model: &str,
    ) -> Result<(&ModelConfig, &Arc<dyn Provider>), String> {
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

    pub(crate) fn is_local(&self, model: &str) -> bool {
        self.models
            .get(model)
            .is_some_and(|m| matches!(m.provider, ProviderConfig::Local { .. }))
    }

    /// One call to `model`, read into an outcome (see [`call_read`]).
    pub(crate) async fn call(&self, model: &str, request: &Call) -> (Outcome, String) {
        match self.provider(model) {
            Ok((config, provider)) => {
                call_read(provider, config, self.store, request, self.cache).await
            }
            Err(e) => (Outcome::failed(e), String::new()),
        }
    }

    /// One call of the candidate's own prompt (its shots, reasoning, constraint), with the
    /// answer read out of it; `sample` varies the seed of a self-consistency sample.
    pub(crate) async fn once(
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
        if let Some(source) = candidate.token_confidence {
            // None when the model reported no tokens (a provider without log-probabilities).
            o.confidence = o
                .logprobs
                .as_deref()
                .and_then(|t| token_confidence(source, t));
        }
        (o, raw)
    }

    /// The answer in a raw output: the final line of reasoning; the label of a constrained
    /// hosted answer (`{"label": ...}`).
    pub(crate) fn read_answer(&self, candidate: &Candidate, raw: &str, local: bool) -> String {
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
}
