//! Where state is kept: the [`StateStore`] trait every backend implements, run locks ([`StateLock`],
//! [`LockInfo`]) and [`StateError`], the errors every state operation returns.
//!
//! Every backend follows the same rules: a write is all-or-nothing and bumps the serial, a document that
//! cannot be understood is reported and never overwritten, and a run holds the lock from its first read
//! to its last write.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::format::State;
use crate::journal::StateChange;

/// A place that keeps one state document.
pub trait StateStore: Send + Sync {
    /// Human description, e.g. "local state file meshform.state.json".
    fn describe(&self) -> String;

    /// Reads the current state; `Ok(None)` when none exists yet.
    fn read(&self) -> Result<Option<State>, StateError>;

    /// Atomically writes `state` after bumping its serial (`state.serial += 1` is done here, on the
    /// caller's value, and only when the write succeeds; `version` and `meshform_version` are set to
    /// this build's).
    ///
    /// Refuses ([`StateError::LineageMismatch`] / [`StateError::SerialConflict`]) when the stored state
    /// has a different lineage or a serial newer than `state.serial` before the bump (a lost update).
    fn write(&self, state: &mut State) -> Result<(), StateError>;

    /// Saves `changes` as one journal entry after the stored state at `lineage` and `serial`
    /// ([`crate::journal`]), durably when it returns, in time that does not grow with the state, and
    /// returns the serial the stored state now has (`serial + 1`). Reads replay the journal; a
    /// [`write`](StateStore::write) (a compaction) folds it into the snapshot and empties it.
    ///
    /// The lineage and serial are checked as a write checks them (against the stored state with its
    /// journal). [`Appended::NeedsSnapshot`] asks the caller to write the whole state instead: a
    /// backend without a journal (the default), or nothing stored yet to append to.
    fn append(
        &self,
        lineage: &str,
        serial: u64,
        changes: &[StateChange],
    ) -> Result<Appended, StateError> {
        let _ = (lineage, serial, changes);
        Ok(Appended::NeedsSnapshot)
    }

    /// Like [`write`](StateStore::write) but without the lineage and serial checks, for
    /// `meshform state push --force`. The serial written is `max(stored serial, state.serial) + 1`, so
    /// that any run still holding the replaced state gets a [`StateError::SerialConflict`] rather than
    /// silently overwriting this one. Backends that cannot do this return
    /// [`StateError::Unsupported`] (the default).
    fn write_forced(&self, state: &mut State) -> Result<(), StateError> {
        let _ = state;
        Err(StateError::Unsupported { backend: self.describe(), operation: "forced writes" })
    }

    /// Takes the lock for a whole run; waits up to `timeout` retrying with backoff (1 s doubling up to
    /// 16 s, but never sleeping past the deadline; with a zero timeout, fails at once). Fails with
    /// [`StateError::Locked`] carrying the holder's [`LockInfo`]. The returned guard releases the lock
    /// on drop. The store fills in `info.path`.
    fn lock(&self, info: LockInfo, timeout: Duration) -> Result<Box<dyn StateLock>, StateError>;

    /// Removes a lock left by a killed run, if its id matches (else [`StateError::LockIdMismatch`]
    /// showing the real holder; [`StateError::NotLocked`] when there is no lock).
    fn force_unlock(&self, id: &str) -> Result<(), StateError>;
}

/// What [`StateStore::append`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Appended {
    /// The changes are saved; the stored state is at this serial.
    Journalled { serial: u64 },
    /// Nothing was saved: write the whole state (it holds the changes).
    NeedsSnapshot,
}

/// A held run lock; dropping it releases the lock.
pub trait StateLock: Send + Sync {
    fn info(&self) -> &LockInfo;
}

impl fmt::Debug for dyn StateLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StateLock").field("info", self.info()).finish()
    }
}

/// Who holds a lock, stored beside the lock so that another run can say who is in its way.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LockInfo {
    /// A fresh UUID; `meshform force-unlock <ID>` names it.
    pub id: String,
    /// What the holder is doing: `apply`, `plan`, `state rm`…
    pub operation: String,
    /// Who is doing it, e.g. `alice@build-3`.
    pub who: String,
    /// The meshform version of the holder.
    pub version: String,
    /// When the lock was taken (RFC 3339).
    pub created: String,
    /// The state the lock protects (filled in by the store).
    pub path: String,
}

impl LockInfo {
    /// Lock info with a fresh UUID id, the current time and this crate's version; `path` is left empty
    /// for the store to fill in.
    pub fn new(operation: &str, who: &str) -> LockInfo {
        LockInfo {
            id: uuid::Uuid::new_v4().to_string(),
            operation: operation.to_owned(),
            who: who.to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            created: now_rfc3339(),
            path: String::new(),
        }
    }
}

impl fmt::Display for LockInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ID {}, operation {:?}, by {:?}, since {} (meshform {})",
            self.id, self.operation, self.who, self.created, self.version
        )
    }
}

/// The current time in RFC 3339 (UTC).
pub(crate) fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| "unknown time".to_owned())
}

