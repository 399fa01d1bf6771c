//! `state …`, `import`, `taint`/`untaint` and `force-unlock`: state surgery, always under the state
//! lock.

use meshform_core::{InstanceAddr, Selector};
use meshform_engine::ops::{self, Workspace};
use meshform_engine::surgery::{self, PullError, SurgeryOpError};
use meshform_state::StateLock;

use super::{parse_duration, usage_error, var_inputs, workspace};
use crate::args::{LockArgs, StateCommand, VarArgs};
use crate::output::Output;
use crate::render::state::render_attrs;
use crate::report::{self, exit};
use crate::reporters::TerminalReporter;
use crate::settings::Settings;

/// Takes the lock through the workspace's own store, so that its reads and writes go through the
/// locking session (which matters for the PostgreSQL backend).
async fn take_lock(
    settings: &Settings,
    ws: &Workspace,
    op: &str,
    lock: &LockArgs,
) -> Result<Box<dyn StateLock>, u8> {
    let timeout = parse_duration(&lock.lock_timeout)
        .map_err(|m| usage_error(settings, &m, "e.g. --lock-timeout=30s"))?;
    ops::lock(ws, op, &settings.who, timeout).await.map_err(|e| {
        report::print_diagnostics(settings, &report::state_diagnostic(&e).into());
        exit::ERROR
    })
}

fn fail_state(settings: &Settings, e: &meshform_state::StateError) -> u8 {
    report::print_diagnostics(settings, &report::state_diagnostic(e).into());
    exit::ERROR
}

/// Parses addresses given on the command line (`e.g.` shows the command in the help line).
fn patterns(settings: &Settings, addresses: &[String], example: &str) -> Result<Vec<Selector>, u8> {
    addresses
        .iter()
        .map(|a| a.parse::<Selector>().map_err(|e| usage_error(settings, &e.to_string(), example)))
        .collect()
}

/// A failed state edit: a refusal as a usage error with `help`, a store failure as a report.
fn fail_surgery(settings: &Settings, e: &SurgeryOpError, help: &str) -> u8 {
    match e {
        SurgeryOpError::State(e) => fail_state(settings, e),
        SurgeryOpError::Refused(e) => usage_error(settings, &e.to_string(), help),
    }
}

const LIST_HELP: &str = "list addresses with `meshform state list`";

/// `meshform taint ADDR` (`tainted`) and `meshform untaint ADDR`.
pub async fn taint(settings: &Settings, address: &str, lock: &LockArgs, tainted: bool) -> u8 {
    let verb = if tainted { "taint" } else { "untaint" };
    let addr: InstanceAddr = match address.parse() {
        Ok(a) => a,
        Err(e) => {
            return usage_error(
                settings,
                &format!("{address}: {e}"),
                &format!(
                    "e.g. meshform {verb} local_file.a, or '{}' for one instance",
                    "local_file.b[\"k\"]"
                ),
            )
        }
    };
    let (ws, _) = match workspace(settings) {
        Ok(x) => x,
        Err(c) => return c,
    };
    let _lock = match take_lock(settings, &ws, verb, lock).await {
        Ok(l) => l,
        Err(c) => return c,
    };
    match surgery::set_tainted(&ws, &addr, tainted) {
        Ok(true) if tainted => {
            Output.line(format_args!("Resource instance {addr} has been marked as tainted."));
            exit::OK
        }
        Ok(true) => {
            Output.line(format_args!("Resource instance {addr} has been successfully untainted."));
            exit::OK
        }
        Ok(false) => {
            let state = if tainted { "already tainted" } else { "not tainted" };
            Output.line(format_args!("Resource instance {addr} is {state}; nothing changed."));
            exit::OK
        }
        Err(e) => fail_surgery(settings, &e, LIST_HELP),
    }
}

