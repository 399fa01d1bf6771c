//! `meshform workspace list | show`: the workspaces of the configured backend, each a state of its
//! own (selected with `--workspace NAME` or `MESHFORM_WORKSPACE`).

use meshform_state::{LocalStore, PgStore, DEFAULT_WORKSPACE};

use super::backend::{configured, Backend};
use crate::args::WorkspaceCommand;
use crate::output::Output;
use crate::report::{self, exit};
use crate::settings::Settings;

/// `meshform workspace …`.
pub fn workspace(settings: &Settings, cmd: &WorkspaceCommand) -> u8 {
    match cmd {
        WorkspaceCommand::Show => Output.line(&settings.workspace),
        WorkspaceCommand::List => {
            let backend = match configured(settings) {
                Ok(b) => b,
                Err(d) => {
                    report::print_diagnostics(settings, &d);
                    return exit::ERROR;
                }
            };
            let names = match &backend {
                Backend::Local => LocalStore::workspaces(&settings.dir),
                Backend::Pg(pg) => PgStore::new(pg).and_then(|s| s.workspaces()).map(|mut v| {
                    v.push(DEFAULT_WORKSPACE.to_owned());
                    v.sort();
                    v.dedup();
                    v
                }),
            };
            match names {
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
