//! Date and time functions over RFC 3339 timestamps: `formatdate`, `timeadd` and `timecmp`, with
//! Go's parsing rules and Terraform's messages. `timestamp` and `plantimestamp` are refused: they
//! read the clock, and meshform's plans must be byte-identical for the same inputs.

use meshform_core::Value;

use super::args::Args;
use super::{FnResult, FunctionError};

/// An instant as written: seconds since the Unix epoch (UTC), nanoseconds, and the UTC offset the
/// text gave, which formatting keeps.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Timestamp {
    seconds: i64,
    nanos: u32,
    offset: i32,
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day number (inverse of [`days_from_civil`]).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const WEEKDAYS: [&str; 7] =
    ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

/// The local calendar fields of a timestamp.
struct Civil {
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    weekday: usize,
}

impl Timestamp {
    fn civil(self) -> Civil {
        let local = self.seconds + i64::from(self.offset);
        let days = local.div_euclid(86_400);
        let secs = local.rem_euclid(86_400) as u32;
        let (year, month, day) = civil_from_days(days);
        Civil {
            year,
            month,
            day,
            hour: secs / 3600,
            minute: secs / 60 % 60,
            second: secs % 60,
            // 1970-01-01 was a Thursday.
            weekday: (days + 4).rem_euclid(7) as usize,
        }
    }

    /// The offset as Go's `-07:00` (`colon`) or `-0700` layout writes it.
    fn offset_text(self, colon: bool) -> String {
        let sign = if self.offset < 0 { '-' } else { '+' };
        let abs = self.offset.unsigned_abs();
        let sep = if colon { ":" } else { "" };
        format!("{sign}{:02}{sep}{:02}", abs / 3600, abs / 60 % 60)
    }

    /// Go's `time.RFC3339` layout: no fraction, `Z` for a zero offset.
    fn rfc3339(self) -> String {
        let c = self.civil();
        let zone = if self.offset == 0 { "Z".to_string() } else { self.offset_text(true) };
        format!(
            "{}-{:02}-{:02}T{:02}:{:02}:{:02}{zone}",
            year_text(c.year),
            c.month,
            c.day,
            c.hour,
            c.minute,
            c.second
        )
    }

    fn nanos_total(self) -> i128 {
        i128::from(self.seconds) * 1_000_000_000 + i128::from(self.nanos)
    }
}

/// A year as Go writes it: at least four digits, a minus sign before negative years.
fn year_text(y: i64) -> String {
    if y < 0 {
        format!("-{:04}", -y)
    } else {
        format!("{y:04}")
    }
}

/// Go's `%q` of text (ASCII printable kept, `"` and `\` escaped).
fn go_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            ' '..='~' => out.push(c),
            c => {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    out.push_str(&format!("\\x{b:02x}"));
                }
            }
        }
    }
    out.push('"');
    out
}

/// One failure of Go's `time.Parse(time.RFC3339, …)`, in the terms Terraform rewrites it to.
enum Bad {
    /// A field could not be read; the text from where it starts.
    Field(&'static str, String),
    /// A separator is missing; the expected text and what is there instead.
    Separator(&'static str, String),
    /// Everything parsed but the date does not exist.
    DayOutOfRange,
}

impl Bad {
    fn message(self) -> String {
        let head = "not a valid RFC3339 timestamp";
        match self {
            Bad::Separator("T", _) => format!("{head}: missing required time introducer 'T'"),
            Bad::Separator(sep, rest) if rest.is_empty() => {
                format!("{head}: end of string where {} is expected", go_quote(sep))
            }
            Bad::Separator(sep, rest) => {
                format!("{head}: found {} where {} is expected", go_quote(&rest), go_quote(sep))
            }
            Bad::Field(what, rest) if rest.is_empty() => {
                format!("{head}: end of string before {what}")
            }
            Bad::Field(what, rest) => format!("{head}: cannot use {} as {what}", go_quote(&rest)),
            Bad::DayOutOfRange => format!("{head}: day out of range"),
        }
    }
}

/// A cursor over the text being parsed.
struct Reader<'a>(&'a str);

impl Reader<'_> {
    /// `n` ASCII digits (or 1 when `flexible` and the second is not a digit), as Go's `getnum`.
    fn digits(&mut self, what: &'static str, n: usize, flexible: bool) -> Result<u32, Bad> {
        let b = self.0.as_bytes();
        let count = b.iter().take(n).take_while(|c| c.is_ascii_digit()).count();
        if count == n || (flexible && count >= 1) {
            let (num, rest) = self.0.split_at(count);
            self.0 = rest;
            // At most four ASCII digits.
            Ok(num.parse().unwrap_or(0))
        } else {
            Err(Bad::Field(what, self.0.to_string()))
        }
    }

