//! Thin commands over `meshform_engine::ops`: build options from arguments, call the op, render.

pub mod backend;
mod fmt;
mod init;
mod inspect;
mod run;
mod sandbox;
mod saved;
mod state;
mod verify;
mod workspace;

use std::sync::Arc;
use std::time::Duration;

use meshform_config::vars::VarInputs;
use meshform_engine::ops::Workspace;
use meshform_provider::Registry;
use meshform_provider_asm::AsmProvider;
use meshform_provider_kubernetes::KubernetesProvider;
use meshform_provider_local::LocalProvider;
use meshform_provider_pki::PkiProvider;
use meshform_state::LocalStore;

use crate::args::{Cli, Command, VarArgs};
use crate::report::{self, exit};
use crate::settings::Settings;

/// Runs a command and returns its exit code.
pub async fn dispatch(cli: Cli, settings: Settings) -> u8 {
    match cli.command {
        Command::Validate { json } => inspect::validate(&settings, json),
        Command::Fmt { check, diff, files } => fmt::fmt(&settings, check, diff, &files),
        Command::Init { lock } => init::init(&settings, &lock).await,
        Command::Plan { plan, out, markdown } => {
            run::plan(&settings, &plan, out.as_deref(), markdown).await
        }
        Command::Apply { plan_file: Some(file), plan, auto_approve: _ } => {
            saved::apply(&settings, &file, &plan).await
        }
        Command::Apply { plan_file: None, plan, auto_approve } => {
            run::apply(&settings, &plan, auto_approve, false).await
        }
        Command::Destroy { plan, auto_approve } => {
            run::apply(&settings, &plan, auto_approve, true).await
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
        Command::ForceUnlock { lock_id } => state::force_unlock(&settings, &lock_id),
        Command::Sandbox(cmd) => sandbox::sandbox(&settings, cmd).await,
        Command::Verify { checks, json, vars } => {
            verify::verify(&settings, &checks, json, &vars).await
        }
    }
}

/// The providers this build of meshform knows.
pub fn registry(settings: &Settings) -> Registry {
    let mut r = Registry::new();
    let base = std::fs::canonicalize(&settings.dir).unwrap_or_else(|_| settings.dir.clone());
    r.register(Arc::new(LocalProvider::new(base)));
    r.register(Arc::new(PkiProvider));
    r.register(Arc::new(AsmProvider::new(settings.provider_env.clone())));
    r.register(Arc::new(KubernetesProvider::new(settings.kube_env.clone())));
    r
}

/// The workspace of a run: the configuration directory, the providers, and the state store of the
/// configured backend and selected workspace. Prints why and returns the exit code when the backend
/// cannot be used.
pub fn workspace(settings: &Settings) -> Result<Workspace, u8> {
    Ok(Workspace {
        dir: settings.dir.clone(),
        registry: registry(settings),
        store: backend::store_for_run(settings)?,
    })
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

/// Parses durations such as `0s`, `500ms`, `30s`, `5m`, `1h`, `1m30s`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    let mut total = Duration::ZERO;
    let mut num = String::new();
    let mut chars = s.chars().peekable();
    let mut any = false;
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() || c == '.' {
            num.push(c);
            continue;
        }
        let mut unit = c.to_string();
        if c == 'm' && chars.peek() == Some(&'s') {
            unit.push('s');
            chars.next();
        }
        let n: f64 = num
            .parse()
            .map_err(|_| format!("invalid duration {s:?}: use forms like 30s, 5m, 1h"))?;
        let secs = match unit.as_str() {
            "ms" => n / 1000.0,
            "s" => n,
            "m" => n * 60.0,
            "h" => n * 3600.0,
            _ => {
                return Err(format!(
                    "invalid duration {s:?}: unknown unit {unit:?}; use ms, s, m or h"
                ))
            }
        };
        total += Duration::from_secs_f64(secs);
        num.clear();
        any = true;
    }
    if !num.is_empty() || !any {
        return Err(format!("invalid duration {s:?}: add a unit, e.g. {s}s"));
    }
    Ok(total)
}

/// Prints an argument error and returns the error exit code.
pub fn usage_error(settings: &Settings, message: &str, help: &str) -> u8 {
    report::print_error(settings, message, Some(help));
    exit::ERROR
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("0s").unwrap(), Duration::ZERO);
        assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert!(parse_duration("5").is_err());
        assert!(parse_duration("5y").is_err());
    }
}
