//! The gateway's traffic log and keys: behaviour every [`TrafficStore`] must have.

use std::time::Duration;

use rightfit_store::{Admission, StoreError, TrafficStore, hash_secret};
use rightfit_types::{TrafficFilter, TrafficRecord};

use crate::support::{failed_traffic, key, shadow, traffic};

fn ids(records: &[TrafficRecord]) -> Vec<&str> {
    records.iter().map(|r| r.id.as_str()).collect()
}

fn all() -> TrafficFilter {
    TrafficFilter::default()
}

pub async fn traffic_round_trips_every_field(store: &dyn TrafficStore) {
    let full = traffic(
        "req_1",
        "2026-11-30T03:42:07.123Z",
        "intent",
        "qwen/zero-shot",
    );
    let empty = failed_traffic("req_2", "2026-11-30T03:42:08.000Z", "intent", "smol");
    let mut extreme = shadow(&full, 1, "smol/few-shot");
    extreme.tokens_in = i64::MAX as u64;
    extreme.status = u16::MAX;
    extreme.cost_usd = Some(5e-324);
    extreme.input =
        serde_json::json!({"messages": [], "params": {"nested": {"deep": [1, {"x": null}]}}});
    store
        .put_traffic(&[full.clone(), empty.clone(), extreme.clone()])
        .await
        .unwrap();
    let back = store.traffic(&all()).await.unwrap();
    assert_eq!(back, vec![full, extreme, empty]);
    assert!(back[0].steps.len() == 2 && back[0].key_id.is_some());
}

pub async fn a_duplicate_id_fails_the_batch_and_names_the_id(store: &dyn TrafficStore) {
    let first = traffic("req_1", "2026-11-30T00:00:00.000Z", "intent", "a");
    store
        .put_traffic(std::slice::from_ref(&first))
        .await
        .unwrap();
    let batch = [
        traffic("req_2", "2026-11-30T00:00:01.000Z", "intent", "a"),
        traffic("req_1", "2026-11-30T00:00:02.000Z", "intent", "b"),
        traffic("req_3", "2026-11-30T00:00:03.000Z", "intent", "a"),
    ];
    let err = store.put_traffic(&batch).await.unwrap_err();
    match &err {
        StoreError::DuplicateTraffic { id, .. } => assert_eq!(id, "req_1"),
        other => panic!("expected DuplicateTraffic, got {other:?}"),
    }
    assert!(err.to_string().contains("drop the duplicate"), "{err}");
    // All or none: nothing of the failed batch, and the stored record is not replaced.
    assert_eq!(store.traffic(&all()).await.unwrap(), vec![first.clone()]);
    // What a writer does next: the batch without the duplicate goes in.
    store
        .put_traffic(&[batch[0].clone(), batch[2].clone()])
        .await
        .unwrap();
    assert_eq!(store.count_traffic(&all()).await.unwrap(), 3);
    // A duplicate within one batch is refused the same way.
    let twice = traffic("req_9", "2026-11-30T00:00:09.000Z", "intent", "a");
    let err = store
        .put_traffic(&[twice.clone(), twice])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::DuplicateTraffic { ref id, .. } if id == "req_9"));
    assert_eq!(store.count_traffic(&all()).await.unwrap(), 3);
}

pub async fn missing_records_are_added_and_stored_ones_left_alone(store: &dyn TrafficStore) {
    let first = traffic("req_1", "2026-11-30T00:00:00.000Z", "intent", "a");
    store
        .put_traffic(std::slice::from_ref(&first))
        .await
        .unwrap();
    // A replayed journal: the stored record again (changed, to show it is not replaced), two
    // new ones, one of them twice.
    let mut again = first.clone();
    again.candidate = "changed".to_owned();
    let new = traffic("req_2", "2026-11-30T00:00:01.000Z", "intent", "b");
    let other = traffic("req_3", "2026-11-30T00:00:02.000Z", "intent", "a");
    let added = store
        .put_traffic_missing(&[again, new.clone(), other.clone(), new.clone()])
        .await
        .unwrap();
    assert_eq!(added, vec![false, true, true, false]);
    assert_eq!(
        store.traffic(&all()).await.unwrap(),
        vec![first, new, other]
    );
    // Values are checked as put_traffic checks them: a bad one writes nothing.
    let mut bad = traffic("req_4", "2026-11-30T00:00:03.000Z", "intent", "a");
    bad.latency_ms = f64::NAN;
    let fresh = traffic("req_5", "2026-11-30T00:00:04.000Z", "intent", "a");
    assert!(store.put_traffic_missing(&[fresh, bad]).await.is_err());
    assert_eq!(store.count_traffic(&all()).await.unwrap(), 3);
    assert_eq!(
        store.put_traffic_missing(&[]).await.unwrap(),
        Vec::<bool>::new()
    );
}

