//! One evaluation split into shards (`--shard I/N`) into one store: the shards, one after
//! another or at once, store what one unsharded run stores, each example once; a shard run again
//! adds nothing; an interrupted shard continues only its own rest; a shard that does not fit the
//! run is refused; the run is finished by its last shard.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use rightfit_config::project::Project;
use rightfit_eval::runner::{self, EvalError, EvalOptions};
use rightfit_eval::shard::Shard;
use rightfit_store::{PostgresStore, RunStore, SqliteStore};
use rightfit_testkit::postgres::TestDatabase;
use rightfit_types::progress::Quiet;
use rightfit_types::{RunInfo, RunStatus};
use tokio::sync::watch;

use super::{Script, Scripted, ScriptedModels, no_stop, project};

/// The 10-row project of these tests with two candidates, on models `m` and `m2` (both answered
/// by the scripted provider); `model_extra` goes into both models' tables.
fn two_candidates(dir: &Path, model_extra: &str) -> Project {
    let extra = format!(
        "{model_extra}\n[models.m2]\nprovider = \"openai-compatible\"\n\
         base_url = \"http://localhost:1/v1\"\nmodel = \"m2\"\n{model_extra}\n"
    );
    let mut p = project(dir, &extra);
    let c = p.components.get_mut("c").expect("component c");
    let mut second = c.candidates[0].clone();
    second.name = "second".into();
    second.model = "m2".into();
    c.candidates.push(second);
    p
}

fn shard(i: u32, n: u32) -> Shard {
    Shard::new(i, n).expect("a valid shard")
}

fn answering() -> (Arc<Scripted>, ScriptedModels) {
    let provider = Scripted::new(Script::FlakyFirst(0));
    let factory = ScriptedModels {
        candidate: provider.clone(),
        judge: None,
    };
    (provider, factory)
}

fn options(shard: Option<Shard>) -> EvalOptions {
    EvalOptions {
        shard,
        // Every answer is a call: the counts below are the examples evaluated.
        cache: false,
        ..EvalOptions::default()
    }
}

/// `rightfit eval [--shard I/N] [--resume RUN]`, as the CLI drives the runner.
async fn eval(
    p: &Project,
    store: &dyn RunStore,
    factory: &ScriptedModels,
    shard: Option<Shard>,
    resume: Option<&str>,
    stop: watch::Receiver<bool>,
) -> Result<RunInfo, EvalError> {
    let options = options(shard);
    let opened = runner::open(p, "c", resume, false, &options, store).await?;
    let (run, prepared, only) = opened.expect("a run of component c");
    runner::execute(
        p, run, prepared, &only, &options, store, factory, &Quiet, stop,
    )
    .await
}

async fn eval_shard(
    p: &Project,
    store: &dyn RunStore,
    factory: &ScriptedModels,
    s: Shard,
) -> RunInfo {
    let (_tx, rx) = no_stop();
    let run = eval(p, store, factory, Some(s), None, rx).await;
    run.unwrap_or_else(|e| panic!("shard {s}: {e}"))
}

/// (candidate, example, position) of each record.
async fn pairs(store: &dyn RunStore, run: &str) -> Vec<(String, String, u64)> {
    let records = store.records(run, None).await.expect("records");
    records
        .into_iter()
        .map(|r| (r.candidate, r.example_id, r.position))
        .collect()
}

/// What one unsharded run of `p` stores, each (candidate, example, position) once.
async fn unsharded(p: &Project) -> BTreeSet<(String, String, u64)> {
    let store = SqliteStore::open_in_memory().await.expect("store");
    let (_, factory) = answering();
    let (_tx, rx) = no_stop();
    let run = eval(p, &store, &factory, None, None, rx)
        .await
        .expect("run");
    assert_eq!(run.status, RunStatus::Finished);
    let all = pairs(&store, &run.id).await;
    let set: BTreeSet<_> = all.iter().cloned().collect();
    assert_eq!(
        (all.len(), set.len()),
        (20, 20),
        "2 candidates x 10 examples"
    );
    set
}

fn states(run: &RunInfo) -> Vec<(String, String)> {
    let seen = run.meta["shards"]["seen"].as_object().expect("shards seen");
    seen.iter()
        .map(|(i, s)| (i.clone(), s["state"].as_str().unwrap_or("").to_owned()))
        .collect()
}

