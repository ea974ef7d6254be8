//! Writing to stdout: lines, streamed text, JSON (a closed pipe ends the program quietly).

use std::io::Write;

pub use rightfit_report::table;

/// Writes a line to stdout (a closed pipe ends the program quietly, as `head` expects).
pub fn line(text: impl std::fmt::Display) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{text}") {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        other => Ok(other?),
    }
}

/// Writes text to stdout without a newline, flushing (streamed tokens).
pub fn stream(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        other => Ok(other?),
    }
}

/// Pretty JSON to stdout.
pub fn json(value: &serde_json::Value) -> anyhow::Result<()> {
    line(serde_json::to_string_pretty(value)?)
}
