//! Cascade calibration: which confidence threshold a two-stage cascade should use, computed
//! offline from both stages' stored records.
//!
//! A cascade answers with a small candidate and escalates to a large one when the small
//! answer's confidence is below a threshold: it *keeps* the small answer when
//! `confidence >= threshold`. Given each candidate's [`ExampleRecord`]s on the same examples,
//! [`calibrate`] replays every useful threshold and picks the cheapest one that keeps enough of
//! the large candidate's quality, then checks that choice on examples it did not see.
//!
//! The rules:
//!
//! - **Pairing.** Records are paired by `example_id`. An example where the large record failed
//!   (`error` set) or has no score is left out: nothing says what escalating it would have
//!   given. Examples only one candidate has are left out too. Both are counted in the notes.
//! - **Failed small answers.** A small record with an error, or without a score, is *failed*:
//!   its confidence is 0 (a cascade escalates on error) and its quality, if kept, is 0. It is
//!   kept only at threshold 0, which means "never escalate".
//! - **Confidence.** The small record's `confidence` when present (it must be in 0..=1); else
//!   the validator: 0 when the answer is unparseable (or failed), else 1.
//! - **Split.** The paired example ids, sorted, are shuffled with `ChaCha8Rng` seeded with
//!   [`CalibrationOptions::seed`] (the Fisher–Yates shuffle of `example.rs`'s few-shot draw);
//!   the first `round(dev_fraction × n)` are the *dev* examples the threshold is chosen on, the
//!   rest are *held out*. The same records and seed give the same split, whatever the order of
//!   the records. Each side needs at least 2 examples.
//! - **Curve.** On dev, the candidate thresholds are 0 (never escalate), every distinct small
//!   confidence, and [`ESCALATE_ALL`] (the number just above 1, so every confidence in 0..=1 is
//!   escalated). For each, an example is kept if its confidence is at least the threshold, else
//!   escalated. Quality is the mean of (kept ? small score : large score); cost per request is
//!   the small cost plus, when escalated, the large cost (`None` when a needed cost is unknown,
//!   except that a failed small call without a cost counts as $0, since failed calls are not
//!   billed); latency is the small latency plus, when escalated, the large latency. Points are
//!   sorted by escalated fraction, then threshold.
//! - **Choice.** Among dev points whose quality is at least `target × large dev quality`
//!   (within 1e-12, so float rounding cannot reject "escalate everything" at target 1), the one
//!   that escalates least; ties go to the higher quality, then the lower threshold. When none
//!   qualifies there is no choice, and a note gives the best quality ratio reachable.
//! - **Held-out check.** The chosen threshold is applied to the held-out examples; quality
//!   means come with percentile-bootstrap intervals ([`bootstrap_mean`], 95%, 2000 resamples),
//!   and the cascade-minus-large difference with a paired bootstrap ([`paired_bootstrap`]),
//!   all seeded with [`CalibrationOptions::seed`] XOR a fixed constant, so the resampling
//!   stream differs from the split's.

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use rightfit_store::{RunStore, StoreError};
pub use rightfit_types::cascade::{Calibration, CurvePoint, ESCALATE_ALL, HeldOut};
use rightfit_types::{ExampleRecord, RunStatus};
use serde::{Deserialize, Serialize};

use crate::stats::{StatsOptions, bootstrap_mean, paired_bootstrap};
use pairing::{Outcome, Pair, candidate_name, pair};

mod error;
mod pairing;

pub use error::CalibrateError;
#[cfg(test)]
mod tests;

/// Why a candidate's stored records cannot be had.
#[derive(Debug, thiserror::Error)]
pub enum StoredRecordsError {
    /// The store failed, or has no such run.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The run has none of the candidate's records.
    #[error("run {run} has no records of candidate '{candidate}'")]
    NoneInRun { run: String, candidate: String },
    /// No finished run of the component has any.
    #[error(
        "no finished run of component '{component}' has records of candidate '{candidate}': \
         run 'rightfit eval {component} --candidate {candidate}' first"
    )]
    NoneFinished {
        component: String,
        candidate: String,
    },
}

