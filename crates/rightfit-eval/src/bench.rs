//! What batching and prefix sharing buy the runner (`rightfit bench-eval`).
//!
//! Workload: one candidate of one component, `limit` examples, response cache off, a fresh
//! in-memory store each time. Baseline: one request at a time, the engine's prompt-prefix reuse
//! off. Batched: the model's concurrency (the engine decodes those sequences together) with
//! prefix reuse on, so the shared system prompt and few-shot turns are computed once. Both run in
//! this process on the same examples; [`Comparison`] holds examples per second for each, and how
//! often the two agree.

use std::collections::HashMap;
use std::time::Instant;

use rightfit_config::Settings;
use rightfit_config::project::{Project, Strategy};
use rightfit_registry::{ModelRegistry, ProviderFactory};
use rightfit_store::{RunStore, SqliteStore};
use tokio::sync::watch;

use crate::runner::{self, EvalError, EvalOptions};
use rightfit_types::progress::Quiet;

pub use rightfit_types::bench_eval::{Comparison, Measured};

/// What is about to be measured, for a progress line.
#[derive(Debug, Clone, Copy)]
pub enum Step {
    Baseline {
        round: usize,
        rounds: usize,
    },
    Batched {
        baseline_seconds: f64,
        concurrency: usize,
    },
}

/// The candidate named, else the component's first few-shot candidate, else its first.
pub fn choose_candidate(
    project: &Project,
    component: &str,
    candidate: Option<&str>,
) -> Result<String, EvalError> {
    let c = project.component(component).map_err(EvalError::Invalid)?;
    if let Some(name) = candidate {
        return Ok(name.to_owned());
    }
    c.candidates
        .iter()
        .find(|k| matches!(k.strategy, Strategy::FewShot { .. }))
        .or(c.candidates.first())
        .map(|k| k.name.clone())
        .ok_or_else(|| EvalError::Invalid("component has no candidates".into()))
}

fn model_of(project: &Project, component: &str, candidate: &str) -> Result<String, EvalError> {
    let c = project.component(component).map_err(EvalError::Invalid)?;
    c.candidates
        .iter()
        .find(|k| k.name == candidate)
        .map(|k| k.model.clone())
        .ok_or_else(|| EvalError::Invalid(format!("no candidate '{candidate}' in '{component}'")))
}

/// Runs the candidate once on a fresh in-memory store and times the run (not the model load).
pub async fn measure(
    settings: &Settings,
    project: &Project,
    component: &str,
    candidate: &str,
    limit: u64,
    concurrency: usize,
    prefix_cache: bool,
) -> Result<Measured, EvalError> {
    let mut project = project.clone();
    let model_name = model_of(&project, component, candidate)?;
    if let Some(m) = project.models.get_mut(&model_name) {
        m.concurrency = concurrency;
    }
    let store = SqliteStore::open_in_memory().await?;
    let options = EvalOptions {
        limit: Some(limit),
        seed: None,
        only: vec![candidate.to_owned()],
        cache: false,
        shard: None,
    };
    let mut registry = ModelRegistry::new(settings);
    if !prefix_cache {
        registry = registry.without_prefix_cache();
    }
    let (run, prepared) = runner::start(&project, component, &options, &store).await?;
    let (_tx, rx) = watch::channel(false);
    // Load the model before the clock starts: the benchmark is about evaluation, not loading.
    let model = project
        .models
        .get(&model_name)
        .ok_or_else(|| EvalError::Invalid(format!("no model '{model_name}'")))?;
    // The registry shares this engine with the run for as long as `_loaded` holds it.
    let _loaded = registry.provider(model).await?;
    let started = Instant::now();
    let outcome = runner::execute(
        &project,
        run,
        prepared,
        &options.only,
        &options,
        &store,
        &registry,
        &Quiet,
        rx,
    )
    .await?;
    let seconds = started.elapsed().as_secs_f64();
    let records = store.records(&outcome.id, None).await?;
    let scored: Vec<f64> = records.iter().filter_map(|r| r.score).collect();
    Ok(Measured {
        seconds,
        examples: records.len(),
        failures: records.iter().filter(|r| r.error.is_some()).count(),
        accuracy: mean(&scored),
        outputs: records
            .into_iter()
            .map(|r| (r.example_id, r.output.unwrap_or_default()))
            .collect(),
    })
}

fn mean(v: &[f64]) -> f64 {
    if v.is_empty() {
        0.0
    } else {
        v.iter().sum::<f64>() / v.len() as f64
    }
}

/// The upper median (the middle element of an odd count, the larger middle of an even one).
fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// Examples of `a` whose output `b` has too, identically.
fn identical(a: &HashMap<String, String>, b: &HashMap<String, String>) -> usize {
    a.iter().filter(|(id, out)| b.get(*id) == Some(out)).count()
}

/// Alternates baseline and batched runs of the candidate for `rounds` rounds (at least one).
pub async fn compare(
    settings: &Settings,
    project: &Project,
    component: &str,
    candidate: Option<&str>,
    limit: u64,
    rounds: usize,
    mut on_step: impl FnMut(Step),
) -> Result<Comparison, EvalError> {
    let candidate = choose_candidate(project, component, candidate)?;
    let model_name = model_of(project, component, &candidate)?;
    let concurrency = project
        .models
        .get(&model_name)
        .ok_or_else(|| EvalError::Invalid(format!("no candidate '{candidate}'")))?
        .concurrency
        .max(1);
    let rounds = rounds.max(1);
    let (mut base_eps, mut batch_eps) = (Vec::new(), Vec::new());
    let mut last = None;
    for round in 1..=rounds {
        on_step(Step::Baseline { round, rounds });
        let m = |n, prefix| measure(settings, project, component, &candidate, limit, n, prefix);
        let base = m(1, false).await?;
        on_step(Step::Batched {
            baseline_seconds: base.seconds,
            concurrency,
        });
        let batched = m(concurrency, true).await?;
        base_eps.push(base.examples_per_s());
        batch_eps.push(batched.examples_per_s());
        last = Some((base, batched));
    }
    let (baseline, batched) = last.ok_or_else(|| EvalError::Invalid("no rounds".into()))?;
    Ok(Comparison {
        identical: identical(&baseline.outputs, &batched.outputs),
        candidate,
        concurrency,
        rounds,
        baseline_eps: median(base_eps),
        batched_eps: median(batch_eps),
        baseline,
        batched,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_is_the_upper_middle() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 3.0, 2.0]), 3.0);
        assert!(median(Vec::new()).is_nan());
    }

    #[test]
    fn mean_of_nothing_is_zero() {
        assert_eq!(mean(&[]), 0.0);
        assert_eq!(mean(&[1.0, 0.0, 0.5]), 0.5);
    }

    #[test]
    fn identical_counts_same_outputs_by_id() {
        let a: HashMap<String, String> = [("1", "x"), ("2", "y"), ("3", "z")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let mut b = a.clone();
        b.insert("2".into(), "other".into());
        b.remove("3");
        assert_eq!(identical(&a, &b), 1);
    }
}
