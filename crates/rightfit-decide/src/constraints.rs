//! A team's constraints, and what to optimise among the candidates that meet them.

use serde::{Deserialize, Serialize};

use crate::device::DeviceProfile;

/// The least quality acceptable.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "kebab-case")]
pub enum QualityFloor {
    /// The primary metric's mean must be at least this (0..=1).
    Absolute(f64),
    /// The mean must be at least this fraction of the best candidate's mean (all candidates of
    /// the run, met constraints or not), e.g. 0.95.
    Relative(f64),
}

/// What a team can spend.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Budget {
    /// US dollars per 1,000 requests.
    Per1k {
        /// Dollars.
        usd: f64,
    },
    /// US dollars per month at a stated volume.
    Monthly {
        /// Dollars per month.
        usd: f64,
        /// Requests per month.
        requests: f64,
    },
}

impl Budget {
    /// The budget as dollars per request.
    pub fn per_request(&self) -> f64 {
        match *self {
            Budget::Per1k { usd } => usd / 1000.0,
            Budget::Monthly { usd, requests } => usd / requests.max(1.0),
        }
    }
}

/// What to optimise among feasible candidates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Objective {
    /// The highest quality (then the cheapest, then the fastest).
    Quality,
    /// The cheapest (then the best, then the fastest).
    Cost,
    /// The fastest at p95 (then the best, then the cheapest).
    Latency,
}

/// Constraints on one component's choice. Every field is optional; none set means every
/// candidate is feasible.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Constraints {
    /// Least quality.
    pub quality_floor: Option<QualityFloor>,
    /// Most p95 end-to-end latency, milliseconds.
    pub max_p95_latency_ms: Option<f64>,
    /// Most p95 time to first token, milliseconds.
    pub max_p95_ttft_ms: Option<f64>,
    /// Most spend.
    pub budget: Option<Budget>,
    /// Most memory a local model may use, bytes (weights + KV cache + runtime).
    pub memory_cap_bytes: Option<u64>,
    /// The device local candidates must run on: they must fit in its memory, and their latency
    /// is the roofline estimate on that device instead of what was measured here.
    pub device: Option<DeviceProfile>,
    /// No network at run time: hosted candidates are infeasible.
    pub offline: bool,
    /// What to optimise; `None`: cost when a quality floor is set (the cheapest good-enough
    /// candidate), quality otherwise.
    pub objective: Option<Objective>,
    /// Context per request, tokens, for sizing the KV cache; `None`: the run's mean prompt +
    /// output tokens.
    pub context_tokens: Option<u32>,
}

impl Constraints {
    /// The objective in force.
    pub fn objective(&self) -> Objective {
        self.objective.unwrap_or(if self.quality_floor.is_some() {
            Objective::Cost
        } else {
            Objective::Quality
        })
    }
}

impl Constraints {
    /// Each constraint that is set, in words ("p95 latency ≤ 800 ms"); empty when none is.
    pub fn describe(&self) -> Vec<String> {
        use crate::fmt::{bytes, ms, pct, usd};
        let mut out = Vec::new();
        match self.quality_floor {
            Some(QualityFloor::Absolute(f)) => out.push(format!("quality ≥ {}", pct(f))),
            Some(QualityFloor::Relative(r)) => {
                out.push(format!(
                    "quality ≥ {:.0}% of the best candidate's",
                    r * 100.0
                ));
            }
            None => {}
        }
        if let Some(x) = self.max_p95_latency_ms {
            out.push(format!("p95 latency ≤ {}", ms(x)));
        }
        if let Some(x) = self.max_p95_ttft_ms {
            out.push(format!("p95 time to first token ≤ {}", ms(x)));
        }
        match self.budget {
            Some(Budget::Per1k { usd: b }) => {
                out.push(format!("cost ≤ {} per 1k requests", usd(b)))
            }
            Some(Budget::Monthly { usd: b, requests }) => {
                out.push(format!(
                    "cost ≤ {} per month at {requests:.0} requests",
                    usd(b)
                ));
            }
            None => {}
        }
        if let Some(x) = self.memory_cap_bytes {
            out.push(format!(
                "local memory ≤ {:.2} GB ({})",
                x as f64 / 1e9,
                bytes(x)
            ));
        }
        if let Some(d) = &self.device {
            out.push(format!("local models run on {} ({})", d.name, d.id));
        }
        if self.offline {
            out.push("offline (no hosted models)".to_owned());
        }
        if let Some(c) = self.context_tokens {
            out.push(format!("context {c} tokens per request"));
        }
        out
    }
}
