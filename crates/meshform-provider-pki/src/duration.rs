//! Durations as written in configuration: `87600h`, `3650d`, `10y`, `30m`, `1h30m`.

use time::Duration;

/// Parses a duration; `y` is 365 days, `d` 24 hours.
pub fn parse(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    if t.is_empty() {
        return Err("empty duration".into());
    }
    let mut total = Duration::ZERO;
    let mut num = String::new();
    for c in t.chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let n: i64 = num
            .parse()
            .map_err(|_| format!("invalid duration {s:?}: expected forms like 8760h, 365d, 10y"))?;
        let unit = match c {
            'y' => Duration::days(365),
            'd' => Duration::days(1),
            'h' => Duration::hours(1),
            'm' => Duration::minutes(1),
            's' => Duration::seconds(1),
            _ => {
                return Err(format!(
                    "invalid duration {s:?}: unknown unit {c:?}; use y, d, h, m or s"
                ))
            }
        };
        total += unit.checked_mul(n as i32).ok_or_else(|| format!("duration {s:?} is too long"))?;
        num.clear();
    }
    if !num.is_empty() {
        return Err(format!("invalid duration {s:?}: add a unit, e.g. {s}h"));
    }
    if total > Duration::days(365 * 100) {
        return Err(format!("duration {s:?} is longer than 100 years"));
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units() {
        assert_eq!(parse("87600h").unwrap(), Duration::hours(87600));
        assert_eq!(parse("10y").unwrap(), Duration::days(3650));
        assert_eq!(parse("1d12h").unwrap(), Duration::hours(36));
        assert!(parse("10").is_err());
        assert!(parse("5w").is_err());
        assert!(parse("1000y").is_err());
    }
}
