//! The YAML text `yamlencode` writes, byte for byte as Terraform writes it: Terraform's
//! `go-cty-yaml` drives go-yaml's libyaml-derived emitter with block collections, every string
//! double-quoted (folded past column 80) or, when it has line breaks, a literal block scalar, and
//! numbers, bools and null plain. This file re-creates that emitter's choices for those events.

use meshform_core::Value;

/// libyaml's preferred line width and indentation step.
const BEST_WIDTH: usize = 80;
const BEST_INDENT: usize = 2;

/// A key longer than this (in bytes) is written as a complex key (`? key`).
const MAX_SIMPLE_KEY: usize = 128;

/// Writes `v` as one YAML document.
pub(crate) fn encode(v: &Value) -> String {
    let mut e = Emitter { out: String::new(), column: 0, open_ended: false };
    match v.unmarked() {
        Value::Map(m) if !m.is_empty() => e.mapping(m, 0),
        Value::List(items) if !items.is_empty() => e.sequence(items, 0),
        other => {
            e.scalar_or_empty(other, BEST_INDENT, false);
            if is_plain(other) {
                e.open_ended = true;
            }
        }
    }
    if e.column > 0 {
        e.write("\n");
    }
    if e.open_ended {
        e.write("...\n");
    }
    e.out
}

struct Emitter {
    out: String,
    /// Characters written on the current line.
    column: usize,
    /// Whether the document needs an explicit end (`...`), as libyaml tracks it.
    open_ended: bool,
}

/// Numbers, bools and null are written plain (strings and empty collections are not).
fn is_plain(v: &Value) -> bool {
    matches!(v, Value::Null | Value::Bool(_) | Value::Number(_))
}