/// `input` as `{"messages": [], "params": {"x": {"x": ... 1}}}`, `depth` levels in all.
fn nested_input(depth: usize) -> serde_json::Value {
    let mut inner = serde_json::json!(1);
    for _ in 0..depth - 1 {
        inner = serde_json::Value::Object(serde_json::Map::from_iter([("x".to_owned(), inner)]));
    }
    serde_json::json!({"messages": [], "params": inner})
}

pub async fn traffic_input_nests_at_most_max_record_depth(store: &dyn TrafficStore) {
    let max = rightfit_types::MAX_RECORD_DEPTH;
    let mut deepest = traffic("req_1", "2026-11-30T00:00:00.000Z", "intent", "a");
    deepest.input = nested_input(max);
    assert_eq!(rightfit_types::json_depth(&deepest.input), max);
    store
        .put_traffic(std::slice::from_ref(&deepest))
        .await
        .unwrap();
    assert_eq!(store.traffic(&all()).await.unwrap(), vec![deepest]);
    let mut deeper = traffic("req_2", "2026-11-30T00:00:01.000Z", "intent", "a");
    deeper.input = nested_input(max + 1);
    let err = store.put_traffic(&[deeper]).await.unwrap_err();
    match &err {
        StoreError::InvalidValue { field, value, .. } => {
            assert_eq!(field, "input");
            assert!(value.contains("65 levels"), "{value}");
        }
        other => panic!("expected InvalidValue, got {other:?}"),
    }
    assert_eq!(store.count_traffic(&all()).await.unwrap(), 1);
}

pub async fn a_batch_with_a_bad_value_writes_nothing(store: &dyn TrafficStore) {
    let mut bad = traffic("req_2", "2026-11-30T00:00:01.000Z", "intent", "a");
    bad.latency_ms = f64::NAN;
    let good = traffic("req_1", "2026-11-30T00:00:00.000Z", "intent", "a");
    let err = store.put_traffic(&[good, bad]).await.unwrap_err();
    assert!(
        matches!(err, StoreError::InvalidValue { ref field, ref what, .. }
            if field == "latency_ms" && what.contains("req_2")),
        "{err:?}"
    );
    assert_eq!(store.count_traffic(&all()).await.unwrap(), 0);
}

/// Six records over two components, three candidates, both roles, one error.
async fn seeded(store: &dyn TrafficStore) {
    let p1 = traffic("req_1", "2026-11-30T10:00:00.000Z", "intent", "qwen");
    let p2 = traffic("req_2", "2026-11-30T11:00:00.000Z", "intent", "smol");
    let p3 = failed_traffic("req_3", "2026-11-30T12:00:00.000Z", "intent", "qwen");
    let p3 = TrafficRecord {
        component: Some("intent".into()),
        ..p3
    };
    let s1 = TrafficRecord {
        at: "2026-11-30T10:00:00.500Z".into(),
        ..shadow(&p1, 1, "smol")
    };
    let other = traffic("req_4", "2026-11-30T13:00:00.000Z", "summary", "qwen");
    // Same instant as req_4: the id breaks the tie.
    let same_time = traffic("req_5", "2026-11-30T13:00:00.000Z", "summary", "qwen");
    // Written out of order: reading sorts by time.
    store
        .put_traffic(&[other, p3, s1, p1, same_time, p2])
        .await
        .unwrap();
}

