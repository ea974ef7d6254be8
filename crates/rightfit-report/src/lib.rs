//! Reports of evaluation results: a terminal table, Markdown, JSON, the lift table ([`lift()`]:
//! what each strategy adds to a small model against the large baseline), and one self-contained
//! HTML page ([`html()`]: charts drawn with `plotters`, the recommendation from
//! `rightfit-decide`, and a filterable per-example table), and what the gateway served
//! ([`traffic_stats`] and its tables); besides, every other table and JSON document the CLI
//! prints: devices and their estimates, `bench-model`, cascade calibration, runs, keys, models,
//! scores, log-likelihoods and `config check`. Pure, data in and text out, except
//! [`progress`], which draws the bars of long work on stderr.
//!
//! The evaluator (`rightfit-eval`) computes summaries and comparisons from stored records,
//! `rightfit-decide` the estimates and recommendations, `rightfit-llama` the measurements; this
//! crate only lays them out. The CLI prints or writes what it returns.

mod bench;
pub use bench::{bench_eval_json, bench_eval_terminal, bench_json, bench_terminal};
mod cascade;
pub use cascade::{cascade_json, cascade_terminal};
mod devices;
pub use devices::{
    DeviceEstimates, device_estimates_json, device_estimates_terminal, devices_terminal,
};
mod generate;
pub use generate::{loglik_json, loglik_terminal, logprobs_terminal, timings_line};
mod html;
pub use html::{HtmlLift, HtmlSection, html};
mod decision;
pub use decision::{
    recommendation_markdown, recommendation_terminal, recommendations_json,
    recommendations_markdown, recommendations_terminal,
};
mod lift;
pub use lift::{Lift, LiftRow, lift, lift_markdown, lift_terminal};
mod traffic;
pub use traffic::{
    TrafficStatsRow, keys_terminal, preview, traffic_list_page, traffic_list_terminal,
    traffic_stats, traffic_stats_markdown, traffic_stats_terminal,
};
mod fmt;
pub mod progress;
pub use fmt::{bytes, count, table, usd};
mod models;
pub use models::{model_info_json, model_info_terminal, models_json, models_terminal};
mod project;
pub use project::{online_checks_terminal, project_terminal, readiness_terminal};
mod runs;
pub use runs::{comparisons_json, comparisons_terminal, resume_command, runs_terminal};
mod score;
pub use score::{score_json, score_terminal};
mod serve;
pub use serve::serve_banner;
mod students;
pub use students::{
    StudentListing, lift_section, student_terminal, students_lift_terminal, students_listing,
    students_terminal, trained_students,
};
mod table;
pub use table::RunReport;

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{Cell, CellAlignment, ContentArrangement, Table};

use table::{comparison_line, extra_columns, headers, rows, title};

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
    use rightfit_types::{
        CandidateSummary, Estimate, McNemar, PairedComparison, Percentiles, RunInfo, RunStatus,
    };

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
