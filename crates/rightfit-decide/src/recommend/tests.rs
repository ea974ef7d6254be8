//! Control flow of [`recommend`](super::recommend): feasibility, ranking, reasons, warnings,
//! and properties that hold for any candidates and constraints.

use std::collections::BTreeMap;

use rightfit_types::{CandidateSummary, Estimate, McNemar, PairedComparison, Percentiles};

use super::{ConstraintKind, Recommendation, recommend};
use crate::candidate_facts::{CandidateFacts, Deployment, ModelShape, Workload};
use crate::constraints::{Budget, Constraints, Objective, QualityFloor};
use crate::device::{self, Calibration, DevicePrice, DeviceProfile};

/// What a test says about one candidate.
#[derive(Debug, Clone)]
pub(super) struct C {
    pub(super) name: &'static str,
    pub(super) quality: Option<f64>,
    /// Half the interval's width.
    pub(super) spread: f64,
    pub(super) n: u64,
    pub(super) cost_per_request: Option<f64>,
    pub(super) p95: Option<f64>,
    pub(super) ttft: Option<f64>,
    /// `None`: hosted; `Some(None)`: local, memory unknown.
    pub(super) local_memory: Option<Option<u64>>,
    /// Local models: the model's shape, when known.
    pub(super) shape: Option<ModelShape>,
    /// Local models: the hardware's price per hour.
    pub(super) cost_per_hour: Option<f64>,
}

fn c(name: &'static str, quality: f64, cost_per_1k: f64, p95: f64) -> C {
    C {
        name,
        quality: Some(quality),
        spread: 0.02,
        n: 200,
        cost_per_request: Some(cost_per_1k / 1000.0),
        p95: Some(p95),
        ttft: Some(p95 / 4.0),
        local_memory: None,
        shape: None,
        cost_per_hour: None,
    }
}

fn local(mut x: C, memory: u64) -> C {
    x.local_memory = Some(Some(memory));
    x
}

fn facts(x: &C) -> CandidateFacts {
    let pct = |p: f64| Percentiles {
        p50: p / 2.0,
        p95: p,
        p99: p * 1.2,
    };
    let summary = CandidateSummary {
        candidate: x.name.to_owned(),
        model: format!("{}-model", x.name),
        strategy: "zero-shot".to_owned(),
        examples: x.n,
        scored: x.n,
        failures: 0,
        unparseable: 0,
        cached: 0,
        quality: x.quality.map(|q| Estimate {
            mean: q,
            low: q - x.spread,
            high: q + x.spread,
            n: x.n,
            confidence: 0.95,
        }),
        latency_ms: x.p95.map(pct),
        ttft_ms: x.ttft.map(pct),
        output_tokens_per_s: None,
        tokens_in_mean: 100.0,
        tokens_out_mean: 10.0,
        tokens_in_total: 100 * x.n,
        tokens_out_total: 10 * x.n,
        cost_per_request_usd: x.cost_per_request,
        cost_per_1k_usd: x.cost_per_request.map(|c| c * 1000.0),
        cost_total_usd: 0.0,
        peak_memory_bytes: x.local_memory.flatten(),
        metrics: BTreeMap::new(),
    };
    let deployment = match x.local_memory {
        None => Deployment::Hosted {
            provider: "openai".to_owned(),
        },
        Some(_) => Deployment::Local {
            shape: x.shape.clone(),
            context_size: None,
            parallel: 1,
            cost_per_hour: x.cost_per_hour,
            calibration: None,
        },
    };
    CandidateFacts {
        summary,
        deployment,
    }
}

fn calibration() -> Calibration {
    Calibration {
        decode_efficiency: 0.5,
        prefill_efficiency: 0.5,
        source: "test".to_owned(),
    }
}

pub(super) fn decide(cands: &[C], constraints: &Constraints) -> Recommendation {
    decide_with(cands, &[], constraints)
}

fn decide_with(cands: &[C], comparisons: &[PairedComparison], k: &Constraints) -> Recommendation {
    let facts: Vec<CandidateFacts> = cands.iter().map(facts).collect();
    recommend("intent", "accuracy", &facts, comparisons, k, &calibration())
}

pub(super) fn names(r: &Recommendation) -> Vec<&str> {
    r.ranked.iter().map(|x| x.candidate.as_str()).collect()
}

