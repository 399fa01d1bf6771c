//! Canonical formatting of HCL source (`meshform fmt`).
//!
//! [`format_source`] rewrites a file in the layout `terraform fmt` produces:
//!
//! - two spaces of indentation per nesting level (blocks, objects, tuples,
//!   parentheses), with comments re-indented along with the code. Brackets
//!   opened together on one line (`merge(a, {`, `[{`) count as one level, and
//!   a line starting with closing brackets goes back to the indentation of the
//!   line that opened them, so `[{ … }, { … }]` stays flat;
//! - one space around `=`; the `=` of consecutive single-line attributes in a
//!   block (or items in a multi-line object) are aligned in one column, a run
//!   being broken by a blank line, a comment-only line, a nested block or a
//!   multi-line value (object items written with `:` are left as they are);
//! - block headers as `type "label" "label" {`, one-line blocks as
//!   `name { attr = value }` / `name {}`;
//! - trailing comments one space after the code, aligned on consecutive lines
//!   of the same block or object; multi-line `/* */` comments move with their
//!   first line;
//! - at most one blank line in a row and none at the start or end, no trailing
//!   whitespace, `\n` line endings and exactly one final newline (an empty
//!   file stays empty).
//!
//! Everything else is left as written: the contents of strings, templates and
//! heredocs (byte for byte, including `\r\n` line endings, which are part of
//! the value, and a heredoc's closing delimiter line), the order and spacing
//! of expression tokens (except that whitespace containing tabs becomes one
//! space), and where lines break.
//!
//! The formatter works on tokens rather than on a syntax tree, so it only ever
//! changes whitespace. Its input is first parsed with `hcl-edit` (syntax errors
//! are reported as [`FormatError`]), and its output is parsed again and
//! compared with the input's [`hcl::Body`], so it never returns a file that
//! means something else: should the two ever disagree, that is reported as an
//! internal [`FormatError`] instead.

mod layout;
mod lexer;

use similar::TextDiff;

/// Why a file could not be formatted: a syntax error, with its position.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{line}:{column}: {message}")]
pub struct FormatError {
    /// One-based line number.
    pub line: usize,
    /// One-based column number (in characters).
    pub column: usize,
    /// Zero-based byte offset into the source.
    pub offset: usize,
    /// What went wrong.
    pub message: String,
}

impl FormatError {
    fn from_parse(err: &hcl::edit::parser::Error) -> Self {
        let location = err.location();
        FormatError {
            line: location.line(),
            column: location.column(),
            offset: location.offset(),
            message: err.message().to_owned(),
        }
    }

    /// An error at byte `offset` of `source`.
    fn at(source: &str, offset: usize, message: String) -> Self {
        let offset = offset.min(source.len());
        let before = source.get(..offset).unwrap_or(source);
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        FormatError {
            line: before.matches('\n').count() + 1,
            column: before[line_start..].chars().count() + 1,
            offset,
            message,
        }
    }
}

/// Returns `source` in canonical layout.
///
/// An empty (or whitespace-only) file formats to the empty string; anything
/// else ends with exactly one newline.
///
/// # Errors
///
/// Returns a [`FormatError`] when `source` is not valid HCL.
pub fn format_source(source: &str) -> Result<String, FormatError> {
    let original: hcl::Body =
        hcl::edit::parser::parse_body(source).map_err(|err| FormatError::from_parse(&err))?.into();

    let internal = |offset: usize, what: &str| {
        FormatError::at(
            source,
            offset,
            format!("internal formatter error: {what}; the file was left unformatted"),
        )
    };

    let tokens = lexer::tokenize(source).map_err(|err| internal(err.offset, &err.message))?;
    let formatted =
        layout::layout(source, &tokens).map_err(|err| internal(err.offset, &err.message))?;

    // Never change meaning: the result must parse to the same body.
    match hcl::edit::parser::parse_body(&formatted).map(hcl::Body::from) {
        Ok(body) if body == original => Ok(formatted),
        Ok(_) => Err(internal(0, "formatting would change the configuration")),
        Err(err) => {
            Err(internal(0, &format!("formatted output does not parse ({})", err.message())))
        }
    }
}

/// A unified diff between `old` and `new`, with `old/<name>` and `new/<name>`
/// in the headers and three lines of context, as shown by `fmt --diff`.
///
/// Returns an empty string when the texts are equal.
pub fn unified_diff(name: &str, old: &str, new: &str) -> String {
    if old == new {
        return String::new();
    }
    TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(&format!("old/{name}"), &format!("new/{name}"))
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unified_diff_of_equal_texts_is_empty() {
        assert_eq!(unified_diff("main.tf", "a = 1\n", "a = 1\n"), "");
    }

    #[test]
    fn unified_diff_has_headers_and_hunks() {
        let old = "a=1\nb = 2\n";
        let new = "a = 1\nb = 2\n";
        let diff = unified_diff("main.tf", old, new);
        assert_eq!(
            diff,
            "--- old/main.tf\n+++ new/main.tf\n@@ -1,2 +1,2 @@\n-a=1\n+a = 1\n b = 2\n"
        );
    }

    #[test]
    fn unified_diff_keeps_context_small() {
        let old: String = (0..20).map(|i| format!("l{i} = {i}\n")).collect();
        let new = old.replace("l10 = 10", "l10 = 100");
        let diff = unified_diff("x.hcl", &old, &new);
        assert!(diff.contains("@@ -8,7 +8,7 @@"), "{diff}");
        assert!(!diff.contains("l0 = 0"));
        assert!(diff.contains("-l10 = 10\n+l10 = 100\n"));
    }

    #[test]
    fn unified_diff_marks_missing_final_newline() {
        let diff = unified_diff("x.hcl", "a = 1", "a = 1\n");
        assert!(diff.starts_with("--- old/x.hcl\n+++ new/x.hcl\n"), "{diff}");
        assert!(diff.contains("No newline at end of file"), "{diff}");
    }
}
