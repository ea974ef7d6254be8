//! What the gateway serves, built from the project file: each component with its policy,
//! templates, scorer and few-shot examples, and the providers its candidates call. A reload
//! builds a new one (keeping the providers of unchanged models, so a local model is not loaded
//! twice) and swaps it in; requests in flight finish on the one they started with.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, PoisonError, RwLock};

use rightfit_config::project::{Candidate, Component, ModelConfig, Project, ServePolicy, Strategy};
use rightfit_eval::example::{Example, prepare};
use rightfit_eval::prompt::Templates;
use rightfit_eval::score::Scorer;
use rightfit_eval::strategy::{SimilarShots, models_called};
use rightfit_providers::Provider;
use rightfit_registry::ProviderFactory;
use tokio::sync::Mutex;

use crate::redact::Redactor;

/// One component as served.
#[derive(Debug)]
pub struct Served {
    pub component: Component,
    /// Its policy (configured, or pinned to its baseline / first candidate).
    pub policy: ServePolicy,
    /// Its templates (few-shot examples are rendered with them).
    pub templates: Templates,
    /// Its scorer (votes, validators, shadow scores).
    pub scorer: Scorer,
    /// Few-shot examples, when a served candidate shows any.
    pub shots: Vec<Example>,
    /// Similarity selection's embedded pool.
    pub similar: SimilarShots,
}

impl Served {
    /// Every model a candidate of this component calls, a cascade's stages' included.
    pub fn models_of(&self, candidate: &Candidate) -> Vec<String> {
        models_called(&self.component, candidate)
            .into_iter()
            .collect()
    }
}

/// A built provider with the configuration it was built from.
type Built = (ModelConfig, Arc<dyn Provider>);

/// Providers by model name, built on first use and kept. Looking one up takes a read lock
/// (every request does); building one takes a second lock so that two requests do not load the
/// same model twice.
#[derive(Debug, Default)]
pub struct Providers {
    built: RwLock<BTreeMap<String, Built>>,
    building: Mutex<()>,
}

impl Providers {
    fn lookup(&self, model: &ModelConfig) -> Option<Arc<dyn Provider>> {
        let built = self.built.read().unwrap_or_else(PoisonError::into_inner);
        built
            .get(&model.name)
            .filter(|(config, _)| config == model)
            .map(|(_, p)| p.clone())
    }

    /// The provider of `model`, built now if it was not yet.
    pub async fn get(
        &self,
        model: &ModelConfig,
        factory: &dyn ProviderFactory,
    ) -> Result<Arc<dyn Provider>, String> {
        if let Some(p) = self.lookup(model) {
            return Ok(p);
        }
        let _one_at_a_time = self.building.lock().await;
        if let Some(p) = self.lookup(model) {
            return Ok(p);
        }
        let p = factory.provider(model).await.map_err(|e| e.to_string())?;
        self.built
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(model.name.clone(), (model.clone(), p.clone()));
        Ok(p)
    }

    /// Providers built so far whose model is still configured the same way.
    pub fn keep_unchanged(&self, models: &BTreeMap<String, ModelConfig>) -> Self {
        let built = self.built.read().unwrap_or_else(PoisonError::into_inner);
        let kept = built
            .iter()
            .filter(|(name, (config, _))| models.get(*name) == Some(config))
            .map(|(n, v)| (n.clone(), v.clone()))
            .collect();
        Self {
            built: RwLock::new(kept),
            building: Mutex::new(()),
        }
    }

    /// Every provider built, for health checks.
    pub fn all(&self) -> Vec<(String, Arc<dyn Provider>)> {
        let built = self.built.read().unwrap_or_else(PoisonError::into_inner);
        built
            .iter()
            .map(|(n, (_, p))| (n.clone(), p.clone()))
            .collect()
    }

