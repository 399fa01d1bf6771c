//! The one place that writes text to standard output and standard error: commands print results
//! through [`Output`], so this file holds the crate's only `print_stdout`/`print_stderr` allowance.
//! (The `--json` reporter writes its lines itself, under its own lock.)

use std::fmt::Display;
use std::io::Write;

/// The terminal streams a command writes to: results on stdout, messages on stderr.
#[derive(Clone, Copy, Debug, Default)]
pub struct Output;

#[allow(clippy::print_stdout, clippy::print_stderr)]
impl Output {
    /// Writes `text` to stdout as it is.
    pub fn print(&self, text: impl Display) {
        print!("{text}");
    }

    /// Writes `text` and a newline to stdout.
    pub fn line(&self, text: impl Display) {
        println!("{text}");
    }

    /// Writes an empty line to stdout.
    pub fn blank(&self) {
        println!();
    }

    /// Flushes stdout (before reading an answer to a prompt).
    pub fn flush(&self) {
        let _ = std::io::stdout().flush();
    }

    /// Writes `text` to stderr as it is.
    pub fn eprint(&self, text: impl Display) {
        eprint!("{text}");
    }

    /// Writes `text` and a newline to stderr.
    pub fn eline(&self, text: impl Display) {
        eprintln!("{text}");
    }
}
