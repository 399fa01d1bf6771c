//! Which state store a run uses: the `meshform { backend "…" { … } }` block of the configuration, the
//! workspace (`--workspace` / `MESHFORM_WORKSPACE`), and for PostgreSQL the connection settings from
//! the block, `MESHFORM_PG_CONN_STR` and the standard `PG*` variables.
//!
//! The backend that last held the state is remembered in `.meshform/backend.json`, so that a run
//! whose configuration names another backend than the one holding the state refuses to start (it
//! would see an empty state and plan to create everything again) until `meshform init` has moved
//! the state.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use meshform_config::eval::{EmptyScope, Evaluator};
use meshform_config::load::load_dir;
use meshform_config::model::NestedBlockDef;
use meshform_core::{Diagnostic, Diagnostics, Value};
use meshform_state::{LocalStore, PgSettings, PgStore, StateStore};
use serde::{Deserialize, Serialize};

use crate::report::{self, exit};
use crate::settings::Settings;

/// The backend a configuration names.
#[derive(Clone, Debug)]
pub enum Backend {
    Local,
    Pg(PgSettings),
}

impl Backend {
    /// `local` or `pg`.
    pub fn kind(&self) -> &'static str {
        match self {
            Backend::Local => "local",
            Backend::Pg(_) => "pg",
        }
    }

    /// The store of the selected workspace.
    pub fn store(&self, settings: &Settings) -> Result<Arc<dyn StateStore>, Diagnostics> {
        let made: Result<Arc<dyn StateStore>, _> = match self {
            Backend::Local => LocalStore::for_workspace(&settings.dir, &settings.workspace)
                .map(|s| Arc::new(s) as Arc<dyn StateStore>),
            Backend::Pg(pg) => PgStore::new(pg).map(|s| Arc::new(s) as Arc<dyn StateStore>),
        };
        made.map_err(|e| report::state_diagnostic(&e).into())
    }

    /// What `.meshform/backend.json` records of it (no connection string: it may hold a password).
    fn record(&self) -> BackendRecord {
        match self {
            Backend::Local => BackendRecord { kind: "local".into(), schema_name: None },
            Backend::Pg(pg) => {
                BackendRecord { kind: "pg".into(), schema_name: Some(pg.schema_name.clone()) }
            }
        }
    }
}

/// `.meshform/backend.json`: the backend that holds the state (written by `meshform init`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BackendRecord {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema_name: Option<String>,
}

fn record_path(dir: &Path) -> PathBuf {
    dir.join(".meshform").join("backend.json")
}

/// The recorded backend, if `meshform init` ran here.
pub fn recorded(dir: &Path) -> Option<BackendRecord> {
    let text = std::fs::read_to_string(record_path(dir)).ok()?;
    serde_json::from_str(&text).ok()
}

/// Records the backend that now holds the state.
pub fn record(dir: &Path, backend: &Backend) -> std::io::Result<()> {
    let path = record_path(dir);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut text = serde_json::to_string_pretty(&backend.record()).unwrap_or_default();
    text.push('\n');
    std::fs::write(path, text)
}

