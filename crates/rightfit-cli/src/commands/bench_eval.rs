//! `rightfit bench-eval`: what batching and prefix sharing buy the evaluation runner.
//!
//! Workload: one candidate of one component (by default the few-shot intent task of the example
//! project), `--limit` examples, response cache off, a fresh in-memory store each time.
//! Baseline: one request at a time, the engine's prompt-prefix reuse off. Batched: the model's
//! concurrency (the engine decodes those sequences together) with prefix reuse on, so the shared
//! system prompt and few-shot turns are computed once. Both run in this process on the same
//! examples; the report gives examples per second, the ratio, and how often the two agree.

use std::collections::HashMap;
use std::time::Instant;

use rightfit_config::Settings;
use rightfit_config::project::{Project, Strategy};
use rightfit_eval::runner::{self, EvalOptions, NoProgress};
use rightfit_registry::{ModelRegistry, ProviderFactory};
use rightfit_store::{RunStore, SqliteStore};
use serde_json::json;
use tokio::sync::watch;

use super::output::{json as print_json, line, table};
use crate::args::BenchEvalArgs;
use crate::errors::user;

struct Measured {
    seconds: f64,
    examples: usize,
    failures: usize,
    accuracy: f64,
    outputs: HashMap<String, String>,
}

async fn measure(
    settings: &Settings,
    project: &Project,
    component: &str,
    candidate: &str,
    limit: u64,
    concurrency: usize,
    prefix_cache: bool,
) -> anyhow::Result<Measured> {
    let mut project = project.clone();
    let c = project
        .component(component)
        .map_err(|e| user(anyhow::anyhow!(e)))?;
    let model_name = c
        .candidates
        .iter()
        .find(|k| k.name == candidate)
        .map(|k| k.model.clone())
        .ok_or_else(|| {
            user(anyhow::anyhow!(
                "no candidate '{candidate}' in '{component}'"
            ))
        })?;
    if let Some(m) = project.models.get_mut(&model_name) {
        m.concurrency = concurrency;
    }
    let store = SqliteStore::open_in_memory().await?;
    let options = EvalOptions {
        limit: Some(limit),
        seed: None,
        only: vec![candidate.to_owned()],
        cache: false,
    };
    let mut registry = ModelRegistry::new(settings);
    if !prefix_cache {
        registry = registry.without_prefix_cache();
    }
    let (run, prepared) = runner::start(&project, component, &options, &store)
        .await
        .map_err(user)?;
    let (_tx, rx) = watch::channel(false);
    // Load the model before the clock starts: the benchmark is about evaluation, not loading.
    let model = project
        .models
        .get(&model_name)
        .ok_or_else(|| user(anyhow::anyhow!("no model '{model_name}'")))?;
    // The registry shares this engine with the run for as long as `_loaded` holds it.
    let _loaded = registry.provider(model).await.map_err(user)?;
    let started = Instant::now();
    let outcome = runner::execute(
        &project,
        run,
        prepared,
        &options.only,
        &options,
        &store,
        &registry,
        &NoProgress,
        rx,
    )
    .await
    .map_err(user)?;
    let total = started.elapsed().as_secs_f64();
    let records = store.records(&outcome.id, None).await?;
    let scored: Vec<f64> = records.iter().filter_map(|r| r.score).collect();
    Ok(Measured {
        seconds: total,
        examples: records.len(),
        failures: records.iter().filter(|r| r.error.is_some()).count(),
        accuracy: if scored.is_empty() {
            0.0
        } else {
            scored.iter().sum::<f64>() / scored.len() as f64
        },
        outputs: records
            .into_iter()
            .map(|r| (r.example_id, r.output.unwrap_or_default()))
            .collect(),
    })
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// `rightfit bench-eval`.
pub async fn run(settings: &Settings, args: BenchEvalArgs) -> anyhow::Result<()> {
    let project = super::project::load(&args.project.config)?;
    let c = project
        .component(&args.component)
        .map_err(|e| user(anyhow::anyhow!(e)))?;
    let candidate = match &args.candidate {
        Some(name) => name.clone(),
        None => c
            .candidates
            .iter()
            .find(|k| matches!(k.strategy, Strategy::FewShot { .. }))
            .or(c.candidates.first())
            .map(|k| k.name.clone())
            .ok_or_else(|| user(anyhow::anyhow!("component has no candidates")))?,
    };
    let model = c
        .candidates
        .iter()
        .find(|k| k.name == candidate)
        .and_then(|k| project.models.get(&k.model))
        .ok_or_else(|| user(anyhow::anyhow!("no candidate '{candidate}'")))?;
    let batched_concurrency = model.concurrency.max(1);
    let rounds = args.rounds.max(1);
    let (mut base_eps, mut batch_eps) = (Vec::new(), Vec::new());
    let mut last = None;
    for round in 0..rounds {
        #[allow(clippy::print_stderr)]
        {
            eprintln!(
                "round {}/{rounds}: one request at a time, no prefix reuse …",
                round + 1
            );
        }
        let base = measure(
            settings,
            &project,
            &args.component,
            &candidate,
            args.limit,
            1,
            false,
        )
        .await?;
        #[allow(clippy::print_stderr)]
        {
            eprintln!(
                "  {:.1} s; batched ({batched_concurrency} in flight) with prefix reuse …",
                base.seconds
            );
        }
        let batched = measure(
            settings,
            &project,
            &args.component,
            &candidate,
            args.limit,
            batched_concurrency,
            true,
        )
        .await?;
        base_eps.push(base.examples as f64 / base.seconds);
        batch_eps.push(batched.examples as f64 / batched.seconds);
        last = Some((base, batched));
    }
    let Some((base, batched)) = last else {
        return Ok(());
    };
    let agree = base
        .outputs
        .iter()
        .filter(|(id, out)| batched.outputs.get(*id) == Some(out))
        .count();
    let (b, f) = (median(base_eps), median(batch_eps));
    if args.json {
        return print_json(&json!({
            "component": args.component,
            "candidate": candidate,
            "examples": base.examples,
            "rounds": rounds,
            "baseline": { "examples_per_s": b, "seconds_last": base.seconds, "accuracy": base.accuracy, "failures": base.failures },
            "batched": { "examples_per_s": f, "concurrency": batched_concurrency, "seconds_last": batched.seconds, "accuracy": batched.accuracy, "failures": batched.failures },
            "speedup": f / b,
            "identical_outputs": agree,
        }));
    }
    line(format!(
        "bench-eval: {} / {candidate}, {} examples, {rounds} round(s), median examples/s",
        args.component, base.examples
    ))?;
    let mut t = table(&[
        "mode",
        "examples/s",
        "seconds (last round)",
        "accuracy %",
        "failures",
    ]);
    t.add_row(vec![
        "one at a time, no prefix reuse".to_owned(),
        format!("{b:.2}"),
        format!("{:.1}", base.seconds),
        format!("{:.1}", base.accuracy * 100.0),
        base.failures.to_string(),
    ]);
    t.add_row(vec![
        format!("batched ×{batched_concurrency}, prefix reuse"),
        format!("{f:.2}"),
        format!("{:.1}", batched.seconds),
        format!("{:.1}", batched.accuracy * 100.0),
        batched.failures.to_string(),
    ]);
    line(t)?;
    line(format!(
        "speedup {:.2}×; identical outputs on {agree}/{} examples",
        f / b,
        base.examples
    ))
}
