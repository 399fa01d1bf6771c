//! `meshform console`: reads expressions from standard input, one per line (a line with open
//! brackets continues on the next, as in OpenTofu), and prints each result. An error is printed and
//! the session goes on; the exit status is 1 when any expression failed.

use std::io::BufRead;

use meshform_engine::console::{self, ConsoleError};

use super::{usage_error, var_inputs, workspace};
use crate::args::VarArgs;
use crate::output::Output;
use crate::report::{self, exit};
use crate::settings::Settings;

const HELP: &str = "Type an expression and press enter to see its value: var.NAME, local.NAME, \
                    TYPE.NAME.attribute (from state), data.TYPE.NAME, functions such as \
                    length(…) or jsonencode(…). `exit` or Ctrl-D leaves.";

/// `meshform console`.
pub fn console(settings: &Settings, vars: &VarArgs) -> u8 {
    let inputs = match var_inputs(settings, vars) {
        Ok(v) => v,
        Err(m) => return usage_error(settings, &m, "e.g. --var region=cn-hangzhou"),
    };
    let (ws, parsed) = match workspace(settings) {
        Ok(w) => w,
        Err(code) => return code,
    };
    let session = match console::open(&ws, parsed, &inputs) {
        Ok((session, warnings)) => {
            report::print_diagnostics(settings, &warnings);
            session
        }
        Err(ConsoleError::Diagnostics(d)) => {
            report::print_diagnostics(settings, &d);
            return exit::ERROR;
        }
        Err(ConsoleError::State(e)) => {
            report::print_diagnostics(settings, &report::state_diagnostic(&e).into());
            return exit::ERROR;
        }
    };
    let prompt = |continued: bool| {
        if settings.interactive {
            Output.eprint(if continued { ": " } else { "> " });
        }
    };
    let mut failed = false;
    let mut pending = String::new();
    prompt(false);
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        if !pending.is_empty() {
            pending.push('\n');
        }
        pending.push_str(&line);
        if open_brackets(&pending) > 0 {
            prompt(true);
            continue;
        }
        let text = std::mem::take(&mut pending);
        match text.trim() {
            "" => {}
            "exit" => break,
            "help" => Output.line(HELP),
            expr => match session.eval(expr) {
                Ok(v) => Output.line(v),
                Err(d) => {
                    failed = true;
                    report::print_error(
                        settings,
                        &format!("{expr}: {}", d.summary),
                        d.help.as_deref(),
                    );
                }
            },
        }
        prompt(false);
    }
    if !pending.trim().is_empty() {
        failed = true;
        report::print_error(
            settings,
            &format!("{}: unclosed bracket at the end of the input", pending.trim()),
            Some("close every (, [ and { the expression opens"),
        );
    }
    if settings.interactive {
        Output.eline("");
    }
    if failed {
        exit::ERROR
    } else {
        exit::OK
    }
}

/// How many brackets the text leaves open, outside string literals.
fn open_brackets(text: &str) -> i64 {
    let mut depth = 0i64;
    let mut in_string = false;
    let mut escaped = false;
    for c in text.chars() {
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth -= 1,
            _ => {}
        }
    }
    depth
}

#[cfg(test)]
mod tests {
    use super::open_brackets;

    #[test]
    fn brackets_outside_strings() {
        assert_eq!(open_brackets("[1, 2"), 1);
        assert_eq!(open_brackets("{a = \"[\"}"), 0);
        assert_eq!(open_brackets("f(\"\\\"(\")"), 0);
        assert_eq!(open_brackets("x)"), -1);
    }
}
