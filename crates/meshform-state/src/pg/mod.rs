//! The PostgreSQL backend: state documents in a table, one row per workspace, and run locks that are
//! PostgreSQL session advisory locks.
//!
//! # Tables
//!
//! In the schema `schema_name` (default `meshform`), created on first use when missing:
//!
//! - `states(workspace, lineage, serial, data, previous, updated_at)`: the state document, byte for
//!   byte what the local backend would store, and the version the last write replaced (the
//!   equivalent of `meshform.state.json.backup`). With [`PgStore::with_encryption`] both are
//!   [`crate::encryption`] envelopes; `lineage` and `serial` stay in their clear columns.
//! - `journal(workspace, serial, data)`: the changes appended since the row's snapshot
//!   ([`StateStore::append`], [`crate::journal`]), one row per append, `data` encrypted like the
//!   state. A read returns the snapshot with them replayed (both in one statement, so one
//!   snapshot of the database); a write folds them in and deletes them in its transaction.
//! - `locks(workspace, lock_id, info, backend_pid, created_at)`: who holds each workspace's lock, so
//!   that a run that cannot get it can say who is in its way.
//!
//! # Locking
//!
//! A run's lock is a session advisory lock (`pg_try_advisory_lock`) on a 64-bit key derived from the
//! schema and the workspace, taken on a connection of its own that lives exactly as long as the
//! guard. PostgreSQL releases such a lock when its connection ends, so a run whose process dies
//! releases its lock with it: nothing is left to force-unlock. While a lock is held, this store's
//! reads and writes go through the locking connection, and every write first checks, inside its
//! transaction, that the session still holds the lock (a run whose connection was cut fails its next
//! write instead of racing the run that took the lock over).
//!
//! [`force_unlock`](StateStore::force_unlock) of a hung run's lock id terminates that run's database
//! session (`pg_terminate_backend`), which releases the lock.
//!
//! # Writes
//!
//! Every write is one transaction: the workspace's row is read `FOR UPDATE`, its lineage and serial
//! (the row's, or its last journal entry's) are checked exactly as the local backend checks them,
//! and the row is replaced. An append is one transaction too, under the same row lock and checks,
//! that inserts one journal row: its commit is its flush, shared by the changes of every operation
//! the engine batched into it. Two writers can
//! therefore never lose each other's update, even if locking were bypassed.
//!
//! # Connections
//!
//! The `connect` module builds the client configuration and runs every database call on a helper
//! thread, outside the caller's tokio runtime. TLS (`sslmode`, `sslrootcert`, `sslcert`, `sslkey`,
//! as libpq interprets them) is rustls in the `tls` module; `conninfo` takes those keywords out of
//! the connection string before the `postgres` crate parses the rest.

mod connect;
mod conninfo;
mod journal;
mod tls;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use meshform_core::sync::lock;
use postgres::Client;
use sha2::{Digest, Sha256};

pub use connect::PgSettings;
use connect::{describe_target, pg_config, pg_message, Session};

use crate::encryption::{Encryption, Target};
use crate::format::{State, STATE_FORMAT_VERSION};
use crate::journal::StateChange;
use crate::local::encode_stored;
use crate::store::{Appended, LockInfo, StateError, StateLock, StateStore};
use journal::{holds_lock, last_journalled};

/// The schema used when the configuration names none.
pub const DEFAULT_SCHEMA: &str = "meshform";

const FIRST_LOCK_BACKOFF: Duration = Duration::from_secs(1);
const MAX_LOCK_BACKOFF: Duration = Duration::from_secs(16);

