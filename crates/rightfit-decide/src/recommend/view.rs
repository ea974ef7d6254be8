//! The figures each candidate is judged by, and the constraints it breaks.
//!
//! Without a target device these are the run's measurements. With one, a local candidate's
//! latency, time to first token, memory and cost are roofline estimates for that device (see
//! [`crate::device`]); hosted candidates keep their measurements (they run on the provider's
//! machines whatever device calls them).

use rightfit_types::Estimate;

use super::recommendation::{ConstraintKind, DeviceVerdict, Violation};
use crate::candidate_facts::{CandidateFacts, Deployment, Workload};
use crate::constraints::{Budget, Constraints, QualityFloor};
use crate::device::{self, Calibration, DevicePrice};
use crate::fmt::{bytes, ms, pct, usd};

/// One candidate's effective figures.
#[derive(Debug, Clone)]
pub(crate) struct View {
    pub name: String,
    pub quality: Option<Estimate>,
    /// US dollars per request.
    pub cost: Option<f64>,
    pub p95_ms: Option<f64>,
    pub p50_ms: Option<f64>,
    pub ttft_p95_ms: Option<f64>,
    /// Local memory, bytes; `Some(0)` never: hosted models have `None` and `hosted` set.
    pub memory: Option<u64>,
    pub hosted: bool,
    /// Latency, memory and cost are estimates for the target device.
    pub estimated: bool,
    pub device: Option<DeviceVerdict>,
    /// Why the device estimate could not be made.
    pub device_problem: Option<String>,
    /// Examples that failed.
    pub failures: u64,
    /// Examples in the quality estimate.
    pub scored: u64,
}

impl View {
    /// The quality mean, or −∞ when nothing was scored (sorts last).
    pub fn q(&self) -> f64 {
        self.quality.as_ref().map_or(f64::NEG_INFINITY, |e| e.mean)
    }
}

/// What running on a device costs per hour of use (owned devices: their monthly cost spread
/// over every hour of the month).
pub(crate) fn hourly(price: &DevicePrice) -> f64 {
    device::monthly_cost(price) / device::HOURS_PER_MONTH
}

/// The figures `facts` is judged by under `constraints`.
pub(crate) fn view(
    facts: &CandidateFacts,
    constraints: &Constraints,
    calibration: &Calibration,
) -> View {
    let s = &facts.summary;
    let mut v = View {
        name: s.candidate.clone(),
        quality: s.quality.clone(),
        cost: s.cost_per_request_usd,
        p95_ms: s.latency_ms.as_ref().map(|p| p.p95),
        p50_ms: s.latency_ms.as_ref().map(|p| p.p50),
        ttft_p95_ms: s.ttft_ms.as_ref().map(|p| p.p95),
        memory: None,
        hosted: true,
        estimated: false,
        device: None,
        device_problem: None,
        failures: s.failures,
        scored: s.scored,
    };
    let Deployment::Local {
        shape,
        context_size,
        parallel,
        calibration: own,
        ..
    } = &facts.deployment
    else {
        return v;
    };
    v.hosted = false;
    let mut workload = Workload::of(s);
    if let Some(context) = constraints.context_tokens {
        workload.context_tokens = context;
    }
    v.memory = s.peak_memory_bytes.or_else(|| {
        shape.as_ref().map(|shape| {
            // The engine's context is shared by its parallel sequences.
            let parallel = (*parallel).max(1);
            let per_sequence =
                context_size.map_or(workload.context_tokens, |c| (c / parallel as u32).max(1));
            device::memory_needed(shape, per_sequence, parallel).needed_bytes
        })
    });
    let Some(target) = &constraints.device else {
        return v;
    };
    let Some(shape) = shape else {
        v.device_problem = Some(format!(
            "its model's shape is unknown (GGUF header not read), so fit on {} cannot be judged",
            target.name
        ));
        return v;
    };
    // One sequence at a time on the device: the smallest memory and the per-request speed.
    let fit = device::fit(shape, workload.context_tokens, 1, target);
    let speed = device::predict(
        shape,
        &workload,
        target,
        own.as_ref().unwrap_or(calibration),
    );
    v.estimated = true;
    v.memory = Some(fit.needed_bytes);
    v.p95_ms = Some(speed.request_ms);
    v.p50_ms = Some(speed.request_ms);
    v.ttft_p95_ms = Some(speed.ttft_ms);
    v.cost = target
        .price
        .as_ref()
        .map(|p| hourly(p) * speed.request_ms / 3_600_000.0);
    v.device = Some(DeviceVerdict {
        candidate: v.name.clone(),
        device: target.id.clone(),
        fit,
        speed,
    });
    v
}

/// The best quality mean among all candidates (the reference of a relative floor).
pub(crate) fn best_quality(views: &[View]) -> Option<(&View, f64)> {
    views
        .iter()
        .filter_map(|v| v.quality.as_ref().map(|q| (v, q.mean)))
        .fold(None, |best, (v, q)| match best {
            Some((_, b)) if b >= q => best,
            _ => Some((v, q)),
        })
}

