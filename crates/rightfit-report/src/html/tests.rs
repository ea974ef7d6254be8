//! The HTML report's structure: escaping, frontiers, what is not plotted, empty cases,
//! determinism, and no reference to anything outside the page. (The page in a real browser is
//! tested in `tests/it`.)

use rightfit_decide::{Aspects, Constraints, Objective, QualityFloor, Recommendation};
use rightfit_types::{CandidateSummary, Estimate, ExampleRecord, Percentiles, RunInfo, RunStatus};
use serde_json::json;

use super::*;

fn est(mean: f64) -> Estimate {
    Estimate {
        mean,
        low: mean - 0.05,
        high: mean + 0.05,
        n: 20,
        confidence: 0.95,
    }
}

fn summary(
    name: &str,
    quality: Option<f64>,
    cost: Option<f64>,
    p95: Option<f64>,
) -> CandidateSummary {
    CandidateSummary {
        candidate: name.to_owned(),
        model: "m".to_owned(),
        strategy: "zero-shot".to_owned(),
        examples: 20,
        scored: 20,
        failures: 0,
        unparseable: 0,
        cached: 0,
        quality: quality.map(est),
        latency_ms: p95.map(|p| Percentiles {
            p50: p / 2.0,
            p95: p,
            p99: p * 1.2,
        }),
        ttft_ms: None,
        output_tokens_per_s: None,
        tokens_in_mean: 100.0,
        tokens_out_mean: 3.0,
        tokens_in_total: 2000,
        tokens_out_total: 60,
        cost_per_request_usd: cost.map(|c| c / 1000.0),
        cost_per_1k_usd: cost,
        cost_total_usd: 0.0,
        peak_memory_bytes: None,
        metrics: Default::default(),
    }
}

fn report(candidates: Vec<CandidateSummary>) -> RunReport {
    RunReport {
        run: RunInfo {
            id: "run-1".into(),
            component: "intent".into(),
            started_at: "2026-11-30T04:00:00Z".into(),
            finished_at: Some("2026-11-30T04:02:00Z".into()),
            status: RunStatus::Finished,
            config_hash: "h".into(),
            dataset: "data/intent.csv".into(),
            rows_used: 3,
            rows_skipped: 0,
            limit: None,
            seed: 7,
            meta: serde_json::Value::Null,
        },
        primary_metric: "accuracy".into(),
        candidates,
        corpus: Default::default(),
        comparisons: vec![],
    }
}

fn record(candidate: &str, id: &str, position: u64, score: f64, output: &str) -> ExampleRecord {
    let mut e = ExampleRecord::new("run-1", candidate, id, position, json!("label"));
    e.input = json!({"messages": [{"role": "user", "content": format!("question {id}")}]});
    e.output = Some(output.to_owned());
    e.score = Some(score);
    e.latency_ms = 100.0 + position as f64 * 10.0;
    e
}

fn recommendation(chosen: &str, pareto_cost: &[&str]) -> Recommendation {
    Recommendation {
        component: "intent".into(),
        metric: "accuracy".into(),
        objective: Objective::Cost,
        rule: "the cheapest candidate that meets every constraint".into(),
        constraints: Constraints {
            quality_floor: Some(QualityFloor::Absolute(0.8)),
            ..Constraints::default()
        },
        chosen: Some(chosen.to_owned()),
        reason: format!("{chosen} is the cheapest above 80.0%"),
        ranked: vec![],
        rejected: vec![],
        warnings: vec!["not separated".into()],
        pareto_cost: pareto_cost.iter().map(|s| (*s).to_owned()).collect(),
        pareto_latency: vec![],
        aspects: vec![Aspects {
            candidate: chosen.to_owned(),
            resource_use: "300 MiB".into(),
            quality: "90%".into(),
            specialisation: "few-shot".into(),
            latency: "100 ms".into(),
            cost: "$0".into(),
            runs_on: "anywhere".into(),
        }],
        devices: vec![],
        break_even: vec![],
    }
}

/// How plotters writes a text element's content.
fn label(text: &str) -> String {
    format!(">\n{text}\n</text>")
}

/// The `<figure>` whose `data-chart` is `key`, whole.
fn figure<'a>(page: &'a str, key: &str) -> &'a str {
    let start = page
        .find(&format!("data-chart=\"{key}\""))
        .unwrap_or_else(|| panic!("no figure {key}"));
    let end = start + page[start..].find("</figure>").expect("figure closed");
    &page[start..end]
}

