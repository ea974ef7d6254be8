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
use rightfit_types::{Estimate, ExampleRecord};
use serde::{Deserialize, Serialize};

use crate::stats::{StatsOptions, bootstrap_mean, paired_bootstrap};
use pairing::{Outcome, Pair, candidate_name, pair};

mod error;
mod pairing;

pub use error::CalibrateError;
#[cfg(test)]
mod tests;

/// The threshold that escalates every request: the next `f64` above 1, which no confidence in
/// 0..=1 reaches.
pub const ESCALATE_ALL: f64 = 1.0 + f64::EPSILON;

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

/// What one threshold would have given on the dev examples.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CurvePoint {
    /// Keep the small answer when its confidence is at least this.
    pub threshold: f64,
    /// Fraction of requests sent on to the large candidate, 0..=1.
    pub escalated: f64,
    /// Mean primary score of the cascade's answers.
    pub quality: f64,
    /// Mean cost of one request, US dollars; `None` when a needed cost is unknown.
    pub cost_per_request_usd: Option<f64>,
    /// Mean latency of one request (small, plus large when escalated), milliseconds.
    pub latency_ms_mean: f64,
}

/// The chosen threshold checked on the held-out examples.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeldOut {
    /// Held-out examples.
    pub n: u64,
    /// The cascade's quality, with its bootstrap interval.
    pub quality: Estimate,
    /// Fraction of held-out requests escalated.
    pub escalated: f64,
    /// The large candidate's quality alone.
    pub large_quality: Estimate,
    /// The small candidate's quality alone (failed answers score 0).
    pub small_quality: Estimate,
    /// Cascade quality ÷ large quality; `None` when the large quality is 0.
    pub retained: Option<f64>,
    /// Cascade − large, paired bootstrap over the held-out examples.
    pub difference: Estimate,
    /// The cascade's mean cost per request, US dollars; `None` when a needed cost is unknown.
    pub cost_per_request_usd: Option<f64>,
    /// The large candidate's mean cost per request alone; `None` when a cost is unknown.
    pub large_cost_per_request_usd: Option<f64>,
    /// The cascade's mean latency per request, milliseconds.
    pub latency_ms_mean: f64,
    /// The large candidate's mean latency alone, milliseconds.
    pub large_latency_ms_mean: f64,
}

/// The result of [`calibrate`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// The small (first-stage) candidate.
    pub small: String,
    /// The large (escalation) candidate.
    pub large: String,
    /// Examples paired and usable (the large record succeeded with a score).
    pub paired: u64,
    /// Of those, examples used to choose the threshold.
    pub dev_n: u64,
    /// The large candidate's mean score on dev.
    pub large_dev_quality: f64,
    /// The small candidate's mean score on dev (failed answers score 0).
    pub small_dev_quality: f64,
    /// Every candidate threshold on dev, by escalated fraction ascending.
    pub curve: Vec<CurvePoint>,
    /// The cheapest point that meets the target; `None` when none does.
    pub chosen: Option<CurvePoint>,
    /// The chosen threshold on the held-out examples; `None` without a choice.
    pub heldout: Option<HeldOut>,
    /// What was left out or assumed, and why there is no choice if there is none.
    pub notes: Vec<String>,
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
