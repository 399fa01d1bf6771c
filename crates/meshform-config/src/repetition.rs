//! `count` and `for_each` values turned into instance keys with the `count`/`each` each instance
//! sees: the one rule for resources and module calls.

use std::collections::{BTreeMap, BTreeSet};

use meshform_core::{InstanceKey, Value};

/// One instance: its key and the names (`count` or `each`) its expressions see.
pub type Instance = (InstanceKey, BTreeMap<String, Value>);

/// Why a `count` or `for_each` value gives no instances.
#[derive(Debug, PartialEq)]
pub enum RepetitionError {
    /// Not known until apply.
    Unknown,
    /// Not a valid value; the message says why.
    Invalid(String),
}

/// The instances of `count = v`: `[0]` … `[n-1]`.
pub fn count_instances(v: &Value) -> Result<Vec<Instance>, RepetitionError> {
    if v.contains_unknown() {
        return Err(RepetitionError::Unknown);
    }
    match v.as_number().and_then(|n| n.as_i64()) {
        Some(n) if (0..=100_000).contains(&n) => Ok((0..n)
            .map(|i| {
                let count = Value::map([("index", Value::number(i))]);
                (InstanceKey::Int(i), BTreeMap::from([("count".to_owned(), count)]))
            })
            .collect()),
        _ => Err(RepetitionError::Invalid(format!(
            "count must be a whole number from 0 to 100000, got {v}"
        ))),
    }
}

/// The instances of `for_each = v`: one per map key, or per string of a set.
pub fn for_each_instances(v: &Value) -> Result<Vec<Instance>, RepetitionError> {
    let invalid = |m: &str| Err(RepetitionError::Invalid(m.to_owned()));
    if v.is_sensitive() {
        return invalid(
            "for_each cannot use a sensitive value: its keys would appear in addresses",
        );
    }
    let each = |k: &str, v: Value| {
        let each = Value::map([("key", Value::string(k)), ("value", v)]);
        (InstanceKey::Str(k.to_owned()), BTreeMap::from([("each".to_owned(), each)]))
    };
    match v {
        Value::Unknown => Err(RepetitionError::Unknown),
        Value::Map(m) => {
            if m.keys().any(String::is_empty) {
                return invalid("for_each keys must not be empty");
            }
            Ok(m.iter().map(|(k, v)| each(k, v.clone())).collect())
        }
        Value::List(items) => {
            let mut keys = BTreeSet::new();
            for item in items {
                match item {
                    Value::String(s) => {
                        keys.insert(s.clone());
                    }
                    Value::Unknown => return Err(RepetitionError::Unknown),
                    other => {
                        return Err(RepetitionError::Invalid(format!(
                            "a set of strings is required, but it contains {}",
                            other.kind()
                        )))
                    }
                }
            }
            Ok(keys.iter().map(|k| each(k, Value::string(k.clone()))).collect())
        }
        Value::Null => invalid("for_each must not be null"),
        other => Err(RepetitionError::Invalid(format!(
            "a map or a set of strings is required, got {}",
            other.kind()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_keys() {
        let keys = |r: Result<Vec<Instance>, RepetitionError>| {
            r.unwrap().into_iter().map(|(k, _)| k.to_string()).collect::<Vec<_>>()
        };
        assert_eq!(keys(count_instances(&Value::number(2))), ["[0]", "[1]"]);
        let set = Value::List(vec![Value::string("b"), Value::string("a"), Value::string("b")]);
        assert_eq!(keys(for_each_instances(&set)), ["[\"a\"]", "[\"b\"]"]);
        assert_eq!(count_instances(&Value::Unknown), Err(RepetitionError::Unknown));
        let one_and_a_half = Value::Number(meshform_core::Number::parse("1.5").expect("number"));
        assert!(matches!(count_instances(&one_and_a_half), Err(RepetitionError::Invalid(_))));
        let huge = Value::Number(meshform_core::Number::parse("1e30").expect("number"));
        assert!(matches!(count_instances(&huge), Err(RepetitionError::Invalid(_))));
        assert!(matches!(for_each_instances(&Value::Null), Err(RepetitionError::Invalid(_))));
    }
}
