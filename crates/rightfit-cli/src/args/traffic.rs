//! Arguments of the gateway's record commands: `traffic` and `keys`.

use clap::{Args, Subcommand, ValueEnum};

use super::common::{ExportArgs, ProjectArgs, ReportFormat};

/// Which records: the flags `traffic list` and `traffic stats` share.
#[derive(Debug, Args)]
pub struct TrafficSelect {
    /// Only this component's records.
    #[arg(long)]
    pub component: Option<String>,
    /// Only records since this time: RFC 3339 (2026-11-30T08:00:00Z, 2026-11-30) or a duration
    /// back from now (90s, 30m, 1h, 7d, 2w).
    #[arg(long, value_name = "TIME|DURATION")]
    pub since: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum TrafficCommand {
    /// Requests the gateway served (and their shadow calls), newest first.
    List {
        #[command(flatten)]
        project: ProjectArgs,
        #[command(flatten)]
        select: TrafficSelect,
        /// Only this candidate's (or model's) records.
        #[arg(long)]
        candidate: Option<String>,
        /// Only primary (what clients got) or only shadow records.
        #[arg(long, value_parser = ["primary", "shadow"])]
        role: Option<String>,
        /// Only failed requests.
        #[arg(long)]
        errors: bool,
        /// How many.
        #[arg(long, default_value_t = 20)]
        limit: usize,
        /// table, or json (the records as stored).
        #[arg(long, value_enum, default_value_t = ListFormat::Table)]
        format: ListFormat,
    },
    /// Per component, candidate and role: requests, errors, latency percentiles, tokens, cost,
    /// escalation rate and shadow agreement with the primary.
    Stats {
        #[command(flatten)]
        project: ProjectArgs,
        #[command(flatten)]
        select: TrafficSelect,
        /// How to print it.
        #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
        format: ReportFormat,
    },
    /// A component's answered requests as a dataset 'rightfit eval' reads: id, at, component,
    /// candidate, system, input (the last user message), messages, output, reference.
    Export {
        #[command(flatten)]
        project: ProjectArgs,
        /// The component.
        #[arg(long)]
        component: String,
        /// Take each reference from this candidate's answer to the same request (the primary's
        /// when it served it, else its shadow's); requests it did not answer are skipped.
        /// Default: the primary's own answer.
        #[arg(long, value_name = "CANDIDATE")]
        reference_from: Option<String>,
        /// Only requests since this time (RFC 3339, or a duration back from now: 1h, 7d).
        #[arg(long, value_name = "TIME|DURATION")]
        since: Option<String>,
        /// At most this many rows (the oldest).
        #[arg(long)]
        limit: Option<usize>,
        #[command(flatten)]
        export: ExportArgs,
    },
}

/// Listing formats.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ListFormat {
    /// A table for the terminal.
    Table,
    /// JSON.
    Json,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Make a key for the gateway; its secret is printed once and only its hash is stored.
    Create {
        #[command(flatten)]
        project: ProjectArgs,
        /// A name to tell it by (unique).
        #[arg(long)]
        name: String,
        /// Requests it may make per minute (default: no limit).
        #[arg(long, value_name = "N")]
        requests_per_minute: Option<u32>,
        /// US dollars it may spend in all (default: no budget).
        #[arg(long, value_name = "USD")]
        budget_usd: Option<f64>,
    },
    /// Every key: id, name, prefix, created, revoked, limits and spend.
    List {
        #[command(flatten)]
        project: ProjectArgs,
        /// table, or json.
        #[arg(long, value_enum, default_value_t = ListFormat::Table)]
        format: ListFormat,
    },
    /// Revoke a key: the gateway refuses it from then on.
    Revoke {
        #[command(flatten)]
        project: ProjectArgs,
        /// The key's id or name.
        #[arg(value_name = "ID|NAME")]
        key: String,
    },
}
