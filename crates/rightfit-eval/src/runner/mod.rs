//! The runner: every candidate on every example, concurrently per model, into the store.
//!
//! Candidates run one after another (on a small machine two local models would only fight over
//! the cores); within a candidate, up to the model's `concurrency` requests are in flight, which
//! the embedded engine decodes together in one batch and whose shared few-shot prefix it computes
//! once. Identical calls are answered from the response cache. Records are written in batches as
//! they finish, so a run stopped by Ctrl-C (or killed) keeps what finished and `--resume` does
//! only the rest. Transient provider errors are retried; permanent ones are recorded per example.

pub(crate) mod call;
mod judge;
mod label;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use futures::StreamExt;
use rightfit_config::project::{Candidate, Component, ModelConfig, Project, Strategy};
use rightfit_providers::Provider;
use rightfit_store::RunStore;
use rightfit_types::{CandidateInfo, ExampleRecord, RunInfo, RunStatus};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::sync::watch;

pub use call::{Answer, AnswerBody, cache_key};

use crate::clock;
use crate::example::{Example, Prepared, prepare};
use crate::prompt::Templates;
use crate::score::Scorer;
use crate::strategy::{Env, SimilarShots};

/// Hears about progress (the CLI draws a bar).
pub trait Progress: Send + Sync {
    /// A candidate starts: `total` examples, `done` already finished by an earlier attempt.
    fn candidate(&self, name: &str, total: u64, done: u64);
    /// One example finished.
    fn advance(&self, failed: bool);
    /// The candidate finished.
    fn finish_candidate(&self);
}

/// A progress sink that ignores everything.
#[derive(Debug)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn candidate(&self, _: &str, _: u64, _: u64) {}
    fn advance(&self, _: bool) {}
    fn finish_candidate(&self) {}
}

/// What to evaluate.
#[derive(Debug, Clone)]
pub struct EvalOptions {
    /// Sample size (overrides the component's `limit`).
    pub limit: Option<u64>,
    /// Sampling and bootstrap seed (default: the project's).
    pub seed: Option<u64>,
    /// Only these candidates (by name); all when empty.
    pub only: Vec<String>,
    /// Use and fill the response cache.
    pub cache: bool,
}

impl Default for EvalOptions {
    fn default() -> Self {
        Self {
            limit: None,
            seed: None,
            only: Vec::new(),
            cache: true,
        }
    }
}

/// Why a run could not go on.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// The data could not be prepared.
    #[error(transparent)]
    Prepare(#[from] crate::example::PrepareError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] rightfit_store::StoreError),
    /// Something about the request is wrong (unknown candidate, changed config on resume...).
    #[error("{0}")]
    Invalid(String),
}

/// Builds a provider for a model on demand (loading a local model is slow, so only models a
/// selected candidate uses are built).
#[async_trait::async_trait]
pub trait ProviderFactory: Send + Sync {
    /// The provider for `model`.
    async fn provider(&self, model: &ModelConfig) -> Result<Arc<dyn Provider>, String>;
}

fn config_hash(c: &Component, project: &Project, limit: Option<u64>, seed: u64) -> String {
    let models: BTreeMap<&String, &ModelConfig> = c
        .candidates
        .iter()
        .filter_map(|cand| project.models.get_key_value(&cand.model))
        .collect();
    let value = json!({ "component": c, "models": models, "limit": limit, "seed": seed });
    let mut h = Sha256::new();
    h.update(value.to_string().as_bytes());
    hex::encode(h.finalize())
}

fn run_id(component: &str) -> String {
    let mut h = Sha256::new();
    h.update(
        format!(
            "{component}{:?}{}",
            std::time::SystemTime::now(),
            std::process::id()
        )
        .as_bytes(),
    );
    let tag = hex::encode(&h.finalize()[..2]);
    format!("{}-{component}-{tag}", clock::now_compact())
}