#[test]
fn user_text_is_escaped_everywhere() {
    let evil = "<script>alert(1)</script>";
    let r = report(vec![
        summary(evil, Some(0.9), Some(1.0), Some(300.0)),
        summary("b&b 'q' \"x\"", Some(0.5), Some(0.0), Some(100.0)),
    ]);
    let mut records = vec![
        record(evil, "ex\"1", 0, 1.0, "</script><script>alert(2)</script>"),
        record("b&b 'q' \"x\"", "ex\"1", 0, 0.0, "<!-- <b>bold</b>"),
    ];
    records[1].error = Some("<img src=x onerror=alert(3)>".into());
    let page = html(
        "t</title><script>alert(4)</script>",
        "now <b>",
        &[HtmlSection {
            report: r,
            lift: Default::default(),
            recommendation: Some(recommendation(evil, &[evil])),
            records,
        }],
    );
    assert_eq!(
        page.matches("<script").count(),
        1,
        "only the page's own script"
    );
    for raw in [
        "<script>alert(1)",
        "</script><script>alert(2)",
        "<img src=x",
        "<!-- <b>",
        "now <b>",
        "</title><script>",
    ] {
        assert!(!page.contains(raw), "{raw} appears unescaped");
    }
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(page.contains("&lt;/script&gt;&lt;script&gt;alert(2)&lt;/script&gt;"));
    assert!(page.contains("&lt;img src=x onerror=alert(3)&gt;"));
    assert!(page.contains("data-id=\"ex&quot;1\""));
    assert!(page.contains("b&amp;b &#39;q&#39; &quot;x&quot;"));
    // Chart labels go through plotters' own escaping.
    assert!(figure(&page, "quality-cost").contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
}

#[test]
fn frontier_points_are_highlighted_and_listed_cheapest_first() {
    // cheap: 0.6 at $0; mid: 0.8 at $1; dominated: 0.7 at $2; best: 0.9 at $5.
    let r = report(vec![
        summary("mid", Some(0.8), Some(1.0), Some(200.0)),
        summary("dominated", Some(0.7), Some(2.0), Some(900.0)),
        summary("best", Some(0.9), Some(5.0), Some(800.0)),
        summary("cheap", Some(0.6), Some(0.0), Some(100.0)),
    ]);
    let page = html(
        "t",
        "g",
        &[HtmlSection {
            report: r,
            records: vec![],
            lift: Default::default(),
            recommendation: Some(recommendation("mid", &["cheap", "mid", "best"])),
        }],
    );
    let chart = figure(&page, "quality-cost");
    let orange = format!(
        "fill=\"#{:02X}{:02X}{:02X}\"",
        FRONTIER_RGB.0, FRONTIER_RGB.1, FRONTIER_RGB.2
    );
    let frontier_points = chart
        .split("<circle")
        .skip(1)
        .filter(|c| {
            c.split("/>")
                .next()
                .is_some_and(|attrs| attrs.contains(&orange))
        })
        .count();
    assert_eq!(frontier_points, 3, "{chart}");
    assert!(
        chart.contains("Pareto frontier: cheap → mid → best"),
        "{chart}"
    );
    assert!(
        !chart.contains("frontier differs"),
        "same frontier as the recommendation"
    );
    // One ring for the chosen candidate, and its label says so.
    assert!(chart.contains("mid (chosen)"));
    // Latency frontier: cheap (100 ms, 0.6), mid (200, 0.8), best (800, 0.9); dominated is not.
    let latency = figure(&page, "quality-latency");
    assert!(
        latency.contains("Pareto frontier: cheap → mid → best"),
        "{latency}"
    );
    // The recommendation gave no latency frontier: nothing to compare.
    assert!(!latency.contains("frontier differs"));
}

const FRONTIER_RGB: (u8, u8, u8) = (0xD5, 0x5E, 0x00);

#[test]
fn a_differing_recommended_frontier_is_noted() {
    let r = report(vec![
        summary("a", Some(0.8), Some(1.0), Some(200.0)),
        summary("b", Some(0.9), Some(2.0), Some(300.0)),
    ]);
    let page = html(
        "t",
        "g",
        &[HtmlSection {
            report: r,
            records: vec![],
            lift: Default::default(),
            recommendation: Some(recommendation("a", &["a"])),
        }],
    );
    assert!(figure(&page, "quality-cost").contains("frontier differs"));
}

#[test]
fn candidates_without_cost_or_quality_are_listed_not_dropped() {
    let r = report(vec![
        summary("priced", Some(0.8), Some(0.5), Some(200.0)),
        summary("unpriced", Some(0.9), None, Some(300.0)),
        summary("unscored", None, Some(0.1), None),
    ]);
    let page = html(
        "t",
        "g",
        &[HtmlSection {
            report: r,
            records: vec![],
            lift: Default::default(),
            recommendation: None,
        }],
    );
    let cost = figure(&page, "quality-cost");
    assert!(
        cost.contains(
            "Not plotted: no cost (unknown price): unpriced; no quality score: unscored."
        ),
        "{cost}"
    );
    assert!(cost.contains(&label("priced")), "{cost}");
    assert!(!cost.contains(&label("unpriced")));
    let latency = figure(&page, "quality-latency");
    assert!(latency.contains("no quality score: unscored"), "{latency}");
}

#[test]
fn free_local_models_get_a_linear_axis_from_zero_and_wide_spreads_a_log_axis() {
    let free = report(vec![
        summary("local-a", Some(0.6), Some(0.0), Some(100.0)),
        summary("local-b", Some(0.7), Some(0.0), Some(150.0)),
    ]);
    let page = html(
        "t",
        "g",
        &[HtmlSection {
            report: free,
            records: vec![],
            lift: Default::default(),
            recommendation: None,
        }],
    );
    let cost = figure(&page, "quality-cost");
    assert!(
        cost.contains("<svg")
            && cost.contains(&label("local-a"))
            && cost.contains(&label("local-b"))
    );
    assert!(cost.contains(&label("$0")), "the axis starts at $0");
    assert!(!cost.contains("logarithmic"));

    let wide = report(vec![
        summary("tiny", Some(0.6), Some(0.01), Some(50.0)),
        summary("huge", Some(0.9), Some(30.0), Some(20_000.0)),
    ]);
    let page = html(
        "t",
        "g",
        &[HtmlSection {
            report: wide,
            records: vec![],
            lift: Default::default(),
            recommendation: None,
        }],
    );
    assert!(figure(&page, "quality-cost").contains("logarithmic"));
    assert!(figure(&page, "quality-latency").contains("logarithmic"));
}

#[test]
fn empty_sections_say_so_without_panicking() {
    let page = html("nothing", "g", &[]);
    assert!(page.contains("No runs to report."));

    let empty = HtmlSection {
        report: report(vec![]),
        records: vec![],
        lift: Default::default(),
        recommendation: None,
    };
    let page = html("t", "g", &[empty]);
    assert!(page.contains("No candidate summaries in this run."));
    assert!(page.contains("No recommendation was made"));
    assert!(page.contains("no per-example table"));
    for key in ["quality-cost", "quality-latency", "latency", "ttft"] {
        assert!(figure(&page, key).contains("class=\"note empty\""), "{key}");
    }

    // A candidate with no quality, no latency and no cost; records that all failed.
    let mut failed = ExampleRecord::new("run-1", "broken", "1", 0, json!("x"));
    failed.error = Some("connection refused".into());
    let page = html(
        "t",
        "g",
        &[HtmlSection {
            report: report(vec![summary("broken", None, None, None)]),
            records: vec![failed],
            lift: Default::default(),
            recommendation: Some(Recommendation {
                chosen: None,
                ..recommendation("x", &[])
            }),
        }],
    );
    assert!(page.contains("No candidate meets every constraint."));
    assert!(figure(&page, "latency").contains("No candidate has a value to plot."));
    assert!(figure(&page, "latency").contains("Not plotted: no value recorded: broken."));
    assert!(page.contains("data-s=\"f\""));
}

#[test]
fn a_single_point_is_drawn_on_a_padded_axis() {
    let page = html(
        "t",
        "g",
        &[HtmlSection {
            report: report(vec![summary("only", Some(1.0), Some(0.0), Some(0.0))]),
            records: vec![record("only", "1", 0, 1.0, "a")],
            lift: Default::default(),
            recommendation: None,
        }],
    );
    for key in ["quality-cost", "quality-latency", "latency"] {
        let f = figure(&page, key);
        assert!(f.contains("<svg") && f.contains("only"), "{key}: {f}");
        assert!(!f.contains("NaN") && !f.contains("inf"), "{key}: {f}");
    }
}

#[test]
fn the_same_input_gives_the_same_page() {
    let section = || HtmlSection {
        report: report(vec![
            summary("a", Some(0.8), Some(1.0), Some(200.0)),
            summary("b", Some(0.6), Some(0.0), Some(90.0)),
        ]),
        records: (0..30)
            .flat_map(|i| {
                [
                    record("a", &format!("e{i}"), i, (i % 2) as f64, "x"),
                    record("b", &format!("e{i}"), i, (i % 3 == 0) as u8 as f64, "y"),
                ]
            })
            .collect(),
        lift: Default::default(),
        recommendation: Some(recommendation("a", &["b", "a"])),
    };
    assert_eq!(html("t", "g", &[section()]), html("t", "g", &[section()]));
}

#[test]
fn nothing_outside_the_page_is_referenced() {
    let page = html(
        "t",
        "g",
        &[HtmlSection {
            report: report(vec![
                summary("a", Some(0.8), Some(1.0), Some(200.0)),
                summary("b", Some(0.6), Some(0.0), Some(90.0)),
            ]),
            records: vec![record("a", "1", 0, 1.0, "x"), record("b", "1", 0, 0.0, "y")],
            lift: Default::default(),
            recommendation: Some(recommendation("a", &["b", "a"])),
        }],
    );
    // The only URLs are SVG namespace names, which are identifiers, not fetched.
    let without_ns = page.replace("xmlns=\"http://www.w3.org/2000/svg\"", "");
    assert!(
        !without_ns.contains("http:") && !without_ns.contains("https:"),
        "{without_ns}"
    );
    assert!(!page.contains(" src="), "no src attributes at all");
    assert!(!page.contains("url("), "no CSS url()");
    assert!(!page.contains("@import"));
    for href in page.split("href=\"").skip(1) {
        assert!(
            href.starts_with('#'),
            "only in-page links: {}",
            &href[..20.min(href.len())]
        );
    }
    assert!(page.matches("<svg").count() >= 3);
}

#[test]
fn long_texts_are_capped_with_a_note() {
    let long = "x".repeat(examples::MAX_TEXT + 123);
    let page = html(
        "t",
        "g",
        &[HtmlSection {
            report: report(vec![summary("a", Some(1.0), Some(0.0), Some(1.0))]),
            records: vec![record("a", "1", 0, 1.0, &long)],
            lift: Default::default(),
            recommendation: None,
        }],
    );
    assert!(page.contains("… (123 more characters not shown)"));
    assert!(!page.contains(&long));
}

#[test]
fn the_summary_and_aspects_mark_the_chosen_candidate() {
    let page = html(
        "t",
        "g",
        &[HtmlSection {
            report: report(vec![
                summary("a", Some(0.8), Some(1.0), Some(200.0)),
                summary("b", Some(0.6), Some(0.0), Some(90.0)),
            ]),
            records: vec![],
            lift: Default::default(),
            recommendation: Some(recommendation("b", &["b", "a"])),
        }],
    );
    assert!(page.contains("Recommended: <strong class=\"candidate\">b</strong>"));
    assert!(
        page.contains(
            "<tr class=\"chosen\"><th scope=\"row\">b <span class=\"badge\">chosen</span>"
        )
    );
    assert!(page.contains("<table class=\"aspects\">"));
    assert!(page.contains("Constraints: quality ≥ 80.0%."));
    assert!(page.contains("<li>not separated</li>"));
}

#[test]
fn the_lift_table_shows_students_beside_the_baseline_with_what_training_took() {
    let mut big = summary("big", Some(0.8), Some(10.0), Some(2000.0));
    big.model = "large".into();
    let mut clf = summary("intent.clf", Some(0.76), Some(1.0), Some(100.0));
    clf.model = "minilm".into();
    clf.strategy = "distilled".into();
    let mut small = summary("small", Some(0.1), Some(0.5), Some(400.0));
    small.model = "small".into();
    let candidates = vec![small, clf, big];
    let page = |students| {
        html(
            "t",
            "now",
            &[HtmlSection {
                report: report(candidates.clone()),
                records: vec![],
                lift: HtmlLift {
                    baseline: Some("big".into()),
                    students,
                },
                recommendation: None,
            }],
        )
    };
    let with = page(vec![(
        "intent.clf".to_owned(),
        crate::students::tests::manifest(),
    )]);
    assert!(with.contains("Lift against <span class=\"name\">big</span>"));
    let lift = &with[with.find("<table class=\"lift\">").expect("lift table")..];
    let clf_row = &lift[lift.find("<th scope=\"row\">intent.clf").expect("clf row")..];
    let clf_row = &clf_row[..clf_row.find("</tr>").expect("row ends")];
    assert!(clf_row.contains("<span class=\"badge student\">student</span>"));
    assert!(clf_row.contains("<td class=\"num\">95%</td>"), "{clf_row}");
    assert!(clf_row.contains("style=\"width:114px\""), "{clf_row}");
    assert!(lift.contains("<tr class=\"baseline\"><th scope=\"row\">big (baseline)"));
    let students = &with[with.find("Trained students").expect("students table")..];
    for cell in [
        "<td class=\"num\">95.0%</td>",
        "<td>94 rows</td>",
        "<td>dataset train.csv</td>",
        "<td class=\"num\">2 s</td>",
        "<td>classifier on minilm</td>",
        "<td>acc 91.7% (epoch 4 of 12)</td>",
    ] {
        assert!(students.contains(cell), "{cell} in {students}");
    }

    let without = page(vec![]);
    assert!(without.contains("Lift against"));
    assert!(!without.contains("Trained students"));
    assert!(!without.contains("badge student"));
}

#[test]
fn one_candidate_has_no_lift_table() {
    let page = html(
        "t",
        "now",
        &[HtmlSection {
            report: report(vec![summary("a", Some(0.5), None, None)]),
            records: vec![],
            lift: Default::default(),
            recommendation: None,
        }],
    );
    assert!(!page.contains("Lift against"));
}
