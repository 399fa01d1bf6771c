//! `yamldecode` and `yamlencode`: one YAML document to and from a value, with YAML 1.2 core-schema
//! scalars (`yes` is a string, `true` a bool); the encoding is Terraform's, written by `yaml_emit`.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

use meshform_core::Value;

use super::args::{primitive_string, Args};
use super::FnResult;

/// A value decoded from YAML. Mapping keys that are scalars become strings (`1: a` has the key
/// `"1"`); a key that is a sequence or a mapping is refused.
struct Decoded(Value);

impl<'de> Deserialize<'de> for Decoded {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(DecodedVisitor)
    }
}

struct DecodedVisitor;

fn num<E: de::Error>(f: f64) -> Result<Decoded, E> {
    match meshform_core::Number::from_f64(f) {
        Some(n) => Ok(Decoded(Value::Number(n))),
        None => Err(E::custom("infinite and NaN numbers are not supported")),
    }
}

impl<'de> Visitor<'de> for DecodedVisitor {
    type Value = Decoded;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a YAML value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Decoded, E> {
        Ok(Decoded(Value::Bool(v)))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Decoded, E> {
        Ok(Decoded(Value::number(v)))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Decoded, E> {
        Ok(Decoded(Value::number(v)))
    }

    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Decoded, E> {
        Ok(Decoded(Value::number(v)))
    }

    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Decoded, E> {
        Ok(Decoded(Value::number(v)))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Decoded, E> {
        num(v)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Decoded, E> {
        Ok(Decoded(Value::string(v)))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Decoded, E> {
        Ok(Decoded(Value::String(v)))
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Decoded, E> {
        match std::str::from_utf8(v) {
            Ok(s) => Ok(Decoded(Value::string(s))),
            Err(_) => Err(E::custom("binary data that is not UTF-8 text is not supported")),
        }
    }

    fn visit_unit<E: de::Error>(self) -> Result<Decoded, E> {
        Ok(Decoded(Value::Null))
    }

    fn visit_none<E: de::Error>(self) -> Result<Decoded, E> {
        Ok(Decoded(Value::Null))
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Decoded, D::Error> {
        Decoded::deserialize(d)
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Decoded, D::Error> {
        Decoded::deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Decoded, A::Error> {
        let mut items = Vec::new();
        while let Some(Decoded(v)) = seq.next_element()? {
            items.push(v);
        }
        Ok(Decoded(Value::List(items)))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Decoded, A::Error> {
        let mut out = BTreeMap::new();
        while let Some(Decoded(k)) = map.next_key()? {
            let key = match &k {
                Value::Null => String::new(),
                k => primitive_string(k)
                    .ok_or_else(|| {
                        de::Error::custom(format!(
                            "a mapping key must be a scalar, got {}",
                            k.kind()
                        ))
                    })?
                    .into_owned(),
            };
            let Decoded(v) = map.next_value()?;
            out.insert(key, v);
        }
        Ok(Decoded(Value::Map(out)))
    }
}

/// `yamldecode(string)`: one YAML document. An empty document is null.
pub(super) fn yamldecode(a: &Args) -> FnResult {
    a.exactly(1)?;
    let src = a.string(0, "the YAML text")?;
    if src.trim().is_empty() {
        return Ok(Value::Null);
    }
    // YAML 1.2 booleans only, as Terraform's yamldecode (`yes` is a string); manifests and API bodies
    // are read in kubectl's dialect instead (`meshform_core::yaml`).
    let options = serde_saphyr::options! {
        strict_booleans: true,
        with_snippet: false,
    };
    match serde_saphyr::from_str_with_options::<Decoded>(&src, options) {
        Ok(Decoded(v)) => Ok(v),
        Err(e) => {
            let e = e.without_snippet();
            let message = e.render_with_formatter(&serde_saphyr::UserMessageFormatter);
            let message = match e.location() {
                Some(l) if l.line() > 0 && !message.contains("line") => {
                    format!("invalid YAML at line {}, column {}: {message}", l.line(), l.column())
                }
                _ => format!("invalid YAML: {message}"),
            };
            Err(a.error(0, message))
        }
    }
}

/// `yamlencode(value)`: a YAML document exactly as Terraform writes it (see `yaml_emit`); mappings
/// in key order, so the text is deterministic.
pub(super) fn yamlencode(a: &Args) -> FnResult {
    a.exactly(1)?;
    Ok(Value::String(super::yaml_emit::encode(a.get(0))))
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use meshform_core::Value;

    #[test]
    fn decodes_core_schema_scalars() {
        let doc =
            "a: 1\nb: 2.5\nc: true\nd: yes\ne: null\nf: ~\ng: '42'\nh: hello world\ni: 0x1F\n";
        assert_eq!(
            ok("yamldecode", &[s(doc)]),
            Value::map([
                ("a", n(1.0)),
                ("b", n(2.5)),
                ("c", Value::Bool(true)),
                ("d", s("yes")),
                ("e", Value::Null),
                ("f", Value::Null),
                ("g", s("42")),
                ("h", s("hello world")),
                ("i", n(31.0)),
            ])
        );
    }

    #[test]
    fn decodes_structures() {
        let doc = "list:\n  - a\n  - [1, 2]\nnested: {x: {y: z}}\n1: one\ntrue: yes-key\n";
        assert_eq!(
            ok("yamldecode", &[s(doc)]),
            Value::map([
                ("1", s("one")),
                ("list", list([s("a"), nums(&[1.0, 2.0])])),
                ("nested", Value::map([("x", Value::map([("y", s("z"))]))])),
                ("true", s("yes-key")),
            ])
        );
        assert_eq!(ok("yamldecode", &[s("- 1\n- two\n")]), list([n(1.0), s("two")]));
        assert_eq!(ok("yamldecode", &[s("hello")]), s("hello"));
        assert_eq!(ok("yamldecode", &[s("")]), Value::Null);
        assert_eq!(
            ok("yamldecode", &[s("text: |\n  a\n  b\n")]),
            Value::map([("text", s("a\nb\n"))])
        );
        assert_eq!(
            ok("yamldecode", &[s("base: &b {x: 1}\ncopy: *b\n")]),
            Value::map([
                ("base", Value::map([("x", n(1.0))])),
                ("copy", Value::map([("x", n(1.0))]))
            ])
        );
    }

    #[test]
    fn invalid_yaml_says_where() {
        let e = err("yamldecode", &[s("a: 1\nb: [1, 2\nc: 3\n")]);
        assert!(e.starts_with("yamldecode: invalid YAML"), "{e}");
        assert!(e.contains("line"), "{e}");
        assert_eq!(
            err("yamldecode", &[s("a: 1\na: 2\n")]),
            "yamldecode: invalid YAML: duplicate mapping key `a` is not allowed here at line 2, column 1"
        );
        let e = err("yamldecode", &[s("? [a]\n: b\n")]);
        assert!(e.contains("mapping key must be a scalar"), "{e}");
        let e = err("yamldecode", &[s("a: 1\n---\nb: 2\n")]);
        assert!(e.contains("multiple found at line 3"), "{e}");
        let e = err("yamldecode", &[s("a: .inf")]);
        assert!(e.contains("not a finite number at line 1"), "{e}");
        assert_eq!(
            err("yamldecode", &[list([])]),
            "yamldecode: the YAML text must be a string, got list"
        );
    }

    #[test]
    fn encodes_deterministically_and_round_trips() {
        let v = Value::map([
            ("name", s("web")),
            ("port", n(8080.0)),
            ("ratio", n(0.5)),
            ("enabled", Value::Bool(true)),
            ("nothing", Value::Null),
            ("tags", strs(&["a", "true", "1", "null", "", "multi\nline", "colon: here"])),
            ("empty", list([])),
            ("none", Value::map::<&str>([])),
        ]);
        let text = ok("yamlencode", std::slice::from_ref(&v));
        let Value::String(t) = &text else { panic!("{text}") };
        assert!(t.find("enabled").unwrap() < t.find("name").unwrap(), "{t}");
        assert_eq!(ok("yamlencode", std::slice::from_ref(&v)), text);
        assert_eq!(ok("yamldecode", &[text]), v);
        assert_eq!(ok("yamlencode", &[s("x")]), s("\"x\"\n"));
    }
}
