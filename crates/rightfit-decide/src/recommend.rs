//! The choice for one component: feasibility, ranking, warnings, frontiers, aspects.

use crate::candidate_facts::CandidateFacts;
use crate::constraints::Constraints;
use crate::device::Calibration;

mod aspects;
mod costs;
#[cfg(test)]
mod properties;
mod rank;
mod recommendation;
#[cfg(test)]
mod tests;
mod view;

pub use recommendation::{
    Aspects, BreakEvenRow, ConstraintKind, DeviceVerdict, Ranked, Recommendation, Rejection,
    Violation,
};
use view::View;

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
