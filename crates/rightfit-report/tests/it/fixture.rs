//! A realistic run: four candidates (a priced hosted model, a hosted model with no known price,
//! two free local models) on 50 intent-classification examples, with right, wrong, failed and
//! unparseable answers, and a hand-made recommendation. Deterministic: outcomes come from a
//! fixed hash of the example and candidate.

use rightfit_decide::pareto::frontier;
use rightfit_decide::{
    Aspects, ConstraintKind, Constraints, Objective, QualityFloor, Ranked, Recommendation,
    Rejection, Violation,
};
use rightfit_report::{HtmlSection, RunReport};
use rightfit_types::{CandidateSummary, Estimate, ExampleRecord, Percentiles, RunInfo, RunStatus};
use serde_json::json;

pub const EXAMPLES: usize = 50;
pub const HOSTED: &str = "gpt-4o-mini/zero-shot";
pub const UNPRICED: &str = "claude-haiku/zero-shot";
pub const CHOSEN: &str = "qwen2.5-1.5b/few-shot-8";
pub const SMALL: &str = "smollm2-135m/few-shot-8";
pub const CANDIDATES: [&str; 4] = [HOSTED, UNPRICED, CHOSEN, SMALL];
const LABELS: [&str; 5] = [
    "card_lost",
    "refund",
    "top_up",
    "exchange_rate",
    "pin_blocked",
];
const RUN: &str = "20261130-040000-intent-ab12";

/// A number in 0..100 fixed by the example and the candidate.
fn roll(i: usize, c: usize) -> usize {
    (i * 7919 + c * 104_729 + (i * c) % 13) % 100
}

fn question(i: usize) -> String {
    match i {
        13 => "Why was I charged <b>twice</b> & \"refunded\" only once? </script><script>\
               console.error('injected input')</script>"
            .to_owned(),
        _ => format!(
            "Customer message #{i}: something about {}, please help.",
            LABELS[i % 5].replace('_', " ")
        ),
    }
}

fn record(c: usize, i: usize) -> ExampleRecord {
    let name = CANDIDATES[c];
    let reference = LABELS[i % 5];
    let mut e = ExampleRecord::new(RUN, name, format!("ex-{i:03}"), i as u64, json!(reference));
    let mut messages = vec![json!({"role": "system", "content": "Answer with one intent label."})];
    if name.contains("few-shot") {
        messages.push(json!({"role": "user", "content": "Where is my card?"}));
        messages.push(json!({"role": "assistant", "content": "card_lost"}));
    }
    messages.push(json!({"role": "user", "content": question(i)}));
    e.input = json!({ "messages": messages });
    let h = roll(i, c);
    let (right_below, unparseable_below, fails) = match c {
        0 => (90, 90, false),
        1 => (88, 88, i % 17 == 5),
        2 => (78, 82, false),
        _ => (45, 60, i % 23 == 3),
    };
    e.latency_ms = match c {
        0 => 400.0 + (h * 11) as f64,
        1 => 500.0 + (h * 16) as f64,
        2 => 150.0 + (h * 2) as f64 + if i.is_multiple_of(10) { 600.0 } else { 0.0 },
        _ => 30.0 + (h / 2) as f64,
    };
    e.ttft_ms = match c {
        0 => Some(200.0 + (h * 2) as f64),
        1 => Some(250.0 + (h * 3) as f64),
        2 => Some(40.0 + (h / 2) as f64),
        _ => None,
    };
    e.tokens_in = 60;
    e.tokens_out = 3;
    e.calls = 1;
    e.cost_usd = match c {
        0 => Some(0.000_052_5),
        1 => None,
        _ => Some(0.0),
    };
    if fails {
        e.error = Some(format!(
            "provider error: 429 Too Many Requests (rate limited) on example {i}; retry after 20 s"
        ));
        e.latency_ms = 0.0;
        return e;
    }
    if h < right_below {
        e.output = Some(reference.to_owned());
        e.parsed = Some(json!(reference));
        e.score = Some(1.0);
    } else if h < unparseable_below {
        e.output = Some(if i == 7 {
            "</script><script>console.error('injected output')</script>\
             <img src=x onerror=\"console.error('injected img')\">"
                .to_owned()
        } else {
            format!(
                "I think the customer wants {}",
                LABELS[(i + 2) % 5].replace('_', " ")
            )
        });
        e.unparseable = true;
        e.score = Some(0.0);
    } else {
        let wrong = LABELS[(i + 1 + c) % 5];
        e.output = Some(wrong.to_owned());
        e.parsed = Some(json!(wrong));
        e.score = Some(0.0);
    }
    e.scores.insert("accuracy".into(), e.score.unwrap_or(0.0));
    e
}