/// A state kept in PostgreSQL.
pub struct PgStore {
    config: postgres::Config,
    tls: tls::TlsOptions,
    schema: String,
    workspace: String,
    /// `database "x" on host:port`, for messages (never the password).
    target: String,
    key: i64,
    /// The connection used while no lock is held (opened on first use).
    conn: Mutex<Option<Session>>,
    /// The locking connection while a lock is held.
    held: Arc<Mutex<Option<Session>>>,
    /// How `data` and `previous` are encrypted at rest (none by default).
    encryption: Arc<Encryption>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl PgStore {
    /// A store for `settings.workspace` (nothing is contacted until it is used).
    pub fn new(settings: &PgSettings) -> Result<PgStore, StateError> {
        let schema = if settings.schema_name.is_empty() {
            DEFAULT_SCHEMA.to_owned()
        } else {
            settings.schema_name.clone()
        };
        let invalid = |message: String| StateError::Backend {
            backend: "PostgreSQL backend".to_owned(),
            message,
        };
        if !is_identifier(&schema) {
            return Err(invalid(format!(
                "schema_name {schema:?} is not a plain identifier; use letters, digits and \
                 underscores, starting with a letter or underscore (at most 63 characters)"
            )));
        }
        crate::store::check_workspace_name(&settings.workspace)?;
        let (config, tls) = pg_config(settings).map_err(invalid)?;
        let target = describe_target(&config);
        let key = lock_key(&schema, &settings.workspace);
        Ok(PgStore {
            config,
            tls,
            schema,
            workspace: settings.workspace.clone(),
            target,
            key,
            conn: Mutex::new(None),
            held: Arc::new(Mutex::new(None)),
            encryption: Arc::new(Encryption::none(Target::State)),
        })
    }

    /// This store with the state (and `previous`) encrypted at rest as `encryption` says.
    pub fn with_encryption(mut self, encryption: Arc<Encryption>) -> PgStore {
        self.encryption = encryption;
        self
    }

    /// The workspace this store reads and writes.
    pub fn workspace(&self) -> &str {
        &self.workspace
    }

    /// Connects and creates the schema and tables when missing (`meshform init`).
    pub fn setup(&self) -> Result<(), StateError> {
        self.with_session(|_, _| Ok(()))
    }

    /// The workspaces that have a state, sorted.
    pub fn workspaces(&self) -> Result<Vec<String>, StateError> {
        let sql = format!("SELECT workspace FROM {} ORDER BY workspace", self.table("states"));
        self.with_session(move |c, _| {
            Ok(c.query(sql.as_str(), &[])?.iter().map(|r| r.get::<_, String>(0)).collect())
        })
    }

    /// Deletes this workspace's state row (`meshform workspace delete`); run it holding the lock
    /// taken through this store, so that it goes through the locking session.
    pub fn delete_workspace(&self) -> Result<(), StateError> {
        let states = format!("DELETE FROM {} WHERE workspace = $1", self.table("states"));
        let journal = format!("DELETE FROM {} WHERE workspace = $1", self.table("journal"));
        let workspace = self.workspace.clone();
        self.with_session(move |c, _| {
            let mut tx = c.transaction()?;
            tx.execute(journal.as_str(), &[&workspace])?;
            tx.execute(states.as_str(), &[&workspace])?;
            tx.commit()
        })
    }

    fn table(&self, name: &str) -> String {
        format!("\"{}\".{name}", self.schema)
    }

    fn pseudo_path(&self) -> PathBuf {
        PathBuf::from(self.describe())
    }

    fn error(&self, what: &str, e: &postgres::Error) -> StateError {
        StateError::Backend {
            backend: self.describe(),
            message: format!("{what}: {}", pg_message(e)),
        }
    }

    /// Opens a connection and makes sure the tables exist.
    fn open(&self) -> Result<Session, StateError> {
        let mut session =
            Session::connect(&self.config, &self.tls).map_err(|m| StateError::Backend {
                backend: self.describe(),
                message: format!("cannot connect: {m}"),
            })?;
        let setup = setup_sql(&self.schema);
        let schema = self.schema.clone();
        session
            .run(move |c| create_tables(c, &schema, &setup))
            .map_err(|e| self.error("cannot create meshform's tables", &e))?;
        Ok(session)
    }

    /// Runs `f` on the locking session when a lock is held (`true` passed), else on the store's own
    /// connection (opened, or reopened after it broke, as needed).
    fn with_session<T: Send>(
        &self,
        f: impl FnOnce(&mut Client, bool) -> Result<T, postgres::Error> + Send,
    ) -> Result<T, StateError> {
        let mut held = lock(&self.held);
        if let Some(session) = held.as_mut() {
            return session.run(|c| f(c, true)).map_err(|e| self.error("query failed", &e));
        }
        drop(held);
        let mut conn = lock(&self.conn);
        if conn.as_ref().is_none_or(Session::is_closed) {
            *conn = Some(self.open()?);
        }
        let Some(session) = conn.as_mut() else {
            unreachable!("the connection was opened just above")
        };
        session.run(|c| f(c, false)).map_err(|e| self.error("query failed", &e))
    }

    fn write_inner(&self, state: &mut State, checked: bool) -> Result<(), StateError> {
        let states = self.table("states");
        let journal = self.table("journal");
        let workspace = self.workspace.clone();
        let (hi, lo) = key_halves(self.key);
        let path = self.pseudo_path();
        let ours = state.clone();
        let encryption = Arc::clone(&self.encryption);
        let outcome = self.with_session(move |c, locked| {
            let mut tx = c.transaction()?;
            if locked && !holds_lock(&mut tx, hi, lo)? {
                return Ok(Err(LostLock));
            }
            let row = tx.query_opt(
                format!(
                    "SELECT lineage, serial, data FROM {states} WHERE workspace = $1 FOR UPDATE"
                )
                .as_str(),
                &[&workspace],
            )?;
            let mut out = ours;
            let mut previous = None;
            if let Some(row) = &row {
                // A row that cannot be decrypted (no configuration, wrong passphrase) is never
                // overwritten; plaintext replaced by an encrypted write is kept encrypted.
                let lineage: String = row.get(0);
                let data: String = row.get(2);
                let row_serial = u64::try_from(row.get::<_, i64>(1)).unwrap_or(0);
                let serial = row_serial.max(last_journalled(&mut tx, &journal, &workspace)?);
                let refused =
                    |source| Refused(StateError::Encryption { path: path.clone(), source });
                let stored = match encryption.decrypt(data.as_bytes()) {
                    Ok(d) => d,
                    Err(e) => return Ok(Err(refused(e))),
                };
                previous = Some(if encryption.encrypts() && !stored.was_encrypted {
                    match encryption.encrypt(&stored.plaintext, Some(row_serial), Some(&lineage)) {
                        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
                        Err(e) => return Ok(Err(refused(e))),
                    }
                } else {
                    data
                });
                if checked {
                    if lineage != out.lineage {
                        return Ok(Err(Refused(StateError::LineageMismatch {
                            path,
                            stored: lineage,
                            ours: out.lineage,
                        })));
                    }
                    if serial > out.serial {
                        return Ok(Err(Refused(StateError::SerialConflict {
                            path,
                            stored: serial,
                            ours: out.serial,
                        })));
                    }
                } else {
                    out.serial = out.serial.max(serial);
                }
            }
            out.serial += 1;
            out.version = STATE_FORMAT_VERSION;
            out.meshform_version = env!("CARGO_PKG_VERSION").to_owned();
            let bytes = match encode_stored(&encryption, &path, &out) {
                Ok(b) => b,
                Err(e) => return Ok(Err(Refused(e))),
            };
            let data = String::from_utf8_lossy(&bytes).into_owned();
            let serial = i64::try_from(out.serial).unwrap_or(i64::MAX);
            if row.is_some() {
                tx.execute(
                    format!(
                        "UPDATE {states} SET lineage = $2, serial = $3, previous = $5, \
                         data = $4, updated_at = now() WHERE workspace = $1"
                    )
                    .as_str(),
                    &[&workspace, &out.lineage, &serial, &data, &previous],
                )?;
                // The snapshot holds everything journalled.
                tx.execute(
                    format!("DELETE FROM {journal} WHERE workspace = $1").as_str(),
                    &[&workspace],
                )?;
            } else {
                let inserted = tx.execute(
                    format!(
                        "INSERT INTO {states} (workspace, lineage, serial, data) \
                         VALUES ($1, $2, $3, $4) ON CONFLICT (workspace) DO NOTHING"
                    )
                    .as_str(),
                    &[&workspace, &out.lineage, &serial, &data],
                )?;
                if inserted == 0 {
                    // Another writer created the workspace's state since this one read it.
                    return Ok(Err(Refused(StateError::SerialConflict {
                        path,
                        stored: out.serial,
                        ours: out.serial - 1,
                    })));
                }
            }
            tx.commit()?;
            Ok(Ok(out))
        })?;
        match outcome {
            Ok(out) => {
                *state = out;
                Ok(())
            }
            Err(Refused(e)) => Err(e),
            Err(LostLock) => Err(self.lost_lock()),
        }
    }

    fn lost_lock(&self) -> StateError {
        StateError::Backend {
            backend: self.describe(),
            message: "this run no longer holds the state lock (its database session was ended, \
                      e.g. by force-unlock or a dropped connection), so nothing was written. Run \
                      the command again"
                .to_owned(),
        }
    }

    /// The holder of the lock as recorded in the `locks` table, checked against the session that
    /// really holds the advisory lock.
    fn holder_info(&self, session: &mut Session) -> Result<LockInfo, StateError> {
        let locks = self.table("locks");
        let workspace = self.workspace.clone();
        let (hi, lo) = key_halves(self.key);
        let (row, holder_pid) = session
            .run(move |c| {
                let row = c.query_opt(
                    format!("SELECT info, backend_pid FROM {locks} WHERE workspace = $1").as_str(),
                    &[&workspace],
                )?;
                let pid = c.query_opt(
                    "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted \
                     AND classid::bigint = $1 AND objid::bigint = $2 AND objsubid = 1",
                    &[&hi, &lo],
                )?;
                Ok((
                    row.map(|r| (r.get::<_, String>(0), r.get::<_, i32>(1))),
                    pid.map(|r| r.get::<_, i32>(0)),
                ))
            })
            .map_err(|e| self.error("cannot read the lock holder", &e))?;
        let recorded = row.and_then(|(info, pid)| {
            let info = serde_json::from_str::<LockInfo>(&info).ok()?;
            (holder_pid.is_none() || holder_pid == Some(pid)).then_some(info)
        });
        Ok(recorded.unwrap_or_else(|| LockInfo {
            id: "(unknown)".to_owned(),
            operation: match holder_pid {
                Some(pid) => format!(
                    "(unknown: database session {pid} holds the lock but recorded no lock info)"
                ),
                None => "(unknown: the lock was released meanwhile)".to_owned(),
            },
            who: "(unknown)".to_owned(),
            version: "(unknown)".to_owned(),
            created: "(unknown)".to_owned(),
            path: self.describe(),
        }))
    }
}

/// Why a write transaction was rolled back without a database error.
enum WriteRefusal {
    Refused(StateError),
    LostLock,
}
use WriteRefusal::{LostLock, Refused};

impl StateStore for PgStore {
    fn describe(&self) -> String {
        format!(
            "PostgreSQL state (workspace \"{}\", schema \"{}\", {})",
            self.workspace, self.schema, self.target
        )
    }

