//! Wall-clock time as text, always UTC, on `jiff`: RFC 3339 to the second (runs, keys, reports)
//! or to the millisecond (traffic records, whose times sort and compare as text), the compact
//! stamp that starts a run id, Unix seconds (OpenAI's `created`), and `--since` as the text a
//! traffic record's `at` compares with.

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::Offset;

/// Seconds since the Unix epoch (0 on a clock set before it).
pub fn unix_now() -> u64 {
    u64::try_from(Timestamp::now().as_second()).unwrap_or(0)
}

/// Now, e.g. `2026-11-30T03:42:07Z`.
pub fn now_rfc3339() -> String {
    format!("{:.0}", Timestamp::now())
}

/// Now with milliseconds, e.g. `2026-11-30T03:42:07.123Z`.
pub fn now_rfc3339_millis() -> String {
    format!("{:.3}", Timestamp::now())
}

/// A Unix time as RFC 3339 UTC, e.g. `2026-11-30T03:42:07Z` (past year 9999: the last second
/// of 9999).
pub fn rfc3339(secs: u64) -> String {
    format!("{:.0}", from_second(secs))
}

/// Now, compact and sortable, for run ids: `20261130-034207`.
pub fn now_compact() -> String {
    Timestamp::now().strftime("%Y%m%d-%H%M%S").to_string()
}

fn from_second(secs: u64) -> Timestamp {
    i64::try_from(secs)
        .ok()
        .and_then(|s| Timestamp::from_second(s).ok())
        .unwrap_or(Timestamp::MAX)
}

/// `--since` that is neither a time nor a duration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "--since '{0}' is neither a time (2026-11-30T08:00:00Z, 2026-11-30) nor a duration back \
     from now (90s, 30m, 1h, 7d, 2w)"
)]
pub struct SinceError(pub String);

/// The UTC instant `text` means, `now_s` seconds after the Unix epoch being now, written like a
/// traffic record's `at` (`2026-11-30T03:42:07.000Z`; never before the epoch). Takes `90s`,
/// `30m`, `1h`, `7d`, `2w`; `2026-11-30` (midnight UTC); and `2026-11-30T08:00:00Z`, with
/// fractions of a second, an offset (`+02:00`), or a space for `T`.
pub fn parse_since(text: &str, now_s: u64) -> Result<String, SinceError> {
    let text = text.trim();
    let instant = match duration_s(text) {
        Some(back) => from_second(now_s.saturating_sub(back)),
        None => instant(text).ok_or_else(|| SinceError(text.to_owned()))?,
    };
    Ok(format!("{:.3}", instant.max(Timestamp::UNIX_EPOCH)))
}

/// `7d` as seconds.
fn duration_s(text: &str) -> Option<u64> {
    let scale = match text.chars().last()? {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        'w' => 7 * 86_400,
        _ => return None,
    };
    let number = &text[..text.len() - 1];
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    number.parse::<u64>().ok()?.checked_mul(scale)
}

/// An RFC 3339 time with its offset, or a bare date (midnight UTC).
fn instant(text: &str) -> Option<Timestamp> {
    // A date with a time but no offset would parse as a date alone: refuse it instead.
    if text.contains(['T', 't', ' ']) {
        return text.parse().ok();
    }
    let date: Date = text.parse().ok()?;
    Offset::UTC.to_timestamp(date.at(0, 0, 0, 0)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-11-30T03:42:07Z.
    const NOW: u64 = 1_796_010_127;

    #[test]
    fn known_instants() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_796_010_127), "2026-11-30T03:42:07Z");
    }

    #[test]
    fn the_clock_writes_the_formats_records_hold() {
        let shape = |s: &str| {
            s.chars()
                .map(|c| if c.is_ascii_digit() { '0' } else { c })
                .collect::<String>()
        };
        assert_eq!(shape(&now_rfc3339()), "0000-00-00T00:00:00Z");
        assert_eq!(shape(&now_rfc3339_millis()), "0000-00-00T00:00:00.000Z");
        assert_eq!(shape(&now_compact()), "00000000-000000");
        assert!(unix_now() > NOW - 86_400 * 365 * 10);
    }

    #[test]
    fn durations_count_back_from_now() {
        assert_eq!(parse_since("0s", NOW).unwrap(), "2026-11-30T03:42:07.000Z");
        assert_eq!(parse_since("90s", NOW).unwrap(), "2026-11-30T03:40:37.000Z");
        assert_eq!(parse_since("1h", NOW).unwrap(), "2026-11-30T02:42:07.000Z");
        assert_eq!(parse_since("7d", NOW).unwrap(), "2026-11-23T03:42:07.000Z");
        assert_eq!(parse_since("2w", NOW).unwrap(), "2026-11-16T03:42:07.000Z");
        assert_eq!(parse_since("30m", NOW).unwrap(), "2026-11-30T03:12:07.000Z");
        // Further back than the epoch: the epoch.
        assert_eq!(
            parse_since("99999w", NOW).unwrap(),
            "1970-01-01T00:00:00.000Z"
        );
    }

    #[test]
    fn times_become_utc_with_milliseconds() {
        for (given, expected) in [
            ("2026-11-30", "2026-11-30T00:00:00.000Z"),
            ("2026-11-30T08:00:00Z", "2026-11-30T08:00:00.000Z"),
            ("2026-11-30 08:00:00z", "2026-11-30T08:00:00.000Z"),
            ("2026-11-30T08:00:00.5Z", "2026-11-30T08:00:00.500Z"),
            ("2026-11-30T08:00:00.123456Z", "2026-11-30T08:00:00.123Z"),
            ("2026-11-30T08:00:00+02:00", "2026-11-30T06:00:00.000Z"),
            ("2026-11-30T23:30:00-01:00", "2026-12-01T00:30:00.000Z"),
            ("2000-02-29T00:00:00Z", "2000-02-29T00:00:00.000Z"),
            ("1970-01-01T00:00:00Z", "1970-01-01T00:00:00.000Z"),
        ] {
            assert_eq!(parse_since(given, NOW).unwrap(), expected, "{given}");
        }
    }

    #[test]
    fn the_clock_and_since_agree_on_the_epoch_second() {
        // rfc3339 turns seconds into dates; parse_since turns them back.
        for secs in [0, 951_782_400, NOW, 4_102_444_800] {
            let text = rfc3339(secs);
            assert_eq!(
                parse_since(&text, NOW).unwrap(),
                format!("{}.000Z", text.trim_end_matches('Z')),
                "{text}"
            );
        }
    }

    #[test]
    fn anything_else_is_refused_with_examples() {
        for bad in [
            "",
            "yesterday",
            "7",
            "d",
            "-1h",
            "1.5h",
            "2026-13-01",
            "2026-02-30",
            "2026-11-30T8:00",
            "2026-11-30T08:00:00",
            "2026-11-30T08:00:00+2",
            "2026-11-30T25:00:00Z",
            "2026/11/30",
            "2026-11-30T08:00:00.Z",
        ] {
            let err = parse_since(bad, NOW).unwrap_err().to_string();
            assert!(
                err.contains("1h") && err.contains("2026-11-30"),
                "{bad}: {err}"
            );
        }
    }
}
