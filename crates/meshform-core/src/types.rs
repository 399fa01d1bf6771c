//! Type constraints (`string`, `list(number)`, `object({…})`) and conversion of values to them.

use std::collections::BTreeMap;
use std::fmt;

use crate::value::Value;
use crate::Number;

/// A type constraint, as written in `variable { type = … }` or declared by a provider schema.
#[derive(Clone, Debug, PartialEq)]
pub enum Type {
    Any,
    String,
    Number,
    Bool,
    List(Box<Type>),
    Set(Box<Type>),
    Map(Box<Type>),
    Tuple(Vec<Type>),
    /// Object attributes; the flag says whether the attribute is optional.
    Object(BTreeMap<String, (Type, bool)>),
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Type::Any => f.write_str("any"),
            Type::String => f.write_str("string"),
            Type::Number => f.write_str("number"),
            Type::Bool => f.write_str("bool"),
            Type::List(t) => write!(f, "list({t})"),
            Type::Set(t) => write!(f, "set({t})"),
            Type::Map(t) => write!(f, "map({t})"),
            Type::Tuple(ts) => {
                f.write_str("tuple([")?;
                for (i, t) in ts.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{t}")?;
                }
                f.write_str("])")
            }
            Type::Object(attrs) => {
                f.write_str("object({")?;
                for (i, (k, (t, opt))) in attrs.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    if *opt {
                        write!(f, "{k} = optional({t})")?;
                    } else {
                        write!(f, "{k} = {t}")?;
                    }
                }
                f.write_str("})")
            }
        }
    }
}

/// Why a value does not convert, with the path inside the value where it failed.
#[derive(Clone, Debug, PartialEq)]
pub struct ConversionError {
    pub path: String,
    pub message: String,
}

impl fmt::Display for ConversionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

impl Type {
    /// Converts `value` to this type the way HCL does: numbers and bools to strings, numeric strings to
    /// numbers, `"true"`/`"false"` to bools, tuples to lists and sets, objects to maps. Unknown and null
    /// values pass through; sensitive marks are kept.
    pub fn convert(&self, value: &Value) -> Result<Value, ConversionError> {
        self.convert_at(value, "")
    }

    fn convert_at(&self, value: &Value, path: &str) -> Result<Value, ConversionError> {
        if let Value::Sensitive(inner) = value {
            // The error would quote the value (or its keys in the path): say only what was required.
            return self.convert_at(inner, path).map(Value::sensitive).map_err(|_| {
                ConversionError {
                    path: path.to_owned(),
                    message: format!(
                        "a valid {self} is required (the value is sensitive, so it is not shown)"
                    ),
                }
            });
        }
        if matches!(value, Value::Null | Value::Unknown) {
            return Ok(value.clone());
        }
        let fail = |msg: String| Err(ConversionError { path: path.to_owned(), message: msg });
        match (self, value) {
            (Type::Any, v) => Ok(v.clone()),
            (Type::String, Value::String(_)) => Ok(value.clone()),
            (Type::String, Value::Number(n)) => Ok(Value::String(n.to_string())),
            (Type::String, Value::Bool(b)) => Ok(Value::String(b.to_string())),
            (Type::Number, Value::Number(_)) => Ok(value.clone()),
            (Type::Number, Value::String(s)) => match Number::parse(s.trim()) {
                Ok(n) => Ok(Value::Number(n)),
                Err(_) => {
                    fail(format!("a number is required, got the string {}", crate::value::quote(s)))
                }
            },
            (Type::Bool, Value::Bool(_)) => Ok(value.clone()),
            (Type::Bool, Value::String(s)) if s == "true" || s == "false" => {
                Ok(Value::Bool(s == "true"))
            }
            (Type::List(t), Value::List(items)) => items
                .iter()
                .enumerate()
                .map(|(i, v)| t.convert_at(v, &format!("{path}[{i}]")))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::List),
            (Type::Set(t), Value::List(items)) => {
                let mut out = items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| t.convert_at(v, &format!("{path}[{i}]")))
                    .collect::<Result<Vec<_>, _>>()?;
                normalize_set(&mut out);
                Ok(Value::List(out))
            }
            (Type::Tuple(ts), Value::List(items)) => {
                if ts.len() != items.len() {
                    return fail(format!(
                        "a tuple of {} elements is required, got {}",
                        ts.len(),
                        items.len()
                    ));
                }
                ts.iter()
                    .zip(items)
                    .enumerate()
                    .map(|(i, (t, v))| t.convert_at(v, &format!("{path}[{i}]")))
                    .collect::<Result<Vec<_>, _>>()
                    .map(Value::List)
            }
            (Type::Map(t), Value::Map(m)) => m
                .iter()
                .map(|(k, v)| Ok((k.clone(), t.convert_at(v, &join_path(path, k))?)))
                .collect::<Result<BTreeMap<_, _>, _>>()
                .map(Value::Map),
            (Type::Object(attrs), Value::Map(m)) => {
                let mut out = BTreeMap::new();
                for (k, (t, optional)) in attrs {
                    match m.get(k) {
                        Some(v) => {
                            out.insert(k.clone(), t.convert_at(v, &join_path(path, k))?);
                        }
                        None if *optional => {
                            out.insert(k.clone(), Value::Null);
                        }
                        None => return fail(format!("attribute \"{k}\" is required")),
                    }
                }
                if let Some(extra) = m.keys().find(|k| !attrs.contains_key(*k)) {
                    return fail(format!("unexpected attribute \"{extra}\""));
                }
                Ok(Value::Map(out))
            }
            (t, v) => fail(format!("{} required, got {}", article(t), v.kind())),
        }
    }
}

