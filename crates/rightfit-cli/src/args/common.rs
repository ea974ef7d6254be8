//! Arguments several commands share (a leaf: the other argument modules import it).

use std::path::PathBuf;

use clap::{Args, ValueEnum};

/// Where the project file and its store are.
#[derive(Debug, Args, Clone)]
pub struct ProjectArgs {
    /// The project file.
    #[arg(
        short = 'c',
        long = "config",
        value_name = "FILE",
        default_value = "rightfit.toml"
    )]
    pub config: PathBuf,
    /// The store of runs, traffic and keys: a SQLite file or a postgres:// URL (default:
    /// RIGHTFIT_DATABASE_URL, else the project's `store`, `.rightfit/runs.db` beside it).
    #[arg(long, value_name = "FILE|URL")]
    pub store: Option<PathBuf>,
}

/// Report formats.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ReportFormat {
    /// A table for the terminal.
    Table,
    /// Markdown.
    Markdown,
    /// JSON.
    Json,
}

/// Where and how an export is written (`runs export`, `traffic export`).
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// jsonl or csv.
    #[arg(long, value_enum, default_value_t = ExportFormat::Jsonl)]
    pub format: ExportFormat,
    /// Write here instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// Export formats.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ExportFormat {
    /// One JSON object per line.
    Jsonl,
    /// Comma-separated values with a header.
    Csv,
}
