//! The dynamic [`Value`] with *unknown* and *sensitive* marks, and its redacting renderings.

use std::collections::BTreeMap;
use std::fmt;

use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};

use crate::Number;

/// The text shown wherever a sensitive value would otherwise appear.
pub const REDACTED: &str = "(sensitive value)";

/// A dynamic value: what expressions evaluate to and what providers receive and return.
///
/// Lists, tuples and sets are all `List` (a set is a sorted list without duplicates); objects and maps are
/// both `Map`. `Unknown` is a value that will only be known after apply. `Sensitive` wraps a value that must
/// never be shown; operations on it produce sensitive results.
#[derive(Clone, PartialEq, Default)]
pub enum Value {
    #[default]
    Null,
    Bool(bool),
    Number(Number),
    String(String),
    List(Vec<Value>),
    Map(BTreeMap<String, Value>),
    Unknown,
    Sensitive(Box<Value>),
}

impl Value {
    pub fn string(s: impl Into<String>) -> Value {
        Value::String(s.into())
    }

    pub fn number(n: impl Into<Number>) -> Value {
        Value::Number(n.into())
    }

    pub fn map<K: Into<String>>(entries: impl IntoIterator<Item = (K, Value)>) -> Value {
        Value::Map(entries.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    /// Marks this value sensitive (idempotent).
    pub fn sensitive(self) -> Value {
        match self {
            Value::Sensitive(_) => self,
            Value::Null => Value::Null,
            v => Value::Sensitive(Box::new(v)),
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self.unmarked(), Value::Null)
    }

    pub fn is_sensitive(&self) -> bool {
        matches!(self, Value::Sensitive(_))
    }

    /// True when this value is unknown at its top level.
    pub fn is_unknown(&self) -> bool {
        matches!(self.unmarked(), Value::Unknown)
    }

    /// True when this value or anything inside it is unknown.
    pub fn contains_unknown(&self) -> bool {
        match self {
            Value::Unknown => true,
            Value::Sensitive(v) => v.contains_unknown(),
            Value::List(items) => items.iter().any(Value::contains_unknown),
            Value::Map(m) => m.values().any(Value::contains_unknown),
            _ => false,
        }
    }

    /// True when this value or anything inside it is sensitive.
    pub fn contains_sensitive(&self) -> bool {
        match self {
            Value::Sensitive(_) => true,
            Value::List(items) => items.iter().any(Value::contains_sensitive),
            Value::Map(m) => m.values().any(Value::contains_sensitive),
            _ => false,
        }
    }

    /// The value without its top-level sensitive mark.
    pub fn unmarked(&self) -> &Value {
        match self {
            Value::Sensitive(v) => v.unmarked(),
            v => v,
        }
    }

    /// Removes every sensitive mark, deeply. Used where the raw value is needed (a provider call, the
    /// state store); never for rendering.
    pub fn into_unmarked_deep(self) -> Value {
        match self {
            Value::Sensitive(v) => v.into_unmarked_deep(),
            Value::List(items) => {
                Value::List(items.into_iter().map(Value::into_unmarked_deep).collect())
            }
            Value::Map(m) => {
                Value::Map(m.into_iter().map(|(k, v)| (k, v.into_unmarked_deep())).collect())
            }
            v => v,
        }
    }

    /// Removes the top-level mark and reports whether there was one.
    pub fn split_mark(self) -> (Value, bool) {
        match self {
            Value::Sensitive(v) => (v.split_mark().0, true),
            v => (v, false),
        }
    }

    /// Re-applies a sensitive mark when `sensitive` is true.
    pub fn with_mark(self, sensitive: bool) -> Value {
        if sensitive {
            self.sensitive()
        } else {
            self
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self.unmarked() {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self.unmarked() {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn as_number(&self) -> Option<&Number> {
        match self.unmarked() {
            Value::Number(n) => Some(n),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&BTreeMap<String, Value>> {
        match self.unmarked() {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_list(&self) -> Option<&[Value]> {
        match self.unmarked() {
            Value::List(l) => Some(l),
            _ => None,
        }
    }

    /// An attribute of a map value (`None` for other kinds or a missing key).
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.as_map().and_then(|m| m.get(key))
    }

    /// A string attribute of a map value (`None` for other kinds, a missing key or a non-string
    /// attribute, including an unknown one). A sensitive string is returned unmarked.
    pub fn get_str(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(Value::as_str)
    }

    /// The value at a path of map keys and list indexes.
    pub fn at_path(&self, path: &[PathStep]) -> Option<&Value> {
        let mut cur = self;
        for step in path {
            cur = match (cur.unmarked(), step) {
                (Value::Map(m), PathStep::Key(k)) => m.get(k)?,
                (Value::List(l), PathStep::Index(i)) => l.get(*i)?,
                _ => return None,
            };
        }
        Some(cur)
    }

    /// A short name of the value's kind, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::List(_) => "list",
            Value::Map(_) => "object",
            Value::Unknown => "unknown value",
            Value::Sensitive(v) => v.kind(),
        }
    }

    /// Converts from JSON. Integers become exact numbers, floats their shortest decimal (`0.3`).
    pub fn from_json(json: &serde_json::Value) -> Value {
        match json {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => Value::Number(number_from_json(n)),
            serde_json::Value::String(s) => Value::String(s.clone()),
            serde_json::Value::Array(a) => Value::List(a.iter().map(Value::from_json).collect()),
            serde_json::Value::Object(o) => {
                Value::Map(o.iter().map(|(k, v)| (k.clone(), Value::from_json(v))).collect())
            }
        }
    }

    /// A text that identifies the value (equal values, equal texts; sensitive parts included, unknown
    /// as `null`), for sorting and de-duplicating deterministically. Never for display.
    pub fn identity_key(&self) -> String {
        let mut out = String::new();
        write_identity(self, &mut out);
        out
    }

    /// Converts to JSON **revealing sensitive values**. Only the state store and provider transports may
    /// call this; renderings use `Serialize`, which redacts. Unknown values become `null`.
    pub fn expose_json(&self) -> serde_json::Value {
        match self {
            Value::Null | Value::Unknown => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Number(n) => number_json(n),
            Value::String(s) => serde_json::Value::String(s.clone()),
            Value::List(items) => {
                serde_json::Value::Array(items.iter().map(Value::expose_json).collect())
            }
            Value::Map(m) => serde_json::Value::Object(
                m.iter().map(|(k, v)| (k.clone(), v.expose_json())).collect(),
            ),
            Value::Sensitive(v) => v.expose_json(),
        }
    }

    /// Paths (within this value) of every sensitive mark.
    pub fn sensitive_paths(&self) -> Vec<Vec<PathStep>> {
        let mut out = Vec::new();
        collect_marks(self, &mut Vec::new(), &mut out, &|v| matches!(v, Value::Sensitive(_)));
        out
    }

    /// Paths (within this value) of every unknown value.
    pub fn unknown_paths(&self) -> Vec<Vec<PathStep>> {
        let mut out = Vec::new();
        collect_marks(self, &mut Vec::new(), &mut out, &|v| matches!(v.unmarked(), Value::Unknown));
        out
    }

    /// Marks the value at `path` sensitive, if it exists.
    pub fn mark_at(&mut self, path: &[PathStep]) {
        let Some((first, rest)) = path.split_first() else {
            let v = std::mem::take(self);
            *self = v.sensitive();
            return;
        };
        let inner = match self {
            Value::Sensitive(v) => v.as_mut(),
            v => v,
        };
        match (inner, first) {
            (Value::Map(m), PathStep::Key(k)) => {
                if let Some(v) = m.get_mut(k) {
                    v.mark_at(rest);
                }
            }
            (Value::List(l), PathStep::Index(i)) => {
                if let Some(v) = l.get_mut(*i) {
                    v.mark_at(rest);
                }
            }
            _ => {}
        }
    }

    /// Semantic equality ignoring sensitive marks (a value does not "change" by becoming sensitive).
    pub fn same_as(&self, other: &Value) -> bool {
        match (self.unmarked(), other.unmarked()) {
            (Value::List(a), Value::List(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.same_as(y))
            }
            (Value::Map(a), Value::Map(b)) => {
                a.len() == b.len()
                    && a.iter().zip(b).all(|((ka, va), (kb, vb))| ka == kb && va.same_as(vb))
            }
            (a, b) => a == b,
        }
    }
}

/// A number as JSON: integers in the `i64`/`u64` range exactly; other numbers as the float whose
/// shortest text they are (`0.3`, `1e100`), so they read back as themselves. serde_json's `Value` holds
/// nothing else (its `arbitrary_precision` feature would, at the cost of breaking untagged enums and
/// non-JSON serializers of JSON values across the workspace), so a number that needs more than 17
/// significant digits and is not such an integer (`1 / 3`) is stored as its nearest float.
fn number_json(n: &Number) -> serde_json::Value {
    if let Some(i) = n.as_i64() {
        return serde_json::Value::from(i);
    }
    if let Some(u) = n.as_u64() {
        return serde_json::Value::from(u);
    }
    serde_json::Number::from_f64(n.to_f64()).map(serde_json::Value::Number).unwrap_or_default()
}

fn number_from_json(n: &serde_json::Number) -> Number {
    if let Some(i) = n.as_i64() {
        return Number::from(i);
    }
    if let Some(u) = n.as_u64() {
        return Number::from(u);
    }
    n.as_f64().and_then(Number::from_f64).unwrap_or(Number::ZERO)
}

/// JSON text of a value with every number exact (`expose_json` would round long ones to a float, and
/// make `1 / 3` and `0.3333333333333333` one set element).
fn write_identity(v: &Value, out: &mut String) {
    match v {
        Value::Null | Value::Unknown => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => out.push_str(&serde_json::Value::String(s.clone()).to_string()),
        Value::List(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_identity(item, out);
            }
            out.push(']');
        }
        Value::Map(m) => {
            out.push('{');
            for (i, (k, item)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::Value::String(k.clone()).to_string());
                out.push(':');
                write_identity(item, out);
            }
            out.push('}');
        }
        Value::Sensitive(inner) => write_identity(inner, out),
    }
}

fn collect_marks(
    v: &Value,
    path: &mut Vec<PathStep>,
    out: &mut Vec<Vec<PathStep>>,
    pred: &dyn Fn(&Value) -> bool,
) {
    if pred(v) {
        out.push(path.clone());
        return;
    }
    match v.unmarked() {
        Value::List(items) => {
            for (i, item) in items.iter().enumerate() {
                path.push(PathStep::Index(i));
                collect_marks(item, path, out, pred);
                path.pop();
            }
        }
        Value::Map(m) => {
            for (k, item) in m {
                path.push(PathStep::Key(k.clone()));
                collect_marks(item, path, out, pred);
                path.pop();
            }
        }
        _ => {}
    }
}

/// One step of a path into a value; serialised as a bare string (key) or integer (index).
#[derive(
    Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(untagged)]
pub enum PathStep {
    Index(usize),
    Key(String),
}

impl fmt::Display for PathStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathStep::Key(k) => write!(f, ".{k}"),
            PathStep::Index(i) => write!(f, "[{i}]"),
        }
    }
}

/// Renders a path as `a.b[0]`.
pub fn path_string(path: &[PathStep]) -> String {
    let s: String = path.iter().map(|p| p.to_string()).collect();
    s.strip_prefix('.').map(str::to_owned).unwrap_or(s)
}

impl Serialize for Value {
    /// Redacting serialization: sensitive values become `"(sensitive value)"`, unknown ones `null`.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null | Value::Unknown => s.serialize_unit(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Number(n) => n.serialize(s),
            Value::String(v) => s.serialize_str(v),
            Value::List(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Value::Map(m) => {
                let mut map = s.serialize_map(Some(m.len()))?;
                for (k, v) in m {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
            Value::Sensitive(_) => s.serialize_str(REDACTED),
        }
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for Value {
    /// HCL-like rendering; sensitive values are redacted, unknown ones read `(known after apply)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("null"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Number(n) => write!(f, "{n}"),
            Value::String(s) => write!(f, "{}", quote(s)),
            Value::List(items) => {
                f.write_str("[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str("]")
            }
            Value::Map(m) => {
                f.write_str("{")?;
                for (i, (k, v)) in m.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{} = {v}", map_key(k))?;
                }
                f.write_str("}")
            }
            Value::Unknown => f.write_str("(known after apply)"),
            Value::Sensitive(_) => f.write_str(REDACTED),
        }
    }
}

/// Quotes a string as an HCL string literal.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '$' => out.push('$'),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Renders an object key bare when it is an identifier, quoted otherwise.
pub fn map_key(k: &str) -> String {
    let ident = !k.is_empty()
        && k.chars().next().is_some_and(|c| c.is_alphabetic() || c == '_')
        && k.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '-');
    if ident {
        k.to_owned()
    } else {
        quote(k)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_str_reads_string_attributes_only() {
        let v = Value::map([
            ("name", Value::string("a")),
            ("secret", Value::string("k").sensitive()),
            ("n", Value::number(1)),
            ("later", Value::Unknown),
        ]);
        assert_eq!(v.get_str("name"), Some("a"));
        assert_eq!(v.get_str("secret"), Some("k"));
        assert_eq!(v.get_str("n"), None);
        assert_eq!(v.get_str("later"), None);
        assert_eq!(v.get_str("absent"), None);
        assert_eq!(Value::string("x").get_str("name"), None);
    }

    #[test]
    fn sensitive_values_never_render() {
        let v = Value::map([("key", Value::string("s3cret").sensitive()), ("n", Value::number(1))]);
        assert!(!format!("{v}").contains("s3cret"));
        assert!(!format!("{v:?}").contains("s3cret"));
        assert!(!serde_json::to_string(&v).unwrap().contains("s3cret"));
        assert!(v.expose_json().to_string().contains("s3cret"));
    }

    #[test]
    fn marks_round_trip_through_paths() {
        let mut v = Value::map([
            ("a", Value::List(vec![Value::string("x"), Value::string("y").sensitive()])),
            ("b", Value::string("z")),
        ]);
        let paths = v.sensitive_paths();
        assert_eq!(paths, vec![vec![PathStep::Key("a".into()), PathStep::Index(1)]]);
        let mut plain = v.clone().into_unmarked_deep();
        for p in &paths {
            plain.mark_at(p);
        }
        assert_eq!(plain, v);
        v.mark_at(&[PathStep::Key("b".into())]);
        assert!(v.get("b").unwrap().is_sensitive());
    }

    #[test]
    fn numbers_render_as_integers_when_integral() {
        assert_eq!(Value::number(3).to_string(), "3");
        assert_eq!(Value::Number(Number::parse("1.5").unwrap()).to_string(), "1.5");
        assert_eq!(Value::number(3).expose_json(), serde_json::json!(3));
    }

    #[test]
    fn numbers_survive_json() {
        for text in
            ["0.3", "9007199254740993", "9223372036854775808", "-9223372036854775808", "1e100"]
        {
            let v = Value::Number(Number::parse(text).unwrap());
            let json = serde_json::to_string(&v.expose_json()).unwrap();
            let back = Value::from_json(&serde_json::from_str(&json).unwrap());
            assert_eq!(back, v, "{text} via {json}");
        }
    }

    #[test]
    fn exact_numbers_do_not_make_values_bigger() {
        // A plan holds millions of values: a number is an i64 or a pointer, as small as a String.
        assert!(std::mem::size_of::<Number>() <= 16);
        assert!(std::mem::size_of::<Value>() <= 32);
    }

    #[test]
    fn identity_keys_tell_close_numbers_apart() {
        let third = Number::from(1).checked_div(&Number::from(3)).unwrap();
        let float_third = Number::parse("0.3333333333333333").unwrap();
        assert_ne!(Value::Number(third).identity_key(), Value::Number(float_third).identity_key());
        assert_eq!(
            Value::map([("k", Value::List(vec![Value::number(1), Value::string("a\"b")]))])
                .identity_key(),
            r#"{"k":[1,"a\"b"]}"#
        );
    }

    #[test]
    fn same_as_ignores_marks() {
        assert!(Value::string("a").sensitive().same_as(&Value::string("a")));
        assert!(!Value::string("a").same_as(&Value::string("b")));
    }
}
