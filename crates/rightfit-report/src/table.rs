//! One run's summary table: what it shows ([`RunReport`], from `rightfit-types`), its header,
//! rows and comparison lines. The terminal, Markdown and HTML reports lay out the same cells.

pub use rightfit_types::RunReport;
use rightfit_types::{CandidateSummary, PairedComparison};

use crate::fmt::{bytes, ms, pct, usd};

/// The primary metric with its interval, in percent: `42.0 [33.0, 52.0]`.
fn quality(s: &CandidateSummary) -> String {
    match &s.quality {
        Some(q) => format!("{} [{}, {}]", pct(q.mean), pct(q.low), pct(q.high)),
        None => "—".to_owned(),
    }
}

/// One row of the summary table, a cell per header.
pub(crate) struct Row {
    pub(crate) cells: Vec<String>,
}

/// The summary table's header: candidate, primary metric, `extra`, then speed, cost and counts.
pub(crate) fn headers(r: &RunReport, extra: &[String]) -> Vec<String> {
    let mut h = vec![
        "candidate".to_owned(),
        format!("{} % (95% CI)", r.primary_metric),
    ];
    h.extend(extra.iter().cloned());
    h.extend(
        [
            "p50 ms",
            "p95 ms",
            "TTFT p50",
            "out tok/s",
            "cost/1k",
            "memory",
            "n",
            "failed",
            "unparsed",
        ]
        .iter()
        .map(|s| (*s).to_owned()),
    );
    h
}

/// The extra metric columns: other per-example metrics, then corpus metrics.
pub(crate) fn extra_columns(r: &RunReport) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for s in &r.candidates {
        for m in s.metrics.keys() {
            if *m != r.primary_metric && !names.contains(m) {
                names.push(m.clone());
            }
        }
    }
    for c in r.corpus.values() {
        for m in c.keys() {
            if !names.contains(m) {
                names.push(m.clone());
            }
        }
    }
    // Where a corpus metric and a per-example metric share a name (macro_f1), the row shows the
    // corpus value.
    names
}

/// One row per candidate, in the report's order, with the cells [`headers`] names.
pub(crate) fn rows(r: &RunReport, extra: &[String]) -> Vec<Row> {
    r.candidates
        .iter()
        .map(|s| {
            let mut cells = vec![s.candidate.clone(), quality(s)];
            for m in extra {
                let v = r
                    .corpus
                    .get(&s.candidate)
                    .and_then(|c| c.get(m).copied())
                    .or_else(|| s.metrics.get(m).map(|e| e.mean));
                cells.push(v.map_or("—".to_owned(), pct));
            }
            cells.push(s.latency_ms.as_ref().map_or("—".into(), |p| ms(p.p50)));
            cells.push(s.latency_ms.as_ref().map_or("—".into(), |p| ms(p.p95)));
            cells.push(s.ttft_ms.as_ref().map_or("—".into(), |p| ms(p.p50)));
            cells.push(
                s.output_tokens_per_s
                    .map_or("—".into(), |t| format!("{t:.1}")),
            );
            cells.push(s.cost_per_1k_usd.map_or("—".into(), usd));
            cells.push(s.peak_memory_bytes.map_or("—".into(), bytes));
            cells.push(s.examples.to_string());
            cells.push(s.failures.to_string());
            cells.push(s.unparseable.to_string());
            Row { cells }
        })
        .collect()
}

/// One paired comparison in a sentence, ending with its verdict.
pub(crate) fn comparison_line(c: &PairedComparison) -> String {
    let mut line = format!(
        "{} vs {}: {:+.1} points [{:+.1}, {:+.1}] on {} paired examples; P({} worse) = {:.2}",
        c.b,
        c.a,
        c.diff.mean * 100.0,
        c.diff.low * 100.0,
        c.diff.high * 100.0,
        c.n,
        c.b,
        c.p_b_worse
    );
    if let Some(m) = &c.mcnemar {
        line.push_str(&format!(
            "; McNemar p = {:.3} ({} only {} right, {} only {} right)",
            m.p_value, m.a_only, c.a, m.b_only, c.b
        ));
    }
    let verdict = if c.diff.high < 0.0 {
        "worse"
    } else if c.diff.low > 0.0 {
        "better"
    } else {
        "no clear difference"
    };
    line.push_str(&format!(" → {verdict}"));
    line
}

/// The run in one line: id, component, examples, status.
pub(crate) fn title(r: &RunReport) -> String {
    format!(
        "run {} · component {} · {} examples ({} rows skipped) · {}",
        r.run.id,
        r.run.component,
        r.run.rows_used,
        r.run.rows_skipped,
        r.run.status.as_str()
    )
}
