//! Number functions: `abs`, `ceil`, `floor`, `signum`, `pow`, `log`, `min`, `max`, `sum` and
//! `parseint`.

use meshform_core::{Number, Value};

use super::args::Args;
use super::FnResult;

/// The longest digit string `parseint` reads.
const MAX_PARSEINT_DIGITS: usize = 1_000;

fn unary(a: &Args, f: impl FnOnce(&Number) -> Number) -> FnResult {
    a.exactly(1)?;
    Ok(Value::Number(f(&a.number(0, "the argument")?)))
}

pub(super) fn abs(a: &Args) -> FnResult {
    unary(a, Number::abs)
}

pub(super) fn ceil(a: &Args) -> FnResult {
    unary(a, Number::ceil)
}

pub(super) fn floor(a: &Args) -> FnResult {
    unary(a, Number::floor)
}

pub(super) fn signum(a: &Args) -> FnResult {
    unary(a, |n| Number::from(n.signum()))
}

/// A float result (`pow` and `log` are computed in `float64`, as Terraform does) as the number with
/// its shortest decimal; leaving the range of finite numbers is an error, not a silent infinity.
fn finite(a: &Args, n: f64) -> FnResult {
    Number::from_f64(n)
        .map(Value::Number)
        .ok_or_else(|| a.fail("the result is not a finite number"))
}

pub(super) fn pow(a: &Args) -> FnResult {
    a.exactly(2)?;
    let base = a.float(0, "the base")?;
    let exp = a.float(1, "the exponent")?;
    finite(a, base.powf(exp))
}

pub(super) fn log(a: &Args) -> FnResult {
    a.exactly(2)?;
    let n = a.float(0, "the number")?;
    let base = a.float(1, "the base")?;
    finite(a, n.ln() / base.ln())
}

fn extreme(a: &Args, pick_first: fn(&Number, &Number) -> bool) -> FnResult {
    a.at_least(1)?;
    let mut best = a.number(0, "each argument")?;
    for i in 1..a.len() {
        let n = a.number(i, "each argument")?;
        if pick_first(&n, &best) {
            best = n;
        }
    }
    Ok(Value::Number(best))
}

pub(super) fn min(a: &Args) -> FnResult {
    extreme(a, |n, best| n < best)
}

pub(super) fn max(a: &Args) -> FnResult {
    extreme(a, |n, best| n > best)
}

/// `sum(list)`: the exact total of a non-empty list of numbers.
pub(super) fn sum(a: &Args) -> FnResult {
    a.exactly(1)?;
    let items = a.list(0, "the argument")?;
    if items.is_empty() {
        return Err(a.error(0, "cannot sum an empty list"));
    }
    let mut total = Number::ZERO;
    for (i, item) in items.iter().enumerate() {
        match item.unmarked() {
            Value::Number(n) => total = total.add(n),
            Value::String(s) => match Number::parse(s.trim()) {
                Ok(n) => total = total.add(&n),
                _ => return Err(a.error(0, format!("element {i} must be a number, got {item}"))),
            },
            v => return Err(a.error(0, format!("element {i} must be a number, got {}", v.kind()))),
        }
    }
    Ok(Value::Number(total))
}

