//! `fileset(path, pattern)`: the regular files under a directory whose relative paths match a glob,
//! with the syntax Terraform takes from `bmatcuk/doublestar`: `*`, `?`, `[a-z]`, `[!a]`, `{a,b}`,
//! `\` escapes, and `**` for any number of directories.

use std::path::{Path, PathBuf};

use meshform_core::Value;

use super::args::Args;
use super::filesystem::clean;
use super::FnResult;

/// The most directory entries one call looks at: a pattern like `**` over a huge tree is a mistake.
const MAX_ENTRIES: usize = 200_000;

/// Why a pattern cannot be matched.
#[derive(Debug, PartialEq)]
struct BadPattern;

/// The most patterns one `{a,b}` expansion may produce.
const MAX_ALTERNATIVES: usize = 1024;

/// One element of a brace-free segment pattern.
enum Token {
    Star,
    AnyChar,
    Class(Class),
    Literal(char),
}

/// Expands `{a,b}` alternatives into brace-free patterns (escapes kept for [`tokens`]).
fn expand_braces(p: &[char]) -> Result<Vec<Vec<char>>, BadPattern> {
    let mut i = 0;
    while i < p.len() {
        match p[i] {
            '\\' => i += 2,
            '{' => {
                let (alternatives, after) = parse_alternatives(&p[i + 1..])?;
                let rests = expand_braces(after)?;
                let mut out = Vec::new();
                for alt in alternatives {
                    let mut head = p[..i].to_vec();
                    head.extend(alt);
                    for middle in expand_braces(&head)? {
                        for rest in &rests {
                            let mut full = middle.clone();
                            full.extend_from_slice(rest);
                            out.push(full);
                            if out.len() > MAX_ALTERNATIVES {
                                return Err(BadPattern);
                            }
                        }
                    }
                }
                return Ok(out);
            }
            _ => i += 1,
        }
    }
    Ok(vec![p.to_vec()])
}

/// A brace-free segment pattern as tokens.
fn tokens(p: &[char]) -> Result<Vec<Token>, BadPattern> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < p.len() {
        match p[i] {
            '*' => {
                if !matches!(out.last(), Some(Token::Star)) {
                    out.push(Token::Star);
                }
                i += 1;
            }
            '?' => {
                out.push(Token::AnyChar);
                i += 1;
            }
            '[' => {
                let (class, after) = parse_class(&p[i + 1..])?;
                out.push(Token::Class(class));
                i = p.len() - after.len();
            }
            '\\' => {
                out.push(Token::Literal(*p.get(i + 1).ok_or(BadPattern)?));
                i += 2;
            }
            c => {
                out.push(Token::Literal(c));
                i += 1;
            }
        }
    }
    Ok(out)
}

/// Whether `name` matches brace-free tokens: the classic wildcard walk that returns to the last
/// star, in time proportional to the product of the lengths (no exponential backtracking).
fn tokens_match(toks: &[Token], name: &[char]) -> bool {
    let one = |t: &Token, c: char| match t {
        Token::AnyChar => true,
        Token::Class(class) => class.matches(c),
        Token::Literal(l) => *l == c,
        Token::Star => false,
    };
    let (mut p, mut n) = (0, 0);
    let mut last_star: Option<(usize, usize)> = None;
    while n < name.len() {
        if p < toks.len() && one(&toks[p], name[n]) {
            p += 1;
            n += 1;
        } else if p < toks.len() && matches!(toks[p], Token::Star) {
            last_star = Some((p, n));
            p += 1;
        } else if let Some((sp, sn)) = last_star {
            p = sp + 1;
            n = sn + 1;
            last_star = Some((sp, sn + 1));
        } else {
            return false;
        }
    }
    toks[p..].iter().all(|t| matches!(t, Token::Star))
}

