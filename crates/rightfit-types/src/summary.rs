//! Summaries of evaluation records: one candidate's figures, and two candidates compared.
//!
//! `rightfit-eval`'s `stats` module computes these from [`ExampleRecord`](crate::ExampleRecord)s;
//! the store keeps them and reports and decisions read them. The types carry numbers only; how
//! each number is computed is said on its field.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::eval::RunInfo;

/// A mean with its confidence interval.
///
/// The interval is a percentile bootstrap: the `(1 − confidence) / 2` and `(1 + confidence) / 2`
/// quantiles (linear interpolation) of the means of resamples drawn with replacement. With one
/// value, or with all values equal, `low == mean == high`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    /// The sample mean, in the units of the values (a score in 0..=1 for most metrics).
    pub mean: f64,
    /// Lower end of the interval, same units.
    pub low: f64,
    /// Upper end of the interval, same units.
    pub high: f64,
    /// How many values the mean is over.
    pub n: u64,
    /// The interval's confidence level, a fraction (0.95 for a 95% interval).
    pub confidence: f64,
}

/// The median and the tail of a distribution (latencies, in the unit of the values).
///
/// Each is a quantile with linear interpolation between order statistics (numpy's default
/// `"linear"` method): the value at position `(n − 1) · p` of the sorted values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    /// The 50th percentile (median).
    pub p50: f64,
    /// The 95th percentile.
    pub p95: f64,
    /// The 99th percentile.
    pub p99: f64,
}

impl Percentiles {
    /// The median, 95th and 99th percentiles of `values` (which need not be sorted); `None`
    /// when there are none or any is NaN (infinities sort to the ends and are allowed).
    pub fn of(values: &[f64]) -> Option<Self> {
        if values.is_empty() || values.iter().any(|v| v.is_nan()) {
            return None;
        }
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        Some(Self {
            p50: quantile_of_sorted(&sorted, 0.50),
            p95: quantile_of_sorted(&sorted, 0.95),
            p99: quantile_of_sorted(&sorted, 0.99),
        })
    }
}

/// The `q`-quantile (`q` in 0..=1) of non-empty, ascending, NaN-free `sorted`, interpolated
/// linearly between the two nearest order statistics (numpy's default method).
pub fn quantile_of_sorted(sorted: &[f64], q: f64) -> f64 {
    let last = sorted.len().saturating_sub(1);
    let position = last as f64 * q;
    // `position` is within 0..=last, so the floor fits and indexes the slice.
    let below = (position.floor() as usize).min(last);
    let above = (below + 1).min(last);
    let fraction = position - below as f64;
    lerp(sorted[below], sorted[above], fraction)
}

/// Interpolates from `a` (t = 0) to `b` (t = 1), exact at both ends: from the nearer end, so
/// that the result never overshoots `b` through rounding.
fn lerp(a: f64, b: f64, t: f64) -> f64 {
    if a == b {
        return a;
    }
    let span = b - a;
    if t < 0.5 {
        a + span * t
    } else {
        b - span * (1.0 - t)
    }
}

/// One candidate's figures over the examples of a run.
///
/// Terms used below: a *failed* example has an error (the request or the scorer failed); a
/// *successful* example has none. An unparseable successful example scores 0 on every metric.
/// The *timing pool* is the successful examples that were not answered from the cache, or, when
/// every successful example was cached, all successful examples.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CandidateSummary {
    /// The candidate's name, unique within the run.
    pub candidate: String,
    /// The model's name in the config.
    pub model: String,
    /// The strategy's name.
    pub strategy: String,
    /// Examples evaluated: every record, failed ones included.
    pub examples: u64,
    /// Examples in the quality estimate: successful ones with a primary score (unparseable ones
    /// count, with score 0).
    pub scored: u64,
    /// Examples that failed (have an error); excluded from quality, timing and token means.
    pub failures: u64,
    /// Successful examples whose output could not be parsed (scored 0, included in `scored`).
    pub unparseable: u64,
    /// Examples answered from the response cache (failed ones included).
    pub cached: u64,
    /// Mean of the primary score over the `scored` examples, with its bootstrap interval; `None`
    /// when no example was scored.
    pub quality: Option<Estimate>,
    /// End-to-end latency over the timing pool, milliseconds; `None` when the pool is empty.
    pub latency_ms: Option<Percentiles>,
    /// Time to first token over the timing-pool examples that report it, milliseconds; `None`
    /// when none does.
    pub ttft_ms: Option<Percentiles>,
    /// Generation throughput over the timing pool, tokens per second: the sum of `tokens_out`
    /// divided by the sum of latencies in seconds (a ratio of sums, so long answers weigh more
    /// than short ones and a near-zero latency cannot blow it up). Latency includes the prompt's
    /// processing, so this is end-to-end throughput per request, not pure decoding speed. `None`
    /// when the pool is empty or its latencies sum to zero.
    pub output_tokens_per_s: Option<f64>,
    /// Mean prompt tokens per successful example (all calls of the strategy); 0 when none.
    pub tokens_in_mean: f64,
    /// Mean generated tokens per successful example; 0 when none.
    pub tokens_out_mean: f64,
    /// Prompt tokens over every record, failed ones included.
    pub tokens_in_total: u64,
    /// Generated tokens over every record, failed ones included.
    pub tokens_out_total: u64,
    /// Mean cost of one example in US dollars over the timing-pool examples with a known cost
    /// (cached answers are excluded when possible, since production requests are not cached);
    /// `None` when no such example has a cost.
    pub cost_per_request_usd: Option<f64>,
    /// `cost_per_request_usd` × 1000: US dollars per thousand requests.
    pub cost_per_1k_usd: Option<f64>,
    /// Sum of the known costs of every record (failed ones included), US dollars; 0 when no
    /// record has a cost.
    pub cost_total_usd: f64,
    /// Peak resident memory while this candidate ran (local models), bytes, as measured by the
    /// runner.
    pub peak_memory_bytes: Option<u64>,
    /// Every metric found in the records' `scores`, by name: mean over the successful examples
    /// that have it (unparseable ones count as 0 for every metric), with its bootstrap interval.
    pub metrics: BTreeMap<String, Estimate>,
}

