//! One run, several machines: `rightfit eval --shard I/N` on each of them, into a shared store.
//!
//! **The run id** is derived, not drawn: `COMPONENT-Nshards-HASH`, the hash over what defines
//! the evaluation — the component's configuration hash (candidates, models, prompts, limit,
//! seed; with paths taken relative to the project file's folder, so that checkouts in other
//! folders agree), the candidates chosen, `N`, and a fingerprint of the evaluation set (the
//! examples after sampling, and the few-shot examples). Machines that run the same evaluation
//! on the same data therefore name the same run without talking; one whose configuration, data
//! or `N` differ names another run, so results are never mixed (the partial note names such
//! stray runs). The first shard to start creates the run; the others get `DuplicateRun`,
//! check that the stored run is theirs, and join it. `--resume RUN --shard I/N` names the run
//! outright and is refused when its `N`, configuration or data differ.
//!
//! **What a run records**: `rows_used` is the whole evaluation set (every shard's examples), and
//! `meta.shards` holds `count` (N), `fingerprint`, `seen` (per shard `I`: its `state` —
//! `running`, `done`, `interrupted` or `failed` — its `examples`, its process, when it started
//! and ended, and a failure's `error`), and while the run is unfinished `missing` (per shard,
//! how many of its examples lack a record of some candidate, as of the last shard to end) and
//! `others` (other unfinished runs of the component split as many ways).
//!
//! **Finishing**: a shard that ends reads the records back; when every example of every shard
//! has a record of every candidate the run is `finished`, otherwise it stays `running` while
//! another shard is, else it becomes `interrupted`, with which shards miss how many examples in
//! `meta.interrupted`. A finished run stays finished: a shard of it started again does nothing.
//!
//! `update_run` replaces the whole `meta`, and shards write it concurrently, with no
//! compare-and-set to lean on: each write here reads the run as stored, changes its own part,
//! writes it, and reads it back to check that its mark survived (writing again if another
//! shard's write, made from an older read, replaced it). A write landing after that check can
//! still replace a mark, so the marks are a report, not the truth: whether the run is finished
//! is decided from the records, `finished` is never undone by a write that saw fewer records,
//! a shard that leaves the run unfinished looks at the records once more after its write (so
//! that when two shards end at once the last word is `finished`), and the write that finishes
//! the run marks every shard `done`.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use rightfit_config::time as clock;
use rightfit_store::{RunStore, StoreError};
use rightfit_types::{ExampleRecord, RunInfo, RunStatus};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::options::EvalError;
use super::process;
use crate::example::{Example, Prepared};
use crate::score::Scorer;
use crate::shard::Shard;

/// How often a shard writes its mark again when other shards' writes keep replacing it.
const TRIES: u32 = 5;

/// `N`, when the run is split into shards.
pub(super) fn count_of(run: &RunInfo) -> Option<u32> {
    run.meta["shards"]["count"]
        .as_u64()
        .and_then(|n| u32::try_from(n).ok())
}

/// Whether the run is split into shards.
pub(super) fn is_sharded(run: &RunInfo) -> bool {
    count_of(run).is_some()
}

/// Whether this process's part of `run` ended interrupted (Ctrl-C): with `shard`, that shard of
/// a sharded run; otherwise the run.
pub fn interrupted(run: &RunInfo, shard: Option<Shard>) -> bool {
    match shard {
        Some(s) if is_sharded(run) => seen(run, s)["state"] == "interrupted",
        _ => run.status == RunStatus::Interrupted,
    }
}