    fn read(&self) -> Result<Option<State>, StateError> {
        self.read_replayed()
    }

    fn append(
        &self,
        lineage: &str,
        serial: u64,
        changes: &[StateChange],
    ) -> Result<Appended, StateError> {
        self.append_entry(lineage, serial, changes)
    }

    fn write(&self, state: &mut State) -> Result<(), StateError> {
        self.write_inner(state, true)
    }

    fn write_forced(&self, state: &mut State) -> Result<(), StateError> {
        self.write_inner(state, false)
    }

    fn lock(
        &self,
        mut info: LockInfo,
        timeout: Duration,
    ) -> Result<Box<dyn StateLock>, StateError> {
        info.path = self.describe();
        let deadline = Instant::now() + timeout;
        let mut backoff = FIRST_LOCK_BACKOFF;
        let mut session = self.open()?;
        let key = self.key;
        loop {
            let got: bool = session
                .run(move |c| Ok(c.query_one("SELECT pg_try_advisory_lock($1)", &[&key])?.get(0)))
                .map_err(|e| self.error("cannot take the lock", &e))?;
            if got {
                break;
            }
            let now = Instant::now();
            if now >= deadline {
                let holder = self.holder_info(&mut session)?;
                return Err(StateError::Locked {
                    info: Box::new(holder),
                    path: self.pseudo_path(),
                });
            }
            std::thread::sleep(backoff.min(deadline - now));
            backoff = (backoff * 2).min(MAX_LOCK_BACKOFF);
        }
        let locks = self.table("locks");
        let workspace = self.workspace.clone();
        let text = serde_json::to_string(&info)
            .map_err(|source| StateError::Encode { path: self.pseudo_path(), source })?;
        let id = info.id.clone();
        // On failure the session is dropped, which ends the connection and so releases the lock.
        session
            .run(move |c| {
                c.execute(
                    format!(
                        "INSERT INTO {locks} (workspace, lock_id, info, backend_pid) \
                         VALUES ($1, $2, $3, pg_backend_pid()) ON CONFLICT (workspace) DO UPDATE \
                         SET lock_id = EXCLUDED.lock_id, info = EXCLUDED.info, \
                         backend_pid = EXCLUDED.backend_pid, created_at = now()"
                    )
                    .as_str(),
                    &[&workspace, &id, &text],
                )
            })
            .map_err(|e| self.error("cannot record the lock holder", &e))?;
        *lock(&self.held) = Some(session);
        Ok(Box::new(PgLock {
            info,
            held: Arc::clone(&self.held),
            key,
            locks: self.table("locks"),
            workspace: self.workspace.clone(),
        }))
    }