fn three() -> Vec<C> {
    vec![
        c("gpt-4o", 0.92, 2.50, 900.0),
        local(c("smol-few", 0.86, 0.0, 400.0), 300 << 20),
        local(c("smol-zero", 0.70, 0.0, 300.0), 300 << 20),
    ]
}

#[test]
fn no_constraints_picks_the_best_quality_and_ranks_the_rest() {
    let r = decide(&three(), &Constraints::default());
    assert_eq!(r.objective, Objective::Quality);
    assert_eq!(r.chosen.as_deref(), Some("gpt-4o"));
    assert_eq!(names(&r), ["gpt-4o", "smol-few", "smol-zero"]);
    assert!(r.rejected.is_empty());
    assert!(
        r.reason.starts_with("gpt-4o: highest accuracy"),
        "{}",
        r.reason
    );
    assert!(r.reason.contains("Runner-up: smol-few"), "{}", r.reason);
}

#[test]
fn a_quality_floor_makes_the_cheapest_good_enough_candidate_win() {
    let k = Constraints {
        quality_floor: Some(QualityFloor::Absolute(0.80)),
        ..Default::default()
    };
    let r = decide(&three(), &k);
    assert_eq!(r.objective, Objective::Cost);
    assert_eq!(r.chosen.as_deref(), Some("smol-few"));
    assert_eq!(names(&r), ["smol-few", "gpt-4o"]);
    assert_eq!(r.rejected.len(), 1);
    assert_eq!(r.rejected[0].candidate, "smol-zero");
    assert_eq!(r.rejected[0].violations[0].kind, ConstraintKind::Quality);
    assert_eq!(
        r.rejected[0].violations[0].message,
        "quality 70.0% < the floor 80.0%"
    );
    // An explicit objective overrides the default.
    let k = Constraints {
        objective: Some(Objective::Quality),
        ..k
    };
    assert_eq!(decide(&three(), &k).chosen.as_deref(), Some("gpt-4o"));
}

#[test]
fn a_relative_floor_is_measured_against_the_best_candidate() {
    let k = Constraints {
        quality_floor: Some(QualityFloor::Relative(0.95)),
        ..Default::default()
    };
    let r = decide(&three(), &k);
    // 0.95 × 0.92 = 0.874: smol-few's 0.86 falls short.
    assert_eq!(r.chosen.as_deref(), Some("gpt-4o"));
    let few = r.rejected.iter().find(|x| x.candidate == "smol-few");
    let message = &few.expect("smol-few rejected").violations[0].message;
    assert_eq!(
        message,
        "quality 86.0% < 95% of the best (gpt-4o at 92.0%) = 87.4%"
    );
}

#[test]
fn a_rejection_on_quality_the_data_cannot_be_sure_of_is_warned_about() {
    let k = Constraints {
        quality_floor: Some(QualityFloor::Relative(0.95)),
        ..Default::default()
    };
    let r = decide(&three(), &k);
    // smol-few: 86.0% [84.0, 88.0] against a floor of 87.4%: its interval reaches it.
    let uncertain: Vec<&String> = r
        .warnings
        .iter()
        .filter(|w| w.contains("was rejected on quality"))
        .collect();
    assert_eq!(uncertain.len(), 1, "{:?}", r.warnings);
    assert!(uncertain[0].starts_with("smol-few was rejected on quality (86.0% < 87.4%), but its interval [84.0%, 88.0%] reaches the floor"), "{}", uncertain[0]);
}