/// Starts a new run of a component.
pub async fn start(
    project: &Project,
    component: &str,
    options: &EvalOptions,
    store: &dyn RunStore,
) -> Result<(RunInfo, Prepared), EvalError> {
    let c = project.component(component).map_err(EvalError::Invalid)?;
    for name in &options.only {
        if !c.candidates.iter().any(|cand| &cand.name == name) {
            let names: Vec<&str> = c.candidates.iter().map(|c| c.name.as_str()).collect();
            return Err(EvalError::Invalid(format!(
                "no candidate '{name}' in component '{component}' (candidates: {})",
                names.join(", ")
            )));
        }
    }
    let seed = options.seed.unwrap_or(project.seed);
    let limit = options.limit.or(c.limit);
    let prepared = prepare(c, limit, seed)?;
    let run = RunInfo {
        id: run_id(component),
        component: component.to_owned(),
        started_at: clock::now_rfc3339(),
        finished_at: None,
        status: RunStatus::Running,
        config_hash: config_hash(c, project, limit, seed),
        dataset: prepared.dataset.clone(),
        rows_used: prepared.examples.len() as u64,
        rows_skipped: prepared.skipped.len() as u64,
        limit,
        seed,
        meta: json!({
            "rightfit": env!("CARGO_PKG_VERSION"),
            "project": project.file.display().to_string(),
            "only": options.only,
            "rows_read": prepared.rows_read,
            "primary_metric": c.metrics.first(),
            "few_shot_ids": prepared.shots.iter().map(|s| s.id.clone()).collect::<Vec<_>>(),
        }),
    };
    store.create_run(&run).await?;
    Ok((run, prepared))
}

