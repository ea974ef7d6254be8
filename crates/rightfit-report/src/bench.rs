//! What `rightfit bench-model` measured, and the calibration it derived, as a table or JSON.

use std::path::Path;

use rightfit_types::bench_eval::Comparison;
use rightfit_types::device::{CalibrationRecord, ModelBench, Spread};
use serde_json::json;

use crate::fmt::{bytes as size, count, table};

fn show(s: &Spread, unit: &str) -> String {
    format!("{:.1} {unit} ({:.1}–{:.1})", s.median, s.min, s.max)
}

/// The median with one sequence, which the others are compared with.
fn single(b: &ModelBench) -> Option<f64> {
    b.concurrency
        .iter()
        .find(|(c, _)| *c == 1)
        .map(|(_, s)| s.median)
}

/// The measurements and the calibration (saved to `saved`, when it was) as JSON.
pub fn bench_json(
    b: &ModelBench,
    record: &CalibrationRecord,
    saved: Option<&Path>,
) -> serde_json::Value {
    let single = single(b);
    json!({
        "model": b.model,
        "path": b.path,
        "threads": b.threads,
        "prompt_tokens": b.prompt_tokens,
        "gen_tokens": b.gen_tokens,
        "reps": b.reps,
        "batch_invariant": b.batch_invariant,
        "prompt_tokens_per_s": b.prompt_tokens_per_s,
        "generation_tokens_per_s": b.generation_tokens_per_s,
        "ttft_ms": b.ttft_ms,
        "concurrency": b.concurrency.iter().map(|(c, s)| json!({
            "sequences": c,
            "aggregate_tokens_per_s": s,
            "speedup_vs_1": single.map(|one| s.median / one),
        })).collect::<Vec<_>>(),
        "model_bytes": b.model_bytes,
        "context_bytes": b.context_bytes,
        "peak_rss_bytes": b.peak_rss_bytes,
        "calibration": record,
        "calibration_file": saved,
    })
}

/// The measurements and the calibration as a table, and where the calibration went.
pub fn bench_terminal(b: &ModelBench, record: &CalibrationRecord, saved: Option<&Path>) -> String {
    let single = single(b);
    let mut out = format!(
        "{}: {} parameters, {} threads, context {} tokens, {} parallel sequences\n",
        b.model,
        count(b.parameters),
        b.threads,
        b.context_size,
        b.parallel
    );
    let prompt_tokens = b.prompt_tokens;
    let mut t = table(&["test", "median (min–max)", "notes"]);
    t.add_row(vec![
        format!("prompt processing, {prompt_tokens} tokens"),
        show(&b.prompt_tokens_per_s, "tok/s"),
        format!("{} reps, no cache reuse", b.reps),
    ]);
    t.add_row(vec![
        "time to first token".to_owned(),
        show(&b.ttft_ms, "ms"),
        format!("{prompt_tokens}-token prompt"),
    ]);
    t.add_row(vec![
        format!("generation, {} tokens", b.gen_tokens),
        show(&b.generation_tokens_per_s, "tok/s"),
        "one sequence, after the first token".to_owned(),
    ]);
    for (c, s) in &b.concurrency {
        let ratio = single.map_or_else(String::new, |one| {
            format!("{:.2}× one sequence", s.median / one)
        });
        t.add_row(vec![
            format!("aggregate generation, {c} sequences"),
            show(s, "tok/s"),
            ratio,
        ]);
    }
    t.add_row(vec![
        "memory".to_owned(),
        format!("peak RSS {}", size(b.peak_rss_bytes)),
        format!(
            "weights {} · context (KV + buffers) {}",
            size(b.model_bytes),
            size(b.context_bytes)
        ),
    ]);
    let cal = &record.calibration;
    t.add_row(vec![
        "memory read bandwidth".to_owned(),
        format!("{:.1} GB/s", record.figures.bandwidth_gbs),
        record.bandwidth_method.clone(),
    ]);
    t.add_row(vec![
        "peak compute (estimate)".to_owned(),
        format!("{:.1} GFLOPS", record.figures.compute_tflops * 1000.0),
        record.compute_method.clone(),
    ]);
    t.add_row(vec![
        "roofline efficiency: generation".to_owned(),
        format!("{:.2}", cal.decode_efficiency),
        format!(
            "{:.1} tok/s measured ÷ ({:.1} GB/s ÷ {} per token)",
            record.figures.generation_tokens_per_s,
            record.figures.bandwidth_gbs,
            size(record.decode_bytes_per_token as u64)
        ),
    ]);
    t.add_row(vec![
        "roofline efficiency: prompts".to_owned(),
        format!("{:.2}", cal.prefill_efficiency),
        format!(
            "{:.1} tok/s measured ÷ ({:.1} GFLOPS ÷ {:.3} GFLOP per token)",
            record.figures.prompt_tokens_per_s,
            record.figures.compute_tflops * 1000.0,
            record.prefill_flops_per_token / 1e9
        ),
    ]);
    out.push_str(&format!("{t}\n"));
    out.push_str(&match saved {
        Some(path) => format!(
            "calibration saved to {} ('rightfit devices' uses it)\n",
            path.display()
        ),
        None => "calibration not saved (--no-save)\n".to_owned(),
    });
    out
}

/// What `rightfit bench-eval` measured for `component`, as JSON.
pub fn bench_eval_json(component: &str, c: &Comparison) -> serde_json::Value {
    let (base, batched) = (&c.baseline, &c.batched);
    json!({
        "component": component,
        "candidate": c.candidate,
        "examples": base.examples,
        "rounds": c.rounds,
        "baseline": { "examples_per_s": c.baseline_eps, "seconds_last": base.seconds, "accuracy": base.accuracy, "failures": base.failures },
        "batched": { "examples_per_s": c.batched_eps, "concurrency": c.concurrency, "seconds_last": batched.seconds, "accuracy": batched.accuracy, "failures": batched.failures },
        "speedup": c.batched_eps / c.baseline_eps,
        "identical_outputs": c.identical,
    })
}

/// What `rightfit bench-eval` measured for `component`: a title line, the table of both modes,
/// and the speedup.
pub fn bench_eval_terminal(component: &str, c: &Comparison) -> String {
    let (base, batched) = (&c.baseline, &c.batched);
    let mut t = table(&[
        "mode",
        "examples/s",
        "seconds (last round)",
        "accuracy %",
        "failures",
    ]);
    for (mode, eps, m) in [
        (
            "one at a time, no prefix reuse".to_owned(),
            c.baseline_eps,
            base,
        ),
        (
            format!("batched ×{}, prefix reuse", c.concurrency),
            c.batched_eps,
            batched,
        ),
    ] {
        t.add_row(vec![
            mode,
            format!("{eps:.2}"),
            format!("{:.1}", m.seconds),
            format!("{:.1}", m.accuracy * 100.0),
            m.failures.to_string(),
        ]);
    }
    format!(
        "bench-eval: {component} / {}, {} examples, {} round(s), median examples/s\n{t}\n\
         speedup {:.2}×; identical outputs on {}/{} examples\n",
        c.candidate,
        base.examples,
        c.rounds,
        c.batched_eps / c.baseline_eps,
        c.identical,
        base.examples
    )
}
