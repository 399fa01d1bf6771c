//! Re-emits a token stream in canonical layout.
//!
//! The source is processed one *logical line* at a time: the tokens between
//! two newline tokens. A logical line may span several physical lines when it
//! contains a multi-line token (a heredoc, a quoted string with a line break,
//! a block comment); those tokens are copied verbatim (block comments are only
//! shifted along with their first line). Lines are never joined or split, so
//! only the whitespace *between* tokens and at the start of lines changes:
//!
//! - indentation: two spaces per open bracket level. All brackets opened on
//!   one line and still open at its end count as one level, and a line that
//!   starts with closing brackets goes back to the indentation of the line
//!   that opened the outermost of them (so `[{` … `}, {` … `}]` stays flat);
//! - one space around `=`, with the `=` of consecutive single-line attributes
//!   or object items in the same block/object aligned;
//! - block headers `type "label" {` with single spaces, one-line blocks as
//!   `name { attr = value }` or `name {}`;
//! - trailing comments separated by one space, aligned in runs of
//!   consecutive lines of the same block/object;
//! - whitespace runs containing tabs become a single space; other spacing
//!   inside expressions is kept as written;
//! - at most one blank line in a row, none at the start or end, no trailing
//!   whitespace, `\n` line endings, exactly one final newline.

use super::lexer::{Bracket, Kind, LexError, Token};

/// What goes between two tokens of a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Gap {
    /// The original whitespace, or one space if it contained tabs.
    Preserve,
    /// Exactly one space.
    Space,
    /// Nothing.
    Nothing,
    /// Padding up to the aligned `=` column.
    AlignEq,
    /// Padding up to the aligned trailing comment column.
    AlignComment,
}

/// Whether a bracket opens a block body or is part of an expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Body,
    Expr,
}

/// An open bracket on the nesting stack.
#[derive(Debug, Clone)]
struct OpenBracket {
    role: Role,
    /// The logical line on which it was opened.
    line: usize,
    /// Its position within that line's tokens.
    pos: usize,
    /// Indentation level of the lines inside.
    level: usize,
    /// Indentation level of a line starting with the closing bracket.
    close_indent: usize,
    /// Identifies the block/object/tuple, to keep alignment within one.
    id: usize,
}

/// One logical line.
#[derive(Debug, Clone)]
struct Line {
    /// Token indices, without the newline.
    toks: Vec<usize>,
    indent: usize,
    /// `gaps[k]` is the whitespace before `toks[k]` (`gaps[0]` is unused).
    gaps: Vec<Gap>,
    /// Position of the `=` to align, for single-line attributes/items.
    assign: Option<usize>,
    /// Whether the line ends with a comment that follows other tokens.
    comment_cell: bool,
    /// The block/object the line is in (0: top level).
    container: usize,
    /// Padding before the aligned `=`.
    eq_pad: usize,
    /// Padding before the aligned trailing comment.
    comment_pad: usize,
}

/// Lays out `tokens` (from `src`) canonically.
pub(crate) fn layout(src: &str, tokens: &[Token]) -> Result<String, LexError> {
    let mut lines = analyse(src, tokens)?;
    align_equals(src, tokens, &mut lines);
    align_comments(src, tokens, &mut lines);

    let mut out = String::with_capacity(src.len() + src.len() / 8);
    let mut pending_blank = false;
    for line in &lines {
        if line.toks.is_empty() {
            pending_blank = !out.is_empty();
            continue;
        }
        if pending_blank {
            out.push('\n');
            pending_blank = false;
        }
        render(src, tokens, line, line.toks.len(), &mut out);
        out.push('\n');
    }
    Ok(out)
}