    /// Each built provider's endpoints with their counts now, by model, for the metrics;
    /// models without endpoints (run in-process) are left out. Read outside the lock.
    pub fn endpoints(&self) -> crate::metrics::Endpoints {
        self.all()
            .into_iter()
            .map(|(name, p)| (name, p.endpoints()))
            .filter(|(_, list)| !list.is_empty())
            .collect()
    }
}

/// Everything a request needs, swapped whole on reload.
#[derive(Debug)]
pub struct State {
    /// The project as loaded.
    pub project: Project,
    /// Served components by name.
    pub components: BTreeMap<String, Served>,
    /// Providers.
    pub providers: Providers,
    /// Log redaction.
    pub redactor: Redactor,
}

impl State {
    /// Builds what `project` serves, reusing `previous`'s providers where their models did not
    /// change, and builds (loads) every provider a served policy can call, so the first
    /// request does not wait for a model to load and a broken model fails the start (or the
    /// reload), not a request.
    pub async fn build(
        project: Project,
        factory: &dyn ProviderFactory,
        previous: Option<&State>,
    ) -> Result<Self, String> {
        let g = &project.gateway;
        let redactor = Redactor::new(&g.redact_fields, &g.redact_patterns, g.log_inputs)?;
        let providers = match previous {
            Some(p) => p.providers.keep_unchanged(&project.models),
            None => Providers::default(),
        };
        let mut components = BTreeMap::new();
        let mut needed = BTreeSet::new();
        for (name, c) in &project.components {
            let policy = c.serving();
            let templates = Templates::new(c).map_err(|e| format!("components.{name}: {e}"))?;
            let scorer = Scorer::new(c).map_err(|e| format!("components.{name}: {e}"))?;
            let mut served = Served {
                component: c.clone(),
                policy,
                templates,
                scorer,
                shots: Vec::new(),
                similar: SimilarShots::default(),
            };
            let targets = served_candidates(&served);
            let mut shows_shots = false;
            for t in &targets {
                let Some(candidate) = c.candidate(t) else {
                    return Err(format!("components.{name}.serve: no candidate '{t}'"));
                };
                needed.extend(served.models_of(candidate));
                shows_shots |= uses_shots(&served, candidate);
            }
            if shows_shots {
                if c.few_shot.as_ref().is_some_and(|f| f.labelled_by.is_some()) {
                    return Err(format!(
                        "components.{name}: few_shot.labelled_by is labelled during 'rightfit eval'; \
                         a served few-shot candidate needs examples with references (few_shot.dataset or inline examples)"
                    ));
                }
                let prepared = prepare(c, Some(1), project.seed)
                    .map_err(|e| format!("components.{name}: few-shot examples: {e}"))?;
                served.shots = prepared.shots;
            }
            components.insert(name.clone(), served);
        }
        for model in needed {
            let config = project
                .models
                .get(&model)
                .ok_or_else(|| format!("model '{model}' is not defined"))?;
            providers
                .get(config, factory)
                .await
                .map_err(|e| format!("models.{model}: {e}"))?;
        }
        Ok(Self {
            project,
            components,
            providers,
            redactor,
        })
    }
}

/// Every candidate a policy can send a request to.
fn served_candidates(s: &Served) -> Vec<String> {
    use rightfit_config::project::Route;
    let mut out: Vec<String> = match &s.policy.route {
        Route::Pinned(c) => vec![c.clone()],
        Route::Split(w) => w.iter().map(|(c, _)| c.clone()).collect(),
    };
    out.extend(s.policy.fallback.iter().cloned());
    out.extend(s.policy.shadow.iter().cloned());
    out.sort();
    out.dedup();
    out
}

/// Whether a candidate (or a cascade's stage) shows few-shot examples.
fn uses_shots(s: &Served, c: &Candidate) -> bool {
    c.shots.is_some()
        || match &c.strategy {
            Strategy::Cascade(cascade) => cascade
                .stages
                .iter()
                .filter_map(|n| s.component.candidate(n))
                .any(|stage| stage.shots.is_some()),
            _ => false,
        }
}
