//! Numbers in the words of reasons and warnings.

/// A fraction as a percentage with one decimal.
pub(crate) fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

/// Milliseconds, or seconds past ten of them.
pub(crate) fn ms(x: f64) -> String {
    if x >= 10_000.0 {
        format!("{:.1} s", x / 1000.0)
    } else {
        format!("{x:.0} ms")
    }
}

/// US dollars with enough digits for small amounts.
pub(crate) fn usd(x: f64) -> String {
    if x == 0.0 {
        "$0".to_owned()
    } else if x.abs() < 0.01 {
        format!("${x:.5}")
    } else {
        format!("${x:.2}")
    }
}

/// Bytes as MiB or GiB.
pub(crate) fn bytes(b: u64) -> String {
    let mib = b as f64 / (1024.0 * 1024.0);
    if mib >= 1024.0 {
        format!("{:.2} GiB", mib / 1024.0)
    } else {
        format!("{mib:.0} MiB")
    }
}

/// A parameter count as 135M / 1.5B.
pub(crate) fn params(n: u64) -> String {
    let n = n as f64;
    if n >= 1e9 {
        format!("{:.1}B", n / 1e9)
    } else {
        format!("{:.0}M", n / 1e6)
    }
}
