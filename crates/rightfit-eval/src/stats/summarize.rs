//! One candidate's summary, and two candidates compared, from their example records.

use std::collections::{BTreeMap, BTreeSet};

use rightfit_types::{CandidateSummary, Estimate, ExampleRecord, PairedComparison};

use super::bootstrap::{bootstrap_mean, paired_bootstrap};
use super::mcnemar::mcnemar;
use super::percentile::percentiles;
use super::{StatsError, StatsOptions};

/// Summarizes one candidate's records (see [`CandidateSummary`] for what each figure is).
///
/// Failed examples (`error` set) are counted in `failures` and left out of quality, metrics,
/// timing and token means, but their tokens and cost count in the totals. A successful
/// unparseable example scores 0 on the primary score and on every metric. A successful example
/// with no primary score is left out of `quality` (and of `scored`). Latency, time to first
/// token, throughput and cost per request come from the successful examples that were not
/// cached, or from all successful examples when every one was cached; non-finite latencies are
/// skipped. Intervals use `opts` (every one with the same seed, so they are reproducible).
///
/// Errors: no records, records of more than one candidate, invalid `opts`, or a NaN or infinite
/// score in a successful record.
pub fn summarize(
    records: &[ExampleRecord],
    model: &str,
    strategy: &str,
    peak_memory_bytes: Option<u64>,
    opts: &StatsOptions,
) -> Result<CandidateSummary, StatsError> {
    opts.validate()?;
    let candidate = one_candidate(records)?;
    let successful: Vec<&ExampleRecord> = records.iter().filter(|r| r.error.is_none()).collect();

    let mut quality_values = Vec::with_capacity(successful.len());
    for record in &successful {
        if let Some(score) = primary_score(record) {
            quality_values.push(finite_score(record, "score", score)?);
        }
    }
    let quality = estimate(&quality_values, opts)?;

    let metric_names: BTreeSet<&str> = successful
        .iter()
        .flat_map(|r| r.scores.keys().map(String::as_str))
        .collect();
    let mut metrics = BTreeMap::new();
    for name in metric_names {
        let mut values = Vec::new();
        for record in &successful {
            let value = if record.unparseable {
                Some(0.0)
            } else {
                record.scores.get(name).copied()
            };
            if let Some(value) = value {
                values.push(finite_score(record, name, value)?);
            }
        }
        if let Some(est) = estimate(&values, opts)? {
            metrics.insert(name.to_string(), est);
        }
    }

    let timing = timing_pool(&successful);
    let latencies: Vec<f64> = timing
        .iter()
        .map(|r| r.latency_ms)
        .filter(|l| l.is_finite())
        .collect();
    let ttfts: Vec<f64> = timing
        .iter()
        .filter_map(|r| r.ttft_ms)
        .filter(|t| t.is_finite())
        .collect();
    let latency_s: f64 = latencies.iter().sum::<f64>() / 1000.0;
    let timed_tokens_out: u64 = timing
        .iter()
        .filter(|r| r.latency_ms.is_finite())
        .map(|r| r.tokens_out)
        .sum();
    let output_tokens_per_s = (latency_s > 0.0).then(|| timed_tokens_out as f64 / latency_s);
    let costs: Vec<f64> = timing.iter().filter_map(|r| r.cost_usd).collect();
    let cost_per_request_usd =
        (!costs.is_empty()).then(|| costs.iter().sum::<f64>() / costs.len() as f64);

    let mean_of = |field: fn(&ExampleRecord) -> u64| -> f64 {
        if successful.is_empty() {
            0.0
        } else {
            successful.iter().map(|r| field(r) as f64).sum::<f64>() / successful.len() as f64
        }
    };

    Ok(CandidateSummary {
        candidate: candidate.to_string(),
        model: model.to_string(),
        strategy: strategy.to_string(),
        examples: records.len() as u64,
        scored: quality_values.len() as u64,
        failures: (records.len() - successful.len()) as u64,
        unparseable: successful.iter().filter(|r| r.unparseable).count() as u64,
        cached: records.iter().filter(|r| r.cached).count() as u64,
        quality,
        latency_ms: percentiles(&latencies),
        ttft_ms: percentiles(&ttfts),
        output_tokens_per_s,
        tokens_in_mean: mean_of(|r| r.tokens_in),
        tokens_out_mean: mean_of(|r| r.tokens_out),
        tokens_in_total: records.iter().map(|r| r.tokens_in).sum(),
        tokens_out_total: records.iter().map(|r| r.tokens_out).sum(),
        cost_per_request_usd,
        cost_per_1k_usd: cost_per_request_usd.map(|c| c * 1000.0),
        cost_total_usd: records.iter().filter_map(|r| r.cost_usd).sum(),
        peak_memory_bytes,
        metrics,
    })
}

