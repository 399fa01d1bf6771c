//! `meshform workspace list | show`: the workspaces of the configured backend, each a state of its
//! own (selected with `--workspace NAME` or `MESHFORM_WORKSPACE`).

use meshform_engine::backend::configured;
use meshform_engine::ops;

use crate::args::WorkspaceCommand;
use crate::output::Output;
use crate::report::{self, exit};
use crate::settings::Settings;

/// `meshform workspace …`.
pub fn workspace(settings: &Settings, cmd: &WorkspaceCommand) -> u8 {
    match cmd {
        WorkspaceCommand::Show => Output.line(&settings.workspace),
        WorkspaceCommand::List => {
            let parsed = ops::parse(&settings.dir);
            let backend = match configured(&parsed.config, &settings.backend_context()) {
                Ok(b) => b,
                Err(d) => {
                    report::print_diagnostics(settings, &d);
                    return exit::ERROR;
                }
            };
            match backend.workspaces(&settings.dir) {
                Ok(names) => {
                    for n in names {
                        let mark = if n == settings.workspace { "*" } else { " " };
                        Output.line(format_args!("{mark} {n}"));
                    }
                }
                Err(e) => {
                    report::print_diagnostics(settings, &report::state_diagnostic(&e).into());
                    return exit::ERROR;
                }
            }
        }
    }
    exit::OK
}
