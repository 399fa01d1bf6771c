//! The local backend: the state in a file (`meshform.state.json`) beside the configuration.
//!
//! # Files
//!
//! - `<file>`: the state, pretty-printed JSON with a trailing newline. For a given [`State`] the bytes
//!   are always the same.
//! - `<file>.backup`: the version the last write replaced.
//! - `<file>.lock`: exists while a run holds the lock; holds that run's [`LockInfo`] as JSON.
//! - `<file>.journal`: the changes appended since the snapshot in `<file>` ([`crate::journal`],
//!   [`StateStore::append`]): a read replays them, a write of the whole state empties it.
//! - `.<file>.<pid>.<n>.tmp`: a write in progress (left behind only by a crash; never read).
//!
//! The default workspace's file is `meshform.state.json` beside the configuration; another workspace
//! `NAME` keeps the same files in `meshform.state.d/NAME/` ([`LocalStore::for_workspace`]).
//!
//! # Writes
//!
//! A write goes through [`meshform_core::fsio::write_atomic`]: a temporary file in the same directory,
//! flushed to disk (`fsync`) and then renamed over the state file; the directory is then flushed too. Before that, the replaced bytes are
//! written the same way to `<file>.backup`. A crash at any instant therefore leaves the state file
//! either entirely old or entirely new. New files get mode `0600` on Unix: state holds secrets in
//! cleartext.
//!
//! # Encryption
//!
//! [`LocalStore::with_encryption`] makes the state and its backup [`crate::encryption`] envelopes
//! (serial and lineage in clear). A state that cannot be decrypted is never overwritten: every write
//! first reads the stored state. The first encrypted write after plaintext (through an `unencrypted`
//! fallback) also encrypts the replaced version it keeps as `<file>.backup`.
//!
//! # Locking
//!
//! The lock is an OS advisory lock ([`File::try_lock`], `flock(2)` on Unix) on `<file>.lock`, held for
//! the lifetime of the guard. Such a lock belongs to an open file, not to a process, so two
//! [`LocalStore`]s in one process exclude each other too; and the OS releases it when its holder dies,
//! so a lock file left by a killed run is simply taken over by the next one. Dropping the guard removes
//! the lock file and then releases the lock. Whoever takes a lock checks afterwards that the file it
//! locked is still the one at `<file>.lock` (and starts over otherwise), so the removal cannot let two
//! runs in at once.
//!
//! `flock` only excludes processes on one machine; a state directory shared over a network
//! filesystem needs a remote backend.
//!
//! [`force_unlock`](StateStore::force_unlock) removes `<file>.lock` when its recorded id is the one
//! given, **even if a live process on this machine still holds the OS lock** on it (a hung run): that
//! process keeps a lock on a file that no longer has a name, the next run creates a fresh lock file and
//! proceeds, and the hung run's guard, when it is finally dropped, leaves the new lock file alone.
//! Use it only when the holder is known to be stuck; a killed run needs no force-unlock here.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use meshform_core::fsio::{self, parent_dir};

use crate::encryption::{is_encrypted, Encryption, Target};
use crate::format::{State, STATE_FORMAT_VERSION};
use crate::journal::{replay, JournalEntry, StateChange};
use crate::local_journal::JournalFile;
use crate::store::{Appended, LockInfo, StateError, StateLock, StateStore};

/// The default name of the local state file.
pub const DEFAULT_STATE_FILE: &str = "meshform.state.json";

/// The directory (beside the configuration) holding the states of workspaces other than `default`.
pub const WORKSPACES_DIR: &str = "meshform.state.d";

/// First wait between lock attempts; doubled after each until [`MAX_LOCK_BACKOFF`].
const FIRST_LOCK_BACKOFF: Duration = Duration::from_secs(1);
const MAX_LOCK_BACKOFF: Duration = Duration::from_secs(16);

