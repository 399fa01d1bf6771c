//! Type conversions: `tostring`, `tonumber`, `tobool`, `tolist`, `toset`, `tomap`, plus `coalesce`
//! and the element-type unification they share.

use meshform_core::types::normalize_set;
use meshform_core::{Type, Value};

use super::args::{article, primitive_string, Args};
use super::FnResult;

fn is_primitive(v: &Value) -> bool {
    matches!(v, Value::String(_) | Value::Number(_) | Value::Bool(_))
}

/// Two items of a collection whose kinds do not unify: (position, kind) each.
pub(crate) struct Mismatch {
    pub first: (usize, &'static str),
    pub second: (usize, &'static str),
}

impl Mismatch {
    /// "all elements must have the same type, but element 0 is a number and element 1 is a bool",
    /// with `name` saying what each position is.
    pub fn describe(&self, all: &str, name: impl Fn(usize) -> String) -> String {
        format!(
            "{all} must have the same type, but {} is {} and {} is {}",
            name(self.first.0),
            article(self.first.1),
            name(self.second.0),
            article(self.second.1)
        )
    }
}

/// Gives the elements of a collection one type, as HCL does: when they are all of one kind they
/// stay as they are; strings mixed with numbers or bools make every element a string; any other
/// mix is an error naming two elements whose kinds differ. Nulls fit every type.
pub(crate) fn unify(items: Vec<Value>) -> Result<Vec<Value>, Mismatch> {
    let mut first: Option<(usize, &'static str)> = None;
    let mut mismatch = None;
    let mut has_string = false;
    let mut all_primitive = true;
    for (i, v) in items.iter().enumerate() {
        let v = v.unmarked();
        if matches!(v, Value::Null | Value::Unknown) {
            continue;
        }
        has_string |= matches!(v, Value::String(_));
        all_primitive &= is_primitive(v);
        match first {
            None => first = Some((i, v.kind())),
            Some(f) if f.1 != v.kind() && mismatch.is_none() => {
                mismatch = Some(Mismatch { first: f, second: (i, v.kind()) })
            }
            _ => {}
        }
    }
    let Some(mismatch) = mismatch else { return Ok(items) };
    if !(all_primitive && has_string) {
        return Err(mismatch);
    }
    Ok(items
        .into_iter()
        .map(|v| match primitive_string(&v) {
            Some(s) => Value::String(s.into_owned()),
            None => v,
        })
        .collect())
}

/// The type of a value as Terraform's console `type()` writes it: `string`, `tuple([…])`,
/// `object({…})` over several lines, four spaces a level. meshform values carry no static type, so
/// a list is the tuple of its elements' types and a map the object of its attributes', as for a
/// literal in Terraform; null and unknown values are `dynamic`.
pub(crate) fn type_string(v: &Value) -> String {
    fn write(v: &Value, out: &mut String, level: usize) {
        let pad = |l: usize| "    ".repeat(l);
        match v.unmarked() {
            Value::String(_) => out.push_str("string"),
            Value::Number(_) => out.push_str("number"),
            Value::Bool(_) => out.push_str("bool"),
            Value::List(items) if items.is_empty() => out.push_str("tuple([])"),
            Value::List(items) => {
                out.push_str("tuple([\n");
                for item in items {
                    out.push_str(&pad(level + 1));
                    write(item, out, level + 1);
                    out.push_str(",\n");
                }
                out.push_str(&pad(level));
                out.push_str("])");
            }
            Value::Map(m) if m.is_empty() => out.push_str("object({})"),
            Value::Map(m) => {
                out.push_str("object({\n");
                for (k, item) in m {
                    out.push_str(&pad(level + 1));
                    out.push_str(k);
                    out.push_str(": ");
                    write(item, out, level + 1);
                    out.push_str(",\n");
                }
                out.push_str(&pad(level));
                out.push_str("})");
            }
            Value::Null | Value::Unknown | Value::Sensitive(_) => out.push_str("dynamic"),
        }
    }
    let mut out = String::new();
    write(v, &mut out, 0);
    out
}

/// `list(…)` and `map(…)`, removed in Terraform v0.15: Terraform's error, naming the replacement.
pub(super) fn removed(a: &Args) -> FnResult {
    let (name, example) = if a.name == "list" {
        ("list", "tolist([ ... ]) syntax to write a literal list")
    } else {
        ("map", "tomap({ ... }) syntax to write a literal map")
    };
    Err(a.fail(format!(
        "the \"{name}\" function was deprecated in Terraform v0.12 and is no longer available; use {example}"
    )))
}

pub(super) fn tostring(a: &Args) -> FnResult {
    a.exactly(1)?;
    match a.get(0) {
        Value::Null => Ok(Value::Null),
        v => primitive_string(v)
            .map(|s| Value::String(s.into_owned()))
            .ok_or_else(|| a.error(0, format!("cannot convert {} to a string", article(v.kind())))),
    }
}

pub(super) fn tonumber(a: &Args) -> FnResult {
    a.exactly(1)?;
    match a.get(0) {
        v @ (Value::Null | Value::Number(_)) => Ok(v.clone()),
        v @ Value::String(s) => Type::Number.convert(v).map_err(|_| {
            a.error(0, format!("cannot convert {} to a number", meshform_core::value::quote(s)))
        }),
        v => Err(a.error(0, format!("cannot convert {} to a number", article(v.kind())))),
    }
}

pub(super) fn tobool(a: &Args) -> FnResult {
    a.exactly(1)?;
    match a.get(0) {
        v @ (Value::Null | Value::Bool(_)) => Ok(v.clone()),
        Value::String(s) if s == "true" || s == "false" => Ok(Value::Bool(s == "true")),
        v @ Value::String(_) => Err(a.error(0, format!("cannot convert {v} to a bool"))),
        v => Err(a.error(0, format!("cannot convert {} to a bool", article(v.kind())))),
    }
}

fn to_collection(a: &Args, set: bool) -> FnResult {
    a.exactly(1)?;
    let items = match a.get(0) {
        Value::Null => return Ok(Value::Null),
        Value::List(items) => items.clone(),
        v => {
            let target = if set { "set" } else { "list" };
            return Err(a.error(0, format!("cannot convert {} to a {target}", article(v.kind()))));
        }
    };
    let mut items = unify(items)
        .map_err(|e| a.error(0, e.describe("all elements", |i| format!("element {i}"))))?;
    if set {
        normalize_set(&mut items);
    }
    Ok(Value::List(items))
}

pub(super) fn tolist(a: &Args) -> FnResult {
    to_collection(a, false)
}

pub(super) fn toset(a: &Args) -> FnResult {
    to_collection(a, true)
}

pub(super) fn tomap(a: &Args) -> FnResult {
    a.exactly(1)?;
    let m = match a.get(0) {
        Value::Null => return Ok(Value::Null),
        Value::Map(m) => m,
        v => return Err(a.error(0, format!("cannot convert {} to a map", article(v.kind())))),
    };
    let keys: Vec<&String> = m.keys().collect();
    let values = unify(m.values().cloned().collect()).map_err(|e| {
        a.error(0, e.describe("all values", |i| format!("the value of {:?}", keys[i])))
    })?;
    Ok(Value::Map(keys.into_iter().cloned().zip(values).collect()))
}

/// `coalesce(values…)`: the first argument that is neither null nor an empty string.
pub(super) fn coalesce(a: &Args) -> FnResult {
    a.at_least(1)?;
    let values: Vec<Value> = a.values.iter().map(|v| v.unmarked().clone()).collect();
    let values = unify(values)
        .map_err(|e| a.fail(e.describe("all arguments", |i| format!("argument {i}"))))?;
    values
        .into_iter()
        .find(|v| !v.is_null() && v.as_str() != Some(""))
        .ok_or_else(|| a.fail("every argument is null or an empty string"))
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use meshform_core::Value;

    #[test]
    fn type_strings_like_terraforms_console() {
        use super::type_string;
        assert_eq!(type_string(&s("a")), "string");
        assert_eq!(type_string(&Value::Null), "dynamic");
        assert_eq!(type_string(&list([])), "tuple([])");
        assert_eq!(type_string(&Value::map::<&str>([])), "object({})");
        assert_eq!(
            type_string(&list([s("a"), n(1.0), Value::map([("b", Value::Bool(true))])])),
            "tuple([\n    string,\n    number,\n    object({\n        b: bool,\n    }),\n])"
        );
    }

    #[test]
    fn list_and_map_give_terraforms_removal_error() {
        assert_eq!(
            err("list", &[s("a"), s("b")]),
            "list: the \"list\" function was deprecated in Terraform v0.12 and is no longer \
             available; use tolist([ ... ]) syntax to write a literal list"
        );
        assert_eq!(
            err("map", &[s("a"), n(1.0)]),
            "map: the \"map\" function was deprecated in Terraform v0.12 and is no longer \
             available; use tomap({ ... }) syntax to write a literal map"
        );
    }

    #[test]
    fn primitives() {
        assert_eq!(ok("tostring", &[n(5.0)]), s("5"));
        assert_eq!(ok("tostring", &[Value::Bool(true)]), s("true"));
        assert_eq!(ok("tostring", &[Value::Null]), Value::Null);
        assert_eq!(err("tostring", &[strs(&["a"])]), "tostring: cannot convert a list to a string");
        assert_eq!(ok("tonumber", &[s("1.5")]), n(1.5));
        assert_eq!(ok("tonumber", &[n(2.0)]), n(2.0));
        assert_eq!(err("tonumber", &[s("no")]), "tonumber: cannot convert \"no\" to a number");
        assert_eq!(
            err("tonumber", &[Value::Bool(true)]),
            "tonumber: cannot convert a bool to a number"
        );
        assert_eq!(ok("tobool", &[s("true")]), Value::Bool(true));
        assert_eq!(ok("tobool", &[Value::Bool(false)]), Value::Bool(false));
        assert_eq!(ok("tobool", &[Value::Null]), Value::Null);
        assert_eq!(err("tobool", &[s("yes")]), "tobool: cannot convert \"yes\" to a bool");
        assert_eq!(err("tobool", &[n(1.0)]), "tobool: cannot convert a number to a bool");
    }

    #[test]
    fn lists_and_sets_unify_element_types() {
        assert_eq!(ok("tolist", &[strs(&["a", "b"])]), strs(&["a", "b"]));
        assert_eq!(
            ok("tolist", &[list([s("a"), n(1.0), Value::Bool(true)])]),
            strs(&["a", "1", "true"])
        );
        assert_eq!(ok("tolist", &[list([n(1.0), Value::Null])]), list([n(1.0), Value::Null]));
        assert_eq!(
            err("tolist", &[list([n(1.0), Value::Bool(true)])]),
            "tolist: all elements must have the same type, but element 0 is a number and element 1 is a bool"
        );
        assert_eq!(
            err("tolist", &[list([s("a"), strs(&[])])]),
            "tolist: all elements must have the same type, but element 0 is a string and element 1 is a list"
        );
        assert_eq!(
            err("tolist", &[Value::map([("a", n(1.0))])]),
            "tolist: cannot convert an object to a list"
        );
        assert_eq!(ok("toset", &[strs(&["c", "a", "b", "a"])]), strs(&["a", "b", "c"]));
        assert_eq!(ok("toset", &[list([s("a"), n(1.0), s("1")])]), strs(&["1", "a"]));
        assert_eq!(ok("toset", &[Value::Null]), Value::Null);
        assert_eq!(err("toset", &[s("a")]), "toset: cannot convert a string to a set");
    }

    #[test]
    fn maps_unify_values() {
        assert_eq!(
            ok("tomap", &[Value::map([("a", n(1.0)), ("b", s("x"))])]),
            Value::map([("a", s("1")), ("b", s("x"))])
        );
        assert_eq!(
            err("tomap", &[Value::map([("a", n(1.0)), ("b", list([]))])]),
            "tomap: all values must have the same type, but the value of \"a\" is a number and the value of \"b\" is a list"
        );
        assert_eq!(err("tomap", &[strs(&["a"])]), "tomap: cannot convert a list to a map");
    }

    #[test]
    fn coalesce_skips_null_and_empty() {
        assert_eq!(ok("coalesce", &[s("a"), s("b")]), s("a"));
        assert_eq!(ok("coalesce", &[s(""), s("b")]), s("b"));
        assert_eq!(ok("coalesce", &[Value::Null, n(1.0), n(2.0)]), n(1.0));
        assert_eq!(ok("coalesce", &[Value::Null, n(1.0), s("x")]), s("1"));
        assert_eq!(
            err("coalesce", &[Value::Null, s("")]),
            "coalesce: every argument is null or an empty string"
        );
        assert_eq!(
            err("coalesce", &[n(1.0), strs(&["a"])]),
            "coalesce: all arguments must have the same type, but argument 0 is a number and argument 1 is a list"
        );
        assert_eq!(err("coalesce", &[]), "coalesce takes at least 1 argument, got 0");
    }
}
