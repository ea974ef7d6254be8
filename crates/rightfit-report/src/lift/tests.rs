use super::*;
use rightfit_types::Percentiles;

const TOL: f64 = 1e-12;

fn est(mean: f64) -> Estimate {
    Estimate {
        mean,
        low: mean - 0.05,
        high: mean + 0.05,
        n: 200,
        confidence: 0.95,
    }
}

fn summary(
    model: &str,
    strategy: &str,
    quality: Option<f64>,
    cost_per_1k: Option<f64>,
    p50: f64,
) -> CandidateSummary {
    let candidate = if strategy == CASCADE {
        "cascade-smollm2-qwen".to_owned()
    } else {
        format!("{model}/{strategy}")
    };
    CandidateSummary {
        candidate,
        model: model.to_owned(),
        strategy: strategy.to_owned(),
        examples: 200,
        scored: 200,
        failures: 0,
        unparseable: 0,
        cached: 0,
        quality: quality.map(est),
        latency_ms: Some(Percentiles {
            p50,
            p95: p50 * 2.0,
            p99: p50 * 3.0,
        }),
        ttft_ms: None,
        output_tokens_per_s: None,
        tokens_in_mean: 0.0,
        tokens_out_mean: 0.0,
        tokens_in_total: 0,
        tokens_out_total: 0,
        cost_per_request_usd: cost_per_1k.map(|c| c / 1000.0),
        cost_per_1k_usd: cost_per_1k,
        cost_total_usd: 0.0,
        peak_memory_bytes: None,
        metrics: Default::default(),
    }
}

/// In config order. SmolLM2 with self-consistency and Phi with few-shot both keep 90% of the
/// baseline; SmolLM2 is cheaper. The cascade beats every single candidate.
fn candidates() -> Vec<CandidateSummary> {
    vec![
        summary("qwen", "zero-shot", Some(0.80), Some(1.00), 400.0),
        summary("smollm2", "zero-shot", Some(0.40), Some(0.05), 100.0),
        summary("smollm2", "few-shot-8", Some(0.60), None, 150.0),
        summary("phi", "few-shot-4", Some(0.72), Some(0.20), 300.0),
        summary("qwen", "few-shot-8", Some(0.84), Some(2.00), 600.0),
        summary(
            "smollm2",
            "self-consistency-5",
            Some(0.72),
            Some(0.12),
            200.0,
        ),
        summary("smollm2", CASCADE, Some(0.86), Some(0.30), 250.0),
    ]
}

fn row<'a>(l: &'a Lift, name: &str) -> &'a LiftRow {
    l.rows
        .iter()
        .find(|r| r.candidate == name)
        .unwrap_or_else(|| panic!("no row {name}"))
}

fn approx(x: Option<f64>, want: f64) -> bool {
    x.is_some_and(|x| (x - want).abs() < TOL)
}

#[test]
fn every_ratio_against_the_named_baseline() {
    let l = lift(&candidates(), Some("qwen/zero-shot")).expect("lift");
    assert_eq!(l.baseline, "qwen/zero-shot");
    assert_eq!(l.baseline_quality, Some(est(0.80)));
    // (candidate, vs zero-shot, retained, cost ratio, latency ratio)
    type Want<'a> = (&'a str, Option<f64>, f64, Option<f64>, f64);
    let want: [Want; 7] = [
        ("qwen/zero-shot", None, 1.0, Some(1.0), 1.0),
        ("qwen/few-shot-8", Some(0.04), 1.05, Some(2.0), 1.5),
        ("smollm2/zero-shot", None, 0.5, Some(0.05), 0.25),
        ("smollm2/few-shot-8", Some(0.20), 0.75, None, 0.375),
        (
            "smollm2/self-consistency-5",
            Some(0.32),
            0.9,
            Some(0.12),
            0.5,
        ),
        ("cascade-smollm2-qwen", Some(0.46), 1.075, Some(0.3), 0.625),
        ("phi/few-shot-4", None, 0.9, Some(0.2), 0.75),
    ];
    for (name, vs, retained, cost, latency) in want {
        let r = row(&l, name);
        match vs {
            Some(v) => assert!(approx(r.vs_zero_shot, v), "{name}: {:?}", r.vs_zero_shot),
            None => assert_eq!(r.vs_zero_shot, None, "{name}"),
        }
        assert!(approx(r.retained, retained), "{name}: {:?}", r.retained);
        match cost {
            Some(c) => assert!(approx(r.cost_ratio, c), "{name}: {:?}", r.cost_ratio),
            None => assert_eq!(r.cost_ratio, None, "{name}"),
        }
        assert!(
            approx(r.latency_ratio, latency),
            "{name}: {:?}",
            r.latency_ratio
        );
        assert_eq!(r.is_baseline, name == "qwen/zero-shot", "{name}");
    }
}

#[test]
fn rows_grouped_by_model_baseline_model_last_zero_shot_first() {
    let l = lift(&candidates(), Some("qwen/zero-shot")).expect("lift");
    let order: Vec<&str> = l.rows.iter().map(|r| r.candidate.as_str()).collect();
    assert_eq!(
        order,
        [
            "smollm2/zero-shot",
            "cascade-smollm2-qwen",
            "smollm2/self-consistency-5",
            "smollm2/few-shot-8",
            "phi/few-shot-4",
            "qwen/zero-shot",
            "qwen/few-shot-8",
        ]
    );
}

