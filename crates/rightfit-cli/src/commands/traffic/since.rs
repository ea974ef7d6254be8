//! `--since`: an RFC 3339 time or a duration back from now, as the text a traffic record's `at`
//! compares with (`2026-11-30T03:42:07.000Z`: UTC, milliseconds).

/// The UTC instant `text` means, `now_s` seconds after the Unix epoch being now, written like a
/// traffic record's `at`. Takes `90s`, `30m`, `1h`, `7d`, `2w`; `2026-11-30`; and
/// `2026-11-30T08:00:00Z`, with fractions of a second, an offset (`+02:00`), or a space for `T`.
pub fn parse_since(text: &str, now_s: u64) -> Result<String, String> {
    let text = text.trim();
    let millis = match duration_s(text) {
        Some(back) => i128::from(now_s).saturating_sub(i128::from(back)) * 1000,
        None => instant_ms(text).ok_or_else(|| {
            format!(
                "--since '{text}' is neither a time (2026-11-30T08:00:00Z, 2026-11-30) nor a \
                 duration back from now (90s, 30m, 1h, 7d, 2w)"
            )
        })?,
    };
    let millis = millis.max(0);
    let secs = u64::try_from(millis / 1000).map_err(|_| format!("--since '{text}' is too far"))?;
    let second = rightfit_eval::clock::rfc3339(secs);
    // `...:07Z` becomes `...:07.123Z`.
    Ok(format!(
        "{}.{:03}Z",
        second.trim_end_matches('Z'),
        millis % 1000
    ))
}

/// `7d` as seconds.
fn duration_s(text: &str) -> Option<u64> {
    let unit = text.chars().last()?;
    let scale = match unit {
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

/// Milliseconds since the epoch of an RFC 3339 time (or a bare date, midnight UTC).
fn instant_ms(text: &str) -> Option<i128> {
    let number = |s: &str| -> Option<i64> {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    let date = text.get(..10)?;
    let (year, month, day) = (
        number(date.get(..4)?)?,
        number(date.get(5..7)?)?,
        number(date.get(8..10)?)?,
    );
    if date.as_bytes()[4] != b'-' || date.as_bytes()[7] != b'-' {
        return None;
    }
    if !(1..=12).contains(&month) || !(1..=days_in_month(year, month)).contains(&day) {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let rest = &text[10..];
    if rest.is_empty() {
        return Some(i128::from(days) * 86_400_000);
    }
    let rest = rest.strip_prefix(['T', 't', ' '])?;
    let (hour, minute, second) = (
        number(rest.get(..2)?)?,
        number(rest.get(3..5)?)?,
        number(rest.get(6..8)?)?,
    );
    if rest.as_bytes()[2] != b':' || rest.as_bytes()[5] != b':' {
        return None;
    }
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut rest = &rest[8..];
    let mut millis = 0;
    if let Some(fraction) = rest.strip_prefix('.') {
        let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        // Milliseconds: the first three digits, padded.
        let first: String = fraction[..digits]
            .chars()
            .chain("000".chars())
            .take(3)
            .collect();
        millis = number(&first)?;
        rest = &fraction[digits..];
    }
    let offset_s = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            if rest.len() != 6 || rest.as_bytes()[3] != b':' {
                return None;
            }
            let (h, m) = (number(rest.get(1..3)?)?, number(rest.get(4..6)?)?);
            if h > 23 || m > 59 {
                return None;
            }
            sign * (h * 3600 + m * 60)
        }
    };
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset_s;
    Some(i128::from(secs) * 1000 + i128::from(millis))
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm, the inverse of the one in
/// `rightfit_eval::clock`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-11-30T03:42:07Z.
    const NOW: u64 = 1_796_010_127;

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
    fn the_epoch_day_count_agrees_with_the_clock() {
        // rightfit_eval::clock turns seconds into dates; this turns dates into days.
        for secs in [0, 951_782_400, NOW, 4_102_444_800] {
            let text = rightfit_eval::clock::rfc3339(secs);
            assert_eq!(instant_ms(&text), Some(i128::from(secs) * 1000), "{text}");
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
            let err = parse_since(bad, NOW).unwrap_err();
            assert!(
                err.contains("1h") && err.contains("2026-11-30"),
                "{bad}: {err}"
            );
        }
    }
}
