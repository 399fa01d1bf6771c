//! Thin commands over `meshform_engine::ops`: build options from arguments, call the op, render.

pub mod backend;
mod completions;
mod console;
mod environment;
mod fmt;
mod init;
mod inspect;
mod providers;
mod run;
mod sandbox;
mod saved;
mod signals;
mod state;
mod verify;
mod workspace;

use std::sync::Arc;

use meshform_config::vars::VarInputs;
use meshform_engine::ops::{self, Parsed, Workspace};
use meshform_provider::Registry;
use meshform_provider_ack::AckProvider;
use meshform_provider_asm::AsmProvider;
use meshform_provider_kubernetes::KubernetesProvider;
use meshform_provider_local::LocalProvider;
use meshform_provider_pki::PkiProvider;
use meshform_state::LocalStore;

use crate::args::{Cli, Command, ProvidersCommand, VarArgs};
use crate::report::{self, exit};
use crate::settings::Settings;

/// Runs a command and returns its exit code.
pub async fn dispatch(cli: Cli, settings: Settings) -> u8 {
    match cli.command {
        Command::Validate { json } => inspect::validate(&settings, json),
        Command::Fmt { check, diff, recursive, files } => {
            fmt::fmt(&settings, check, diff, recursive, &files)
        }
        Command::Init { lock } => init::init(&settings, &lock).await,
        Command::Plan { plan, out, markdown } => {
            run::plan(&settings, &plan, out.as_deref(), markdown).await
        }
        Command::Apply { plan_file: Some(file), plan, auto_approve: _, allow_incomplete } => {
            saved::apply(&settings, &file, &plan, allow_incomplete).await
        }
        Command::Apply { plan_file: None, plan, auto_approve, allow_incomplete } => {
            run::apply(&settings, &plan, run::Approval { auto_approve, allow_incomplete }, false)
                .await
        }
        Command::Destroy { plan, auto_approve, allow_incomplete } => {
            run::apply(&settings, &plan, run::Approval { auto_approve, allow_incomplete }, true)
                .await
        }
        Command::Show { plan_file: Some(file), json, markdown } => {
            saved::show(&settings, &file, json, markdown)
        }
        Command::Show { plan_file: None, json, markdown: _ } => inspect::show(&settings, json),
        Command::Output { name, json, raw } => {
            inspect::output(&settings, name.as_deref(), json, raw)
        }
        Command::Graph { format } => inspect::graph(&settings, format),
        Command::State(cmd) => state::state(&settings, cmd).await,
        Command::Import { address, id, vars, lock } => {
            state::import(&settings, &address, &id, &vars, &lock).await
        }
        Command::Workspace(cmd) => workspace::workspace(&settings, &cmd),
        Command::Providers(ProvidersCommand::Schema { json }) => providers::schema(&settings, json),
        Command::Console { vars } => console::console(&settings, &vars),
        Command::Completions { shell } => completions::completions(shell),
        Command::Man => completions::man(),
        Command::ForceUnlock { lock_id } => state::force_unlock(&settings, &lock_id),
        Command::Version { json } => inspect::version(&settings, json),
        Command::Taint { address, lock } => state::taint(&settings, &address, &lock, true).await,
        Command::Untaint { address, lock } => state::taint(&settings, &address, &lock, false).await,
        Command::Sandbox(cmd) => sandbox::sandbox(&settings, cmd).await,
        Command::Verify { checks, json, allow_unreachable, vars } => {
            verify::verify(&settings, &checks, json, allow_unreachable, &vars).await
        }
    }
}

/// The provider settings that say which environment a run acts on, shown before a plan (`Provider
/// asm: endpoint …`): the endpoints, regions, kubeconfigs and contexts of the providers registered
/// in [`registry`].
pub const ENVIRONMENT_SETTINGS: &[&str] = &["endpoint", "region", "kubeconfig", "context"];

/// The providers this build of meshform knows.
pub fn registry(settings: &Settings) -> Registry {
    let mut r = Registry::new();
    let base = std::fs::canonicalize(&settings.dir).unwrap_or_else(|_| settings.dir.clone());
    r.register(Arc::new(LocalProvider::new(base)));
    r.register(Arc::new(PkiProvider));
    r.register(Arc::new(AsmProvider::new(settings.provider_env.clone())));
    r.register(Arc::new(AckProvider::new(settings.provider_env.clone())));
    r.register(Arc::new(KubernetesProvider::new(settings.kube_env.clone())));
    r
}

/// The workspace of a run — the configuration directory, the providers, and the state store of the
/// configured backend and selected workspace — and the configuration, parsed once for both the
/// backend block and the run. Prints why and returns the exit code when the backend cannot be used.
pub fn workspace(settings: &Settings) -> Result<(Workspace, Parsed), u8> {
    let parsed = ops::parse(&settings.dir);
    let ws = Workspace {
        dir: settings.dir.clone(),
        registry: registry(settings),
        store: backend::store_for_run(settings, &parsed)?,
    };
    Ok((ws, parsed))
}

/// A workspace for commands that read only the configuration (`validate`, `graph`): its store is
/// never used, so the backend is not contacted.
pub fn config_workspace(settings: &Settings) -> Workspace {
    Workspace {
        dir: settings.dir.clone(),
        registry: registry(settings),
        store: Arc::new(LocalStore::new(settings.dir.join(meshform_state::DEFAULT_STATE_FILE))),
    }
}

/// Variable inputs from the command line and the environment.
pub fn var_inputs(settings: &Settings, args: &VarArgs) -> Result<VarInputs, String> {
    let mut cli = Vec::new();
    for v in &args.vars {
        let Some((name, value)) = v.split_once('=') else {
            return Err(format!("--var {v:?}: expected NAME=VALUE"));
        };
        cli.push((name.trim().to_owned(), value.to_owned()));
    }
    Ok(VarInputs {
        files: args.var_files.clone(),
        env: settings.env_vars.clone(),
        cli,
        saved: Vec::new(),
    })
}

/// Parses a duration given on the command line (`--lock-timeout 30s`, `--transition-delay 500ms`):
/// flags take `ms`, `s`, `m` and `h`; days and years make no sense for a wait.
pub fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    if let Some(u) = s.trim().chars().find(|c| matches!(c, 'd' | 'y')) {
        return Err(format!("invalid duration {s:?}: unknown unit {u:?}; use ms, s, m or h"));
    }
    meshform_core::duration::parse_duration(s)
}

/// Prints an argument error and returns the error exit code.
pub fn usage_error(settings: &Settings, message: &str, help: &str) -> u8 {
    report::print_error(settings, message, Some(help));
    exit::ERROR
}
