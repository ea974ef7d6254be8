//! Traffic records written per second to a store, as the gateway's writer writes them: batches
//! of `batch` records, one `put_traffic` (one transaction) each, one writer. Each record is like
//! a served chat completion's (a two-message input, a short answer).
//!
//! ```text
//! cargo run --release -p rightfit-store --example traffic_write -- STORE [records=20000] [batch...]
//! ```
//! STORE is a SQLite file or a `postgres://` URL (empty, or from an earlier run: ids are unique
//! per run of this program only if the store is fresh). Prints one JSON line per batch size
//! (default 1, 16 and 256, the gateway's default batch): records, seconds, records/s.
//! `scripts/bench-store` runs it on both backends in one go.

// A benchmark's report is its output.
#![allow(clippy::print_stdout)]

use std::path::PathBuf;
use std::time::Instant;

use rightfit_types::TrafficRecord;
use serde_json::json;

fn record(run: usize, i: usize) -> TrafficRecord {
    TrafficRecord {
        id: format!("req_{run}_{i:08}"),
        at: format!(
            "2026-12-04T13:{:02}:{:02}.{:03}Z",
            (i / 60_000) % 60,
            (i / 1000) % 60,
            i % 1000
        ),
        api: "openai".to_owned(),
        key_id: Some("key_0123456789abcdef".to_owned()),
        component: Some("intent".to_owned()),
        requested: "intent".to_owned(),
        route: "pinned".to_owned(),
        candidate: "smol/zero-shot".to_owned(),
        role: "primary".to_owned(),
        parent: None,
        input: json!({
            "messages": [{"role": "system", "content": "Classify the intent of the message."},
                         {"role": "user", "content": format!("wake me at 7, request {i}")}],
            "params": {"temperature": 0.0, "max_tokens": 16},
        }),
        output: Some("set_alarm".to_owned()),
        tool_calls: Vec::new(),
        finish_reason: Some("stop".to_owned()),
        stream: false,
        status: 200,
        error: None,
        latency_ms: 12.5,
        ttft_ms: None,
        tokens_in: 45,
        tokens_out: 2,
        cost_usd: Some(0.000_012),
        escalated: false,
        confidence: None,
        score: None,
        steps: Vec::new(),
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let location = PathBuf::from(
        args.next()
            .ok_or("usage: traffic_write STORE [records] [batch...]")?,
    );
    let total: usize = args.next().map_or(Ok(20_000), |a| a.parse())?;
    let mut batches: Vec<usize> = args.map(|a| a.parse()).collect::<Result<_, _>>()?;
    if batches.is_empty() {
        batches = vec![1, 16, 256];
    }
    let store = rightfit_store::open(&location).await?;
    for (run, batch) in batches.iter().copied().enumerate() {
        let records: Vec<TrafficRecord> = (0..total).map(|i| record(run, i)).collect();
        let start = Instant::now();
        for chunk in records.chunks(batch.max(1)) {
            store.put_traffic(chunk).await?;
        }
        let secs = start.elapsed().as_secs_f64();
        println!(
            "{{\"store\": \"{}\", \"batch\": {batch}, \"records\": {total}, \"seconds\": {secs:.3}, \"records_per_s\": {:.0}}}",
            store.location().display(),
            total as f64 / secs
        );
    }
    store.shut_down().await;
    Ok(())
}