#[tokio::test]
async fn three_shards_one_after_another_store_what_one_run_stores() {
    let dir = tempfile::tempdir().expect("dir");
    let p = two_candidates(dir.path(), "");
    let expected = unsharded(&p).await;
    let store = SqliteStore::open_in_memory().await.expect("store");
    let (provider, factory) = answering();

    // Shard 1/3 takes positions 0, 3, 6, 9; 2/3 takes 1, 4, 7; 3/3 takes 2, 5, 8.
    let first = eval_shard(&p, &store, &factory, shard(1, 3)).await;
    assert_eq!(first.status, RunStatus::Interrupted, "two shards to go");
    assert_eq!(first.rows_used, 10, "the run is the whole evaluation set");
    assert!(
        !runner::interrupted(&first, Some(shard(1, 3))),
        "its part is done"
    );
    let note = runner::partial(&first).expect("a partial run says so");
    assert!(
        note.contains("the 4 of 10 examples stored so far") && note.contains("2/3 (3), 3/3 (3)"),
        "{note}"
    );
    let positions: BTreeSet<u64> = pairs(&store, &first.id).await.iter().map(|p| p.2).collect();
    assert_eq!(positions, BTreeSet::from([0, 3, 6, 9]));

    let second = eval_shard(&p, &store, &factory, shard(2, 3)).await;
    assert_eq!(second.id, first.id, "every shard writes into one run");
    assert_eq!(second.status, RunStatus::Interrupted);
    let note = runner::partial(&second).expect("still partial");
    assert!(note.contains("3/3 (3)") && !note.contains("2/3"), "{note}");

    let third = eval_shard(&p, &store, &factory, shard(3, 3)).await;
    assert_eq!(third.id, first.id);
    assert_eq!(
        third.status,
        RunStatus::Finished,
        "the last shard finishes the run"
    );
    assert!(third.finished_at.is_some());
    assert_eq!(runner::partial(&third), None);
    assert_eq!(
        states(&third),
        [("1", "done"), ("2", "done"), ("3", "done")].map(|(i, s)| (i.into(), s.into()))
    );
    let stored = pairs(&store, &third.id).await;
    assert_eq!(stored.len(), 20, "each (candidate, example) once");
    assert_eq!(stored.into_iter().collect::<BTreeSet<_>>(), expected);
    assert_eq!(provider.calls.load(Ordering::SeqCst), 20);
    let runs = store.runs(Some("c"), 10).await.expect("runs");
    assert_eq!(runs.len(), 1, "one run: {runs:?}");

    // A shard run again adds nothing and leaves the run as it was.
    let again = eval_shard(&p, &store, &factory, shard(2, 3)).await;
    assert_eq!(again.id, third.id);
    assert_eq!(again.status, RunStatus::Finished);
    assert_eq!(again.finished_at, third.finished_at);
    assert_eq!(provider.calls.load(Ordering::SeqCst), 20, "no call");
    assert_eq!(pairs(&store, &third.id).await.len(), 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_shards_at_once_in_postgres_make_one_finished_run() {
    let dir = tempfile::tempdir().expect("dir");
    let p = two_candidates(dir.path(), "");
    let expected = unsharded(&p).await;
    let db = TestDatabase::create().await;
    let store = PostgresStore::open(db.url()).await.expect("postgres store");
    let (provider, factory) = answering();
    let (a, b, c) = tokio::join!(
        eval_shard(&p, &store, &factory, shard(1, 3)),
        eval_shard(&p, &store, &factory, shard(2, 3)),
        eval_shard(&p, &store, &factory, shard(3, 3)),
    );
    assert!(a.id == b.id && b.id == c.id, "{} {} {}", a.id, b.id, c.id);
    let run = store.run(&a.id).await.expect("read").expect("stored");
    assert_eq!(run.status, RunStatus::Finished, "{:?}", run.meta);
    assert_eq!(
        states(&run),
        [("1", "done"), ("2", "done"), ("3", "done")].map(|(i, s)| (i.into(), s.into()))
    );
    assert!(
        run.meta["shards"].get("missing").is_none(),
        "{:?}",
        run.meta
    );
    let stored = pairs(&store, &run.id).await;
    assert_eq!(stored.len(), 20, "each (candidate, example) once");
    assert_eq!(stored.into_iter().collect::<BTreeSet<_>>(), expected);
    assert_eq!(provider.calls.load(Ordering::SeqCst), 20);
    let candidates = store.candidates(&run.id).await.expect("candidates");
    assert_eq!(candidates.len(), 2, "put once per name: {candidates:?}");
    store.close().await;
}

#[tokio::test]
async fn an_interrupted_shard_continues_only_its_own_rest() {
    let dir = tempfile::tempdir().expect("dir");
    let p = two_candidates(dir.path(), "concurrency = 1");
    let store = SqliteStore::open_in_memory().await.expect("store");
    let (tx, rx) = watch::channel(false);
    let stopping = ScriptedModels {
        candidate: Arc::new(Scripted {
            name: "scripted".into(),
            script: Script::FlakyFirst(0),
            calls: AtomicU32::new(0),
            stop_after: Some((3, tx)),
        }),
        judge: None,
    };
    let one = shard(1, 2);
    let stopped = eval(&p, &store, &stopping, Some(one), None, rx).await;
    let stopped = stopped.expect("interrupted, not failed");
    assert!(runner::interrupted(&stopped, Some(one)));
    assert_eq!(stopped.status, RunStatus::Interrupted);
    let kept = pairs(&store, &stopped.id).await.len();
    assert!((1..10).contains(&kept), "{kept}");

    // The other shard does its 5 examples x 2 candidates, and leaves the run unfinished.
    let (provider, factory) = answering();
    let other = eval_shard(&p, &store, &factory, shard(2, 2)).await;
    assert_eq!(other.id, stopped.id);
    assert_eq!(provider.calls.load(Ordering::SeqCst), 10);
    assert_eq!(other.status, RunStatus::Interrupted);
    assert!(!runner::interrupted(&other, Some(shard(2, 2))));
    // Shard 1/2 stopped before its second candidate: all 5 of its examples lack a record.
    let why = other.meta["interrupted"].as_str().unwrap_or_default();
    assert!(why.contains("shards 1/2 (5)"), "{why}");

    // The same shard again does only the rest of its own examples, and finishes the run.
    let (provider, factory) = answering();
    let resumed = eval_shard(&p, &store, &factory, one).await;
    assert_eq!(resumed.id, stopped.id);
    assert_eq!(provider.calls.load(Ordering::SeqCst) as usize, 10 - kept);
    assert_eq!(resumed.status, RunStatus::Finished);
    assert_eq!(pairs(&store, &resumed.id).await.len(), 20);

    // `--resume RUN --shard I/N` names the run outright: a finished one is refused.
    let (_tx, rx) = no_stop();
    let err = eval(&p, &store, &factory, Some(one), Some(&resumed.id), rx)
        .await
        .expect_err("finished");
    assert!(err.to_string().contains("already finished"), "{err}");
}

#[tokio::test]
async fn a_shard_that_does_not_fit_the_run_is_refused() {
    let dir = tempfile::tempdir().expect("dir");
    let p = two_candidates(dir.path(), "");
    let store = SqliteStore::open_in_memory().await.expect("store");
    let (provider, factory) = answering();
    let run = eval_shard(&p, &store, &factory, shard(1, 3)).await;
    let calls = provider.calls.load(Ordering::SeqCst);
    let refused = |p: Project, s: Option<Shard>| {
        let (store, factory, id) = (&store, &factory, run.id.clone());
        async move {
            let (_tx, rx) = no_stop();
            let err = eval(&p, store, factory, s, Some(&id), rx).await;
            err.expect_err("refused").to_string()
        }
    };

    let err = refused(p.clone(), Some(shard(2, 2))).await;
    assert!(err.contains("split into 3 shards, not 2"), "{err}");
    let err = refused(p.clone(), None).await;
    assert!(
        err.contains("continue one of them with --shard I/3"),
        "{err}"
    );
    let mut changed = p.clone();
    if let Some(c) = changed.components.get_mut("c") {
        c.max_tokens = 3;
    }
    let err = refused(changed.clone(), Some(shard(2, 3))).await;
    assert!(err.contains("different configuration"), "{err}");
    // Other data on this machine: the first row's label changed.
    let data = dir.path().join("d.jsonl");
    let original = std::fs::read_to_string(&data).expect("data");
    let edited = original.replacen("\"label\": \"no\"", "\"label\": \"yes\"", 1);
    std::fs::write(&data, edited).expect("edit data");
    let err = refused(p.clone(), Some(shard(2, 3))).await;
    assert!(err.contains("made from other examples"), "{err}");
    std::fs::write(&data, original).expect("restore data");
    // An unsharded run is not continued as a shard.
    let (whole, _) = runner::start(&p, "c", &options(None), &store)
        .await
        .expect("start");
    let err = runner::reopen(&p, whole, Some(shard(1, 3)), &store)
        .await
        .expect_err("not sharded");
    assert!(err.to_string().contains("not split into shards"), "{err}");
    assert_eq!(provider.calls.load(Ordering::SeqCst), calls, "nothing ran");
    assert_eq!(pairs(&store, &run.id).await.len(), 8, "nothing was added");

    // Without --resume, a shard with another configuration derives another run: it cannot
    // mix into this one, and its note names this one as another unfinished sharded run.
    let stray = eval_shard(&changed, &store, &factory, shard(2, 3)).await;
    assert_ne!(stray.id, run.id);
    assert_eq!(pairs(&store, &run.id).await.len(), 8, "this run unchanged");
    let note = runner::partial(&stray).expect("partial");
    assert!(note.contains(&run.id), "{note}");

    // The fitting shard continues the run.
    let (_tx, rx) = no_stop();
    let fits = eval(&p, &store, &factory, Some(shard(2, 3)), Some(&run.id), rx).await;
    assert_eq!(fits.expect("fits").id, run.id);
    assert_eq!(pairs(&store, &run.id).await.len(), 14);
}

#[tokio::test]
async fn checkouts_in_different_folders_agree_on_the_run() {
    // Two machines: the same project and data, checked out in different folders.
    let (one, two) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    let (p1, p2) = (
        two_candidates(one.path(), ""),
        two_candidates(two.path(), ""),
    );
    assert_ne!(
        p1.components["c"].dataset.path, p2.components["c"].dataset.path,
        "absolute paths differ"
    );
    let store = SqliteStore::open_in_memory().await.expect("store");
    let (_, factory) = answering();
    let first = eval_shard(&p1, &store, &factory, shard(1, 2)).await;
    let second = eval_shard(&p2, &store, &factory, shard(2, 2)).await;
    assert_eq!(second.id, first.id);
    assert_eq!(second.status, RunStatus::Finished);
    assert_eq!(pairs(&store, &first.id).await.len(), 20);
}
