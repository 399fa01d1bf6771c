//! Encodings: `jsonencode` / `jsondecode` (compact, keys sorted), `base64encode` / `base64decode`
//! and `urlencode`. `base64gzip` is refused: no gzip compressor is in the dependency tree, and
//! another compressor would not reproduce Terraform's bytes.

use base64::Engine;

use meshform_core::Value;

use super::args::Args;
use super::FnResult;

/// Compact JSON with object keys in sorted order. Whole numbers render without a fraction, and
/// `<`, `>`, `&`, U+2028 and U+2029 are escaped as Terraform does, so the text is safe to embed.
pub(crate) fn to_json(v: &Value) -> Result<String, String> {
    let mut out = String::new();
    write_json(v, &mut out)?;
    Ok(out)
}

fn write_json(v: &Value, out: &mut String) -> Result<(), String> {
    match v.unmarked() {
        // `unmarked` never returns a sensitive value.
        Value::Null | Value::Unknown | Value::Sensitive(_) => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        // Terraform's text: every digit, no exponent (`1e21` is 1000000000000000000000).
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => write_json_string(s, out),
        Value::List(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(item, out)?;
            }
            out.push(']');
        }
        Value::Map(m) => {
            out.push('{');
            for (i, (k, item)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json_string(k, out);
                out.push(':');
                write_json(item, out)?;
            }
            out.push('}');
        }
    }
    Ok(())
}

fn write_json_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

pub(super) fn jsonencode(a: &Args) -> FnResult {
    a.exactly(1)?;
    let text =
        to_json(a.get(0)).map_err(|e| a.error(0, format!("cannot encode the value: {e}")))?;
    Ok(Value::String(text))
}

pub(super) fn jsondecode(a: &Args) -> FnResult {
    a.exactly(1)?;
    let text = a.string(0, "the JSON text")?;
    meshform_core::json_text::value_from_json_text(&text)
        .map_err(|e| a.error(0, format!("invalid JSON: {e}")))
}

pub(super) fn base64encode(a: &Args) -> FnResult {
    a.exactly(1)?;
    let s = a.string(0, "the string")?;
    Ok(Value::String(base64::engine::general_purpose::STANDARD.encode(s.as_bytes())))
}

pub(super) fn base64decode(a: &Args) -> FnResult {
    a.exactly(1)?;
    let s = a.string(0, "the Base64 text")?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(s.as_bytes())
        .map_err(|e| a.error(0, format!("the argument is not valid Base64: {e}")))?;
    String::from_utf8(bytes).map(Value::String).map_err(|_| {
        a.error(0, "the decoded bytes are not valid UTF-8 text; meshform strings must be UTF-8")
    })
}

/// `base64gzip(string)`: refused, with what to do instead.
pub(super) fn base64gzip(a: &Args) -> FnResult {
    Err(a.fail(
        "not supported: meshform has no gzip compressor, and a different one would not give \
         Terraform's bytes; compress the data outside meshform and read it with filebase64(path)",
    ))
}