/// Why a state operation failed. Messages say what happened, to which file, and what to do next.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    #[error(
        "I/O error on {}: {source}; check that the directory exists and that you may read and write \
         it (a failed write never replaces the state file)",
        path.display()
    )]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error(
        "state file {} is corrupt: {message}. The file was left untouched; {}.backup holds the \
         previous version: inspect both and copy the backup over the state file if it is right",
        path.display(),
        path.display()
    )]
    Corrupt { path: PathBuf, message: String },

    #[error(
        "state file {} has format version {found}, but this meshform understands up to version \
         {supported}: it was written by a newer meshform. Upgrade meshform; the file was left untouched",
        path.display()
    )]
    UnsupportedVersion { path: PathBuf, found: u64, supported: u32 },

    #[error(
        "state {} is locked by another run: {info}. Wait for that run to finish (or pass a lock \
         timeout); if that run is dead, remove its lock with `meshform force-unlock {}`",
        path.display(),
        info.id
    )]
    Locked { info: Box<LockInfo>, path: PathBuf },

    #[error(
        "cannot unlock {}: the lock is held with a different ID than {given:?}: {holder}. Check that \
         run before removing its lock, then run `meshform force-unlock {}`",
        path.display(),
        holder.id
    )]
    LockIdMismatch { path: PathBuf, given: String, holder: Box<LockInfo> },

    #[error("cannot unlock {}: it is not locked; nothing to do", path.display())]
    NotLocked { path: PathBuf },

    #[error(
        "refusing to write state {}: it belongs to lineage {stored} but the state being written has \
         lineage {ours}, so they are different histories. Check that you are using the right \
         directory and state file; to replace the stored state anyway use `meshform state push --force`",
        path.display()
    )]
    LineageMismatch { path: PathBuf, stored: String, ours: String },

    #[error(
        "refusing to write state {}: it is at serial {stored}, newer than the serial {ours} this run \
         started from, so another run changed it meanwhile and writing would lose that update. Run \
         the command again to start from the current state",
        path.display()
    )]
    SerialConflict { path: PathBuf, stored: u64, ours: u64 },

    #[error("cannot encode the state for {}: {source}; this is a bug in meshform", path.display())]
    Encode {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },

    /// The stored document is encrypted and cannot be decrypted (no configuration, wrong
    /// passphrase), or is plaintext where the configuration allows none.
    #[error("state {}: {source}. The stored state was left untouched", path.display())]
    Encryption {
        path: PathBuf,
        #[source]
        source: crate::encryption::EncryptionError,
    },

    #[error("{backend} does not support {operation}")]
    Unsupported { backend: String, operation: &'static str },

    /// A remote backend failed (connection, query); the message says what to check.
    #[error("{backend}: {message}")]
    Backend { backend: String, message: String },

    #[error(
        "invalid workspace name {name:?}: use letters, digits, '-', '_' and '.', not starting with \
         '.', at most 90 characters"
    )]
    InvalidWorkspace { name: String },
}

/// The workspace used when none is named.
pub const DEFAULT_WORKSPACE: &str = "default";

/// Checks a workspace name (it becomes a directory name of the local backend and a key of remote
/// ones).
pub fn check_workspace_name(name: &str) -> Result<(), StateError> {
    let ok = !name.is_empty()
        && name.len() <= 90
        && !name.starts_with('.')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(StateError::InvalidWorkspace { name: name.to_owned() })
    }
}

impl StateError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> StateError {
        let path = path.into();
        move |source| StateError::Io { path, source }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_info_new_fills_fields() {
        let a = LockInfo::new("apply", "alice@host");
        let b = LockInfo::new("apply", "alice@host");
        assert_ne!(a.id, b.id);
        assert_eq!(a.operation, "apply");
        assert_eq!(a.who, "alice@host");
        assert_eq!(a.version, env!("CARGO_PKG_VERSION"));
        assert!(a.path.is_empty());
        time::OffsetDateTime::parse(&a.created, &time::format_description::well_known::Rfc3339)
            .expect("created is RFC 3339");
    }

    #[test]
    fn locked_message_names_holder_and_next_step() {
        let info = LockInfo::new("apply", "bob@ci");
        let e = StateError::Locked { info: Box::new(info.clone()), path: "s.json".into() };
        let m = e.to_string();
        for part in [&info.id, "apply", "bob@ci", &info.created, "s.json"] {
            assert!(m.contains(part), "{m} lacks {part}");
        }
        assert!(m.contains(&format!("meshform force-unlock {}", info.id)), "{m}");
    }

    #[test]
    fn workspace_names() {
        for ok in ["default", "cn-hangzhou", "eu_west.1"] {
            assert!(check_workspace_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", ".hidden", "a/b", "..", "x y", &"a".repeat(91)] {
            assert!(check_workspace_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn corrupt_message_mentions_backup() {
        let e = StateError::Corrupt { path: "d/s.json".into(), message: "bad".into() };
        let m = e.to_string();
        assert!(m.contains("d/s.json.backup") && m.contains("left untouched"), "{m}");
    }
}
