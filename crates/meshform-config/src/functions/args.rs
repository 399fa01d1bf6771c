//! Argument checking shared by every function: arity, typed access with HCL's automatic conversions,
//! and error messages in user terms ("split: the separator must be a string, got list").

use std::borrow::Cow;
use std::collections::BTreeMap;

use meshform_core::{Number, Type, Value};

use super::{FunctionContext, FunctionError};

/// The largest string or list a function builds from smaller inputs (`replace`, `indent`, `format`
/// padding, `formatlist`): beyond this a typo, not a configuration, is at work.
pub(crate) const MAX_OUTPUT_BYTES: usize = 64 * 1024 * 1024;

/// The arguments of one call, with the function's name for messages.
pub(crate) struct Args<'a> {
    pub name: &'static str,
    pub values: &'a [Value],
    pub ctx: &'a FunctionContext<'a>,
}

static NULL: Value = Value::Null;

impl<'a> Args<'a> {
    pub fn new(name: &'static str, values: &'a [Value], ctx: &'a FunctionContext<'a>) -> Self {
        Args { name, values, ctx }
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Requires exactly `n` arguments.
    pub fn exactly(&self, n: usize) -> Result<(), FunctionError> {
        if self.len() == n {
            Ok(())
        } else {
            Err(FunctionError::Arity(format!(
                "{} takes {}, got {}",
                self.name,
                plural(n, "argument"),
                self.len()
            )))
        }
    }

    /// Requires between `min` and `max` arguments.
    pub fn between(&self, min: usize, max: usize) -> Result<(), FunctionError> {
        if (min..=max).contains(&self.len()) {
            return Ok(());
        }
        let expected = if max == min + 1 {
            format!("{min} or {max} arguments")
        } else {
            format!("{min} to {max} arguments")
        };
        Err(FunctionError::Arity(format!("{} takes {expected}, got {}", self.name, self.len())))
    }

    /// Requires at least `min` arguments.
    pub fn at_least(&self, min: usize) -> Result<(), FunctionError> {
        if self.len() >= min {
            Ok(())
        } else {
            Err(FunctionError::Arity(format!(
                "{} takes at least {}, got {}",
                self.name,
                plural(min, "argument"),
                self.len()
            )))
        }
    }

    /// The argument at `i` without its sensitive mark (`null` when absent).
    pub fn get(&self, i: usize) -> &'a Value {
        self.values.get(i).map(Value::unmarked).unwrap_or(&NULL)
    }

    /// An error pointing at argument `i`.
    pub fn error(&self, i: usize, message: impl std::fmt::Display) -> FunctionError {
        FunctionError::Argument { index: i, message: format!("{}: {message}", self.name) }
    }

    /// An error about the call as a whole.
    pub fn fail(&self, message: impl std::fmt::Display) -> FunctionError {
        FunctionError::Failed(format!("{}: {message}", self.name))
    }

    fn wrong(&self, i: usize, what: &str, expected: &str) -> FunctionError {
        self.error(i, format!("{what} must be {expected}, got {}", self.get(i).kind()))
    }

    /// A string argument; numbers and bools convert as in HCL.
    pub fn string(&self, i: usize, what: &str) -> Result<Cow<'a, str>, FunctionError> {
        primitive_string(self.get(i)).ok_or_else(|| self.wrong(i, what, "a string"))
    }

    /// A number argument; numeric strings convert as in HCL.
    pub fn number(&self, i: usize, what: &str) -> Result<Number, FunctionError> {
        match self.get(i) {
            Value::Number(n) => Ok(n.clone()),
            v @ Value::String(_) => match Type::Number.convert(v) {
                Ok(Value::Number(n)) => Ok(n),
                _ => Err(self.error(i, format!("{what} must be a number, got {v}"))),
            },
            _ => Err(self.wrong(i, what, "a number")),
        }
    }

    /// A whole-number argument.
    pub fn integer(&self, i: usize, what: &str) -> Result<i64, FunctionError> {
        let n = self.number(i, what)?;
        n.as_i64().ok_or_else(|| self.error(i, format!("{what} must be a whole number, got {n}")))
    }

    /// A number argument as the nearest float, for the functions Terraform computes in `float64`.
    pub fn float(&self, i: usize, what: &str) -> Result<f64, FunctionError> {
        Ok(self.number(i, what)?.to_f64())
    }

    /// A list, tuple or set argument.
    pub fn list(&self, i: usize, what: &str) -> Result<&'a [Value], FunctionError> {
        match self.get(i) {
            Value::List(items) => Ok(items),
            _ => Err(self.wrong(i, what, "a list")),
        }
    }

    /// A map or object argument.
    pub fn map(&self, i: usize, what: &str) -> Result<&'a BTreeMap<String, Value>, FunctionError> {
        match self.get(i) {
            Value::Map(m) => Ok(m),
            _ => Err(self.wrong(i, what, "a map")),
        }
    }

    /// A list of strings (each element converted as in HCL; null elements are refused).
    pub fn strings(&self, i: usize, what: &str) -> Result<Vec<Cow<'a, str>>, FunctionError> {
        self.list(i, what)?
            .iter()
            .enumerate()
            .map(|(j, v)| {
                primitive_string(v.unmarked()).ok_or_else(|| {
                    self.error(
                        i,
                        format!("element {j} of {what} must be a string, got {}", v.kind()),
                    )
                })
            })
            .collect()
    }

    /// Refuses a result string longer than [`MAX_OUTPUT_BYTES`].
    pub fn check_size(&self, len: usize) -> Result<(), FunctionError> {
        if len > MAX_OUTPUT_BYTES {
            Err(self.fail(format!(
                "the result would be {len} bytes long, more than the limit of {MAX_OUTPUT_BYTES}"
            )))
        } else {
            Ok(())
        }
    }
}

/// "1 argument", "2 arguments".
pub(crate) fn plural(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("{n} {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// "a list", "an object".
pub(crate) fn article(kind: &str) -> String {
    if kind.starts_with(['a', 'e', 'i', 'o', 'u']) {
        format!("an {kind}")
    } else {
        format!("a {kind}")
    }
}

/// A string, number or bool as a string (HCL's conversion); `None` for anything else.
pub(crate) fn primitive_string(v: &Value) -> Option<Cow<'_, str>> {
    match v.unmarked() {
        Value::String(s) => Some(Cow::Borrowed(s)),
        Value::Number(n) => Some(Cow::Owned(n.to_string())),
        Value::Bool(b) => Some(Cow::Borrowed(if *b { "true" } else { "false" })),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;

    #[test]
    fn arity_messages_count_arguments() {
        assert_eq!(err("split", &[s(",")]), "split takes 2 arguments, got 1");
        assert_eq!(err("join", &[s(",")]), "join takes at least 2 arguments, got 1");
        assert_eq!(err("upper", &[]), "upper takes 1 argument, got 0");
        assert_eq!(err("join", &[]), "join takes at least 2 arguments, got 0");
    }

    #[test]
    fn primitives_convert_like_hcl() {
        assert_eq!(ok("upper", &[n(5.0)]), s("5"));
        assert_eq!(ok("upper", &[Value::Bool(true)]), s("TRUE"));
        assert_eq!(ok("substr", &[s("hello"), s("1"), s("2")]), s("el"));
        assert_eq!(
            err("substr", &[s("hello"), s("one"), n(2.0)]),
            "substr: the offset must be a number, got \"one\""
        );
        assert_eq!(
            err("substr", &[s("abc"), n(0.5), n(1.0)]),
            "substr: the offset must be a whole number, got 0.5"
        );
    }

    use meshform_core::Value;
}