/// `parseint(string, base)`: an integer of any size written in base 2 to 62 (digits `0-9`, then `a-z`,
/// then `A-Z`; up to base 36 letters are case-insensitive).
pub(super) fn parseint(a: &Args) -> FnResult {
    a.exactly(2)?;
    let s = a.string(0, "the string")?;
    let base = a.integer(1, "the base")?;
    if !(2..=62).contains(&base) {
        return Err(a.error(1, format!("the base must be between 2 and 62, got {base}")));
    }
    let fail = || a.error(0, format!("cannot parse {:?} as a base {base} integer", s.as_ref()));
    let (negative, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(&s)),
    };
    if digits.is_empty() {
        return Err(fail());
    }
    if digits.len() > MAX_PARSEINT_DIGITS {
        return Err(a.error(
            0,
            format!(
                "the string has {} digits; parseint reads at most {MAX_PARSEINT_DIGITS}",
                digits.len()
            ),
        ));
    }
    let radix = Number::from(base);
    let mut value = Number::ZERO;
    for c in digits.chars() {
        let d = match c {
            '0'..='9' => c as u32 - '0' as u32,
            'a'..='z' => c as u32 - 'a' as u32 + 10,
            'A'..='Z' if base <= 36 => c as u32 - 'A' as u32 + 10,
            'A'..='Z' => c as u32 - 'A' as u32 + 36,
            _ => return Err(fail()),
        };
        if i64::from(d) >= base {
            return Err(fail());
        }
        value = value.mul(&radix).add(&Number::from(d));
    }
    Ok(Value::Number(if negative { value.neg() } else { value }))
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;

    #[test]
    fn unary_functions() {
        assert_eq!(ok("abs", &[n(-12.4)]), n(12.4));
        assert_eq!(ok("abs", &[n(0.0)]), n(0.0));
        assert_eq!(ok("ceil", &[n(5.1)]), n(6.0));
        assert_eq!(ok("ceil", &[n(-5.1)]), n(-5.0));
        assert_eq!(ok("floor", &[n(4.9)]), n(4.0));
        assert_eq!(ok("floor", &[s("-4.1")]), n(-5.0));
        assert_eq!(ok("signum", &[n(-3.0)]), n(-1.0));
        assert_eq!(ok("signum", &[n(0.0)]), n(0.0));
        assert_eq!(err("abs", &[s("three")]), "abs: the argument must be a number, got \"three\"");
        assert_eq!(err("ceil", &[list([])]), "ceil: the argument must be a number, got list");
        assert_eq!(err("floor", &[n(1.0), n(2.0)]), "floor takes 1 argument, got 2");
    }

    #[test]
    fn pow_and_log() {
        assert_eq!(ok("pow", &[n(3.0), n(2.0)]), n(9.0));
        assert_eq!(ok("pow", &[n(4.0), n(0.0)]), n(1.0));
        assert_eq!(ok("log", &[n(16.0), n(2.0)]), n(4.0));
        assert_eq!(err("pow", &[n(10.0), n(400.0)]), "pow: the result is not a finite number");
        assert_eq!(err("log", &[n(0.0), n(2.0)]), "log: the result is not a finite number");
    }

    #[test]
    fn min_max_sum() {
        assert_eq!(ok("min", &[n(12.0), n(54.0), n(3.0)]), n(3.0));
        assert_eq!(ok("max", &[n(12.0), n(54.0), n(3.0)]), n(54.0));
        assert_eq!(ok("max", &[n(-1.0)]), n(-1.0));
        assert_eq!(err("min", &[]), "min takes at least 1 argument, got 0");
        assert_eq!(
            err("min", &[n(1.0), strs(&[])]),
            "min: each argument must be a number, got list"
        );
        assert_eq!(ok("sum", &[nums(&[10.0, 13.0, 6.0, 4.5])]), n(33.5));
        assert_eq!(ok("sum", &[list([n(1.0), s("2")])]), n(3.0));
        assert_eq!(err("sum", &[list([])]), "sum: cannot sum an empty list");
        assert_eq!(
            err("sum", &[list([n(1.0), s("x")])]),
            "sum: element 1 must be a number, got \"x\""
        );
        assert_eq!(err("sum", &[n(1.0)]), "sum: the argument must be a list, got number");
    }

    #[test]
    fn parseint_bases() {
        assert_eq!(ok("parseint", &[s("100"), n(10.0)]), n(100.0));
        assert_eq!(ok("parseint", &[s("FF"), n(16.0)]), n(255.0));
        assert_eq!(ok("parseint", &[s("-10"), n(16.0)]), n(-16.0));
        assert_eq!(ok("parseint", &[s("1011111011101111"), n(2.0)]), n(48879.0));
        assert_eq!(ok("parseint", &[s("aA"), n(62.0)]), n(10.0 * 62.0 + 36.0));
        assert_eq!(ok("parseint", &[s("zz"), n(36.0)]), n(1295.0));
        assert_eq!(
            err("parseint", &[s("12"), n(2.0)]),
            "parseint: cannot parse \"12\" as a base 2 integer"
        );
        assert_eq!(
            err("parseint", &[s(""), n(10.0)]),
            "parseint: cannot parse \"\" as a base 10 integer"
        );
        assert_eq!(
            err("parseint", &[s("1"), n(1.0)]),
            "parseint: the base must be between 2 and 62, got 1"
        );
        let huge = "9".repeat(60);
        assert_eq!(ok("parseint", &[s(&huge), n(10.0)]).to_string(), huge);
        assert_eq!(
            ok("parseint", &[s("8000000000000000"), n(16.0)]).to_string(),
            "9223372036854775808"
        );
        assert_eq!(
            err("parseint", &[s(&"1".repeat(1001)), n(2.0)]),
            "parseint: the string has 1001 digits; parseint reads at most 1000"
        );
    }
}