    fn separator(&mut self, sep: &'static str) -> Result<(), Bad> {
        match self.0.strip_prefix(sep) {
            Some(rest) => {
                self.0 = rest;
                Ok(())
            }
            None => Err(Bad::Separator(sep, self.0.to_string())),
        }
    }

    /// A value read whole but out of range: Go reports the text after it.
    fn out_of_range(&self, what: &'static str) -> Bad {
        Bad::Field(what, self.0.to_string())
    }
}

fn parse_rfc3339(text: &str) -> Result<Timestamp, Bad> {
    let mut r = Reader(text);
    // Go takes four bytes for the year once the first is a digit, and reports what follows them.
    let b = text.as_bytes();
    if b.len() >= 4 && b[0].is_ascii_digit() && !b[..4].iter().all(u8::is_ascii_digit) {
        return Err(Bad::Field("year", String::from_utf8_lossy(&b[4..]).into_owned()));
    }
    let year = r.digits("year", 4, false)?;
    r.separator("-")?;
    let month = r.digits("month", 2, false)?;
    if !(1..=12).contains(&month) {
        return Err(r.out_of_range("month"));
    }
    r.separator("-")?;
    let day = r.digits("day of month", 2, false)?;
    r.separator("T")?;
    let hour = r.digits("hour", 2, true)?;
    if hour >= 24 {
        return Err(r.out_of_range("hour"));
    }
    r.separator(":")?;
    let minute = r.digits("minute", 2, false)?;
    if minute >= 60 {
        return Err(r.out_of_range("minute"));
    }
    r.separator(":")?;
    let second = r.digits("second", 2, false)?;
    if second >= 60 {
        return Err(r.out_of_range("second"));
    }
    let mut nanos = 0u32;
    let b = r.0.as_bytes();
    if b.len() >= 2 && (b[0] == b'.' || b[0] == b',') && b[1].is_ascii_digit() {
        let n = 1 + b[1..].iter().take_while(|c| c.is_ascii_digit()).count();
        // Go keeps nine digits and ignores the rest.
        let frac = &r.0[1..n.min(10)];
        nanos = format!("{frac:0<9}").parse().unwrap_or(0);
        r.0 = &r.0[n..];
    }
    let offset = if let Some(rest) = r.0.strip_prefix('Z') {
        r.0 = rest;
        0
    } else {
        let zone = r.0.as_bytes();
        let ok = zone.len() >= 6
            && (zone[0] == b'+' || zone[0] == b'-')
            && zone[1..3].iter().all(u8::is_ascii_digit)
            && zone[3] == b':'
            && zone[4..6].iter().all(u8::is_ascii_digit);
        if !ok {
            return Err(Bad::Field("UTC offset", r.0.to_string()));
        }
        let hours = i32::from(zone[1] - b'0') * 10 + i32::from(zone[2] - b'0');
        let minutes = i32::from(zone[4] - b'0') * 10 + i32::from(zone[5] - b'0');
        r.0 = &r.0[6..];
        if hours > 24 || minutes > 60 {
            return Err(r.out_of_range("UTC offset"));
        }
        let sign = if zone[0] == b'-' { -1 } else { 1 };
        sign * (hours * 3600 + minutes * 60)
    };
    if !r.0.is_empty() {
        return Err(Bad::Field("timestamp segment", r.0.to_string()));
    }
    let year = i64::from(year);
    if day < 1 || day > days_in_month(year, month) {
        return Err(Bad::DayOutOfRange);
    }
    let local =
        days_from_civil(year, month, day) * 86_400 + i64::from(hour * 3600 + minute * 60 + second);
    Ok(Timestamp { seconds: local - i64::from(offset), nanos, offset })
}

fn timestamp_arg(a: &Args, i: usize) -> Result<Timestamp, FunctionError> {
    let text = a.string(i, "the timestamp")?;
    parse_rfc3339(&text).map_err(|e| a.error(i, e.message()))
}