#[test]
fn latency_budget_memory_and_offline_each_reject_with_numbers() {
    let k = Constraints {
        max_p95_latency_ms: Some(500.0),
        ..Default::default()
    };
    let r = decide(&three(), &k);
    assert_eq!(r.rejected[0].candidate, "gpt-4o");
    assert_eq!(
        r.rejected[0].violations[0].message,
        "p95 latency 900 ms > 500 ms"
    );
    assert_eq!(r.chosen.as_deref(), Some("smol-few"));

    let k = Constraints {
        budget: Some(Budget::Per1k { usd: 1.0 }),
        ..Default::default()
    };
    let r = decide(&three(), &k);
    assert_eq!(
        r.rejected[0].violations[0].message,
        "$2.50 per 1k requests > budget $1.00 per 1k"
    );
    let k = Constraints {
        budget: Some(Budget::Monthly {
            usd: 100.0,
            requests: 100_000.0,
        }),
        ..Default::default()
    };
    let r = decide(&three(), &k);
    assert_eq!(
        r.rejected[0].violations[0].message,
        "$250.00 per month at 100000 requests > budget $100.00"
    );

    let mut cands = three();
    cands[2].local_memory = Some(Some(3 << 30));
    let k = Constraints {
        memory_cap_bytes: Some(1 << 30),
        ..Default::default()
    };
    let r = decide(&cands, &k);
    // Hosted models use no local memory, so the cap does not touch them.
    assert_eq!(names(&r), ["gpt-4o", "smol-few"]);
    assert_eq!(
        r.rejected[0].violations[0].message,
        "needs 3.00 GiB > cap 1.00 GiB"
    );

    let k = Constraints {
        offline: true,
        ..Default::default()
    };
    let r = decide(&three(), &k);
    assert_eq!(r.chosen.as_deref(), Some("smol-few"));
    assert_eq!(r.rejected[0].violations[0].kind, ConstraintKind::Offline);
}

#[test]
fn missing_figures_cannot_prove_a_constraint_is_met() {
    let mut cands = three();
    cands[0].cost_per_request = None;
    cands[1].ttft = None;
    cands[2].local_memory = Some(None);
    let k = Constraints {
        budget: Some(Budget::Per1k { usd: 10.0 }),
        max_p95_ttft_ms: Some(10_000.0),
        memory_cap_bytes: Some(1 << 40),
        ..Default::default()
    };
    let r = decide(&cands, &k);
    assert_eq!(r.chosen, None);
    let kinds: Vec<Vec<ConstraintKind>> = r
        .rejected
        .iter()
        .map(|x| x.violations.iter().map(|v| v.kind).collect())
        .collect();
    assert_eq!(
        kinds,
        [
            vec![ConstraintKind::Budget],
            vec![ConstraintKind::Ttft],
            vec![ConstraintKind::Memory]
        ]
    );
    assert!(r.rejected[0].violations[0].message.contains("cost unknown"));
}

#[test]
fn an_empty_feasible_set_names_the_closest_candidate_and_what_it_breaks() {
    let k = Constraints {
        quality_floor: Some(QualityFloor::Absolute(0.90)),
        max_p95_latency_ms: Some(500.0),
        ..Default::default()
    };
    let r = decide(&three(), &k);
    assert_eq!(r.chosen, None);
    assert!(r.ranked.is_empty());
    assert_eq!(r.rejected.len(), 3);
    // Each breaks one constraint; the first in run order is named.
    assert!(
        r.reason.starts_with(
            "no candidate meets every constraint. Closest: gpt-4o, which breaks 1 constraint: \
             p95 latency 900 ms > 500 ms."
        ),
        "{}",
        r.reason
    );
    let r = decide(&[], &k);
    assert_eq!(r.chosen, None);
    assert_eq!(r.warnings, ["the run has no candidates"]);
}

#[test]
fn ties_on_the_objective_are_broken_by_the_next_figures_and_said() {
    let cands = vec![
        local(c("b-local", 0.80, 0.0, 300.0), 100 << 20),
        local(c("a-local", 0.85, 0.0, 300.0), 100 << 20),
    ];
    let k = Constraints {
        objective: Some(Objective::Cost),
        ..Default::default()
    };
    let r = decide(&cands, &k);
    assert_eq!(names(&r), ["a-local", "b-local"]);
    assert!(r.warnings[0].starts_with("a-local and b-local tie on the objective"));
    // Identical figures: offline beats hosted, then the name decides.
    let cands = vec![c("z", 0.8, 0.0, 300.0), local(c("y", 0.8, 0.0, 300.0), 0)];
    let r = decide(&cands, &Constraints::default());
    assert_eq!(names(&r), ["y", "z"]);
}

fn comparison(a: &str, b: &str, diff: (f64, f64, f64), mcnemar_p: Option<f64>) -> PairedComparison {
    PairedComparison {
        a: a.to_owned(),
        b: b.to_owned(),
        n: 200,
        mean_a: 0.9,
        mean_b: 0.9 + diff.0,
        diff: Estimate {
            mean: diff.0,
            low: diff.1,
            high: diff.2,
            n: 200,
            confidence: 0.95,
        },
        p_b_worse: 0.5,
        mcnemar: mcnemar_p.map(|p| McNemar {
            a_only: 10,
            b_only: 8,
            statistic: 8.0,
            p_value: p,
            exact: true,
        }),
    }
}

