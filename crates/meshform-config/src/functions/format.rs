//! `format` and `formatlist`: printf-style formatting with the verbs Terraform supports
//! (`%v %#v %t %s %q %d %b %o %x %X %e %E %f %g %G %%`), flags `- + # 0 space`, width, precision and
//! explicit argument indexes (`%[2]s`).

use meshform_core::{Number, Value};

use super::args::{primitive_string, Args, MAX_OUTPUT_BYTES};
use super::{encoding, FnResult, FunctionError};

/// The largest width or precision a verb may ask for.
const MAX_WIDTH: usize = 10_000;

/// Why formatting failed, and which format argument (0-based, after the spec) is to blame.
struct FormatError {
    arg: Option<usize>,
    message: String,
}

fn err(arg: Option<usize>, message: String) -> FormatError {
    FormatError { arg, message }
}

#[derive(Default)]
struct Spec {
    minus: bool,
    plus: bool,
    space: bool,
    zero: bool,
    sharp: bool,
    width: Option<usize>,
    precision: Option<usize>,
}

/// Formats `args` according to `spec`.
fn format_str(spec: &str, args: &[&Value]) -> Result<String, FormatError> {
    let mut out = String::new();
    let mut next = 0usize; // the next argument to use
    let mut used = 0usize; // one past the highest argument used
    let mut chars = spec.char_indices().peekable();
    while let Some((offset, c)) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut sp = Spec::default();
        while let Some(&(_, f)) = chars.peek() {
            match f {
                '-' => sp.minus = true,
                '+' => sp.plus = true,
                ' ' => sp.space = true,
                '0' => sp.zero = true,
                '#' => sp.sharp = true,
                _ => break,
            }
            chars.next();
        }
        if let Some(n) = read_index(&mut chars, offset)? {
            next = n;
        }
        sp.width = read_number(&mut chars, offset)?;
        if chars.peek().map(|p| p.1) == Some('.') {
            chars.next();
            sp.precision = Some(read_number(&mut chars, offset)?.unwrap_or(0));
        }
        if let Some(n) = read_index(&mut chars, offset)? {
            next = n;
        }
        let Some((_, verb)) = chars.next() else {
            return Err(err(None, format!("the format verb at offset {offset} is unterminated")));
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(arg) = args.get(next) else {
            return Err(err(
                None,
                format!("not enough arguments for the \"%{verb}\" at offset {offset}"),
            ));
        };
        let text = format_arg(verb, &sp, arg)
            .map_err(|m| err(Some(next), format!("the \"%{verb}\" at offset {offset} {m}")))?;
        pad(&mut out, &text, &sp, verb);
        next += 1;
        used = used.max(next);
        if out.len() > MAX_OUTPUT_BYTES {
            return Err(err(
                None,
                format!("the result is more than {MAX_OUTPUT_BYTES} bytes long"),
            ));
        }
    }
    if used < args.len() {
        let m = if used == 0 {
            "too many arguments; the format string uses none".to_owned()
        } else {
            format!("too many arguments; the format string uses only {used}")
        };
        return Err(err(Some(used), m));
    }
    Ok(out)
}

type Chars<'s> = std::iter::Peekable<std::str::CharIndices<'s>>;

/// An explicit argument index `[n]` (1-based in the spec, 0-based here).
fn read_index(chars: &mut Chars, offset: usize) -> Result<Option<usize>, FormatError> {
    if chars.peek().map(|p| p.1) != Some('[') {
        return Ok(None);
    }
    chars.next();
    let n = read_number(chars, offset)?;
    match (n, chars.next().map(|p| p.1)) {
        (Some(n), Some(']')) if n > 0 => Ok(Some(n - 1)),
        _ => Err(err(None, format!("invalid argument index in the verb at offset {offset}"))),
    }
}

fn read_number(chars: &mut Chars, offset: usize) -> Result<Option<usize>, FormatError> {
    let mut n: Option<usize> = None;
    while let Some(d) = chars.peek().and_then(|p| p.1.to_digit(10)) {
        chars.next();
        let v = n.unwrap_or(0).saturating_mul(10).saturating_add(d as usize);
        if v > MAX_WIDTH {
            return Err(err(
                None,
                format!("the verb at offset {offset} asks for more than {MAX_WIDTH} characters"),
            ));
        }
        n = Some(v);
    }
    Ok(n)
}

