//! A small POSIX-ish shell for `sh -c` in emulated containers: words with quotes, `$VAR`,
//! `${VAR}`, `$?` and `$(…)`, command lists with `;`, `&&`, `||` and newlines, `for … in …; do …;
//! done`, `exit N`, and the redirections `>&2`, `2>&1` and `> file` (output to a file is
//! discarded: the containers have no writable files). Every simple command goes back to an [`ExecHandler`], so a handler that
//! knows `curl` gets `for i in $(seq 1 10); do curl …; done` for free.

use std::collections::HashMap;

use futures::future::BoxFuture;

use super::commands::{environment, ExecHandler, ExecOutput, ExecRequest};

/// Most commands one script may run (loops included), so no script runs away.
const MAX_COMMANDS: usize = 10_000;

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Lit(String, bool),
    Var(String, bool),
    Subst(String, bool),
}

type Word = Vec<Part>;

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(Word),
    Semi,
    And,
    Or,
    Pipe,
    /// `[fd]>`, `[fd]>>`, `[fd]>&N` or `<`: the target word (if any) follows.
    Redirect {
        fd: u8,
        dup: Option<u8>,
    },
}

/// Where a command's output stream goes.
#[derive(Debug, Clone)]
struct Redirect {
    fd: u8,
    /// `Some(n)` for `>&n`; `None` for a file (or input).
    dup: Option<u8>,
}

#[derive(Debug, Clone)]
enum Node {
    Simple(Vec<Word>, Vec<Redirect>),
    For { var: String, items: Vec<Word>, body: Vec<(Conn, Node)> },
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Conn {
    Always,
    And,
    Or,
}

fn tokenize(s: &str) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = s.chars().collect();
    let mut toks = Vec::new();
    let mut word: Word = Vec::new();
    let mut i = 0;
    let push_lit = |word: &mut Word, c: char, quoted: bool| match word.last_mut() {
        Some(Part::Lit(s, q)) if *q == quoted => s.push(c),
        _ => word.push(Part::Lit(c.to_string(), quoted)),
    };
    let end_word = |word: &mut Word, toks: &mut Vec<Tok>| {
        if !word.is_empty() {
            toks.push(Tok::Word(std::mem::take(word)));
        }
    };
    while i < chars.len() {
        let c = chars[i];
        match c {
            ' ' | '\t' => end_word(&mut word, &mut toks),
            '\n' | ';' => {
                end_word(&mut word, &mut toks);
                toks.push(Tok::Semi);
            }
            '&' | '|' => {
                end_word(&mut word, &mut toks);
                let double = chars.get(i + 1) == Some(&c);
                toks.push(match (c, double) {
                    ('&', true) => Tok::And,
                    ('|', true) => Tok::Or,
                    ('|', false) => Tok::Pipe,
                    _ => Tok::Semi,
                });
                if double {
                    i += 1;
                }
            }
            '>' | '<' => {
                let fd = match word.as_slice() {
                    [Part::Lit(d, false)] if d == "1" || d == "2" => {
                        let fd = if d == "1" { 1 } else { 2 };
                        word.clear();
                        fd
                    }
                    _ => {
                        end_word(&mut word, &mut toks);
                        if c == '<' {
                            0
                        } else {
                            1
                        }
                    }
                };
                if chars.get(i + 1) == Some(&'>') {
                    i += 1;
                }
                let mut dup = None;
                if chars.get(i + 1) == Some(&'&') {
                    if let Some(d) = chars.get(i + 2).and_then(|d| d.to_digit(10)) {
                        dup = Some(d as u8);
                        i += 2;
                    }
                }
                toks.push(Tok::Redirect { fd, dup });
            }
            '#' if word.is_empty() => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
                continue;
            }
            '\'' => {
                let end = chars[i + 1..]
                    .iter()
                    .position(|&x| x == '\'')
                    .ok_or("unterminated quoted string")?;
                let lit: String = chars[i + 1..i + 1 + end].iter().collect();
                word.push(Part::Lit(lit, true));
                i += end + 2;
                continue;
            }
            '"' => {
                i += 1;
                loop {
                    let Some(&d) = chars.get(i) else {
                        return Err("unterminated quoted string".into());
                    };
                    match d {
                        '"' => break,
                        '\\' if matches!(chars.get(i + 1), Some('"' | '\\' | '$' | '`')) => {
                            push_lit(&mut word, chars[i + 1], true);
                            i += 2;
                        }
                        '$' => i = dollar(&chars, i, true, &mut word)?,
                        _ => {
                            push_lit(&mut word, d, true);
                            i += 1;
                        }
                    }
                }
                word.push(Part::Lit(String::new(), true));
            }
            '\\' => {
                if let Some(&n) = chars.get(i + 1) {
                    if n != '\n' {
                        push_lit(&mut word, n, true);
                    }
                }
                i += 2;
                continue;
            }
            '$' => {
                i = dollar(&chars, i, false, &mut word)?;
                continue;
            }
            _ => push_lit(&mut word, c, false),
        }
        i += 1;
    }
    end_word(&mut word, &mut toks);
    Ok(toks)
}