/// Splits the tokens into logical lines and works out indentation, spacing
/// rules and alignment candidates.
fn analyse(src: &str, tokens: &[Token]) -> Result<Vec<Line>, LexError> {
    let mut raw_lines: Vec<Vec<usize>> = vec![Vec::new()];
    for (i, token) in tokens.iter().enumerate() {
        if token.kind == Kind::Newline {
            raw_lines.push(Vec::new());
        } else if let Some(last) = raw_lines.last_mut() {
            last.push(i);
        }
    }

    let unbalanced = |offset: usize| LexError { offset, message: "unbalanced brackets".to_owned() };

    let mut stack: Vec<OpenBracket> = Vec::new();
    let mut next_id = 1;
    let mut lines = Vec::with_capacity(raw_lines.len());

    for (li, toks) in raw_lines.into_iter().enumerate() {
        let n = toks.len();
        let tok = |k: usize| tokens[toks[k]];
        let mut gaps = vec![Gap::Preserve; n];

        // Leading closing brackets take the line back to the indentation of
        // the line that opened them.
        let mut k0 = 0;
        let mut leading_close_indent = None;
        while k0 < n && matches!(tok(k0).kind, Kind::Close(_)) {
            let open = stack.pop().ok_or_else(|| unbalanced(tok(k0).start))?;
            leading_close_indent = Some(open.close_indent);
            k0 += 1;
        }
        let indent = leading_close_indent.unwrap_or_else(|| stack.last().map_or(0, |o| o.level));
        let container = stack.last().map_or(0, |o| o.id);
        let role = stack.last().map_or(Role::Body, |o| o.role);

        // Block header: `type label… {` with single spaces.
        let mut block_brace = None;
        if role == Role::Body {
            let skip_comments = |mut k: usize| {
                while k < n && tok(k).kind == Kind::BlockComment {
                    k += 1;
                }
                k
            };
            let first = skip_comments(k0);
            let second = skip_comments(first + 1);
            if first < n
                && tok(first).kind == Kind::Word
                && second < n
                && tok(second).kind != Kind::Equal
            {
                let mut k = first + 1;
                while k < n && matches!(tok(k).kind, Kind::Word | Kind::Str | Kind::BlockComment) {
                    k += 1;
                }
                if k < n && tok(k).kind == Kind::Open(Bracket::Brace) {
                    block_brace = Some(k);
                    for gap in &mut gaps[first + 1..=k] {
                        *gap = Gap::Space;
                    }
                }
            }
        }

        // Brackets and `=`.
        let mut depth: isize = 0;
        let mut min_depth: isize = 0;
        let mut first_eq = None;
        for k in k0..n {
            match tok(k).kind {
                Kind::Open(_) => {
                    stack.push(OpenBracket {
                        role: if block_brace == Some(k) { Role::Body } else { Role::Expr },
                        line: li,
                        pos: k,
                        level: 0,
                        close_indent: 0,
                        id: next_id,
                    });
                    next_id += 1;
                    depth += 1;
                }
                Kind::Close(_) => {
                    let open = stack.pop().ok_or_else(|| unbalanced(tok(k).start))?;
                    if open.line == li && open.role == Role::Body {
                        // One-line block.
                        if open.pos + 1 == k {
                            gaps[k] = Gap::Nothing;
                        } else {
                            gaps[open.pos + 1] = Gap::Space;
                            gaps[k] = Gap::Space;
                        }
                    }
                    depth -= 1;
                    min_depth = min_depth.min(depth);
                }
                Kind::Equal => {
                    if k > 0 {
                        gaps[k] = Gap::Space;
                    }
                    if k + 1 < n {
                        gaps[k + 1] = Gap::Space;
                    }
                    if depth == 0 && first_eq.is_none() {
                        first_eq = Some(k);
                    }
                }
                _ => {}
            }
        }

        // Brackets opened here and still open: one indentation level for all.
        for open in stack.iter_mut().rev() {
            if open.line != li {
                break;
            }
            open.level = indent + 1;
            open.close_indent = indent;
        }

        let multiline = toks.iter().any(|&t| {
            let token = tokens[t];
            token.kind == Kind::Heredoc || token.is_multiline(src)
        });
        let assign = first_eq.filter(|&k| k > k0 && depth == 0 && min_depth == 0 && !multiline);
        let comment_cell = n >= 2 && tok(n - 1).is_comment();
        if comment_cell {
            gaps[n - 1] = if multiline { Gap::Space } else { Gap::AlignComment };
        }
        if let Some(k) = assign {
            gaps[k] = Gap::AlignEq;
        }

        lines.push(Line {
            toks,
            indent,
            gaps,
            assign,
            comment_cell: comment_cell && !multiline,
            container,
            eq_pad: 1,
            comment_pad: 1,
        });
    }

    if let Some(open) = stack.last() {
        return Err(unbalanced(tokens[lines[open.line].toks[open.pos]].start));
    }
    Ok(lines)
}

/// Calls `f` on each maximal run of consecutive lines for which `member`
/// holds and that share a container.
fn for_each_run(
    lines: &mut [Line],
    member: impl Fn(&Line) -> bool,
    mut f: impl FnMut(&mut [Line]),
) {
    let mut i = 0;
    while i < lines.len() {
        if !member(&lines[i]) {
            i += 1;
            continue;
        }
        let container = lines[i].container;
        let mut j = i + 1;
        while j < lines.len() && member(&lines[j]) && lines[j].container == container {
            j += 1;
        }
        f(&mut lines[i..j]);
        i = j;
    }
}

