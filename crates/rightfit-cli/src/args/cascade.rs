//! Arguments of `rightfit cascade`.

use clap::{Args, Subcommand};

use super::common::{ProjectArgs, ReportFormat};

#[derive(Debug, Subcommand)]
pub enum CascadeCommand {
    /// Choose a cascade's threshold from stored runs: replay every confidence threshold of the
    /// small candidate on a dev split (quality against the share of requests sent to the large
    /// candidate, and cost), pick the one that reaches the target with the fewest escalations,
    /// and report it on the held-out split with confidence intervals. Needs no model: it reads
    /// each candidate's newest finished run of the component.
    Calibrate(CalibrateArgs),
}

#[derive(Debug, Args)]
pub struct CalibrateArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// The component.
    #[arg(long)]
    pub component: String,
    /// The cheap candidate that answers first (its records' confidence is replayed).
    #[arg(long)]
    pub small: String,
    /// The candidate escalated to.
    #[arg(long)]
    pub large: String,
    /// Quality to keep, as a fraction of the large candidate's (0.95 = 95%).
    #[arg(long, default_value_t = 0.95, value_name = "FRACTION")]
    pub target: f64,
    /// Share of the paired examples used to choose the threshold; the rest are held out.
    #[arg(long, default_value_t = 0.5, value_name = "FRACTION")]
    pub dev_fraction: f64,
    /// Seed of the dev/held-out split and the bootstrap (default: the project's).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Read both candidates from this run (an id or a unique prefix) instead of each one's
    /// newest finished run.
    #[arg(long, value_name = "RUN")]
    pub run: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
    pub format: ReportFormat,
}