    fn force_unlock(&self, id: &str) -> Result<(), StateError> {
        let locks = self.table("locks");
        let workspace = self.workspace.clone();
        let (hi, lo) = key_halves(self.key);
        let id_owned = id.to_owned();
        enum Found {
            None,
            Other(String),
            Holder { pid: Option<i32>, recorded_pid: i32 },
        }
        let found = self.with_session(move |c, _| {
            let row = c.query_opt(
                format!("SELECT lock_id, info, backend_pid FROM {locks} WHERE workspace = $1")
                    .as_str(),
                &[&workspace],
            )?;
            let Some(row) = row else { return Ok(Found::None) };
            let (lock_id, info, recorded_pid): (String, String, i32) =
                (row.get(0), row.get(1), row.get(2));
            if lock_id != id_owned {
                return Ok(Found::Other(info));
            }
            let pid = c
                .query_opt(
                    "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted \
                     AND classid::bigint = $1 AND objid::bigint = $2 AND objsubid = 1",
                    &[&hi, &lo],
                )?
                .map(|r| r.get::<_, i32>(0));
            Ok(Found::Holder { pid, recorded_pid })
        })?;
        let (pid, recorded_pid) = match found {
            Found::None => return Err(StateError::NotLocked { path: self.pseudo_path() }),
            Found::Other(info) => {
                let holder = serde_json::from_str::<LockInfo>(&info).unwrap_or_else(|_| LockInfo {
                    id: "(unknown)".to_owned(),
                    operation: "(unreadable lock info)".to_owned(),
                    who: "(unknown)".to_owned(),
                    version: "(unknown)".to_owned(),
                    created: "(unknown)".to_owned(),
                    path: self.describe(),
                });
                return Err(StateError::LockIdMismatch {
                    path: self.pseudo_path(),
                    given: id.to_owned(),
                    holder: Box::new(holder),
                });
            }
            Found::Holder { pid, recorded_pid } => (pid, recorded_pid),
        };
        let locks = self.table("locks");
        let workspace = self.workspace.clone();
        let id_owned = id.to_owned();
        let terminate = pid == Some(recorded_pid);
        self.with_session(move |c, _| {
            if terminate {
                c.execute("SELECT pg_terminate_backend($1)", &[&recorded_pid])?;
                // The lock goes when the session has ended; wait for that (a few seconds at most).
                for _ in 0..100 {
                    let gone = c
                        .query_opt(
                            "SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted \
                             AND pid = $1 AND classid::bigint = $2 AND objid::bigint = $3 \
                             AND objsubid = 1",
                            &[&recorded_pid, &hi, &lo],
                        )?
                        .is_none();
                    if gone {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
            c.execute(
                format!("DELETE FROM {locks} WHERE workspace = $1 AND lock_id = $2").as_str(),
                &[&workspace, &id_owned],
            )?;
            Ok(())
        })
    }
}

/// A held lock: the locking session sits in the store's `held` slot until this is dropped.
struct PgLock {
    info: LockInfo,
    held: Arc<Mutex<Option<Session>>>,
    key: i64,
    locks: String,
    workspace: String,
}

impl StateLock for PgLock {
    fn info(&self) -> &LockInfo {
        &self.info
    }
}

impl Drop for PgLock {
    fn drop(&mut self) {
        let Some(mut session) = lock(&self.held).take() else { return };
        let (key, locks, workspace, id) =
            (self.key, self.locks.clone(), self.workspace.clone(), self.info.id.clone());
        // Errors cannot be reported from here; closing the session (below) releases the lock anyway.
        let _ = session.run(move |c| {
            c.execute(
                format!("DELETE FROM {locks} WHERE workspace = $1 AND lock_id = $2").as_str(),
                &[&workspace, &id],
            )?;
            c.execute("SELECT pg_advisory_unlock($1)", &[&key])
        });
    }
}

/// The DDL creating the schema and tables (each statement idempotent).
fn setup_sql(schema: &str) -> String {
    format!(
        "CREATE SCHEMA IF NOT EXISTS \"{schema}\";
         CREATE TABLE IF NOT EXISTS \"{schema}\".states (
             workspace text PRIMARY KEY,
             lineage text NOT NULL,
             serial bigint NOT NULL,
             data text NOT NULL,
             previous text,
             updated_at timestamptz NOT NULL DEFAULT now()
         );
         CREATE TABLE IF NOT EXISTS \"{schema}\".journal (
             workspace text NOT NULL,
             serial bigint NOT NULL,
             data text NOT NULL,
             PRIMARY KEY (workspace, serial)
         );
         CREATE TABLE IF NOT EXISTS \"{schema}\".locks (
             workspace text PRIMARY KEY,
             lock_id text NOT NULL,
             info text NOT NULL,
             backend_pid integer NOT NULL,
             created_at timestamptz NOT NULL DEFAULT now()
         );"
    )
}

/// Creates the tables unless they exist (checked first, so that a role without CREATE rights can
/// use tables an administrator made), serialised by a transaction-level advisory lock so that
/// concurrent first runs do not collide.
fn create_tables(c: &mut Client, schema: &str, setup: &str) -> Result<(), postgres::Error> {
    let exists = |c: &mut Client| -> Result<bool, postgres::Error> {
        let states = format!("\"{schema}\".states");
        let locks = format!("\"{schema}\".locks");
        let journal = format!("\"{schema}\".journal");
        let row = c.query_one(
            "SELECT to_regclass($1) IS NOT NULL AND to_regclass($2) IS NOT NULL \
             AND to_regclass($3) IS NOT NULL",
            &[&states, &locks, &journal],
        )?;
        Ok(row.get(0))
    };
    if exists(c)? {
        return Ok(());
    }
    let mut tx = c.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&lock_key("(setup)", schema)])?;
    tx.batch_execute(setup)?;
    tx.commit()
}

