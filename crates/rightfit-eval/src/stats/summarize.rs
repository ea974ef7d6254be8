//! One candidate's summary, and two candidates compared, from their example records.

use std::collections::{BTreeMap, BTreeSet};

use rightfit_types::{CandidateSummary, Estimate, ExampleRecord, PairedComparison};

use super::bootstrap::{bootstrap_mean, paired_bootstrap};
use super::error::StatsError;
use super::mcnemar::mcnemar;
use super::options::StatsOptions;
use super::percentile::percentiles;

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
mod tests;
