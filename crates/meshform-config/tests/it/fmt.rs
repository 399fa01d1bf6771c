//! Tests for `meshform_config::fmt`: fixture cases, properties, robustness.

use meshform_config::fmt::{format_source, unified_diff};
use std::path::{Path, PathBuf};

/// The fixture cases: `tests/fmt_fixtures/<case>/{input.hcl,expected.hcl}`.
fn fixture_dirs() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fmt_fixtures");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("reading {}: {e}", root.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.is_dir())
        .collect();
    dirs.sort();
    dirs
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// Each fixture's input formats to its expected output. With
/// `MESHFORM_FMT_BLESS=1` the expected files are (re)written instead.
#[test]
fn fixtures_format_to_expected() {
    let bless = std::env::var_os("MESHFORM_FMT_BLESS").is_some();
    let dirs = fixture_dirs();
    assert!(dirs.len() >= 8, "expected at least 8 fixture cases");
    let mut failures = Vec::new();
    for dir in dirs {
        let case = dir.file_name().unwrap().to_string_lossy().into_owned();
        let input = read(&dir.join("input.hcl"));
        let actual = format_source(&input).unwrap_or_else(|e| panic!("{case}: {e}"));
        let expected_path = dir.join("expected.hcl");
        if bless {
            std::fs::write(&expected_path, &actual).expect("writing expected.hcl");
            continue;
        }
        let expected = read(&expected_path);
        if actual != expected {
            failures.push(format!(
                "fixture `{case}` differs:\n{}",
                unified_diff("expected.hcl", &expected, &actual)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The non-whitespace characters of `s`, in order.
fn significant(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

/// Checks the formatter's invariants on a `source` that formats without
/// error: same meaning, only whitespace changed, idempotent, canonical ending.
fn check_invariants(what: &str, source: &str, formatted: &str) {
    let before = hcl::parse(source).unwrap_or_else(|e| panic!("{what}: input: {e}"));
    let after = hcl::parse(formatted).unwrap_or_else(|e| panic!("{what}: output: {e}"));
    assert_eq!(before, after, "{what}: formatting changed the meaning");
    assert_eq!(
        significant(source),
        significant(formatted),
        "{what}: formatting changed more than whitespace"
    );
    let again = format_source(formatted).unwrap_or_else(|e| panic!("{what}: reformat: {e}"));
    assert_eq!(
        formatted,
        again,
        "{what}: not idempotent:\n{}",
        unified_diff("once", formatted, &again)
    );
    assert!(
        formatted.is_empty() || (formatted.ends_with('\n') && !formatted.ends_with("\n\n")),
        "{what}: must end with exactly one newline"
    );
    // (Heredocs, strings and block comments may contain blank line runs.)
    let has_literals = ["<<", "\"", "/*"].iter().any(|m| formatted.contains(m));
    assert!(has_literals || !formatted.contains("\n\n\n"), "{what}: blank line run");
}

/// Every fixture's input and expected output keep their meaning when
/// formatted, and formatting is idempotent; expected outputs are canonical.
#[test]
fn fixtures_keep_meaning_and_are_idempotent() {
    for dir in fixture_dirs() {
        let case = dir.file_name().unwrap().to_string_lossy().into_owned();
        let input = read(&dir.join("input.hcl"));
        let formatted = format_source(&input).unwrap_or_else(|e| panic!("{case}: {e}"));
        check_invariants(&case, &input, &formatted);

        let expected = read(&dir.join("expected.hcl"));
        assert_eq!(
            format_source(&expected).unwrap_or_else(|e| panic!("{case}: {e}")),
            expected,
            "{case}: expected.hcl is not canonical"
        );
    }
}

fn fmt(source: &str) -> String {
    let formatted = format_source(source).unwrap_or_else(|e| panic!("{source:?}: {e}"));
    check_invariants(source, source, &formatted);
    formatted
}

#[test]
fn empty_and_blank_input_formats_to_nothing() {
    assert_eq!(fmt(""), "");
    assert_eq!(fmt("\n\n  \t\n"), "");
    assert_eq!(fmt("\r\n"), "");
}

#[test]
fn final_newline_is_added_and_extra_ones_removed() {
    assert_eq!(fmt("a = 1"), "a = 1\n");
    assert_eq!(fmt("a = 1\n\n\n"), "a = 1\n");
    assert_eq!(fmt("# only a comment"), "# only a comment\n");
    assert_eq!(fmt("x = <<EOT\nhi\nEOT"), "x = <<EOT\nhi\nEOT\n");
}

#[test]
fn trailing_whitespace_is_removed_outside_literals() {
    assert_eq!(fmt("a = 1   \nb {  \n  c = 2 # note  \n}  \n"), "a = 1\nb {\n  c = 2 # note\n}\n");
}

#[test]
fn heredoc_and_multiline_string_contents_are_untouched() {
    // CRLF inside a heredoc is part of its value and is kept.
    let source = "a = <<EOT\r\n  x  \r\nEOT\r\nb   = \"line1\n   line2  \n\"\r\n";
    assert_eq!(fmt(source), "a = <<EOT\n  x  \r\nEOT\nb = \"line1\n   line2  \n\"\n");
}

#[test]
fn alignment_counts_characters_not_bytes() {
    assert_eq!(fmt("é = 1\nab = 2\n"), "é  = 1\nab = 2\n");
}

#[test]
fn less_than_followed_by_heredoc() {
    assert_eq!(fmt("x   = a <<<EOT\nb\nEOT\ny = 1\n"), "x = a <<<EOT\nb\nEOT\ny = 1\n");
}

#[test]
fn heredoc_delimiter_right_after_opening_line_is_content() {
    // hcl-edit ends a heredoc only at a delimiter line that follows content.
    let source = "p = <<-P\n  P\n  {}\n  P\nq=1\n";
    assert_eq!(fmt(source), "p = <<-P\n  P\n  {}\n  P\nq = 1\n");
}

#[test]
fn heredoc_without_content_before_its_delimiter() {
    assert_eq!(fmt("x = [<<A\nA\n, 1]\ny = 2\n"), "x = [<<A\nA\n  , 1]\ny = 2\n");
}

#[test]
fn multi_line_values_break_alignment_runs() {
    assert_eq!(
        fmt("a = 1\nbbbb = [\n1,\n]\nc = 2\ndd = <<E\nx\nE\neee = 3\n"),
        "a = 1\nbbbb = [\n  1,\n]\nc = 2\ndd = <<E\nx\nE\neee = 3\n"
    );
}

#[test]
fn one_line_blocks_break_alignment_runs() {
    assert_eq!(
        fmt("b {\n  a = 1\n  x { y = 1 }\n  ccc = 2\n}\n"),
        "b {\n  a = 1\n  x { y = 1 }\n  ccc = 2\n}\n"
    );
}

#[test]
fn trailing_comments_are_aligned_within_a_run() {
    assert_eq!(
        fmt("a = 1 # one\nbbb = 2     # two\n\nc = 3    # three\n"),
        "a   = 1 # one\nbbb = 2 # two\n\nc = 3 # three\n"
    );
}

#[test]
fn syntax_errors_are_reported_with_position() {
    let err = format_source("a = 1\nb = \n").unwrap_err();
    assert_eq!(err.line, 2);
    assert!(err.column >= 4, "{err:?}");
    assert!(!err.message.is_empty());

    let err = format_source("resource \"x\" {\n  a = 1\n").unwrap_err();
    assert_eq!(err.line, 2, "{err:?}");

    let err = format_source("a = 1\nb = [1, 2\n").unwrap_err();
    assert!(err.offset > 6, "{err:?}");
    assert!(format_source("a = \"unterminated\n").is_err());
    assert!(err.to_string().starts_with(&format!("{}:{}: ", err.line, err.column)));
}

#[test]
fn deep_nesting_is_handled_without_overflow() {
    let deep = format!("x = {}1{}\n", "[".repeat(50), "]".repeat(50));
    assert_eq!(fmt(&deep), deep);
    let too_deep = format!("x = {}1{}\n", "[".repeat(100_000), "]".repeat(100_000));
    assert!(format_source(&too_deep).is_err());
    let strings = format!("x = {}1{}\n", "\"${".repeat(30), "}\"".repeat(30));
    assert_eq!(fmt(&strings), strings);
}

/// Cases per property test: 512, or `MESHFORM_FMT_FUZZ_CASES` for a deeper run.
fn fuzz_cases() -> u32 {
    std::env::var("MESHFORM_FMT_FUZZ_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(512)
}

/// A small deterministic generator of messy but (mostly) valid HCL.
struct Gen {
    state: u64,
    names: usize,
}

impl Gen {
    fn new(seed: u64) -> Self {
        Gen { state: seed | 1, names: 0 }
    }

    fn next(&mut self) -> u64 {
        // xorshift64*
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        self.state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }

    /// A fresh attribute/key name of random length.
    fn name(&mut self) -> String {
        self.names += 1;
        let stem = self.pick(&["a", "id", "name", "instance_type", "x-y", "é"]);
        format!("{stem}{}", self.names)
    }

    /// Horizontal whitespace.
    fn sp(&mut self) -> &'static str {
        self.pick(&["", " ", " ", "   ", "\t", " \t "])
    }

    /// Whitespace that may break lines (inside brackets).
    fn ws(&mut self) -> String {
        match self.below(6) {
            0 => String::new(),
            1 => " ".to_owned(),
            2 => format!("{}\n{}", self.sp(), self.sp()),
            3 => format!(" # note{}\n\n\n{}", self.sp(), self.sp()),
            4 => format!("{}/* c */{}", self.sp(), self.sp()),
            _ => format!("\r\n{}", self.pick(&["", "  ", "\t\t", "      "])),
        }
    }

    fn eol(&mut self) -> &'static str {
        self.pick(&["\n", "\n", "\r\n", "  \n", "\n\n", "\n\n\n\n"])
    }

    fn leaf(&mut self) -> String {
        self.pick(&[
            "1",
            "-2.5",
            "true",
            "null",
            "var.x",
            "local.y[0]",
            "data.z.w[*].id",
            "\"str\"",
            "\"a ${var.b} c\"",
            "\"%{ if x }y%{ else }z%{ endif }\"",
            "\"${ {a = 1}[\"a\"] }\"",
            "\"multi\n  line  \"",
            "\"$${esc} %%{esc}\"",
        ])
        .to_owned()
    }

    /// An expression; `nl` says whether it may span lines.
    fn expr(&mut self, depth: usize, nl: bool) -> String {
        if depth == 0 {
            return self.leaf();
        }
        let d = depth - 1;
        match self.below(10) {
            0 | 1 => self.leaf(),
            2 => {
                let n = self.below(4);
                let mut s = String::from("[");
                for i in 0..n {
                    s += &self.ws();
                    s += &self.expr(d, nl);
                    if i + 1 < n || self.chance(50) {
                        s += ",";
                    }
                }
                s += &self.ws();
                s + "]"
            }
            3 => self.object(d),
            4 => {
                let n = self.below(3);
                let args: Vec<String> = (0..n).map(|_| self.expr(d, nl)).collect();
                let sep = if nl { ",\n" } else { ", " };
                format!("f{}({}{})", self.below(3), args.join(sep), self.sp())
            }
            5 => format!(
                "{}{}?{}{} :{}{}",
                self.expr(d, nl),
                self.sp(),
                self.sp(),
                self.expr(d, nl),
                self.sp(),
                self.expr(d, nl)
            ),
            6 => format!("({}{}{})", self.ws(), self.expr(d, true), self.ws()),
            7 => format!(
                "{}{}{}{}{}",
                self.expr(d, nl),
                self.sp(),
                self.pick(&["+", "==", "!=", "<=", ">=", "&&", "||", "*", "/", "%"]),
                self.sp(),
                self.expr(d, nl)
            ),
            8 => {
                if self.chance(50) {
                    format!(
                        "[for{}s in {} :{}upper(s){}]",
                        self.sp().replace('\t', " ").max(" ".to_owned()),
                        self.expr(d, nl),
                        self.ws(),
                        if self.chance(50) { " if s != \"\"" } else { "" }
                    )
                } else {
                    format!("{{{}for k, v in var.m : k => v{}}}", self.ws(), self.ws())
                }
            }
            _ => self.object(d),
        }
    }

    fn object(&mut self, depth: usize) -> String {
        let n = self.below(4);
        if self.chance(40) {
            let items: Vec<String> = (0..n)
                .map(|_| {
                    let key = self.name();
                    let sep = self.pick(&["=", "=", ":"]);
                    format!("{key}{}{sep}{}{}", self.sp(), self.sp(), self.expr(depth, false))
                })
                .collect();
            format!("{{{}{}{}}}", self.sp(), items.join(", "), self.sp())
        } else {
            let mut s = format!("{{{}", self.eol());
            for _ in 0..n {
                let key =
                    if self.chance(20) { format!("\"{}\"", self.name()) } else { self.name() };
                s += &format!(
                    "{}{key}{}={}{}{}",
                    self.sp(),
                    self.sp(),
                    self.sp(),
                    self.expr(depth, true),
                    self.eol()
                );
                if self.chance(20) {
                    s += "  # between items\n";
                }
            }
            s + self.sp() + "}"
        }
    }

    fn heredoc(&mut self) -> String {
        let (intro, delim) = if self.chance(50) { ("<<", "EOT") } else { ("<<-", "EOT") };
        format!(
            "{intro}{delim}\n  keep   \n\tthis ${{var.x}}  \n{}{delim}",
            self.pick(&["", "    "])
        )
    }

    fn body(&mut self, depth: usize, indent: &str) -> String {
        let mut s = String::new();
        for _ in 0..self.below(7) {
            let pad = format!("{indent}{}", self.sp());
            match self.below(10) {
                0 => s += self.eol(),
                1 => {
                    s += &format!("{pad}{}{}", self.pick(&["# c", "// c  ", "/* c */"]), self.eol())
                }
                2 => s += &format!("{pad}/* multi\n{indent}   * line */{}", self.eol()),
                3 if depth > 0 => {
                    let labels = self.pick(&["", " \"l\"", " \"a\" \"b\"", "\tx"]);
                    let inner = format!("{indent}  ");
                    let body = self.body(depth - 1, &inner);
                    s += &format!(
                        "{pad}blk{labels}{}{{{}\n{body}{pad}}}{}",
                        self.sp(),
                        self.pick(&["", " # open"]),
                        self.eol()
                    );
                }
                4 => {
                    let attr = if self.chance(50) {
                        format!("{}{}={}{}", self.name(), self.sp(), self.sp(), self.leaf())
                    } else {
                        String::new()
                    };
                    s += &format!(
                        "{pad}one{}{{{}{attr}{}}}{}",
                        self.sp(),
                        self.sp(),
                        self.sp(),
                        self.eol()
                    );
                }
                5 => {
                    s += &format!(
                        "{pad}{}{}={}{}\n",
                        self.name(),
                        self.sp(),
                        self.sp(),
                        self.heredoc()
                    )
                }
                _ => {
                    let comment = self.pick(&["", "", " # trailing", "\t// t", " /* t */"]);
                    s += &format!(
                        "{pad}{}{}={}{}{comment}{}",
                        self.name(),
                        self.sp(),
                        self.sp(),
                        self.expr(3, false),
                        self.eol()
                    );
                }
            }
        }
        s
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(fuzz_cases()))]

    /// Messy but valid HCL always formats, keeping its meaning, idempotently.
    #[test]
    fn generated_hcl_formats_correctly(seed in proptest::prelude::any::<u64>()) {
        let source = Gen::new(seed).body(3, "");
        if hcl::parse(&source).is_ok() {
            let formatted = format_source(&source)
                .unwrap_or_else(|e| panic!("{source:?}: {e}"));
            check_invariants(&source, &source, &formatted);
        }
    }
}
/// Pieces of HCL (and of broken HCL) for the fuzz-like tests.
const FRAGMENTS: &[&str] = &[
    "a",
    "b_2",
    "x-y",
    "é",
    "1",
    "2.5e3",
    " ",
    "  ",
    "\t",
    "\n",
    "\n",
    "\r\n",
    "\r",
    "=",
    "==",
    "=>",
    "!",
    "{",
    "}",
    "[",
    "]",
    "(",
    ")",
    "\"",
    "\\",
    "${",
    "%{",
    "$${",
    "~",
    "#",
    "//",
    "/*",
    "*/",
    "<<EOT\n",
    "<<-EOT\n",
    "EOT",
    "\nEOT\n",
    ",",
    ":",
    "?",
    ".",
    "...",
    "*",
    "+",
    "-",
    "for",
    "in",
    "if",
    "endif",
    "\"s\"",
    "blk \"l\" {\n",
    "}\n",
    "k = ",
    "[for v in x : v]",
];

fn fixture_inputs() -> Vec<String> {
    fixture_dirs().iter().map(|dir| read(&dir.join("input.hcl"))).collect()
}

/// Formats `source`, which may be invalid: must not panic, must succeed on
/// whatever the parser accepts, and must then keep the invariants.
fn check_robust(source: &str) {
    match format_source(source) {
        Ok(formatted) => check_invariants(source, source, &formatted),
        Err(err) => {
            assert!(hcl::parse(source).is_err(), "valid input rejected: {source:?}: {err}");
            assert!(err.line >= 1 && err.column >= 1, "{err:?}");
            assert!(err.offset <= source.len(), "{err:?}");
        }
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(fuzz_cases()))]

    /// Random sequences of HCL-ish fragments never make the formatter panic.
    #[test]
    fn random_fragments_never_panic(
        parts in proptest::collection::vec(proptest::sample::select(FRAGMENTS), 0..48)
    ) {
        check_robust(&parts.concat());
    }

    /// Arbitrary text never makes the formatter panic.
    #[test]
    fn arbitrary_text_never_panics(source in "\\PC{0,80}") {
        check_robust(&source);
    }

    /// Fixture inputs with random edits (deletions, insertions, duplicated
    /// lines) never make the formatter panic.
    #[test]
    fn mutated_fixtures_never_panic(
        case in 0usize..64,
        edits in proptest::collection::vec(
            (0usize..4, proptest::prelude::any::<usize>(), 0usize..12, proptest::sample::select(FRAGMENTS)),
            1..5,
        )
    ) {
        let inputs = fixture_inputs();
        let mut source = inputs[case % inputs.len()].clone();
        for (op, at, len, fragment) in edits {
            let at = floor_char_boundary(&source, at % (source.len() + 1));
            match op {
                0 => {
                    let end = floor_char_boundary(&source, (at + len).min(source.len()));
                    source.replace_range(at..end, "");
                }
                1 => source.insert_str(at, fragment),
                2 => {
                    let start = source[..at].rfind('\n').map_or(0, |i| i + 1);
                    let end = source[at..].find('\n').map_or(source.len(), |i| at + i + 1);
                    let line = source[start..end].to_owned();
                    source.insert_str(start, &line);
                }
                _ => {
                    let end = floor_char_boundary(&source, (at + len).min(source.len()));
                    let piece = source[at..end].to_owned();
                    source.insert_str(end, &piece);
                }
            }
        }
        check_robust(&source);
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}
