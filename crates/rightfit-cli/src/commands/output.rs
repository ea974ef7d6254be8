//! Writing results to stdout: tables, JSON, sizes.

use std::io::Write;

use comfy_table::{ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};

/// A table with the house style.
pub fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic);
    t.set_header(header.to_vec());
    t
}

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

/// Bytes as MiB or GiB (the reports' format).
pub fn size(bytes: u64) -> String {
    rightfit_report::bytes(bytes)
}

/// A count with a unit suffix (135M, 1.5B).
pub fn count(n: u64) -> String {
    match n {
        n if n >= 1_000_000_000 => format!("{:.2}B", n as f64 / 1e9),
        n if n >= 1_000_000 => format!("{:.1}M", n as f64 / 1e6),
        n if n >= 1_000 => format!("{:.1}K", n as f64 / 1e3),
        n => n.to_string(),
    }
}
