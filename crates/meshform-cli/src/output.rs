//! The one place that writes text to standard output and standard error: commands print results
//! through [`Output`]. (The `--json` reporter writes its lines itself, under its own lock.)

use std::fmt::Display;
use std::io::Write;

/// The terminal streams a command writes to: results on stdout, messages on stderr.
///
/// A write that fails (a closed pipe: `meshform sandbox status | head`) is dropped, never a panic and
/// never a reason to stop: an apply whose output nobody reads any more still finishes and saves state.
#[derive(Clone, Copy, Debug, Default)]
pub struct Output;

impl Output {
    /// Writes `text` to stdout as it is.
    pub fn print(&self, text: impl Display) {
        let _ = write!(std::io::stdout().lock(), "{text}");
    }

    /// Writes `text` and a newline to stdout.
    pub fn line(&self, text: impl Display) {
        let _ = writeln!(std::io::stdout().lock(), "{text}");
    }

    /// Writes an empty line to stdout.
    pub fn blank(&self) {
        let _ = writeln!(std::io::stdout().lock());
    }

    /// Flushes stdout (before reading an answer to a prompt).
    pub fn flush(&self) {
        let _ = std::io::stdout().flush();
    }

    /// Writes `text` to stderr as it is.
    pub fn eprint(&self, text: impl Display) {
        let _ = write!(std::io::stderr().lock(), "{text}");
    }

    /// Writes `text` and a newline to stderr.
    pub fn eline(&self, text: impl Display) {
        let _ = writeln!(std::io::stderr().lock(), "{text}");
    }
}
