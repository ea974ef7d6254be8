//! Break-even rows: for each local candidate that could replace a hosted one, the monthly volume
//! above which running it costs less than the API.
//!
//! Two sources of hardware speed and price: the target device (roofline estimate, its catalogue
//! price), or this machine as measured by the run (p50 latency shared by the sequences decoded
//! together) at the `cost_per_hour` the config gives the model.

use super::recommendation::BreakEvenRow;
use super::view::View;
use crate::candidate_facts::{CandidateFacts, Deployment};
use crate::constraints::Constraints;
use crate::device::{self, DevicePrice, Speed};

/// Every priced local candidate against every priced hosted one.
pub(crate) fn rows(facts: &[CandidateFacts], views: &[View], c: &Constraints) -> Vec<BreakEvenRow> {
    let hosted: Vec<(&View, f64)> = views
        .iter()
        .filter(|v| v.hosted)
        .filter_map(|v| v.cost.filter(|c| *c > 0.0).map(|c| (v, c)))
        .collect();
    if hosted.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    for (f, v) in facts.iter().zip(views) {
        let Deployment::Local {
            parallel,
            cost_per_hour,
            ..
        } = &f.deployment
        else {
            continue;
        };
        let (speed, price, on, measured) = match (&c.device, &v.device) {
            (Some(d), Some(verdict)) => match (&d.price, verdict.fit.fits) {
                (Some(p), true) => (verdict.speed.clone(), *p, d.name.clone(), false),
                _ => continue,
            },
            (Some(_), None) => continue,
            (None, _) => match (cost_per_hour, v.p50_ms) {
                (Some(usd), Some(p50)) if p50 > 0.0 => (
                    // Requests decoded together share the machine: each takes p50 / parallel of it.
                    Speed {
                        prefill_tokens_per_s: 0.0,
                        decode_tokens_per_s: 0.0,
                        ttft_ms: v.ttft_p95_ms.unwrap_or(0.0),
                        request_ms: p50 / (*parallel).max(1) as f64,
                    },
                    DevicePrice::Hourly { usd: *usd },
                    "this machine".to_owned(),
                    true,
                ),
                _ => continue,
            },
        };
        for (h, cost) in &hosted {
            out.push(BreakEvenRow {
                local: v.name.clone(),
                hosted: h.name.clone(),
                on: on.clone(),
                measured,
                figures: device::break_even(&speed, &price, *cost),
            });
        }
    }
    out
}
