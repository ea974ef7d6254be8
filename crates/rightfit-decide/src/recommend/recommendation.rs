//! What a recommendation says: the choice, the ranking, the rejections with the constraints each
//! broke, the aspects table, device verdicts and break-even rows.

use serde::{Deserialize, Serialize};

use crate::constraints::{Constraints, Objective};
use crate::device::{BreakEven, Fit, Speed};

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
    /// The candidate's name.
    pub candidate: String,
    /// Every constraint it broke.
    pub violations: Vec<Violation>,
}

/// A feasible candidate with the figures it was ranked by.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ranked {
    /// The candidate's name.
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
    /// The candidate's name.
    pub candidate: String,
    /// The device's catalogue id.
    pub device: String,
    /// Memory needed against memory available.
    pub fit: Fit,
    /// Estimated speed there.
    pub speed: Speed,
}

/// The seed's "aspects" of a candidate, in words a person compares at a glance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Aspects {
    /// The candidate's name.
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
    /// The component's name.
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

/// One local candidate against one hosted candidate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BreakEvenRow {
    /// The local candidate.
    pub local: String,
    /// The hosted candidate it would replace.
    pub hosted: String,
    /// Where the local one runs: a device's name, or "this machine".
    pub on: String,
    /// Speed measured by the run (this machine) rather than estimated for a device.
    pub measured: bool,
    /// The hardware's monthly cost and capacity, the API's cost per request, and the volume
    /// above which local is cheaper.
    pub figures: BreakEven,
}