pub async fn traffic_filters_select_and_order(store: &dyn TrafficStore) {
    seeded(store).await;
    let get = |filter: TrafficFilter| async move {
        let records = store.traffic(&filter).await.unwrap();
        let n = store.count_traffic(&filter).await.unwrap();
        (records.iter().map(|r| r.id.clone()).collect::<Vec<_>>(), n)
    };
    let (list, n) = get(all()).await;
    assert_eq!(
        list,
        [
            "req_1",
            "req_1-shadow-1",
            "req_2",
            "req_3",
            "req_4",
            "req_5"
        ]
    );
    assert_eq!(n, 6);

    let (list, _) = get(TrafficFilter {
        newest_first: true,
        ..all()
    })
    .await;
    assert_eq!(
        list,
        [
            "req_5",
            "req_4",
            "req_3",
            "req_2",
            "req_1-shadow-1",
            "req_1"
        ]
    );

    let (list, n) = get(TrafficFilter {
        component: Some("intent".into()),
        ..all()
    })
    .await;
    assert_eq!(list, ["req_1", "req_1-shadow-1", "req_2", "req_3"]);
    assert_eq!(n, 4);

    let (list, _) = get(TrafficFilter {
        candidate: Some("smol".into()),
        ..all()
    })
    .await;
    assert_eq!(list, ["req_1-shadow-1", "req_2"]);

    let (list, n) = get(TrafficFilter {
        role: Some("shadow".into()),
        ..all()
    })
    .await;
    assert_eq!((list, n), (vec!["req_1-shadow-1".to_owned()], 1));

    let (list, _) = get(TrafficFilter {
        role: Some("primary".into()),
        component: Some("intent".into()),
        candidate: Some("qwen".into()),
        ..all()
    })
    .await;
    assert_eq!(list, ["req_1", "req_3"]);

    // `since` is inclusive.
    let (list, n) = get(TrafficFilter {
        since: Some("2026-11-30T12:00:00.000Z".into()),
        ..all()
    })
    .await;
    assert_eq!(list, ["req_3", "req_4", "req_5"]);
    assert_eq!(n, 3);

    let (list, n) = get(TrafficFilter {
        ok_only: true,
        component: Some("intent".into()),
        ..all()
    })
    .await;
    assert_eq!(list, ["req_1", "req_1-shadow-1", "req_2"]);
    assert_eq!(n, 3);

    let (list, n) = get(TrafficFilter {
        errors_only: true,
        ..all()
    })
    .await;
    assert_eq!((list, n), (vec!["req_3".to_owned()], 1));
    let (list, n) = get(TrafficFilter {
        errors_only: true,
        ok_only: true,
        ..all()
    })
    .await;
    assert_eq!((list.len(), n), (0, 0));

    // `limit` takes the first in the order asked for; the count ignores it.
    let (list, n) = get(TrafficFilter {
        limit: Some(2),
        newest_first: true,
        ..all()
    })
    .await;
    assert_eq!((list, n), (vec!["req_5".to_owned(), "req_4".to_owned()], 6));
    let (list, _) = get(TrafficFilter {
        limit: Some(2),
        ..all()
    })
    .await;
    assert_eq!(list, ["req_1", "req_1-shadow-1"]);
    let (list, n) = get(TrafficFilter {
        limit: Some(0),
        ..all()
    })
    .await;
    assert_eq!((list.len(), n), (0, 6));

    let (list, n) = get(TrafficFilter {
        component: Some("nope".into()),
        ..all()
    })
    .await;
    assert_eq!((list.len(), n), (0, 0));
}

