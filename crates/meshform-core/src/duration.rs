//! Durations as users write them in configuration and flags: `250ms`, `30s`, `5m`, `1h30m`, `365d`,
//! `10y` (a year is 365 days), with fractions as Go writes them (`1.5h`). The one parser every crate
//! uses.

use std::time::Duration;

/// The longest duration accepted (100 years).
const MAX: Duration = Duration::from_secs(100 * 365 * 86_400);

/// Parses a duration; `0` alone means zero.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    if t == "0" {
        return Ok(Duration::ZERO);
    }
    if t.is_empty() {
        return Err("empty duration: use forms like 30s, 5m, 1h, 365d".into());
    }
    let mut total_ns: u128 = 0;
    let mut num = String::new();
    let mut chars = t.chars().peekable();
    let invalid = || format!("invalid duration {s:?}: use forms like 30s, 1.5h, 5m, 1h, 365d");
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() || c == '.' {
            num.push(c);
            continue;
        }
        // A number, possibly with a fraction as Go writes it (`1.5h`, `.5s`).
        let (whole, frac) = num.split_once('.').unwrap_or((&num, ""));
        if (whole.is_empty() && frac.is_empty()) || frac.contains('.') {
            return Err(invalid());
        }
        let whole: u128 =
            if whole.is_empty() { 0 } else { whole.parse().map_err(|_| invalid())? };
        let unit_ns: u128 = match c {
            'm' if chars.peek() == Some(&'s') => {
                chars.next();
                1_000_000
            }
            's' => 1_000_000_000,
            'm' => 60 * 1_000_000_000,
            'h' => 3_600 * 1_000_000_000,
            'd' => 86_400 * 1_000_000_000,
            'y' => 365 * 86_400 * 1_000_000_000,
            _ => {
                return Err(format!(
                    "invalid duration {s:?}: unknown unit {c:?}; use ms, s, m, h, d or y"
                ))
            }
        };
        let too_long = || format!("duration {s:?} is too long");
        let mut part = whole.checked_mul(unit_ns).ok_or_else(too_long)?;
        if !frac.is_empty() {
            let digits = &frac[..frac.len().min(18)];
            let scale = 10u128.pow(digits.len() as u32);
            let f: u128 = digits.parse().map_err(|_| invalid())?;
            part = part.checked_add(f * unit_ns / scale).ok_or_else(too_long)?;
        }
        total_ns = total_ns.checked_add(part).ok_or_else(too_long)?;
        num.clear();
    }
    if !num.is_empty() {
        return Err(format!("invalid duration {s:?}: add a unit, e.g. {t}s"));
    }
    if total_ns > MAX.as_nanos() {
        return Err(format!("duration {s:?} is longer than 100 years"));
    }
    // At most 100 years in nanoseconds fits a u64.
    Ok(Duration::from_nanos(u64::try_from(total_ns).unwrap_or(u64::MAX)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_unit() {
        assert_eq!(parse_duration("0").unwrap(), Duration::ZERO);
        assert_eq!(parse_duration("0s").unwrap(), Duration::ZERO);
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("87600h").unwrap(), Duration::from_secs(87_600 * 3600));
        assert_eq!(parse_duration("10y").unwrap(), Duration::from_secs(3650 * 86_400));
        assert_eq!(parse_duration("1d12h").unwrap(), Duration::from_secs(36 * 3600));
        assert_eq!(parse_duration("1.5h").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration(".5s").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("2.25m30s").unwrap(), Duration::from_secs(165));
        assert!(parse_duration("1..5h").is_err());
        assert!(parse_duration(".s").is_err());
        assert!(parse_duration("1.2.3s").is_err());
        assert!(parse_duration("5").is_err());
        assert!(parse_duration("5w").is_err());
        assert!(parse_duration("1000y").is_err());
        assert!(parse_duration("").is_err());
    }
}
