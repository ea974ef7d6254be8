use rightfit_types::McNemar;

use super::*;
use crate::stats::mcnemar_counts;

fn record(candidate: &str, id: &str, score: Option<f64>) -> ExampleRecord {
    ExampleRecord {
        run_id: "run".into(),
        candidate: candidate.into(),
        example_id: id.into(),
        position: 0,
        input: serde_json::Value::Null,
        output: Some("answer".into()),
        reference: serde_json::Value::Null,
        score,
        scores: BTreeMap::new(),
        parsed: None,
        unparseable: false,
        latency_ms: 100.0,
        ttft_ms: None,
        tokens_in: 0,
        tokens_out: 0,
        cost_usd: None,
        calls: 1,
        cached: false,
        error: None,
        confidence: None,
        steps: Vec::new(),
    }
}

struct Fields {
    scores: &'static [(&'static str, f64)],
    latency_ms: f64,
    ttft_ms: Option<f64>,
    tokens: (u64, u64),
    cost_usd: Option<f64>,
}

fn full(id: &str, score: Option<f64>, f: Fields) -> ExampleRecord {
    let mut r = record("small", id, score);
    r.scores = f.scores.iter().map(|(k, v)| (k.to_string(), *v)).collect();
    r.latency_ms = f.latency_ms;
    r.ttft_ms = f.ttft_ms;
    (r.tokens_in, r.tokens_out) = f.tokens;
    r.cost_usd = f.cost_usd;
    r
}

/// Six examples: four ordinary, one unparseable, one failed, one cached (see each line).
fn handcrafted() -> Vec<ExampleRecord> {
    let e1 = full(
        "e1",
        Some(1.0),
        Fields {
            scores: &[("acc", 1.0), ("f1", 0.8)],
            latency_ms: 100.0,
            ttft_ms: Some(20.0),
            tokens: (10, 5),
            cost_usd: Some(0.001),
        },
    );
    let e2 = full(
        "e2",
        Some(0.5),
        Fields {
            scores: &[("acc", 0.0), ("f1", 0.5)],
            latency_ms: 200.0,
            ttft_ms: Some(30.0),
            tokens: (20, 15),
            cost_usd: Some(0.002),
        },
    );
    // Unparseable: scores 0 everywhere although the scorer left no score.
    let mut e3 = full(
        "e3",
        None,
        Fields {
            scores: &[],
            latency_ms: 300.0,
            ttft_ms: None,
            tokens: (30, 10),
            cost_usd: Some(0.003),
        },
    );
    e3.unparseable = true;
    // Failed: its scores, latency and cost per request must not count; its tokens do.
    let mut e4 = full(
        "e4",
        None,
        Fields {
            scores: &[("acc", 1.0), ("judge", 0.9)],
            latency_ms: 5000.0,
            ttft_ms: Some(1.0),
            tokens: (10, 0),
            cost_usd: None,
        },
    );
    e4.error = Some("timeout after 5s".into());
    e4.output = None;
    // Cached: counts for quality and tokens, not for timing or cost per request.
    let mut e5 = full(
        "e5",
        Some(1.0),
        Fields {
            scores: &[("acc", 1.0), ("f1", 1.0)],
            latency_ms: 1.0,
            ttft_ms: Some(0.5),
            tokens: (10, 5),
            cost_usd: Some(0.0),
        },
    );
    e5.cached = true;
    // No "acc": left out of that metric only.
    let e6 = full(
        "e6",
        Some(0.25),
        Fields {
            scores: &[("f1", 0.25)],
            latency_ms: 400.0,
            ttft_ms: Some(40.0),
            tokens: (30, 25),
            cost_usd: Some(0.002),
        },
    );
    vec![e1, e2, e3, e4, e5, e6]
}

fn close(actual: f64, expected: f64) {
    assert!(
        (actual - expected).abs() < 1e-12,
        "got {actual}, expected {expected}"
    );
}

fn opts() -> StatsOptions {
    StatsOptions {
        confidence: 0.9,
        resamples: 500,
        seed: 42,
    }
}

