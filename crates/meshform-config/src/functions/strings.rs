//! String functions: case, trimming, prefixes, `substr`, `indent`, `join` and `split`.

use meshform_core::Value;

use super::args::Args;
use super::FnResult;

fn map_string(a: &Args, f: impl FnOnce(&str) -> String) -> FnResult {
    a.exactly(1)?;
    Ok(Value::String(f(&a.string(0, "the argument")?)))
}

pub(super) fn lower(a: &Args) -> FnResult {
    map_string(a, str::to_lowercase)
}

pub(super) fn upper(a: &Args) -> FnResult {
    map_string(a, str::to_uppercase)
}

pub(super) fn trimspace(a: &Args) -> FnResult {
    map_string(a, |s| s.trim().to_owned())
}

pub(super) fn strrev(a: &Args) -> FnResult {
    map_string(a, |s| s.chars().rev().collect())
}

/// Removes every trailing newline (`\n`, `\r\n` or `\r`).
pub(super) fn chomp(a: &Args) -> FnResult {
    map_string(a, |s| s.trim_end_matches(['\n', '\r']).to_owned())
}

/// Upper-cases the first letter of each word, with word boundaries as Go's `strings.Title` (which
/// Terraform uses): any ASCII character but a letter, digit or underscore separates, and so does
/// Unicode whitespace.
pub(super) fn title(a: &Args) -> FnResult {
    map_string(a, |s| {
        let mut out = String::with_capacity(s.len());
        let mut prev_separator = true;
        for c in s.chars() {
            if prev_separator {
                out.extend(c.to_uppercase());
            } else {
                out.push(c);
            }
            prev_separator = if c.is_ascii() {
                !(c.is_ascii_alphanumeric() || c == '_')
            } else {
                c.is_whitespace()
            };
        }
        out
    })
}

/// `trim(string, characters)`: removes any of the characters from both ends.
pub(super) fn trim(a: &Args) -> FnResult {
    a.exactly(2)?;
    let s = a.string(0, "the string")?;
    let cutset: Vec<char> = a.string(1, "the set of characters to remove")?.chars().collect();
    Ok(Value::string(s.trim_matches(cutset.as_slice())))
}

pub(super) fn trimprefix(a: &Args) -> FnResult {
    a.exactly(2)?;
    let s = a.string(0, "the string")?;
    let prefix = a.string(1, "the prefix")?;
    Ok(Value::string(s.strip_prefix(prefix.as_ref()).unwrap_or(&s)))
}

pub(super) fn trimsuffix(a: &Args) -> FnResult {
    a.exactly(2)?;
    let s = a.string(0, "the string")?;
    let suffix = a.string(1, "the suffix")?;
    Ok(Value::string(s.strip_suffix(suffix.as_ref()).unwrap_or(&s)))
}

pub(super) fn startswith(a: &Args) -> FnResult {
    a.exactly(2)?;
    let s = a.string(0, "the string")?;
    Ok(Value::Bool(s.starts_with(a.string(1, "the prefix")?.as_ref())))
}

pub(super) fn strcontains(a: &Args) -> FnResult {
    a.exactly(2)?;
    let s = a.string(0, "the string")?;
    Ok(Value::Bool(s.contains(a.string(1, "the substring")?.as_ref())))
}

pub(super) fn endswith(a: &Args) -> FnResult {
    a.exactly(2)?;
    let s = a.string(0, "the string")?;
    Ok(Value::Bool(s.ends_with(a.string(1, "the suffix")?.as_ref())))
}

/// `substr(string, offset, length)`: characters from `offset` (negative counts from the end);
/// a negative `length` takes the rest.
pub(super) fn substr(a: &Args) -> FnResult {
    a.exactly(3)?;
    let s = a.string(0, "the string")?;
    let offset = a.integer(1, "the offset")?;
    let length = a.integer(2, "the length")?;
    let total = s.chars().count() as i64;
    let start = if offset < 0 { (offset + total).max(0) } else { offset.min(total) };
    let rest = s.chars().skip(start as usize);
    let out: String =
        if length < 0 { rest.collect() } else { rest.take(length.min(total) as usize).collect() };
    Ok(Value::String(out))
}

/// `indent(spaces, string)`: indents every line but the first.
pub(super) fn indent(a: &Args) -> FnResult {
    a.exactly(2)?;
    let spaces = a.integer(0, "the number of spaces")?;
    let s = a.string(1, "the string")?;
    if !(0..=1024).contains(&spaces) {
        return Err(a.error(0, format!("the number of spaces must be 0 to 1024, got {spaces}")));
    }
    let spaces = spaces as usize;
    a.check_size(s.len().saturating_add(s.matches('\n').count().saturating_mul(spaces)))?;
    Ok(Value::String(s.replace('\n', &format!("\n{}", " ".repeat(spaces)))))
}

/// `join(separator, list, …)`: the elements of every list, separated.
pub(super) fn join(a: &Args) -> FnResult {
    a.at_least(2)?;
    let sep = a.string(0, "the separator")?;
    let mut parts = Vec::new();
    for i in 1..a.len() {
        for (j, item) in a.list(i, "each list to join")?.iter().enumerate() {
            match super::args::primitive_string(item) {
                Some(s) => parts.push(s),
                None => {
                    let what = if item.is_null() { "null" } else { item.kind() };
                    return Err(a.error(i, format!("element {j} must be a string, got {what}")));
                }
            }
        }
    }
    let len = parts.iter().map(|p| p.len() + sep.len()).sum();
    a.check_size(len)?;
    Ok(Value::String(parts.join(sep.as_ref())))
}