fn is_break(c: char) -> bool {
    matches!(c, '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

/// libyaml's `is_printable` (which also excludes every character outside the Basic Multilingual
/// Plane, so those are escaped).
fn is_printable(c: char) -> bool {
    matches!(c, '\n' | '\u{20}'..='\u{7e}' | '\u{a0}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}')
        && c != '\u{feff}'
}

/// Whether a string with line breaks may be a literal block scalar (libyaml's `block_allowed`).
fn block_allowed(s: &str) -> bool {
    let mut previous_space = false;
    let mut trailing_space = false;
    let chars: Vec<char> = s.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if !is_printable(c) {
            return false;
        }
        if c == ' ' {
            trailing_space = i + 1 == chars.len();
            previous_space = true;
        } else if is_break(c) {
            if previous_space {
                // A space right before a line break.
                return false;
            }
            previous_space = false;
        } else {
            previous_space = false;
        }
    }
    !s.is_empty() && !trailing_space
}

impl Emitter {
    fn write(&mut self, text: &str) {
        self.out.push_str(text);
        match text.rfind('\n') {
            Some(i) => self.column = text[i + 1..].chars().count(),
            None => self.column += text.chars().count(),
        }
    }

    /// Starts a line at `indent` (libyaml's `write_indent`: no break when a block scalar has just
    /// ended one).
    fn newline_at(&mut self, indent: usize) {
        if self.column > 0 {
            self.write("\n");
        }
        self.write(&" ".repeat(indent));
    }

    /// A scalar, or `[]` / `{}` for an empty collection, at the current position; `indent` is
    /// where continuation lines go.
    fn scalar_or_empty(&mut self, v: &Value, indent: usize, simple_key: bool) {
        match v.unmarked() {
            Value::List(_) => self.write("[]"),
            Value::Map(_) => self.write("{}"),
            Value::String(s) => self.string(s, indent, simple_key),
            Value::Bool(b) => self.write(if *b { "true" } else { "false" }),
            Value::Number(n) => self.write(&n.to_string()),
            // `Sensitive` cannot appear under `unmarked`; the evaluator never passes unknowns.
            Value::Null | Value::Unknown | Value::Sensitive(_) => self.write("null"),
        }
    }

    fn string(&mut self, s: &str, indent: usize, simple_key: bool) {
        if s.contains('\n') && !simple_key && block_allowed(s) {
            self.literal(s, indent);
        } else {
            self.double_quoted(s, indent, !simple_key);
        }
    }

    /// libyaml's `write_literal_scalar`, with its block scalar hints.
    fn literal(&mut self, s: &str, indent: usize) {
        let mut header = String::from("|");
        if s.starts_with([' ', '\n']) {
            header.push_str(&BEST_INDENT.to_string());
        }
        self.open_ended = false;
        let trailing = s.len() - s.trim_end_matches('\n').len();
        match trailing {
            0 => header.push('-'),
            1 if s.len() > 1 => {}
            _ => {
                header.push('+');
                self.open_ended = true;
            }
        }
        self.write(&header);
        self.write("\n");
        let mut at_line_start = true;
        for c in s.chars() {
            if c == '\n' {
                self.write("\n");
                at_line_start = true;
            } else {
                if at_line_start {
                    self.write(&" ".repeat(indent));
                    at_line_start = false;
                }
                let mut buf = [0u8; 4];
                self.write(c.encode_utf8(&mut buf));
            }
        }
    }

    /// libyaml's `write_double_quoted_scalar`: escapes, and folding at spaces past the best width.
    fn double_quoted(&mut self, s: &str, indent: usize, allow_breaks: bool) {
        self.write("\"");
        let chars: Vec<char> = s.chars().collect();
        let mut spaces = false;
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if !is_printable(c) || is_break(c) || c == '"' || c == '\\' {
                spaces = false;
                let escaped = match c {
                    '\0' => "\\0".to_string(),
                    '\u{7}' => "\\a".to_string(),
                    '\u{8}' => "\\b".to_string(),
                    '\t' => "\\t".to_string(),
                    '\n' => "\\n".to_string(),
                    '\u{b}' => "\\v".to_string(),
                    '\u{c}' => "\\f".to_string(),
                    '\r' => "\\r".to_string(),
                    '\u{1b}' => "\\e".to_string(),
                    '"' => "\\\"".to_string(),
                    '\\' => "\\\\".to_string(),
                    '\u{85}' => "\\N".to_string(),
                    '\u{a0}' => "\\_".to_string(),
                    '\u{2028}' => "\\L".to_string(),
                    '\u{2029}' => "\\P".to_string(),
                    c if (c as u32) <= 0xff => format!("\\x{:02X}", c as u32),
                    c if (c as u32) <= 0xffff => format!("\\u{:04X}", c as u32),
                    c => format!("\\U{:08X}", c as u32),
                };
                self.write(&escaped);
            } else if c == ' ' {
                if allow_breaks
                    && !spaces
                    && self.column > BEST_WIDTH
                    && i != 0
                    && i != chars.len() - 1
                {
                    self.newline_at(indent);
                    if chars.get(i + 1) == Some(&' ') {
                        self.write("\\");
                    }
                } else {
                    self.write(" ");
                }
                spaces = true;
            } else {
                let mut buf = [0u8; 4];
                self.write(c.encode_utf8(&mut buf));
                spaces = false;
            }
            i += 1;
        }
        self.write("\"");
    }

    /// A block mapping whose first key goes at the current position, the rest at `indent`.
    fn mapping(&mut self, m: &std::collections::BTreeMap<String, Value>, indent: usize) {
        for (i, (k, v)) in m.iter().enumerate() {
            if i > 0 {
                self.newline_at(indent);
            }
            let simple = k.len() <= MAX_SIMPLE_KEY && !k.chars().any(is_break);
            if simple {
                self.double_quoted(k, indent + BEST_INDENT, false);
                self.write(":");
            } else {
                self.write("? ");
                self.string(k, indent + BEST_INDENT, false);
                self.newline_at(indent);
                self.write(":");
            }
            let v = v.unmarked();
            match v {
                Value::Map(inner) if !inner.is_empty() => {
                    if simple {
                        self.newline_at(indent + BEST_INDENT);
                    } else {
                        self.write(" ");
                    }
                    self.mapping(inner, indent + BEST_INDENT);
                }
                Value::List(items) if !items.is_empty() => {
                    if simple {
                        // go-yaml writes a sequence inside a mapping without indenting it.
                        self.newline_at(indent);
                        self.sequence(items, indent);
                    } else {
                        self.write(" ");
                        self.sequence(items, indent + BEST_INDENT);
                    }
                }
                other => {
                    self.write(" ");
                    self.scalar_or_empty(other, indent + BEST_INDENT, false);
                }
            }
        }
    }

    /// A block sequence whose first item goes at the current position, the rest at `indent`.
    fn sequence(&mut self, items: &[Value], indent: usize) {
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                self.newline_at(indent);
            }
            self.write("- ");
            match item.unmarked() {
                Value::Map(m) if !m.is_empty() => self.mapping(m, indent + BEST_INDENT),
                Value::List(l) if !l.is_empty() => self.sequence(l, indent + BEST_INDENT),
                other => self.scalar_or_empty(other, indent + BEST_INDENT, false),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::encode;
    use crate::functions::test_support::*;
    use meshform_core::Value;
    use proptest::prelude::*;

    fn any_value() -> impl Strategy<Value = Value> {
        let text = "[a é\"\\\\#:\\-\n\t😀]{0,12}|[a ]{70,120}";
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            prop_oneof![Just(0.5), Just(-3.0), Just(1e16), (0i32..1000).prop_map(f64::from)]
                .prop_map(|f| Value::Number(meshform_core::Number::from_f64(f).expect("finite"))),
            text.prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 24, 4, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::List),
                prop::collection::btree_map(text, inner, 0..4).prop_map(Value::Map),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(500))]

        /// Whatever the value, the text is YAML that reads back as the same value.
        #[test]
        fn encoded_text_decodes_to_the_same_value(v in any_value()) {
            let text = encode(&v);
            prop_assert_eq!(ok("yamldecode", &[s(&text)]), v, "{}", text);
        }
    }

    #[test]
    fn go_cty_yaml_test_vectors() {
        assert_eq!(encode(&Value::Bool(true)), "true\n...\n");
        assert_eq!(encode(&s("")), "\"\"\n");
        assert_eq!(encode(&s("hello")), "\"hello\"\n");
        assert_eq!(encode(&n(0.0)), "0\n...\n");
        assert_eq!(encode(&Value::Null), "null\n...\n");
        assert_eq!(encode(&Value::map::<&str>([])), "{}\n");
        assert_eq!(encode(&Value::map([("a", s("b"))])), "\"a\": \"b\"\n");
        assert_eq!(encode(&list([])), "[]\n");
        assert_eq!(encode(&strs(&["b"])), "- \"b\"\n");
    }

    #[test]
    fn terraform_documented_examples() {
        assert_eq!(
            encode(&Value::map([("a", s("b")), ("c", s("d"))])),
            "\"a\": \"b\"\n\"c\": \"d\"\n"
        );
        assert_eq!(
            encode(&Value::map([("foo", nums(&[1.0, 2.0, 3.0])), ("bar", s("baz"))])),
            "\"bar\": \"baz\"\n\"foo\":\n- 1\n- 2\n- 3\n"
        );
        assert_eq!(
            encode(&Value::map([
                ("foo", list([n(1.0), Value::map([("a", s("b")), ("c", s("d"))]), n(3.0)])),
                ("bar", s("baz")),
            ])),
            "\"bar\": \"baz\"\n\"foo\":\n- 1\n- \"a\": \"b\"\n  \"c\": \"d\"\n- 3\n"
        );
    }

    #[test]
    fn nesting_and_scalars() {
        let v = Value::map([
            ("nested", Value::map([("x", Value::map([("y", Value::Bool(false))]))])),
            ("lists", list([strs(&["a", "b"]), list([]), Value::map::<&str>([])])),
            ("n", n(2.5)),
            ("big", n(1e21)),
            ("none", Value::Null),
        ]);
        assert_eq!(
            encode(&v),
            "\"big\": 1000000000000000000000\n\"lists\":\n- - \"a\"\n  - \"b\"\n- []\n- {}\n\
             \"n\": 2.5\n\"nested\":\n  \"x\":\n    \"y\": false\n\"none\": null\n"
        );
    }

    #[test]
    fn multi_line_strings_are_literal_blocks() {
        assert_eq!(encode(&Value::map([("s", s("a\nb"))])), "\"s\": |-\n  a\n  b\n");
        assert_eq!(encode(&Value::map([("s", s("a\nb\n"))])), "\"s\": |\n  a\n  b\n");
        assert_eq!(encode(&Value::map([("s", s("a\n\n"))])), "\"s\": |+\n  a\n\n...\n");
        assert_eq!(encode(&Value::map([("s", s(" a\nb"))])), "\"s\": |2-\n   a\n  b\n");
        assert_eq!(encode(&strs(&["x\ny"])), "- |-\n  x\n  y\n");
        assert_eq!(encode(&s("x\ny")), "|-\n  x\n  y\n");
        // A space before a line break, a tab, or a character outside the BMP: double quotes.
        assert_eq!(encode(&s("a \nb")), "\"a \\nb\"\n");
        assert_eq!(encode(&s("a\tb\nc")), "\"a\\tb\\nc\"\n");
        assert_eq!(encode(&s("ok 😀")), "\"ok \\U0001F600\"\n");
        assert_eq!(encode(&s("é \"q\" \\")), "\"é \\\"q\\\" \\\\\"\n");
    }

    #[test]
    fn folds_where_opentofu_folded_in_issue_4433() {
        // `tofu console` output quoted in opentofu/opentofu#4433 (same emitter as Terraform).
        let command = "mkdir -p /app/storage/database /app/storage/framework/cache/data \
                       /app/storage/framework/sessions /app/storage/framework/views /app/storage/logs \
                       /app/bootstrap/cache && touch /app/storage/database/database.sqlite && chown -R \
                       www-data:www-data /app/storage  /app/bootstrap/cache && /command/s6-setuidgid \
                       www-data php artisan migrate --force";
        let text = encode(&Value::map([("command", s(command))]));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "\"command\": \"mkdir -p /app/storage/database /app/storage/framework/cache/data \
             /app/storage/framework/sessions"
        );
        assert!(lines[1].starts_with("  /app/storage/framewor"), "{text}");
        assert!(lines.iter().all(|l| !l.ends_with(' ')), "{text}");
        // Folding loses nothing, the doubled space included.
        assert_eq!(ok("yamldecode", &[s(&text)]), Value::map([("command", s(command))]));
    }

    #[test]
    fn long_strings_fold_past_column_80_and_long_keys_are_complex() {
        let words = vec!["word"; 30].join(" ");
        let folded = encode(&Value::map([("k", s(&words))]));
        let lines: Vec<&str> = folded.lines().collect();
        assert_eq!(lines.len(), 2, "{folded}");
        assert!(lines[0].starts_with("\"k\": \"word word"), "{folded}");
        assert!(lines[1].starts_with("  word"), "{folded}");
        assert_eq!(
            folded.replace("\n  ", " "),
            format!("\"k\": \"{words}\"\n"),
            "folding only replaces a space"
        );
        let key = "k".repeat(129);
        assert_eq!(
            encode(&Value::map([(key.as_str(), s("v"))])),
            format!("? \"{key}\"\n: \"v\"\n")
        );
    }
}
