//! Runs (create, update, list, resolve, resume, delete) and the response cache.

use rightfit_store::{RunStore, StoreError};
use rightfit_types::RunStatus;
use serde_json::json;

use crate::support::{cached, candidate, failed, record, run, running};

pub async fn run_round_trips_every_field(store: &dyn RunStore) {
    let full = run("r-full", "sentiment", "2026-11-30T03:42:07Z");
    let empty = running("r-empty", "sentiment", "2026-11-30T03:42:08Z");
    let mut extreme = running("r-extreme", "ner", "2026-11-30T03:42:09Z");
    extreme.seed = u64::MAX;
    extreme.limit = Some(0);
    extreme.status = RunStatus::Interrupted;
    extreme.meta = json!("a string is JSON too");
    for r in [&full, &empty, &extreme] {
        store.create_run(r).await.unwrap();
    }
    for r in [&full, &empty, &extreme] {
        assert_eq!(store.run(&r.id).await.unwrap().as_ref(), Some(r));
    }
    assert_eq!(store.run("r-missing").await.unwrap(), None);
}

pub async fn creating_a_run_twice_is_refused(store: &dyn RunStore) {
    let r = run("r1", "sentiment", "2026-11-30T03:42:07Z");
    store.create_run(&r).await.unwrap();
    let mut other = r.clone();
    other.component = "other".into();
    let err = store.create_run(&other).await.unwrap_err();
    assert!(
        matches!(err, StoreError::DuplicateRun { ref id, .. } if id == "r1"),
        "{err:?}"
    );
    assert_eq!(store.run("r1").await.unwrap(), Some(r));
}

pub async fn update_changes_what_a_run_changes_and_nothing_else(store: &dyn RunStore) {
    let start = running("r1", "sentiment", "2026-11-30T03:42:07Z");
    store.create_run(&start).await.unwrap();

    let mut end = start.clone();
    end.status = RunStatus::Finished;
    end.finished_at = Some("2026-11-30T05:00:00Z".into());
    end.rows_used = 180;
    end.rows_skipped = 20;
    end.meta = json!({"interrupted_at": null, "notes": ["ok"]});
    store.update_run(&end).await.unwrap();
    assert_eq!(store.run("r1").await.unwrap().as_ref(), Some(&end));

    // Identity fields are fixed at creation.
    let mut changed = end.clone();
    changed.component = "ner".into();
    changed.started_at = "2030-01-01T00:00:00Z".into();
    changed.config_hash = "other".into();
    changed.dataset = "other.jsonl".into();
    changed.limit = Some(5);
    changed.seed = 7;
    store.update_run(&changed).await.unwrap();
    assert_eq!(store.run("r1").await.unwrap().as_ref(), Some(&end));
}

pub async fn updating_an_unknown_run_is_not_found(store: &dyn RunStore) {
    let err = store
        .update_run(&run("ghost", "c", "2026-01-01T00:00:00Z"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::RunNotFound { ref id, .. } if id == "ghost"),
        "{err:?}"
    );
}

pub async fn runs_are_newest_first_by_component_and_limited(store: &dyn RunStore) {
    // Created out of time order, so insertion order cannot pass for time order.
    let rows = [
        ("b", "sentiment", "2026-11-30T03:00:00Z"),
        ("d", "ner", "2026-11-30T05:00:00Z"),
        ("a", "sentiment", "2026-11-30T01:00:00Z"),
        ("c", "sentiment", "2026-11-30T04:00:00Z"),
        // Same start as "c", created after it: the later one is the newer (ids do not decide:
        // their suffixes are random).
        ("c2", "sentiment", "2026-11-30T04:00:00Z"),
    ];
    for (id, component, started) in rows {
        store
            .create_run(&running(id, component, started))
            .await
            .unwrap();
    }
    let ids =
        |runs: Vec<rightfit_types::RunInfo>| runs.into_iter().map(|r| r.id).collect::<Vec<_>>();
    assert_eq!(
        ids(store.runs(None, 100).await.unwrap()),
        ["d", "c2", "c", "b", "a"]
    );
    assert_eq!(
        ids(store.runs(Some("sentiment"), 100).await.unwrap()),
        ["c2", "c", "b", "a"]
    );
    assert_eq!(
        ids(store.runs(Some("sentiment"), 2).await.unwrap()),
        ["c2", "c"]
    );
    assert_eq!(ids(store.runs(None, usize::MAX).await.unwrap()).len(), 5);
    assert!(store.runs(Some("nothing"), 10).await.unwrap().is_empty());
    assert!(store.runs(None, 0).await.unwrap().is_empty());
}

