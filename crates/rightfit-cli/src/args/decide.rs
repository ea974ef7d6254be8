//! Arguments of the decision commands: `recommend`, `report`, `devices`.

use std::path::PathBuf;

use clap::Args;

use super::common::{ProjectArgs, ReportFormat};

/// Constraints given on the command line; each overrides the same key of the config.
#[derive(Debug, Args)]
#[command(next_help_heading = "Constraints (override rightfit.toml)")]
pub struct ConstraintArgs {
    /// Least quality: the primary metric's mean, 0..1 (0.8 = 80%).
    #[arg(long, value_name = "FRACTION")]
    pub min_quality: Option<f64>,
    /// Least quality as a fraction of the best candidate's (0.95 = 95% of the best).
    #[arg(long, value_name = "FRACTION")]
    pub min_quality_of_best: Option<f64>,
    /// Most p95 end-to-end latency, milliseconds.
    #[arg(long, value_name = "MS")]
    pub max_p95_ms: Option<f64>,
    /// Most p95 time to first token, milliseconds.
    #[arg(long, value_name = "MS")]
    pub max_ttft_ms: Option<f64>,
    /// Most US dollars per 1,000 requests.
    #[arg(long, value_name = "USD")]
    pub max_cost_per_1k: Option<f64>,
    /// Most US dollars per month (with --requests-per-month).
    #[arg(long, value_name = "USD")]
    pub max_monthly_usd: Option<f64>,
    /// Requests per month, for a monthly budget.
    #[arg(long, value_name = "N")]
    pub requests_per_month: Option<f64>,
    /// Most memory a local model may use, GB.
    #[arg(long, value_name = "GB")]
    pub max_memory_gb: Option<f64>,
    /// The device local models must run on (see 'rightfit devices'); their latency becomes a
    /// roofline estimate for it.
    #[arg(long, value_name = "ID")]
    pub device: Option<String>,
    /// No network at run time: hosted models are out.
    #[arg(long)]
    pub offline: bool,
    /// What to optimise among feasible candidates (default: cost when a quality floor is set,
    /// else quality).
    #[arg(long, value_parser = ["quality", "cost", "latency"])]
    pub prefer: Option<String>,
    /// Context per request in tokens, for sizing the KV cache (default: the run's mean).
    #[arg(long, value_name = "TOKENS")]
    pub context_tokens: Option<u32>,
}

#[derive(Debug, Args)]
pub struct RecommendArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// Components (default: every component with a stored run).
    pub components: Vec<String>,
    /// Judge this run (an id or a unique prefix) instead of each component's latest.
    #[arg(long, value_name = "RUN")]
    pub run: Option<String>,
    #[command(flatten)]
    pub constraints: ConstraintArgs,
    /// How to print the recommendation.
    #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
    pub format: ReportFormat,
    /// Also write a self-contained HTML report with the recommendation.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// The run: an id, a unique prefix, or 'latest'.
    #[arg(default_value = "latest")]
    pub run: String,
    /// Write a self-contained HTML report (charts, recommendation, per-example table) here.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// With --html, print the report too.
    #[arg(long)]
    pub print: bool,
    /// How to print the report.
    #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
    pub format: ReportFormat,
}

#[derive(Debug, Args)]
#[command(
    after_help = "Every speed and cost is a roofline estimate (memory bandwidth bounds \
generation, compute bounds prompt processing) scaled by the efficiencies 'rightfit bench-model' \
measured on this machine, or by documented defaults."
)]
pub struct DevicesArgs {
    /// A local model (catalogue name, added name, or .gguf path) to size and time on each device.
    #[arg(short, long)]
    pub model: Option<String>,
    /// Context per sequence, tokens (default: prompt + output tokens).
    #[arg(long, value_name = "TOKENS")]
    pub context: Option<u32>,
    /// Prompt tokens per request.
    #[arg(long, default_value_t = 512, value_name = "N")]
    pub prompt_tokens: u32,
    /// Generated tokens per request.
    #[arg(long, default_value_t = 128, value_name = "N")]
    pub output_tokens: u32,
    /// Sequences served at once, each with its own context (memory only; speed is for one).
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub parallel: usize,
    /// The hosted API's cost per 1,000 requests, US dollars: adds the break-even volume.
    #[arg(long, value_name = "USD")]
    pub hosted_cost_per_1k: Option<f64>,
    /// Print JSON (with every figure's sources).
    #[arg(long)]
    pub json: bool,
}