#[test]
fn best_small_skips_the_baseline_model_and_cascades_and_breaks_ties_by_cost() {
    let l = lift(&candidates(), Some("qwen/zero-shot")).expect("lift");
    // qwen/few-shot-8 (105%) and the cascade (107.5%) keep more, but are not a smaller model.
    assert_eq!(l.best_small.as_deref(), Some("smollm2/self-consistency-5"));
    let mut pricier = candidates();
    pricier[5].cost_per_1k_usd = Some(0.25);
    let l = lift(&pricier, Some("qwen/zero-shot")).expect("lift");
    assert_eq!(l.best_small.as_deref(), Some("phi/few-shot-4"));
}

#[test]
fn baseline_falls_back_to_the_best_non_cascade() {
    for name in [None, Some("no-such-candidate")] {
        let l = lift(&candidates(), name).expect("lift");
        assert_eq!(l.baseline, "qwen/few-shot-8", "{name:?}");
        assert!(row(&l, "qwen/few-shot-8").is_baseline);
        assert!(approx(row(&l, "qwen/zero-shot").retained, 0.80 / 0.84));
    }
    // Equal best qualities: the first in config order.
    let mut tied = candidates();
    tied[0].quality = Some(est(0.84));
    assert_eq!(lift(&tied, None).expect("lift").baseline, "qwen/zero-shot");
}

#[test]
fn none_without_two_candidates_or_a_possible_baseline() {
    let all = candidates();
    assert_eq!(lift(&all[..1], Some("qwen/zero-shot")), None);
    assert_eq!(lift(&[], None), None);
    let cascades = [all[6].clone(), all[6].clone()];
    assert_eq!(lift(&cascades, None), None);
}

#[test]
fn unknown_or_zero_baseline_figures_give_no_ratio() {
    let mut c = candidates();
    c[0].cost_per_1k_usd = Some(0.0);
    c[0].latency_ms = None;
    let l = lift(&c, Some("qwen/zero-shot")).expect("lift");
    assert!(l.rows.iter().all(|r| r.cost_ratio.is_none()));
    assert!(l.rows.iter().all(|r| r.latency_ratio.is_none()));
    let text = lift_terminal(&l, "accuracy");
    assert!(
        text.contains("keeps 90% of qwen/zero-shot's quality (cost and latency unknown)"),
        "{text}"
    );
    c[0].quality = None;
    let l = lift(&c, Some("qwen/zero-shot")).expect("lift");
    assert!(l.rows.iter().all(|r| r.retained.is_none()));
    assert_eq!(l.best_small, None);
    assert!(lift_markdown(&l, "accuracy").contains("no candidate of a smaller model"));
}

#[test]
fn missing_cost_shows_a_dash() {
    let l = lift(&candidates(), Some("qwen/zero-shot")).expect("lift");
    let few = cells(row(&l, "smollm2/few-shot-8"));
    assert_eq!(few[4], "—");
    assert_eq!(few[3], "75%");
    assert_eq!(cells(row(&l, "smollm2/zero-shot"))[2], "—");
}

#[test]
fn serializes_for_json() {
    let l = lift(&candidates(), Some("qwen/zero-shot")).expect("lift");
    let v = serde_json::to_value(&l).expect("json");
    assert_eq!(v["baseline"], "qwen/zero-shot");
    assert_eq!(v["rows"][0]["candidate"], "smollm2/zero-shot");
    assert_eq!(v["rows"][3]["cost_ratio"], serde_json::Value::Null);
    assert_eq!(v["best_small"], "smollm2/self-consistency-5");
}

#[test]
fn lift_terminal_table() {
    let l = lift(&candidates(), Some("qwen/zero-shot")).expect("lift");
    insta::assert_snapshot!(lift_terminal(&l, "accuracy"));
}

#[test]
fn lift_markdown_table() {
    let l = lift(&candidates(), Some("qwen/zero-shot")).expect("lift");
    insta::assert_snapshot!(lift_markdown(&l, "accuracy"));
}

#[test]
fn a_constrained_zero_shot_is_compared_with_the_plain_one() {
    let mut constrained = summary("smollm2", "zero-shot", Some(0.3), None, 10.0);
    constrained.candidate = "smollm2/constrained".into();
    let list = vec![
        constrained,
        summary("smollm2", "zero-shot", Some(0.1), None, 10.0),
        summary("qwen", "zero-shot", Some(0.6), None, 100.0),
    ];
    let l = lift(&list, Some("qwen/zero-shot")).expect("a lift");
    let names: Vec<&str> = l.rows.iter().map(|r| r.candidate.as_str()).collect();
    assert_eq!(
        names,
        ["smollm2/zero-shot", "smollm2/constrained", "qwen/zero-shot"]
    );
    assert_eq!(l.rows[0].vs_zero_shot, None);
    assert!((l.rows[1].vs_zero_shot.expect("compared") - 0.2).abs() < TOL);
}
