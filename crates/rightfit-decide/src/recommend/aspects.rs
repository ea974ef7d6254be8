//! The seed's "aspects" table: resource use, quality, specialisation, latency, cost, and where
//! each candidate can run.

use super::recommendation::Aspects;
use super::view::View;
use crate::candidate_facts::{CandidateFacts, Deployment, Workload};
use crate::constraints::Constraints;
use crate::device;
use crate::fmt::{bytes, ms, params, pct, usd};

/// One row per candidate, in run order.
pub(crate) fn table(facts: &[CandidateFacts], views: &[View], c: &Constraints) -> Vec<Aspects> {
    facts.iter().zip(views).map(|(f, v)| row(f, v, c)).collect()
}

fn row(f: &CandidateFacts, v: &View, c: &Constraints) -> Aspects {
    let s = &f.summary;
    let estimate = if v.estimated { " (estimate)" } else { "" };
    let strategy = if s.strategy == "zero-shot" {
        "zero-shot".to_owned()
    } else {
        format!("helped by {}", s.strategy)
    };
    let (resource_use, specialisation, runs_on) = match &f.deployment {
        Deployment::Hosted { provider } => (
            format!("{provider}'s servers; no local memory"),
            format!("general-purpose hosted model, {strategy}"),
            "cloud only: needs the network".to_owned(),
        ),
        Deployment::Local { shape, .. } => {
            let size = shape
                .as_ref()
                .map(|sh| format!("{} params, {}, ", params(sh.params), sh.quantization))
                .unwrap_or_default();
            let memory = v
                .memory
                .map(|m| format!("{} RAM{estimate}", bytes(m)))
                .unwrap_or_else(|| "memory not measured".to_owned());
            let runs_on = match shape {
                Some(sh) => {
                    let mut workload = Workload::of(s);
                    if let Some(context) = c.context_tokens {
                        workload.context_tokens = context;
                    }
                    let fits: Vec<String> = device::catalogue()
                        .iter()
                        .filter(|d| device::fit(sh, workload.context_tokens, 1, d).fits)
                        .map(|d| d.id.clone())
                        .collect();
                    let all = device::catalogue().len();
                    if fits.is_empty() {
                        "offline, here; fits no catalogue device".to_owned()
                    } else if fits.len() == all {
                        format!(
                            "offline; fits every catalogue device ({all}, from a Raspberry Pi 5 up)"
                        )
                    } else {
                        format!("offline; fits {}", fits.join(", "))
                    }
                }
                None => "offline, where rightfit runs (model shape unknown)".to_owned(),
            };
            (
                format!("{size}{memory}"),
                format!("small local model, {strategy}"),
                runs_on,
            )
        }
    };
    let quality = match &v.quality {
        Some(q) => format!(
            "{} [{}, {}], n = {}",
            pct(q.mean),
            pct(q.low),
            pct(q.high),
            q.n
        ),
        None => "not scored".to_owned(),
    };
    let latency = match (v.p50_ms, v.p95_ms) {
        (Some(p50), Some(p95)) => {
            let mut l = format!("p50 {} · p95 {}", ms(p50), ms(p95));
            if let Some(t) = v.ttft_p95_ms {
                l.push_str(&format!(" · TTFT p95 {}", ms(t)));
            }
            format!("{l}{estimate}")
        }
        _ => "not measured".to_owned(),
    };
    let cost = match v.cost {
        Some(x) => format!("{} per 1k requests{estimate}", usd(x * 1000.0)),
        None => "unknown (no price)".to_owned(),
    };
    Aspects {
        candidate: v.name.clone(),
        resource_use,
        quality,
        specialisation,
        latency,
        cost,
        runs_on,
    }
}
