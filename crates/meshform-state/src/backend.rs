//! Which backend holds a workspace's state: the [`BackendKind`], the configured [`Backend`] and its
//! store, `.meshform/backend.json` ([`BackendRecord`], written by `meshform init`), and the two
//! decisions taken from them — whether a run must refuse because the state still sits in the backend
//! that held it before ([`misplaced_state`]), and where `meshform init` moves it from
//! ([`migration_source`]).

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::pg::DEFAULT_SCHEMA;
use crate::{LocalStore, PgSettings, PgStore, StateError, StateStore, DEFAULT_WORKSPACE};

/// The kinds of backend: `local` (the default) and `pg` (PostgreSQL).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    Local,
    Pg,
}

impl BackendKind {
    /// The name a configuration and `.meshform/backend.json` use: `local` or `pg`.
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Local => "local",
            BackendKind::Pg => "pg",
        }
    }

    /// The kind a backend block names, if meshform has it.
    pub fn from_name(name: &str) -> Option<BackendKind> {
        match name {
            "local" => Some(BackendKind::Local),
            "pg" => Some(BackendKind::Pg),
            _ => None,
        }
    }
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What the PostgreSQL backend takes from the environment (the caller reads it). Its `Debug` shows
/// no value: the connection string and `PGPASSWORD` may hold a password.
#[derive(Clone, Default)]
pub struct PgEnvironment {
    /// `MESHFORM_PG_CONN_STR`: the connection string when the backend block has none.
    pub conn_str: Option<String>,
    /// The standard libpq variables (`PG*`) and `USER`.
    pub vars: BTreeMap<String, String>,
}