/// Pads `text` to the width: spaces on the left, or the right with `-`, or zeros after the sign
/// with `0` for numbers.
fn pad(out: &mut String, text: &str, sp: &Spec, verb: char) {
    let len = text.chars().count();
    let fill = sp.width.unwrap_or(0).saturating_sub(len);
    if fill == 0 {
        out.push_str(text);
    } else if sp.minus {
        out.push_str(text);
        out.extend(std::iter::repeat_n(' ', fill));
    } else if sp.zero && "bdoxXeEfFgG".contains(verb) && !text.ends_with("Inf") && text != "NaN" {
        let sign_len = if text.starts_with(['-', '+', ' ']) { 1 } else { 0 };
        out.push_str(&text[..sign_len]);
        out.extend(std::iter::repeat_n('0', fill));
        out.push_str(&text[sign_len..]);
    } else {
        out.extend(std::iter::repeat_n(' ', fill));
        out.push_str(text);
    }
}

/// One argument formatted by one verb, without padding. Errors finish the sentence "the %d at …".
fn format_arg(verb: char, sp: &Spec, arg: &Value) -> Result<String, String> {
    if arg.is_null() && verb != 'v' {
        return Err("cannot format null".into());
    }
    match verb {
        'v' if sp.sharp => json(arg),
        'v' => match arg {
            Value::Null => Ok("null".into()),
            Value::List(_) | Value::Map(_) => json(arg),
            v => {
                primitive_string(v).map(|s| s.into_owned()).ok_or("cannot format this value".into())
            }
        },
        's' | 'q' => {
            let s = primitive_string(arg)
                .ok_or_else(|| format!("needs a string, got {}", arg.kind()))?;
            let s: String = match sp.precision {
                Some(p) => s.chars().take(p).collect(),
                None => s.into_owned(),
            };
            Ok(if verb == 'q' { serde_json::Value::String(s).to_string() } else { s })
        }
        't' => match arg {
            Value::Bool(b) => Ok(b.to_string()),
            Value::String(s) if s == "true" || s == "false" => Ok(s.clone()),
            v => Err(format!("needs a bool, got {}", v.kind())),
        },
        'd' | 'b' | 'o' | 'x' | 'X' => integer(verb, sp, &number(arg)?),
        'e' | 'E' | 'f' | 'F' | 'g' | 'G' => Ok(float(verb, sp, &number(arg)?)),
        _ => Err("is not a verb meshform knows".into()),
    }
}

fn json(v: &Value) -> Result<String, String> {
    encoding::to_json(v).map_err(|e| format!("cannot encode the value: {e}"))
}

fn number(arg: &Value) -> Result<Number, String> {
    match arg {
        Value::Number(n) => Ok(n.clone()),
        Value::String(s) => {
            Number::parse(s.trim()).map_err(|_| format!("needs a number, got {arg}"))
        }
        v => Err(format!("needs a number, got {}", v.kind())),
    }
}

fn sign(negative: bool, sp: &Spec) -> &'static str {
    if negative {
        "-"
    } else if sp.plus {
        "+"
    } else if sp.space {
        " "
    } else {
        ""
    }
}

/// `%d` (any size, exact) and `%b %o %x %X` (up to 2^127).
fn integer(verb: char, sp: &Spec, n: &Number) -> Result<String, String> {
    if !n.is_integer() {
        return Err(format!("needs a whole number, got {n}"));
    }
    let magnitude = n.abs();
    let binary = || {
        magnitude
            .as_i128()
            .map(|m| m.unsigned_abs())
            .ok_or_else(|| format!("needs a whole number below 2^127, got {n}"))
    };
    let (digits, prefix) = match verb {
        'b' => (format!("{:b}", binary()?), "0b"),
        'o' => (format!("{:o}", binary()?), "0"),
        'x' => (format!("{:x}", binary()?), "0x"),
        'X' => (format!("{:X}", binary()?), "0X"),
        _ => (magnitude.to_string(), ""),
    };
    let zeros = sp.precision.unwrap_or(0).saturating_sub(digits.len());
    let prefix = if sp.sharp { prefix } else { "" };
    Ok(format!("{}{prefix}{}{digits}", sign(n.is_negative(), sp), "0".repeat(zeros)))
}

/// `%f` exactly (every digit of a large number, rounded half to even as Go's `big.Float`); `%e` and
/// `%g` through the nearest float.
fn float(verb: char, sp: &Spec, n: &Number) -> String {
    let s = sign(n.is_negative(), sp);
    let x = n.abs().to_f64();
    if x.is_infinite() {
        return if n.is_negative() { "-Inf" } else { "+Inf" }.into();
    }
    let body = match verb {
        'f' | 'F' => n.abs().to_fixed(sp.precision.unwrap_or(6)),
        'e' | 'E' => {
            let (mantissa, exp) = split_exp(&format!("{x:.*e}", sp.precision.unwrap_or(6)));
            exp_form(&mantissa, exp, verb == 'E')
        }
        _ => general(x, sp.precision, verb == 'G'),
    };
    format!("{s}{body}")
}

