//! The architecture invariants of `docs/ARCHITECTURE.md`, checked over the source tree (rust-analyzer's
//! `tidy` is the model): libraries neither print nor read the environment, `Value::expose_json` is
//! called only where a cleartext value must leave the process, the engine names no concrete provider
//! or resource type, every Rust file starts with its `//!` line, and no file passes 800 lines.
//!
//! Each failure names `file:line`, what is wrong and what to do. An allow-list entry carries its
//! reason, and an entry that no longer matches anything fails too, so the lists stay honest.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

/// A file longer than this owns two things (style guide: most files stay under ~400).
const MAX_LINES: usize = 800;

/// Library files that may print or read the environment, and why.
const MAY_TALK: &[(&str, &str)] = &[(
    "crates/meshform-pgtest/src/lib.rs",
    "test support (a dev-dependency only): tells the developer why PostgreSQL tests are skipped",
)];

/// Where `Value::expose_json` may be called (a file, or a directory ending in `/`), and why.
const MAY_EXPOSE: &[(&str, &str)] = &[
    ("crates/meshform-core/src/value.rs", "defines it, and `Value::identity_key` for ordering sets"),
    ("crates/meshform-state/src/", "the state store keeps values in cleartext (mode 0600)"),
    (
        "crates/meshform-engine/src/planfile/",
        "saved plans replace sensitive values by tokens and salted digests, computed from the cleartext",
    ),
    (
        "crates/meshform-provider-kubernetes/src/",
        "provider transport: sends manifests to the Kubernetes API server",
    ),
];

/// What the engine must not name: the concrete providers and their resource types.
const CONCRETE_PREFIXES: &[&str] = &["asm_", "kubernetes_", "pki_"];
const CONCRETE_WORDS: &[&str] =
    &["local_file", "\"asm\"", "\"kubernetes\"", "\"pki\"", "provider.local", "\"local\" {"];

/// Macros and calls that talk to the terminal.
const PRINTS: &[&str] =
    &["println!", "eprintln!", "print!", "eprint!", "dbg!", "io::stdout", "io::stderr"];
/// Calls that read the process environment or arguments.
const READS_ENV: &[&str] = &["env::var", "env::args"];

#[test]
fn libraries_neither_print_nor_read_the_environment() {
    let mut problems = Vec::new();
    let mut used = BTreeSet::new();
    for f in sources().iter().filter(|f| f.is_library_code()) {
        for (n, code) in f.code_lines() {
            let talks = PRINTS.iter().chain(READS_ENV).find(|p| contains_word(code, p));
            let Some(what) = talks else { continue };
            if let Some((path, _)) = MAY_TALK.iter().find(|(p, _)| f.rel == *p) {
                used.insert(*path);
                continue;
            }
            problems.push(format!(
                "{}:{n}: `{what}` in a library: only meshform-cli talks to the terminal and reads the \
                 environment; report through the `Reporter` trait or return the text, and take settings \
                 as arguments (or add the file to MAY_TALK in this test with a reason)",
                f.rel
            ));
        }
    }
    problems.extend(stale("MAY_TALK", MAY_TALK, &used));
    assert_none(problems);
}

#[test]
fn only_state_plan_files_and_provider_transports_expose_sensitive_values() {
    let mut problems = Vec::new();
    let mut used = BTreeSet::new();
    for f in sources().iter().filter(|f| !f.is_test_code()) {
        for (n, code) in f.code_lines() {
            if !code.contains("expose_json(") && !code.contains("Value::expose_json)") {
                continue;
            }
            if let Some((path, _)) = MAY_EXPOSE.iter().find(|(p, _)| allows(p, &f.rel)) {
                used.insert(*path);
                continue;
            }
            problems.push(format!(
                "{}:{n}: `expose_json` reveals sensitive values; only the state store, plan files and \
                 provider transports may call it: go through their API (`InstanceState::set_value`, \
                 `OutputState::new`, `Value::identity_key`, …) or add the place to MAY_EXPOSE in this \
                 test and to docs/ARCHITECTURE.md, with the reason",
                f.rel
            ));
        }
    }
    problems.extend(stale("MAY_EXPOSE", MAY_EXPOSE, &used));
    assert_none(problems);
}

#[test]
fn the_engine_names_no_concrete_provider_or_resource_type() {
    let mut problems = Vec::new();
    for f in sources().iter().filter(|f| f.rel.starts_with("crates/meshform-engine/src/")) {
        for (n, line) in f.text.lines().enumerate() {
            if let Some(name) = concrete_name(line) {
                problems.push(format!(
                    "{}:{}: the engine names `{name}`, a concrete provider or resource type; the \
                     engine sees providers only through the registry: use a generic word in code, \
                     comments and help texts (`TYPE.NAME`, \"a data source\")",
                    f.rel,
                    n + 1
                ));
            }
        }
    }
    assert_none(problems);
}