pub async fn a_batch_of_1000_traffic_records_is_written_in_one_call(store: &dyn TrafficStore) {
    let batch: Vec<TrafficRecord> = (0..1000u32)
        .map(|i| {
            let at = format!(
                "2026-11-30T{:02}:{:02}:{:02}.{:03}Z",
                i / 3600,
                i / 60 % 60,
                i % 60,
                i % 1000
            );
            let mut r = traffic(&format!("req_{i:04}"), &at, "intent", "qwen");
            r.latency_ms = f64::from(i);
            r
        })
        .collect();
    store.put_traffic(&batch).await.unwrap();
    let back = store.traffic(&all()).await.unwrap();
    assert_eq!(back.len(), 1000);
    assert_eq!(back, batch);
    assert_eq!(store.count_traffic(&all()).await.unwrap(), 1000);
    // An empty batch is fine and changes nothing.
    store.put_traffic(&[]).await.unwrap();
    assert_eq!(
        ids(&store
            .traffic(&TrafficFilter {
                limit: Some(1),
                newest_first: true,
                ..all()
            })
            .await
            .unwrap()),
        ["req_0999"]
    );
}

pub async fn keys_are_made_found_by_hash_and_listed(store: &dyn TrafficStore) {
    let ci = key("key_ci", "ci");
    let mut bare = key("key_bare", "bare");
    bare.created_at = "2026-12-01T00:00:00Z".into();
    bare.requests_per_minute = None;
    bare.budget_usd = None;
    store.put_key(&bare).await.unwrap();
    store.put_key(&ci).await.unwrap();
    // Oldest first.
    assert_eq!(store.keys().await.unwrap(), vec![ci.clone(), bare.clone()]);
    assert_eq!(
        store
            .key_by_hash(&hash_secret("rf-secret-of-key_ci"))
            .await
            .unwrap(),
        Some(ci.clone())
    );
    assert_eq!(
        store.key_by_hash(&hash_secret("rf-wrong")).await.unwrap(),
        None
    );

    // Another key with a taken name is refused, and nothing changes.
    let err = store.put_key(&key("key_other", "ci")).await.unwrap_err();
    match &err {
        StoreError::DuplicateKey { name, .. } => assert_eq!(name, "ci"),
        other => panic!("expected DuplicateKey, got {other:?}"),
    }
    assert!(err.to_string().contains("rightfit keys revoke ci"), "{err}");
    // A taken hash under another name is refused too (not as a name clash).
    let mut same_secret = key("key_ci", "copy");
    same_secret.id = "key_copy".into();
    let err = store.put_key(&same_secret).await.unwrap_err();
    assert!(matches!(err, StoreError::Query { .. }), "{err:?}");
    assert_eq!(store.keys().await.unwrap().len(), 2);

    // A non-finite budget is refused by field.
    let mut nan = key("key_nan", "nan");
    nan.budget_usd = Some(f64::NAN);
    let err = store.put_key(&nan).await.unwrap_err();
    assert!(
        matches!(err, StoreError::InvalidValue { ref field, .. } if field == "budget_usd"),
        "{err:?}"
    );
}

pub async fn revoking_by_id_or_name_keeps_the_first_time(store: &dyn TrafficStore) {
    store.put_key(&key("key_a", "alpha")).await.unwrap();
    store.put_key(&key("key_b", "beta")).await.unwrap();
    // A key whose name is another key's id: the id wins.
    store.put_key(&key("key_c", "key_a")).await.unwrap();

    assert!(store.revoke_key("key_a").await.unwrap());
    let keys = store.keys().await.unwrap();
    let revoked_at = keys[0].revoked_at.clone().unwrap();
    // RFC 3339 UTC with milliseconds, like traffic times.
    assert_eq!(
        revoked_at.len(),
        "2026-11-30T03:42:07.123Z".len(),
        "{revoked_at}"
    );
    assert!(revoked_at.ends_with('Z') && revoked_at.as_bytes()[10] == b'T');
    assert_eq!(keys[1].revoked_at, None, "beta untouched");
    assert_eq!(keys[2].revoked_at, None, "the key named 'key_a' untouched");

    assert!(store.revoke_key("beta").await.unwrap());
    assert!(store.keys().await.unwrap()[1].revoked_at.is_some());

    // Again: still true, the first time is kept.
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    assert!(store.revoke_key("alpha").await.unwrap());
    assert_eq!(store.keys().await.unwrap()[0].revoked_at, Some(revoked_at));

    assert!(!store.revoke_key("nope").await.unwrap());
    assert!(!store.revoke_key("").await.unwrap());
    // A revoked key is still found by its hash (the gateway refuses it).
    let found = store
        .key_by_hash(&hash_secret("rf-secret-of-key_a"))
        .await
        .unwrap()
        .unwrap();
    assert!(found.revoked_at.is_some());
}