/// Go's `time.ParseDuration`, in nanoseconds; the error is Go's.
fn parse_duration(orig: &str) -> Result<i128, String> {
    let invalid = || format!("time: invalid duration {}", go_quote(orig));
    let (neg, mut s) = match orig.as_bytes().first() {
        Some(b'-') => (true, &orig[1..]),
        Some(b'+') => (false, &orig[1..]),
        _ => (false, orig),
    };
    if s == "0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err(invalid());
    }
    let limit: u128 = 1 << 63;
    let mut total: u128 = 0;
    while !s.is_empty() {
        if !(s.starts_with('.') || s.as_bytes()[0].is_ascii_digit()) {
            return Err(invalid());
        }
        let int_len = s.bytes().take_while(u8::is_ascii_digit).count();
        let int_part = &s[..int_len];
        s = &s[int_len..];
        let mut frac_part = "";
        if let Some(rest) = s.strip_prefix('.') {
            let n = rest.bytes().take_while(u8::is_ascii_digit).count();
            frac_part = &rest[..n];
            s = &rest[n..];
            if int_len == 0 && n == 0 {
                return Err(invalid());
            }
        }
        let unit_len = s.find(|c: char| c == '.' || c.is_ascii_digit()).unwrap_or(s.len());
        if unit_len == 0 {
            return Err(format!("time: missing unit in duration {}", go_quote(orig)));
        }
        let unit = &s[..unit_len];
        s = &s[unit_len..];
        let scale: u128 = match unit {
            "ns" => 1,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => {
                return Err(format!(
                    "time: unknown unit {} in duration {}",
                    go_quote(unit),
                    go_quote(orig)
                ))
            }
        };
        let whole: u128 = if int_part.is_empty() {
            0
        } else if int_part.len() > 20 {
            return Err(invalid());
        } else {
            int_part.parse().map_err(|_| invalid())?
        };
        let mut v = whole.checked_mul(scale).filter(|v| *v <= limit).ok_or_else(invalid)?;
        // Go converts the fraction through a float64; the digits beyond nanoseconds do not matter
        // for any unit here, so exact decimal arithmetic gives the same result.
        let digits: String = frac_part.chars().take(18).collect();
        if !digits.is_empty() {
            let f: u128 = digits.parse().unwrap_or(0);
            v += f * scale / 10u128.pow(digits.len() as u32);
            if v > limit {
                return Err(invalid());
            }
        }
        total += v;
        if total > limit {
            return Err(invalid());
        }
    }
    if !neg && total > limit - 1 {
        return Err(invalid());
    }
    Ok(if neg { -(total as i128) } else { total as i128 })
}

/// `timeadd(timestamp, duration)`: the timestamp moved by a Go duration ("1h30m", "-10s"),
/// written in the timestamp's own UTC offset.
pub(super) fn timeadd(a: &Args) -> FnResult {
    a.exactly(2)?;
    let ts = timestamp_arg(a, 0)?;
    let duration = a.string(1, "the duration")?;
    let nanos = parse_duration(&duration).map_err(|e| a.error(1, e))?;
    let total = ts.nanos_total() + nanos;
    let seconds = i64::try_from(total.div_euclid(1_000_000_000))
        .map_err(|_| a.fail("the result is out of range"))?;
    let moved = Timestamp { seconds, nanos: total.rem_euclid(1_000_000_000) as u32, ..ts };
    Ok(Value::String(moved.rfc3339()))
}

/// `timecmp(a, b)`: -1, 0 or 1 as `a` is before, the same instant as, or after `b`.
pub(super) fn timecmp(a: &Args) -> FnResult {
    a.exactly(2)?;
    let first = timestamp_arg(a, 0)?;
    let second = timestamp_arg(a, 1)?;
    let order = first.nanos_total().cmp(&second.nanos_total());
    Ok(Value::number(order as i8))
}

/// Splits a `formatdate` format into runs: a quoted literal, a run of one letter, or other text.
fn format_tokens(format: &str) -> Vec<&str> {
    let b = format.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let start = i;
        if b[i] == b'\'' {
            if b.get(i + 1) == Some(&b'\'') {
                i += 2;
            } else {
                i += 1;
                loop {
                    match b.get(i) {
                        None => break,
                        Some(b'\'') if b.get(i + 1) == Some(&b'\'') => i += 2,
                        Some(b'\'') => {
                            i += 1;
                            break;
                        }
                        Some(_) => i += 1,
                    }
                }
            }
        } else if b[i].is_ascii_alphabetic() {
            while b.get(i) == Some(&b[start]) {
                i += 1;
            }
        } else {
            while i < b.len() && b[i] != b'\'' && !b[i].is_ascii_alphabetic() {
                i += 1;
            }
        }
        out.push(&format[start..i]);
    }
    out
}

