//! What replaying a cascade's confidence thresholds over stored records found: the curve, the
//! chosen threshold and its held-out check (`rightfit_eval::cascade_threshold` computes it,
//! `rightfit_report` lays it out).

use serde::{Deserialize, Serialize};

use crate::summary::Estimate;

/// The threshold that escalates every request: the next `f64` above 1, which no confidence in
/// 0..=1 reaches.
pub const ESCALATE_ALL: f64 = 1.0 + f64::EPSILON;

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

/// What a cascade calibration found.
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
