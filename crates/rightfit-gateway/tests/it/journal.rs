//! The traffic journal: what a killed gateway left is stored at the next start (once, with its
//! keys' spend unless it was added when the request finished), a damaged line is skipped and its segment kept aside, segments go once stored,
//! one gateway owns a journal, and a served gateway stopped cleanly leaves none behind.

use std::io::Write;
use std::path::Path;

use rightfit_config::project::Durability;
use rightfit_gateway::journal::{self, Journal, Replayed, Spend};
use rightfit_store::{SqliteStore, TrafficStore};
use rightfit_types::{GatewayKey, TrafficFilter, TrafficRecord};
use serde_json::json;

use crate::support::{chat, client, component, model, start, upstream};

fn record(id: &str, cost: Option<f64>) -> TrafficRecord {
    TrafficRecord {
        id: id.to_owned(),
        at: format!("2026-12-04T10:00:00.{:0>3}Z", id.len()),
        api: "openai".to_owned(),
        key_id: Some("key_a".to_owned()),
        component: Some("intent".to_owned()),
        requested: "intent".to_owned(),
        route: "pinned".to_owned(),
        candidate: "small".to_owned(),
        role: "primary".to_owned(),
        parent: None,
        input: json!({"messages": [{"role": "user", "content": id}], "params": {}}),
        output: Some("billing".to_owned()),
        tool_calls: Vec::new(),
        finish_reason: Some("stop".to_owned()),
        stream: false,
        status: 200,
        error: None,
        latency_ms: 3.5,
        ttft_ms: None,
        tokens_in: 10,
        tokens_out: 1,
        cost_usd: cost,
        escalated: false,
        confidence: None,
        score: None,
        steps: Vec::new(),
    }
}

fn key() -> GatewayKey {
    GatewayKey {
        id: "key_a".to_owned(),
        name: "a".to_owned(),
        hash: rightfit_store::hash_secret("rf-secret"),
        prefix: "rf-secre".to_owned(),
        created_at: "2026-12-04T00:00:00Z".to_owned(),
        revoked_at: None,
        requests_per_minute: None,
        budget_usd: None,
        spent_usd: 0.0,
    }
}

fn files(dir: &Path, ext: &str) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .filter(|e| e.path().extension().is_some_and(|x| x == ext))
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

