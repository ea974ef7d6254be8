//! Fixtures: values with every field set (or every optional field empty) and stores in temp dirs.

use std::collections::BTreeMap;
use std::path::PathBuf;

use rightfit_store::SqliteStore;
use rightfit_types::{
    CachedResponse, CandidateInfo, ExampleRecord, GatewayKey, RunInfo, RunStatus, Step,
    TrafficRecord,
};
use serde_json::json;
use tempfile::TempDir;

/// A store on a file in a fresh temp dir (kept alive by the returned `TempDir`).
pub async fn file_store() -> (TempDir, SqliteStore, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("runs.db");
    let store = SqliteStore::open(&path).await.unwrap();
    (dir, store, path)
}

/// A finished run with every optional field set and nested JSON in `meta`.
pub fn run(id: &str, component: &str, started_at: &str) -> RunInfo {
    RunInfo {
        id: id.to_owned(),
        component: component.to_owned(),
        started_at: started_at.to_owned(),
        finished_at: Some("2026-11-30T04:00:00Z".to_owned()),
        status: RunStatus::Finished,
        config_hash: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".to_owned(),
        dataset: "data/sentiment.jsonl:test".to_owned(),
        rows_used: 200,
        rows_skipped: 3,
        limit: Some(200),
        seed: 42,
        meta: json!({
            "rightfit": "0.1.0",
            "host": {"cpus": 16, "gpu": null},
            "config": {"models": ["a", "b"], "temperature": 0.7, "nested": {"deep": [1, {"x": true}]}},
        }),
    }
}

/// A run still going, with every optional field empty.
pub fn running(id: &str, component: &str, started_at: &str) -> RunInfo {
    RunInfo {
        finished_at: None,
        status: RunStatus::Running,
        limit: None,
        meta: serde_json::Value::Null,
        ..run(id, component, started_at)
    }
}

/// A candidate with every optional field set.
pub fn candidate(run_id: &str, name: &str) -> CandidateInfo {
    CandidateInfo {
        run_id: run_id.to_owned(),
        name: name.to_owned(),
        model: format!("{name}-model"),
        strategy: "few-shot".to_owned(),
        params: json!({"shots": 3, "sampling": {"temperature": 0.0, "stop": ["\n"]}}),
        peak_memory_bytes: Some(3_221_225_472),
        model_memory_bytes: Some(1_073_741_824),
    }
}

/// A successful record with every optional field set and nested JSON.
pub fn record(run_id: &str, candidate: &str, example_id: &str, position: u64) -> ExampleRecord {
    ExampleRecord {
        run_id: run_id.to_owned(),
        candidate: candidate.to_owned(),
        example_id: example_id.to_owned(),
        position,
        input: json!({"messages": [{"role": "system", "content": "Classify."},
                                   {"role": "user", "content": "great film ☺"}]}),
        output: Some("positive".to_owned()),
        reference: json!(["positive", "pos"]),
        score: Some(0.75),
        scores: BTreeMap::from([
            ("exact_match".to_owned(), 1.0),
            ("f1".to_owned(), 0.1 + 0.2),
            ("tiny".to_owned(), 5e-324),
        ]),
        parsed: Some(json!({"label": "positive", "spans": [[0, 5]]})),
        unparseable: true,
        latency_ms: 123.456,
        ttft_ms: Some(17.25),
        tokens_in: 45,
        tokens_out: 2,
        cost_usd: Some(0.000_012_5),
        calls: 3,
        cached: true,
        error: None,
        confidence: Some(2.0 / 3.0),
        steps: vec![
            Step {
                kind: "sample".to_owned(),
                by: "small".to_owned(),
                output: "Positive, I think ☺".to_owned(),
                answer: Some("positive".to_owned()),
                confidence: None,
                latency_ms: 61.5,
                tokens_in: 15,
                tokens_out: 1,
                cost_usd: Some(0.000_004),
                cached: true,
                error: None,
                logprobs: None,
            },
            Step {
                kind: "sample".to_owned(),
                by: "small".to_owned(),
                output: String::new(),
                answer: None,
                confidence: Some(0.5),
                latency_ms: 0.0,
                tokens_in: 0,
                tokens_out: 0,
                cost_usd: None,
                cached: false,
                error: Some("timeout".to_owned()),
                logprobs: None,
            },
        ],
    }
}

