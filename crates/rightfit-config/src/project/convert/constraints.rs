//! `[constraints]` and `[components.NAME.constraints]`.

use toml::Spanned;

use super::locate::Locator;
use crate::project::constraints::ConstraintsConfig;
use crate::project::error::ConfigError;
use crate::project::raw::RawConstraints;

/// `base` with every key the table `raw` sets replaced by its value, checked; errors name the
/// key under `prefix` (`constraints`, `components.NAME.constraints`).
pub(super) fn over(
    at: &Locator<'_>,
    prefix: &str,
    base: &ConstraintsConfig,
    raw: Spanned<RawConstraints>,
) -> Result<ConstraintsConfig, ConfigError> {
    let span = raw.span();
    let raw = raw.into_inner();
    let written = ConstraintsConfig {
        min_quality: raw.min_quality,
        min_quality_of_best: raw.min_quality_of_best,
        max_p95_latency_ms: raw.max_p95_latency_ms,
        max_p95_ttft_ms: raw.max_p95_ttft_ms,
        max_cost_per_1k_usd: raw.max_cost_per_1k_usd,
        max_monthly_usd: raw.max_monthly_usd,
        requests_per_month: raw.requests_per_month,
        max_memory_gb: raw.max_memory_gb,
        device: raw.device,
        offline: raw.offline,
        prefer: raw.prefer,
        context_tokens: raw.context_tokens,
    };
    let merged = base.overridden_by(&written);
    merged
        .check()
        .map_err(|(k, m)| at.invalid(span, format!("{prefix}.{k}"), m))?;
    Ok(merged)
}