/// Aligns the `=` of consecutive single-line attributes/items.
fn align_equals(src: &str, tokens: &[Token], lines: &mut [Line]) {
    for_each_run(
        lines,
        |line| line.assign.is_some(),
        |run| {
            let widths: Vec<usize> = run
                .iter()
                .map(|line| rendered_width(src, tokens, line, line.assign.unwrap_or(0)))
                .collect();
            let max = widths.iter().copied().max().unwrap_or(0);
            for (line, width) in run.iter_mut().zip(widths) {
                line.eq_pad = max - width + 1;
            }
        },
    );
}

/// Aligns trailing comments of consecutive lines.
fn align_comments(src: &str, tokens: &[Token], lines: &mut [Line]) {
    for_each_run(
        lines,
        |line| line.comment_cell,
        |run| {
            let widths: Vec<usize> = run
                .iter()
                .map(|line| rendered_width(src, tokens, line, line.toks.len() - 1))
                .collect();
            let max = widths.iter().copied().max().unwrap_or(0);
            for (line, width) in run.iter_mut().zip(widths) {
                line.comment_pad = max - width + 1;
            }
        },
    );
}

/// The width in characters of the first `upto` tokens of a single-line line.
fn rendered_width(src: &str, tokens: &[Token], line: &Line, upto: usize) -> usize {
    let mut out = String::new();
    render(src, tokens, line, upto, &mut out);
    out.chars().count()
}

/// Appends the first `upto` tokens of `line`, indented, to `out`.
fn render(src: &str, tokens: &[Token], line: &Line, upto: usize, out: &mut String) {
    let line_start = out.len();
    for _ in 0..line.indent {
        out.push_str("  ");
    }
    for k in 0..upto {
        let token = tokens[line.toks[k]];
        if k > 0 {
            let prev = tokens[line.toks[k - 1]];
            match line.gaps[k] {
                Gap::Preserve => {
                    let ws = &src[prev.end..token.start];
                    if ws.bytes().all(|b| b == b' ') {
                        out.push_str(ws);
                    } else {
                        out.push(' ');
                    }
                }
                Gap::Space => out.push(' '),
                Gap::Nothing => {}
                Gap::AlignEq => push_spaces(out, line.eq_pad),
                Gap::AlignComment => push_spaces(out, line.comment_pad),
            }
        }
        let column = if token.kind == Kind::BlockComment {
            out[line_start..].rsplit('\n').next().map_or(0, |l| l.chars().count())
        } else {
            0
        };
        push_token(src, token, column, out);
    }
}

fn push_spaces(out: &mut String, n: usize) {
    out.extend(std::iter::repeat_n(' ', n));
}

/// Appends a token's text, starting at output column `column`.
fn push_token(src: &str, token: Token, column: usize, out: &mut String) {
    let text = token.text(src);
    match token.kind {
        Kind::LineComment => out.push_str(text.trim_end_matches([' ', '\t', '\r'])),
        Kind::BlockComment if text.contains('\n') => {
            // Keep the comment's shape: shift its continuation lines by as
            // much as its first line moved.
            let line_start = src[..token.start].rfind('\n').map_or(0, |i| i + 1);
            let old_column = src[line_start..token.start].chars().count();
            let mut parts = text.split('\n');
            if let Some(first) = parts.next() {
                out.push_str(first.trim_end_matches([' ', '\t', '\r']));
            }
            for part in parts {
                out.push('\n');
                let part = part.trim_end_matches([' ', '\t', '\r']);
                if part.is_empty() {
                    continue;
                }
                if column >= old_column {
                    push_spaces(out, column - old_column);
                    out.push_str(part);
                } else {
                    let removable = part.len() - part.trim_start_matches([' ', '\t']).len();
                    out.push_str(&part[removable.min(old_column - column)..]);
                }
            }
        }
        Kind::Heredoc => {
            // The line ending after `<<DELIM` is not part of the content.
            match text.find("\r\n") {
                Some(i) if !text[..i].contains('\n') => {
                    out.push_str(&text[..i]);
                    out.push_str(&text[i + 1..]);
                }
                _ => out.push_str(text),
            }
        }
        _ => out.push_str(text),
    }
}