/// A failed record: every optional field empty, an error set.
pub fn failed(run_id: &str, candidate: &str, example_id: &str, position: u64) -> ExampleRecord {
    ExampleRecord {
        output: None,
        score: None,
        scores: BTreeMap::new(),
        parsed: None,
        unparseable: false,
        ttft_ms: None,
        cost_usd: None,
        cached: false,
        error: Some("HTTP 429 from provider: rate limited".to_owned()),
        confidence: None,
        steps: Vec::new(),
        ..record(run_id, candidate, example_id, position)
    }
}

/// A cache entry.
pub fn cached(key: &str) -> CachedResponse {
    CachedResponse {
        key: key.to_owned(),
        provider: "openai".to_owned(),
        response: json!({"choices": [{"text": "hi", "logprobs": null}], "usage": {"prompt_tokens": 3}}),
        created_at: "2026-11-30T03:42:07Z".to_owned(),
    }
}

/// A successful primary traffic record with every optional field set and nested JSON.
pub fn traffic(id: &str, at: &str, component: &str, candidate: &str) -> TrafficRecord {
    TrafficRecord {
        id: id.to_owned(),
        at: at.to_owned(),
        api: "openai".to_owned(),
        key_id: Some("key_0123456789abcdef".to_owned()),
        component: Some(component.to_owned()),
        requested: component.to_owned(),
        route: "split".to_owned(),
        candidate: candidate.to_owned(),
        role: "primary".to_owned(),
        parent: None,
        input: json!({
            "messages": [{"role": "system", "content": "Classify the intent."},
                         {"role": "user", "content": "wake me at 7 ☺"}],
            "params": {"temperature": 0.0, "max_tokens": 16, "stop": ["\n"], "user": "[redacted]"},
        }),
        output: Some("set_alarm".to_owned()),
        tool_calls: vec![rightfit_types::ToolCall::new(
            "call_1",
            "set_alarm",
            &json!({"at": "07:00", "label": "wake ☺"}),
        )],
        finish_reason: Some("stop".to_owned()),
        stream: true,
        status: 200,
        error: None,
        latency_ms: 123.456,
        ttft_ms: Some(17.25),
        tokens_in: 45,
        tokens_out: 2,
        cost_usd: Some(0.000_012_5),
        escalated: true,
        confidence: Some(2.0 / 3.0),
        score: Some(0.1 + 0.2),
        steps: record("r", "c", "e", 0).steps,
    }
}

/// A shadow record of `parent`, answered by `candidate`.
pub fn shadow(parent: &TrafficRecord, n: u32, candidate: &str) -> TrafficRecord {
    TrafficRecord {
        id: format!("{}-shadow-{n}", parent.id),
        route: "shadow".to_owned(),
        candidate: candidate.to_owned(),
        role: "shadow".to_owned(),
        parent: Some(parent.id.clone()),
        ..parent.clone()
    }
}

/// A failed traffic record: every optional field empty, an error set.
pub fn failed_traffic(id: &str, at: &str, component: &str, candidate: &str) -> TrafficRecord {
    TrafficRecord {
        key_id: None,
        component: None,
        parent: None,
        output: None,
        finish_reason: None,
        stream: false,
        status: 502,
        error: Some("upstream answered HTTP 500".to_owned()),
        ttft_ms: None,
        cost_usd: None,
        escalated: false,
        confidence: None,
        score: None,
        steps: Vec::new(),
        ..traffic(id, at, component, candidate)
    }
}

/// A gateway key with every optional field set.
pub fn key(id: &str, name: &str) -> GatewayKey {
    GatewayKey {
        id: id.to_owned(),
        name: name.to_owned(),
        hash: rightfit_store::hash_secret(&format!("rf-secret-of-{id}")),
        prefix: "rf-0123abcd".to_owned(),
        created_at: "2026-11-30T03:42:07Z".to_owned(),
        revoked_at: None,
        requests_per_minute: Some(600),
        budget_usd: Some(25.5),
        spent_usd: 0.0,
    }
}
