//! `[constraints]` (project-wide) and `[components.NAME.constraints]` (per component): what
//! `rightfit recommend` must respect. A component's table overrides the project's key by key.
//!
//! Only numbers and names are checked here; the device id is checked against the device
//! catalogue by the command that uses it (the catalogue lives in `rightfit-decide`).

use serde::Serialize;

/// The objectives `prefer` accepts.
pub const OBJECTIVES: &[&str] = &["quality", "cost", "latency"];

/// Constraints, every key optional: an unset key constrains nothing. A component's are the
/// project's overridden by its own table ([`ConstraintsConfig::overridden_by`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ConstraintsConfig {
    /// Least mean of the primary metric, 0..=1.
    pub min_quality: Option<f64>,
    /// Least mean as a fraction of the best candidate's, 0..=1 (e.g. 0.95).
    pub min_quality_of_best: Option<f64>,
    /// Most p95 end-to-end latency, milliseconds.
    pub max_p95_latency_ms: Option<f64>,
    /// Most p95 time to first token, milliseconds.
    pub max_p95_ttft_ms: Option<f64>,
    /// Most US dollars per 1,000 requests.
    pub max_cost_per_1k_usd: Option<f64>,
    /// Most US dollars per month, at `requests_per_month`.
    pub max_monthly_usd: Option<f64>,
    /// The monthly volume `max_monthly_usd` is for (also used for break-even figures).
    pub requests_per_month: Option<f64>,
    /// Most memory a local model may use, GB (10⁹ bytes).
    pub max_memory_gb: Option<f64>,
    /// The device local candidates must run on (`rightfit devices` lists the ids).
    pub device: Option<String>,
    /// No network at run time: hosted models are out.
    pub offline: Option<bool>,
    /// What to optimise among feasible candidates: `quality`, `cost` or `latency` (default:
    /// `cost` when a quality floor is set, else `quality`).
    pub prefer: Option<String>,
    /// Context per request, tokens, for sizing the KV cache (default: the run's mean prompt +
    /// output tokens).
    pub context_tokens: Option<u32>,
}

impl ConstraintsConfig {
    /// `self` with every key that `over` sets replaced by `over`'s.
    pub fn overridden_by(&self, over: &ConstraintsConfig) -> ConstraintsConfig {
        ConstraintsConfig {
            // The two floors replace each other: a component that sets one drops the project's other.
            min_quality: if over.min_quality_of_best.is_some() {
                over.min_quality
            } else {
                over.min_quality.or(self.min_quality)
            },
            min_quality_of_best: if over.min_quality.is_some() {
                over.min_quality_of_best
            } else {
                over.min_quality_of_best.or(self.min_quality_of_best)
            },
            max_p95_latency_ms: over.max_p95_latency_ms.or(self.max_p95_latency_ms),
            max_p95_ttft_ms: over.max_p95_ttft_ms.or(self.max_p95_ttft_ms),
            max_cost_per_1k_usd: over.max_cost_per_1k_usd.or(self.max_cost_per_1k_usd),
            max_monthly_usd: over.max_monthly_usd.or(self.max_monthly_usd),
            requests_per_month: over.requests_per_month.or(self.requests_per_month),
            max_memory_gb: over.max_memory_gb.or(self.max_memory_gb),
            device: over.device.clone().or_else(|| self.device.clone()),
            offline: over.offline.or(self.offline),
            prefer: over.prefer.clone().or_else(|| self.prefer.clone()),
            context_tokens: over.context_tokens.or(self.context_tokens),
        }
    }

    /// Whether nothing is set.
    pub fn is_empty(&self) -> bool {
        *self == ConstraintsConfig::default()
    }

    /// Checks the numbers; the error names the key and what is expected.
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        let fraction = |key: &'static str, v: Option<f64>| match v {
            Some(x) if !(0.0..=1.0).contains(&x) => Err((
                key,
                format!("must be a fraction between 0 and 1 (0.8 for 80%), not {x}"),
            )),
            _ => Ok(()),
        };
        let positive = |key: &'static str, v: Option<f64>| match v {
            Some(x) if !(x.is_finite() && x > 0.0) => {
                Err((key, format!("must be a positive number, not {x}")))
            }
            _ => Ok(()),
        };
        fraction("min_quality", self.min_quality)?;
        fraction("min_quality_of_best", self.min_quality_of_best)?;
        if self.min_quality.is_some() && self.min_quality_of_best.is_some() {
            return Err((
                "min_quality_of_best",
                "set either min_quality (absolute) or min_quality_of_best (relative), not both"
                    .to_owned(),
            ));
        }
        positive("max_p95_latency_ms", self.max_p95_latency_ms)?;
        positive("max_p95_ttft_ms", self.max_p95_ttft_ms)?;
        match self.max_cost_per_1k_usd {
            Some(x) if !(x.is_finite() && x >= 0.0) => {
                return Err(("max_cost_per_1k_usd", format!("must be 0 or more, not {x}")));
            }
            _ => {}
        }
        positive("max_monthly_usd", self.max_monthly_usd)?;
        positive("requests_per_month", self.requests_per_month)?;
        positive("max_memory_gb", self.max_memory_gb)?;
        if self.max_monthly_usd.is_some() && self.requests_per_month.is_none() {
            return Err((
                "max_monthly_usd",
                "a monthly budget needs the volume it is for: add requests_per_month".to_owned(),
            ));
        }
        if self.max_monthly_usd.is_some() && self.max_cost_per_1k_usd.is_some() {
            return Err((
                "max_monthly_usd",
                "set either max_cost_per_1k_usd or max_monthly_usd, not both".to_owned(),
            ));
        }
        if let Some(p) = &self.prefer
            && !OBJECTIVES.contains(&p.as_str())
        {
            return Err((
                "prefer",
                format!("must be one of {}, not '{p}'", OBJECTIVES.join(", ")),
            ));
        }
        if self.context_tokens == Some(0) {
            return Err(("context_tokens", "must be at least 1".to_owned()));
        }
        Ok(())
    }
}
