//! Ranking feasible candidates, and saying why and how sure.

use std::cmp::Ordering;

use rightfit_types::PairedComparison;

use super::recommendation::{Ranked, Rejection};
use super::view::View;
use crate::constraints::{Constraints, Objective};
use crate::fmt::{ms, pct, usd};

/// Examples below which a quality interval is too wide to lean on.
const FEW_EXAMPLES: u64 = 30;

fn inf(x: Option<f64>) -> f64 {
    x.unwrap_or(f64::INFINITY)
}

/// Local memory as a sort key: hosted models use none here, unknown sorts last.
fn memory_key(v: &View) -> u64 {
    if v.hosted {
        0
    } else {
        v.memory.unwrap_or(u64::MAX)
    }
}

/// The order of feasible candidates: the objective's figure first, then every other figure in a
/// fixed order, then offline before hosted, then the name. Each key prefers the better value, so
/// a candidate that another matches or beats on every figure never ranks above it.
pub(crate) fn order(objective: Objective, a: &View, b: &View) -> Ordering {
    let quality = || b.q().total_cmp(&a.q());
    let cost = || inf(a.cost).total_cmp(&inf(b.cost));
    let latency = || inf(a.p95_ms).total_cmp(&inf(b.p95_ms));
    let first = match objective {
        Objective::Quality => quality().then_with(cost).then_with(latency),
        Objective::Cost => cost().then_with(quality).then_with(latency),
        Objective::Latency => latency().then_with(quality).then_with(cost),
    };
    first
        .then_with(|| inf(a.ttft_p95_ms).total_cmp(&inf(b.ttft_p95_ms)))
        .then_with(|| memory_key(a).cmp(&memory_key(b)))
        .then_with(|| a.hosted.cmp(&b.hosted))
        .then_with(|| a.name.cmp(&b.name))
}

/// The rule in words.
pub(crate) fn rule(objective: Objective) -> &'static str {
    match objective {
        Objective::Quality => {
            "the highest quality among the candidates that meet every constraint \
             (ties: the cheaper, then the faster)"
        }
        Objective::Cost => {
            "the cheapest candidate that meets every constraint \
             (ties: the better quality, then the faster)"
        }
        Objective::Latency => {
            "the lowest p95 latency among the candidates that meet every constraint \
             (ties: the better quality, then the cheaper)"
        }
    }
}

pub(crate) fn ranked(v: &View) -> Ranked {
    Ranked {
        candidate: v.name.clone(),
        quality: v.quality.clone(),
        cost_per_1k_usd: v.cost.map(|c| c * 1000.0),
        p95_latency_ms: v.p95_ms,
        p95_ttft_ms: v.ttft_p95_ms,
        memory_bytes: if v.hosted { None } else { v.memory },
        estimated: v.estimated,
    }
}

fn quality_of(v: &View) -> String {
    match &v.quality {
        Some(q) => format!("{} [{}, {}]", pct(q.mean), pct(q.low), pct(q.high)),
        None => "no quality".to_owned(),
    }
}

fn cost_of(v: &View) -> String {
    match v.cost {
        Some(c) => format!("{} per 1k requests", usd(c * 1000.0)),
        None => "unknown cost".to_owned(),
    }
}

fn latency_of(v: &View) -> String {
    match v.p95_ms {
        Some(p) => format!("p95 {}", ms(p)),
        None => "no latency".to_owned(),
    }
}

/// Why the first feasible candidate was chosen, or why none could be.
pub(crate) fn reason(
    objective: Objective,
    feasible: &[&View],
    rejected: &[Rejection],
    metric: &str,
) -> String {
    let Some(chosen) = feasible.first() else {
        let Some(closest) = rejected.iter().min_by_key(|r| r.violations.len()) else {
            return "the run has no candidates to choose from".to_owned();
        };
        let broken: Vec<&str> = closest
            .violations
            .iter()
            .map(|v| v.message.as_str())
            .collect();
        return format!(
            "no candidate meets every constraint. Closest: {}, which breaks {} constraint{}: {}. \
             Relax it, or lift the candidate (a strategy, a cascade) and measure again.",
            closest.candidate,
            broken.len(),
            if broken.len() == 1 { "" } else { "s" },
            broken.join("; ")
        );
    };
    let n = feasible.len();
    let of = if n == 1 {
        "the only candidate that meets every constraint".to_owned()
    } else {
        format!("of the {n} candidates that meet every constraint")
    };
    let runner = feasible.get(1);
    let mut out = match objective {
        Objective::Quality => format!(
            "{}: highest {metric} {of}, {} ({}, {})",
            chosen.name,
            quality_of(chosen),
            cost_of(chosen),
            latency_of(chosen)
        ),
        Objective::Cost => format!(
            "{}: cheapest {of}, {} with {metric} {} ({})",
            chosen.name,
            cost_of(chosen),
            quality_of(chosen),
            latency_of(chosen)
        ),
        Objective::Latency => format!(
            "{}: fastest {of}, {} with {metric} {} ({})",
            chosen.name,
            latency_of(chosen),
            quality_of(chosen),
            cost_of(chosen)
        ),
    };
    if n == 1 {
        out = format!(
            "{}: {of}, {} ({}, {})",
            chosen.name,
            quality_of(chosen),
            cost_of(chosen),
            latency_of(chosen)
        );
    }
    if let Some(r) = runner {
        out.push_str(&format!(
            ". Runner-up: {}, {} ({}, {})",
            r.name,
            quality_of(r),
            cost_of(r),
            latency_of(r)
        ));
    }
    if !rejected.is_empty() {
        out.push_str(&format!(
            ". {} candidate{} broke a constraint",
            rejected.len(),
            if rejected.len() == 1 { "" } else { "s" }
        ));
    }
    out.push('.');
    out
}