#[test]
fn every_rust_file_starts_with_its_module_doc_line() {
    let problems = sources()
        .iter()
        .filter(|f| !f.text.starts_with("//!"))
        .map(|f| {
            format!(
                "{}:1: the file does not start with a `//!` line; say in one what the file owns",
                f.rel
            )
        })
        .collect();
    assert_none(problems);
}

#[test]
fn no_source_file_passes_800_lines() {
    let problems = sources()
        .iter()
        .filter(|f| f.text.lines().count() > MAX_LINES)
        .map(|f| {
            format!(
                "{}:{}: {} lines, more than {MAX_LINES}: the file owns two things; split it by what \
                 each part owns",
                f.rel,
                MAX_LINES + 1,
                f.text.lines().count()
            )
        })
        .collect();
    assert_none(problems);
}

/// The detectors themselves: each check above can fail.
#[test]
fn the_detectors_find_what_they_look_for() {
    assert!(contains_word("    println!(\"x\");", "println!"));
    assert!(contains_word("let v = std::env::var(\"HOME\");", "env::var"));
    assert!(!contains_word("    eprintln!(\"x\");", "println!"));
    assert!(!contains_word("fn reprint!()", "print!"));
    assert_eq!(
        code_part(r#"let s = "// not a comment"; // println!("x")"#),
        r#"let s = "// not a comment"; "#
    );
    assert_eq!(
        concrete_name("/// e.g. `kubernetes_exec` in a pod"),
        Some("kubernetes_exec".into())
    );
    assert_eq!(concrete_name("let local_file = 1;"), Some("local_file".into()));
    assert_eq!(concrete_name("roots.insert(\"local\".into(), v)"), None);
    assert_eq!(concrete_name("let nonasm_x = 1;"), None);
    let f = Source::new(
        "crates/x/src/a.rs".into(),
        "//! a\nfn a() { println!(); }\n#[cfg(test)]\nmod tests {\n    fn b() { println!(\"}\"); }\n}\nfn c() {}\n"
            .into(),
    );
    let lines: Vec<usize> = f.code_lines().map(|(n, _)| n).collect();
    assert_eq!(lines, vec![1, 2, 7], "lines of a #[cfg(test)] item are test code");
    assert!(allows("crates/meshform-state/src/", "crates/meshform-state/src/local.rs"));
    assert!(!allows("crates/meshform-core/src/value.rs", "crates/meshform-core/src/value.rs.bak"));
}

/// A Rust file of the workspace.
struct Source {
    /// Path from the workspace root, with `/`.
    rel: String,
    text: String,
    /// Lines (0-based) inside `#[cfg(test)]` items.
    test_lines: BTreeSet<usize>,
    /// A file that is test code as a whole (`tests/`, `benches/`, `examples/`, a `#[cfg(test)] mod x;`).
    test_file: bool,
}

impl Source {
    fn new(rel: String, text: String) -> Source {
        let test_lines = cfg_test_lines(&text);
        let test_file = ["/tests/", "/benches/", "/examples/"].iter().any(|d| rel.contains(d))
            || rel.starts_with("crates/meshform-tidy/");
        Source { rel, text, test_lines, test_file }
    }

    fn is_test_code(&self) -> bool {
        self.test_file
    }

    /// Library code: not test code, not the command-line crate.
    fn is_library_code(&self) -> bool {
        !self.test_file && !self.rel.starts_with("crates/meshform-cli/")
    }

    /// The code of each line outside `#[cfg(test)]` items (1-based line numbers, comments removed).
    fn code_lines(&self) -> impl Iterator<Item = (usize, &str)> {
        self.text
            .lines()
            .enumerate()
            .filter(|(i, _)| !self.test_lines.contains(i))
            .map(|(i, l)| (i + 1, code_part(l)))
    }
}

/// Every `.rs` file under `crates/`, sorted; files declared as `#[cfg(test)] mod x;` are test files.
fn sources() -> Vec<Source> {
    let root = workspace_root();
    let mut paths = Vec::new();
    walk(&root.join("crates"), &mut paths);
    paths.sort();
    let mut out: Vec<Source> = paths
        .iter()
        .map(|p| {
            let rel = p.strip_prefix(&root).unwrap_or(p).to_string_lossy().replace('\\', "/");
            let text = fs::read_to_string(p).unwrap_or_else(|e| panic!("{rel}: {e}"));
            Source::new(rel, text)
        })
        .collect();
    let test_modules: BTreeSet<String> = out.iter().flat_map(cfg_test_module_files).collect();
    for f in &mut out {
        f.test_file |= test_modules.contains(&f.rel);
    }
    out
}

fn workspace_root() -> PathBuf {
    // The crate is `crates/meshform-tidy`; the workspace is two levels up.
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.ancestors().nth(2).unwrap_or(manifest).to_path_buf()
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let path = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || name == "target" {
            continue;
        }
        if path.is_dir() {
            walk(&path, out);
        } else if name.ends_with(".rs") {
            out.push(path);
        }
    }
}