/// A state kept in a local file.
#[derive(Clone, Debug)]
pub struct LocalStore {
    path: PathBuf,
    /// Create the state file's directory on first write (a workspace's `meshform.state.d/NAME/`);
    /// otherwise a missing directory is an error (a mistyped path).
    create_dir: bool,
    /// How the state and its backup are encrypted at rest (none by default).
    encryption: Arc<Encryption>,
    /// `<file>.journal`, shared by the clones of this store.
    journal: Arc<JournalFile>,
}

impl LocalStore {
    /// A store for the state file at `path` (nothing is touched until it is used).
    pub fn new(path: PathBuf) -> LocalStore {
        LocalStore {
            journal: Arc::new(JournalFile::new(with_suffix(&path, ".journal"))),
            path,
            create_dir: false,
            encryption: Arc::new(Encryption::none(Target::State)),
        }
    }

    /// This store with the state (and its backup) encrypted at rest as `encryption` says.
    pub fn with_encryption(mut self, encryption: Arc<Encryption>) -> LocalStore {
        self.encryption = encryption;
        self
    }

    /// The store of a workspace's state in the configuration directory `dir`: `meshform.state.json`
    /// for the default workspace, `meshform.state.d/<NAME>/meshform.state.json` for others.
    pub fn for_workspace(dir: &Path, workspace: &str) -> Result<LocalStore, StateError> {
        crate::store::check_workspace_name(workspace)?;
        Ok(if workspace == crate::store::DEFAULT_WORKSPACE {
            LocalStore::new(dir.join(DEFAULT_STATE_FILE))
        } else {
            LocalStore {
                create_dir: true,
                ..LocalStore::new(dir.join(WORKSPACES_DIR).join(workspace).join(DEFAULT_STATE_FILE))
            }
        })
    }

    /// The workspaces with a state in the configuration directory `dir`, sorted (`default` always).
    pub fn workspaces(dir: &Path) -> Result<Vec<String>, StateError> {
        let mut out = vec![crate::store::DEFAULT_WORKSPACE.to_owned()];
        let root = dir.join(WORKSPACES_DIR);
        let entries = match fs::read_dir(&root) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(StateError::Io { path: root, source: e }),
        };
        for entry in entries {
            let entry = entry.map_err(StateError::io(&root))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if crate::store::check_workspace_name(&name).is_ok()
                && entry.path().join(DEFAULT_STATE_FILE).is_file()
            {
                out.push(name);
            }
        }
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// Renames the state file to `<file>.<suffix>` (and its backup likewise) after its content was
    /// moved to another backend, so that nobody mistakes it for the live state. Returns the new
    /// name, or `None` when there was no state file.
    pub fn retire(&self, suffix: &str) -> Result<Option<PathBuf>, StateError> {
        // Only a state file is renamed (never `-state=/dev/null`'s device).
        if !self.path.is_file() {
            return Ok(None);
        }
        let to = with_suffix(&self.path, &format!(".{suffix}"));
        fs::rename(&self.path, &to).map_err(StateError::io(&self.path))?;
        for other in [self.backup_path(), self.journal_path()] {
            if other.is_file() {
                let other_to = with_suffix(&other, &format!(".{suffix}"));
                fs::rename(&other, &other_to).map_err(StateError::io(&other))?;
            }
        }
        *meshform_core::sync::lock(&self.journal.cursor) = None;
        sync_dir(parent_dir(&self.path))?;
        Ok(Some(to))
    }

    /// The state file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `<file>.backup`: the version the last write replaced.
    pub fn backup_path(&self) -> PathBuf {
        with_suffix(&self.path, ".backup")
    }

    /// `<file>.journal`: the changes appended since the last snapshot.
    pub fn journal_path(&self) -> PathBuf {
        self.journal.path().to_path_buf()
    }

    /// `<file>.lock`: the lock file.
    pub fn lock_path(&self) -> PathBuf {
        with_suffix(&self.path, ".lock")
    }