#[test]
fn a_choice_not_separated_from_the_runner_up_is_warned_about() {
    let cands = vec![c("big", 0.90, 2.0, 900.0), c("mid", 0.89, 1.0, 500.0)];
    let paired = [comparison("big", "mid", (-0.01, -0.04, 0.02), Some(0.81))];
    let r = decide_with(&cands, &paired, &Constraints::default());
    assert_eq!(r.chosen.as_deref(), Some("big"));
    let w = r
        .warnings
        .iter()
        .find(|w| w.contains("not statistically separated"))
        .expect("separation warning");
    assert!(
        w.contains("paired difference -1.0 points [-4.0, +2.0] over 200 examples, McNemar p = 0.810 (mid − big)"),
        "{w}"
    );
    assert!(
        w.ends_with("the choice could flip with more examples"),
        "{w}"
    );
    // Separated by the paired test: no warning, even though the intervals overlap.
    let paired = [comparison("big", "mid", (-0.01, -0.02, -0.005), Some(0.01))];
    let r = decide_with(&cands, &paired, &Constraints::default());
    assert!(
        !r.warnings.iter().any(|w| w.contains("separated")),
        "{:?}",
        r.warnings
    );
    // No paired comparison for the pair: the intervals decide.
    let r = decide(&cands, &Constraints::default());
    assert!(
        r.warnings
            .iter()
            .any(|w| w.contains("the intervals overlap"))
    );
    let far = vec![c("big", 0.90, 2.0, 900.0), c("low", 0.60, 1.0, 500.0)];
    let r = decide(&far, &Constraints::default());
    assert!(!r.warnings.iter().any(|w| w.contains("separated")));
}

#[test]
fn a_floor_met_only_on_the_mean_and_few_examples_are_warned_about() {
    let mut small = local(c("smol", 0.81, 0.0, 300.0), 100 << 20);
    small.spread = 0.05;
    small.n = 20;
    let k = Constraints {
        quality_floor: Some(QualityFloor::Absolute(0.80)),
        ..Default::default()
    };
    let r = decide(&[small], &k);
    assert_eq!(r.chosen.as_deref(), Some("smol"));
    assert!(
        r.warnings.iter().any(|w| w.contains(
            "meets the quality floor 80.0% on its mean (81.0%) but its interval reaches 76.0%"
        )),
        "{:?}",
        r.warnings
    );
    assert!(
        r.warnings
            .iter()
            .any(|w| w.starts_with("only 20 examples scored"))
    );
}

#[test]
fn pareto_frontiers_and_aspects_cover_every_candidate() {
    let mut cands = three();
    cands.push(c("dominated", 0.80, 3.0, 1000.0));
    let r = decide(&cands, &Constraints::default());
    assert_eq!(r.pareto_cost, ["smol-few", "gpt-4o"]);
    assert_eq!(r.pareto_latency, ["smol-zero", "smol-few", "gpt-4o"]);
    assert_eq!(r.aspects.len(), 4);
    assert_eq!(r.aspects[0].runs_on, "cloud only: needs the network");
    assert!(
        r.aspects[1].resource_use.contains("300 MiB RAM"),
        "{:?}",
        r.aspects[1]
    );
    assert_eq!(r.aspects[1].quality, "86.0% [84.0%, 88.0%], n = 200");
}

/// SmolLM2-135M-Instruct Q4_1 as its GGUF header describes it.
fn smollm2_shape() -> ModelShape {
    crate::candidate_facts::smollm2_135m_q4_1()
}

fn priced_pi() -> DeviceProfile {
    let mut pi = device::find("raspberry-pi-5-8gb").expect("the Pi is in the catalogue");
    pi.price = Some(DevicePrice::Hourly { usd: 3.6 });
    pi
}