/// `urlencode(string)`: as a URL query component (`application/x-www-form-urlencoded`): spaces
/// become `+`, letters, digits and `-_.~` stay, every other byte is `%XX`.
pub(super) fn urlencode(a: &Args) -> FnResult {
    a.exactly(1)?;
    let s = a.string(0, "the string")?;
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    Ok(Value::String(out))
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use meshform_core::Value;
    use proptest::prelude::*;

    #[test]
    fn base64gzip_is_refused_with_a_way_out() {
        let e = err("base64gzip", &[s("hello")]);
        assert!(e.starts_with("base64gzip: not supported: meshform has no gzip compressor"), "{e}");
        assert!(e.contains("filebase64"), "{e}");
    }

    #[test]
    fn jsonencode_is_compact_sorted_and_integral() {
        let v = Value::map([
            (
                "b",
                list([
                    n(1.0),
                    n(2.5),
                    n(-0.0),
                    n(1e20),
                    n(1e21),
                    num("0.1"),
                    num("18446744073709551617"),
                ]),
            ),
            ("a", Value::map([("z", Value::Null), ("y", Value::Bool(false))])),
            ("c", s("quote\" back\\ <tag> & \u{1}")),
        ]);
        assert_eq!(
            ok("jsonencode", &[v]),
            s(
                r#"{"a":{"y":false,"z":null},"b":[1,2.5,0,100000000000000000000,1000000000000000000000,0.1,18446744073709551617],"c":"quote\" back\\ \u003ctag\u003e \u0026 \u0001"}"#
            )
        );
        assert_eq!(ok("jsonencode", &[s("x")]), s("\"x\""));
        assert_eq!(ok("jsonencode", &[Value::Null]), s("null"));
        assert_eq!(err("jsonencode", &[]), "jsonencode takes 1 argument, got 0");
    }

    #[test]
    fn jsondecode_builds_values() {
        assert_eq!(
            ok("jsondecode", &[s(r#"{"hello": "world", "n": [1, 2.5, null, true]}"#)]),
            Value::map([
                ("hello", s("world")),
                ("n", list([n(1.0), n(2.5), Value::Null, Value::Bool(true)]))
            ])
        );
        assert_eq!(ok("jsondecode", &[s("true")]), Value::Bool(true));
        assert_eq!(
            err("jsondecode", &[s("{\"a\": }")]),
            "jsondecode: invalid JSON: expected value at line 1 column 7"
        );
        assert!(err("jsondecode", &[s("[1] x")]).contains("trailing characters"));
        assert_eq!(
            err("jsondecode", &[list([])]),
            "jsondecode: the JSON text must be a string, got list"
        );
    }

    #[test]
    fn base64_and_url() {
        assert_eq!(ok("base64encode", &[s("Hello World")]), s("SGVsbG8gV29ybGQ="));
        assert_eq!(ok("base64decode", &[s("SGVsbG8gV29ybGQ=")]), s("Hello World"));
        assert!(err("base64decode", &[s("not base64!")])
            .starts_with("base64decode: the argument is not valid Base64"));
        assert_eq!(
            err("base64decode", &[s("/w==")]),
            "base64decode: the decoded bytes are not valid UTF-8 text; meshform strings must be UTF-8"
        );
        assert_eq!(ok("urlencode", &[s("Hello World!")]), s("Hello+World%21"));
        assert_eq!(ok("urlencode", &[s("a-b_c.d~e/ü")]), s("a-b_c.d~e%2F%C3%BC"));
        assert_eq!(
            err("urlencode", &[Value::Null]),
            "urlencode: the string must be a string, got null"
        );
    }

    /// Values with any `i64` and short decimals, and with `long_decimals` decimals of up to 71 digits
    /// (`jsondecode` reads them exactly; `yamldecode` reads numbers as YAML floats).
    fn value(long_decimals: bool) -> impl Strategy<Value = Value> {
        let decimal = |t: String| Value::Number(meshform_core::Number::parse(&t).expect("decimal"));
        let long = if long_decimals { "-?[1-9][0-9]{0,40}(\\.[0-9]{0,30}[1-9])?" } else { "[1-9]" };
        let number = prop_oneof![
            any::<i64>().prop_map(Value::number),
            long.prop_map(decimal),
            (-1_000_000_000i64..1_000_000_000, 0u32..6)
                .prop_map(move |(m, k)| decimal(format!("{m}e-{k}"))),
        ];
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            number,
            any::<String>().prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::List),
                prop::collection::btree_map(any::<String>(), inner, 0..6).prop_map(Value::Map),
            ]
        })
    }

    proptest! {
        #[test]
        fn json_round_trips(v in value(true)) {
            let text = ok("jsonencode", std::slice::from_ref(&v));
            prop_assert_eq!(ok("jsondecode", &[text]), v);
        }

        #[test]
        fn base64_round_trips(t in any::<String>()) {
            let encoded = ok("base64encode", &[Value::string(t.clone())]);
            prop_assert_eq!(ok("base64decode", &[encoded]), Value::String(t));
        }

        #[test]
        fn yaml_round_trips(v in value(false)) {
            let text = ok("yamlencode", std::slice::from_ref(&v));
            prop_assert_eq!(ok("yamldecode", &[text]), v);
        }
    }
}