fn article(t: &Type) -> String {
    match t {
        Type::String => "a string is".into(),
        Type::Number => "a number is".into(),
        Type::Bool => "a bool is".into(),
        Type::List(_) | Type::Set(_) | Type::Tuple(_) => format!("a {t} is"),
        Type::Map(_) | Type::Object(_) => format!("a {t} is"),
        Type::Any => "a value is".into(),
    }
}

fn join_path(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// Sorts and de-duplicates a list so that it represents a set deterministically.
pub fn normalize_set(items: &mut Vec<Value>) {
    items.sort_by_key(Value::identity_key);
    items.dedup_by(|a, b| a.same_as(b));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A conversion error inside a sensitive value names the type required, never the value nor
    /// its keys.
    #[test]
    fn a_sensitive_value_that_does_not_convert_is_not_quoted() {
        let e = Type::Number.convert(&Value::string("hunter2").sensitive()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "a valid number is required (the value is sensitive, so it is not shown)"
        );
        let secret_map = Value::map([("hunter2", Value::string("x"))]).sensitive();
        let e = Type::Map(Box::new(Type::Number)).convert(&secret_map).unwrap_err();
        assert!(!e.to_string().contains("hunter2"), "{e}");
        let list = Value::List(vec![Value::number(1), Value::string("hunter2").sensitive()]);
        let e = Type::List(Box::new(Type::Number)).convert(&list).unwrap_err();
        assert_eq!(e.path, "[1]", "the path up to the sensitive value is shown");
        let e = Type::Number.convert(&Value::string("plain")).unwrap_err();
        assert!(e.to_string().contains("\"plain\""), "an ordinary value is still quoted: {e}");
    }

    #[test]
    fn converts_like_hcl() {
        assert_eq!(Type::String.convert(&Value::number(5)).unwrap(), Value::string("5"));
        assert_eq!(Type::Number.convert(&Value::string("42")).unwrap(), Value::number(42));
        assert!(Type::Number.convert(&Value::string("x")).is_err());
        let set = Type::Set(Box::new(Type::String))
            .convert(&Value::List(vec![Value::string("b"), Value::string("a"), Value::string("b")]))
            .unwrap();
        assert_eq!(set, Value::List(vec![Value::string("a"), Value::string("b")]));
    }

    #[test]
    fn object_reports_missing_and_extra_attributes() {
        let t = Type::Object(
            [("a".to_owned(), (Type::String, false)), ("b".to_owned(), (Type::Number, true))]
                .into(),
        );
        let ok = t.convert(&Value::map([("a", Value::string("x"))])).unwrap();
        assert_eq!(ok.get("b"), Some(&Value::Null));
        let err = t.convert(&Value::map([("b", Value::number(1))])).unwrap_err();
        assert!(err.message.contains("\"a\" is required"));
        let err =
            t.convert(&Value::map([("a", Value::string("x")), ("c", Value::Null)])).unwrap_err();
        assert!(err.message.contains("unexpected attribute \"c\""));
    }

    #[test]
    fn nested_errors_name_the_path() {
        let t = Type::Map(Box::new(Type::List(Box::new(Type::Number))));
        let err = t
            .convert(&Value::map([("k", Value::List(vec![Value::number(1), Value::Bool(true)]))]))
            .unwrap_err();
        assert_eq!(err.path, "k[1]");
    }
}
