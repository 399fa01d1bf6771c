//! `meshform init`: sets up the configured backend and moves the selected workspace's state into it
//! from the backend that held it before (`meshform_engine::backend::init`), then says what it did.

use meshform_engine::backend::{configured, init as init_backend, InitError, InitOptions};
use meshform_engine::ops;
use meshform_state::migrate::Migration;

use super::parse_duration;
use super::usage_error;
use crate::args::LockArgs;
use crate::output::Output;
use crate::report::{self, exit};
use crate::settings::Settings;

/// `meshform init`.
pub async fn init(settings: &Settings, lock_args: &LockArgs) -> u8 {
    let lock_timeout = match parse_duration(&lock_args.lock_timeout) {
        Ok(t) => t,
        Err(m) => return usage_error(settings, &m, "e.g. --lock-timeout=30s"),
    };
    let ctx = settings.backend_context();
    let config = ops::parse(&settings.dir).config;
    let configured = configured(&config, &ctx)
        .and_then(|b| super::backend::encryption_of(settings, &config).map(|e| (b, e)));
    let (backend, enc) = match configured {
        Ok(b) => b,
        Err(d) => {
            report::print_diagnostics(settings, &d);
            return exit::ERROR;
        }
    };
    let opts = InitOptions { who: settings.who.clone(), lock_timeout, encryption: enc.state };
    let done = init_backend(&backend, &ctx, &opts).await;
    let target = done.target.as_deref().unwrap_or_default();
    if let Some(moved) = &done.moved {
        let source = &moved.source;
        match moved.migration {
            Migration::NothingToMigrate => {
                Output.line(format_args!("{source} holds no state: nothing to move."))
            }
            Migration::UpToDate { source_serial, destination_serial } => Output.line(format_args!(
                "{target} already holds this state (serial {destination_serial}; the previous backend has serial {source_serial}): nothing to move."
            )),
            Migration::Copied { serial, instances } => Output.line(format_args!(
                "Moved the state ({instances} instances) from {source} to {target} (now at serial {serial})."
            )),
        }
        if let Some(to) = &moved.retired {
            Output.line(format_args!("The local state file was renamed to {}.", to.display()));
        }
    }
    if let Some(serial) = done.rewritten {
        Output.line(format_args!(
            "Rewrote the state in {target} as the encryption block says (now at serial {serial})."
        ));
    }
    match &done.error {
        None => {}
        Some(InitError::State(e)) => {
            report::print_diagnostics(settings, &report::state_diagnostic(e).into());
            return exit::ERROR;
        }
        Some(e @ InitError::Record(_)) => {
            report::print_error(
                settings,
                &e.to_string(),
                Some("check that the configuration directory is writable"),
            );
            return exit::ERROR;
        }
    }
    Output.line(format_args!(
        "\nmeshform has been successfully initialised: the \"{}\" backend holds the state of workspace \"{}\" ({target}).",
        done.backend,
        settings.workspace,
    ));
    exit::OK
}