pub async fn resolve_takes_latest_exact_ids_and_unique_prefixes(store: &dyn RunStore) {
    assert!(matches!(
        store.resolve_run("latest").await.unwrap_err(),
        StoreError::NoRuns { .. }
    ));
    for (id, started) in [
        ("20261130-034207-sentiment-a1b2", "2026-11-30T03:42:07Z"),
        ("20261201-090000-ner-ffff", "2026-12-01T09:00:00Z"),
        ("r1", "2026-11-01T00:00:00Z"),
        ("r10", "2026-11-02T00:00:00Z"),
    ] {
        store.create_run(&running(id, "c", started)).await.unwrap();
    }
    let resolve = |q: &'static str| async move { store.resolve_run(q).await.map(|r| r.id) };
    assert_eq!(resolve("latest").await.unwrap(), "20261201-090000-ner-ffff");
    assert_eq!(
        resolve("20261130-034207-sentiment-a1b2").await.unwrap(),
        "20261130-034207-sentiment-a1b2"
    );
    assert_eq!(
        resolve("2026113").await.unwrap(),
        "20261130-034207-sentiment-a1b2"
    );
    // An exact id wins over being a prefix of another id.
    assert_eq!(resolve("r1").await.unwrap(), "r1");
    assert_eq!(resolve("r10").await.unwrap(), "r10");
    for missing in ["2027", "R1", "r100", ""] {
        let err = resolve(missing).await.unwrap_err();
        assert!(
            matches!(err, StoreError::RunNotFound { ref id, .. } if id == missing),
            "{err:?}"
        );
    }
}

pub async fn resolve_reports_ambiguous_prefixes_with_their_matches(store: &dyn RunStore) {
    for i in 0..12 {
        let id = format!("2026-run-{i:02}");
        let started = format!("2026-11-30T03:{i:02}:00Z");
        store
            .create_run(&running(&id, "c", &started))
            .await
            .unwrap();
    }
    store
        .create_run(&running("2026-other", "c", "2026-01-01T00:00:00Z"))
        .await
        .unwrap();

    let err = store.resolve_run("2026-run-0").await.unwrap_err();
    match &err {
        StoreError::AmbiguousRun {
            prefix,
            matches,
            total,
            ..
        } => {
            assert_eq!(prefix, "2026-run-0");
            assert_eq!(*total, 10);
            let expected: Vec<String> = (0..10).rev().map(|i| format!("2026-run-{i:02}")).collect();
            assert_eq!(matches, &expected);
        }
        other => panic!("expected AmbiguousRun, got {other:?}"),
    }
    assert!(
        err.to_string().contains("'2026-run-09', '2026-run-08'"),
        "{err}"
    );

    let err = store.resolve_run("2026").await.unwrap_err();
    match &err {
        StoreError::AmbiguousRun { matches, total, .. } => {
            assert_eq!(*total, 13);
            assert_eq!(matches.len(), rightfit_store::MAX_LISTED_MATCHES);
            assert_eq!(matches[0], "2026-run-11");
        }
        other => panic!("expected AmbiguousRun, got {other:?}"),
    }
    assert!(err.to_string().contains("(and 3 more)"), "{err}");
    assert_eq!(store.resolve_run("2026-o").await.unwrap().id, "2026-other");
}

