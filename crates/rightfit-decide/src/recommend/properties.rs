//! Properties of [`recommend`](super::recommend) over random candidates and constraints: a
//! dominated candidate is never chosen, the choice meets every constraint, infeasibility is
//! explained, and adding a constraint never yields a candidate that breaks it.

use proptest::prelude::*;

use super::tests::{C, decide, names};
use crate::constraints::{Budget, Constraints, Objective, QualityFloor};

fn arb_candidate(name: &'static str) -> impl Strategy<Value = C> {
    (
        proptest::option::weighted(0.9, 0u32..=5),
        proptest::option::weighted(0.9, 0u32..=2),
        proptest::option::weighted(0.9, 1u32..=3),
        proptest::option::weighted(0.9, 1u32..=3),
        proptest::option::of(proptest::option::weighted(0.9, 1u64..=3)),
    )
        .prop_map(move |(q, cost, p95, ttft, mem)| C {
            name,
            // Coarse values so that ties and dominance happen often.
            quality: q.map(|q| f64::from(q) / 5.0),
            spread: 0.03,
            n: 100,
            cost_per_request: cost.map(|c| f64::from(c) / 1000.0),
            p95: p95.map(|p| f64::from(p) * 100.0),
            ttft: ttft.map(|p| f64::from(p) * 25.0),
            local_memory: mem.map(|m| m.map(|m| m << 30)),
            shape: None,
            cost_per_hour: None,
        })
}

fn arb_candidates() -> impl Strategy<Value = Vec<C>> {
    const NAMES: [&str; 6] = ["a", "b", "c", "d", "e", "f"];
    (2usize..=6).prop_flat_map(|n| {
        NAMES[..n]
            .iter()
            .map(|&s| arb_candidate(s))
            .collect::<Vec<_>>()
    })
}

fn arb_constraints() -> impl Strategy<Value = Constraints> {
    (
        proptest::option::of(prop_oneof![
            (0u32..=5).prop_map(|f| QualityFloor::Absolute(f64::from(f) / 5.0)),
            (50u32..=100).prop_map(|f| QualityFloor::Relative(f64::from(f) / 100.0)),
        ]),
        proptest::option::of((1u32..=5).prop_map(|p| f64::from(p) * 100.0)),
        proptest::option::of((1u32..=5).prop_map(|p| f64::from(p) * 25.0)),
        proptest::option::of((0u32..=5).prop_map(|c| Budget::Per1k { usd: f64::from(c) })),
        proptest::option::of((1u64..=4).prop_map(|m| m << 30)),
        any::<bool>(),
        proptest::option::of(prop_oneof![
            Just(Objective::Quality),
            Just(Objective::Cost),
            Just(Objective::Latency)
        ]),
    )
        .prop_map(
            |(floor, p95, ttft, budget, memory, offline, objective)| Constraints {
                quality_floor: floor,
                max_p95_latency_ms: p95,
                max_p95_ttft_ms: ttft,
                budget,
                memory_cap_bytes: memory,
                device: None,
                offline,
                objective,
                context_tokens: None,
            },
        )
}

/// Every figure of `b` at least as good as `a`'s, one strictly better (missing = worst).
fn dominates(b: &C, a: &C) -> bool {
    let q = |x: &C| x.quality.unwrap_or(f64::NEG_INFINITY);
    let low = |x: Option<f64>| -x.unwrap_or(f64::INFINITY);
    let mem = |x: &C| match x.local_memory {
        None => 0,
        Some(m) => m.unwrap_or(u64::MAX),
    };
    let offline = |x: &C| x.local_memory.is_some();
    let keys = |x: &C| {
        [
            q(x),
            low(x.cost_per_request),
            low(x.p95),
            low(x.ttft),
            -(mem(x) as f64),
            f64::from(u8::from(offline(x))),
        ]
    };
    let (kb, ka) = (keys(b), keys(a));
    kb.iter().zip(&ka).all(|(b, a)| b >= a) && kb.iter().zip(&ka).any(|(b, a)| b > a)
}