fn percentiles(mut v: Vec<f64>) -> Option<Percentiles> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let q = |p: f64| {
        let pos = (v.len() - 1) as f64 * p;
        let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
        v[lo] + (v[hi] - v[lo]) * (pos - lo as f64)
    };
    Some(Percentiles {
        p50: q(0.5),
        p95: q(0.95),
        p99: q(0.99),
    })
}

fn summary(name: &str, records: &[ExampleRecord]) -> CandidateSummary {
    let mine: Vec<&ExampleRecord> = records.iter().filter(|e| e.candidate == name).collect();
    let ok: Vec<&ExampleRecord> = mine.iter().copied().filter(|e| e.error.is_none()).collect();
    let n = ok.len() as f64;
    let mean = ok.iter().filter_map(|e| e.score).sum::<f64>() / n;
    let half = 1.96 * (mean * (1.0 - mean) / n).sqrt();
    let quality = Estimate {
        mean,
        low: (mean - half).max(0.0),
        high: (mean + half).min(1.0),
        n: ok.len() as u64,
        confidence: 0.95,
    };
    let costs: Vec<f64> = ok.iter().filter_map(|e| e.cost_usd).collect();
    let cost = (!costs.is_empty()).then(|| costs.iter().sum::<f64>() / costs.len() as f64);
    let local = name.contains("few-shot");
    CandidateSummary {
        candidate: name.to_owned(),
        model: name.split('/').next().unwrap_or_default().to_owned(),
        strategy: name.split('/').nth(1).unwrap_or_default().to_owned(),
        examples: mine.len() as u64,
        scored: ok.len() as u64,
        failures: (mine.len() - ok.len()) as u64,
        unparseable: ok.iter().filter(|e| e.unparseable).count() as u64,
        cached: 0,
        quality: Some(quality.clone()),
        latency_ms: percentiles(ok.iter().map(|e| e.latency_ms).collect()),
        ttft_ms: percentiles(ok.iter().filter_map(|e| e.ttft_ms).collect()),
        output_tokens_per_s: Some(40.0),
        tokens_in_mean: 60.0,
        tokens_out_mean: 3.0,
        tokens_in_total: 60 * mine.len() as u64,
        tokens_out_total: 3 * mine.len() as u64,
        cost_per_request_usd: cost,
        cost_per_1k_usd: cost.map(|c| c * 1000.0),
        cost_total_usd: costs.iter().sum(),
        peak_memory_bytes: local.then_some(if name == SMALL { 310 << 20 } else { 1900 << 20 }),
        metrics: [("accuracy".to_owned(), quality)].into_iter().collect(),
    }
}