    /// Reads the state file's bytes; `None` when it does not exist.
    fn read_bytes(&self) -> Result<Option<Vec<u8>>, StateError> {
        match fs::read(&self.path) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StateError::Io { path: self.path.clone(), source: e }),
        }
    }

    /// Reads, decrypts and decodes the stored state with its journal replayed, with the bytes of
    /// the snapshot and the length of the journal's valid prefix.
    fn read_current(&self) -> Result<Option<(Stored, Vec<u8>, u64)>, StateError> {
        let Some(bytes) = self.read_bytes()? else { return Ok(None) };
        let mut stored = decode_stored(&self.encryption, &self.path, &bytes)?;
        let (entries, valid) = self.journal.read(&self.encryption)?;
        replay(&mut stored.state, entries, self.journal.path())?;
        Ok(Some((stored, bytes, valid)))
    }

    /// Creates the directory of a workspace's state file on first use.
    fn ensure_dir(&self) -> Result<(), StateError> {
        let dir = parent_dir(&self.path);
        if self.create_dir && !dir.exists() {
            fs::create_dir_all(dir).map_err(StateError::io(dir))?;
        }
        Ok(())
    }

    fn write_inner(&self, state: &mut State, checked: bool) -> Result<(), StateError> {
        self.ensure_dir()?;
        let original_serial = state.serial;
        // What this store last wrote or appended, unchanged since (a run compacting its own
        // journal): the stored lineage and serial are known, and the snapshot need not be decoded
        // again, only kept as the backup.
        let known = checked && {
            let cursor = meshform_core::sync::lock(&self.journal.cursor);
            cursor.as_ref().is_some_and(|c| {
                c.lineage == state.lineage
                    && c.serial == state.serial
                    && c.still_current(&self.path)
            })
        };
        let backup = match known.then(|| self.read_bytes()).transpose()?.flatten() {
            // Migrating to encryption needs the stored document decrypted: the slow way.
            Some(previous) if !self.encryption.encrypts() || is_encrypted(&previous) => {
                Some(previous)
            }
            _ => match self.checked_backup(state, checked) {
                Ok(b) => b,
                Err(e) => {
                    state.serial = original_serial;
                    return Err(e);
                }
            },
        };
        // The document is encoded from `state` itself (no copy of it), restored if the write fails.
        let before = (state.version, std::mem::take(&mut state.meshform_version));
        state.serial += 1;
        state.version = STATE_FORMAT_VERSION;
        state.meshform_version = env!("CARGO_PKG_VERSION").to_owned();
        let written = encode_stored(&self.encryption, &self.path, state).and_then(|bytes| {
            if let Some(backup) = &backup {
                atomic_write(&self.backup_path(), backup)?;
            }
            atomic_write(&self.path, &bytes)
        });
        if let Err(e) = written {
            state.serial = original_serial;
            (state.version, state.meshform_version) = before;
            return Err(e);
        }
        // The snapshot holds everything journalled: the journal starts again, empty.
        self.journal.truncate_after_snapshot(&self.path, &state.lineage, state.serial);
        Ok(())
    }

    /// Reads and checks the stored state (with its journal) as a write must: lineage and serial
    /// when `checked`, else the serial to write is raised above the stored one. Returns the bytes
    /// to keep as the backup (the replaced plaintext encrypted when migrating to encryption).
    fn checked_backup(
        &self,
        state: &mut State,
        checked: bool,
    ) -> Result<Option<Vec<u8>>, StateError> {
        let Some((stored, previous, _)) = self.read_current()? else { return Ok(None) };
        if checked {
            if stored.state.lineage != state.lineage {
                return Err(StateError::LineageMismatch {
                    path: self.path.clone(),
                    stored: stored.state.lineage,
                    ours: state.lineage.clone(),
                });
            }
            if stored.state.serial > state.serial {
                return Err(StateError::SerialConflict {
                    path: self.path.clone(),
                    stored: stored.state.serial,
                    ours: state.serial,
                });
            }
        } else {
            state.serial = state.serial.max(stored.state.serial);
        }
        // Migrating to encryption: the replaced plaintext is kept encrypted too.
        Ok(Some(if self.encryption.encrypts() && !stored.was_encrypted {
            encrypt_stored(&self.encryption, &self.path, &previous, &stored.state)?
        } else {
            previous
        }))
    }

    fn append_inner(
        &self,
        lineage: &str,
        serial: u64,
        changes: &[StateChange],
    ) -> Result<Appended, StateError> {
        let mut cursor = meshform_core::sync::lock(&self.journal.cursor);
        let continues = cursor.as_ref().is_some_and(|c| {
            c.lineage == lineage && c.serial == serial && c.still_current(&self.path)
        });
        if !continues {
            *cursor = None;
            // Check what is stored (the serial with its journal) as a write would, and find
            // where the valid journal ends.
            let Some((Stored { state: stored, .. }, _, valid)) = self.read_current()? else {
                return Ok(Appended::NeedsSnapshot);
            };
            if stored.lineage != lineage {
                return Err(StateError::LineageMismatch {
                    path: self.path.clone(),
                    stored: stored.lineage,
                    ours: lineage.to_owned(),
                });
            }
            if stored.serial > serial {
                return Err(StateError::SerialConflict {
                    path: self.path.clone(),
                    stored: stored.serial,
                    ours: serial,
                });
            }
            if stored.serial < serial {
                // Entries must follow the stored serial without a gap.
                return Ok(Appended::NeedsSnapshot);
            }
            *cursor = Some(self.journal.open(&self.path, valid, lineage, serial)?);
        }
        let Some(c) = cursor.as_mut() else { return Ok(Appended::NeedsSnapshot) };
        let entry = JournalEntry::next(lineage, serial, changes.to_vec());
        if let Err(e) = self.journal.append(c, &self.encryption, &entry) {
            // The next append reads the journal again and overwrites what this one left.
            *cursor = None;
            return Err(e);
        }
        Ok(Appended::Journalled { serial: entry.serial })
    }

    /// One attempt at the OS lock. `Ok(None)` when another open file holds it.
    fn try_lock_file(&self) -> Result<Option<File>, StateError> {
        let lock_path = self.lock_path();
        // Taking the lock and finding that the file was meanwhile removed (its holder released it)
        // makes us start over; that can only happen a few times in a row under heavy contention.
        for _ in 0..64 {
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&lock_path)
                .map_err(StateError::io(&lock_path))?;
            match file.try_lock() {
                Ok(()) => {}
                Err(fs::TryLockError::WouldBlock) => return Ok(None),
                Err(fs::TryLockError::Error(e)) => {
                    return Err(StateError::Io { path: lock_path, source: e })
                }
            }
            if is_same_file(&file, &lock_path).map_err(StateError::io(&lock_path))? {
                return Ok(Some(file));
            }
        }
        Ok(None)
    }

    /// The holder's info, read from the lock file. A holder writes it just after taking the lock, so
    /// an empty or partial file is read again a few times before giving up.
    fn holder_info(&self) -> LockInfo {
        let lock_path = self.lock_path();
        for attempt in 0..10 {
            if let Ok(text) = fs::read_to_string(&lock_path) {
                if let Ok(info) = serde_json::from_str::<LockInfo>(&text) {
                    return info;
                }
            }
            if attempt < 9 {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        LockInfo {
            id: "(unknown)".to_owned(),
            operation: "(unknown: the lock file holds no lock info)".to_owned(),
            who: "(unknown)".to_owned(),
            version: "(unknown)".to_owned(),
            created: "(unknown)".to_owned(),
            path: self.path.display().to_string(),
        }
    }
}

impl StateStore for LocalStore {
    fn describe(&self) -> String {
        format!("local state file {}", self.path.display())
    }

    fn read(&self) -> Result<Option<State>, StateError> {
        Ok(self.read_current()?.map(|(s, _, _)| s.state))
    }

    fn write(&self, state: &mut State) -> Result<(), StateError> {
        self.write_inner(state, true)
    }

    fn write_forced(&self, state: &mut State) -> Result<(), StateError> {
        self.write_inner(state, false)
    }

    fn append(
        &self,
        lineage: &str,
        serial: u64,
        changes: &[StateChange],
    ) -> Result<Appended, StateError> {
        self.append_inner(lineage, serial, changes)
    }

    fn lock(
        &self,
        mut info: LockInfo,
        timeout: Duration,
    ) -> Result<Box<dyn StateLock>, StateError> {
        info.path = self.path.display().to_string();
        self.ensure_dir()?;
        let deadline = Instant::now() + timeout;
        let mut backoff = FIRST_LOCK_BACKOFF;
        let file = loop {
            if let Some(file) = self.try_lock_file()? {
                break file;
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(StateError::Locked {
                    info: Box::new(self.holder_info()),
                    path: self.path.clone(),
                });
            }
            std::thread::sleep(backoff.min(deadline - now));
            backoff = (backoff * 2).min(MAX_LOCK_BACKOFF);
        };
        let lock_path = self.lock_path();
        let guard = LocalLock { file, lock_path, info };
        // On failure the guard is dropped here, which removes the lock file and releases the lock.
        guard.record_info()?;
        Ok(Box::new(guard))
    }

    fn force_unlock(&self, id: &str) -> Result<(), StateError> {
        let lock_path = self.lock_path();
        let mut file = match File::open(&lock_path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(StateError::NotLocked { path: self.path.clone() })
            }
            Err(e) => return Err(StateError::Io { path: lock_path, source: e }),
        };
        let mut text = String::new();
        file.read_to_string(&mut text).map_err(StateError::io(&lock_path))?;
        let Ok(holder) = serde_json::from_str::<LockInfo>(&text) else {
            // No recorded holder: a run between taking the lock and describing it, or an empty file
            // that the next run takes over anyway.
            return Err(StateError::NotLocked { path: self.path.clone() });
        };
        if holder.id != id {
            return Err(StateError::LockIdMismatch {
                path: self.path.clone(),
                given: id.to_owned(),
                holder: Box::new(holder),
            });
        }
        if is_same_file(&file, &lock_path).map_err(StateError::io(&lock_path))? {
            match fs::remove_file(&lock_path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(StateError::Io { path: lock_path, source: e }),
            }
        }
        Ok(())
    }
}

