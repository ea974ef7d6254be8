//! One run's report: the candidates' table for the terminal, Markdown and JSON.

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{Cell, CellAlignment, ContentArrangement, Table};
pub use rightfit_types::RunReport;
use rightfit_types::{CandidateSummary, PairedComparison};

use crate::fmt::{bytes, ms, pct, usd};

fn quality(s: &CandidateSummary) -> String {
    match &s.quality {
        Some(q) => format!("{} [{}, {}]", pct(q.mean), pct(q.low), pct(q.high)),
        None => "—".to_owned(),
    }
}

pub(crate) struct Row {
    pub(crate) cells: Vec<String>,
}

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

fn title(r: &RunReport) -> String {
    format!(
        "run {} · component {} · {} examples ({} rows skipped) · {}",
        r.run.id,
        r.run.component,
        r.run.rows_used,
        r.run.rows_skipped,
        r.run.status.as_str()
    )
}

/// The terminal table, `width` columns wide (0: no limit).
pub fn terminal(r: &RunReport, width: u16) -> String {
    let extra = extra_columns(r);
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_content_arrangement(ContentArrangement::Dynamic);
    if width > 0 {
        table.set_width(width);
    }
    table.set_header(headers(r, &extra));
    for row in rows(r, &extra) {
        table.add_row(row.cells.into_iter().enumerate().map(|(i, c)| {
            let cell = Cell::new(c);
            if i == 0 {
                cell
            } else {
                cell.set_alignment(CellAlignment::Right)
            }
        }));
    }
    let mut out = format!("{}\n{table}\n", title(r));
    for c in &r.comparisons {
        out.push_str(&comparison_line(c));
        out.push('\n');
    }
    out
}

/// Markdown: a heading, the table, the comparisons.
pub fn markdown(r: &RunReport) -> String {
    let extra = extra_columns(r);
    let h = headers(r, &extra);
    let mut out = format!("## {}\n\n", title(r));
    out.push_str(&format!("| {} |\n", h.join(" | ")));
    out.push_str(&format!(
        "|{}\n",
        h.iter()
            .enumerate()
            .map(|(i, _)| if i == 0 { "---|" } else { "---:|" })
            .collect::<String>()
    ));
    for row in rows(r, &extra) {
        let cells: Vec<String> = row.cells.iter().map(|c| c.replace('|', "\\|")).collect();
        out.push_str(&format!("| {} |\n", cells.join(" | ")));
    }
    if !r.comparisons.is_empty() {
        out.push('\n');
        for c in &r.comparisons {
            out.push_str(&format!("- {}\n", comparison_line(c)));
        }
    }
    out
}

/// JSON, pretty-printed.
pub fn json(r: &RunReport) -> String {
    serde_json::to_string_pretty(r).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rightfit_types::{Estimate, McNemar, Percentiles, RunInfo, RunStatus};

    fn est(mean: f64, low: f64, high: f64, n: u64) -> Estimate {
        Estimate {
            mean,
            low,
            high,
            n,
            confidence: 0.95,
        }
    }

    fn summary(name: &str, q: Estimate, cost: Option<f64>, mem: Option<u64>) -> CandidateSummary {
        CandidateSummary {
            candidate: name.to_owned(),
            model: name.split('/').next().unwrap_or_default().to_owned(),
            strategy: "few-shot".to_owned(),
            examples: 100,
            scored: 99,
            failures: 1,
            unparseable: 3,
            cached: 0,
            quality: Some(q.clone()),
            latency_ms: Some(Percentiles {
                p50: 120.0,
                p95: 480.5,
                p99: 12_345.0,
            }),
            ttft_ms: Some(Percentiles {
                p50: 40.0,
                p95: 90.0,
                p99: 99.0,
            }),
            output_tokens_per_s: Some(87.25),
            tokens_in_mean: 300.0,
            tokens_out_mean: 4.0,
            tokens_in_total: 30_000,
            tokens_out_total: 400,
            cost_per_request_usd: cost.map(|c| c / 1000.0),
            cost_per_1k_usd: cost,
            cost_total_usd: cost.unwrap_or(0.0) / 10.0,
            peak_memory_bytes: mem,
            metrics: [("accuracy".to_owned(), q)].into_iter().collect(),
        }
    }

    fn report() -> RunReport {
        RunReport {
            run: RunInfo {
                id: "20261130-040000-intent-ab12".into(),
                component: "intent".into(),
                started_at: "2026-11-30T04:00:00Z".into(),
                finished_at: Some("2026-11-30T04:02:00Z".into()),
                status: RunStatus::Finished,
                config_hash: "x".into(),
                dataset: "banking77/test.csv".into(),
                rows_used: 100,
                rows_skipped: 2,
                limit: Some(100),
                seed: 42,
                meta: serde_json::Value::Null,
            },
            primary_metric: "accuracy".into(),
            candidates: vec![
                summary(
                    "gpt-4o-mini/zero-shot",
                    est(0.91, 0.85, 0.96, 99),
                    Some(0.0525),
                    None,
                ),
                summary(
                    "smollm2/few-shot-8",
                    est(0.42, 0.33, 0.52, 99),
                    Some(0.0),
                    Some(300 << 20),
                ),
            ],
            corpus: [
                (
                    "gpt-4o-mini/zero-shot".to_owned(),
                    [("macro_f1".to_owned(), 0.9)].into_iter().collect(),
                ),
                (
                    "smollm2/few-shot-8".to_owned(),
                    [("macro_f1".to_owned(), 0.35)].into_iter().collect(),
                ),
            ]
            .into_iter()
            .collect(),
            comparisons: vec![PairedComparison {
                a: "gpt-4o-mini/zero-shot".into(),
                b: "smollm2/few-shot-8".into(),
                n: 99,
                mean_a: 0.91,
                mean_b: 0.42,
                diff: est(-0.49, -0.58, -0.40, 99),
                p_b_worse: 1.0,
                mcnemar: Some(McNemar {
                    a_only: 50,
                    b_only: 2,
                    statistic: 42.5,
                    p_value: 0.0,
                    exact: false,
                }),
            }],
        }
    }

    #[test]
    fn terminal_table() {
        insta::assert_snapshot!(terminal(&report(), 200));
    }

    #[test]
    fn markdown_table() {
        insta::assert_snapshot!(markdown(&report()));
    }

    #[test]
    fn json_round_trips_the_numbers() {
        let v: serde_json::Value = serde_json::from_str(&json(&report())).expect("json");
        assert_eq!(v["candidates"][1]["quality"]["mean"], 0.42);
        assert_eq!(v["corpus"]["smollm2/few-shot-8"]["macro_f1"], 0.35);
        assert_eq!(v["comparisons"][0]["mcnemar"]["a_only"], 50);
    }

    #[test]
    fn units() {
        assert_eq!(bytes(300 << 20), "300.0 MiB");
        assert_eq!(bytes(3 << 30), "3.00 GiB");
        assert_eq!(usd(0.0), "$0");
        assert_eq!(usd(0.0525), "$0.05");
        assert_eq!(usd(0.000_15), "$0.00015");
    }
}