#[test]
fn summarize_handcrafted_records_field_by_field() {
    let records = handcrafted();
    let got = summarize(&records, "qwen-0.5b", "few-shot", Some(1 << 30), &opts()).unwrap();
    assert_eq!(got.candidate, "small");
    assert_eq!(got.model, "qwen-0.5b");
    assert_eq!(got.strategy, "few-shot");
    assert_eq!(
        (
            got.examples,
            got.scored,
            got.failures,
            got.unparseable,
            got.cached
        ),
        (6, 5, 1, 1, 1)
    );

    // Quality over e1 e2 e3 e5 e6 = [1, 0.5, 0, 1, 0.25], in record order.
    let quality = got.quality.clone().unwrap();
    close(quality.mean, 0.55);
    assert_eq!((quality.n, quality.confidence), (5, 0.9));
    assert!(quality.low < quality.mean && quality.mean < quality.high);
    assert_eq!(
        quality,
        bootstrap_mean(&[1.0, 0.5, 0.0, 1.0, 0.25], 0.9, 500, 42).unwrap()
    );

    // Metrics: "judge" appears only on the failed example, so not at all.
    assert_eq!(got.metrics.keys().collect::<Vec<_>>(), ["acc", "f1"]);
    let acc = &got.metrics["acc"];
    close(acc.mean, 0.5); // e1 1, e2 0, e3 0 (unparseable), e5 1; e6 has none
    assert_eq!(acc.n, 4);
    assert_eq!(
        *acc,
        bootstrap_mean(&[1.0, 0.0, 0.0, 1.0], 0.9, 500, 42).unwrap()
    );
    let f1 = &got.metrics["f1"];
    close(f1.mean, 0.51); // [0.8, 0.5, 0, 1, 0.25]
    assert_eq!(f1.n, 5);

    // Timing over e1 e2 e3 e6 (not failed, not cached). numpy: percentile([100, 200, 300,
    // 400], [50, 95, 99]) = [250, 385, 397]; percentile([20, 30, 40], ...) = [30, 39, 39.8].
    let latency = got.latency_ms.clone().unwrap();
    close(latency.p50, 250.0);
    close(latency.p95, 385.0);
    close(latency.p99, 397.0);
    let ttft = got.ttft_ms.clone().unwrap();
    close(ttft.p50, 30.0);
    close(ttft.p95, 39.0);
    close(ttft.p99, 39.8);
    // (5 + 15 + 10 + 25) tokens over (100 + 200 + 300 + 400) ms.
    close(got.output_tokens_per_s.unwrap(), 55.0);

    // Token means over the five successful examples; totals over all six.
    close(got.tokens_in_mean, 20.0);
    close(got.tokens_out_mean, 12.0);
    assert_eq!((got.tokens_in_total, got.tokens_out_total), (110, 60));

    // Cost per request over e1 e2 e3 e6; total over every known cost.
    close(got.cost_per_request_usd.unwrap(), 0.002);
    close(got.cost_per_1k_usd.unwrap(), 2.0);
    close(got.cost_total_usd, 0.008);
    assert_eq!(got.peak_memory_bytes, Some(1 << 30));
}

#[test]
fn summarize_is_reproducible() {
    let records = handcrafted();
    let first = summarize(&records, "m", "s", None, &opts()).unwrap();
    assert_eq!(first, summarize(&records, "m", "s", None, &opts()).unwrap());
    let other = StatsOptions { seed: 43, ..opts() };
    let second = summarize(&records, "m", "s", None, &other).unwrap();
    assert_ne!(first.quality, second.quality);
}

#[test]
fn all_cached_times_the_cached_answers() {
    let mut records = handcrafted();
    for r in &mut records {
        r.cached = true;
    }
    let got = summarize(&records, "m", "s", None, &opts()).unwrap();
    // e1 e2 e3 e5 e6 latencies: [100, 200, 300, 1, 400] -> median 200.
    close(got.latency_ms.unwrap().p50, 200.0);
    close(got.cost_per_request_usd.unwrap(), 0.008 / 5.0);
    assert_eq!(got.cached, 6);
}

#[test]
fn all_failed_has_counts_and_nothing_else() {
    let mut records = handcrafted();
    for r in &mut records {
        r.error = Some("connection refused".into());
    }
    let got = summarize(&records, "m", "s", None, &opts()).unwrap();
    assert_eq!(
        (got.examples, got.scored, got.failures, got.unparseable),
        (6, 0, 6, 0)
    );
    assert_eq!(
        (got.quality, got.latency_ms, got.ttft_ms),
        (None, None, None)
    );
    assert_eq!(
        (got.output_tokens_per_s, got.cost_per_request_usd),
        (None, None)
    );
    assert!(got.metrics.is_empty());
    assert_eq!((got.tokens_in_mean, got.tokens_out_mean), (0.0, 0.0));
    assert_eq!(got.tokens_in_total, 110);
    close(got.cost_total_usd, 0.008);
}

