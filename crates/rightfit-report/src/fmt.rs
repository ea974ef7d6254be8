//! Numbers as the reports print them.

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