/// Splits Rust's `1.5e3` into its mantissa and exponent.
fn split_exp(s: &str) -> (String, i32) {
    match s.split_once('e') {
        Some((m, e)) => (m.to_owned(), e.parse().unwrap_or(0)),
        None => (s.to_owned(), 0),
    }
}

/// `1.5e+03`, as Go (and so Terraform) writes exponents.
fn exp_form(mantissa: &str, exp: i32, upper: bool) -> String {
    let e = if upper { 'E' } else { 'e' };
    let sign = if exp < 0 { '-' } else { '+' };
    format!("{mantissa}{e}{sign}{:02}", exp.unsigned_abs())
}

/// `%g`: the shortest representation (or `precision` significant digits), in exponent form when
/// the exponent is below -4 or at least the precision (6 for the shortest form).
fn general(x: f64, precision: Option<usize>, upper: bool) -> String {
    let repr = match precision {
        None => format!("{x:e}"),
        Some(p) => format!("{x:.*e}", p.max(1) - 1),
    };
    let (mantissa, exp) = split_exp(&repr);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let digits = digits.trim_end_matches('0');
    let digits = if digits.is_empty() { "0" } else { digits };
    let nd = digits.len() as i64;
    let dp = exp as i64 + 1;
    let eprec = match precision {
        None => 6,
        Some(p) => {
            let p = p.max(1) as i64;
            if p > nd && nd >= dp {
                nd
            } else {
                p
            }
        }
    };
    if (exp as i64) < -4 || exp as i64 >= eprec {
        let m =
            if nd > 1 { format!("{}.{}", &digits[..1], &digits[1..]) } else { digits.to_owned() };
        return exp_form(&m, exp, upper);
    }
    if dp <= 0 {
        format!("0.{}{digits}", "0".repeat((-dp) as usize))
    } else if dp >= nd {
        format!("{digits}{}", "0".repeat((dp - nd) as usize))
    } else {
        format!("{}.{}", &digits[..dp as usize], &digits[dp as usize..])
    }
}

fn to_function_error(a: &Args, e: FormatError, iteration: Option<usize>) -> FunctionError {
    let message = match iteration {
        Some(i) => format!("in iteration {i}, {}", e.message),
        None => e.message,
    };
    match e.arg {
        Some(i) => a.error(i + 1, message),
        None => a.error(0, message),
    }
}

/// `format(spec, args…)`.
pub(super) fn format(a: &Args) -> FnResult {
    a.at_least(1)?;
    let spec = a.string(0, "the format string")?;
    let args: Vec<&Value> = a.values[1..].iter().map(Value::unmarked).collect();
    format_str(&spec, &args).map(Value::String).map_err(|e| to_function_error(a, e, None))
}

/// `formatlist(spec, args…)`: `format` once per element of the list arguments, which must all
/// have the same length; other arguments repeat in every iteration.
pub(super) fn formatlist(a: &Args) -> FnResult {
    a.at_least(1)?;
    let spec = a.string(0, "the format string")?;
    let mut len: Option<(usize, usize)> = None; // (length, argument index)
    for (i, v) in a.values.iter().enumerate().skip(1) {
        if let Value::List(items) = v.unmarked() {
            match len {
                Some((l, first)) if l != items.len() => {
                    return Err(a.error(
                        i,
                        format!(
                            "argument {i} has {} elements but argument {first} has {l}; \
                             every list must have the same length",
                            items.len()
                        ),
                    ))
                }
                _ => len = Some((items.len(), i)),
            }
        }
    }
    let iterations = len.map_or(1, |(l, _)| l);
    let mut out = Vec::with_capacity(iterations);
    let mut total = 0usize;
    for it in 0..iterations {
        let args: Vec<&Value> = a.values[1..]
            .iter()
            .map(|v| match v.unmarked() {
                Value::List(items) => items[it].unmarked(),
                v => v,
            })
            .collect();
        let s = format_str(&spec, &args).map_err(|e| to_function_error(a, e, Some(it)))?;
        total += s.len();
        a.check_size(total)?;
        out.push(Value::String(s));
    }
    Ok(Value::List(out))
}

#[cfg(test)]
#[path = "format_tests.rs"]
mod tests;