/// Whether `name` (one path segment) matches the glob `pattern` (one segment).
fn segment_matches(pattern: &[char], name: &[char]) -> Result<bool, BadPattern> {
    for alternative in expand_braces(pattern)? {
        if tokens_match(&tokens(&alternative)?, name) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Checks that a segment pattern is well formed.
fn check_syntax(pattern: &[char]) -> Result<(), BadPattern> {
    for alternative in expand_braces(pattern)? {
        tokens(&alternative)?;
    }
    Ok(())
}

/// A character class: ranges and single characters, maybe negated.
struct Class {
    negated: bool,
    ranges: Vec<(char, char)>,
}

impl Class {
    fn matches(&self, c: char) -> bool {
        self.ranges.iter().any(|(lo, hi)| (*lo..=*hi).contains(&c)) != self.negated
    }
}

/// Parses a class after its `[`; returns it and the pattern after its `]`.
fn parse_class(p: &[char]) -> Result<(Class, &[char]), BadPattern> {
    let mut i = 0;
    let negated = matches!(p.first(), Some('!' | '^'));
    if negated {
        i += 1;
    }
    let mut ranges = Vec::new();
    let mut first = true;
    loop {
        let mut c = *p.get(i).ok_or(BadPattern)?;
        if c == ']' && !first {
            return Ok((Class { negated, ranges }, &p[i + 1..]));
        }
        first = false;
        if c == '\\' {
            i += 1;
            c = *p.get(i).ok_or(BadPattern)?;
        }
        i += 1;
        let mut hi = c;
        if p.get(i) == Some(&'-') && p.get(i + 1).is_some_and(|n| *n != ']') {
            hi = p[i + 1];
            if hi == '\\' {
                hi = *p.get(i + 2).ok_or(BadPattern)?;
                i += 1;
            }
            i += 2;
            if hi < c {
                return Err(BadPattern);
            }
        }
        ranges.push((c, hi));
    }
}

/// Parses `{a,b}` after its `{`; returns the alternatives and the pattern after the `}`.
fn parse_alternatives(p: &[char]) -> Result<(Vec<Vec<char>>, &[char]), BadPattern> {
    let mut alternatives = vec![Vec::new()];
    let mut depth = 0;
    let mut i = 0;
    while i < p.len() {
        let c = p[i];
        match c {
            '\\' => {
                let next = *p.get(i + 1).ok_or(BadPattern)?;
                let current = alternatives.last_mut().ok_or(BadPattern)?;
                current.extend([c, next]);
                i += 2;
                continue;
            }
            '{' => depth += 1,
            '}' if depth == 0 => return Ok((alternatives, &p[i + 1..])),
            '}' => depth -= 1,
            ',' if depth == 0 => {
                alternatives.push(Vec::new());
                i += 1;
                continue;
            }
            _ => {}
        }
        alternatives.last_mut().ok_or(BadPattern)?.push(c);
        i += 1;
    }
    Err(BadPattern)
}

fn has_meta(segment: &str) -> bool {
    segment.contains(['*', '?', '[', '{', '\\'])
}

/// Walks the filesystem for the segments of a pattern, collecting matching paths.
struct Walk {
    found: Vec<PathBuf>,
    seen: usize,
}

impl Walk {
    /// The entries of `dir`, sorted: name, path, and whether it is a directory itself (not a
    /// symbolic link to one, which `**` does not follow, so a link loop cannot recurse forever).
    fn entries(&mut self, dir: &Path) -> Vec<(String, PathBuf, bool)> {
        let Ok(read) = std::fs::read_dir(dir) else { return Vec::new() };
        let mut out = Vec::new();
        for entry in read.flatten() {
            self.seen += 1;
            if self.seen > MAX_ENTRIES {
                break;
            }
            let real_dir = entry.file_type().is_ok_and(|t| t.is_dir());
            if let Some(name) = entry.file_name().to_str() {
                out.push((name.to_string(), entry.path(), real_dir));
            }
        }
        out.sort();
        out
    }

    fn walk(&mut self, dir: &Path, segments: &[Vec<char>]) -> Result<(), BadPattern> {
        let Some((segment, rest)) = segments.split_first() else {
            self.found.push(dir.to_path_buf());
            return Ok(());
        };
        if segment.iter().collect::<String>() == "**" {
            // Zero directories, then one more level for each subdirectory.
            self.walk(dir, rest)?;
            for (_, path, real_dir) in self.entries(dir) {
                if real_dir && self.seen <= MAX_ENTRIES {
                    self.walk(&path, segments)?;
                } else if rest.is_empty() {
                    // A final `**` matches files at every depth too.
                    self.found.push(path);
                }
            }
            return Ok(());
        }
        for (name, path, _) in self.entries(dir) {
            let name: Vec<char> = name.chars().collect();
            if segment_matches(segment, &name)? {
                self.walk(&path, rest)?;
            }
        }
        Ok(())
    }
}

/// `fileset(path, pattern)`: the set of relative paths (with `/`) of the regular files under `path`
/// (relative to the configuration's directory) that match `pattern`.
pub(super) fn fileset(a: &Args) -> FnResult {
    a.exactly(2)?;
    let path = a.string(0, "the path")?.replace('\\', "/");
    let pattern = a.string(1, "the pattern")?;
    let base = a.ctx.base_dir.to_string_lossy().replace('\\', "/");
    let root = if path.starts_with('/') { clean(&path) } else { clean(&format!("{base}/{path}")) };
    let full = clean(&format!("{root}/{pattern}"));
    let bad = || a.error(1, format!("failed to glob pattern ({full}): syntax error in pattern"));
    // The literal directories before the first segment with wildcards.
    let parts: Vec<&str> = full.split('/').collect();
    let literal = parts.iter().take_while(|s| !has_meta(s)).count();
    let start = match (literal, full.starts_with('/')) {
        (0, _) => ".".to_string(),
        (1, true) => "/".to_string(),
        (n, _) => parts[..n].join("/"),
    };
    let segments: Vec<Vec<char>> = parts[literal..].iter().map(|s| s.chars().collect()).collect();
    for s in &segments {
        check_syntax(s).map_err(|_| bad())?;
    }
    let mut walk = Walk { found: Vec::new(), seen: 0 };
    if segments.is_empty() {
        walk.found.push(PathBuf::from(&start));
    } else {
        walk.walk(Path::new(&start), &segments).map_err(|_| bad())?;
    }
    if walk.seen > MAX_ENTRIES {
        return Err(a.error(
            1,
            format!("the pattern would look at more than {MAX_ENTRIES} files and directories; narrow it"),
        ));
    }
    let mut out = Vec::new();
    for found in walk.found {
        if !std::fs::metadata(&found).is_ok_and(|m| m.is_file()) {
            continue;
        }
        let found = found.to_string_lossy().replace('\\', "/");
        out.push(Value::String(relative(&root, &clean(&found))));
    }
    out.sort_by(|x, y| x.as_str().cmp(&y.as_str()));
    out.dedup();
    Ok(Value::List(out))
}

/// Go's `filepath.Rel` for two cleaned paths of the same kind (both rooted or both relative).
fn relative(base: &str, target: &str) -> String {
    let split = |p: &str| -> Vec<String> {
        p.split('/').filter(|s| !s.is_empty() && *s != ".").map(str::to_string).collect()
    };
    let (b, t) = (split(base), split(target));
    let common = b.iter().zip(&t).take_while(|(x, y)| x == y).count();
    let mut parts: Vec<String> = vec!["..".to_string(); b.len() - common];
    parts.extend(t[common..].iter().cloned());
    if parts.is_empty() {
        ".".to_string()
    } else {
        parts.join("/")
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::super::{call, FunctionContext};
    use super::*;

    fn matches(pattern: &str, name: &str) -> Result<bool, BadPattern> {
        let p: Vec<char> = pattern.chars().collect();
        let n: Vec<char> = name.chars().collect();
        segment_matches(&p, &n)
    }

    #[test]
    fn segment_globs() {
        assert_eq!(matches("*.txt", "hello.txt"), Ok(true));
        assert_eq!(matches("*.txt", ".hidden.txt"), Ok(true));
        assert_eq!(matches("*.txt", "hello.tf"), Ok(false));
        assert_eq!(matches("h?llo.*", "hello.txt"), Ok(true));
        assert_eq!(matches("[a-c]*", "bravo"), Ok(true));
        assert_eq!(matches("[!a-c]*", "bravo"), Ok(false));
        assert_eq!(matches("[^a-c]*", "delta"), Ok(true));
        assert_eq!(matches("*.{tf,hcl}", "main.hcl"), Ok(true));
        assert_eq!(matches("*.{tf,hcl}", "main.json"), Ok(false));
        assert_eq!(matches("\\*", "*"), Ok(true));
        assert_eq!(matches("\\*", "a"), Ok(false));
        assert_eq!(matches("[]a]", "]"), Ok(true));
        assert_eq!(matches("[a-", "a"), Err(BadPattern));
        assert_eq!(matches("{a,b", "a"), Err(BadPattern));
        assert_eq!(matches("x\\", "x"), Err(BadPattern));
        assert_eq!(matches("a[", "b"), Err(BadPattern));
        assert_eq!(matches("{a,{b,c}}x", "cx"), Ok(true));
        assert_eq!(matches("\\{a\\}", "{a}"), Ok(true));
        // Many stars against a long name that almost matches: answered at once, not after an
        // exponential search.
        let name = "a".repeat(250);
        assert_eq!(matches("*a*a*a*a*a*a*a*a*a*a*a*a*b", &name), Ok(false));
        assert_eq!(matches("*a*a*a*a*a*a*a*a*a*a*a*a*", &name), Ok(true));
    }

    #[test]
    fn fileset_like_terraform() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for f in
            ["files/hello.txt", "files/world.txt", "files/sub/deep.txt", "files/x.tf", "other.txt"]
        {
            let p = d.join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, "x").unwrap();
        }
        std::fs::create_dir_all(d.join("files/empty.txt")).unwrap();
        let ctx = FunctionContext { base_dir: d };
        let run = |path: &str, pattern: &str| {
            call("fileset", &[s(path), s(pattern)], &ctx).map_err(|e| e.to_string())
        };
        assert_eq!(run("files", "*.txt"), Ok(strs(&["hello.txt", "world.txt"])));
        assert_eq!(run("files", "{hello,world}.txt"), Ok(strs(&["hello.txt", "world.txt"])));
        assert_eq!(run("files", "**/*.txt"), Ok(strs(&["hello.txt", "sub/deep.txt", "world.txt"])));
        assert_eq!(
            run("files", "**"),
            Ok(strs(&["hello.txt", "sub/deep.txt", "world.txt", "x.tf"]))
        );
        assert_eq!(run(".", "files/*.tf"), Ok(strs(&["files/x.tf"])));
        assert_eq!(run("files", "hello.txt"), Ok(strs(&["hello.txt"])));
        assert_eq!(run("files", "../*.txt"), Ok(strs(&["../other.txt"])));
        assert_eq!(run("files", "nothing*"), Ok(list([])));
        assert_eq!(run("missing", "*"), Ok(list([])));
        let abs = d.join("files").display().to_string();
        assert_eq!(run(&abs, "w*"), Ok(strs(&["world.txt"])));
        // A link back up the tree is not followed by `**`.
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(d.join("files"), d.join("files/sub/loop")).unwrap();
            assert_eq!(
                run("files", "**/*.txt"),
                Ok(strs(&["hello.txt", "sub/deep.txt", "world.txt"]))
            );
            assert_eq!(run("files", "sub/loop/h*"), Ok(strs(&["sub/loop/hello.txt"])));
        }
        let e = run("files", "[a-").unwrap_err();
        assert!(e.starts_with("fileset: failed to glob pattern ("), "{e}");
        assert!(e.ends_with("/files/[a-): syntax error in pattern"), "{e}");
        assert_eq!(err("fileset", &[s(".")]), "fileset takes 2 arguments, got 1");
    }

    #[test]
    fn relative_paths_like_go() {
        assert_eq!(relative("/a/b", "/a/b/c/d"), "c/d");
        assert_eq!(relative("/a/b", "/a/x"), "../x");
        assert_eq!(relative("a", "a"), ".");
        assert_eq!(clean("/a/./b/../c//d/"), "/a/c/d");
    }
}