/// The 0-based lines of every item under `#[cfg(test)]`: from the attribute to the line where the
/// item's braces close (or its `;`).
fn cfg_test_lines(text: &str) -> BTreeSet<usize> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = BTreeSet::new();
    let mut i = 0;
    while i < lines.len() {
        if lines[i].trim() != "#[cfg(test)]" {
            i += 1;
            continue;
        }
        let (mut depth, mut opened) = (0i64, false);
        let mut j = i;
        while j < lines.len() {
            out.insert(j);
            let code = code_part(lines[j]);
            for c in outside_strings(code) {
                match c {
                    b'{' => {
                        depth += 1;
                        opened = true;
                    }
                    b'}' => depth -= 1,
                    _ => {}
                }
            }
            let ends_without_body = !opened && j > i && code.trim_end().ends_with(';');
            if (opened && depth <= 0) || ends_without_body {
                break;
            }
            j += 1;
        }
        i = j + 1;
    }
    out
}

/// The files of modules declared `#[cfg(test)] mod x;` in `f` (`x.rs` or `x/mod.rs` beside it).
fn cfg_test_module_files(f: &Source) -> Vec<String> {
    let lines: Vec<&str> = f.text.lines().collect();
    let dir = match f.rel.rsplit_once('/') {
        Some((d, name)) if name == "mod.rs" || name == "lib.rs" || name == "main.rs" => {
            d.to_owned()
        }
        Some((d, name)) => format!("{d}/{}", name.trim_end_matches(".rs")),
        None => return Vec::new(),
    };
    let mut out = Vec::new();
    for w in lines.windows(2) {
        if w[0].trim() != "#[cfg(test)]" {
            continue;
        }
        let decl = w[1].trim();
        if let Some(name) = decl.strip_prefix("mod ").and_then(|r| r.strip_suffix(';')) {
            out.push(format!("{dir}/{name}.rs"));
            out.push(format!("{dir}/{name}/mod.rs"));
        }
    }
    out
}

/// `line` without its `//` comment (string literals are respected, escapes included).
fn code_part(line: &str) -> &str {
    let bytes = line.as_bytes();
    let (mut in_str, mut i) = (false, 0);
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if in_str => i += 1,
            b'"' => in_str = !in_str,
            b'\'' if !in_str && bytes.get(i + 2) == Some(&b'\'') => i += 2,
            b'/' if !in_str && bytes.get(i + 1) == Some(&b'/') => return &line[..i],
            _ => {}
        }
        i += 1;
    }
    line
}

/// The bytes of `code` outside string and character literals.
fn outside_strings(code: &str) -> Vec<u8> {
    let bytes = code.as_bytes();
    let (mut out, mut in_str, mut i) = (Vec::new(), false, 0);
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if in_str => i += 1,
            b'"' => in_str = !in_str,
            b'\'' if !in_str && bytes.get(i + 2) == Some(&b'\'') => i += 2,
            b if !in_str => out.push(b),
            _ => {}
        }
        i += 1;
    }
    out
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Whether `pattern` occurs in `text` not preceded by an identifier character.
fn contains_word(text: &str, pattern: &str) -> bool {
    text.match_indices(pattern).any(|(i, _)| !text[..i].chars().next_back().is_some_and(is_ident))
}

/// The first concrete provider or resource type named on `line`.
fn concrete_name(line: &str) -> Option<String> {
    for prefix in CONCRETE_PREFIXES {
        for (i, _) in line.match_indices(prefix) {
            let before = line[..i].chars().next_back();
            let rest = &line[i + prefix.len()..];
            if before.is_some_and(is_ident) || !rest.starts_with(|c: char| c.is_ascii_alphabetic())
            {
                continue;
            }
            let end = rest.find(|c: char| !is_ident(c)).unwrap_or(rest.len());
            return Some(format!("{prefix}{}", &rest[..end]));
        }
    }
    CONCRETE_WORDS.iter().find(|w| contains_word(line, w)).map(|w| (*w).to_owned())
}

/// Whether the allow-list entry `entry` (a file, or a directory ending in `/`) covers `rel`.
fn allows(entry: &str, rel: &str) -> bool {
    if entry.ends_with('/') {
        rel.starts_with(entry)
    } else {
        rel == entry
    }
}

/// Allow-list entries that matched nothing: the exception is gone, so is its entry.
fn stale(list: &str, entries: &[(&str, &str)], used: &BTreeSet<&str>) -> Vec<String> {
    entries
        .iter()
        .filter(|(p, _)| !used.contains(p))
        .map(|(p, _)| format!("{list} lists {p}, which no longer needs it: remove the entry"))
        .collect()
}

fn assert_none(problems: Vec<String>) {
    assert!(problems.is_empty(), "\n{}\n", problems.join("\n"));
}
