//! The runner: every candidate on every example, concurrently per model, into the store.
//!
//! Candidates run one after another (on a small machine two local models would only fight over
//! the cores); within a candidate, up to the model's `concurrency` requests are in flight, which
//! the embedded engine decodes together in one batch and whose shared few-shot prefix it computes
//! once. Identical calls are answered from the response cache. Records are written in batches as
//! they finish, so a run stopped by Ctrl-C (or killed) keeps what finished and `--resume` does
//! only the rest. Transient provider errors are retried; permanent ones are recorded per example.
//!
//! A run goes through phases: [`start`] (or [`find_resumable`] and [`reopen`]) prepares the data and stores the run;
//! [`execute`] builds the run's helpers (a judge, a few-shot pool labelled by a model), runs each
//! candidate ([`candidate`]), then finishes the run (status and corpus-level metrics).
//!
//! With [`EvalOptions::shard`] the run is one that several machines share, each evaluating its
//! part of the examples ([`sharded`]: how they agree on the run and when it is finished).

mod candidate;
mod judge;
mod label;
mod options;
mod process;
pub mod sharded;

use std::collections::BTreeMap;

use rightfit_config::project::{Component, ModelConfig, Project};
use rightfit_registry::ProviderFactory;
use rightfit_store::RunStore;
use rightfit_types::progress::Progress;
use rightfit_types::{ExampleRecord, RunInfo, RunStatus};
use serde_json::json;
use sha2::{Digest, Sha256};
use tokio::sync::watch;

pub use crate::call::{Answer, AnswerBody, cache_key};
pub use options::{EvalError, EvalOptions};
pub use process::settle;
pub use sharded::{interrupted, partial};

use crate::example::{Prepared, prepare};
use crate::prompt::Templates;
use crate::score::Scorer;
use crate::shard::Shard;
use crate::strategy::SimilarShots;
use candidate::{CandidateRun, Finished};
use rightfit_config::time as clock;

/// SHA-256 of what a run's results depend on; `portable` (sharded runs): with the paths under
/// the project's folder made relative to it, so that every machine's checkout hashes alike.
fn config_hash(
    c: &Component,
    project: &Project,
    (limit, seed): (Option<u64>, u64),
    portable: bool,
) -> String {
    let models: BTreeMap<&String, &ModelConfig> = c
        .candidates
        .iter()
        .filter_map(|cand| project.models.get_key_value(&cand.model))
        .collect();
    let mut value = json!({ "component": c, "models": models, "limit": limit, "seed": seed });
    if portable {
        sharded::relative_paths(&mut value, &project.root);
    }
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

/// Starts a new run of a component; with [`EvalOptions::shard`], creates or joins the run every
/// shard of this evaluation shares ([`sharded`]).
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
        config_hash: config_hash(c, project, (limit, seed), options.shard.is_some()),
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
            "process": process::this_process(),
        }),
    };
    if let Some(shard) = options.shard {
        return sharded::join(run, prepared, shard, store).await;
    }
    store.create_run(&run).await?;
    Ok((run, prepared))
}

