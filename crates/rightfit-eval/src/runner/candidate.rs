//! One candidate of a run: build the models it calls, answer the examples not done yet (up to
//! the model's concurrency at once), score them, and write the records in batches while the
//! answers keep coming.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use futures::StreamExt;
use rightfit_config::project::{Candidate, Component, Project};
use rightfit_providers::Provider;
use rightfit_registry::ProviderFactory;
use rightfit_store::RunStore;
use rightfit_types::{CandidateInfo, ExampleRecord};
use serde_json::Value;
use tokio::sync::watch;

use super::judge::Judge;
use rightfit_types::progress::{Progress, Unit};

use super::options::EvalError;
use crate::example::Example;
use crate::prompt::Templates;
use crate::score::Scorer;
use crate::strategy::{Answerer, SimilarShots, models_called};

/// How a candidate's turn ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Finished {
    /// Every example has a record.
    Done,
    /// `stop` turned true; what finished is stored.
    Interrupted,
}

/// What every candidate of a run shares; `built` keeps the providers the previous candidate
/// loaded that the next one also calls.
pub(super) struct CandidateRun<'a> {
    pub project: &'a Project,
    pub component: &'a Component,
    pub run_id: &'a str,
    /// The whole evaluation set (records keep their position in it).
    pub examples: &'a [Example],
    /// The part of `examples` to evaluate; `None`: all.
    pub shard: Option<crate::shard::Shard>,
    pub shots: &'a [Example],
    /// (candidate, example id) pairs with a record already.
    pub done: &'a HashSet<(String, String)>,
    pub templates: &'a Templates,
    pub scorer: &'a Scorer,
    pub similar: &'a SimilarShots,
    pub judge: Option<&'a Judge>,
    pub store: &'a dyn RunStore,
    pub cache: bool,
    pub providers: &'a dyn ProviderFactory,
    pub progress: &'a dyn Progress,
    pub stop: watch::Receiver<bool>,
    pub built: BTreeMap<String, Arc<dyn Provider>>,
}

/// A batch of records being written.
type Write<'a> = std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<(), rightfit_store::StoreError>> + Send + 'a>,
>;

impl CandidateRun<'_> {
    /// Runs one candidate on the examples it has no record for.
    pub(super) async fn run(&mut self, candidate: &Candidate) -> Result<Finished, EvalError> {
        let project = self.project;
        let store = self.store;
        let progress = self.progress;
        let model = project.models.get(&candidate.model).ok_or_else(|| {
            EvalError::Invalid(format!("model '{}' is not defined", candidate.model))
        })?;
        let mine: Vec<(u64, &Example)> = self
            .examples
            .iter()
            .enumerate()
            .map(|(i, e)| (i as u64, e))
            .filter(|(i, _)| self.shard.is_none_or(|s| s.owns(*i)))
            .collect();
        let total = mine.len() as u64;
        let todo: Vec<(u64, &Example)> = mine
            .into_iter()
            .filter(|(_, e)| !self.done.contains(&(candidate.name.clone(), e.id.clone())))
            .collect();
        let already = total - todo.len() as u64;
        progress.start(&candidate.name, Some(total), already, Unit::Examples);
        if todo.is_empty() {
            progress.finish();
            return Ok(Finished::Done);
        }
        let provider = self.build(candidate).await?;
        let mut info = CandidateInfo {
            run_id: self.run_id.to_owned(),
            name: candidate.name.clone(),
            model: candidate.model.clone(),
            strategy: candidate.strategy.name().to_owned(),
            params: serde_json::to_value(candidate).unwrap_or(Value::Null),
            peak_memory_bytes: None,
            model_memory_bytes: None,
        };
        store.put_candidate(&info).await?;
        let answerer = Answerer {
            component: self.component,
            models: &project.models,
            providers: &self.built,
            templates: self.templates,
            scorer: self.scorer,
            shots: self.shots,
            similar: self.similar,
            store,
            cache: self.cache,
        };
        let one = OneExample {
            answerer: &answerer,
            candidate,
            run_id: self.run_id,
            judge: self.judge,
        };
        let mut pending = futures::stream::iter(todo)
            .map(|(position, example)| one.evaluate(position, example))
            .buffer_unordered(model.concurrency);
        // Records are written while the requests in flight keep being polled: a write that
        // waited with them unpolled could wait for a database connection one of them holds.
        let mut batch: Vec<ExampleRecord> = Vec::new();
        let mut last_flush = std::time::Instant::now();
        let mut writing: Option<Write<'_>> = None;
        let mut interrupted = false;
        let stop = &mut self.stop;
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
                    progress.advance(1);
                    if record.error.is_some() {
                        progress.failed();
                    }
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
        progress.finish();
        Ok(if interrupted {
            Finished::Interrupted
        } else {
            Finished::Done
        })
    }

    /// Builds the models the candidate calls; returns its own model's provider. Only those are
    /// kept: the others are dropped (their memory freed) before the next are built, so a local
    /// model's memory figures are its own (a cascade's or a critic's include every model it
    /// calls).
    async fn build(&mut self, candidate: &Candidate) -> Result<Arc<dyn Provider>, EvalError> {
        let needed = models_called(self.component, candidate);
        self.built.retain(|name, _| needed.contains(name));
        for name in &needed {
            if self.built.contains_key(name) {
                continue;
            }
            let config = self
                .project
                .models
                .get(name)
                .ok_or_else(|| EvalError::Invalid(format!("model '{name}' is not defined")))?;
            let p = self.providers.provider(config).await?;
            self.built.insert(name.clone(), p);
        }
        self.built.get(&candidate.model).cloned().ok_or_else(|| {
            EvalError::Invalid(format!("model '{}' was not loaded", candidate.model))
        })
    }
}

/// Answers, scores and judges one example.
struct OneExample<'a> {
    answerer: &'a Answerer<'a>,
    candidate: &'a Candidate,
    run_id: &'a str,
    judge: Option<&'a Judge>,
}

impl OneExample<'_> {
    async fn evaluate(&self, position: u64, example: &Example) -> ExampleRecord {
        let mut record = ExampleRecord::new(
            self.run_id,
            self.candidate.name.clone(),
            example.id.clone(),
            position,
            example.reference.clone(),
        );
        let o = self.answerer.answer(self.candidate, example).await;
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
        let scored = self.answerer.scorer.score(&text, &example.reference);
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
                    self.answerer.store,
                    self.answerer.cache,
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
                        .answerer
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
