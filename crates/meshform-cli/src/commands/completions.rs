//! `meshform completions bash|zsh|fish` and `meshform man`: shell completion scripts and the manual
//! page, generated from the clap definition (`args`), so they never drift from the real options.

use clap::CommandFactory;
use clap_complete::Shell;

use crate::args::{Cli, CompletionShell};
use crate::output::Output;
use crate::report::exit;

/// `meshform completions SHELL`: the completion script on stdout.
pub fn completions(shell: CompletionShell) -> u8 {
    let shell = match shell {
        CompletionShell::Bash => Shell::Bash,
        CompletionShell::Zsh => Shell::Zsh,
        CompletionShell::Fish => Shell::Fish,
    };
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, "meshform", &mut out);
    Output.print(String::from_utf8_lossy(&out));
    exit::OK
}

/// `meshform man`: the manual page (section 1) in roff on stdout, the subcommands listed with
/// their options.
pub fn man() -> u8 {
    let cmd = Cli::command();
    let mut out = Vec::new();
    if let Err(e) = render_man(&cmd, &mut out) {
        Output.eline(format_args!("Error: cannot render the manual page: {e}"));
        return exit::ERROR;
    }
    Output.print(String::from_utf8_lossy(&out));
    exit::OK
}

/// The top-level page, then one section per subcommand (nested ones included) with its options.
fn render_man(cmd: &clap::Command, out: &mut Vec<u8>) -> std::io::Result<()> {
    let man = clap_mangen::Man::new(cmd.clone());
    man.render_title(out)?;
    man.render_name_section(out)?;
    man.render_synopsis_section(out)?;
    man.render_description_section(out)?;
    man.render_options_section(out)?;
    man.render_subcommands_section(out)?;
    let children = |parent: Option<&str>, c: &clap::Command| -> Vec<(String, clap::Command)> {
        let mut v: Vec<(String, clap::Command)> = c
            .get_subcommands()
            .map(|s| match parent {
                Some(p) => (format!("{p} {}", s.get_name()), s.clone()),
                None => (s.get_name().to_owned(), s.clone()),
            })
            .collect();
        v.reverse();
        v
    };
    let mut stack = children(None, cmd);
    while let Some((path, sub)) = stack.pop() {
        if sub.get_name() == "help" {
            continue;
        }
        let about = sub.get_about().map(ToString::to_string).unwrap_or_default();
        let mut section = format!(".SH \"MESHFORM {}\"\n", path.to_uppercase());
        section.push_str(&roff_text(&about));
        section.push('\n');
        for arg in sub.get_arguments().filter(|a| !a.is_hide_set() && !a.is_global_set()) {
            let name = match (arg.get_short(), arg.get_long()) {
                (_, Some(l)) => format!("\\-\\-{}", roff_text(l)),
                (Some(s), None) => format!("\\-{s}"),
                (None, None) => format!("<{}>", arg.get_id().as_str().to_uppercase()),
            };
            let help = arg.get_help().map(ToString::to_string).unwrap_or_default();
            section.push_str(&format!(".TP\n\\fB{name}\\fR\n{}\n", roff_text(&help)));
        }
        out.extend_from_slice(section.as_bytes());
        stack.extend(children(Some(&path), &sub));
    }
    man.render_version_section(out)?;
    Ok(())
}

/// Text for a roff line: backslashes and hyphens escaped, no line starting with a control dot.
fn roff_text(s: &str) -> String {
    let escaped = s.replace('\\', "\\e").replace('-', "\\-");
    if escaped.starts_with('.') || escaped.starts_with('\'') {
        format!("\\&{escaped}")
    } else {
        escaped
    }
}
