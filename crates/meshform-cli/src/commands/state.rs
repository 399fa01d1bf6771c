//! `state …`, `import` and `force-unlock`: state surgery, always under the state lock.

use meshform_core::{AddrPattern, InstanceAddr};
use meshform_engine::ops::{self, Workspace};
use meshform_state::{surgery, StateLock};

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

/// `meshform state …`.
pub async fn state(settings: &Settings, cmd: StateCommand) -> u8 {
    let ws = match workspace(settings) {
        Ok(ws) => ws,
        Err(c) => return c,
    };
    match cmd {
        StateCommand::List { addresses } => {
            let state = match ops::read_state(&ws) {
                Ok(s) => s,
                Err(e) => return fail_state(settings, &e),
            };
            let mut pats = Vec::new();
            for a in &addresses {
                match a.parse::<AddrPattern>() {
                    Ok(p) => pats.push(p),
                    Err(e) => {
                        return usage_error(
                            settings,
                            &e.to_string(),
                            "e.g. meshform state list local_file.a",
                        )
                    }
                }
            }
            for addr in surgery::list(&state) {
                let keep = pats.is_empty()
                    || addr
                        .parse::<InstanceAddr>()
                        .is_ok_and(|ia| pats.iter().any(|p| p.matches(&ia)));
                if keep {
                    Output.line(&addr);
                }
            }
            exit::OK
        }
        StateCommand::Show { address } => {
            let state = match ops::read_state(&ws) {
                Ok(s) => s,
                Err(e) => return fail_state(settings, &e),
            };
            let addr: InstanceAddr = match address.parse() {
                Ok(a) => a,
                Err(e) => {
                    return usage_error(
                        settings,
                        &e.to_string(),
                        "list addresses with `meshform state list`",
                    )
                }
            };
            let Some((r, inst)) = state.instance(&addr) else {
                return usage_error(
                    settings,
                    &format!("{addr} is not in the state"),
                    "list addresses with `meshform state list`",
                );
            };
            let mut out = format!("# {addr}:\nresource \"{}\" \"{}\" {{\n", r.ty, r.name);
            render_attrs(&inst.value(), &mut out);
            out.push_str("}\n");
            Output.print(&out);
            exit::OK
        }
        StateCommand::Rm { addresses, lock } => {
            let _lock = match take_lock(settings, &ws, "state rm", &lock).await {
                Ok(l) => l,
                Err(c) => return c,
            };
            let mut state = match ops::read_state(&ws) {
                Ok(s) => s,
                Err(e) => return fail_state(settings, &e),
            };
            let mut pats = Vec::new();
            for a in &addresses {
                match a.parse::<AddrPattern>() {
                    Ok(p) => pats.push(p),
                    Err(e) => {
                        return usage_error(
                            settings,
                            &e.to_string(),
                            "e.g. meshform state rm local_file.a",
                        )
                    }
                }
            }
            match surgery::remove(&mut state, &pats) {
                Ok(removed) => {
                    if let Err(e) = ws.store.write(&mut state) {
                        return fail_state(settings, &e);
                    }
                    for r in &removed {
                        Output.line(format_args!("Removed {r}"));
                    }
                    Output.line(format_args!("Successfully removed {} instance(s). The objects still exist; meshform no longer manages them.", removed.len()));
                    exit::OK
                }
                Err(e) => usage_error(
                    settings,
                    &e.to_string(),
                    "list addresses with `meshform state list`",
                ),
            }
        }
        StateCommand::Mv { source, destination, lock } => {
            let _lock = match take_lock(settings, &ws, "state mv", &lock).await {
                Ok(l) => l,
                Err(c) => return c,
            };
            let mut state = match ops::read_state(&ws) {
                Ok(s) => s,
                Err(e) => return fail_state(settings, &e),
            };
            match surgery::move_(&mut state, &source, &destination) {
                Ok(moved) => {
                    if let Err(e) = ws.store.write(&mut state) {
                        return fail_state(settings, &e);
                    }
                    for (a, b) in &moved {
                        Output.line(format_args!("Move \"{a}\" to \"{b}\""));
                    }
                    Output.line(format_args!("Successfully moved {} object(s).", moved.len()));
                    exit::OK
                }
                Err(e) => usage_error(
                    settings,
                    &e.to_string(),
                    "list addresses with `meshform state list`",
                ),
            }
        }
        StateCommand::Pull => match ws.store.read() {
            Ok(Some(s)) => match meshform_state::encode_state(&s) {
                Ok(bytes) => {
                    Output.print(String::from_utf8_lossy(&bytes));
                    exit::OK
                }
                Err(e) => {
                    usage_error(settings, &format!("cannot encode state: {e}"), "report this bug")
                }
            },
            Ok(None) => exit::OK,
            Err(e) => fail_state(settings, &e),
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
            let mut incoming = match meshform_state::decode_state(&file, &bytes) {
                Ok(s) => s,
                Err(e) => return fail_state(settings, &e),
            };
            let _lock = match take_lock(settings, &ws, "state push", &lock).await {
                Ok(l) => l,
                Err(c) => return c,
            };
            let current = match ws.store.read() {
                Ok(s) => s,
                Err(e) => return fail_state(settings, &e),
            };
            if let Err(e) = surgery::check_push(current.as_ref(), &incoming, force) {
                return usage_error(settings, &e.to_string(), "pass --force to overwrite anyway (the current state is kept as the .backup file)");
            }
            // The pushed document becomes the next version of the stored one.
            let result = if force {
                ws.store.write_forced(&mut incoming)
            } else {
                incoming.serial = incoming.serial.saturating_sub(1);
                ws.store.write(&mut incoming)
            };
            match result {
                Ok(()) => {
                    Output.line(format_args!("State pushed (serial {}).", incoming.serial));
                    exit::OK
                }
                Err(e) => fail_state(settings, &e),
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
    let ws = match workspace(settings) {
        Ok(ws) => ws,
        Err(c) => return c,
    };
    let _lock = match take_lock(settings, &ws, "import", lock).await {
        Ok(l) => l,
        Err(c) => return c,
    };
    match ops::import(&ws, &vars, &addr, id, &TerminalReporter::new()).await {
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
    let ws = match workspace(settings) {
        Ok(ws) => ws,
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