/// Whether two candidates' qualities are told apart, and the evidence in words: the paired
/// comparison when the run has one for the pair, else whether their intervals overlap.
fn separation(a: &View, b: &View, comparisons: &[PairedComparison]) -> Option<(bool, String)> {
    let pair = comparisons
        .iter()
        .find(|c| (c.a == a.name && c.b == b.name) || (c.a == b.name && c.b == a.name));
    if let Some(c) = pair {
        let separated = c.diff.low > 0.0 || c.diff.high < 0.0;
        let mut said = format!(
            "paired difference {}{:.1} points [{:+.1}, {:+.1}] over {} examples",
            if c.diff.mean >= 0.0 { "+" } else { "" },
            c.diff.mean * 100.0,
            c.diff.low * 100.0,
            c.diff.high * 100.0,
            c.n
        );
        if let Some(m) = &c.mcnemar {
            said.push_str(&format!(", McNemar p = {:.3}", m.p_value));
        }
        said.push_str(&format!(" ({} − {})", c.b, c.a));
        return Some((separated, said));
    }
    let (qa, qb) = (a.quality.as_ref()?, b.quality.as_ref()?);
    let separated = qa.low > qb.high || qb.low > qa.high;
    Some((
        separated,
        format!(
            "{} [{}, {}] vs {} [{}, {}]{}",
            pct(qa.mean),
            pct(qa.low),
            pct(qa.high),
            pct(qb.mean),
            pct(qb.low),
            pct(qb.high),
            if separated {
                ""
            } else {
                ": the intervals overlap"
            }
        ),
    ))
}

/// What a careful reader must know about the choice.
pub(crate) fn warnings(
    objective: Objective,
    feasible: &[&View],
    comparisons: &[PairedComparison],
    constraints: &Constraints,
    floor: Option<f64>,
) -> Vec<String> {
    let mut out = Vec::new();
    let Some(chosen) = feasible.first() else {
        return out;
    };
    if let Some(runner) = feasible.get(1) {
        let tie = match objective {
            Objective::Quality => chosen.q() == runner.q(),
            Objective::Cost => inf(chosen.cost) == inf(runner.cost),
            Objective::Latency => inf(chosen.p95_ms) == inf(runner.p95_ms),
        };
        if tie {
            out.push(format!(
                "{} and {} tie on the objective; {} ranks first on the next figures in the rule",
                chosen.name, runner.name, chosen.name
            ));
        }
        if let Some((false, evidence)) = separation(chosen, runner, comparisons) {
            let what = match objective {
                Objective::Quality => "the choice could flip with more examples",
                _ => "their quality may not differ",
            };
            out.push(format!(
                "{} is not statistically separated from the runner-up {} on quality ({evidence}); {what}",
                chosen.name, runner.name
            ));
        }
    }
    if let (Some(floor), Some(q)) = (floor, &chosen.quality)
        && q.low < floor
    {
        out.push(format!(
            "{} meets the quality floor {} on its mean ({}) but its interval reaches {}: \
             it may fall below the floor on new data",
            chosen.name,
            pct(floor),
            pct(q.mean),
            pct(q.low)
        ));
    }
    if chosen.scored < FEW_EXAMPLES {
        out.push(format!(
            "only {} examples scored for {}: intervals are wide; evaluate more rows (--limit)",
            chosen.scored, chosen.name
        ));
    }
    if chosen.failures > 0 {
        out.push(format!(
            "{} failed on {} examples; failures are left out of its quality and latency",
            chosen.name, chosen.failures
        ));
    }
    if chosen.estimated
        && let Some(d) = &constraints.device
    {
        out.push(format!(
            "{}'s latency, memory and cost on {} are roofline estimates, not measurements",
            chosen.name, d.name
        ));
    }
    out
}