/// Reopens an unfinished run to continue it; refuses if the config changed since.
pub async fn reopen(
    project: &Project,
    run: RunInfo,
    store: &dyn RunStore,
) -> Result<(RunInfo, Prepared, Vec<String>), EvalError> {
    let c = project
        .component(&run.component)
        .map_err(EvalError::Invalid)?;
    if run.status == RunStatus::Finished {
        return Err(EvalError::Invalid(format!(
            "run {} has already finished",
            run.id
        )));
    }
    let hash = config_hash(c, project, run.limit, run.seed);
    if hash != run.config_hash {
        return Err(EvalError::Invalid(format!(
            "run {} was made with a different configuration of component '{}'; start a new run (without --resume)",
            run.id, run.component
        )));
    }
    let prepared = prepare(c, run.limit, run.seed)?;
    let only: Vec<String> = run.meta["only"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let mut run = run;
    run.status = RunStatus::Running;
    store.update_run(&run).await?;
    Ok((run, prepared, only))
}

/// Runs (or continues) a run until it finishes or `stop` turns true; returns the run as stored.
#[allow(clippy::too_many_arguments)]
pub async fn execute(
    project: &Project,
    mut run: RunInfo,
    mut prepared: Prepared,
    only: &[String],
    options: &EvalOptions,
    store: &dyn RunStore,
    providers: &dyn ProviderFactory,
    progress: &dyn Progress,
    mut stop: watch::Receiver<bool>,
) -> Result<RunInfo, EvalError> {
    let c = project
        .component(&run.component)
        .map_err(EvalError::Invalid)?
        .clone();
    let templates = Templates::new(&c).map_err(EvalError::Invalid)?;
    let scorer = Scorer::new(&c).map_err(EvalError::Invalid)?;
    let done = store.done(&run.id).await?;
    let mut interrupted = false;
    let judge = match &c.judge {
        Some(j) if c.metrics.iter().any(|m| m == "judge") => {
            let model = project.models.get(&j.model).ok_or_else(|| {
                EvalError::Invalid(format!("judge model '{}' is not defined", j.model))
            })?;
            let provider = providers
                .provider(model)
                .await
                .map_err(EvalError::Invalid)?;
            Some(judge::Judge::new(j.clone(), model.clone(), provider))
        }
        _ => None,
    };
    if let Some(labeller) = c.few_shot.as_ref().and_then(|f| f.labelled_by.as_ref())
        && !prepared.shots.is_empty()
    {
        let model = project.models.get(labeller).ok_or_else(|| {
            EvalError::Invalid(format!("labeller model '{labeller}' is not defined"))
        })?;
        let provider = providers
            .provider(model)
            .await
            .map_err(EvalError::Invalid)?;
        let drawn = prepared.shots.len();
        let labelled = label::label_pool(
            &c,
            model,
            &provider,
            &templates,
            &scorer,
            store,
            options.cache,
            &mut prepared.shots,
        )
        .await;
        drop(provider);
        let wanted = c.shots_wanted().min(drawn);
        let fixed_k = c
            .candidates
            .iter()
            .filter_map(|k| k.shots.as_ref().map(|s| s.k))
            .max()
            .unwrap_or(0);
        if prepared.shots.len() < fixed_k {
            return Err(EvalError::Invalid(format!(
                "few_shot.labelled_by = '{labeller}' labelled {} of {wanted} pool examples; a candidate shows {fixed_k} (first failure: {})",
                prepared.shots.len(),
                labelled
                    .dropped
                    .first()
                    .map_or("none", |(_, why)| why.as_str())
            )));
        }
        if let Some(meta) = run.meta.as_object_mut() {
            meta.insert("few_shot_labelled_by".to_owned(), json!(labeller));
            meta.insert("few_shot_labels".to_owned(), json!(labelled.labels));
            meta.insert("few_shot_dropped".to_owned(), json!(labelled.dropped));
        }
    }
    // Only the models a candidate calls are loaded: the others are dropped (their memory
    // freed) before the next are built, so a local model's memory figures are its own (a
    // cascade's or a critic's include every model it calls).
    let mut built: BTreeMap<String, Arc<dyn Provider>> = BTreeMap::new();
    let similar = SimilarShots::default();
    for candidate in &c.candidates {
        if !only.is_empty() && !only.contains(&candidate.name) {
            continue;
        }
        let model = project.models.get(&candidate.model).ok_or_else(|| {
            EvalError::Invalid(format!("model '{}' is not defined", candidate.model))
        })?;
        let todo: Vec<(u64, &Example)> = prepared
            .examples
            .iter()
            .enumerate()
            .filter(|(_, e)| !done.contains(&(candidate.name.clone(), e.id.clone())))
            .map(|(i, e)| (i as u64, e))
            .collect();
        let already = prepared.examples.len() as u64 - todo.len() as u64;
        progress.candidate(&candidate.name, prepared.examples.len() as u64, already);
        if todo.is_empty() {
            progress.finish_candidate();
            continue;
        }
        let needed = models_needed(&c, candidate);
        built.retain(|name, _| needed.contains(name));
        for name in &needed {
            if built.contains_key(name) {
                continue;
            }
            let config = project
                .models
                .get(name)
                .ok_or_else(|| EvalError::Invalid(format!("model '{name}' is not defined")))?;
            let p = providers
                .provider(config)
                .await
                .map_err(EvalError::Invalid)?;
            built.insert(name.clone(), p);
        }
        let provider = built.get(&candidate.model).cloned().ok_or_else(|| {
            EvalError::Invalid(format!("model '{}' was not loaded", candidate.model))
        })?;
        let mut info = CandidateInfo {
            run_id: run.id.clone(),
            name: candidate.name.clone(),
            model: candidate.model.clone(),
            strategy: candidate.strategy.name().to_owned(),
            params: serde_json::to_value(candidate).unwrap_or(Value::Null),
            peak_memory_bytes: None,
            model_memory_bytes: None,
        };
        store.put_candidate(&info).await?;
        let env = Env {
            component: &c,
            models: &project.models,
            providers: &built,
            templates: &templates,
            scorer: &scorer,
            shots: &prepared.shots,
            similar: &similar,
            store,
            cache: options.cache,
        };
        let ctx = ExampleContext {
            env: &env,
            candidate,
            run_id: &run.id,
            judge: judge.as_ref(),
        };
        let mut pending = futures::stream::iter(todo)
            .map(|(position, example)| ctx.evaluate(position, example))
            .buffer_unordered(model.concurrency);
        // Records are written while the requests in flight keep being polled: a write that
        // waited with them unpolled could wait for a database connection one of them holds.
        let mut batch: Vec<ExampleRecord> = Vec::new();
        let mut last_flush = std::time::Instant::now();
        let mut writing: Option<Write<'_>> = None;
        loop {
            tokio::select! {
                biased;
                changed = stop.changed() => {
                    if changed.is_err() || *stop.borrow() {
                        interrupted = true;
                        break;
                    }
                }
                written = async {
                    match writing.as_mut() {
                        Some(w) => w.await,
                        None => std::future::pending().await,
                    }
                }, if writing.is_some() => {
                    written?;
                    writing = None;
                }
                next = pending.next() => {
                    let Some(record) = next else { break };
                    progress.advance(record.error.is_some());
                    batch.push(record);
                    let due = batch.len() >= 32 || last_flush.elapsed().as_secs_f64() > 2.0;
                    if due && writing.is_none() {
                        let records = std::mem::take(&mut batch);
                        writing = Some(Box::pin(async move { store.put_records(&records).await }));
                        last_flush = std::time::Instant::now();
                    }
                }
            }
        }
        drop(pending);
        if let Some(w) = writing.take() {
            w.await?;
        }
        store.put_records(&batch).await?;
        if let Some(memory) = provider.memory().await {
            info.peak_memory_bytes = Some(memory.peak_rss_bytes);
            info.model_memory_bytes = Some(memory.model_bytes);
            store.put_candidate(&info).await?;
        }
        progress.finish_candidate();
        if interrupted {
            break;
        }
    }
    run.status = if interrupted {
        RunStatus::Interrupted
    } else {
        RunStatus::Finished
    };
    run.finished_at = (!interrupted).then(clock::now_rfc3339);
    let records = store.records(&run.id, None).await?;
    let mut by_candidate: BTreeMap<String, Vec<ExampleRecord>> = BTreeMap::new();
    for r in records {
        by_candidate.entry(r.candidate.clone()).or_default().push(r);
    }
    let corpus: BTreeMap<String, BTreeMap<String, f64>> = by_candidate
        .iter()
        .map(|(name, rs)| (name.clone(), scorer.corpus(rs)))
        .filter(|(_, m)| !m.is_empty())
        .collect();
    if let Some(meta) = run.meta.as_object_mut() {
        meta.insert("corpus".to_owned(), json!(corpus));
    }
    store.update_run(&run).await?;
    Ok(run)
}

/// A batch of records being written.
type Write<'a> = std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<(), rightfit_store::StoreError>> + Send + 'a>,
>;

struct ExampleContext<'a> {
    env: &'a Env<'a>,
    candidate: &'a rightfit_config::project::Candidate,
    run_id: &'a str,
    judge: Option<&'a judge::Judge>,
}

