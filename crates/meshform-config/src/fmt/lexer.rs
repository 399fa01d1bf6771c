//! A token scanner for HCL native syntax, used by the formatter.
//!
//! The scanner only needs to be precise about the things that matter for
//! layout: newlines, comments, brackets, the `=` separator and the extent of
//! quoted strings and heredocs (which are returned as single opaque tokens, so
//! their contents are never touched). Everything else (identifiers, numbers,
//! operators) is split coarsely; its exact tokenisation does not influence the
//! output because the formatter never rewrites it.
//!
//! The scanner runs only on input that `hcl-edit` has already accepted, so it
//! can follow the same rules without reporting syntax errors in detail; a
//! [`LexError`] means the two disagree, which the formatter reports as an
//! internal error instead of producing a broken file.

/// A kind of bracket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Bracket {
    /// `{` / `}`
    Brace,
    /// `[` / `]`
    Square,
    /// `(` / `)`
    Paren,
}

/// What a token is, as far as layout is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `\n` or `\r\n`.
    Newline,
    /// `# …` or `// …`, without the line ending.
    LineComment,
    /// `/* … */`, possibly spanning lines.
    BlockComment,
    /// An identifier, keyword or number (or a piece of one).
    Word,
    /// A quoted string template, including all nested interpolations.
    Str,
    /// A heredoc, from `<<` up to and including the closing delimiter.
    Heredoc,
    /// An opening bracket.
    Open(Bracket),
    /// A closing bracket.
    Close(Bracket),
    /// A lone `=` (attribute or object item separator).
    Equal,
    /// Any other operator or punctuation.
    Punct,
}

/// A token: its kind and byte range in the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Token {
    pub(crate) kind: Kind,
    pub(crate) start: usize,
    pub(crate) end: usize,
}

impl Token {
    /// The token's source text.
    pub(crate) fn text<'a>(&self, src: &'a str) -> &'a str {
        &src[self.start..self.end]
    }

    /// Whether the token's text spans more than one line.
    pub(crate) fn is_multiline(&self, src: &str) -> bool {
        self.kind != Kind::Newline && self.text(src).contains('\n')
    }

    /// Whether the token is a comment.
    pub(crate) fn is_comment(&self) -> bool {
        matches!(self.kind, Kind::LineComment | Kind::BlockComment)
    }
}

/// The scanner and the parser disagree about the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LexError {
    pub(crate) offset: usize,
    pub(crate) message: String,
}

/// Splits `src` into tokens. Whitespace other than newlines is skipped.
pub(crate) fn tokenize(src: &str) -> Result<Vec<Token>, LexError> {
    let mut lexer = Lexer { src, pos: 0 };
    let mut tokens = Vec::new();
    while let Some(token) = lexer.next_token()? {
        tokens.push(token);
    }
    Ok(tokens)
}

/// Whether `c` may start an identifier.
pub(crate) fn is_id_start(c: char) -> bool {
    c == '_' || c.is_alphabetic()
}

/// Whether `c` may continue an identifier.
pub(crate) fn is_id_continue(c: char) -> bool {
    c == '_' || c == '-' || c.is_alphanumeric()
}

/// Characters that make up words: anything that is not whitespace or ASCII
/// punctuation with a meaning of its own.
fn is_word_char(c: char) -> bool {
    !c.is_ascii() || c.is_ascii_alphanumeric() || c == '_'
}

struct Lexer<'a> {
    src: &'a str,
    pos: usize,
}