async fn ids(store: &dyn TrafficStore) -> Vec<String> {
    let all = store
        .traffic(&TrafficFilter::default())
        .await
        .expect("read");
    let mut ids: Vec<String> = all.into_iter().map(|r| r.id).collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn what_a_killed_gateway_journalled_is_stored_at_the_next_start_once() {
    let dir = tempfile::tempdir().expect("dir");
    let journal_dir = dir.path().join("j");
    let store = SqliteStore::open(&dir.path().join("t.db"))
        .await
        .expect("store");
    store.put_key(&key()).await.expect("key");
    {
        // A gateway that appended four records, stored one of them, and was killed (no close):
        // its last write cut short mid-line. r5's cost was added to the key's spend when it
        // finished (a budgeted key), before it was appended.
        let (j, left) = Journal::open(&journal_dir, Durability::Process).expect("open");
        assert!(left.is_empty());
        for (id, cost, spend) in [
            ("r1", Some(0.25), Spend::Pending),
            ("r2", Some(0.5), Spend::Pending),
            ("r3", None, Spend::Pending),
            ("r5", Some(2.0), Spend::Added),
        ] {
            j.append(&record(id, cost), spend).expect("append");
        }
        store
            .add_spend("key_a", 2.0)
            .await
            .expect("r5's spend, added when it finished");
        store
            .put_traffic(&[record("r1", Some(0.25))])
            .await
            .expect("r1 stored");
        let segment = journal_dir.join(&files(&journal_dir, "jsonl")[0]);
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(segment)
            .expect("segment");
        f.write_all(br#"{"id":"r4","at":"2026-12-"#)
            .expect("torn line");
    }
    let (j, left) = Journal::open(&journal_dir, Durability::Process).expect("reopen");
    assert_eq!(left.len(), 1);
    let replayed = journal::replay(&store, &journal_dir, &left)
        .await
        .expect("replay");
    assert_eq!(
        replayed,
        Replayed {
            segments: 1,
            stored: 3,
            present: 1,
            unreadable: 1,
        }
    );
    assert!(
        replayed
            .describe(&journal_dir)
            .contains("1 unreadable line(s)")
    );
    assert_eq!(ids(&store).await, vec!["r1", "r2", "r3", "r5"]);
    // Only the records stored now add to the key's spend, and only those whose spend was not
    // added when they finished: r2's 0.5 — not r1's again, not r5's a second time.
    let keys = store.keys().await.expect("keys");
    assert_eq!(keys[0].spent_usd, 2.5);
    // The damaged segment is kept aside; the new gateway's own segment is the only one left.
    assert_eq!(files(&journal_dir.join("unreadable"), "jsonl").len(), 1);
    assert_eq!(files(&journal_dir, "jsonl"), vec!["00000002.jsonl"]);
    // A second replay of the same records adds nothing.
    j.append(&record("r2", Some(0.5)), Spend::Pending)
        .expect("append");
    drop(j);
    let (_j, left) = Journal::open(&journal_dir, Durability::Process).expect("reopen");
    let again = journal::replay(&store, &journal_dir, &left)
        .await
        .expect("replay");
    assert_eq!((again.stored, again.present), (0, 1));
    assert_eq!(store.keys().await.expect("keys")[0].spent_usd, 2.5);
    store.close().await;
}

#[test]
fn segments_roll_and_go_once_every_record_in_them_is_stored() {
    let dir = tempfile::tempdir().expect("dir");
    let (j, _) = Journal::open(dir.path(), Durability::Power).expect("open");
    let mut segments = Vec::new();
    // 8,192 records fill a segment; the next one starts a second.
    for i in 0..8_200 {
        segments.push(
            j.append(&record(&format!("r{i}"), None), Spend::Pending)
                .expect("append"),
        );
    }
    assert_eq!((segments[0], segments[8_191], segments[8_192]), (1, 1, 2));
    assert_eq!(files(dir.path(), "jsonl").len(), 2);
    // All but one record of the first segment stored: it stays.
    j.stored(1, 8_191, true);
    assert_eq!(files(dir.path(), "jsonl").len(), 2);
    j.stored(1, 1, true);
    assert_eq!(files(dir.path(), "jsonl"), vec!["00000002.jsonl"]);
    // A record the store refused keeps its segment for the next start, closed or not.
    j.stored(2, 7, true);
    j.stored(2, 1, false);
    j.close();
    assert_eq!(files(dir.path(), "jsonl"), vec!["00000002.jsonl"]);
    assert_eq!(j.open_segments(), 1);
}

#[test]
fn one_gateway_owns_a_journal() {
    let dir = tempfile::tempdir().expect("dir");
    let (first, _) = Journal::open(dir.path(), Durability::Process).expect("open");
    let e = Journal::open(dir.path(), Durability::Process).expect_err("in use");
    assert!(e.contains("in use by another gateway"), "{e}");
    drop(first);
    Journal::open(dir.path(), Durability::Process).expect("free again");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_served_gateway_journals_each_answer_and_a_clean_stop_leaves_no_segment() {
    let up = upstream().await;
    let mut g = start(&format!(
        "{}{}",
        model("big", &up, ""),
        component("triage", &["big"], "")
    ))
    .await;
    let journal_dir = g._dir.path().join("traffic.db.journal");
    let http = client();
    for n in 0..5 {
        let mut body = chat("triage", &format!("hello {n}"));
        body["stream"] = json!(n % 2 == 0);
        let r = http
            .post(g.url("/v1/chat/completions"))
            .json(&body)
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), 200);
        r.bytes().await.expect("body");
    }
    assert_eq!(files(&journal_dir, "jsonl").len(), 1);
    g.stop().await;
    assert_eq!(g.records().await.len(), 5);
    assert!(files(&journal_dir, "jsonl").is_empty());
}