impl fmt::Debug for PgEnvironment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgEnvironment")
            .field("conn_str", &self.conn_str.as_ref().map(|_| "(set)"))
            .field("vars", &self.vars.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// Where a run keeps its state: the configuration directory, the selected workspace, and the
/// PostgreSQL environment.
#[derive(Clone, Debug)]
pub struct BackendContext {
    pub dir: PathBuf,
    pub workspace: String,
    pub pg: PgEnvironment,
}

impl BackendContext {
    /// The PostgreSQL settings of this context in schema `schema_name`, from the environment alone
    /// (`MESHFORM_PG_CONN_STR`, `PG*`), for a backend block that gives no connection string.
    pub fn pg_settings(&self, conn_str: Option<String>, schema_name: Option<String>) -> PgSettings {
        PgSettings {
            conn_str: conn_str.or_else(|| self.pg.conn_str.clone()).unwrap_or_default(),
            env: self.pg.vars.clone(),
            schema_name: schema_name.unwrap_or_else(|| DEFAULT_SCHEMA.to_owned()),
            workspace: self.workspace.clone(),
        }
    }

    /// The workspace's local state store (whichever backend is configured).
    pub fn local_store(&self) -> Result<LocalStore, StateError> {
        LocalStore::for_workspace(&self.dir, &self.workspace)
    }

    /// The workspace's local state file, when it exists.
    pub fn local_state_file(&self) -> Option<PathBuf> {
        let local = self.local_store().ok()?;
        local.path().exists().then(|| local.path().to_path_buf())
    }
}

/// The backend a configuration names (its `meshform { backend "…" { … } }` block; local without one).
#[derive(Clone, Debug)]
pub enum Backend {
    Local,
    Pg(PgSettings),
}

impl Backend {
    pub fn kind(&self) -> BackendKind {
        match self {
            Backend::Local => BackendKind::Local,
            Backend::Pg(_) => BackendKind::Pg,
        }
    }

    /// The store of the context's workspace.
    pub fn store(&self, ctx: &BackendContext) -> Result<Arc<dyn StateStore>, StateError> {
        Ok(match self {
            Backend::Local => Arc::new(ctx.local_store()?),
            Backend::Pg(pg) => Arc::new(PgStore::new(pg)?),
        })
    }

    /// The workspaces this backend holds, sorted (`default` always among them for PostgreSQL).
    pub fn workspaces(&self, dir: &Path) -> Result<Vec<String>, StateError> {
        match self {
            Backend::Local => LocalStore::workspaces(dir),
            Backend::Pg(pg) => PgStore::new(pg).and_then(|s| s.workspaces()).map(|mut v| {
                v.push(DEFAULT_WORKSPACE.to_owned());
                v.sort();
                v.dedup();
                v
            }),
        }
    }

    /// What `.meshform/backend.json` records of it (no connection string: it may hold a password).
    pub fn record(&self) -> BackendRecord {
        match self {
            Backend::Local => BackendRecord { kind: BackendKind::Local, schema_name: None },
            Backend::Pg(pg) => {
                BackendRecord { kind: BackendKind::Pg, schema_name: Some(pg.schema_name.clone()) }
            }
        }
    }
}

impl Backend {
    /// The concrete store of the context's workspace, for what the [`StateStore`] trait does not
    /// do: removing a workspace (`meshform workspace delete`).
    pub fn workspace_store(&self, ctx: &BackendContext) -> Result<WorkspaceStore, StateError> {
        Ok(match self {
            Backend::Local => WorkspaceStore::Local(ctx.local_store()?),
            Backend::Pg(pg) => WorkspaceStore::Pg(Box::new(PgStore::new(&PgSettings {
                workspace: ctx.workspace.clone(),
                ..pg.clone()
            })?)),
        })
    }
}

/// A workspace's store with its concrete backend.
pub enum WorkspaceStore {
    Local(LocalStore),
    Pg(Box<PgStore>),
}

impl WorkspaceStore {
    /// This store with the state encrypted at rest as `encryption` says.
    pub fn with_encryption(self, encryption: Arc<crate::encryption::Encryption>) -> WorkspaceStore {
        match self {
            WorkspaceStore::Local(s) => WorkspaceStore::Local(s.with_encryption(encryption)),
            WorkspaceStore::Pg(s) => WorkspaceStore::Pg(Box::new(s.with_encryption(encryption))),
        }
    }

    /// The store, to lock, read and write as any other.
    pub fn store(&self) -> &dyn StateStore {
        match self {
            WorkspaceStore::Local(s) => s,
            WorkspaceStore::Pg(s) => s.as_ref(),
        }
    }

    /// Removes the workspace's state; call it holding the workspace's lock taken through
    /// [`store`](Self::store). Local: the state file and its backup (the directory goes with
    /// [`remove_leftovers`](Self::remove_leftovers) once the lock is released); PostgreSQL: the row,
    /// through the locking session. The default workspace is never removed.
    pub fn remove_state(&self) -> Result<(), StateError> {
        match self {
            WorkspaceStore::Local(s) => {
                if parent_is_workspace_dir(s.path()) {
                    for f in [s.path().to_path_buf(), s.backup_path(), s.journal_path()] {
                        match std::fs::remove_file(&f) {
                            Ok(()) => {}
                            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                            Err(e) => return Err(StateError::Io { path: f, source: e }),
                        }
                    }
                    Ok(())
                } else {
                    Err(StateError::InvalidWorkspace { name: DEFAULT_WORKSPACE.to_owned() })
                }
            }
            WorkspaceStore::Pg(s) => {
                if s.workspace() == DEFAULT_WORKSPACE {
                    return Err(StateError::InvalidWorkspace {
                        name: DEFAULT_WORKSPACE.to_owned(),
                    });
                }
                s.delete_workspace()
            }
        }
    }

    /// After [`remove_state`](Self::remove_state) and the lock's release: the local workspace's
    /// directory under `meshform.state.d/`, if nothing else was left in it.
    pub fn remove_leftovers(&self) {
        if let WorkspaceStore::Local(s) = self {
            if parent_is_workspace_dir(s.path()) {
                // A directory someone put other files in stays; it is no longer a workspace.
                let _ = std::fs::remove_dir(meshform_core::fsio::parent_dir(s.path()));
            }
        }
    }
}

/// Whether a local state file lives in a workspace's own directory (`meshform.state.d/NAME/`).
fn parent_is_workspace_dir(path: &Path) -> bool {
    path.parent()
        .and_then(Path::parent)
        .and_then(Path::file_name)
        .is_some_and(|n| n == crate::WORKSPACES_DIR)
}

/// `.meshform/workspace`: the workspace `meshform workspace select` chose for a configuration
/// directory, used when neither `--workspace` nor `MESHFORM_WORKSPACE` names one.
pub fn selected_workspace_path(dir: &Path) -> PathBuf {
    dir.join(".meshform").join("workspace")
}

/// The workspace selected in `dir`, if one was selected and its name is valid.
pub fn selected_workspace(dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(selected_workspace_path(dir)).ok()?;
    let name = text.trim();
    crate::check_workspace_name(name).ok().map(|()| name.to_owned())
}

/// Records `name` as the selected workspace of `dir`, atomically.
pub fn select_workspace(dir: &Path, name: &str) -> std::io::Result<()> {
    let path = selected_workspace_path(dir);
    std::fs::create_dir_all(meshform_core::fsio::parent_dir(&path))?;
    meshform_core::fsio::write_atomic(&path, format!("{name}\n").as_bytes(), None)
}

/// `.meshform/backend.json`: the backend that holds the state, as `meshform init` left it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackendRecord {
    #[serde(rename = "type")]
    pub kind: BackendKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema_name: Option<String>,
}