#[test]
fn on_a_target_device_local_figures_become_its_estimates_and_hosted_ones_stay_measured() {
    let mut with_shape = local(c("smol", 0.80, 0.0, 400.0), 300 << 20);
    with_shape.shape = Some(smollm2_shape());
    let shapeless = local(c("shapeless", 0.80, 0.0, 400.0), 300 << 20);
    let cands = vec![c("gpt-4o", 0.92, 2.50, 900.0), with_shape, shapeless];
    let pi = priced_pi();
    let k = Constraints {
        device: Some(pi.clone()),
        ..Default::default()
    };
    let r = decide(&cands, &k);
    let speed = device::predict(
        &smollm2_shape(),
        &Workload::of(&facts(&cands[1]).summary),
        &pi,
        &calibration(),
    );
    let smol = r
        .ranked
        .iter()
        .find(|x| x.candidate == "smol")
        .expect("smol feasible");
    assert!(smol.estimated);
    assert_eq!(smol.p95_latency_ms, Some(speed.request_ms));
    assert_eq!(smol.p95_ttft_ms, Some(speed.ttft_ms));
    // $3.60 an hour is $0.001 a second: the request's share of the device.
    let per_1k = smol.cost_per_1k_usd.expect("priced");
    assert!(
        (per_1k - speed.request_ms / 1000.0 * 0.001 * 1000.0).abs() < 1e-12,
        "{per_1k}"
    );
    let fit = device::fit(&smollm2_shape(), 110, 1, &pi);
    assert!(fit.fits);
    assert_eq!(smol.memory_bytes, Some(fit.needed_bytes));
    assert_eq!(r.devices.len(), 1);
    assert_eq!(r.devices[0].device, "raspberry-pi-5-8gb");
    let gpt = r
        .ranked
        .iter()
        .find(|x| x.candidate == "gpt-4o")
        .expect("hosted feasible");
    assert!(!gpt.estimated);
    assert_eq!(gpt.p95_latency_ms, Some(900.0));
    assert_eq!(r.rejected.len(), 1);
    assert_eq!(r.rejected[0].candidate, "shapeless");
    assert_eq!(r.rejected[0].violations[0].kind, ConstraintKind::Device);
    assert!(
        r.rejected[0].violations[0]
            .message
            .contains("shape is unknown")
    );
    // A context the Pi cannot hold: the fit fails, with the sum spelled out.
    let k = Constraints {
        device: Some(pi),
        context_tokens: Some(1_000_000),
        ..Default::default()
    };
    let r = decide(&cands, &k);
    let smol = r
        .rejected
        .iter()
        .find(|x| x.candidate == "smol")
        .expect("smol rejected");
    let m = &smol.violations[0].message;
    assert!(
        m.starts_with("does not fit on Raspberry Pi 5") && m.contains("KV cache"),
        "{m}"
    );
    assert!(r.warnings.is_empty() || r.chosen.as_deref() == Some("gpt-4o"));
}

#[test]
fn break_even_rows_price_local_hardware_against_each_hosted_candidate() {
    let mut here = local(c("smol", 0.80, 0.0, 400.0), 300 << 20);
    here.cost_per_hour = Some(1.0);
    let free = local(c("free", 0.70, 0.0, 300.0), 300 << 20);
    let cands = vec![c("gpt-4o", 0.92, 2.50, 900.0), here, free];
    let r = decide(&cands, &Constraints::default());
    // Only the local candidate with a price gets a row; one per priced hosted candidate.
    assert_eq!(r.break_even.len(), 1);
    let row = &r.break_even[0];
    assert_eq!(
        (row.local.as_str(), row.hosted.as_str()),
        ("smol", "gpt-4o")
    );
    assert!(row.measured);
    assert_eq!(row.on, "this machine");
    let f = &row.figures;
    // $1/h × 730 h = $730 a month; at $0.0025 a request that is 292,000 requests.
    assert!((f.local_monthly_usd - 730.0).abs() < 1e-9);
    assert!((f.requests_per_month.expect("cheaper above a volume") - 292_000.0).abs() < 1e-6);
    // One request holds the machine for its p50, 200 ms: 5 a second.
    assert!((f.capacity_per_month - 5.0 * device::SECONDS_PER_MONTH).abs() < 1e-3);
    // On a priced target device the row uses the device's estimate instead.
    let mut on_pi = local(c("smol", 0.80, 0.0, 400.0), 300 << 20);
    on_pi.shape = Some(smollm2_shape());
    let cands = vec![c("gpt-4o", 0.92, 2.50, 900.0), on_pi];
    let k = Constraints {
        device: Some(priced_pi()),
        ..Default::default()
    };
    let r = decide(&cands, &k);
    assert_eq!(r.break_even.len(), 1);
    assert!(!r.break_even[0].measured);
    assert_eq!(r.break_even[0].on, "Raspberry Pi 5 (8 GB)");
}