/// The records of `candidate` in `run`, or in the newest finished run of the component that
/// has any; with the run id they came from.
pub async fn stored_records(
    store: &dyn RunStore,
    component: &str,
    candidate: &str,
    run: Option<&str>,
) -> Result<(String, Vec<ExampleRecord>), StoredRecordsError> {
    if let Some(run) = run {
        let info = store.resolve_run(run).await?;
        let records = store.records(&info.id, Some(candidate)).await?;
        if records.is_empty() {
            return Err(StoredRecordsError::NoneInRun {
                run: info.id,
                candidate: candidate.to_owned(),
            });
        }
        return Ok((info.id, records));
    }
    for info in store.runs(Some(component), 1000).await? {
        if info.status != RunStatus::Finished {
            continue;
        }
        let records = store.records(&info.id, Some(candidate)).await?;
        if !records.is_empty() {
            return Ok((info.id, records));
        }
    }
    Err(StoredRecordsError::NoneFinished {
        component: component.to_owned(),
        candidate: candidate.to_owned(),
    })
}

/// Scores within this of the quality bar count as meeting it.
const TOLERANCE: f64 = 1e-12;

/// XORed into the split seed to seed the held-out bootstrap.
const BOOTSTRAP_SEED_MIX: u64 = 0x9E37_79B9_7F4A_7C15;

/// What the calibration aims for and how it splits the examples.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CalibrationOptions {
    /// The share of the large candidate's dev quality the cascade must keep, in (0, 1.5]
    /// (0.95: 95%).
    pub target: f64,
    /// The share of paired examples used to choose the threshold, strictly between 0 and 1;
    /// the rest check the choice.
    pub dev_fraction: f64,
    /// Seed of the dev/held-out split (and, mixed, of the bootstrap).
    pub seed: u64,
}

impl Default for CalibrationOptions {
    /// Target 95%, half the examples for dev, seed 0.
    fn default() -> Self {
        CalibrationOptions {
            target: 0.95,
            dev_fraction: 0.5,
            seed: 0,
        }
    }
}

/// Computes what every threshold of a small → large cascade would have given, chooses one on
/// the dev examples and checks it on the held-out ones. The rules are in the module doc.
///
/// Errors: a side without records or with several candidates' records, a duplicate example,
/// a non-finite score or a confidence outside 0..=1, no usable example in common, `target`
/// outside (0, 1.5], `dev_fraction` outside (0, 1), or fewer than 2 examples on a side.
pub fn calibrate(
    small: &[ExampleRecord],
    large: &[ExampleRecord],
    options: &CalibrationOptions,
) -> Result<Calibration, CalibrateError> {
    if !(options.target > 0.0 && options.target <= 1.5) {
        return Err(CalibrateError::Target(options.target));
    }
    if !(options.dev_fraction > 0.0 && options.dev_fraction < 1.0) {
        return Err(CalibrateError::DevFraction(options.dev_fraction));
    }
    let small_name = candidate_name(small, "small")?;
    let large_name = candidate_name(large, "large")?;
    let (pairs, mut notes) = pair(small, large, &small_name, &large_name)?;
    let paired = pairs.len() as u64;
    let (dev, heldout) = split(pairs, options.dev_fraction, options.seed)?;

    let large_dev_quality = mean(dev.iter().map(|p| p.large_score));
    let small_dev_quality = mean(dev.iter().map(|p| p.small_score));
    let curve = curve(&dev);
    let chosen = choose(&curve, options.target * large_dev_quality);
    let heldout = match &chosen {
        Some(point) => Some(check(&heldout, point.threshold, options.seed)?),
        None => {
            let best = curve
                .iter()
                .map(|p| p.quality)
                .fold(f64::NEG_INFINITY, f64::max);
            notes.push(format!(
                "no threshold keeps {:.1}% of '{large_name}''s dev quality ({:.3}): the best reaches {}",
                options.target * 100.0,
                large_dev_quality,
                ratio_text(best, large_dev_quality),
            ));
            None
        }
    };
    Ok(Calibration {
        small: small_name,
        large: large_name,
        paired,
        dev_n: dev.len() as u64,
        large_dev_quality,
        small_dev_quality,
        curve,
        chosen,
        heldout,
        notes,
    })
}

/// "93.2% of it (quality 0.745)", or the quality alone when the large quality is 0.
fn ratio_text(quality: f64, large: f64) -> String {
    if large > 0.0 {
        format!(
            "{:.1}% of it (quality {quality:.3})",
            quality / large * 100.0
        )
    } else {
        format!("quality {quality:.3}")
    }
}