/// The backend the configuration in the directory names (local when it names none). Only the
/// `meshform` block is looked at; a configuration with other errors still gets its backend.
pub fn configured(settings: &Settings) -> Result<Backend, Diagnostics> {
    let (config, _) = load_dir(&settings.dir);
    let Some(block) = &config.settings.backend else { return Ok(Backend::Local) };
    let kind = block.labels.first().map(String::as_str).unwrap_or("");
    let mut diags = Diagnostics::default();
    let backend = match kind {
        "local" => {
            for (name, a) in &block.body.attrs {
                diags.push(unexpected(name, &a.name_span, &[]));
            }
            Backend::Local
        }
        "pg" => {
            let mut conn_str = None;
            let mut schema_name = None;
            for (name, a) in &block.body.attrs {
                let slot = match name.as_str() {
                    "conn_str" => &mut conn_str,
                    "schema_name" => &mut schema_name,
                    _ => {
                        diags.push(unexpected(name, &a.name_span, &["conn_str", "schema_name"]));
                        continue;
                    }
                };
                match Evaluator::new(&EmptyScope, &a.expr.span.file, &settings.dir)
                    .eval(&a.expr.node)
                {
                    Ok(Value::String(s)) => *slot = Some(s),
                    Ok(other) => diags.push(
                        Diagnostic::error(
                            "meshform::config::backend",
                            format!(
                                "backend \"pg\": {name} must be a string, got {}",
                                other.kind()
                            ),
                        )
                        .with_span(a.expr.span.clone(), "not a string"),
                    ),
                    Err(d) => diags.push(d.with_help(
                        "backend settings are read before anything else: use constants, and pass \
                         secrets through MESHFORM_PG_CONN_STR or PGPASSWORD",
                    )),
                }
            }
            // The block's connection string wins; the environment serves when it has none, and
            // the PG* variables fill in what either leaves unset (a password, typically).
            let conn_str = conn_str.or_else(|| settings.pg.conn_str.clone()).unwrap_or_default();
            Backend::Pg(PgSettings {
                conn_str,
                env: settings.pg.vars.clone(),
                schema_name: schema_name
                    .unwrap_or_else(|| meshform_state::pg::DEFAULT_SCHEMA.to_owned()),
                workspace: settings.workspace.clone(),
            })
        }
        other => {
            diags.push(unknown_backend(other, block));
            Backend::Local
        }
    };
    if diags.has_errors() {
        return Err(diags);
    }
    Ok(backend)
}

fn unexpected(name: &str, span: &meshform_core::Span, allowed: &[&str]) -> Diagnostic {
    let help = if allowed.is_empty() {
        "this backend takes no arguments".to_owned()
    } else {
        format!("arguments of this backend: {}", allowed.join(", "))
    };
    Diagnostic::error(
        "meshform::config::backend",
        format!("unexpected backend argument \"{name}\""),
    )
    .with_span(span.clone(), "not a backend argument")
    .with_help(help)
}

fn unknown_backend(kind: &str, block: &NestedBlockDef) -> Diagnostic {
    Diagnostic::error("meshform::config::backend", format!("unknown backend \"{kind}\""))
        .with_span(block.span.clone(), "unknown backend")
        .with_help("meshform has the backends \"local\" (the default) and \"pg\" (PostgreSQL)")
}

/// The configured backend's store for this run, refusing when the state still sits in another
/// backend (see the module documentation). Prints diagnostics and returns the exit code on failure.
pub fn store_for_run(settings: &Settings) -> Result<Arc<dyn StateStore>, u8> {
    let fail = |d: &Diagnostics| {
        report::print_diagnostics(settings, d);
        exit::ERROR
    };
    let backend = configured(settings).map_err(|d| fail(&d))?;
    if let Some(d) = misplaced_state(settings, &backend) {
        return Err(fail(&d.into()));
    }
    backend.store(settings).map_err(|d| fail(&d))
}

/// A refusal when the state is not in the configured backend yet.
fn misplaced_state(settings: &Settings, backend: &Backend) -> Option<Diagnostic> {
    let rec = recorded(&settings.dir);
    match backend {
        Backend::Pg(_) => {
            let local = LocalStore::for_workspace(&settings.dir, &settings.workspace).ok()?;
            let holds_local = rec.as_ref().is_none_or(|r| r.kind == "local");
            (holds_local && local.path().exists()).then(|| {
                Diagnostic::error(
                    "meshform::backend::not_migrated",
                    format!(
                        "the configuration uses the PostgreSQL backend, but the state is still in {}",
                        local.path().display()
                    ),
                )
                .with_help("run `meshform init` to move it into PostgreSQL (it refuses to overwrite another state)")
            })
        }
        Backend::Local => (rec.as_ref().is_some_and(|r| r.kind == "pg")).then(|| {
            Diagnostic::error(
                "meshform::backend::not_migrated",
                "the configuration uses the local backend, but the state is in PostgreSQL (per .meshform/backend.json)",
            )
            .with_help("run `meshform init` to move it back into a local file, with the PostgreSQL connection settings in MESHFORM_PG_CONN_STR or PG* variables")
        }),
    }
}
