//! A few-shot pool labelled by a model (`few_shot.labelled_by`): each pool input is answered
//! zero-shot by that model, and its parsed answer becomes the example's reference — so a pool of
//! unlabelled production inputs can teach a small model what the large one would say.

use std::collections::BTreeMap;
use std::sync::Arc;

use rightfit_config::project::{Candidate, Component, ModelConfig, Project, Strategy};
use rightfit_providers::Provider;
use rightfit_registry::ProviderFactory;
use rightfit_store::RunStore;
use serde_json::{Value, json};

use super::options::EvalError;
use crate::call;
use crate::example::Example;
use crate::prompt::Templates;
use crate::score::Scorer;

/// What labelling the pool gave.
#[derive(Debug, Default)]
pub(crate) struct Labelled {
    /// Example id → the labeller's parsed answer.
    pub labels: BTreeMap<String, Value>,
    /// Pool examples dropped: the call failed or its answer did not parse.
    pub dropped: Vec<(String, String)>,
}

/// Labels a run's few-shot pool with `few_shot.labelled_by`, when the component names a
/// labeller; records what it labelled and dropped in the run's `meta`. Fails when fewer
/// examples survive than a fixed few-shot candidate shows.
pub(crate) async fn label_run_pool(
    project: &Project,
    c: &Component,
    (templates, scorer): (&Templates, &Scorer),
    (store, cache): (&dyn RunStore, bool),
    providers: &dyn ProviderFactory,
    shots: &mut Vec<Example>,
    meta: &mut Value,
) -> Result<(), EvalError> {
    let Some(labeller) = c.few_shot.as_ref().and_then(|f| f.labelled_by.as_ref()) else {
        return Ok(());
    };
    if shots.is_empty() {
        return Ok(());
    }
    let model = project
        .models
        .get(labeller)
        .ok_or_else(|| EvalError::Invalid(format!("labeller model '{labeller}' is not defined")))?;
    let provider = providers.provider(model).await?;
    let drawn = shots.len();
    let labelled = label_pool(c, model, &provider, templates, scorer, store, cache, shots).await;
    drop(provider);
    let wanted = c.shots_wanted().min(drawn);
    let fixed_k = c
        .candidates
        .iter()
        .filter_map(|k| k.shots.as_ref().map(|s| s.k))
        .max()
        .unwrap_or(0);
    if shots.len() < fixed_k {
        return Err(EvalError::Invalid(format!(
            "few_shot.labelled_by = '{labeller}' labelled {} of {wanted} pool examples; a candidate shows {fixed_k} (first failure: {})",
            shots.len(),
            labelled
                .dropped
                .first()
                .map_or("none", |(_, why)| why.as_str())
        )));
    }
    if let Some(meta) = meta.as_object_mut() {
        meta.insert("few_shot_labelled_by".to_owned(), json!(labeller));
        meta.insert("few_shot_labels".to_owned(), json!(labelled.labels));
        meta.insert("few_shot_dropped".to_owned(), json!(labelled.dropped));
    }
    Ok(())
}

/// Replaces each shot's reference by `model`'s zero-shot answer; drops shots it could not label.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn label_pool(
    component: &Component,
    model: &ModelConfig,
    provider: &Arc<dyn Provider>,
    templates: &Templates,
    scorer: &Scorer,
    store: &dyn RunStore,
    cache: bool,
    shots: &mut Vec<Example>,
) -> Labelled {
    let labeller = Candidate {
        name: format!("{}/labeller", model.name),
        model: model.name.clone(),
        strategy: Strategy::ZeroShot,
        temperature: None,
        top_p: None,
        seed: None,
        max_tokens: component.max_tokens,
        constrained: false,
        shots: None,
        reason: false,
        answer_prefix: rightfit_config::project::DEFAULT_ANSWER_PREFIX.to_owned(),
        token_confidence: None,
        normalize: Default::default(),
        student: None,
    };
    let local = matches!(
        model.provider,
        rightfit_config::project::ProviderConfig::Local { .. }
    );
    let mut out = Labelled::default();
    let mut kept = Vec::with_capacity(shots.len());
    for mut shot in std::mem::take(shots) {
        let request = match templates.call(component, &labeller, &[], &shot, local) {
            Ok(r) => r,
            Err(e) => {
                out.dropped.push((shot.id.clone(), e));
                continue;
            }
        };
        let text = match call::call(provider, model, store, &request, cache).await {
            Ok((answer, _)) => match answer.response {
                call::AnswerBody::Chat(r) => r.text().to_owned(),
                call::AnswerBody::Loglikelihood(_) => String::new(),
            },
            Err(e) => {
                out.dropped.push((shot.id.clone(), e));
                continue;
            }
        };
        let scored = scorer.score(&text, &Value::Null);
        let reference = match scored.parsed {
            _ if scored.unparseable => None,
            Some(v) => Some(v),
            None => Some(Value::String(text.trim().to_owned())).filter(|v| v != ""),
        };
        match reference {
            Some(r) => {
                out.labels.insert(shot.id.clone(), r.clone());
                shot.reference = r;
                kept.push(shot);
            }
            None => out
                .dropped
                .push((shot.id.clone(), format!("unparseable answer: {text:?}"))),
        }
    }
    *shots = kept;
    out
}
