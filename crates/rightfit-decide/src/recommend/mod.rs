//! The choice for one component: feasibility, ranking, warnings, frontiers, aspects.

use serde::{Deserialize, Serialize};

use crate::constraints::{Constraints, Objective};
use crate::device::{Calibration, Fit, Speed};
use crate::facts::CandidateFacts;

mod aspects;
mod costs;
#[cfg(test)]
mod properties;
mod rank;
#[cfg(test)]
mod tests;
mod view;

pub use costs::BreakEvenRow;
use view::View;

/// Which constraint a candidate broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConstraintKind {
    /// The quality floor.
    Quality,
    /// The p95 latency SLO.
    Latency,
    /// The p95 time-to-first-token SLO.
    Ttft,
    /// The budget.
    Budget,
    /// The memory cap.
    Memory,
    /// The target device (does not fit, or its shape is unknown).
    Device,
    /// Offline required.
    Offline,
}

/// One broken constraint, said with the numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Violation {
    /// Which constraint.
    pub kind: ConstraintKind,
    /// What was measured against what was allowed, e.g. "p95 1,840 ms > 800 ms".
    pub message: String,
}

/// A candidate that broke at least one constraint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rejection {
    /// The candidate.
    pub candidate: String,
    /// Every constraint it broke.
    pub violations: Vec<Violation>,
}

/// A feasible candidate with the figures it was ranked by.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ranked {
    /// The candidate.
    pub candidate: String,
    /// Mean of the primary metric (0..=1), with its interval.
    pub quality: Option<rightfit_types::Estimate>,
    /// US dollars per 1,000 requests (on the target device when one is set and priced).
    pub cost_per_1k_usd: Option<f64>,
    /// p95 latency, milliseconds (the device estimate when a target device is set).
    pub p95_latency_ms: Option<f64>,
    /// p95 time to first token, milliseconds (the device estimate when a target device is set).
    pub p95_ttft_ms: Option<f64>,
    /// Local memory, bytes (measured peak, or the estimate); `None` for hosted models.
    pub memory_bytes: Option<u64>,
    /// Latency and cost are roofline estimates for the target device, not measurements.
    pub estimated: bool,
}

/// A local candidate on the target device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceVerdict {
    /// The candidate.
    pub candidate: String,
    /// The device's id.
    pub device: String,
    /// Memory needed against memory available.
    pub fit: Fit,
    /// Estimated speed there.
    pub speed: Speed,
}

/// The seed's "aspects" of a candidate, in words a person compares at a glance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Aspects {
    /// The candidate.
    pub candidate: String,
    /// Memory and model size, or "provider's servers".
    pub resource_use: String,
    /// Quality with its interval.
    pub quality: String,
    /// General model, or a small model helped for this component (its strategy).
    pub specialisation: String,
    /// p50 / p95 latency and time to first token.
    pub latency: String,
    /// Cost per 1,000 requests and where the price comes from.
    pub cost: String,
    /// Where it can run: cloud only, or the catalogue devices it fits on.
    pub runs_on: String,
}

/// The recommendation for one component.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recommendation {
    /// The component.
    pub component: String,
    /// The primary metric's name.
    pub metric: String,
    /// What was optimised.
    pub objective: Objective,
    /// The rule in words ("the cheapest candidate that meets every constraint").
    pub rule: String,
    /// The constraints applied.
    pub constraints: Constraints,
    /// The chosen candidate; `None` when no candidate meets every constraint.
    pub chosen: Option<String>,
    /// Why it was chosen, in a sentence with the numbers.
    pub reason: String,
    /// Feasible candidates, best first (the chosen one first, then the runners-up).
    pub ranked: Vec<Ranked>,
    /// Candidates that broke a constraint, with every constraint each broke.
    pub rejected: Vec<Rejection>,
    /// What a careful reader must know: choices not statistically separated, estimates, missing
    /// figures.
    pub warnings: Vec<String>,
    /// Candidates on the quality-vs-cost frontier (all candidates, cheapest first).
    pub pareto_cost: Vec<String>,
    /// Candidates on the quality-vs-p95-latency frontier (fastest first).
    pub pareto_latency: Vec<String>,
    /// The aspects table, one row per candidate in run order.
    pub aspects: Vec<Aspects>,
    /// Local candidates on the target device, when one is set.
    pub devices: Vec<DeviceVerdict>,
    /// For each local candidate priced by its hardware (the target device's price, or the
    /// config's `cost_per_hour` with the speed measured here) against each priced hosted
    /// candidate: the monthly volume above which local costs less.
    pub break_even: Vec<BreakEvenRow>,
}

