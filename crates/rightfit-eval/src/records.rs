//! A run's records as a file: JSON lines, or CSV for spreadsheets (`rightfit runs export`).

use std::io::Write;

use rightfit_types::ExampleRecord;

/// Writes records as JSON lines, or as CSV with a header (JSON values as JSON text).
pub fn write_records(
    out: &mut dyn Write,
    records: &[ExampleRecord],
    csv: bool,
) -> std::io::Result<()> {
    if !csv {
        for r in records {
            writeln!(out, "{}", serde_json::to_string(r)?)?;
        }
        return out.flush();
    }
    let mut w = csv::Writer::from_writer(&mut *out);
    w.write_record([
        "run_id",
        "candidate",
        "example_id",
        "position",
        "output",
        "reference",
        "score",
        "scores",
        "parsed",
        "unparseable",
        "latency_ms",
        "ttft_ms",
        "tokens_in",
        "tokens_out",
        "cost_usd",
        "calls",
        "cached",
        "error",
        "input",
        "confidence",
        "steps",
    ])?;
    let opt = |v: Option<f64>| v.map(|x| x.to_string()).unwrap_or_default();
    for r in records {
        w.write_record([
            r.run_id.clone(),
            r.candidate.clone(),
            r.example_id.clone(),
            r.position.to_string(),
            r.output.clone().unwrap_or_default(),
            r.reference.to_string(),
            opt(r.score),
            serde_json::to_string(&r.scores)?,
            r.parsed.as_ref().map(|p| p.to_string()).unwrap_or_default(),
            r.unparseable.to_string(),
            r.latency_ms.to_string(),
            opt(r.ttft_ms),
            r.tokens_in.to_string(),
            r.tokens_out.to_string(),
            opt(r.cost_usd),
            r.calls.to_string(),
            r.cached.to_string(),
            r.error.clone().unwrap_or_default(),
            r.input.to_string(),
            opt(r.confidence),
            serde_json::to_string(&r.steps)?,
        ])?;
    }
    w.flush()?;
    drop(w);
    out.flush()
}