/// The guard of a local lock: holds the OS lock on `<file>.lock` until dropped.
struct LocalLock {
    file: File,
    lock_path: PathBuf,
    info: LockInfo,
}

impl LocalLock {
    /// Writes the lock info into the (locked) lock file, replacing a dead holder's.
    fn record_info(&self) -> Result<(), StateError> {
        let mut text = serde_json::to_string_pretty(&self.info)
            .map_err(|source| StateError::Encode { path: self.lock_path.clone(), source })?;
        text.push('\n');
        let mut f = &self.file;
        f.set_len(0).map_err(StateError::io(&self.lock_path))?;
        f.write_all(text.as_bytes()).map_err(StateError::io(&self.lock_path))?;
        Ok(())
    }
}

impl StateLock for LocalLock {
    fn info(&self) -> &LockInfo {
        &self.info
    }
}

impl Drop for LocalLock {
    fn drop(&mut self) {
        // Remove the file while still holding the lock, unless a force-unlock already replaced it
        // with another run's. Errors cannot be reported from here; a leftover lock file is harmless
        // (the next run takes it over once the OS lock is released below).
        if is_same_file(&self.file, &self.lock_path).unwrap_or(false) {
            let _ = fs::remove_file(&self.lock_path);
        }
        let _ = self.file.unlock();
    }
}