/// Compares candidate `b` with candidate `a` on the examples both scored.
///
/// Records are paired by `example_id`; a pair counts when both records are successful and have a
/// primary score (unparseable scores 0). Pairs are taken in `example_id` order, so the result
/// does not depend on record order. The difference `b − a` gets a paired-bootstrap interval
/// ([`paired_bootstrap`]); McNemar's test is added when every paired score is exactly 0 or 1.
///
/// Errors: either side empty or mixing candidates, an example twice on one side, no example
/// scored by both, invalid `opts`, or a NaN or infinite score.
pub fn compare(
    a: &[ExampleRecord],
    b: &[ExampleRecord],
    opts: &StatsOptions,
) -> Result<PairedComparison, StatsError> {
    opts.validate()?;
    let name_a = one_candidate(a)?;
    let name_b = one_candidate(b)?;
    let scores_a = scores_by_example(a)?;
    let scores_b = scores_by_example(b)?;
    let (mut paired_a, mut paired_b) = (Vec::new(), Vec::new());
    for (id, &score_a) in &scores_a {
        if let Some(&score_b) = scores_b.get(id) {
            paired_a.push(score_a);
            paired_b.push(score_b);
        }
    }
    if paired_a.is_empty() {
        return Err(StatsError::Empty {
            what: "examples scored by both candidates",
        });
    }
    let boot = paired_bootstrap(
        &paired_a,
        &paired_b,
        opts.confidence,
        opts.resamples,
        opts.seed,
    )?;
    let binary = |s: &f64| *s == 0.0 || *s == 1.0;
    let mcnemar = if paired_a.iter().all(binary) && paired_b.iter().all(binary) {
        let right = |scores: &[f64]| scores.iter().map(|s| *s == 1.0).collect::<Vec<_>>();
        Some(mcnemar(&right(&paired_a), &right(&paired_b))?)
    } else {
        None
    };
    Ok(PairedComparison {
        a: name_a.to_string(),
        b: name_b.to_string(),
        n: paired_a.len() as u64,
        mean_a: boot.mean_a,
        mean_b: boot.mean_b,
        diff: boot.diff,
        p_b_worse: boot.p_b_worse,
        mcnemar,
    })
}

/// The primary score a record counts with: `None` when failed or unscored, 0 when unparseable.
fn primary_score(record: &ExampleRecord) -> Option<f64> {
    if record.error.is_some() {
        None
    } else if record.unparseable {
        Some(0.0)
    } else {
        record.score
    }
}

fn finite_score(record: &ExampleRecord, metric: &str, value: f64) -> Result<f64, StatsError> {
    if value.is_finite() {
        Ok(value)
    } else {
        Err(StatsError::NotFiniteScore {
            candidate: record.candidate.clone(),
            example_id: record.example_id.clone(),
            metric: metric.to_string(),
            value,
        })
    }
}

fn estimate(values: &[f64], opts: &StatsOptions) -> Result<Option<Estimate>, StatsError> {
    if values.is_empty() {
        return Ok(None);
    }
    bootstrap_mean(values, opts.confidence, opts.resamples, opts.seed).map(Some)
}

/// The successful records not answered from the cache, or all successful ones if all were.
fn timing_pool<'a>(successful: &[&'a ExampleRecord]) -> Vec<&'a ExampleRecord> {
    let fresh: Vec<&ExampleRecord> = successful.iter().copied().filter(|r| !r.cached).collect();
    if fresh.is_empty() {
        successful.to_vec()
    } else {
        fresh
    }
}

/// The one candidate all `records` belong to.
fn one_candidate(records: &[ExampleRecord]) -> Result<&str, StatsError> {
    let first = records
        .first()
        .ok_or(StatsError::Empty { what: "records" })?;
    if let Some(other) = records.iter().find(|r| r.candidate != first.candidate) {
        return Err(StatsError::MixedCandidates {
            first: first.candidate.clone(),
            other: other.candidate.clone(),
        });
    }
    Ok(&first.candidate)
}

/// Primary scores of the scored records by example id; an id seen twice is an error.
fn scores_by_example(records: &[ExampleRecord]) -> Result<BTreeMap<&str, f64>, StatsError> {
    let mut seen = BTreeSet::new();
    let mut scores = BTreeMap::new();
    for record in records {
        if !seen.insert(record.example_id.as_str()) {
            return Err(StatsError::DuplicateExample {
                candidate: record.candidate.clone(),
                example_id: record.example_id.clone(),
            });
        }
        if let Some(score) = primary_score(record) {
            scores.insert(
                record.example_id.as_str(),
                finite_score(record, "score", score)?,
            );
        }
    }
    Ok(scores)
}

#[cfg(test)]
mod tests {
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
}