/// `formatdate(format, timestamp)`: the timestamp written in Terraform's date format mnemonics
/// (`YYYY-MM-DD`, `EEE, DD MMM YYYY hh:mm:ss ZZZ`, `'quoted'` literals).
pub(super) fn formatdate(a: &Args) -> FnResult {
    a.exactly(2)?;
    let format = a.string(0, "the format")?;
    let ts = timestamp_arg(a, 1)?;
    let c = ts.civil();
    let mut out = String::new();
    for tok in format_tokens(&format) {
        let verb =
            |rule: &str| a.error(0, format!("invalid date format verb {}{rule}", go_quote(tok)));
        let first = tok.as_bytes()[0];
        if first == b'\'' {
            if tok.len() == 1 || !tok.ends_with('\'') {
                return Err(a.error(0, "unterminated literal '"));
            }
            if tok == "''" {
                out.push('\'');
            } else {
                out.push_str(&tok[1..tok.len() - 1].replace("''", "'"));
            }
            continue;
        }
        if !first.is_ascii_alphabetic() {
            out.push_str(tok);
            continue;
        }
        let text = match (first, tok.len()) {
            (b'Y', 2) => format!("{:02}", c.year % 100),
            (b'Y', 4) => year_text(c.year),
            (b'Y', _) => return Err(verb(": year must either be \"YY\" or \"YYYY\"")),
            (b'M', 1) => c.month.to_string(),
            (b'M', 2) => format!("{:02}", c.month),
            (b'M', 3) => MONTHS[c.month as usize - 1][..3].to_string(),
            (b'M', 4) => MONTHS[c.month as usize - 1].to_string(),
            (b'M', _) => return Err(verb(": month must be \"M\", \"MM\", \"MMM\", or \"MMMM\"")),
            (b'D', 1) => c.day.to_string(),
            (b'D', 2) => format!("{:02}", c.day),
            (b'D', _) => return Err(verb(": day of month must either be \"D\" or \"DD\"")),
            (b'E', 3) => WEEKDAYS[c.weekday][..3].to_string(),
            (b'E', 4) => WEEKDAYS[c.weekday].to_string(),
            (b'E', _) => return Err(verb(": day of week must either be \"EEE\" or \"EEEE\"")),
            (b'h', 1) => c.hour.to_string(),
            (b'h', 2) => format!("{:02}", c.hour),
            (b'h', _) => return Err(verb(": 24-hour must either be \"h\" or \"hh\"")),
            (b'H', n @ (1 | 2)) => {
                let h = match c.hour % 12 {
                    0 => 12,
                    h => h,
                };
                if n == 1 {
                    h.to_string()
                } else {
                    format!("{h:02}")
                }
            }
            (b'H', _) => return Err(verb(": 12-hour must either be \"H\" or \"HH\"")),
            (b'A' | b'a', 2) => {
                let pm = c.hour >= 12;
                match (first == b'A', pm) {
                    (true, false) => "AM",
                    (true, true) => "PM",
                    (false, false) => "am",
                    (false, true) => "pm",
                }
                .to_string()
            }
            (b'A' | b'a', _) => {
                let l = first as char;
                return Err(verb(&format!(": must be \"{l}{l}\"")));
            }
            (b'm', 1) => c.minute.to_string(),
            (b'm', 2) => format!("{:02}", c.minute),
            (b'm', _) => return Err(verb(": minute must either be \"m\" or \"mm\"")),
            (b's', 1) => c.second.to_string(),
            (b's', 2) => format!("{:02}", c.second),
            (b's', _) => return Err(verb(": second must either be \"s\" or \"ss\"")),
            (b'Z', 1) if ts.offset == 0 => "Z".to_string(),
            (b'Z', 1) => ts.offset_text(true),
            (b'Z', 3) if ts.offset == 0 => "UTC".to_string(),
            (b'Z', 3 | 4) => ts.offset_text(false),
            (b'Z', 5) => ts.offset_text(true),
            (b'Z', _) => return Err(verb(": timezone must be Z, ZZZZ, or ZZZZZ")),
            _ => return Err(verb("")),
        };
        out.push_str(&text);
    }
    Ok(Value::String(out))
}

/// `timestamp()` and `plantimestamp()` read the clock: refused, with what to do instead.
pub(super) fn clock(a: &Args) -> FnResult {
    Err(a.fail(
        "not supported: it reads the clock, and meshform plans must be the same for the same \
         configuration, state and infrastructure; pass the time in as a variable \
         (--var now=\"$(date -u +%Y-%m-%dT%H:%M:%SZ)\") and use timeadd/formatdate on it",
    ))
}

#[cfg(test)]
#[path = "datetime_tests.rs"]
mod tests;