/// Decodes a state document, checking its format version before its shape, so that a newer
/// meshform's state is reported as such rather than as corrupt. `path` is only used in errors.
pub fn decode_state(path: &Path, bytes: &[u8]) -> Result<State, StateError> {
    let corrupt = |message: String| StateError::Corrupt { path: path.to_owned(), message };
    let text = std::str::from_utf8(bytes).map_err(|e| {
        corrupt(format!("it is not UTF-8 text (invalid byte at offset {})", e.valid_up_to()))
    })?;
    if text.trim().is_empty() {
        return Err(corrupt("the file is empty".to_owned()));
    }
    let describe = |e: &serde_json::Error| {
        let what = match e.classify() {
            serde_json::error::Category::Eof => "the JSON ends early (truncated file?)",
            serde_json::error::Category::Syntax => "invalid JSON",
            serde_json::error::Category::Data => "not a meshform state document",
            serde_json::error::Category::Io => "read error",
        };
        format!("{what}: {e}")
    };
    let doc: serde_json::Value = serde_json::from_str(text).map_err(|e| corrupt(describe(&e)))?;
    let version = match doc.get("version") {
        Some(v) => v
            .as_u64()
            .ok_or_else(|| corrupt(format!("\"version\" must be a positive integer, found {v}")))?,
        None if doc.is_object() => {
            return Err(corrupt("it has no \"version\" field".to_owned()));
        }
        None => return Err(corrupt("it is not a JSON object".to_owned())),
    };
    if version == 0 {
        return Err(corrupt("\"version\" 0 is not a state format version".to_owned()));
    }
    if version > u64::from(STATE_FORMAT_VERSION) {
        return Err(StateError::UnsupportedVersion {
            path: path.to_owned(),
            found: version,
            supported: STATE_FORMAT_VERSION,
        });
    }
    serde_json::from_str(text).map_err(|e| corrupt(describe(&e)))
}

