//! Diagnostics and errors at the edge: miette reports on stderr, JSON when asked, exit codes.

use meshform_core::{Diagnostic, Diagnostics};
use meshform_engine::ops::PlanError;
use meshform_state::StateError;

use crate::output::Output;
use crate::settings::Settings;

/// Exit codes (see docs/cli.md).
pub mod exit {
    pub const OK: u8 = 0;
    pub const ERROR: u8 = 1;
    pub const CHANGES: u8 = 2;
    pub const UNFORMATTED: u8 = 3;
}

fn handler(color: bool) -> miette::GraphicalReportHandler {
    let theme = if color {
        miette::GraphicalTheme::unicode()
    } else {
        miette::GraphicalTheme::unicode_nocolor()
    };
    // Wrap at spaces only: a command in a help line (`meshform force-unlock ID`) must stay copyable.
    miette::GraphicalReportHandler::new_themed(theme)
        .with_width(110)
        .with_word_splitter(textwrap::WordSplitter::NoHyphenation)
}

/// Renders one diagnostic as a miette report (file:line:column, the span labelled, help).
pub fn render_diagnostic(settings: &Settings, d: &Diagnostic) -> String {
    render(settings.color_stderr, d)
}

fn render(color: bool, d: &Diagnostic) -> String {
    let mut out = String::new();
    if handler(color).render_report(&mut out, d).is_err() {
        out = format!("{d}\n");
    }
    if let Some(span) = &d.span {
        // The graphical report shows the location inside its frame; keep a greppable line too.
        let loc = span.location();
        if !out.contains(&loc) {
            out = format!("{loc}: {out}");
        }
    }
    out
}

/// Prints every diagnostic to stderr.
pub fn print_diagnostics(settings: &Settings, diags: &Diagnostics) {
    for d in diags.iter() {
        Output.eprint(render_diagnostic(settings, d));
    }
}

/// Prints a one-off error (no span) to stderr.
pub fn print_error(settings: &Settings, message: &str, help: Option<&str>) {
    let mut d = Diagnostic::error("meshform::error", message);
    if let Some(h) = help {
        d = d.with_help(h);
    }
    print_diagnostics(settings, &Diagnostics(vec![d]));
}

/// A state error as a diagnostic, with what to do next.
pub fn state_diagnostic(e: &StateError) -> Diagnostic {
    let help = match e {
        StateError::Locked { info, .. } => format!(
            "wait for that run to finish, retry with --lock-timeout=5m, or if it was killed: meshform force-unlock {}",
            info.id
        ),
        StateError::Corrupt { .. } => "the file was left untouched; restore it from meshform.state.json.backup or fix it by hand".into(),
        StateError::UnsupportedVersion { .. } => "upgrade meshform to the version that wrote this state".into(),
        StateError::Encryption { source, .. } if source.involves_kms() => "check the KMS key (kms_key_id, region, endpoint) and the Alibaba Cloud credentials (ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET, or a profile): they need kms:GenerateDataKey and kms:Decrypt on the key; see docs/state-encryption.md".into(),
        StateError::Encryption { .. } => "give the passphrase of the configuration's encryption block (e.g. MESHFORM_VAR_NAME for its variable); see docs/state-encryption.md".into(),
        _ => "check the state file and its directory".into(),
    };
    Diagnostic::error("meshform::state", e.to_string()).with_help(help)
}

/// Prints a planning failure.
pub fn print_plan_error(settings: &Settings, e: &PlanError) {
    match e {
        PlanError::Diagnostics(d) => print_diagnostics(settings, d),
        PlanError::State(e) => print_diagnostics(settings, &Diagnostics(vec![state_diagnostic(e)])),
    }
}

#[cfg(test)]
mod tests {
    use meshform_core::{SourceFile, Span};

    use super::*;

    /// miette cannot pad a label past column 65,535 (it would panic): a line that long is
    /// reported by its location, without the line.
    #[test]
    fn a_label_far_into_a_long_line_is_located_not_drawn() {
        let text = format!("locals {{ a = {}nope }}\n", " ".repeat(70_000));
        let at = text.find("nope").expect("nope");
        let file = SourceFile::new("main.hcl", text);
        let d = Diagnostic::error("meshform::config::invalid_reference", "invalid reference")
            .with_span(Span::new(&file, at..at + 4), "here")
            .with_help("write var.NAME");
        let out = render(false, &d);
        assert!(out.starts_with(&format!("main.hcl:1:{}: ", at + 1)), "{out}");
        assert!(out.contains("invalid reference") && out.contains("write var.NAME"), "{out}");
        // A short line is still drawn.
        let file = SourceFile::new("ok.hcl", "locals { a = nope }\n".to_owned());
        let d =
            Diagnostic::error("x", "invalid reference").with_span(Span::new(&file, 13..17), "here");
        assert!(render(false, &d).contains("╭─[ok.hcl:1:14]"));
    }
}