/// `meshform state …`.
pub async fn state(settings: &Settings, cmd: StateCommand) -> u8 {
    let (ws, parsed) = match workspace(settings) {
        Ok(x) => x,
        Err(c) => return c,
    };
    match cmd {
        StateCommand::List { addresses } => {
            let pats = match patterns(settings, &addresses, "e.g. meshform state list local_file.a")
            {
                Ok(p) => p,
                Err(c) => return c,
            };
            match surgery::list(&ws, &pats) {
                Ok(addrs) => addrs.iter().for_each(|a| Output.line(a)),
                Err(e) => return fail_state(settings, &e),
            }
            exit::OK
        }
        StateCommand::Show { address } => {
            let addr: InstanceAddr = match address.parse() {
                Ok(a) => a,
                Err(e) => return usage_error(settings, &e.to_string(), LIST_HELP),
            };
            match surgery::show(&ws, &addr) {
                Ok(Some(shown)) => {
                    let mut out =
                        format!("# {addr}:\nresource \"{}\" \"{}\" {{\n", shown.ty, shown.name);
                    render_attrs(&shown.value, &mut out);
                    out.push_str("}\n");
                    Output.print(&out);
                    exit::OK
                }
                Ok(None) => {
                    usage_error(settings, &format!("{addr} is not in the state"), LIST_HELP)
                }
                Err(e) => fail_state(settings, &e),
            }
        }
        StateCommand::Rm { addresses, lock } => {
            let _lock = match take_lock(settings, &ws, "state rm", &lock).await {
                Ok(l) => l,
                Err(c) => return c,
            };
            let pats = match patterns(settings, &addresses, "e.g. meshform state rm local_file.a") {
                Ok(p) => p,
                Err(c) => return c,
            };
            match surgery::remove(&ws, &pats) {
                Ok(removed) => {
                    for r in &removed {
                        Output.line(format_args!("Removed {r}"));
                    }
                    Output.line(format_args!("Successfully removed {} instance(s). The objects still exist; meshform no longer manages them.", removed.len()));
                    exit::OK
                }
                Err(e) => fail_surgery(settings, &e, LIST_HELP),
            }
        }
        StateCommand::Mv { source, destination, lock } => {
            let _lock = match take_lock(settings, &ws, "state mv", &lock).await {
                Ok(l) => l,
                Err(c) => return c,
            };
            match surgery::move_(&ws, &source, &destination) {
                Ok(moved) => {
                    for (a, b) in &moved {
                        Output.line(format_args!("Move \"{a}\" to \"{b}\""));
                    }
                    Output.line(format_args!("Successfully moved {} object(s).", moved.len()));
                    exit::OK
                }
                Err(e) => fail_surgery(settings, &e, LIST_HELP),
            }
        }
        StateCommand::Pull => match surgery::pull(&ws) {
            Ok(Some(bytes)) => {
                Output.print(String::from_utf8_lossy(&bytes));
                exit::OK
            }
            Ok(None) => exit::OK,
            Err(PullError::State(e)) => fail_state(settings, &e),
            Err(e @ PullError::Encode(_)) => {
                usage_error(settings, &e.to_string(), "report this bug")
            }
        },
        StateCommand::Push { file, force, lock } => {
            let bytes = match std::fs::read(&file) {
                Ok(b) => b,
                Err(e) => {
                    return usage_error(
                        settings,
                        &format!("cannot read {}: {e}", file.display()),
                        "give the path of a state file",
                    )
                }
            };
            // An envelope is decrypted with the configured key; `state pull` gives plaintext.
            let decoded = if meshform_state::encryption::is_encrypted(&bytes) {
                match super::backend::encryption_of(settings, &parsed.config) {
                    Ok(enc) => meshform_state::local::decode_stored(&enc.state, &file, &bytes)
                        .map(|s| s.state),
                    Err(d) => {
                        report::print_diagnostics(settings, &d);
                        return exit::ERROR;
                    }
                }
            } else {
                meshform_state::decode_state(&file, &bytes)
            };
            let incoming = match decoded {
                Ok(s) => s,
                Err(e) => return fail_state(settings, &e),
            };
            let _lock = match take_lock(settings, &ws, "state push", &lock).await {
                Ok(l) => l,
                Err(c) => return c,
            };
            match surgery::push(&ws, incoming, force) {
                Ok(serial) => {
                    Output.line(format_args!("State pushed (serial {serial})."));
                    exit::OK
                }
                Err(e) => fail_surgery(
                    settings,
                    &e,
                    "pass --force to overwrite anyway (the current state is kept as the .backup file)",
                ),
            }
        }
    }
}

/// `meshform import ADDR ID`.
pub async fn import(
    settings: &Settings,
    address: &str,
    id: &str,
    vars: &VarArgs,
    lock: &LockArgs,
) -> u8 {
    let addr: InstanceAddr = match address.parse() {
        Ok(a) => a,
        Err(e) => {
            return usage_error(
                settings,
                &e.to_string(),
                "e.g. meshform import local_file.a ./path/to/file",
            )
        }
    };
    let vars = match var_inputs(settings, vars) {
        Ok(v) => v,
        Err(m) => return usage_error(settings, &m, "write --var name=value"),
    };
    let (ws, parsed) = match workspace(settings) {
        Ok(x) => x,
        Err(c) => return c,
    };
    let _lock = match take_lock(settings, &ws, "import", lock).await {
        Ok(l) => l,
        Err(c) => return c,
    };
    match ops::import(&ws, parsed, &vars, &addr, id, &TerminalReporter::new()).await {
        Ok(_) => {
            Output.line(format_args!("{addr}: Import complete. It is now managed by meshform; run `meshform plan` to compare it with the configuration."));
            exit::OK
        }
        Err(e) => {
            report::print_plan_error(settings, &e);
            exit::ERROR
        }
    }
}

/// `meshform force-unlock LOCK_ID`.
pub fn force_unlock(settings: &Settings, id: &str) -> u8 {
    let (ws, _) = match workspace(settings) {
        Ok(x) => x,
        Err(c) => return c,
    };
    match ws.store.force_unlock(id) {
        Ok(()) => {
            Output.line(format_args!("The state lock {id} was released. Make sure the run that held it is not still running."));
            exit::OK
        }
        Err(e) => fail_state(settings, &e),
    }
}
