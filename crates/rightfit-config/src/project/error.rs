//! Why a project file was refused.

use std::path::PathBuf;

/// Why a project file was refused. Every variant's message starts with the file (and the line,
/// where there is one).
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{path}: {source} — run 'rightfit init' to write a starter rightfit.toml")]
    Read {
        /// The project file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML or does not have the expected shape.
    #[error("{}:{line}:{column}: {message}", path.display())]
    Parse {
        /// The project file (`--model` for a model named on the command line).
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The TOML parser's message.
        message: String,
    },
    /// A value is of the right shape but not allowed.
    #[error("{}:{line}: {key}: {message}", path.display())]
    Invalid {
        /// The project file (`--model` for a model named on the command line).
        path: PathBuf,
        /// 1-based line (of the key, or of its table).
        line: usize,
        /// The key path, e.g. `components.sentiment.candidates[1].model`.
        key: String,
        /// What was wrong and what to do.
        message: String,
    },
}