impl<'a> Lexer<'a> {
    fn rest(&self) -> &'a str {
        &self.src[self.pos..]
    }

    fn peek_char(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn error(&self, message: impl Into<String>) -> LexError {
        LexError { offset: self.pos, message: message.into() }
    }

    /// Returns the next token, skipping spaces, tabs and lone carriage returns.
    fn next_token(&mut self) -> Result<Option<Token>, LexError> {
        loop {
            let rest = self.rest();
            let Some(c) = rest.chars().next() else {
                return Ok(None);
            };
            if c == ' ' || c == '\t' || (c == '\r' && !rest.starts_with("\r\n")) {
                self.pos += 1;
                continue;
            }
            let start = self.pos;
            let kind = self.scan(c)?;
            return Ok(Some(Token { kind, start, end: self.pos }));
        }
    }

    /// Scans one token starting with `c` at the current position.
    fn scan(&mut self, c: char) -> Result<Kind, LexError> {
        let rest = self.rest();
        let kind = match c {
            '\n' => {
                self.pos += 1;
                Kind::Newline
            }
            '\r' => {
                // Only reached for "\r\n".
                self.pos += 2;
                Kind::Newline
            }
            '#' => {
                self.skip_to_line_end();
                Kind::LineComment
            }
            '/' if rest.starts_with("//") => {
                self.skip_to_line_end();
                Kind::LineComment
            }
            '/' if rest.starts_with("/*") => {
                let Some(len) = rest[2..].find("*/") else {
                    return Err(self.error("unterminated comment"));
                };
                self.pos += 2 + len + 2;
                Kind::BlockComment
            }
            '"' => {
                self.pos += 1;
                self.scan_template(TemplateEnd::Quote)?;
                Kind::Str
            }
            '<' if starts_heredoc(rest) => {
                self.scan_heredoc()?;
                Kind::Heredoc
            }
            '{' | '[' | '(' => {
                self.pos += 1;
                Kind::Open(bracket(c))
            }
            '}' | ']' | ')' => {
                self.pos += 1;
                Kind::Close(bracket(c))
            }
            '=' => {
                if rest.starts_with("==") || rest.starts_with("=>") {
                    self.pos += 2;
                    Kind::Punct
                } else {
                    self.pos += 1;
                    Kind::Equal
                }
            }
            _ if is_word_char(c) => {
                let len = rest
                    .char_indices()
                    .find(|&(_, c)| !(is_word_char(c) || c == '-'))
                    .map_or(rest.len(), |(i, _)| i);
                self.pos += len;
                Kind::Word
            }
            _ => {
                let len = ["...", "!=", "<=", ">=", "&&", "||", "::"]
                    .iter()
                    .find(|op| rest.starts_with(**op))
                    .map_or(c.len_utf8(), |op| op.len());
                self.pos += len;
                Kind::Punct
            }
        };
        Ok(kind)
    }

    /// Advances to the line ending (`\n` or `\r\n`) or the end of input.
    fn skip_to_line_end(&mut self) {
        let rest = self.rest();
        let mut end = rest.find('\n').unwrap_or(rest.len());
        if end > 0 && rest.as_bytes()[end - 1] == b'\r' && end < rest.len() {
            end -= 1;
        }
        self.pos += end;
    }

    /// Scans a template after its opening `"` or heredoc line, up to and
    /// including its end: the closing `"`, or the heredoc's delimiter line.
    ///
    /// Like hcl-edit, the body of an `%{ if }` / `%{ for }` directive is a
    /// template that only ends at its `%{ endif }` / `%{ endfor }`: inside it,
    /// neither a `"` nor a heredoc delimiter line ends the outer template, and
    /// backslashes are not escapes.
    fn scan_template(&mut self, end: TemplateEnd<'_>) -> Result<(), LexError> {
        let mut directives = 0usize;
        loop {
            let rest = self.rest();
            let Some(c) = rest.chars().next() else {
                return Err(self.error("unterminated template"));
            };
            if directives == 0 {
                match end {
                    TemplateEnd::Quote if c == '"' => {
                        self.pos += 1;
                        return Ok(());
                    }
                    TemplateEnd::Quote if c == '\\' => {
                        self.pos += 1;
                        match self.peek_char() {
                            Some(c) => self.pos += c.len_utf8(),
                            None => return Err(self.error("unterminated string")),
                        }
                        continue;
                    }
                    TemplateEnd::Heredoc(delim) => {
                        if let Some(eol) = line_ending_len(rest) {
                            if let Some(len) = closing_delimiter_len(&rest[eol..], delim) {
                                self.pos += eol + len;
                                return Ok(());
                            }
                        }
                    }
                    TemplateEnd::Quote => {}
                }
            }
            if rest.starts_with("$${") || rest.starts_with("%%{") {
                self.pos += 3;
            } else if rest.starts_with("${") {
                self.pos += 2;
                self.scan_until_close_brace()?;
            } else if let Some(after) = rest.strip_prefix("%{") {
                let keyword = after
                    .strip_prefix('~')
                    .unwrap_or(after)
                    .trim_start_matches([' ', '\t', '\r', '\n']);
                if keyword.starts_with("if") || keyword.starts_with("for") {
                    directives += 1;
                } else if keyword.starts_with("endif") || keyword.starts_with("endfor") {
                    directives = directives.saturating_sub(1);
                }
                self.pos += 2;
                self.scan_until_close_brace()?;
            } else {
                self.pos += c.len_utf8();
            }
        }
    }

    /// Scans expression tokens up to and including the `}` that closes an
    /// interpolation or directive.
    fn scan_until_close_brace(&mut self) -> Result<(), LexError> {
        let mut depth = 0usize;
        loop {
            let Some(token) = self.next_token()? else {
                return Err(self.error("unterminated template interpolation"));
            };
            match token.kind {
                Kind::Open(Bracket::Brace) => depth += 1,
                Kind::Close(Bracket::Brace) => {
                    if depth == 0 {
                        return Ok(());
                    }
                    depth -= 1;
                }
                _ => {}
            }
        }
    }

    /// Scans a heredoc starting at `<<`, up to and including the closing
    /// delimiter.
    fn scan_heredoc(&mut self) -> Result<(), LexError> {
        self.pos += 2;
        if self.rest().starts_with('-') {
            self.pos += 1;
        }
        let rest = self.rest();
        let delim_len = match rest.chars().next() {
            Some(c) if is_id_start(c) => rest
                .char_indices()
                .find(|&(_, c)| !is_id_continue(c))
                .map_or(rest.len(), |(i, _)| i),
            _ => return Err(self.error("expected heredoc delimiter")),
        };
        let delim = &rest[..delim_len];
        self.pos += delim_len;
        let Some(eol) = line_ending_len(self.rest()) else {
            return Err(self.error("expected newline after heredoc delimiter"));
        };
        self.pos += eol;
        // Like hcl-edit, look for the closing delimiter only after a line
        // ending inside the heredoc: a delimiter right after the opening line
        // is content, unless no later delimiter line ends the heredoc (then
        // the heredoc is empty).
        let content_start = self.pos;
        match self.scan_template(TemplateEnd::Heredoc(delim)) {
            Ok(()) => Ok(()),
            Err(err) => {
                self.pos = content_start;
                match closing_delimiter_len(self.rest(), delim) {
                    Some(len) => {
                        self.pos += len;
                        Ok(())
                    }
                    None => Err(err),
                }
            }
        }
    }
}

