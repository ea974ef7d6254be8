//! Writing to stdout (lines, streamed text, JSON; a closed pipe ends the program quietly) and
//! notes to stderr.

use std::io::Write;

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

/// Writes a line to stderr: progress, notes and what a command did, kept off stdout (which may
/// be the result, a dataset or JSON).
pub fn note(text: impl std::fmt::Display) {
    #[allow(clippy::print_stderr)]
    {
        eprintln!("{text}");
    }
}