#[test]
fn summarize_refuses_bad_input() {
    assert_eq!(
        summarize(&[], "m", "s", None, &opts()),
        Err(StatsError::Empty { what: "records" })
    );
    let mixed = [record("a", "1", Some(1.0)), record("b", "2", Some(1.0))];
    assert!(matches!(
        summarize(&mixed, "m", "s", None, &opts()),
        Err(StatsError::MixedCandidates { .. })
    ));
    let mut nan = handcrafted();
    nan[1].scores.insert("f1".into(), f64::NAN);
    match summarize(&nan, "m", "s", None, &opts()) {
        Err(StatsError::NotFiniteScore {
            example_id, metric, ..
        }) => {
            assert_eq!((example_id.as_str(), metric.as_str()), ("e2", "f1"));
        }
        other => panic!("{other:?}"),
    }
    let bad = StatsOptions {
        confidence: 95.0,
        ..opts()
    };
    assert_eq!(
        summarize(&handcrafted(), "m", "s", None, &bad),
        Err(StatsError::Confidence(95.0))
    );
}

/// `a`: e1..e6 right except e3; `b`: e5 e4 e3 e2 e1 e6 e7, with e2 unparseable, e6 failed.
fn two_candidates() -> (Vec<ExampleRecord>, Vec<ExampleRecord>) {
    let a = [1.0, 1.0, 0.0, 1.0, 1.0, 1.0]
        .iter()
        .enumerate()
        .map(|(i, s)| record("a", &format!("e{}", i + 1), Some(*s)))
        .collect();
    let mut b: Vec<ExampleRecord> = [("e5", 1.0), ("e4", 0.0), ("e3", 1.0), ("e2", 1.0)]
        .iter()
        .map(|(id, s)| record("b", id, Some(*s)))
        .collect();
    b[3].unparseable = true;
    b.push(record("b", "e1", Some(1.0)));
    let mut failed = record("b", "e6", None);
    failed.error = Some("HTTP 500".into());
    b.push(failed);
    b.push(record("b", "e7", Some(1.0)));
    (a, b)
}

#[test]
fn compare_pairs_by_example_id() {
    let (a, b) = two_candidates();
    let got = compare(&a, &b, &opts()).unwrap();
    assert_eq!((got.a.as_str(), got.b.as_str(), got.n), ("a", "b", 5));
    // Pairs e1 (1, 1), e2 (1, 0 unparseable), e3 (0, 1), e4 (1, 0), e5 (1, 1).
    close(got.mean_a, 0.8);
    close(got.mean_b, 0.6);
    close(got.diff.mean, -0.2);
    let boot = paired_bootstrap(
        &[1.0, 1.0, 0.0, 1.0, 1.0],
        &[1.0, 0.0, 1.0, 0.0, 1.0],
        0.9,
        500,
        42,
    )
    .unwrap();
    assert_eq!(
        (got.diff.clone(), got.p_b_worse),
        (boot.diff, boot.p_b_worse)
    );
    assert!(got.p_b_worse > 0.5);
    // Discordant: e2 and e4 for a, e3 for b: 2 · P(X ≤ 1 | n = 3) = 1.
    assert_eq!(
        got.mcnemar,
        Some(McNemar {
            a_only: 2,
            b_only: 1,
            statistic: 1.0,
            p_value: 1.0,
            exact: true
        })
    );
    assert_eq!(got.mcnemar, Some(mcnemar_counts(2, 1)));

    // Record order does not matter.
    let (mut a2, mut b2) = (a.clone(), b.clone());
    a2.reverse();
    b2.rotate_left(3);
    assert_eq!(compare(&a2, &b2, &opts()).unwrap(), got);
}

#[test]
fn compare_skips_mcnemar_for_graded_scores() {
    let (mut a, b) = two_candidates();
    a[0].score = Some(0.5);
    let got = compare(&a, &b, &opts()).unwrap();
    assert_eq!(got.mcnemar, None);
    close(got.mean_a, 0.7);
}

#[test]
fn compare_refuses_bad_input() {
    let (a, mut b) = two_candidates();
    assert_eq!(
        compare(&a, &b[5..6], &opts()),
        Err(StatsError::Empty {
            what: "examples scored by both candidates"
        })
    );
    assert_eq!(
        compare(&a, &[], &opts()),
        Err(StatsError::Empty { what: "records" })
    );
    b.push(record("b", "e1", Some(0.0)));
    assert_eq!(
        compare(&a, &b, &opts()),
        Err(StatsError::DuplicateExample {
            candidate: "b".into(),
            example_id: "e1".into()
        })
    );
}