fn violation(kind: ConstraintKind, message: String) -> Violation {
    Violation { kind, message }
}

/// The quality a floor demands, and the demand in words. A relative floor is measured against
/// the best candidate of the run; with no scored candidate nothing can meet it.
pub(crate) fn floor_threshold(floor: QualityFloor, all: &[View]) -> (f64, String) {
    match floor {
        QualityFloor::Absolute(f) => (f, format!("the floor {}", pct(f))),
        QualityFloor::Relative(r) => match best_quality(all) {
            Some((best, q)) => (
                r * q,
                format!(
                    "{:.0}% of the best ({} at {}) = {}",
                    r * 100.0,
                    best.name,
                    pct(q),
                    pct(r * q)
                ),
            ),
            None => (f64::INFINITY, "a floor relative to the best".to_owned()),
        },
    }
}

/// Every constraint `v` breaks; empty when it is feasible.
pub(crate) fn violations(v: &View, all: &[View], c: &Constraints) -> Vec<Violation> {
    let mut out = Vec::new();
    let on_device = |estimated: bool| match (&c.device, estimated) {
        (Some(d), true) => format!(" (estimate on {})", d.name),
        _ => String::new(),
    };
    if let Some(floor) = c.quality_floor {
        let (threshold, what) = floor_threshold(floor, all);
        match &v.quality {
            None => out.push(violation(
                ConstraintKind::Quality,
                "no scored examples, so quality is unknown".to_owned(),
            )),
            Some(q) if q.mean < threshold => out.push(violation(
                ConstraintKind::Quality,
                format!("quality {} < {what}", pct(q.mean)),
            )),
            Some(_) => {}
        }
    }
    if let Some(max) = c.max_p95_latency_ms {
        match v.p95_ms {
            None => out.push(violation(
                ConstraintKind::Latency,
                "no latency measured (every example failed)".to_owned(),
            )),
            Some(p) if p > max => out.push(violation(
                ConstraintKind::Latency,
                format!(
                    "p95 latency {} > {}{}",
                    ms(p),
                    ms(max),
                    on_device(v.estimated)
                ),
            )),
            Some(_) => {}
        }
    }
    if let Some(max) = c.max_p95_ttft_ms {
        match v.ttft_p95_ms {
            None => out.push(violation(
                ConstraintKind::Ttft,
                "time to first token not measured (the provider did not stream)".to_owned(),
            )),
            Some(p) if p > max => out.push(violation(
                ConstraintKind::Ttft,
                format!(
                    "p95 time to first token {} > {}{}",
                    ms(p),
                    ms(max),
                    on_device(v.estimated)
                ),
            )),
            Some(_) => {}
        }
    }
    if let Some(budget) = c.budget {
        match v.cost {
            None => out.push(violation(
                ConstraintKind::Budget,
                "cost unknown (no price for its model: set `price` in the config)".to_owned(),
            )),
            Some(cost) if cost > budget.per_request() => {
                let said = match budget {
                    Budget::Per1k { usd: b } => {
                        format!(
                            "{} per 1k requests > budget {} per 1k",
                            usd(cost * 1000.0),
                            usd(b)
                        )
                    }
                    Budget::Monthly { usd: b, requests } => format!(
                        "{} per month at {requests:.0} requests > budget {}",
                        usd(cost * requests),
                        usd(b)
                    ),
                };
                out.push(violation(
                    ConstraintKind::Budget,
                    format!("{said}{}", on_device(v.estimated)),
                ));
            }
            Some(_) => {}
        }
    }
    if let (Some(cap), false) = (c.memory_cap_bytes, v.hosted) {
        match v.memory {
            None => out.push(violation(
                ConstraintKind::Memory,
                "memory use unknown (not measured, model shape unknown)".to_owned(),
            )),
            Some(m) if m > cap => out.push(violation(
                ConstraintKind::Memory,
                format!("needs {} > cap {}", bytes(m), bytes(cap)),
            )),
            Some(_) => {}
        }
    }
    if let Some(problem) = &v.device_problem {
        out.push(violation(ConstraintKind::Device, problem.clone()));
    }
    if let (Some(d), Some(verdict)) = (&c.device, &v.device)
        && !verdict.fit.fits
    {
        out.push(violation(
            ConstraintKind::Device,
            format!(
                "does not fit on {}: needs {} (weights {} + KV cache {} + runtime {}) > {} usable",
                d.name,
                bytes(verdict.fit.needed_bytes),
                bytes(verdict.fit.weights_bytes),
                bytes(verdict.fit.kv_cache_bytes),
                bytes(verdict.fit.runtime_bytes),
                bytes(verdict.fit.available_bytes.unwrap_or(d.usable_memory_bytes)),
            ),
        ));
    }
    if c.offline && v.hosted {
        out.push(violation(
            ConstraintKind::Offline,
            "a hosted model needs the network; offline is required".to_owned(),
        ));
    }
    out
}
