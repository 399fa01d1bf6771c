//! `meshform workspace list | show | new | select | delete`: the workspaces of the configured
//! backend, each a state of its own. The selected one is `--workspace NAME`, else
//! `MESHFORM_WORKSPACE`, else what `workspace select` recorded in `.meshform/workspace`.

use meshform_engine::backend::configured;
use meshform_engine::ops;
use meshform_engine::workspaces::{self, DeleteOptions, WorkspaceOpError};
use meshform_state::backend::Backend;

use super::{parse_duration, usage_error};
use crate::args::WorkspaceCommand;
use crate::output::Output;
use crate::report::{self, exit};
use crate::settings::Settings;

/// `meshform workspace …`.
pub fn workspace(settings: &Settings, cmd: &WorkspaceCommand) -> u8 {
    if let WorkspaceCommand::Show = cmd {
        Output.line(&settings.workspace);
        return exit::OK;
    }
    let parsed = ops::parse(&settings.dir);
    let ctx = settings.backend_context();
    let backend = match configured(&parsed.config, &ctx) {
        Ok(b) => b,
        Err(d) => {
            report::print_diagnostics(settings, &d);
            return exit::ERROR;
        }
    };
    // Only the commands that write or read a state need the key.
    let encryption = || {
        super::backend::encryption_of(settings, &parsed.config).map(|e| e.state).map_err(|d| {
            report::print_diagnostics(settings, &d);
            exit::ERROR
        })
    };
    let outcome = match cmd {
        WorkspaceCommand::Show => Ok(()),
        WorkspaceCommand::List => list(settings, &backend),
        WorkspaceCommand::New { name } => {
            if let Some(code) = refuse_while_env_names_workspace(settings, "new") {
                return code;
            }
            let enc = match encryption() {
                Ok(e) => e,
                Err(code) => return code,
            };
            workspaces::create_encrypted(&backend, &ctx, name, enc).map(|()| {
                Output.line(format_args!("Created and switched to workspace {name:?}!"));
                Output.line(
                    "You're now on a new, empty workspace: plan and apply create its objects \
                     in a state of its own.",
                );
            })
        }
        WorkspaceCommand::Select { name } => {
            if let Some(code) = refuse_while_env_names_workspace(settings, "select") {
                return code;
            }
            workspaces::select(&backend, &ctx, name).map(|changed| {
                if changed {
                    Output.line(format_args!("Switched to workspace {name:?}."));
                } else {
                    Output.line(format_args!("Workspace {name:?} is already selected."));
                }
            })
        }
        WorkspaceCommand::Delete { name, force, lock } => {
            let lock_timeout = match parse_duration(&lock.lock_timeout) {
                Ok(t) => t,
                Err(m) => return usage_error(settings, &m, "e.g. --lock-timeout=30s"),
            };
            let opts = DeleteOptions { force: *force, who: settings.who.clone(), lock_timeout };
            let enc = match encryption() {
                Ok(e) => e,
                Err(code) => return code,
            };
            workspaces::delete_encrypted(&backend, &ctx, name, &opts, enc).map(|left| {
                Output.line(format_args!("Deleted workspace {name:?}!"));
                if !left.is_empty() {
                    Output.eline(format_args!(
                        "Warning: workspace {name:?} still held {} object(s) that may still \
                         exist but are no longer managed by meshform:\n{}",
                        left.len(),
                        left.iter().map(|o| format!("  - {o}")).collect::<Vec<_>>().join("\n")
                    ));
                }
            })
        }
    };
    match outcome {
        Ok(()) => exit::OK,
        Err(WorkspaceOpError::State(e)) => {
            report::print_diagnostics(settings, &report::state_diagnostic(&e).into());
            exit::ERROR
        }
        Err(e) => {
            report::print_error(settings, &e.to_string(), None);
            exit::ERROR
        }
    }
}

fn list(settings: &Settings, backend: &Backend) -> Result<(), WorkspaceOpError> {
    for n in backend.workspaces(&settings.dir)? {
        let mark = if n == settings.workspace { "*" } else { " " };
        Output.line(format_args!("{mark} {n}"));
    }
    Ok(())
}

/// As Terraform with `TF_WORKSPACE`: while `MESHFORM_WORKSPACE` chooses the workspace, selecting
/// another in `.meshform/workspace` would have no effect, so it is refused.
fn refuse_while_env_names_workspace(settings: &Settings, what: &str) -> Option<u8> {
    let set = std::env::var("MESHFORM_WORKSPACE").is_ok_and(|v| !v.is_empty());
    set.then(|| {
        usage_error(
            settings,
            &format!(
                "`meshform workspace {what}` is refused while MESHFORM_WORKSPACE is set: the \
                 variable chooses the workspace"
            ),
            "unset MESHFORM_WORKSPACE, or set it to the workspace you want",
        )
    })
}