pub async fn resolve_prefixes_are_literal_not_patterns(store: &dyn RunStore) {
    store
        .create_run(&running("a_b%1", "c", "2026-01-01T00:00:00Z"))
        .await
        .unwrap();
    store
        .create_run(&running("axbx2", "c", "2026-01-02T00:00:00Z"))
        .await
        .unwrap();
    assert_eq!(store.resolve_run("a_").await.unwrap().id, "a_b%1");
    assert_eq!(store.resolve_run("a_b%").await.unwrap().id, "a_b%1");
    assert!(matches!(
        store.resolve_run("%").await.unwrap_err(),
        StoreError::RunNotFound { .. }
    ));
}

pub async fn latest_unfinished_is_the_newest_resumable_run_of_the_component(store: &dyn RunStore) {
    assert_eq!(store.latest_unfinished("sentiment").await.unwrap(), None);
    let mut interrupted = running("old-interrupted", "sentiment", "2026-11-30T02:00:00Z");
    interrupted.status = RunStatus::Interrupted;
    store
        .create_run(&running(
            "older-running",
            "sentiment",
            "2026-11-30T01:00:00Z",
        ))
        .await
        .unwrap();
    store.create_run(&interrupted).await.unwrap();
    store
        .create_run(&run("newest-finished", "sentiment", "2026-11-30T03:00:00Z"))
        .await
        .unwrap();
    store
        .create_run(&running("other-component", "ner", "2026-11-30T04:00:00Z"))
        .await
        .unwrap();

    assert_eq!(
        store.latest_unfinished("sentiment").await.unwrap(),
        Some(interrupted.clone())
    );
    assert_eq!(
        store.latest_unfinished("ner").await.unwrap().map(|r| r.id),
        Some("other-component".to_owned())
    );

    // Finishing it leaves the older running one.
    let mut finished = interrupted;
    finished.status = RunStatus::Finished;
    store.update_run(&finished).await.unwrap();
    assert_eq!(
        store
            .latest_unfinished("sentiment")
            .await
            .unwrap()
            .map(|r| r.id),
        Some("older-running".to_owned())
    );
}

pub async fn delete_takes_candidates_and_records_with_the_run(store: &dyn RunStore) {
    for id in ["doomed", "kept"] {
        store
            .create_run(&running(id, "c", "2026-01-01T00:00:00Z"))
            .await
            .unwrap();
        store.put_candidate(&candidate(id, "m1")).await.unwrap();
        store
            .put_records(&[record(id, "m1", "e1", 0), failed(id, "m1", "e2", 1)])
            .await
            .unwrap();
    }
    assert!(store.delete_run("doomed").await.unwrap());
    assert_eq!(store.run("doomed").await.unwrap(), None);
    assert!(store.candidates("doomed").await.unwrap().is_empty());
    assert!(store.records("doomed", None).await.unwrap().is_empty());
    assert!(store.done("doomed").await.unwrap().is_empty());
    assert!(!store.delete_run("doomed").await.unwrap());

    assert_eq!(store.candidates("kept").await.unwrap().len(), 1);
    assert_eq!(store.records("kept", None).await.unwrap().len(), 2);

    // The id can be used again, with nothing left over from before.
    store
        .create_run(&running("doomed", "c", "2026-01-02T00:00:00Z"))
        .await
        .unwrap();
    store
        .put_candidate(&candidate("doomed", "m1"))
        .await
        .unwrap();
    assert!(store.records("doomed", None).await.unwrap().is_empty());
}

pub async fn cache_round_trips_and_replaces(store: &dyn RunStore) {
    assert_eq!(store.cache_get("k1").await.unwrap(), None);
    let entry = cached("k1");
    store.cache_put(&entry).await.unwrap();
    store.cache_put(&cached("k2")).await.unwrap();
    assert_eq!(store.cache_get("k1").await.unwrap(), Some(entry));

    let mut newer = cached("k1");
    newer.provider = "llama".into();
    newer.response = json!({"loglikelihood": -1.25, "is_greedy": false});
    newer.created_at = "2026-12-01T00:00:00Z".into();
    store.cache_put(&newer).await.unwrap();
    assert_eq!(store.cache_get("k1").await.unwrap(), Some(newer));
    assert_eq!(
        store.cache_get("k2").await.unwrap().map(|e| e.key),
        Some("k2".to_owned())
    );
}