/// What ends a template.
#[derive(Debug, Clone, Copy)]
enum TemplateEnd<'a> {
    /// A quoted string's closing `"`.
    Quote,
    /// A heredoc's delimiter line.
    Heredoc(&'a str),
}

/// Whether `s` starts with `<<` or `<<-` followed by an identifier. (In
/// `a <<<EOT`, the first `<` is an operator.)
fn starts_heredoc(s: &str) -> bool {
    let Some(after) = s.strip_prefix("<<") else {
        return false;
    };
    let after = after.strip_prefix('-').unwrap_or(after);
    after.chars().next().is_some_and(is_id_start)
}

fn bracket(c: char) -> Bracket {
    match c {
        '{' | '}' => Bracket::Brace,
        '[' | ']' => Bracket::Square,
        _ => Bracket::Paren,
    }
}

/// The length of the line ending at the start of `s`, if any.
fn line_ending_len(s: &str) -> Option<usize> {
    if s.starts_with('\n') {
        Some(1)
    } else if s.starts_with("\r\n") {
        Some(2)
    } else {
        None
    }
}

/// If `s` starts with optional spaces/tabs and then `delim` not followed by an
/// identifier character, the length of that prefix.
fn closing_delimiter_len(s: &str, delim: &str) -> Option<usize> {
    let indent = s.len() - s.trim_start_matches([' ', '\t']).len();
    let after = s[indent..].strip_prefix(delim)?;
    match after.chars().next() {
        Some(c) if is_id_continue(c) => None,
        _ => Some(indent + delim.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<(Kind, &str)> {
        tokenize(src).unwrap().into_iter().map(|t| (t.kind, t.text(src))).collect()
    }

    #[test]
    fn attribute_and_comment() {
        assert_eq!(
            kinds("a = 1 # c\r\n"),
            vec![
                (Kind::Word, "a"),
                (Kind::Equal, "="),
                (Kind::Word, "1"),
                (Kind::LineComment, "# c"),
                (Kind::Newline, "\r\n"),
            ]
        );
    }

    #[test]
    fn operators_are_not_equals() {
        let toks = kinds("a == b != c <= d >= e => f");
        assert!(toks.iter().all(|(k, _)| *k != Kind::Equal));
    }

    #[test]
    fn strings_are_opaque() {
        let src = r#"x = "a ${ {b = "}"}["b"] } \" %{ if c }{%{ endif } $${" "#;
        let toks = kinds(src);
        assert_eq!(toks.len(), 3);
        assert_eq!(toks[2].0, Kind::Str);
        assert_eq!(toks[2].1, &src[4..src.len() - 1]);
    }

    #[test]
    fn heredocs_are_opaque() {
        let src = "x = <<-EOT\n  a = {\n  ${ \"EOT\" }\n  EOTX\n  EOT\ny = 1\n";
        let toks = kinds(src);
        assert_eq!(toks[2].0, Kind::Heredoc);
        assert!(toks[2].1.ends_with("\n  EOT"));
        assert_eq!(toks[3].0, Kind::Newline);
        assert_eq!(toks[4], (Kind::Word, "y"));
    }

    #[test]
    fn less_than_before_heredoc() {
        let toks = kinds("x = a <<<EOT\nb\nEOT\n");
        assert_eq!(toks[3], (Kind::Punct, "<"));
        assert_eq!(toks[4], (Kind::Heredoc, "<<EOT\nb\nEOT"));
    }

    #[test]
    fn directive_bodies_do_not_end_templates() {
        let src =
            "x = <<EOT\n%{ if a }\nEOT\n\"\\%{ endif }\nEOT\ny = \"%{~for v in b}\"\\%{endfor}\"\n";
        let toks = kinds(src);
        assert_eq!(toks[2].0, Kind::Heredoc);
        assert!(toks[2].1.ends_with("%{ endif }\nEOT"), "{toks:?}");
        assert_eq!(toks[6].0, Kind::Str);
        assert_eq!(toks[6].1, "\"%{~for v in b}\"\\%{endfor}\"");
    }

    #[test]
    fn heredoc_delimiter_right_after_opening_line() {
        // Content, when a later delimiter line ends the heredoc…
        let toks = kinds("x = <<A\nA\nb\nA\n");
        assert_eq!(toks[2], (Kind::Heredoc, "<<A\nA\nb\nA"));
        // …otherwise the end of an empty heredoc.
        let toks = kinds("x = [<<A\nA\n, 1]\n");
        assert_eq!(toks[3], (Kind::Heredoc, "<<A\nA"));
        assert_eq!(toks[5], (Kind::Punct, ","));
    }

    #[test]
    fn block_comment_spans_lines() {
        let toks = kinds("/* a\n b */ x");
        assert_eq!(toks[0], (Kind::BlockComment, "/* a\n b */"));
        assert_eq!(toks[1], (Kind::Word, "x"));
    }

    #[test]
    fn unterminated_input_is_an_error() {
        assert!(tokenize("x = \"abc").is_err());
        assert!(tokenize("x = <<EOT\nabc\n").is_err());
        assert!(tokenize("/* abc").is_err());
        assert!(tokenize("x = \"${ a \"").is_err());
    }
}
