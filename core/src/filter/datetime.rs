//! Datetime strings for range conditions, as microseconds since the Unix epoch (UTC).
//!
//! Accepted: `YYYY-MM-DD`, then optionally `T` or a space and `HH:MM[:SS[.fraction]]`, then
//! optionally `Z`, `±HH:MM` or `±HHMM`. No offset means UTC. This covers RFC 3339 and the
//! forms Qdrant documents; anything else is rejected rather than guessed.

/// Parses a datetime string to microseconds since 1970-01-01T00:00:00Z.
pub fn parse_datetime(s: &str) -> Option<i64> {
    let b = s.trim().as_bytes();
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        let digits = b.get(range)?;
        if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(digits).ok()?.parse().ok()
    };
    let year = num(0..4)?;
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return None;
    }
    let month = num(5..7)?;
    let day = num(8..10)?;
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let mut micros_of_day = 0i64;
    let mut offset_secs = 0i64;
    let mut i = 10;
    if i < b.len() && (b[i] == b'T' || b[i] == b't' || b[i] == b' ') {
        let hour = num(i + 1..i + 3)?;
        if b.get(i + 3) != Some(&b':') {
            return None;
        }
        let minute = num(i + 4..i + 6)?;
        i += 6;
        let mut second = 0;
        if b.get(i) == Some(&b':') {
            second = num(i + 1..i + 3)?;
            i += 3;
        }
        let mut frac_micros = 0i64;
        if b.get(i) == Some(&b'.') {
            let start = i + 1;
            let mut end = start;
            while end < b.len() && b[end].is_ascii_digit() {
                end += 1;
            }
            if end == start {
                return None;
            }
            // Keep microsecond precision; further digits are truncated.
            let kept = &b[start..end.min(start + 6)];
            let mut v: i64 = std::str::from_utf8(kept).ok()?.parse().ok()?;
            for _ in kept.len()..6 {
                v *= 10;
            }
            frac_micros = v;
            i = end;
        }
        if hour > 23 || minute > 59 || second > 60 {
            return None;
        }
        micros_of_day = ((hour * 60 + minute) * 60 + second) * 1_000_000 + frac_micros;
        match b.get(i) {
            None => {}
            Some(b'Z') | Some(b'z') if i + 1 == b.len() => {}
            Some(&sign) if sign == b'+' || sign == b'-' => {
                let oh = num(i + 1..i + 3)?;
                let om = match (b.get(i + 3), b.len()) {
                    (Some(b':'), len) if len == i + 6 => num(i + 4..i + 6)?,
                    (_, len) if len == i + 5 => num(i + 3..i + 5)?,
                    _ => return None,
                };
                if oh > 23 || om > 59 {
                    return None;
                }
                let secs = (oh * 60 + om) * 60;
                offset_secs = if sign == b'+' { secs } else { -secs };
            }
            Some(_) => return None,
        }
    } else if i != b.len() {
        return None;
    }
    let days = days_from_civil(year, month, day);
    Some((days * 86_400 - offset_secs) * 1_000_000 + micros_of_day)
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(y) => 29,
        _ => 28,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::parse_datetime;

    #[test]
    fn known_instants() {
        assert_eq!(parse_datetime("1970-01-01"), Some(0));
        assert_eq!(parse_datetime("1970-01-01T00:00:01Z"), Some(1_000_000));
        assert_eq!(
            parse_datetime("2000-03-01 00:00:00"),
            Some(951_868_800_000_000)
        );
        assert_eq!(
            parse_datetime("2023-02-08T10:49:00+01:00"),
            parse_datetime("2023-02-08T09:49:00Z")
        );
        assert_eq!(
            parse_datetime("2023-02-08T10:49:00.5-0030"),
            parse_datetime("2023-02-08T11:19:00.500000Z")
        );
        assert_eq!(parse_datetime("1969-12-31T23:59:59Z"), Some(-1_000_000));
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "",
            "2023",
            "2023-13-01",
            "2023-02-29",
            "2023-02-08T25:00",
            "2023-02-08T10",
            "2023-02-08T10:49:00Q",
            "2023-02-08T10:49:00+1",
            "yesterday",
            "2023-02-08x",
            "2023-02-08T10:49:00.Z",
        ] {
            assert_eq!(parse_datetime(bad), None, "{bad:?} should be rejected");
        }
        assert!(parse_datetime("2024-02-29").is_some());
    }
}
