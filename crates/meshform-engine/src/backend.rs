//! The backend of a run and `meshform init`: the backend the configuration's
//! `meshform { backend "…" { … } }` block names ([`configured`]), the refusal when the state still
//! sits in the backend that held it before ([`not_migrated`]), and [`init`], which sets the backend
//! up, moves the state into it and records it in `.meshform/backend.json`.

pub mod encryption;

use std::sync::Arc;
use std::time::Duration;

use meshform_config::eval::{EmptyScope, Evaluator};
use meshform_config::model::{Config, NestedBlockDef};
use meshform_core::{Diagnostic, Diagnostics, Span, Value};
use meshform_state::backend::{
    migration_source, misplaced_state, Backend, BackendContext, BackendKind, BackendRecord,
    MigrationSource, Misplaced,
};
use meshform_state::encryption::Encryption;
use meshform_state::migrate::{migrate, Migration};
use meshform_state::{PgStore, StateError, StateStore};

use crate::ops::lock_store;

/// The backend the configuration names (local when it names none). Only the `meshform` block is
/// looked at, so a configuration with other errors still gets its backend; every problem of the
/// block is reported.
pub fn configured(config: &Config, ctx: &BackendContext) -> Result<Backend, Diagnostics> {
    let Some(block) = &config.settings.backend else { return Ok(Backend::Local) };
    let kind = block.labels.first().map(String::as_str).unwrap_or("");
    let mut diags = Diagnostics::default();
    let backend = match BackendKind::from_name(kind) {
        Some(BackendKind::Local) => {
            for (name, a) in &block.body.attrs {
                diags.push(unexpected(name, &a.name_span, &[]));
            }
            Backend::Local
        }
        Some(BackendKind::Pg) => {
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
                match Evaluator::new(&EmptyScope, &a.expr.span.file, &ctx.dir).eval(&a.expr.node) {
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
            Backend::Pg(ctx.pg_settings(conn_str, schema_name))
        }
        None => {
            diags.push(unknown_backend(kind, block));
            Backend::Local
        }
    };
    if diags.has_errors() {
        return Err(diags);
    }
    Ok(backend)
}

fn unexpected(name: &str, span: &Span, allowed: &[&str]) -> Diagnostic {
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

/// A refusal when the state is not in the configured backend yet: the run would see an empty
/// state and plan to create everything again.
pub fn not_migrated(backend: &Backend, ctx: &BackendContext) -> Option<Diagnostic> {
    let recorded = BackendRecord::read(&ctx.dir);
    let state_file = ctx.local_state_file();
    match misplaced_state(backend.kind(), recorded.as_ref(), state_file.as_deref())? {
        Misplaced::InLocalFile(path) => Some(
            Diagnostic::error(
                "meshform::backend::not_migrated",
                format!(
                    "the configuration uses the PostgreSQL backend, but the state is still in {}",
                    path.display()
                ),
            )
            .with_help("run `meshform init` to move it into PostgreSQL (it refuses to overwrite another state)"),
        ),
        Misplaced::InPg => Some(
            Diagnostic::error(
                "meshform::backend::not_migrated",
                "the configuration uses the local backend, but the state is in PostgreSQL (per .meshform/backend.json)",
            )
            .with_help("run `meshform init` to move it back into a local file, with the PostgreSQL connection settings in MESHFORM_PG_CONN_STR or PG* variables"),
        ),
    }
}

/// The store of the context's workspace in `backend`, encrypting the state at rest as
/// `encryption` says.
pub fn encrypted_store(
    backend: &Backend,
    ctx: &BackendContext,
    encryption: Arc<Encryption>,
) -> Result<Arc<dyn StateStore>, StateError> {
    Ok(match backend {
        Backend::Local => Arc::new(ctx.local_store()?.with_encryption(encryption)),
        Backend::Pg(pg) => Arc::new(PgStore::new(pg)?.with_encryption(encryption)),
    })
}

/// Who runs `meshform init`, how long it waits for the stores' locks, and how the state is
/// encrypted at rest.
#[derive(Clone, Debug)]
pub struct InitOptions {
    pub who: String,
    pub lock_timeout: Duration,
    pub encryption: Arc<Encryption>,
}

/// A state moved by `meshform init`.
#[derive(Clone, Debug)]
pub struct Moved {
    /// The store it came from ([`StateStore::describe`]).
    pub source: String,
    pub migration: Migration,
    /// Where the local state file was renamed to, once the state is in PostgreSQL.
    pub retired: Option<std::path::PathBuf>,
}

/// Why `meshform init` stopped.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error(transparent)]
    State(#[from] StateError),
    #[error("cannot record the backend in .meshform/backend.json: {0}")]
    Record(std::io::Error),
}

/// What `meshform init` did. When it stopped early, `error` says why and `moved` what was done
/// before.
#[derive(Debug)]
pub struct Initialised {
    pub backend: BackendKind,
    /// The store that holds the state now ([`StateStore::describe`]), once it was reached.
    pub target: Option<String>,
    pub moved: Option<Moved>,
    /// The state was rewritten to match the `encryption` block (encrypted, decrypted, or with the
    /// new key of a rotation); its serial after the rewrite.
    pub rewritten: Option<u64>,
    pub error: Option<InitError>,
}

/// `meshform init`: sets up the configured backend (for PostgreSQL: connects, creates the schema
/// and tables), moves the workspace's state into it from the backend that held it before (see
/// [`migration_source`]) — never overwriting a state of another lineage — and records the backend
/// in `.meshform/backend.json`.
pub async fn init(backend: &Backend, ctx: &BackendContext, opts: &InitOptions) -> Initialised {
    let mut done = Initialised {
        backend: backend.kind(),
        target: None,
        moved: None,
        rewritten: None,
        error: None,
    };
    if let Err(e) = init_steps(backend, ctx, opts, &mut done).await {
        done.error = Some(e);
    }
    done
}

async fn init_steps(
    backend: &Backend,
    ctx: &BackendContext,
    opts: &InitOptions,
    done: &mut Initialised,
) -> Result<(), InitError> {
    let enc = &opts.encryption;
    let target = encrypted_store(backend, ctx, Arc::clone(enc))?;
    // Connecting (and creating the tables) happens on first use.
    target.read()?;
    done.target = Some(target.describe());
    let recorded = BackendRecord::read(&ctx.dir);
    let local_exists = ctx.local_state_file().is_some();
    let source: Option<Arc<dyn StateStore>> =
        match migration_source(backend, recorded.as_ref(), local_exists, ctx) {
            Some(MigrationSource::LocalFile) => {
                Some(Arc::new(ctx.local_store()?.with_encryption(Arc::clone(enc))))
            }
            Some(MigrationSource::Pg(pg)) => {
                Some(Arc::new(PgStore::new(&pg)?.with_encryption(Arc::clone(enc))))
            }
            None => None,
        };
    if let Some(source) = source {
        let migration = move_state(&source, &target, opts).await?;
        let moved =
            done.moved.insert(Moved { source: source.describe(), migration, retired: None });
        // The local file is renamed so that nobody takes it for the live state; a PostgreSQL row
        // that was moved out stays where it was, as a backup.
        if let Backend::Pg(_) = backend {
            if let Ok(local) = ctx.local_store() {
                let local = local.with_encryption(Arc::clone(enc));
                // The retired copy must not keep in cleartext what the encryption block now
                // protects: it is rewritten encrypted (its backup with it) before it is set aside.
                if enc.encrypts() {
                    if let Some(mut state) = local.read()? {
                        local.write(&mut state)?;
                    }
                }
                moved.retired = local.retire("migrated")?;
            }
        }
    }
    backend.record().write(&ctx.dir).map_err(InitError::Record)?;
    done.rewritten = rewrite_for_encryption(backend, ctx, &target, opts).await?;
    Ok(())
}

/// Rewrites the state when it is not yet stored as the `encryption` block's method says (the
/// block's fallback read it): encrypts a plaintext state, decrypts back to plaintext, or moves it
/// to the new key of a rotation. Returns the new serial when it rewrote.
async fn rewrite_for_encryption(
    backend: &Backend,
    ctx: &BackendContext,
    target: &Arc<dyn StateStore>,
    opts: &InitOptions,
) -> Result<Option<u64>, StateError> {
    if !opts.encryption.is_configured() {
        return Ok(None);
    }
    let strict = encrypted_store(backend, ctx, Arc::new(opts.encryption.without_fallbacks()))?;
    // Only a state the configured method cannot open needs rewriting; any other failure (the database
    // gone, a damaged file) is reported, not taken for a migration.
    match strict.read() {
        Ok(_) => return Ok(None),
        Err(StateError::Encryption { .. }) => {}
        Err(e) => return Err(e),
    }
    let _lock = lock_store(target, "init", &opts.who, opts.lock_timeout).await?;
    let Some(mut state) = target.read()? else { return Ok(None) };
    target.write(&mut state)?;
    Ok(Some(state.serial))
}

/// Copies the state under both stores' locks.
async fn move_state(
    source: &Arc<dyn StateStore>,
    target: &Arc<dyn StateStore>,
    opts: &InitOptions,
) -> Result<Migration, StateError> {
    let _target_lock = lock_store(target, "init", &opts.who, opts.lock_timeout).await?;
    let _source_lock = lock_store(source, "init", &opts.who, opts.lock_timeout).await?;
    migrate(source.as_ref(), target.as_ref())
}
