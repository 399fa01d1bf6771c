//! `meshform init`: sets up the configured backend (for PostgreSQL: connects, creates the schema and
//! tables) and moves the selected workspace's state into it from the backend that held it before —
//! a local file into PostgreSQL, or PostgreSQL back into a local file — never overwriting a state of
//! another lineage. Then records the backend in `.meshform/backend.json`.

use std::sync::Arc;
use std::time::Duration;

use meshform_state::migrate::{migrate, Migration};
use meshform_state::{LocalStore, LockInfo, PgSettings, PgStore, StateLock, StateStore};

use super::backend::{configured, record, recorded, Backend};
use super::parse_duration;
use super::usage_error;
use crate::args::LockArgs;
use crate::output::Output;
use crate::report::{self, exit};
use crate::settings::Settings;

/// Locks a store from a blocking thread (a lock may wait).
async fn lock(
    store: &Arc<dyn StateStore>,
    who: &str,
    timeout: Duration,
) -> Result<Box<dyn StateLock>, meshform_state::StateError> {
    let store = Arc::clone(store);
    let info = LockInfo::new("init", who);
    tokio::task::spawn_blocking(move || store.lock(info, timeout)).await.unwrap_or_else(|e| {
        Err(meshform_state::StateError::Backend { backend: "lock".into(), message: e.to_string() })
    })
}

/// `meshform init`.
pub async fn init(settings: &Settings, lock_args: &LockArgs) -> u8 {
    let fail_state = |e: &meshform_state::StateError| {
        report::print_diagnostics(settings, &report::state_diagnostic(e).into());
        exit::ERROR
    };
    let timeout = match parse_duration(&lock_args.lock_timeout) {
        Ok(t) => t,
        Err(m) => return usage_error(settings, &m, "e.g. --lock-timeout=30s"),
    };
    let backend = match configured(settings) {
        Ok(b) => b,
        Err(d) => {
            report::print_diagnostics(settings, &d);
            return exit::ERROR;
        }
    };
    let target = match backend.store(settings) {
        Ok(s) => s,
        Err(d) => {
            report::print_diagnostics(settings, &d);
            return exit::ERROR;
        }
    };
    // Connecting (and creating the tables) happens on first use.
    if let Err(e) = target.read() {
        return fail_state(&e);
    }
    let source: Option<Arc<dyn StateStore>> = match (&backend, recorded(&settings.dir)) {
        (Backend::Pg(_), rec) if rec.as_ref().is_none_or(|r| r.kind == "local") => {
            match LocalStore::for_workspace(&settings.dir, &settings.workspace) {
                Ok(local) if local.path().exists() => Some(Arc::new(local)),
                Ok(_) => None,
                Err(e) => return fail_state(&e),
            }
        }
        (Backend::Pg(pg), Some(rec)) if rec.schema_name.as_deref() != Some(&pg.schema_name) => {
            // Moved to another schema of the same database.
            let old = PgSettings { schema_name: rec.schema_name.unwrap_or_default(), ..pg.clone() };
            match PgStore::new(&old) {
                Ok(s) => Some(Arc::new(s)),
                Err(e) => return fail_state(&e),
            }
        }
        (Backend::Local, Some(rec)) if rec.kind == "pg" => {
            let old = PgSettings {
                conn_str: settings.pg.conn_str.clone().unwrap_or_default(),
                env: settings.pg.vars.clone(),
                schema_name: rec
                    .schema_name
                    .unwrap_or_else(|| meshform_state::pg::DEFAULT_SCHEMA.to_owned()),
                workspace: settings.workspace.clone(),
            };
            match PgStore::new(&old) {
                Ok(s) => Some(Arc::new(s)),
                Err(e) => return fail_state(&e),
            }
        }
        _ => None,
    };
    if let Some(source) = source {
        let _target_lock = match lock(&target, &settings.who, timeout).await {
            Ok(l) => l,
            Err(e) => return fail_state(&e),
        };
        let _source_lock = match lock(&source, &settings.who, timeout).await {
            Ok(l) => l,
            Err(e) => return fail_state(&e),
        };
        match migrate(source.as_ref(), target.as_ref()) {
            Ok(Migration::NothingToMigrate) => {
                Output.line(format_args!("{} holds no state: nothing to move.", source.describe()));
            }
            Ok(Migration::UpToDate { source_serial, destination_serial }) => Output.line(format_args!(
                "{} already holds this state (serial {destination_serial}; the previous backend has serial {source_serial}): nothing to move.",
                target.describe()
            )),
            Ok(Migration::Copied { serial, instances }) => {
                Output.line(format_args!(
                    "Moved the state ({instances} instances) from {} to {} (now at serial {serial}).",
                    source.describe(),
                    target.describe()
                ));
            }
            Err(e) => return fail_state(&e),
        }
        // The local file is renamed so that nobody takes it for the live state; a PostgreSQL row
        // that was moved out stays where it was, as a backup.
        if let Backend::Pg(_) = &backend {
            if let Ok(local) = LocalStore::for_workspace(&settings.dir, &settings.workspace) {
                match local.retire("migrated") {
                    Ok(Some(to)) => Output.line(format_args!(
                        "The local state file was renamed to {}.",
                        to.display()
                    )),
                    Ok(None) => {}
                    Err(e) => return fail_state(&e),
                }
            }
        }
    }
    if let Err(e) = record(&settings.dir, &backend) {
        report::print_error(
            settings,
            &format!("cannot record the backend in .meshform/backend.json: {e}"),
            Some("check that the configuration directory is writable"),
        );
        return exit::ERROR;
    }
    Output.line(format_args!(
        "\nmeshform has been successfully initialised: the \"{}\" backend holds the state of workspace \"{}\" ({}).",
        backend.kind(),
        settings.workspace,
        target.describe()
    ));
    exit::OK
}