/// The advisory lock key of a workspace: 64 bits of SHA-256 over the schema and the workspace.
fn lock_key(schema: &str, workspace: &str) -> i64 {
    let mut h = Sha256::new();
    h.update(b"meshform state lock\0");
    h.update(schema.as_bytes());
    h.update([0]);
    h.update(workspace.as_bytes());
    let d = h.finalize();
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&d[..8]);
    i64::from_be_bytes(bytes)
}

/// How `pg_locks` shows a bigint advisory key: `classid` holds the high 32 bits, `objid` the low.
fn key_halves(key: i64) -> (i64, i64) {
    let k = key as u64;
    ((k >> 32) as i64, (k & 0xffff_ffff) as i64)
}

fn is_identifier(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(conn_str: &str, env: &[(&str, &str)]) -> PgSettings {
        PgSettings {
            conn_str: conn_str.to_owned(),
            env: env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
            schema_name: String::new(),
            workspace: "default".to_owned(),
        }
    }

    #[test]
    fn environment_fills_what_the_connection_string_leaves_unset() {
        let (cfg, _) = pg_config(&settings(
            "host=db.internal dbname=infra",
            &[("PGHOST", "ignored"), ("PGPORT", "6543"), ("PGUSER", "ci"), ("PGPASSWORD", "pw")],
        ))
        .unwrap();
        assert_eq!(describe_target(&cfg), "database \"infra\" on db.internal:6543");
        assert_eq!(cfg.get_user(), Some("ci"));
        assert_eq!(cfg.get_password(), Some(&b"pw"[..]));
        let (cfg, _) = pg_config(&settings("", &[("USER", "alice")])).unwrap();
        assert_eq!(describe_target(&cfg), "database \"alice\" on localhost:5432");
    }

    #[test]
    fn descriptions_never_show_the_password() {
        let store = PgStore::new(&settings(
            "postgres://ci:s3cret@db:5433/infra",
            &[("PGPASSWORD", "other")],
        ))
        .unwrap();
        let d = store.describe();
        assert!(!d.contains("s3cret") && !d.contains("other"), "{d}");
        assert!(d.contains("workspace \"default\"") && d.contains("db:5433"), "{d}");
        let dbg = format!("{:?}", settings("password=s3cret", &[]));
        assert!(!dbg.contains("s3cret"), "{dbg}");
    }

    #[test]
    fn unsupported_settings_are_refused_with_a_reason() {
        let Err(StateError::Backend { message, .. }) =
            PgStore::new(&PgSettings { schema_name: "a;drop".into(), ..settings("", &[]) })
        else {
            panic!("a schema name with ; must be refused")
        };
        assert!(message.contains("plain identifier"), "{message}");
        let e = pg_config(&settings("sslmode=verify-full", &[])).unwrap_err();
        assert!(e.contains("sslmode=verify-full needs") && e.contains("sslrootcert"), "{e}");
        let e = pg_config(&settings("", &[("PGSSLMODE", "verify-everything")])).unwrap_err();
        assert!(e.contains("invalid sslmode \"verify-everything\""), "{e}");
        let e = pg_config(&settings("sslcert=/c.crt", &[])).unwrap_err();
        assert!(e.contains("sslkey"), "{e}");
        assert!(
            PgStore::new(&PgSettings { workspace: "../x".into(), ..settings("", &[]) }).is_err()
        );
    }

    #[test]
    fn tls_settings_come_from_the_connection_string_then_the_environment() {
        use tls::SslMode;
        let env = [
            ("PGSSLMODE", "disable"),
            ("PGSSLROOTCERT", "/env/ca.pem"),
            ("PGSSLCERT", "/env/c.crt"),
            ("PGSSLKEY", "/env/c.key"),
        ];
        let (cfg, tls) =
            pg_config(&settings("host=db sslmode=verify-ca sslrootcert=/cs/ca.pem", &env)).unwrap();
        assert_eq!(describe_target(&cfg), "database \"(default)\" on db:5432");
        assert_eq!((tls.mode, tls.root_cert.unwrap()), (SslMode::VerifyCa, "/cs/ca.pem".into()));
        assert_eq!(tls.client, Some(("/env/c.crt".into(), "/env/c.key".into())));
        let (_, tls) = pg_config(&settings("", &env[..1])).unwrap();
        assert_eq!(tls.mode, SslMode::Disable);
        let (_, tls) = pg_config(&settings("postgres://db/x?sslmode=require", &[])).unwrap();
        assert_eq!((tls.mode, tls.root_cert), (SslMode::Require, None));
        assert_eq!(pg_config(&settings("", &[])).unwrap().1.mode, SslMode::Prefer, "the default");
    }

    #[test]
    fn lock_keys_differ_per_schema_and_workspace_and_split_like_pg_locks() {
        assert_ne!(lock_key("meshform", "a"), lock_key("meshform", "b"));
        assert_ne!(lock_key("meshform", "a"), lock_key("other", "a"));
        let (hi, lo) = key_halves(-2);
        assert_eq!((hi, lo), (0xffff_ffff, 0xffff_fffe));
    }
}
