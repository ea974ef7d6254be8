//! Candidates, example records and what a resume skips.

use std::collections::HashSet;

use rightfit_store::{RunStore, StoreError};
use serde_json::json;

use crate::support::{candidate, failed, record, running};

pub async fn candidates_round_trip_and_upsert_keeps_their_place(store: &dyn RunStore) {
    store
        .create_run(&running("r1", "c", "2026-01-01T00:00:00Z"))
        .await
        .unwrap();
    store
        .create_run(&running("r2", "c", "2026-01-01T00:00:00Z"))
        .await
        .unwrap();
    let zeta = candidate("r1", "zeta");
    let mut alpha = candidate("r1", "alpha");
    alpha.peak_memory_bytes = None;
    alpha.model_memory_bytes = None;
    alpha.params = serde_json::Value::Null;
    let mid = candidate("r1", "mid");
    for c in [&zeta, &alpha, &mid] {
        store.put_candidate(c).await.unwrap();
    }
    store.put_candidate(&candidate("r2", "zeta")).await.unwrap();
    assert_eq!(
        store.candidates("r1").await.unwrap(),
        vec![zeta.clone(), alpha, mid.clone()]
    );

    // Replacing the first keeps it first, with the new values.
    let mut zeta2 = zeta;
    zeta2.model = "swapped".into();
    zeta2.strategy = "zero-shot".into();
    zeta2.params = json!({"k": [1, 2]});
    zeta2.peak_memory_bytes = None;
    zeta2.model_memory_bytes = Some(i64::MAX as u64);
    store.put_candidate(&zeta2).await.unwrap();
    let after = store.candidates("r1").await.unwrap();
    assert_eq!(after.len(), 3);
    assert_eq!(after[0], zeta2);
    assert_eq!(after[2], mid);
    // The other run's candidate of the same name is untouched.
    assert_eq!(store.candidates("r2").await.unwrap()[0].model, "zeta-model");
    assert!(store.candidates("none").await.unwrap().is_empty());
}

pub async fn candidates_need_their_run(store: &dyn RunStore) {
    let err = store
        .put_candidate(&candidate("ghost", "m1"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::MissingParent { ref run_id, candidate: None, .. } if run_id == "ghost"),
        "{err:?}"
    );
}

pub async fn records_round_trip_every_field(store: &dyn RunStore) {
    store
        .create_run(&running("r1", "c", "2026-01-01T00:00:00Z"))
        .await
        .unwrap();
    store.put_candidate(&candidate("r1", "m1")).await.unwrap();
    let full = record("r1", "m1", "e-full", 0);
    let empty = failed("r1", "m1", "e-empty", 1);
    // `parsed: Some(null)` (the scorer parsed a JSON null) differs from `None` (nothing parsed).
    let mut parsed_null = record("r1", "m1", "e-null", 2);
    parsed_null.parsed = Some(serde_json::Value::Null);
    parsed_null.output = Some(String::new());
    parsed_null.input = json!("plain text prompt");
    parsed_null.reference = serde_json::Value::Null;
    parsed_null.score = Some(0.0);
    parsed_null.calls = u32::MAX;
    parsed_null.position = i64::MAX as u64;
    parsed_null.latency_ms = 0.0;
    store
        .put_records(&[full.clone(), empty.clone(), parsed_null.clone()])
        .await
        .unwrap();
    assert_eq!(
        store.records("r1", None).await.unwrap(),
        vec![full, empty, parsed_null]
    );
}

pub async fn records_upsert_by_candidate_and_example(store: &dyn RunStore) {
    store
        .create_run(&running("r1", "c", "2026-01-01T00:00:00Z"))
        .await
        .unwrap();
    store.put_candidate(&candidate("r1", "m1")).await.unwrap();
    store.put_candidate(&candidate("r1", "m2")).await.unwrap();
    let first = failed("r1", "m1", "e1", 0);
    let other = failed("r1", "m2", "e1", 0);
    store.put_records(&[first, other.clone()]).await.unwrap();

    let retried = record("r1", "m1", "e1", 0);
    store
        .put_records(std::slice::from_ref(&retried))
        .await
        .unwrap();
    assert_eq!(
        store.records("r1", Some("m1")).await.unwrap(),
        vec![retried]
    );
    assert_eq!(store.records("r1", Some("m2")).await.unwrap(), vec![other]);

    // Within one batch the later of two records for the same example wins.
    let mut a = record("r1", "m1", "e2", 1);
    a.score = Some(0.1);
    let mut b = a.clone();
    b.score = Some(0.9);
    store.put_records(&[a, b.clone()]).await.unwrap();
    assert_eq!(store.records("r1", Some("m1")).await.unwrap()[1], b);
}

pub async fn records_come_by_candidate_order_then_position(store: &dyn RunStore) {
    store
        .create_run(&running("r1", "c", "2026-01-01T00:00:00Z"))
        .await
        .unwrap();
    store
        .create_run(&running("r2", "c", "2026-01-01T00:00:00Z"))
        .await
        .unwrap();
    // Names not in alphabetical order, so a sort by name would fail.
    store.put_candidate(&candidate("r1", "zz")).await.unwrap();
    store.put_candidate(&candidate("r1", "aa")).await.unwrap();
    store.put_candidate(&candidate("r2", "aa")).await.unwrap();
    // Ids that sort differently from positions, written out of order.
    let batch = [
        record("r1", "aa", "x", 2),
        record("r1", "zz", "y", 1),
        record("r1", "aa", "z", 0),
        record("r1", "zz", "x", 2),
        record("r1", "zz", "z", 0),
        record("r1", "aa", "y", 1),
        record("r2", "aa", "other-run", 0),
    ];
    store.put_records(&batch).await.unwrap();
    let order = |records: Vec<rightfit_types::ExampleRecord>| {
        records
            .into_iter()
            .map(|r| format!("{}/{}", r.candidate, r.example_id))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        order(store.records("r1", None).await.unwrap()),
        ["zz/z", "zz/y", "zz/x", "aa/z", "aa/y", "aa/x"]
    );
    assert_eq!(
        order(store.records("r1", Some("aa")).await.unwrap()),
        ["aa/z", "aa/y", "aa/x"]
    );
    assert!(store.records("r1", Some("none")).await.unwrap().is_empty());
    assert_eq!(
        order(store.records("r2", None).await.unwrap()),
        ["aa/other-run"]
    );
}