/// A stored state, decrypted and decoded.
#[derive(Debug)]
pub struct Stored {
    pub state: State,
    /// Whether it was stored encrypted (false: plaintext, read through `unencrypted` or no
    /// configuration).
    pub was_encrypted: bool,
}

/// Decrypts (as `encryption` allows) and decodes a stored state document, checking that the
/// clear-text serial and lineage of an envelope are the document's. `path` is only used in errors.
pub fn decode_stored(
    encryption: &Encryption,
    path: &Path,
    bytes: &[u8],
) -> Result<Stored, StateError> {
    let d = encryption
        .decrypt(bytes)
        .map_err(|source| StateError::Encryption { path: path.to_owned(), source })?;
    let state = decode_state(path, &d.plaintext)?;
    let serial_ok = d.serial.is_none_or(|s| s == state.serial);
    let lineage_ok = d.lineage.as_ref().is_none_or(|l| *l == state.lineage);
    if !(serial_ok && lineage_ok) {
        return Err(StateError::Corrupt {
            path: path.to_owned(),
            message: "the clear-text serial or lineage of the encrypted state differs from the \
                      encrypted document's"
                .to_owned(),
        });
    }
    Ok(Stored { state, was_encrypted: d.was_encrypted })
}

/// Encodes a state document as it is stored: [`encode_state`], then encrypted as `encryption`
/// says (serial and lineage in clear).
pub fn encode_stored(
    encryption: &Encryption,
    path: &Path,
    state: &State,
) -> Result<Vec<u8>, StateError> {
    let bytes = encode_state(state)
        .map_err(|source| StateError::Encode { path: path.to_owned(), source })?;
    encrypt_stored(encryption, path, &bytes, state)
}

/// Encrypts the encoded document `bytes` of `state` as `encryption` says.
pub(crate) fn encrypt_stored(
    encryption: &Encryption,
    path: &Path,
    bytes: &[u8],
    state: &State,
) -> Result<Vec<u8>, StateError> {
    encryption
        .encrypt(bytes, Some(state.serial), Some(&state.lineage))
        .map_err(|source| StateError::Encryption { path: path.to_owned(), source })
}