impl BackendRecord {
    /// `.meshform/backend.json` in the configuration directory.
    pub fn path(dir: &Path) -> PathBuf {
        dir.join(".meshform").join("backend.json")
    }

    /// The recorded backend, if `meshform init` ran in `dir` (an unreadable record counts as none).
    pub fn read(dir: &Path) -> Option<BackendRecord> {
        let text = std::fs::read_to_string(Self::path(dir)).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// Records the backend that now holds the state, atomically.
    pub fn write(&self, dir: &Path) -> std::io::Result<()> {
        let path = Self::path(dir);
        std::fs::create_dir_all(meshform_core::fsio::parent_dir(&path))?;
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        meshform_core::fsio::write_atomic(&path, text.as_bytes(), None)
    }
}

/// Where the state is while the configuration names another backend.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Misplaced {
    /// The configuration names PostgreSQL, but the state is still in this local file.
    InLocalFile(PathBuf),
    /// The configuration names the local backend, but the record says PostgreSQL holds the state.
    InPg,
}

/// Whether a run must refuse because the state is not in the configured backend yet (it would see
/// an empty state and plan to create everything again). `local_state_file` is the workspace's local
/// state file when it exists.
pub fn misplaced_state(
    configured: BackendKind,
    recorded: Option<&BackendRecord>,
    local_state_file: Option<&Path>,
) -> Option<Misplaced> {
    let recorded_kind = recorded.map(|r| r.kind);
    match configured {
        BackendKind::Pg => match (recorded_kind, local_state_file) {
            (None | Some(BackendKind::Local), Some(file)) => {
                Some(Misplaced::InLocalFile(file.to_path_buf()))
            }
            _ => None,
        },
        BackendKind::Local => (recorded_kind == Some(BackendKind::Pg)).then_some(Misplaced::InPg),
    }
}

/// Where `meshform init` moves the state from.
#[derive(Clone, Debug)]
pub enum MigrationSource {
    /// The workspace's local state file.
    LocalFile,
    /// A PostgreSQL backend: another schema of the configured database, or (when the configuration
    /// returned to the local backend) the one the environment's connection settings reach.
    Pg(PgSettings),
}

impl MigrationSource {
    pub fn store(&self, ctx: &BackendContext) -> Result<Arc<dyn StateStore>, StateError> {
        Ok(match self {
            MigrationSource::LocalFile => Arc::new(ctx.local_store()?),
            MigrationSource::Pg(pg) => Arc::new(PgStore::new(pg)?),
        })
    }
}

