//! Diagnostics: an error or warning with a code, an optional labelled source span and a help line.
//!
//! [`Diagnostic`] implements `miette::Diagnostic`, so the CLI renders it with file, line and column and
//! the offending text underlined. Libraries collect them in [`Diagnostics`] and never stop at the first.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use miette::{LabeledSpan, NamedSource, SourceCode};

/// One configuration file's text, shared by every span pointing into it.
#[derive(Debug)]
pub struct SourceFile {
    /// The path as the user should see it (relative to the configuration directory when possible).
    pub name: String,
    pub text: String,
    named: NamedSource<String>,
}

impl SourceFile {
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Arc<SourceFile> {
        let name = name.into();
        let text = text.into();
        let named = NamedSource::new(name.clone(), text.clone());
        Arc::new(SourceFile { name, text, named })
    }

    /// 1-based line and column of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let before = &self.text[..floor_char_boundary(&self.text, offset)];
        let line = before.matches('\n').count() + 1;
        let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        (line, col)
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// A byte range in a source file.
#[derive(Clone)]
pub struct Span {
    pub file: Arc<SourceFile>,
    pub range: Range<usize>,
}

impl Span {
    pub fn new(file: &Arc<SourceFile>, range: Range<usize>) -> Span {
        Span { file: Arc::clone(file), range }
    }

    /// `file:line:column`.
    pub fn location(&self) -> String {
        let (l, c) = self.file.line_col(self.range.start);
        format!("{}:{l}:{c}", self.file.name)
    }

    /// The source text covered by the span.
    pub fn text(&self) -> &str {
        self.file.text.get(self.range.clone()).unwrap_or("")
    }
}

impl fmt::Debug for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.location())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Error,
}

/// An error or warning, about configuration (with a span) or about an operation (without one).
#[derive(Clone, Debug)]
pub struct Diagnostic {
    pub severity: Severity,
    /// A stable code, e.g. `meshform::config::unknown_reference`.
    pub code: String,
    /// One line saying what is wrong.
    pub summary: String,
    /// More detail, when useful.
    pub detail: Option<String>,
    pub span: Option<Span>,
    /// The label under the span.
    pub label: Option<String>,
    /// What to do next.
    pub help: Option<String>,
    /// The resource or object the diagnostic is about, when there is one.
    pub subject: Option<String>,
}

/// The longest source line a report shows. miette pads a label to its column with a format
/// width, which Rust limits to 65,535: a label farther into a line would panic, and such a line
/// (minified or generated) is unreadable anyway. The location is still given.
const MAX_SHOWN_LINE: usize = 4096;

impl Diagnostic {
    /// The span, when the lines it is on are short enough to show.
    fn shown_span(&self) -> Option<&Span> {
        let span = self.span.as_ref()?;
        let bytes = span.file.text.as_bytes();
        let start = span.range.start.min(bytes.len());
        let end = span.range.end.clamp(start, bytes.len());
        let line_start = bytes[..start].iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let line_end =
            bytes[end..].iter().position(|&b| b == b'\n').map_or(bytes.len(), |i| end + i);
        let lines = bytes[line_start..line_end].split(|&b| b == b'\n');
        (lines.map(<[u8]>::len).max().unwrap_or(0) <= MAX_SHOWN_LINE).then_some(span)
    }

    pub fn error(code: &str, summary: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            code: code.to_owned(),
            summary: summary.into(),
            detail: None,
            span: None,
            label: None,
            help: None,
            subject: None,
        }
    }

    pub fn warning(code: &str, summary: impl Into<String>) -> Diagnostic {
        Diagnostic { severity: Severity::Warning, ..Diagnostic::error(code, summary) }
    }

    pub fn with_span(mut self, span: Span, label: impl Into<String>) -> Diagnostic {
        self.span = Some(span);
        self.label = Some(label.into());
        self
    }

    pub fn with_opt_span(self, span: Option<Span>, label: impl Into<String>) -> Diagnostic {
        match span {
            Some(s) => self.with_span(s, label),
            None => self,
        }
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    pub fn with_detail(mut self, detail: impl Into<String>) -> Diagnostic {
        self.detail = Some(detail.into());
        self
    }

    pub fn with_subject(mut self, subject: impl Into<String>) -> Diagnostic {
        self.subject = Some(subject.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// A stable JSON rendering (what `--json` prints).
    pub fn to_json(&self) -> serde_json::Value {
        let range = self.span.as_ref().map(|s| {
            let (sl, sc) = s.file.line_col(s.range.start);
            let (el, ec) = s.file.line_col(s.range.end);
            serde_json::json!({
                "filename": s.file.name,
                "start": { "line": sl, "column": sc, "byte": s.range.start },
                "end": { "line": el, "column": ec, "byte": s.range.end },
            })
        });
        serde_json::json!({
            "severity": self.severity,
            "code": self.code,
            "summary": self.summary,
            "detail": self.detail,
            "label": self.label,
            "help": self.help,
            "address": self.subject,
            "range": range,
        })
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(subject) = &self.subject {
            write!(f, "{subject}: ")?;
        }
        f.write_str(&self.summary)?;
        if let Some(d) = &self.detail {
            write!(f, "\n{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostic {}

impl miette::Diagnostic for Diagnostic {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(&self.code))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help.as_ref().map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        self.shown_span().map(|s| &s.file.named as &dyn SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let span = self.shown_span()?;
        let len = span.range.end.saturating_sub(span.range.start);
        Some(Box::new(std::iter::once(LabeledSpan::new(self.label.clone(), span.range.start, len))))
    }
}

/// The diagnostics of one run, errors and warnings together.
#[derive(Clone, Debug, Default)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    pub fn push(&mut self, d: Diagnostic) {
        self.0.push(d);
    }

    pub fn extend(&mut self, other: Diagnostics) {
        self.0.extend(other.0);
    }

    pub fn has_errors(&self) -> bool {
        self.0.iter().any(Diagnostic::is_error)
    }

    pub fn error_count(&self) -> usize {
        self.0.iter().filter(|d| d.is_error()).count()
    }

    pub fn warning_count(&self) -> usize {
        self.0.len() - self.error_count()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.0.iter()
    }

    /// Sorts by file and position so that output is deterministic.
    pub fn sort(&mut self) {
        self.0.sort_by(|a, b| {
            let key = |d: &Diagnostic| {
                d.span.as_ref().map(|s| (s.file.name.clone(), s.range.start)).unwrap_or_default()
            };
            key(a).cmp(&key(b))
        });
    }
}

impl From<Diagnostic> for Diagnostics {
    fn from(d: Diagnostic) -> Diagnostics {
        Diagnostics(vec![d])
    }
}

impl IntoIterator for Diagnostics {
    type Item = Diagnostic;
    type IntoIter = std::vec::IntoIter<Diagnostic>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_are_one_based() {
        let f = SourceFile::new("main.hcl", "a = 1\nbé = 2\n");
        assert_eq!(f.line_col(0), (1, 1));
        assert_eq!(f.line_col(6), (2, 1));
        assert_eq!(f.line_col(9), (2, 3));
        assert_eq!(Span::new(&f, 6..8).location(), "main.hcl:2:1");
    }
}