/// Encodes a state document as it is stored: pretty-printed JSON with a trailing newline.
pub fn encode_state(state: &State) -> Result<Vec<u8>, serde_json::Error> {
    let mut bytes = serde_json::to_vec_pretty(state)?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// `path` with `suffix` appended to its file name.
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Replaces `target` with `bytes` through [`fsio::write_atomic`] (a crash leaves either the old or
/// the new content), mode `0600`: state holds secrets (in cleartext unless encrypted).
fn atomic_write(target: &Path, bytes: &[u8]) -> Result<(), StateError> {
    fsio::write_atomic(target, bytes, Some(0o600)).map_err(StateError::io(target))
}

/// Flushes a directory's entries (renames) to disk.
fn sync_dir(dir: &Path) -> Result<(), StateError> {
    fsio::sync_dir(dir).map_err(StateError::io(dir))
}

/// Whether the open `file` is the file currently at `path` (false when `path` no longer exists).
fn is_same_file(file: &File, path: &Path) -> io::Result<bool> {
    let on_disk = match fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let open = file.metadata()?;
        Ok(open.dev() == on_disk.dev() && open.ino() == on_disk.ino())
    }
    #[cfg(not(unix))]
    {
        let _ = (file, on_disk);
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffixes_and_parent() {
        assert_eq!(with_suffix(Path::new("a/s.json"), ".lock"), PathBuf::from("a/s.json.lock"));
        assert_eq!(parent_dir(Path::new("s.json")), Path::new("."));
        assert_eq!(parent_dir(Path::new("a/s.json")), Path::new("a"));
    }

    #[test]
    fn decode_reports_line_and_column() {
        let e = decode_state(Path::new("s.json"), b"{\n  \"version\": 1,\n  oops\n}").unwrap_err();
        let m = e.to_string();
        assert!(m.contains("line 3") && m.contains("column 3"), "{m}");
    }

    #[test]
    fn decode_checks_version_before_shape() {
        let e = decode_state(Path::new("s.json"), br#"{"version": 7, "new_field": true}"#);
        assert!(matches!(e, Err(StateError::UnsupportedVersion { found: 7, supported: 1, .. })));
        let e = decode_state(Path::new("s.json"), br#"{"version": 0}"#);
        assert!(matches!(e, Err(StateError::Corrupt { .. })));
        let e = decode_state(Path::new("s.json"), b"[1]");
        assert!(matches!(e, Err(StateError::Corrupt { .. })));
    }

    /// A document edited by hand: lists in any order are read sorted; an instance listed twice is
    /// refused with where it is, never one copy silently dropped.
    #[test]
    fn decode_sorts_lists_and_refuses_an_instance_listed_twice() {
        let doc = |keys: &str| {
            format!(
                r#"{{"version": 1, "meshform_version": "0", "serial": 1, "lineage": "l",
  "resources": [
    {{"mode": "managed", "type": "t", "name": "b", "provider": "provider.t",
      "instances": [{{"attributes": {{}}}}]}},
    {{"mode": "managed", "type": "t", "name": "a", "provider": "provider.t",
      "instances": [{keys}]}}
  ]}}"#
            )
        };
        let two = r#"{"index_key": 2, "attributes": {}}, {"index_key": 1, "attributes": {}}"#;
        let state = decode_state(Path::new("s.json"), doc(two).as_bytes()).unwrap();
        let addrs: Vec<String> = state.instances().map(|(a, _, _)| a.to_string()).collect();
        assert_eq!(addrs, ["t.a[1]", "t.a[2]", "t.b"]);

        let twice = r#"{"index_key": 1, "attributes": {}}, {"index_key": 1, "attributes": {}}"#;
        let m = decode_state(Path::new("s.json"), doc(twice).as_bytes()).unwrap_err().to_string();
        assert!(m.contains("instance [1] is listed twice") && m.contains("line 6"), "{m}");
    }

    #[test]
    fn encode_is_deterministic_and_ends_with_newline() {
        let s = State::new();
        let a = encode_state(&s).unwrap();
        assert_eq!(a, encode_state(&s.clone()).unwrap());
        assert!(a.ends_with(b"}\n"));
        assert_eq!(decode_state(Path::new("s"), &a).unwrap(), s);
    }
}
