//! Go durations (`2s`, `500ms`, `1m30s`), the text form Fabric stores batch timeouts and Raft
//! tick intervals in.
//!
//! [`format`] reproduces Go's `time.Duration.String()` exactly, because configtxgen writes
//! `BatchTimeout` with it and the bytes of a config must match what Fabric would write.

use std::time::Duration;

const NANOS_PER: [(&str, u128); 9] = [
    ("ns", 1),
    ("us", 1_000),
    ("µs", 1_000),
    ("μs", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60 * 1_000_000_000),
    ("h", 3600 * 1_000_000_000),
    ("", 0),
];

/// Parses a Go duration: one or more `<number><unit>` parts, units `ns`, `us`/`µs`, `ms`, `s`,
/// `m`, `h`, numbers optionally with a fraction (`1.5s`); `0` alone is zero. Negative
/// durations are refused. The error says what was wrong.
pub fn parse(input: &str) -> Result<Duration, String> {
    let s = input.trim();
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    if s.is_empty() {
        return Err("the duration is empty; write e.g. 2s or 500ms".to_owned());
    }
    if s.starts_with('-') {
        return Err(format!("'{input}' is negative; durations must be positive"));
    }
    let s = s.strip_prefix('+').unwrap_or(s);
    let mut rest = s;
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number = &rest[..num_len];
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        if number.is_empty() || number == "." {
            return Err(format!(
                "'{input}' is not a duration: expected a number before '{unit}'; write e.g. 2s or 500ms"
            ));
        }
        let Some(&(_, scale)) = NANOS_PER.iter().find(|(u, _)| *u == unit && !u.is_empty()) else {
            return Err(if unit.is_empty() {
                format!("'{input}' has a number without a unit; add one of ns, us, ms, s, m, h (e.g. 2s)")
            } else {
                format!("'{input}' has the unknown unit '{unit}'; use ns, us, ms, s, m or h")
            });
        };
        let (int, frac) = number.split_once('.').unwrap_or((number, ""));
        if frac.contains('.') {
            return Err(format!("'{input}' has a malformed number '{number}'"));
        }
        let overflow = || format!("'{input}' is too long a duration");
        let int: u128 = if int.is_empty() {
            0
        } else {
            int.parse().map_err(|_| overflow())?
        };
        let mut part = int.checked_mul(scale).ok_or_else(overflow)?;
        let mut div = 1u128;
        for d in frac.chars().take(30) {
            div *= 10;
            part += u128::from(d.to_digit(10).unwrap_or(0)) * scale / div;
        }
        total = total.checked_add(part).ok_or_else(overflow)?;
    }
    let secs =
        u64::try_from(total / 1_000_000_000).map_err(|_| format!("'{input}' is too long"))?;
    Ok(Duration::new(secs, (total % 1_000_000_000) as u32))
}

/// `v` as an integer part and Go's fraction text of `prec` digits (trailing zeros and an
/// empty fraction dropped).
fn split_frac(v: u128, prec: u32) -> (u128, String) {
    let p = 10u128.pow(prec);
    let frac = v % p;
    if frac == 0 {
        return (v / p, String::new());
    }
    let digits = format!("{frac:0width$}", width = prec as usize);
    (v / p, format!(".{}", digits.trim_end_matches('0')))
}

/// Formats a duration as Go's `time.Duration.String()` does: `0s`, `500ms`, `1.5s`, `1m30s`,
/// `1h0m0s`.
pub fn format(d: Duration) -> String {
    let nanos = d.as_nanos();
    if nanos == 0 {
        return "0s".to_owned();
    }
    if nanos < 1_000 {
        return format!("{nanos}ns");
    }
    if nanos < 1_000_000 {
        let (int, frac) = split_frac(nanos, 3);
        return format!("{int}{frac}µs");
    }
    if nanos < 1_000_000_000 {
        let (int, frac) = split_frac(nanos, 6);
        return format!("{int}{frac}ms");
    }
    let (secs, frac) = split_frac(nanos, 9);
    let (s, mins) = (secs % 60, secs / 60);
    if mins == 0 {
        return format!("{s}{frac}s");
    }
    let (m, hours) = (mins % 60, mins / 60);
    if hours == 0 {
        return format!("{m}m{s}{frac}s");
    }
    format!("{hours}h{m}m{s}{frac}s")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, nanos: u128, go_string: &str) {
        let d = parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(d.as_nanos(), nanos, "{input}");
        assert_eq!(format(d), go_string, "{input}");
    }

    #[test]
    fn parses_and_formats_like_go() {
        check("2s", 2_000_000_000, "2s");
        check("5ms", 5_000_000, "5ms");
        check("500ms", 500_000_000, "500ms");
        check("1.5s", 1_500_000_000, "1.5s");
        check("90s", 90_000_000_000, "1m30s");
        check("1h", 3_600_000_000_000, "1h0m0s");
        check("1h2m3.25s", 3_723_250_000_000, "1h2m3.25s");
        check("1500us", 1_500_000, "1.5ms");
        check("1500µs", 1_500_000, "1.5ms");
        check("999ns", 999, "999ns");
        check("1.001µs", 1_001, "1.001µs");
        check("0", 0, "0s");
        check(".5s", 500_000_000, "500ms");
    }

    #[test]
    fn refuses_what_go_refuses() {
        for bad in ["", "2", "s", "-1s", "2x", "1..2s", "2 s"] {
            assert!(parse(bad).is_err(), "{bad:?} should be refused");
        }
        assert!(parse("2x").unwrap_err().contains("unknown unit 'x'"));
    }
}