/// Recommends a candidate for a component.
///
/// Every candidate is checked against every constraint; the feasible ones are ranked by the
/// objective, with every other figure breaking ties in a fixed order (so a candidate that another
/// matches or beats on every figure is never ranked above it). `comparisons` are the run's paired
/// comparisons (used for separation warnings); `calibration` turns roofline bounds into estimates
/// when a target device is set.
pub fn recommend(
    component: &str,
    metric: &str,
    facts: &[CandidateFacts],
    comparisons: &[rightfit_types::PairedComparison],
    constraints: &Constraints,
    calibration: &Calibration,
) -> Recommendation {
    let objective = constraints.objective();
    let views: Vec<View> = facts
        .iter()
        .map(|f| view::view(f, constraints, calibration))
        .collect();
    let mut feasible = Vec::new();
    let mut rejected = Vec::new();
    for v in &views {
        let broken = view::violations(v, &views, constraints);
        if broken.is_empty() {
            feasible.push(v);
        } else {
            rejected.push(Rejection {
                candidate: v.name.clone(),
                violations: broken,
            });
        }
    }
    feasible.sort_by(|a, b| rank::order(objective, a, b));
    let ranked: Vec<Ranked> = feasible.iter().map(|v| rank::ranked(v)).collect();
    let chosen = feasible.first().map(|v| v.name.clone());
    let reason = rank::reason(objective, &feasible, &rejected, metric);
    let floor = constraints
        .quality_floor
        .map(|f| view::floor_threshold(f, &views).0);
    let mut warnings = rank::warnings(objective, &feasible, comparisons, constraints, floor);
    if let Some(floor) = floor {
        warnings.extend(uncertain_rejections(&views, &rejected, floor));
    }
    if feasible.is_empty() && views.is_empty() {
        warnings.push("the run has no candidates".to_owned());
    }
    let devices = views.iter().filter_map(|v| v.device.clone()).collect();
    Recommendation {
        component: component.to_owned(),
        metric: metric.to_owned(),
        objective,
        rule: rank::rule(objective).to_owned(),
        constraints: constraints.clone(),
        chosen,
        reason,
        ranked,
        rejected,
        warnings,
        pareto_cost: frontier_names(&views, |v| v.cost),
        pareto_latency: frontier_names(&views, |v| v.p95_ms),
        aspects: aspects::table(facts, &views, constraints),
        devices,
        break_even: costs::rows(facts, &views, constraints),
    }
}

/// Candidates rejected on quality whose interval still reaches the floor: the data cannot tell
/// that they fall short.
fn uncertain_rejections(views: &[View], rejected: &[Rejection], floor: f64) -> Vec<String> {
    rejected
        .iter()
        .filter(|r| r.violations.iter().any(|v| v.kind == ConstraintKind::Quality))
        .filter_map(|r| {
            let q = views.iter().find(|v| v.name == r.candidate)?.quality.as_ref()?;
            (q.high >= floor).then(|| {
                format!(
                    "{} was rejected on quality ({:.1}% < {:.1}%), but its interval [{:.1}%, {:.1}%] \
                     reaches the floor: more examples could change that",
                    r.candidate,
                    q.mean * 100.0,
                    floor * 100.0,
                    q.low * 100.0,
                    q.high * 100.0
                )
            })
        })
        .collect()
}

/// Names on the frontier of "lower `x` is better, higher quality is better", among candidates
/// with both figures.
fn frontier_names(views: &[View], x: impl Fn(&View) -> Option<f64>) -> Vec<String> {
    let known: Vec<(&View, (f64, f64))> = views
        .iter()
        .filter_map(|v| Some((v, (x(v)?, v.quality.as_ref()?.mean))))
        .collect();
    let points: Vec<(f64, f64)> = known.iter().map(|(_, p)| *p).collect();
    crate::pareto::frontier(&points)
        .into_iter()
        .map(|i| known[i].0.name.clone())
        .collect()
}
