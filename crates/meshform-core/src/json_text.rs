//! JSON text into a [`Value`] with every number exact: serde_json (without its workspace-wide
//! `arbitrary_precision`) reads numbers as floats, so the digits are taken again from the text.

use crate::{Number, Value};

/// Parses JSON text. Numbers keep every digit (`0.1000000000000000001`, `123456789012345678901234`),
/// as Terraform's `jsondecode` keeps them.
pub fn value_from_json_text(text: &str) -> Result<Value, serde_json::Error> {
    let json: serde_json::Value = serde_json::from_str(text)?;
    let tokens = number_tokens(text);
    // A duplicated key drops the earlier value, and with it the link between the numbers in the text
    // and those in the document: then the floats are all there is.
    if tokens.len() != count_numbers(&json) {
        return Ok(Value::from_json(&json));
    }
    let mut tokens = tokens.into_iter();
    Ok(exact(&json, &mut tokens))
}

fn count_numbers(json: &serde_json::Value) -> usize {
    match json {
        serde_json::Value::Number(_) => 1,
        serde_json::Value::Array(a) => a.iter().map(count_numbers).sum(),
        serde_json::Value::Object(o) => o.values().map(count_numbers).sum(),
        _ => 0,
    }
}

/// The value, in document order (serde_json preserves object order here), with each number read
/// from its token when the token is the same float.
fn exact<'t>(json: &serde_json::Value, tokens: &mut impl Iterator<Item = &'t str>) -> Value {
    match json {
        serde_json::Value::Number(n) => {
            let from_float = Value::from_json(json);
            match tokens.next().map(Number::parse) {
                Some(Ok(x)) if Some(x.to_f64()) == n.as_f64() => Value::Number(x),
                _ => from_float,
            }
        }
        serde_json::Value::Array(a) => Value::List(a.iter().map(|v| exact(v, tokens)).collect()),
        serde_json::Value::Object(o) => {
            Value::Map(o.iter().map(|(k, v)| (k.clone(), exact(v, tokens))).collect())
        }
        other => Value::from_json(other),
    }
}

/// The number tokens of valid JSON text, in order: runs of `-+.eE0-9` outside strings.
fn number_tokens(text: &str) -> Vec<&str> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
            }
            b'-' | b'0'..=b'9' => {
                let start = i;
                while i < bytes.len()
                    && matches!(bytes[i], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
                {
                    i += 1;
                }
                out.push(&text[start..i]);
            }
            _ => i += 1,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn num(t: &str) -> Value {
        Value::Number(Number::parse(t).unwrap())
    }

    #[test]
    fn numbers_keep_every_digit() {
        let v = value_from_json_text(
            r#"{"b": [0.1000000000000000001, "x\"1", -2e-3], "a": 123456789012345678901234, "c": {"d": 1}}"#,
        )
        .unwrap();
        assert_eq!(v.get("a"), Some(&num("123456789012345678901234")));
        assert_eq!(
            v.get("b"),
            Some(&Value::List(vec![
                num("0.1000000000000000001"),
                Value::string("x\"1"),
                num("-0.002")
            ]))
        );
        assert_eq!(v.get("c").and_then(|c| c.get("d")), Some(&num("1")));
    }

    #[test]
    fn integers_beyond_u64_keep_every_digit() {
        // Without serde_json's float_roundtrip this one reads a unit in the last place away.
        let v = value_from_json_text("[50000023256770122000]").unwrap();
        assert_eq!(v, Value::List(vec![num("50000023256770122000")]));
    }

    #[test]
    fn duplicate_keys_fall_back_to_floats() {
        let v = value_from_json_text(r#"{"a": 0.1000000000000000001, "a": 2}"#).unwrap();
        assert_eq!(v.get("a"), Some(&num("2")));
    }

    #[test]
    fn invalid_text_is_an_error() {
        assert!(value_from_json_text("{").is_err());
        assert!(value_from_json_text("01").is_err());
    }
}