fn recommendation(report: &RunReport) -> Recommendation {
    let s = |name: &str| {
        report
            .candidates
            .iter()
            .find(|c| c.candidate == name)
            .unwrap()
    };
    let ranked = |name: &str| Ranked {
        candidate: name.to_owned(),
        quality: s(name).quality.clone(),
        cost_per_1k_usd: s(name).cost_per_1k_usd,
        p95_latency_ms: s(name).latency_ms.as_ref().map(|p| p.p95),
        p95_ttft_ms: s(name).ttft_ms.as_ref().map(|p| p.p95),
        memory_bytes: s(name).peak_memory_bytes,
        estimated: false,
    };
    let on = |x: &dyn Fn(&CandidateSummary) -> Option<f64>| {
        let named: Vec<(&str, (f64, f64))> = report
            .candidates
            .iter()
            .filter_map(|c| Some((c.candidate.as_str(), (x(c)?, c.quality.as_ref()?.mean))))
            .collect();
        let points: Vec<(f64, f64)> = named.iter().map(|n| n.1).collect();
        frontier(&points)
            .into_iter()
            .map(|i| named[i].0.to_owned())
            .collect()
    };
    let aspects = |name: &str, resource: &str, runs_on: &str| Aspects {
        candidate: name.to_owned(),
        resource_use: resource.to_owned(),
        quality: format!("{:.1}%", s(name).quality.as_ref().unwrap().mean * 100.0),
        specialisation: if name.contains("few-shot") {
            "small model, 8 examples in the prompt".to_owned()
        } else {
            "general model".to_owned()
        },
        latency: format!("p95 {:.0} ms", s(name).latency_ms.as_ref().unwrap().p95),
        cost: s(name)
            .cost_per_1k_usd
            .map_or("unknown price".to_owned(), |c| format!("${c:.4} per 1k")),
        runs_on: runs_on.to_owned(),
    };
    Recommendation {
        component: "intent".into(),
        metric: "accuracy".into(),
        objective: Objective::Cost,
        rule: "the cheapest candidate that meets every constraint".into(),
        constraints: Constraints {
            quality_floor: Some(QualityFloor::Absolute(0.7)),
            max_p95_latency_ms: Some(1500.0),
            ..Constraints::default()
        },
        chosen: Some(CHOSEN.to_owned()),
        reason: format!(
            "{CHOSEN} is free and the cheapest candidate at ≥ 70.0% accuracy with p95 ≤ 1,500 ms"
        ),
        ranked: vec![ranked(CHOSEN), ranked(HOSTED)],
        rejected: vec![
            Rejection {
                candidate: UNPRICED.to_owned(),
                violations: vec![Violation {
                    kind: ConstraintKind::Latency,
                    message: format!(
                        "p95 {:.0} ms > 1,500 ms",
                        s(UNPRICED).latency_ms.as_ref().unwrap().p95
                    ),
                }],
            },
            Rejection {
                candidate: SMALL.to_owned(),
                violations: vec![Violation {
                    kind: ConstraintKind::Quality,
                    message: format!(
                        "accuracy {:.1}% < 70.0%",
                        s(SMALL).quality.as_ref().unwrap().mean * 100.0
                    ),
                }],
            },
        ],
        warnings: vec![format!(
            "{CHOSEN} and {HOSTED} are not statistically separated on accuracy at 95%"
        )],
        pareto_cost: on(&|c| c.cost_per_1k_usd),
        pareto_latency: on(&|c| c.latency_ms.as_ref().map(|p| p.p95)),
        aspects: vec![
            aspects(HOSTED, "provider's servers", "cloud only"),
            aspects(UNPRICED, "provider's servers", "cloud only"),
            aspects(
                CHOSEN,
                "1.9 GiB RAM, 1.1 GB model",
                "laptop, Raspberry Pi 5 8 GB",
            ),
            aspects(SMALL, "310 MiB RAM, 98 MB model", "anything with 1 GB"),
        ],
        devices: vec![],
        break_even: vec![],
    }
}

/// The section and, separately, its records (for computing what the filters must show).
pub fn section() -> (HtmlSection, Vec<ExampleRecord>) {
    let records: Vec<ExampleRecord> = (0..EXAMPLES)
        .flat_map(|i| (0..CANDIDATES.len()).map(move |c| record(c, i)))
        .collect();
    let report = RunReport {
        run: RunInfo {
            id: RUN.into(),
            component: "intent".into(),
            started_at: "2026-11-30T04:00:00Z".into(),
            finished_at: Some("2026-11-30T04:02:10Z".into()),
            status: RunStatus::Finished,
            config_hash: "c0ffee".into(),
            dataset: "banking77/test.csv".into(),
            rows_used: EXAMPLES as u64,
            rows_skipped: 1,
            limit: Some(EXAMPLES as u64),
            seed: 42,
            meta: serde_json::Value::Null,
        },
        primary_metric: "accuracy".into(),
        candidates: CANDIDATES.iter().map(|c| summary(c, &records)).collect(),
        corpus: Default::default(),
        comparisons: vec![],
    };
    let recommendation = recommendation(&report);
    (
        HtmlSection {
            report,
            records: records.clone(),
            lift: Default::default(),
            recommendation: Some(recommendation),
        },
        records,
    )
}