/// The decision table of `meshform init`: from what the configuration names and what the record
/// says held the state before, where the state must be moved from (`None`: nothing to move).
///
/// | configured   | recorded                 | source                                        |
/// |--------------|--------------------------|-----------------------------------------------|
/// | pg           | none or local            | the local file, if it exists                  |
/// | pg (schema S)| pg with another schema   | that schema, same connection                  |
/// | local        | pg                       | PostgreSQL through the environment's settings |
/// | otherwise    |                          | none                                          |
pub fn migration_source(
    configured: &Backend,
    recorded: Option<&BackendRecord>,
    local_state_exists: bool,
    ctx: &BackendContext,
) -> Option<MigrationSource> {
    match (configured, recorded) {
        (Backend::Pg(_), rec) if rec.is_none_or(|r| r.kind == BackendKind::Local) => {
            local_state_exists.then_some(MigrationSource::LocalFile)
        }
        (Backend::Pg(pg), Some(rec)) if rec.schema_name.as_deref() != Some(&pg.schema_name) => {
            // Moved to another schema of the same database.
            let schema_name = rec.schema_name.clone().unwrap_or_default();
            Some(MigrationSource::Pg(PgSettings { schema_name, ..pg.clone() }))
        }
        (Backend::Local, Some(rec)) if rec.kind == BackendKind::Pg => {
            Some(MigrationSource::Pg(ctx.pg_settings(None, rec.schema_name.clone())))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(dir: &Path) -> BackendContext {
        BackendContext {
            dir: dir.to_path_buf(),
            workspace: "default".into(),
            pg: PgEnvironment {
                conn_str: Some("host=db".into()),
                vars: BTreeMap::from([("PGUSER".to_owned(), "ci".to_owned())]),
            },
        }
    }

    fn pg(schema: &str) -> Backend {
        Backend::Pg(ctx(Path::new(".")).pg_settings(None, Some(schema.to_owned())))
    }

    fn rec(kind: BackendKind, schema: Option<&str>) -> BackendRecord {
        BackendRecord { kind, schema_name: schema.map(str::to_owned) }
    }

    #[test]
    fn a_run_refuses_while_the_state_is_in_the_other_backend() {
        let file = Path::new("meshform.state.json");
        let local = rec(BackendKind::Local, None);
        let in_pg = rec(BackendKind::Pg, Some("meshform"));
        // configured, recorded, the local state file, the refusal
        type Row<'a> =
            (BackendKind, Option<&'a BackendRecord>, Option<&'a Path>, Option<Misplaced>);
        let table: &[Row] = &[
            (BackendKind::Pg, None, Some(file), Some(Misplaced::InLocalFile(file.into()))),
            (BackendKind::Pg, Some(&local), Some(file), Some(Misplaced::InLocalFile(file.into()))),
            (BackendKind::Pg, None, None, None),
            // After `init` moved it, a leftover local file is not the state.
            (BackendKind::Pg, Some(&in_pg), Some(file), None),
            (BackendKind::Local, Some(&in_pg), None, Some(Misplaced::InPg)),
            (BackendKind::Local, Some(&in_pg), Some(file), Some(Misplaced::InPg)),
            (BackendKind::Local, Some(&local), Some(file), None),
            (BackendKind::Local, None, None, None),
        ];
        for (configured, recorded, local_file, want) in table {
            assert_eq!(
                &misplaced_state(*configured, *recorded, *local_file),
                want,
                "configured {configured}, recorded {recorded:?}, local file {local_file:?}"
            );
        }
    }

    /// The source as a comparable description: `local`, `pg:SCHEMA:CONN`, or `-`.
    fn source(s: Option<MigrationSource>) -> String {
        match s {
            None => "-".into(),
            Some(MigrationSource::LocalFile) => "local".into(),
            Some(MigrationSource::Pg(p)) => format!("pg:{}:{}", p.schema_name, p.conn_str),
        }
    }

    #[test]
    fn init_moves_the_state_from_where_the_record_says_it_is() {
        let c = ctx(Path::new("."));
        let local = rec(BackendKind::Local, None);
        let same_schema = rec(BackendKind::Pg, Some("meshform"));
        let other_schema = rec(BackendKind::Pg, Some("old"));
        let unnamed_schema = rec(BackendKind::Pg, None);
        let block_pg =
            Backend::Pg(c.pg_settings(Some("host=block".into()), Some("meshform".into())));
        let table: &[(&Backend, Option<&BackendRecord>, bool, &str)] = &[
            (&pg("meshform"), None, true, "local"),
            (&pg("meshform"), None, false, "-"),
            (&pg("meshform"), Some(&local), true, "local"),
            (&pg("meshform"), Some(&same_schema), true, "-"),
            (&pg("meshform"), Some(&other_schema), false, "pg:old:host=db"),
            (&block_pg, Some(&other_schema), false, "pg:old:host=block"),
            (&pg("meshform"), Some(&unnamed_schema), false, "pg::host=db"),
            (&Backend::Local, Some(&same_schema), true, "pg:meshform:host=db"),
            (&Backend::Local, Some(&unnamed_schema), false, "pg:meshform:host=db"),
            (&Backend::Local, Some(&local), true, "-"),
            (&Backend::Local, None, true, "-"),
        ];
        for (configured, recorded, local_exists, want) in table {
            assert_eq!(
                source(migration_source(configured, *recorded, *local_exists, &c)),
                *want,
                "configured {}, recorded {recorded:?}, local file {local_exists}",
                configured.kind()
            );
        }
    }

    #[test]
    fn the_record_round_trips_atomically_and_keeps_its_format() {
        let dir = tempfile::tempdir().expect("temporary directory");
        assert_eq!(BackendRecord::read(dir.path()), None);
        pg("states").record().write(dir.path()).expect("written");
        let text = std::fs::read_to_string(BackendRecord::path(dir.path())).expect("read");
        assert_eq!(text, "{\n  \"type\": \"pg\",\n  \"schema_name\": \"states\"\n}\n");
        assert_eq!(BackendRecord::read(dir.path()), Some(rec(BackendKind::Pg, Some("states"))));
        Backend::Local.record().write(dir.path()).expect("rewritten");
        let text = std::fs::read_to_string(BackendRecord::path(dir.path())).expect("read");
        assert_eq!(text, "{\n  \"type\": \"local\"\n}\n");
        let leftovers = std::fs::read_dir(dir.path().join(".meshform")).expect("dir").count();
        assert_eq!(leftovers, 1, "no temporary file is left behind");
    }

    #[test]
    fn kinds_have_the_names_configurations_use() {
        for kind in [BackendKind::Local, BackendKind::Pg] {
            assert_eq!(BackendKind::from_name(kind.name()), Some(kind));
        }
        assert_eq!(BackendKind::from_name("s3"), None);
    }
}