/// Every model a candidate calls, a cascade's stages' included.
fn models_needed(c: &Component, candidate: &Candidate) -> BTreeSet<String> {
    let mut out: BTreeSet<String> = candidate.models().into_iter().map(str::to_owned).collect();
    if let Strategy::Cascade(cascade) = &candidate.strategy {
        for stage in cascade.stages.iter().filter_map(|s| c.candidate(s)) {
            out.extend(stage.models().into_iter().map(str::to_owned));
        }
    }
    out
}

impl ExampleContext<'_> {
    async fn evaluate(&self, position: u64, example: &Example) -> ExampleRecord {
        let mut record = ExampleRecord::new(
            self.run_id,
            self.candidate.name.clone(),
            example.id.clone(),
            position,
            example.reference.clone(),
        );
        let o = self.env.answer(self.candidate, example).await;
        record.input = o.input;
        record.calls = o.calls;
        record.cached = o.cached && o.calls > 0;
        record.latency_ms = o.latency_ms;
        record.ttft_ms = o.ttft_ms;
        record.tokens_in = o.tokens_in;
        record.tokens_out = o.tokens_out;
        record.cost_usd = o.cost_usd;
        record.confidence = o.confidence.filter(|c| c.is_finite());
        record.steps = o.steps;
        if let Some(e) = o.error {
            record.error = Some(e);
            return record;
        }
        let text = o.text;
        let scored = self.env.scorer.score(&text, &example.reference);
        record.output = Some(text.clone());
        record.score = Some(scored.score);
        record.scores = scored.scores;
        record.parsed = scored.parsed;
        record.unparseable = scored.unparseable;
        if let Some(judge) = self.judge {
            match judge
                .judge(
                    &record.input,
                    &text,
                    &example.reference,
                    &example.id,
                    self.env.store,
                    self.env.cache,
                )
                .await
            {
                Ok(verdict) => {
                    record.scores.insert("judge".to_owned(), verdict.score);
                    record.calls += 1;
                    record.cost_usd = match (record.cost_usd, verdict.cost_usd) {
                        (Some(a), Some(b)) => Some(a + b),
                        _ => None,
                    };
                    if self
                        .env
                        .scorer
                        .metrics()
                        .first()
                        .is_some_and(|m| m == "judge")
                    {
                        record.score = Some(verdict.score);
                    }
                }
                Err(e) => record.error = Some(format!("judge: {e}")),
            }
        }
        record
    }
}