/// `split(separator, string)`: an empty separator splits into characters.
pub(super) fn split(a: &Args) -> FnResult {
    a.exactly(2)?;
    let sep = a.string(0, "the separator")?;
    let s = a.string(1, "the string")?;
    let parts: Vec<Value> = if sep.is_empty() {
        s.chars().map(|c| Value::String(c.to_string())).collect()
    } else {
        s.split(sep.as_ref()).map(Value::string).collect()
    };
    Ok(Value::List(parts))
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use meshform_core::Value;

    #[test]
    fn case_and_whitespace() {
        assert_eq!(ok("lower", &[s("HeLLo Ü")]), s("hello ü"));
        assert_eq!(ok("upper", &[s("hello ß")]), s("HELLO SS"));
        assert_eq!(ok("trimspace", &[s("\n\t hi there \r\n")]), s("hi there"));
        assert_eq!(ok("strrev", &[s("abc→")]), s("→cba"));
        assert_eq!(ok("chomp", &[s("hello\r\n\n")]), s("hello"));
        assert_eq!(ok("chomp", &[s("a\nb\n")]), s("a\nb"));
        assert_eq!(ok("title", &[s("hello world-wide web_site")]), s("Hello World-Wide Web_site"));
        assert_eq!(err("lower", &[strs(&["a"])]), "lower: the argument must be a string, got list");
        assert_eq!(err("upper", &[s("a"), s("b")]), "upper takes 1 argument, got 2");
    }

    #[test]
    fn trimming() {
        assert_eq!(ok("trim", &[s("?!hello?!"), s("!?")]), s("hello"));
        assert_eq!(ok("trimprefix", &[s("helloworld"), s("hello")]), s("world"));
        assert_eq!(ok("trimprefix", &[s("helloworld"), s("cat")]), s("helloworld"));
        assert_eq!(ok("trimsuffix", &[s("helloworld"), s("world")]), s("hello"));
        assert_eq!(ok("trimsuffix", &[s("aa"), s("a")]), s("a"));
        assert_eq!(
            err("trim", &[s("x"), Value::Null]),
            "trim: the set of characters to remove must be a string, got null"
        );
    }

    #[test]
    fn prefixes() {
        assert_eq!(ok("startswith", &[s("hello world"), s("hello")]), Value::Bool(true));
        assert_eq!(ok("startswith", &[s("hello world"), s("world")]), Value::Bool(false));
        assert_eq!(ok("strcontains", &[s("hello world"), s("o w")]), Value::Bool(true));
        assert_eq!(ok("strcontains", &[s("hello world"), s("ow")]), Value::Bool(false));
        assert_eq!(ok("endswith", &[s("hello world"), s("world")]), Value::Bool(true));
        assert_eq!(ok("endswith", &[s("hello world"), s("hello")]), Value::Bool(false));
        assert_eq!(
            err("startswith", &[s("x"), strs(&[])]),
            "startswith: the prefix must be a string, got list"
        );
    }

    #[test]
    fn substr_counts_characters() {
        assert_eq!(ok("substr", &[s("hello world"), n(1.0), n(4.0)]), s("ello"));
        assert_eq!(ok("substr", &[s("🤔🤷"), n(0.0), n(1.0)]), s("🤔"));
        assert_eq!(ok("substr", &[s("hello world"), n(-5.0), n(-1.0)]), s("world"));
        assert_eq!(ok("substr", &[s("hello"), n(10.0), n(2.0)]), s(""));
        assert_eq!(ok("substr", &[s("hello"), n(-10.0), n(2.0)]), s("he"));
        assert_eq!(ok("substr", &[s("hello"), n(2.0), n(1e15)]), s("llo"));
        assert_eq!(err("substr", &[s("hello"), n(1.0)]), "substr takes 3 arguments, got 2");
    }

    #[test]
    fn indent_pads_all_lines_but_the_first() {
        assert_eq!(ok("indent", &[n(2.0), s("[\n  a,\n]")]), s("[\n    a,\n  ]"));
        assert_eq!(ok("indent", &[n(0.0), s("a\nb")]), s("a\nb"));
        assert_eq!(
            err("indent", &[n(-1.0), s("a")]),
            "indent: the number of spaces must be 0 to 1024, got -1"
        );
    }

    #[test]
    fn join_and_split() {
        assert_eq!(ok("join", &[s(", "), strs(&["foo", "bar", "baz"])]), s("foo, bar, baz"));
        assert_eq!(
            ok("join", &[s("-"), strs(&["a"]), list([n(1.0), Value::Bool(true)])]),
            s("a-1-true")
        );
        assert_eq!(ok("join", &[s(","), strs(&[])]), s(""));
        assert_eq!(
            err("join", &[s(","), list([s("a"), Value::Null])]),
            "join: element 1 must be a string, got null"
        );
        assert_eq!(
            err("join", &[s(","), s("a")]),
            "join: each list to join must be a list, got string"
        );
        assert_eq!(ok("split", &[s(","), s("foo,bar,baz")]), strs(&["foo", "bar", "baz"]));
        assert_eq!(ok("split", &[s(","), s("foo")]), strs(&["foo"]));
        assert_eq!(ok("split", &[s(","), s("")]), strs(&[""]));
        assert_eq!(ok("split", &[s(""), s("ab")]), strs(&["a", "b"]));
        assert_eq!(
            err("split", &[strs(&[","]), s("a")]),
            "split: the separator must be a string, got list"
        );
    }
}