pub async fn done_leaves_out_failed_examples_so_resume_retries_them(store: &dyn RunStore) {
    store
        .create_run(&running("r1", "c", "2026-01-01T00:00:00Z"))
        .await
        .unwrap();
    store
        .create_run(&running("r2", "c", "2026-01-01T00:00:00Z"))
        .await
        .unwrap();
    for name in ["m1", "m2"] {
        store.put_candidate(&candidate("r1", name)).await.unwrap();
    }
    store.put_candidate(&candidate("r2", "m1")).await.unwrap();
    // An unparseable answer is not an error: it is done (and counted wrong).
    let mut unparseable = record("r1", "m2", "e1", 0);
    unparseable.unparseable = true;
    store
        .put_records(&[
            record("r1", "m1", "e1", 0),
            failed("r1", "m1", "e2", 1),
            unparseable,
            failed("r1", "m2", "e2", 1),
            record("r2", "m1", "e2", 1),
        ])
        .await
        .unwrap();
    let pair = |c: &str, e: &str| (c.to_owned(), e.to_owned());
    assert_eq!(
        store.done("r1").await.unwrap(),
        HashSet::from([pair("m1", "e1"), pair("m2", "e1")])
    );

    // The retry succeeds: now it is done too.
    store
        .put_records(&[record("r1", "m1", "e2", 1)])
        .await
        .unwrap();
    assert_eq!(
        store.done("r1").await.unwrap(),
        HashSet::from([pair("m1", "e1"), pair("m1", "e2"), pair("m2", "e1")])
    );
    assert!(store.done("none").await.unwrap().is_empty());
}

pub async fn a_batch_with_a_bad_parent_writes_nothing(store: &dyn RunStore) {
    store
        .create_run(&running("r1", "c", "2026-01-01T00:00:00Z"))
        .await
        .unwrap();
    store.put_candidate(&candidate("r1", "m1")).await.unwrap();
    let before = record("r1", "m1", "e0", 0);
    store
        .put_records(std::slice::from_ref(&before))
        .await
        .unwrap();

    let mut changed = before.clone();
    changed.score = Some(0.0);
    let batch = [
        changed,
        record("r1", "m1", "e1", 1),
        record("r1", "unknown", "e2", 2),
    ];
    let err = store.put_records(&batch).await.unwrap_err();
    match &err {
        StoreError::MissingParent {
            run_id,
            candidate,
            what,
            ..
        } => {
            assert_eq!(run_id, "r1");
            assert_eq!(candidate.as_deref(), Some("unknown"));
            assert!(what.contains("'e2'"), "{what}");
        }
        other => panic!("expected MissingParent, got {other:?}"),
    }
    // Neither the new record nor the change to the old one was kept.
    assert_eq!(store.records("r1", None).await.unwrap(), vec![before]);

    let err = store
        .put_records(&[record("ghost", "m1", "e1", 0)])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::MissingParent { .. }), "{err:?}");
}

pub async fn a_batch_with_a_non_finite_number_writes_nothing(store: &dyn RunStore) {
    store
        .create_run(&running("r1", "c", "2026-01-01T00:00:00Z"))
        .await
        .unwrap();
    store.put_candidate(&candidate("r1", "m1")).await.unwrap();
    let mut bad = record("r1", "m1", "e2", 1);
    bad.scores.insert("bleu".into(), f64::INFINITY);
    let err = store
        .put_records(&[record("r1", "m1", "e1", 0), bad])
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::InvalidValue { ref field, .. } if field == "scores.bleu"),
        "{err:?}"
    );
    assert!(store.records("r1", None).await.unwrap().is_empty());
}

pub async fn a_batch_of_2000_records_is_written(store: &dyn RunStore) {
    store
        .create_run(&running("r1", "c", "2026-01-01T00:00:00Z"))
        .await
        .unwrap();
    store.put_candidate(&candidate("r1", "m1")).await.unwrap();
    store.put_candidate(&candidate("r1", "m2")).await.unwrap();
    let batch: Vec<_> = (0..2000u64)
        .map(|i| {
            let candidate = if i % 2 == 0 { "m1" } else { "m2" };
            let mut r = record("r1", candidate, &format!("ex-{i:04}"), i / 2);
            r.score = Some(i as f64 / 2000.0);
            r
        })
        .collect();
    store.put_records(&batch).await.unwrap();
    let back = store.records("r1", None).await.unwrap();
    assert_eq!(back.len(), 2000);
    assert_eq!(back[0], batch[0]);
    assert_eq!(back[999], batch[1998]);
    assert_eq!(back[1000], batch[1]);
    assert_eq!(back[1999], batch[1999]);
    assert_eq!(store.done("r1").await.unwrap().len(), 2000);
    // An empty batch is fine and changes nothing.
    store.put_records(&[]).await.unwrap();
    assert_eq!(store.records("r1", Some("m2")).await.unwrap().len(), 1000);
}