/// Read a `$…` expansion starting at `i`; returns the index after it.
fn dollar(chars: &[char], i: usize, quoted: bool, word: &mut Word) -> Result<usize, String> {
    match chars.get(i + 1) {
        Some('(') => {
            let mut depth = 0;
            let mut j = i + 1;
            while j < chars.len() {
                match chars[j] {
                    '(' => depth += 1,
                    ')' => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
            if j >= chars.len() {
                return Err("unterminated $(".into());
            }
            word.push(Part::Subst(chars[i + 2..j].iter().collect(), quoted));
            Ok(j + 1)
        }
        Some('{') => {
            let end = chars[i + 2..].iter().position(|&x| x == '}').ok_or("bad substitution")?;
            word.push(Part::Var(chars[i + 2..i + 2 + end].iter().collect(), quoted));
            Ok(i + 3 + end)
        }
        Some('?') => {
            word.push(Part::Var("?".into(), quoted));
            Ok(i + 2)
        }
        Some(c) if c.is_ascii_alphabetic() || *c == '_' => {
            let mut j = i + 1;
            while j < chars.len() && (chars[j].is_ascii_alphanumeric() || chars[j] == '_') {
                j += 1;
            }
            word.push(Part::Var(chars[i + 1..j].iter().collect(), quoted));
            Ok(j)
        }
        _ => {
            word.push(Part::Lit("$".into(), quoted));
            Ok(i + 1)
        }
    }
}

fn literal(w: &Word) -> Option<&str> {
    match w.as_slice() {
        [Part::Lit(s, false)] => Some(s),
        _ => None,
    }
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
}

impl Parser {
    fn peek_word(&self) -> Option<&str> {
        match self.toks.get(self.pos) {
            Some(Tok::Word(w)) => literal(w),
            _ => None,
        }
    }

    /// A list of commands up to the end or one of `stop` (not consumed).
    fn list(&mut self, stop: &[&str]) -> Result<Vec<(Conn, Node)>, String> {
        let mut out = Vec::new();
        let mut conn = Conn::Always;
        loop {
            while self.toks.get(self.pos) == Some(&Tok::Semi) {
                self.pos += 1;
                conn = Conn::Always;
            }
            if self.pos >= self.toks.len() || self.peek_word().is_some_and(|w| stop.contains(&w)) {
                return Ok(out);
            }
            let node = self.command()?;
            out.push((conn, node));
            conn = match self.toks.get(self.pos) {
                Some(Tok::And) => Conn::And,
                Some(Tok::Or) => Conn::Or,
                Some(Tok::Pipe) => {
                    return Err("pipes are not supported by the sandbox shell".into())
                }
                _ => Conn::Always,
            };
            if conn != Conn::Always {
                self.pos += 1;
            }
        }
    }

    fn command(&mut self) -> Result<Node, String> {
        if self.peek_word() == Some("for") {
            self.pos += 1;
            let var = self.peek_word().ok_or("syntax error: for needs a variable")?.to_string();
            self.pos += 1;
            if self.peek_word() != Some("in") {
                return Err("syntax error: expected 'in'".into());
            }
            self.pos += 1;
            let mut items = Vec::new();
            while let Some(Tok::Word(w)) = self.toks.get(self.pos) {
                items.push(w.clone());
                self.pos += 1;
            }
            while self.toks.get(self.pos) == Some(&Tok::Semi) {
                self.pos += 1;
            }
            if self.peek_word() != Some("do") {
                return Err("syntax error: expected 'do'".into());
            }
            self.pos += 1;
            let body = self.list(&["done"])?;
            if self.peek_word() != Some("done") {
                return Err("syntax error: expected 'done'".into());
            }
            self.pos += 1;
            return Ok(Node::For { var, items, body });
        }
        let mut words = Vec::new();
        let mut redirects = Vec::new();
        loop {
            match self.toks.get(self.pos) {
                Some(Tok::Word(w)) => words.push(w.clone()),
                Some(Tok::Redirect { fd, dup }) => {
                    redirects.push(Redirect { fd: *fd, dup: *dup });
                    if dup.is_none() {
                        self.pos += 1;
                        if !matches!(self.toks.get(self.pos), Some(Tok::Word(_))) {
                            return Err("syntax error: redirection without a target".into());
                        }
                    }
                }
                _ => break,
            }
            self.pos += 1;
        }
        if words.is_empty() {
            return Err("syntax error near unexpected token".into());
        }
        Ok(Node::Simple(words, redirects))
    }
}

struct Run<'a> {
    handler: &'a dyn ExecHandler,
    request: &'a ExecRequest,
    vars: HashMap<String, String>,
    out: ExecOutput,
    exited: bool,
    budget: usize,
}

/// Run a `sh -c` script; each simple command goes to `handler`.
pub async fn run_sh(script: &str, request: &ExecRequest, handler: &dyn ExecHandler) -> ExecOutput {
    let nodes = match tokenize(script).and_then(|toks| Parser { toks, pos: 0 }.list(&[])) {
        Ok(n) => n,
        Err(e) => return ExecOutput::fail(2, format!("sh: {e}\n")),
    };
    let vars = environment(request).into_iter().collect();
    let mut run = Run {
        handler,
        request,
        vars,
        out: ExecOutput::default(),
        exited: false,
        budget: MAX_COMMANDS,
    };
    run.list(&nodes).await;
    run.out
}

impl<'a> Run<'a> {
    fn list<'b>(&'b mut self, nodes: &'b [(Conn, Node)]) -> BoxFuture<'b, ()> {
        Box::pin(async move {
            for (conn, node) in nodes {
                if self.exited {
                    return;
                }
                let last_ok = self.out.exit_code == 0;
                match conn {
                    Conn::And if !last_ok => continue,
                    Conn::Or if last_ok => continue,
                    _ => {}
                }
                match node {
                    Node::Simple(words, redirects) => {
                        let argv = self.expand_all(words).await;
                        self.simple(argv, redirects).await;
                    }
                    Node::For { var, items, body } => {
                        let values = self.expand_all(items).await;
                        for v in values {
                            if self.exited {
                                return;
                            }
                            self.vars.insert(var.clone(), v);
                            self.list(body).await;
                        }
                    }
                }
            }
        })
    }

    async fn simple(&mut self, argv: Vec<String>, redirects: &[Redirect]) {
        if argv.is_empty() {
            return;
        }
        if self.budget == 0 {
            self.out.stderr.extend_from_slice(b"sh: too many commands\n");
            self.out.exit_code = 2;
            self.exited = true;
            return;
        }
        self.budget -= 1;
        if argv[0] == "exit" {
            self.out.exit_code = match argv.get(1) {
                Some(n) => n.parse::<i64>().map(|n| (n & 0xff) as i32).unwrap_or(2),
                None => self.out.exit_code,
            };
            self.exited = true;
            return;
        }
        let mut r = self.handler.exec(&self.request.with_command(argv.clone())).await;
        if r.exit_code == 127 && r.stderr.starts_with(b"OCI runtime exec failed") {
            r.stderr = format!("sh: {}: not found\n", argv[0]).into_bytes();
        }
        for redirect in redirects {
            match (redirect.fd, redirect.dup) {
                (1, Some(2)) => {
                    let out = std::mem::take(&mut r.stdout);
                    r.stderr.extend_from_slice(&out);
                }
                (2, Some(1)) => {
                    let err = std::mem::take(&mut r.stderr);
                    r.stdout.extend_from_slice(&err);
                }
                (1, None) => r.stdout.clear(),
                (2, None) => r.stderr.clear(),
                _ => {}
            }
        }
        self.out.stdout.extend_from_slice(&r.stdout);
        self.out.stderr.extend_from_slice(&r.stderr);
        self.out.exit_code = r.exit_code;
    }

    async fn expand_all(&mut self, words: &[Word]) -> Vec<String> {
        let mut out = Vec::new();
        for w in words {
            out.extend(self.expand(w).await);
        }
        out
    }

    /// Expand one word into fields (unquoted expansions split on whitespace).
    async fn expand(&mut self, word: &Word) -> Vec<String> {
        let mut fields: Vec<String> = Vec::new();
        let mut cur: Option<String> = None;
        for part in word {
            let (text, quoted) = match part {
                Part::Lit(s, q) => {
                    cur.get_or_insert_with(String::new).push_str(s);
                    let _ = q;
                    continue;
                }
                Part::Var(name, q) => (self.var(name), *q),
                Part::Subst(script, q) => (self.subst(script).await, *q),
            };
            if quoted {
                cur.get_or_insert_with(String::new).push_str(&text);
                continue;
            }
            let mut pieces = text.split_whitespace().peekable();
            if text.starts_with(char::is_whitespace) {
                if let Some(c) = cur.take() {
                    fields.push(c);
                }
            }
            while let Some(p) = pieces.next() {
                cur.get_or_insert_with(String::new).push_str(p);
                if pieces.peek().is_some() {
                    if let Some(c) = cur.take() {
                        fields.push(c);
                    }
                }
            }
            if text.ends_with(char::is_whitespace) {
                if let Some(c) = cur.take() {
                    fields.push(c);
                }
            }
        }
        if let Some(c) = cur {
            fields.push(c);
        }
        fields
    }

    fn var(&self, name: &str) -> String {
        if name == "?" {
            return self.out.exit_code.to_string();
        }
        self.vars.get(name).cloned().unwrap_or_default()
    }

    async fn subst(&mut self, script: &str) -> String {
        let r = run_sh(script, self.request, self.handler).await;
        self.out.stderr.extend_from_slice(&r.stderr);
        let s = String::from_utf8_lossy(&r.stdout).to_string();
        s.trim_end_matches('\n').to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kube::commands::DefaultExecHandler;
    use serde_json::json;

    async fn sh(script: &str) -> (String, String, i32) {
        let req = ExecRequest {
            pod: json!({"metadata": {"name": "p", "namespace": "default"}, "spec": {"containers": [{"name": "c"}]}}),
            container: "c".into(),
            command: vec![],
        };
        let out = run_sh(script, &req, &DefaultExecHandler).await;
        let s = |b: &[u8]| String::from_utf8_lossy(b).to_string();
        (s(&out.stdout), s(&out.stderr), out.exit_code)
    }

    #[tokio::test]
    async fn quoting_expansion_lists_and_loops() {
        assert_eq!(sh("echo 'a  b' \"c $HOSTNAME\" d\\ e").await.0, "a  b c p d e\n");
        assert_eq!(
            sh("X=1; echo ${HOSTNAME}-$?").await.0,
            "p-127\n",
            "assignments are not supported: X=1 is a command"
        );
        assert_eq!(sh("false && echo no || echo yes").await.0, "yes\n");
        assert_eq!(sh("for i in a $(seq 2 3); do echo $i; done").await.0, "a\n2\n3\n");
        assert_eq!(sh("echo one; exit 4; echo two").await, ("one\n".into(), String::new(), 4));
        assert_eq!(sh("echo 'unterminated").await.2, 2);
        assert_eq!(sh("echo a | cat").await.2, 2, "pipes are refused, not misread");
    }

    #[tokio::test]
    async fn redirections_move_or_drop_output() {
        assert_eq!(sh("echo err >&2").await, (String::new(), "err\n".into(), 0));
        assert_eq!(sh("cat /nope 2>&1").await.0, "cat: /nope: No such file or directory\n");
        assert_eq!(sh("cat /nope 2>/dev/null; echo $?").await, ("1\n".into(), String::new(), 0));
        assert_eq!(sh("echo hidden > /dev/null").await.0, "");
        assert_eq!(sh("echo >").await.2, 2);
    }
}
