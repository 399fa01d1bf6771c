//! Values as a plan file holds them: never a secret.
//!
//! A [`SavedValue`] is JSON in which every unknown and every sensitive value is `null`, with the paths
//! of both beside it. A sensitive value is remembered only by a token, numbered in order of first
//! appearance within one plan ([`Redactor`]): equal secrets get equal tokens, so a rendering of the
//! saved plan can still tell a changed secret from an unchanged one ("~ password = (sensitive
//! value)"), and nothing else about a secret is kept. Decoding gives a [`Value`] whose sensitive
//! leaves are placeholders that render as `(sensitive value)`.

use meshform_core::{PathStep, Value};
use serde::{Deserialize, Serialize};

/// A value without its secrets.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedValue {
    /// The value with unknown and sensitive parts `null`.
    pub value: serde_json::Value,
    /// Paths of values known only after apply.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unknown: Vec<Vec<PathStep>>,
    /// Paths of sensitive values, each with its token.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sensitive: Vec<SensitiveLeaf>,
}

/// Where a sensitive value was, and which one (by token) it was.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SensitiveLeaf {
    pub path: Vec<PathStep>,
    pub token: usize,
}

/// Assigns tokens to sensitive values within one plan. Holds the secrets it has seen in memory only
/// (to recognise equal ones); it is never serialised.
#[derive(Default)]
pub struct Redactor {
    seen: Vec<serde_json::Value>,
}

impl Redactor {
    fn token(&mut self, secret: &Value) -> usize {
        let exposed = secret.expose_json();
        match self.seen.iter().position(|s| *s == exposed) {
            Some(i) => i,
            None => {
                self.seen.push(exposed);
                self.seen.len() - 1
            }
        }
    }

    /// Encodes a value, replacing its secrets by tokens.
    pub fn encode(&mut self, v: &Value) -> SavedValue {
        let mut out = SavedValue {
            value: serde_json::Value::Null,
            unknown: Vec::new(),
            sensitive: Vec::new(),
        };
        out.value = self.walk(v, &mut Vec::new(), &mut out.unknown, &mut out.sensitive);
        out
    }

    fn walk(
        &mut self,
        v: &Value,
        path: &mut Vec<PathStep>,
        unknown: &mut Vec<Vec<PathStep>>,
        sensitive: &mut Vec<SensitiveLeaf>,
    ) -> serde_json::Value {
        match v {
            Value::Sensitive(inner) => {
                let token = self.token(inner);
                sensitive.push(SensitiveLeaf { path: path.clone(), token });
                serde_json::Value::Null
            }
            Value::Unknown => {
                unknown.push(path.clone());
                serde_json::Value::Null
            }
            Value::List(items) => serde_json::Value::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, x)| {
                        path.push(PathStep::Index(i));
                        let j = self.walk(x, path, unknown, sensitive);
                        path.pop();
                        j
                    })
                    .collect(),
            ),
            Value::Map(m) => serde_json::Value::Object(
                m.iter()
                    .map(|(k, x)| {
                        path.push(PathStep::Key(k.clone()));
                        let j = self.walk(x, path, unknown, sensitive);
                        path.pop();
                        (k.clone(), j)
                    })
                    .collect(),
            ),
            // Only non-secret scalars reach here.
            other => other.expose_json(),
        }
    }
}

/// What a decoded sensitive leaf holds: a placeholder naming its token, so that equal secrets stay
/// equal (and different ones different) when a decoded plan is compared or encoded again.
const PLACEHOLDER_PREFIX: &str = "\u{0}meshform-redacted#";

impl SavedValue {
    /// The value with unknowns restored and each secret replaced by a placeholder marked sensitive
    /// (it renders as `(sensitive value)`, like any secret).
    pub fn decode(&self) -> Value {
        let mut v = Value::from_json(&self.value);
        for p in &self.unknown {
            set_at(&mut v, p, Value::Unknown);
        }
        for leaf in &self.sensitive {
            let placeholder = Value::String(format!("{PLACEHOLDER_PREFIX}{}", leaf.token));
            set_at(&mut v, &leaf.path, Value::Sensitive(Box::new(placeholder)));
        }
        v
    }
}

/// Replaces the value at `path` (when the path exists).
fn set_at(v: &mut Value, path: &[PathStep], new: Value) {
    let Some((first, rest)) = path.split_first() else {
        *v = new;
        return;
    };
    match (v, first) {
        (Value::Map(m), PathStep::Key(k)) => {
            if let Some(x) = m.get_mut(k) {
                set_at(x, rest, new);
            }
        }
        (Value::List(l), PathStep::Index(i)) => {
            if let Some(x) = l.get_mut(*i) {
                set_at(x, rest, new);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Value {
        Value::map([
            ("name", Value::string("a")),
            ("password", Value::string("hunter2").sensitive()),
            ("copy", Value::string("hunter2").sensitive()),
            ("other", Value::string("s3cret").sensitive()),
            ("id", Value::Unknown),
            ("list", Value::List(vec![Value::number(1), Value::Unknown])),
        ])
    }

    #[test]
    fn secrets_become_tokens_and_unknowns_paths() {
        let mut r = Redactor::default();
        let saved = r.encode(&sample());
        let text = serde_json::to_string(&saved).unwrap();
        assert!(!text.contains("hunter2") && !text.contains("s3cret"), "{text}");
        let token = |k: &str| {
            saved.sensitive.iter().find(|l| l.path == [PathStep::Key(k.into())]).unwrap().token
        };
        assert_eq!(token("password"), token("copy"), "equal secrets share a token");
        assert_ne!(token("password"), token("other"));
        assert_eq!(saved.unknown.len(), 2);
    }

    #[test]
    fn decoding_and_encoding_again_is_stable() {
        let mut r = Redactor::default();
        let saved = r.encode(&sample());
        let decoded = saved.decode();
        assert!(decoded.get("password").unwrap().is_sensitive());
        assert!(decoded.get("id").unwrap().is_unknown());
        assert_eq!(decoded.get("name").unwrap(), &Value::string("a"));
        assert!(!format!("{decoded}").contains(PLACEHOLDER_PREFIX));
        let again = Redactor::default().encode(&decoded);
        assert_eq!(again, saved);
    }
}
