//! Numbers as the reports print them, and the house table style.

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{ContentArrangement, Table};

/// A fraction as a percentage with one decimal and no `%`: `0.425` -> `42.5`.
pub(crate) fn pct(x: f64) -> String {
    format!("{:.1}", x * 100.0)
}

/// Milliseconds: whole below 10 s (`480`), seconds with one decimal from there (`12.3s`).
pub(crate) fn ms(x: f64) -> String {
    if x >= 10_000.0 {
        format!("{:.1}s", x / 1000.0)
    } else {
        format!("{x:.0}")
    }
}

/// Bytes as MiB or GiB.
pub fn bytes(b: u64) -> String {
    let mib = b as f64 / (1024.0 * 1024.0);
    if mib >= 1024.0 {
        format!("{:.2} GiB", mib / 1024.0)
    } else {
        format!("{mib:.1} MiB")
    }
}

/// US dollars, with enough digits for small amounts.
pub fn usd(x: f64) -> String {
    if x == 0.0 {
        "$0".to_owned()
    } else if x < 0.01 {
        format!("${x:.5}")
    } else {
        format!("${x:.2}")
    }
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

/// A table with the house style, its width following the terminal's.
pub fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic);
    t.set_header(header.to_vec());
    t
}