/// For a sharded run that is not finished: a note saying the run's report covers only the
/// examples stored so far, which shards still miss how many examples, and how to finish it.
pub fn partial(run: &RunInfo) -> Option<String> {
    let shards = run.meta.get("shards")?;
    let count = count_of(run)?;
    if run.status == RunStatus::Finished {
        return None;
    }
    let mut missing: Vec<(u64, u64)> = shards["missing"]
        .as_object()?
        .iter()
        .filter_map(|(i, k)| Some((i.parse().ok()?, k.as_u64()?)))
        .collect();
    missing.sort_unstable();
    let without: u64 = missing.iter().map(|(_, k)| k).sum();
    let list: Vec<String> = missing
        .iter()
        .map(|(i, k)| format!("{i}/{count} ({k})"))
        .collect();
    let id = &run.id;
    let mut note = format!(
        "run {id} is partial: the report covers the {} of {} examples stored so far; examples \
         without records by shard: {}. Each shard joins this run when it runs the same \
         configuration on the same data (rightfit eval --shard I/{count}); the last to end \
         finishes it, and 'rightfit report {id}' then shows all of it.",
        run.rows_used.saturating_sub(without),
        run.rows_used,
        list.join(", ")
    );
    let others: Vec<&str> = shards["others"]
        .as_array()
        .map(|o| o.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if !others.is_empty() {
        note.push_str(&format!(
            " Other unfinished runs of '{}' are split into {count} shards too: {}. A shard whose \
             configuration or data differ makes a run of its own: check that every machine has \
             the same rightfit.toml and data.",
            run.component,
            others.join(", ")
        ));
    }
    Some(note)
}

/// Makes `value`'s paths under `root` (the project file's folder) relative to it, so that the
/// configuration hashes alike on machines whose checkouts are in different folders.
pub(super) fn relative_paths(value: &mut Value, root: &Path) {
    let root = root.to_string_lossy();
    let root = root.trim_end_matches('/');
    if root.is_empty() || root == "." {
        return;
    }
    let prefix = format!("{root}/");
    walk(value, &prefix);
}

fn walk(value: &mut Value, prefix: &str) {
    match value {
        Value::String(s) => {
            if let Some(rest) = s.strip_prefix(prefix) {
                *s = rest.to_owned();
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| walk(v, prefix)),
        Value::Object(fields) => fields.values_mut().for_each(|v| walk(v, prefix)),
        _ => {}
    }
}

/// SHA-256 of the evaluation set, in order, and of the few-shot examples: what every shard of
/// a run must have prepared alike.
pub(super) fn fingerprint(prepared: &Prepared) -> String {
    let mut h = Sha256::new();
    for e in &prepared.examples {
        let line = json!(["example", e.id, e.vars, e.reference, e.conversation]);
        h.update(line.to_string().as_bytes());
        h.update(b"\n");
    }
    for s in &prepared.shots {
        h.update(
            json!(["shot", s.id, s.vars, s.reference])
                .to_string()
                .as_bytes(),
        );
        h.update(b"\n");
    }
    hex::encode(h.finalize())
}

/// The id every shard of this evaluation derives (see the module's documentation).
fn derived_id(run: &RunInfo, count: u32, fingerprint: &str) -> String {
    let mut only: Vec<&str> = run.meta["only"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    only.sort_unstable();
    only.dedup();
    let identity = json!({
        "component": run.component,
        "config": run.config_hash,
        "only": only,
        "shards": count,
        "examples": fingerprint,
    });
    let hash = hex::encode(Sha256::digest(identity.to_string().as_bytes()));
    format!("{}-{count}shards-{}", run.component, &hash[..12])
}

/// Creates the sharded run `run` describes (its id derived), or joins it when another shard
/// made it first; `run` comes from `runner::start` with its configuration hash taken portably.
/// A finished run is returned as stored: there is nothing left for the shard to do.
pub(super) async fn join(
    mut run: RunInfo,
    mut prepared: Prepared,
    shard: Shard,
    store: &dyn RunStore,
) -> Result<(RunInfo, Prepared), EvalError> {
    let fingerprint = fingerprint(&prepared);
    prepared.shard = Some(shard);
    run.id = derived_id(&run, shard.count(), &fingerprint);
    if let Some(meta) = run.meta.as_object_mut() {
        meta.remove("process");
        let entry = running(shard, prepared.examples.len());
        let seen = Map::from_iter([(shard.index().to_string(), entry)]);
        meta.insert(
            "shards".to_owned(),
            json!({ "count": shard.count(), "fingerprint": fingerprint, "seen": seen }),
        );
    }
    match store.create_run(&run).await {
        Ok(()) => return Ok((run, prepared)),
        Err(StoreError::DuplicateRun { .. }) => {}
        Err(e) => return Err(e.into()),
    }
    let found = stored(store, &run.id).await?;
    check_count(&found, Some(shard))?;
    if found.config_hash != run.config_hash || found.component != run.component {
        return Err(EvalError::Invalid(format!(
            "run {} exists with another configuration than this shard's (component '{}'); it \
             cannot take this shard",
            found.id, run.component
        )));
    }
    if found.status == RunStatus::Finished {
        check_data(&found, &prepared, &fingerprint)?;
        return Ok((found, prepared));
    }
    let joined = rejoin(found, &mut prepared, shard, store).await?;
    Ok((joined, prepared))
}

/// Continues `shard` of the unfinished sharded run `run` (its count and configuration already
/// checked): refuses other data or a shard still running here, then marks the shard running.
pub(super) async fn rejoin(
    run: RunInfo,
    prepared: &mut Prepared,
    shard: Shard,
    store: &dyn RunStore,
) -> Result<RunInfo, EvalError> {
    check_data(&run, prepared, &fingerprint(prepared))?;
    check_not_running(&run, shard)?;
    prepared.shard = Some(shard);
    let entry = running(shard, prepared.examples.len());
    mark(store, &run.id, shard, |r| {
        if r.status != RunStatus::Finished {
            r.status = RunStatus::Running;
            r.finished_at = None;
            if let Some(meta) = r.meta.as_object_mut() {
                meta.remove("interrupted");
                meta.remove("error");
            }
        }
        set_seen(r, shard, entry.clone());
    })
    .await
}

/// Refuses `--shard` on a run that is not split, none on one that is, and another `N`.
pub(super) fn check_count(run: &RunInfo, shard: Option<Shard>) -> Result<(), EvalError> {
    let id = &run.id;
    let refuse = |why: String| Err(EvalError::Invalid(why));
    match (count_of(run), shard) {
        (None, None) => Ok(()),
        (Some(n), None) => refuse(format!(
            "run {id} is split into {n} shards: continue one of them with --shard I/{n}"
        )),
        (None, Some(s)) => refuse(format!(
            "run {id} is not split into shards: resume it without --shard {s}"
        )),
        (Some(n), Some(s)) if n != s.count() => refuse(format!(
            "run {id} is split into {n} shards, not {}: every machine must give the same N \
             (--shard I/{n})",
            s.count()
        )),
        (Some(_), Some(_)) => Ok(()),
    }
}

/// Refuses a shard whose evaluation set differs from the run's (other data on this machine).
fn check_data(run: &RunInfo, prepared: &Prepared, fingerprint: &str) -> Result<(), EvalError> {
    if run.meta["shards"]["fingerprint"] == fingerprint {
        return Ok(());
    }
    Err(EvalError::Invalid(format!(
        "run {} was made from other examples than the {} this machine prepared from {}: every \
         shard must read the same data (same file, limit and seed) — give this machine the \
         data the other shards read",
        run.id,
        prepared.examples.len(),
        prepared.dataset
    )))
}

/// Refuses to start `shard` twice on this machine.
pub(super) fn check_not_running(run: &RunInfo, shard: Shard) -> Result<(), EvalError> {
    let entry = seen(run, shard);
    if entry["state"] == "running" && process::process_alive(&entry["process"]) == Some(true) {
        return Err(EvalError::Invalid(format!(
            "shard {shard} of run {} is still running (pid {}); wait for it, or stop it first",
            run.id, entry["process"]["pid"]
        )));
    }
    Ok(())
}

/// Ends `shard`'s part of the run: records how it ended and sets the run's status from what the
/// store holds (see the module's documentation). `examples` is the whole evaluation set,
/// `candidates` the candidates the run evaluates.
#[allow(clippy::too_many_arguments)]
pub(super) async fn finish(
    run: &mut RunInfo,
    shard: Shard,
    interrupted: bool,
    scorer: &Scorer,
    examples: &[Example],
    candidates: &[String],
    store: &dyn RunStore,
) -> Result<(), EvalError> {
    let state = if interrupted { "interrupted" } else { "done" };
    // What this shard computed before the run (a labelled few-shot pool) goes with its marks.
    let carried: Map<String, Value> = run
        .meta
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(k, _)| !["shards", "process", "interrupted", "error"].contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let mut records = store.records(&run.id, None).await?;
    let mut rechecked = false;
    loop {
        let missing = missing(&records, examples, candidates, shard.count());
        if rechecked && !missing.is_empty() {
            break;
        }
        let others = if missing.is_empty() {
            Vec::new()
        } else {
            other_runs(store, run, shard.count()).await?
        };
        let corpus = super::corpus_metrics(scorer, &records);
        *run = mark(store, &run.id, shard, |r| {
            end_shard(r, shard, state);
            if r.status == RunStatus::Finished && !missing.is_empty() {
                // Read before another shard's last records: never undo `finished`.
                return;
            }
            let Some(meta) = r.meta.as_object_mut() else {
                return;
            };
            meta.extend(carried.clone());
            meta.insert("corpus".to_owned(), json!(corpus));
            if missing.is_empty() {
                meta.remove("interrupted");
                meta.remove("error");
                drop_keys(meta, &["missing", "others"]);
                r.status = RunStatus::Finished;
                // Every shard's part has its records, whatever a mark replaced (or dropped) by
                // a write made from an older read says.
                for i in 1..=shard.count() {
                    if let Some(entry) = Shard::new(i, shard.count())
                        .ok()
                        .and_then(|s| seen_mut(r, s))
                    {
                        entry.insert("state".to_owned(), json!("done"));
                    }
                }
                r.finished_at = r.finished_at.take().or_else(|| Some(clock::now_rfc3339()));
                return;
            }
            let why = missing_text(&missing, shard.count());
            if let Some(shards) = meta.get_mut("shards").and_then(Value::as_object_mut) {
                let by_shard: BTreeMap<String, u64> =
                    missing.iter().map(|(i, k)| (i.to_string(), *k)).collect();
                shards.insert("missing".to_owned(), json!(by_shard));
                shards.insert("others".to_owned(), json!(others));
            }
            r.finished_at = None;
            r.status = if others_running(r, shard) {
                RunStatus::Running
            } else {
                RunStatus::Interrupted
            };
            if let Some(meta) = r.meta.as_object_mut() {
                if r.status == RunStatus::Interrupted {
                    meta.insert("interrupted".to_owned(), json!(why));
                } else {
                    meta.remove("interrupted");
                }
            }
        })
        .await?;
        if missing.is_empty() || rechecked {
            break;
        }
        // Another shard may have stored its last records and read the run before this write:
        // look again, so that a complete run ends `finished` whoever writes last.
        rechecked = true;
        records = store.records(&run.id, None).await?;
    }
    Ok(())
}

/// Records that `shard` ended by `error`: the run is `failed` (the error in `meta.error`) unless
/// another shard still runs or it is finished. A store that cannot take the mark is logged.
pub(super) async fn fail(store: &dyn RunStore, id: &str, shard: Shard, error: &EvalError) {
    let why = format!("shard {shard}: {error}");
    let marked = mark(store, id, shard, |r| {
        end_shard(r, shard, "failed");
        if let Some(entry) = seen_mut(r, shard) {
            entry.insert("error".to_owned(), json!(error.to_string()));
        }
        if r.status == RunStatus::Finished || others_running(r, shard) {
            return;
        }
        r.status = RunStatus::Failed;
        r.finished_at = Some(clock::now_rfc3339());
        if let Some(meta) = r.meta.as_object_mut() {
            meta.insert("error".to_owned(), json!(why));
        }
    })
    .await;
    if let Err(e) = marked {
        tracing::warn!("run {id}: cannot mark shard {shard} failed: {e}");
    }
}

/// Per shard (by `I`), how many of its examples lack a record of one of `candidates`.
fn missing(
    records: &[ExampleRecord],
    examples: &[Example],
    candidates: &[String],
    count: u32,
) -> BTreeMap<u32, u64> {
    let have: HashSet<(&str, &str)> = records
        .iter()
        .map(|r| (r.candidate.as_str(), r.example_id.as_str()))
        .collect();
    let mut missing = BTreeMap::new();
    for (position, e) in examples.iter().enumerate() {
        if candidates
            .iter()
            .any(|c| !have.contains(&(c.as_str(), e.id.as_str())))
        {
            *missing
                .entry(Shard::index_of(position as u64, count))
                .or_insert(0) += 1;
        }
    }
    missing
}

fn missing_text(missing: &BTreeMap<u32, u64>, count: u32) -> String {
    let list: Vec<String> = missing
        .iter()
        .map(|(i, k)| format!("{i}/{count} ({k})"))
        .collect();
    format!(
        "examples without records in shards {}; run them with --shard I/{count}",
        list.join(", ")
    )
}

/// Other unfinished runs of the component split `count` ways: what a shard with another
/// configuration or other data would have made.
async fn other_runs(
    store: &dyn RunStore,
    run: &RunInfo,
    count: u32,
) -> Result<Vec<String>, EvalError> {
    let runs = store.runs(Some(&run.component), 50).await?;
    Ok(runs
        .into_iter()
        .filter(|r| r.id != run.id && r.status != RunStatus::Finished)
        .filter(|r| count_of(r) == Some(count))
        .map(|r| r.id)
        .collect())
}

/// Whether a shard other than `shard` is marked running, by a process not known to be gone.
fn others_running(run: &RunInfo, shard: Shard) -> bool {
    let me = shard.index().to_string();
    run.meta["shards"]["seen"].as_object().is_some_and(|seen| {
        seen.iter().any(|(i, e)| {
            *i != me
                && e["state"] == "running"
                && process::process_alive(&e["process"]) != Some(false)
        })
    })
}

/// A shard's mark as it starts.
fn running(shard: Shard, total: usize) -> Value {
    json!({
        "state": "running",
        "examples": shard.size(total as u64),
        "process": process::this_process(),
        "started_at": clock::now_rfc3339(),
    })
}

fn end_shard(run: &mut RunInfo, shard: Shard, state: &str) {
    if let Some(entry) = seen_mut(run, shard) {
        entry.insert("state".to_owned(), json!(state));
        entry.insert("ended_at".to_owned(), json!(clock::now_rfc3339()));
    }
}

fn seen(run: &RunInfo, shard: Shard) -> &Value {
    &run.meta["shards"]["seen"][shard.index().to_string().as_str()]
}

fn set_seen(run: &mut RunInfo, shard: Shard, entry: Value) {
    if let Some(e) = seen_mut(run, shard) {
        *e = entry.as_object().cloned().unwrap_or_default();
    }
}

/// `meta.shards.seen[I]`, made when missing (`None` only when `meta` is not an object).
fn seen_mut(run: &mut RunInfo, shard: Shard) -> Option<&mut Map<String, Value>> {
    let shards = run
        .meta
        .as_object_mut()?
        .entry("shards")
        .or_insert_with(|| json!({}))
        .as_object_mut()?;
    shards
        .entry("seen")
        .or_insert_with(|| json!({}))
        .as_object_mut()?
        .entry(shard.index().to_string())
        .or_insert_with(|| json!({}))
        .as_object_mut()
}

fn drop_keys(meta: &mut Map<String, Value>, keys: &[&str]) {
    if let Some(shards) = meta.get_mut("shards").and_then(Value::as_object_mut) {
        for k in keys {
            shards.remove(*k);
        }
    }
}

async fn stored(store: &dyn RunStore, id: &str) -> Result<RunInfo, EvalError> {
    store.run(id).await?.ok_or_else(|| {
        EvalError::Invalid(format!(
            "run {id} was deleted while a shard was working on it"
        ))
    })
}

/// Applies `change` to the run as stored now and saves it, then reads it back: when another
/// shard's write (made from an older read) replaced `shard`'s mark, does it again (up to
/// [`TRIES`] times). Returns the run as written.
async fn mark(
    store: &dyn RunStore,
    id: &str,
    shard: Shard,
    change: impl Fn(&mut RunInfo),
) -> Result<RunInfo, EvalError> {
    let key = shard.index().to_string();
    let mut attempt = 0;
    loop {
        attempt += 1;
        let mut run = stored(store, id).await?;
        change(&mut run);
        store.update_run(&run).await?;
        let now = stored(store, id).await?;
        let kept =
            now.meta["shards"]["seen"][key.as_str()] == run.meta["shards"]["seen"][key.as_str()];
        if kept || attempt == TRIES {
            if !kept {
                tracing::warn!("run {id}: other shards' writes keep replacing shard {shard}'s");
            }
            return Ok(run);
        }
    }
}