/// Checked here, independently of the crate's own checks: does `x` meet every constraint?
fn meets(x: &C, all: &[C], k: &Constraints) -> bool {
    let best = all
        .iter()
        .filter_map(|c| c.quality)
        .fold(f64::NEG_INFINITY, f64::max);
    let quality_ok = match k.quality_floor {
        None => true,
        Some(QualityFloor::Absolute(f)) => x.quality.is_some_and(|q| q >= f),
        Some(QualityFloor::Relative(r)) => x.quality.is_some_and(|q| q >= r * best),
    };
    let at_most = |v: Option<f64>, max: Option<f64>| max.is_none_or(|m| v.is_some_and(|v| v <= m));
    quality_ok
        && at_most(x.p95, k.max_p95_latency_ms)
        && at_most(x.ttft, k.max_p95_ttft_ms)
        && at_most(x.cost_per_request, k.budget.map(|b| b.per_request()))
        && match (x.local_memory, k.memory_cap_bytes) {
            (Some(m), Some(cap)) => m.is_some_and(|m| m <= cap),
            _ => true,
        }
        && !(k.offline && x.local_memory.is_none())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn a_dominated_candidate_is_never_recommended(cands in arb_candidates(), k in arb_constraints()) {
        let r = decide(&cands, &k);
        if let Some(chosen) = &r.chosen {
            let a = cands.iter().find(|c| c.name == chosen.as_str()).expect("chosen is a candidate");
            for b in &cands {
                prop_assert!(!dominates(b, a), "{} chosen but {} dominates it", a.name, b.name);
            }
        }
    }

    #[test]
    fn the_choice_meets_every_constraint_and_infeasibility_is_explained(cands in arb_candidates(), k in arb_constraints()) {
        let r = decide(&cands, &k);
        let feasible: Vec<&str> = cands.iter().filter(|c| meets(c, &cands, &k)).map(|c| c.name).collect();
        let mut ranked = names(&r);
        ranked.sort_unstable();
        prop_assert_eq!(&ranked, &feasible);
        prop_assert_eq!(r.ranked.len() + r.rejected.len(), cands.len());
        for x in &r.rejected {
            prop_assert!(!x.violations.is_empty());
        }
        match &r.chosen {
            Some(chosen) => prop_assert_eq!(Some(chosen.as_str()), r.ranked.first().map(|x| x.candidate.as_str())),
            None => {
                prop_assert!(feasible.is_empty());
                prop_assert!(r.reason.starts_with("no candidate meets every constraint"));
            }
        }
    }

    #[test]
    fn adding_a_constraint_never_yields_a_candidate_that_violates_it(
        cands in arb_candidates(), base in arb_constraints(), extra in arb_constraints(), which in 0usize..6,
    ) {
        let mut k = base.clone();
        match which {
            0 => k.quality_floor = extra.quality_floor,
            1 => k.max_p95_latency_ms = extra.max_p95_latency_ms,
            2 => k.max_p95_ttft_ms = extra.max_p95_ttft_ms,
            3 => k.budget = extra.budget,
            4 => k.memory_cap_bytes = extra.memory_cap_bytes,
            _ => k.offline = true,
        }
        let only_extra = Constraints { objective: None, ..match which {
            0 => Constraints { quality_floor: k.quality_floor, ..Default::default() },
            1 => Constraints { max_p95_latency_ms: k.max_p95_latency_ms, ..Default::default() },
            2 => Constraints { max_p95_ttft_ms: k.max_p95_ttft_ms, ..Default::default() },
            3 => Constraints { budget: k.budget, ..Default::default() },
            4 => Constraints { memory_cap_bytes: k.memory_cap_bytes, ..Default::default() },
            _ => Constraints { offline: true, ..Default::default() },
        }};
        let r = decide(&cands, &k);
        if let Some(chosen) = &r.chosen {
            let x = cands.iter().find(|c| c.name == chosen.as_str()).expect("chosen is a candidate");
            prop_assert!(meets(x, &cands, &only_extra), "{} violates the added constraint {:?}", x.name, only_extra);
        }
    }
}
