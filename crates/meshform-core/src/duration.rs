//! Durations as users write them in configuration and flags: `250ms`, `30s`, `5m`, `1h30m`, `365d`,
//! `10y` (a year is 365 days). The one parser every crate uses.

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
    let mut total = Duration::ZERO;
    let mut num = String::new();
    let mut chars = t.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let n: u64 = num
            .parse()
            .map_err(|_| format!("invalid duration {s:?}: use forms like 30s, 5m, 1h, 365d"))?;
        let unit_ms: u64 = match c {
            'm' if chars.peek() == Some(&'s') => {
                chars.next();
                1
            }
            's' => 1_000,
            'm' => 60_000,
            'h' => 3_600_000,
            'd' => 86_400_000,
            'y' => 365 * 86_400_000,
            _ => {
                return Err(format!(
                    "invalid duration {s:?}: unknown unit {c:?}; use ms, s, m, h, d or y"
                ))
            }
        };
        let part = n
            .checked_mul(unit_ms)
            .map(Duration::from_millis)
            .ok_or_else(|| format!("duration {s:?} is too long"))?;
        total = total.checked_add(part).ok_or_else(|| format!("duration {s:?} is too long"))?;
        num.clear();
    }
    if !num.is_empty() {
        return Err(format!("invalid duration {s:?}: add a unit, e.g. {t}s"));
    }
    if total > MAX {
        return Err(format!("duration {s:?} is longer than 100 years"));
    }
    Ok(total)
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
        assert!(parse_duration("5").is_err());
        assert!(parse_duration("5w").is_err());
        assert!(parse_duration("1000y").is_err());
        assert!(parse_duration("").is_err());
    }
}
