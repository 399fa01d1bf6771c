//! Regular-expression functions: `replace` (substring or `/regex/`), `regex` and `regexall`.

use regex::{Captures, Regex};

use meshform_core::Value;

use super::args::Args;
use super::{FnResult, FunctionError};

fn compile(a: &Args, i: usize, pattern: &str) -> Result<Regex, FunctionError> {
    regex::RegexBuilder::new(pattern)
        .size_limit(8 * 1024 * 1024)
        .build()
        .map_err(|e| a.error(i, format!("invalid regular expression {pattern:?}: {e}")))
}

/// `replace(string, substring, replacement)`: every occurrence of `substring`, or of a regular
/// expression when it is written `/…/` (then `replacement` may refer to groups as `$1` or `${name}`).
pub(super) fn replace(a: &Args) -> FnResult {
    a.exactly(3)?;
    let s = a.string(0, "the string")?;
    let pattern = a.string(1, "the substring to replace")?;
    let replacement = a.string(2, "the replacement")?;
    if let Some(re) = pattern.strip_prefix('/').and_then(|p| p.strip_suffix('/')) {
        let re = compile(a, 1, re)?;
        let mut out = String::with_capacity(s.len());
        let mut last = 0;
        // Every group lies within the match, so one expansion is at most this long per byte matched.
        let dollars = replacement.matches('$').count();
        for caps in re.captures_iter(&s) {
            let Some(m) = caps.get(0) else { continue };
            let bound = dollars.saturating_mul(m.len()).saturating_add(replacement.len());
            a.check_size(out.len().saturating_add(m.start() - last).saturating_add(bound))?;
            out.push_str(&s[last..m.start()]);
            caps.expand(&replacement, &mut out);
            last = m.end();
        }
        out.push_str(&s[last..]);
        return Ok(Value::String(out));
    }
    let count =
        if pattern.is_empty() { s.chars().count() + 1 } else { s.matches(&*pattern).count() };
    let len =
        (s.len() - count * pattern.len()).saturating_add(count.saturating_mul(replacement.len()));
    a.check_size(len)?;
    Ok(Value::String(s.replace(&*pattern, &replacement)))
}

/// What one match yields: the matched text without groups, a list of the groups when they are
/// unnamed, an object when they are named (groups that did not take part are null).
fn match_value(re: &Regex, caps: &Captures) -> Value {
    let names: Vec<Option<&str>> = re.capture_names().skip(1).collect();
    let text = |i: usize| caps.get(i).map_or(Value::Null, |m| Value::string(m.as_str()));
    if names.is_empty() {
        text(0)
    } else if names.iter().all(Option::is_some) {
        Value::Map(
            names
                .iter()
                .enumerate()
                .filter_map(|(i, n)| Some(((*n)?.to_owned(), text(i + 1))))
                .collect(),
        )
    } else {
        Value::List((1..=names.len()).map(text).collect())
    }
}

fn pattern(a: &Args) -> Result<Regex, FunctionError> {
    a.exactly(2)?;
    let re = compile(a, 0, &a.string(0, "the pattern")?)?;
    let names: Vec<Option<&str>> = re.capture_names().skip(1).collect();
    if names.iter().any(Option::is_some) && names.iter().any(Option::is_none) {
        return Err(a.error(0, "the pattern cannot mix named and unnamed capture groups"));
    }
    Ok(re)
}

/// `regex(pattern, string)`: the first match, which must exist.
pub(super) fn regex(a: &Args) -> FnResult {
    let re = pattern(a)?;
    let s = a.string(1, "the string")?;
    match re.captures(&s) {
        Some(caps) => Ok(match_value(&re, &caps)),
        None => Err(a.fail(format!("the pattern did not match any part of {s:?}"))),
    }
}

/// `regexall(pattern, string)`: every match, possibly none.
pub(super) fn regexall(a: &Args) -> FnResult {
    let re = pattern(a)?;
    let s = a.string(1, "the string")?;
    Ok(Value::List(re.captures_iter(&s).map(|caps| match_value(&re, &caps)).collect()))
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use meshform_core::Value;

    #[test]
    fn replace_substrings() {
        assert_eq!(ok("replace", &[s("1 + 2 + 3"), s("+"), s("-")]), s("1 - 2 - 3"));
        assert_eq!(ok("replace", &[s("abc"), s(""), s("-")]), s("-a-b-c-"));
        assert_eq!(ok("replace", &[s("a/b"), s("/"), s("|")]), s("a|b"));
        assert_eq!(ok("replace", &[s("$1"), s("$1"), s("x")]), s("x"));
        assert_eq!(
            err("replace", &[s("a"), list([]), s("b")]),
            "replace: the substring to replace must be a string, got list"
        );
    }

    #[test]
    fn replace_regexes_with_references() {
        assert_eq!(
            ok("replace", &[s("hello world"), s("/w.*d/"), s("everybody")]),
            s("hello everybody")
        );
        assert_eq!(
            ok("replace", &[s("2024-05-06"), s("/(\\d+)-(\\d+)-(\\d+)/"), s("$3.$2.$1")]),
            s("06.05.2024")
        );
        assert_eq!(ok("replace", &[s("ab"), s("/(?P<x>a)/"), s("[${x}]")]), s("[a]b"));
        assert_eq!(ok("replace", &[s("abc"), s("/x*/"), s("-")]), s("-a-b-c-"));
        let e = err("replace", &[s("a"), s("/(/"), s("b")]);
        assert!(e.starts_with("replace: invalid regular expression \"(\""), "{e}");
    }

    #[test]
    fn replace_refuses_huge_results() {
        let big = "x".repeat(10_000);
        let e = err("replace", &[s(&big), s(""), s(&big)]);
        assert!(e.contains("more than the limit"), "{e}");
        let e = err("replace", &[s(&big), s("/x/"), s(&big)]);
        assert!(e.contains("more than the limit"), "{e}");
    }

    #[test]
    fn regex_shapes_follow_the_groups() {
        assert_eq!(ok("regex", &[s("[a-z]+"), s("53453453.345345aaabbbccc23454")]), s("aaabbbccc"));
        assert_eq!(
            ok("regex", &[s("(\\d\\d\\d\\d)-(\\d\\d)-(\\d\\d)"), s("2019-02-01")]),
            strs(&["2019", "02", "01"])
        );
        assert_eq!(
            ok("regex", &[s("^(?P<scheme>\\w+)://(?P<host>[^/]+)"), s("https://example.com/x")]),
            Value::map([("host", s("example.com")), ("scheme", s("https"))])
        );
        assert_eq!(ok("regex", &[s("(a)|(b)"), s("b")]), list([Value::Null, s("b")]));
        assert_eq!(
            err("regex", &[s("[a-z]+"), s("123")]),
            "regex: the pattern did not match any part of \"123\""
        );
        assert_eq!(
            err("regex", &[s("(?P<a>x)(y)"), s("xy")]),
            "regex: the pattern cannot mix named and unnamed capture groups"
        );
    }

    #[test]
    fn regexall_lists_every_match() {
        assert_eq!(ok("regexall", &[s("[a-z]+"), s("1234abcd5678efgh9")]), strs(&["abcd", "efgh"]));
        assert_eq!(ok("regexall", &[s("[a-z]+"), s("123")]), list([]));
        assert_eq!(
            ok("regexall", &[s("(\\w)=(\\d)"), s("a=1 b=2")]),
            list([strs(&["a", "1"]), strs(&["b", "2"])])
        );
        assert_eq!(err("regexall", &[s("x")]), "regexall takes 2 arguments, got 1");
    }
}