/// Two candidates compared on the examples both scored.
///
/// Examples are paired by id; a pair counts when both candidates have a successful, scored
/// record for it (unparseable scores 0).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairedComparison {
    /// The first (baseline) candidate's name.
    pub a: String,
    /// The second candidate's name.
    pub b: String,
    /// Examples both candidates scored.
    pub n: u64,
    /// `a`'s mean primary score over those examples.
    pub mean_a: f64,
    /// `b`'s mean primary score over those examples.
    pub mean_b: f64,
    /// `mean_b − mean_a`, with a paired-bootstrap interval: each resample draws examples (pairs)
    /// with replacement and takes the difference of the two means over the drawn pairs.
    pub diff: Estimate,
    /// Fraction of bootstrap resamples in which `b`'s mean is strictly below `a`'s (ties count
    /// as not worse): a rough probability that `b` is worse than `a` on this kind of data.
    pub p_b_worse: f64,
    /// McNemar's test of the paired right/wrong outcomes; present only when every paired score
    /// of both candidates is exactly 0 or 1.
    pub mcnemar: Option<McNemar>,
}

/// McNemar's test for paired binary outcomes (is one candidate right more often than the other?).
///
/// Only the discordant pairs matter. With fewer than 25 of them the test is exact: a two-sided
/// binomial test of `a_only` out of `a_only + b_only` at probability ½, p = min(1, 2 · P(X ≤
/// min(a_only, b_only))). Otherwise it is the chi-square test with continuity correction,
/// statistic (|a_only − b_only| − 1)² / (a_only + b_only) on one degree of freedom.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct McNemar {
    /// Pairs where `a` was right and `b` wrong.
    pub a_only: u64,
    /// Pairs where `b` was right and `a` wrong.
    pub b_only: u64,
    /// The exact test's statistic is `min(a_only, b_only)`; the chi-square test's is the
    /// continuity-corrected chi-square value.
    pub statistic: f64,
    /// Two-sided p-value: the chance of discordant counts at least this lopsided if both
    /// candidates were equally often right.
    pub p_value: f64,
    /// Whether the exact binomial test was used (fewer than 25 discordant pairs).
    pub exact: bool,
}

/// The score of a set of predictions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OfflineScore {
    pub metric: String,
    /// Pairs scored.
    pub n: u64,
    /// Mean per-example score (0..1) with a 95% bootstrap interval.
    pub mean: Option<Estimate>,
    /// The corpus-level value where the metric has one (macro_f1, corpus BLEU, corpus chrF).
    pub corpus: BTreeMap<String, f64>,
    /// Predictions the scorer could not parse into the contract (counted as wrong).
    pub unparseable: u64,
    /// Per-example scores, by id, in input order.
    pub per_example: Vec<(String, f64)>,
}

/// Everything a report shows about one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    pub run: RunInfo,
    /// The primary metric's name.
    pub primary_metric: String,
    /// One summary per candidate, in config order.
    pub candidates: Vec<CandidateSummary>,
    /// Corpus-level metrics per candidate (macro-F1, corpus BLEU/chrF), 0..1.
    pub corpus: BTreeMap<String, BTreeMap<String, f64>>,
    /// Each candidate compared with the baseline (the first candidate).
    pub comparisons: Vec<PairedComparison>,
}