/// Reopens an unfinished run to continue it (with `shard`, that shard of a sharded run); refuses
/// if the config changed since, and a shard that does not fit the run (another N, other data).
pub async fn reopen(
    project: &Project,
    run: RunInfo,
    shard: Option<Shard>,
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
    sharded::check_count(&run, shard)?;
    let hash = config_hash(c, project, (run.limit, run.seed), shard.is_some());
    if hash != run.config_hash {
        return Err(EvalError::Invalid(format!(
            "run {} was made with a different configuration of component '{}'; start a new run (without --resume)",
            run.id, run.component
        )));
    }
    let mut prepared = prepare(c, run.limit, run.seed)?;
    let only: Vec<String> = run.meta["only"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    if let Some(shard) = shard {
        let run = sharded::rejoin(run, &mut prepared, shard, store).await?;
        return Ok((run, prepared, only));
    }
    let mut run = run;
    run.status = RunStatus::Running;
    if let Some(meta) = run.meta.as_object_mut() {
        meta.remove("error");
        meta.remove("interrupted");
        meta.insert("process".to_owned(), json!(process::this_process()));
    }
    store.update_run(&run).await?;
    Ok((run, prepared, only))
}

/// The run `--resume WHICH` means for `component`: `"latest"` is its newest unfinished run,
/// anything else a run id or a unique prefix. A run of another component is refused, or skipped
/// (`Ok(None)`) when `skip_others` (every component is being resumed in turn); so is a run (or,
/// with `shard`, that shard of it) still running on this machine.
pub async fn find_resumable(
    store: &dyn RunStore,
    component: &str,
    which: &str,
    skip_others: bool,
    shard: Option<Shard>,
) -> Result<Option<RunInfo>, EvalError> {
    let found = if which == "latest" {
        store.latest_unfinished(component).await?.ok_or_else(|| {
            EvalError::Invalid(format!(
                "no unfinished run of component '{component}' to resume — run 'rightfit eval' without --resume"
            ))
        })?
    } else {
        store.resolve_run(which).await?
    };
    if let Some(shard) = shard.filter(|_| sharded::is_sharded(&found)) {
        sharded::check_not_running(&found, shard)?;
    } else if found.status == RunStatus::Running && process::alive(&found) == Some(true) {
        return Err(EvalError::Invalid(format!(
            "run {} is still running (pid {}); wait for it, or stop it first",
            found.id, found.meta["process"]["pid"]
        )));
    }
    if found.component == component {
        Ok(Some(found))
    } else if skip_others {
        Ok(None)
    } else {
        Err(EvalError::Invalid(format!(
            "run {} is of component '{}', not '{component}'",
            found.id, found.component
        )))
    }
}

/// The run `rightfit eval` works on for `component`: a new one ([`start`]), or with `resume`
/// (`--resume WHICH`) the unfinished run it names ([`find_resumable`]) reopened ([`reopen`]);
/// with the candidates to run (empty: all). `None`: `resume` named a run of another component
/// and `skip_others` is set. [`EvalOptions::shard`] picks the part of the examples to evaluate.
pub async fn open(
    project: &Project,
    component: &str,
    resume: Option<&str>,
    skip_others: bool,
    options: &EvalOptions,
    store: &dyn RunStore,
) -> Result<Option<(RunInfo, Prepared, Vec<String>)>, EvalError> {
    let Some(which) = resume else {
        let (run, prepared) = start(project, component, options, store).await?;
        return Ok(Some((run, prepared, options.only.clone())));
    };
    match find_resumable(store, component, which, skip_others, options.shard).await? {
        Some(found) => reopen(project, found, options.shard, store).await.map(Some),
        None => Ok(None),
    }
}

/// Runs (or continues) a run until it finishes or `stop` turns true; returns the run as stored.
/// A run that ends by error is stored as `failed`, the error in `meta.error`. With
/// `prepared.shard` only that shard's examples are evaluated, and the run finishes only once
/// every shard's have records.
#[allow(clippy::too_many_arguments)]
pub async fn execute(
    project: &Project,
    run: RunInfo,
    prepared: Prepared,
    only: &[String],
    options: &EvalOptions,
    store: &dyn RunStore,
    providers: &dyn ProviderFactory,
    progress: &dyn Progress,
    stop: watch::Receiver<bool>,
) -> Result<RunInfo, EvalError> {
    let (id, shard) = (run.id.clone(), prepared.shard);
    let outcome = execute_phases(
        project, run, prepared, only, options, store, providers, progress, stop,
    )
    .await;
    match (&outcome, shard) {
        (Err(e), Some(shard)) => sharded::fail(store, &id, shard, e).await,
        (Err(e), None) => mark_failed(store, &id, e).await,
        (Ok(_), _) => {}
    }
    outcome
}

/// Stores the run `id` as `failed` with `error` as its reason. The error being reported is
/// what matters: a store that cannot take the mark is logged, not raised.
async fn mark_failed(store: &dyn RunStore, id: &str, error: &EvalError) {
    let mut run = match store.run(id).await {
        Ok(Some(run)) => run,
        Ok(None) => return,
        Err(e) => {
            tracing::warn!("run {id}: cannot mark it failed: {e}");
            return;
        }
    };
    run.status = RunStatus::Failed;
    run.finished_at = Some(clock::now_rfc3339());
    if let Some(meta) = run.meta.as_object_mut() {
        meta.insert("error".to_owned(), json!(error.to_string()));
    }
    if let Err(e) = store.update_run(&run).await {
        tracing::warn!("run {id}: cannot mark it failed: {e}");
    }
}

#[allow(clippy::too_many_arguments)]
async fn execute_phases(
    project: &Project,
    mut run: RunInfo,
    mut prepared: Prepared,
    only: &[String],
    options: &EvalOptions,
    store: &dyn RunStore,
    providers: &dyn ProviderFactory,
    progress: &dyn Progress,
    stop: watch::Receiver<bool>,
) -> Result<RunInfo, EvalError> {
    if prepared.shard.is_some() != sharded::is_sharded(&run) {
        return Err(EvalError::Invalid(format!(
            "run {}: a shard's examples with a run not split into shards, or the other way \
             round (open runs with runner::open)",
            run.id
        )));
    }
    if run.status == RunStatus::Finished {
        // A shard of a sharded run that another shard finished: nothing is left to do.
        return Ok(run);
    }
    let c = project
        .component(&run.component)
        .map_err(EvalError::Invalid)?
        .clone();
    let templates = Templates::new(&c).map_err(EvalError::Invalid)?;
    let scorer = Scorer::new(&c).map_err(EvalError::Invalid)?;
    let done = store.done(&run.id).await?;
    let judge = judge::for_component(project, &c, providers).await?;
    label::label_run_pool(
        project,
        &c,
        (&templates, &scorer),
        (store, options.cache),
        providers,
        &mut prepared.shots,
        &mut run.meta,
    )
    .await?;
    let similar = SimilarShots::default();
    let mut each = CandidateRun {
        project,
        component: &c,
        run_id: &run.id,
        examples: &prepared.examples,
        shard: prepared.shard,
        shots: &prepared.shots,
        done: &done,
        templates: &templates,
        scorer: &scorer,
        similar: &similar,
        judge: judge.as_ref(),
        store,
        cache: options.cache,
        providers,
        progress,
        stop,
        built: BTreeMap::new(),
    };
    let mut interrupted = false;
    for candidate in &c.candidates {
        if !only.is_empty() && !only.contains(&candidate.name) {
            continue;
        }
        if each.run(candidate).await? == Finished::Interrupted {
            interrupted = true;
            break;
        }
    }
    drop(each);
    let Some(shard) = prepared.shard else {
        finish(&mut run, interrupted, &scorer, store).await?;
        return Ok(run);
    };
    let names: Vec<String> = c
        .candidates
        .iter()
        .filter(|k| only.is_empty() || only.contains(&k.name))
        .map(|k| k.name.clone())
        .collect();
    let examples = &prepared.examples;
    sharded::finish(
        &mut run,
        shard,
        interrupted,
        &scorer,
        examples,
        &names,
        store,
    )
    .await?;
    Ok(run)
}

/// Marks the run finished or interrupted and stores its corpus-level metrics (those computed
/// over all of a candidate's records, such as BLEU).
async fn finish(
    run: &mut RunInfo,
    interrupted: bool,
    scorer: &Scorer,
    store: &dyn RunStore,
) -> Result<(), EvalError> {
    run.status = if interrupted {
        RunStatus::Interrupted
    } else {
        RunStatus::Finished
    };
    run.finished_at = (!interrupted).then(clock::now_rfc3339);
    let records = store.records(&run.id, None).await?;
    let corpus = corpus_metrics(scorer, &records);
    if let Some(meta) = run.meta.as_object_mut() {
        meta.insert("corpus".to_owned(), json!(corpus));
    }
    store.update_run(run).await?;
    Ok(())
}

/// Each candidate's corpus-level metrics over its records (candidates with none left out).
fn corpus_metrics(
    scorer: &Scorer,
    records: &[ExampleRecord],
) -> BTreeMap<String, BTreeMap<String, f64>> {
    let mut by_candidate: BTreeMap<&str, Vec<ExampleRecord>> = BTreeMap::new();
    for r in records {
        by_candidate
            .entry(&r.candidate)
            .or_default()
            .push(r.clone());
    }
    by_candidate
        .iter()
        .map(|(name, rs)| ((*name).to_owned(), scorer.corpus(rs)))
        .filter(|(_, m)| !m.is_empty())
        .collect()
}