/// Shuffles `pairs` (sorted by id) with the seed and cuts them into dev and held-out.
fn split(
    mut pairs: Vec<Pair>,
    dev_fraction: f64,
    seed: u64,
) -> Result<(Vec<Pair>, Vec<Pair>), CalibrateError> {
    let n = pairs.len();
    let dev_n = ((dev_fraction * n as f64).round() as usize).min(n);
    if dev_n < 2 || n - dev_n < 2 {
        return Err(CalibrateError::TooFew {
            paired: n as u64,
            dev: dev_n as u64,
            heldout: (n - dev_n) as u64,
        });
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    for i in (1..n).rev() {
        let j = (rng.next_u64() % (i as u64 + 1)) as usize;
        pairs.swap(i, j);
    }
    let heldout = pairs.split_off(dev_n);
    Ok((pairs, heldout))
}

/// The candidate thresholds on `dev`: 0, each distinct confidence, and [`ESCALATE_ALL`].
fn thresholds(dev: &[Pair]) -> Vec<f64> {
    let mut t: Vec<f64> = dev.iter().map(|p| p.confidence).collect();
    t.push(0.0);
    t.push(ESCALATE_ALL);
    t.sort_by(f64::total_cmp);
    t.dedup();
    t
}

/// Every candidate threshold's point on `dev` (non-empty), by escalated fraction, then
/// threshold.
fn curve(dev: &[Pair]) -> Vec<CurvePoint> {
    let mut points: Vec<CurvePoint> = thresholds(dev)
        .into_iter()
        .map(|t| {
            let outcomes: Vec<Outcome> = dev.iter().map(|p| p.at(t)).collect();
            CurvePoint {
                threshold: t,
                escalated: mean(outcomes.iter().map(|o| f64::from(u8::from(o.escalated)))),
                quality: mean(outcomes.iter().map(|o| o.score)),
                cost_per_request_usd: mean_known(outcomes.iter().map(|o| o.cost)),
                latency_ms_mean: mean(outcomes.iter().map(|o| o.latency)),
            }
        })
        .collect();
    points.sort_by(|a, b| {
        a.escalated
            .total_cmp(&b.escalated)
            .then(a.threshold.total_cmp(&b.threshold))
    });
    points
}

/// The point with quality at least `bar` (within [`TOLERANCE`]) that escalates least; ties go
/// to the higher quality, then the lower threshold.
fn choose(curve: &[CurvePoint], bar: f64) -> Option<CurvePoint> {
    curve
        .iter()
        .filter(|p| p.quality + TOLERANCE >= bar)
        .min_by(|a, b| {
            a.escalated
                .total_cmp(&b.escalated)
                .then(b.quality.total_cmp(&a.quality))
                .then(a.threshold.total_cmp(&b.threshold))
        })
        .cloned()
}

/// The chosen threshold applied to the held-out examples (at least 2).
fn check(heldout: &[Pair], threshold: f64, seed: u64) -> Result<HeldOut, CalibrateError> {
    let stats = StatsOptions {
        seed: seed ^ BOOTSTRAP_SEED_MIX,
        ..StatsOptions::default()
    };
    let boot =
        |values: &[f64]| bootstrap_mean(values, stats.confidence, stats.resamples, stats.seed);
    let outcomes: Vec<Outcome> = heldout.iter().map(|p| p.at(threshold)).collect();
    let cascade: Vec<f64> = outcomes.iter().map(|o| o.score).collect();
    let large: Vec<f64> = heldout.iter().map(|p| p.large_score).collect();
    let small: Vec<f64> = heldout.iter().map(|p| p.small_score).collect();
    let quality = boot(&cascade)?;
    let large_quality = boot(&large)?;
    let difference = paired_bootstrap(
        &large,
        &cascade,
        stats.confidence,
        stats.resamples,
        stats.seed,
    )?
    .diff;
    Ok(HeldOut {
        n: heldout.len() as u64,
        escalated: mean(outcomes.iter().map(|o| f64::from(u8::from(o.escalated)))),
        retained: (large_quality.mean > 0.0).then(|| quality.mean / large_quality.mean),
        quality,
        large_quality,
        small_quality: boot(&small)?,
        difference,
        cost_per_request_usd: mean_known(outcomes.iter().map(|o| o.cost)),
        large_cost_per_request_usd: mean_known(heldout.iter().map(|p| p.large_cost)),
        latency_ms_mean: mean(outcomes.iter().map(|o| o.latency)),
        large_latency_ms_mean: mean(heldout.iter().map(|p| p.large_latency)),
    })
}

/// The mean of `values`; 0 when there are none.
fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let (sum, n) = values.fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    if n == 0 { 0.0 } else { sum / n as f64 }
}

/// The mean of `values` when every one is known; `None` otherwise or when there are none.
fn mean_known(values: impl Iterator<Item = Option<f64>>) -> Option<f64> {
    let known: Option<Vec<f64>> = values.collect();
    known.filter(|v| !v.is_empty()).map(|v| mean(v.into_iter()))
}