pub async fn spend_adds_up_per_key(store: &dyn TrafficStore) {
    store.put_key(&key("key_a", "alpha")).await.unwrap();
    store.put_key(&key("key_b", "beta")).await.unwrap();
    for usd in [0.25, 0.5, 0.0, 1e-6] {
        store.add_spend("key_a", usd).await.unwrap();
    }
    let keys = store.keys().await.unwrap();
    assert!(
        (keys[0].spent_usd - 0.750_001).abs() < 1e-12,
        "{}",
        keys[0].spent_usd
    );
    assert_eq!(keys[1].spent_usd, 0.0);

    let err = store.add_spend("key_zz", 1.0).await.unwrap_err();
    assert!(
        matches!(err, StoreError::KeyNotFound { ref key, .. } if key == "key_zz"),
        "{err:?}"
    );
    assert!(err.to_string().contains("rightfit keys list"), "{err}");
    for bad in [-0.5, f64::NAN, f64::INFINITY] {
        let err = store.add_spend("key_a", bad).await.unwrap_err();
        assert!(matches!(err, StoreError::InvalidValue { .. }), "{err:?}");
    }
    let keys = store.keys().await.unwrap();
    assert!((keys[0].spent_usd - 0.750_001).abs() < 1e-12);
}

pub async fn spent_reads_every_add_and_concurrent_adds_all_count(store: &dyn TrafficStore) {
    store.put_key(&key("key_a", "alpha")).await.unwrap();
    assert_eq!(store.spent("key_a").await.unwrap(), 0.0);
    // 40 adds at once (as from several gateways): none is lost to a read-modify-write race.
    let adds = (0..40).map(|_| store.add_spend("key_a", 0.125));
    for result in futures::future::join_all(adds).await {
        result.unwrap();
    }
    assert_eq!(store.spent("key_a").await.unwrap(), 5.0);
    let err = store.spent("key_zz").await.unwrap_err();
    assert!(
        matches!(err, StoreError::KeyNotFound { ref key, .. } if key == "key_zz"),
        "{err:?}"
    );
}

pub async fn the_shared_bucket_admits_its_size_then_says_how_long_to_wait(
    store: &dyn TrafficStore,
) {
    // 4 a minute: a token every 15 s, so none comes back while the test runs (unless it
    // stalls 15 s, which the last assertion would show).
    for _ in 0..4 {
        assert_eq!(
            store.take_request("key_a", 4).await.unwrap(),
            Admission::Admitted
        );
    }
    let Admission::Wait(wait) = store.take_request("key_a", 4).await.unwrap() else {
        panic!("the fifth request in a minute of 4 was admitted");
    };
    assert!(
        wait > Duration::ZERO && wait <= Duration::from_secs(15),
        "{wait:?}"
    );
    // Refused requests take nothing: the wait does not grow with them.
    let Admission::Wait(again) = store.take_request("key_a", 4).await.unwrap() else {
        panic!("admitted");
    };
    assert!(again <= wait, "{again:?} > {wait:?}");
    // Another key has its own bucket; a limit of 0 admits nothing.
    assert_eq!(
        store.take_request("key_b", 1).await.unwrap(),
        Admission::Admitted
    );
    assert!(matches!(
        store.take_request("key_c", 0).await.unwrap(),
        Admission::Wait(_)
    ));
}

pub async fn concurrent_takes_never_share_a_token(store: &dyn TrafficStore) {
    // 3 a minute, 12 at once: exactly 3 get through (a token takes 20 s to come back).
    let takes = (0..12).map(|_| store.take_request("key_a", 3));
    let admitted = futures::future::join_all(takes)
        .await
        .into_iter()
        .filter(|r| *r.as_ref().unwrap() == Admission::Admitted)
        .count();
    assert_eq!(admitted, 3);
}
