//! The local backend's journal file, `<file>.journal`: framed [`JournalEntry`]s appended after the
//! state file's snapshot and made durable with one `fdatasync` per append (the engine batches the
//! changes of concurrent operations into one append: group commit).
//!
//! An open [`Cursor`] remembers where the valid journal ends and which serial it has reached, so an
//! append costs one write and one flush, whatever the size of the state. Without one (the first
//! append of a process, or after a failed append) the store first reads the state and the journal
//! again, cutting off a torn record left by a crash, so that new records never follow garbage.

use std::fs::{File, OpenOptions};
use std::io::{self, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use meshform_core::fsio;

use crate::encryption::Encryption;
use crate::journal::{encode_frame, scan_frames, JournalEntry};
use crate::store::StateError;

/// Where the next append goes.
#[derive(Debug)]
pub(crate) struct Cursor {
    file: File,
    /// The length of the valid journal.
    len: u64,
    /// The lineage and serial the state has with every entry so far applied.
    pub(crate) lineage: String,
    pub(crate) serial: u64,
    /// The identity of the state file the journal follows.
    snapshot: Option<FileId>,
}

/// A file's device and inode: a state file replaced by another writer has another.
type FileId = (u64, u64);

fn file_id(path: &Path) -> Option<FileId> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
    }
    #[cfg(not(unix))]
    {
        std::fs::metadata(path).ok().map(|m| (m.len(), 0))
    }
}

impl Cursor {
    /// Whether this cursor still describes the files: nobody else appended to the journal, emptied
    /// it or replaced the state file since (two cheap `stat`s, not a read). Under the run lock that
    /// is always so; without it (a forced write by another process) the append is checked again.
    pub(crate) fn still_current(&self, snapshot: &Path) -> bool {
        self.file.metadata().is_ok_and(|m| m.len() == self.len)
            && file_id(snapshot) == self.snapshot
    }
}

/// `<file>.journal` and the cursor of this store's appends.
#[derive(Debug)]
pub(crate) struct JournalFile {
    path: PathBuf,
    pub(crate) cursor: Mutex<Option<Cursor>>,
}

impl JournalFile {
    pub(crate) fn new(path: PathBuf) -> JournalFile {
        JournalFile { path, cursor: Mutex::new(None) }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The entries of the journal's valid prefix, and its length (none when there is no journal).
    pub(crate) fn read(
        &self,
        encryption: &Encryption,
    ) -> Result<(Vec<JournalEntry>, u64), StateError> {
        let bytes = match std::fs::read(&self.path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((Vec::new(), 0)),
            Err(e) => return Err(StateError::Io { path: self.path.clone(), source: e }),
        };
        let (frames, valid) = scan_frames(&bytes);
        let entries = frames
            .into_iter()
            .map(|(_, payload)| JournalEntry::decode(encryption, &self.path, payload))
            .collect::<Result<Vec<_>, _>>()?;
        Ok((entries, valid as u64))
    }

    /// Opens the journal for appends after its valid prefix of `valid` bytes (cutting off a torn
    /// record), at the state's `lineage` and `serial`.
    pub(crate) fn open(
        &self,
        snapshot: &Path,
        valid: u64,
        lineage: &str,
        serial: u64,
    ) -> Result<Cursor, StateError> {
        let io_err = StateError::io(&self.path);
        let existed = self.path.exists();
        let mut options = OpenOptions::new();
        options.write(true).create(true).truncate(false);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let file = options.open(&self.path).map_err(StateError::io(&self.path))?;
        let on_disk = file.metadata().map_err(StateError::io(&self.path))?.len();
        if on_disk != valid {
            file.set_len(valid).map_err(StateError::io(&self.path))?;
            file.sync_data().map_err(StateError::io(&self.path))?;
        }
        if !existed {
            fsio::sync_dir(fsio::parent_dir(&self.path)).map_err(io_err)?;
        }
        let snapshot = file_id(snapshot);
        Ok(Cursor { file, len: valid, lineage: lineage.to_owned(), serial, snapshot })
    }

    /// Appends `entry` (the next serial of the cursor) and flushes it to disk.
    pub(crate) fn append(
        &self,
        cursor: &mut Cursor,
        encryption: &Encryption,
        entry: &JournalEntry,
    ) -> Result<(), StateError> {
        let frame = encode_frame(&entry.encode(encryption, &self.path)?);
        let io_err = StateError::io(&self.path);
        let mut file = &cursor.file;
        // Writes go at the cursor: what a failed append left is overwritten, never followed.
        file.seek(SeekFrom::Start(cursor.len))
            .and_then(|_| file.write_all(&frame))
            .and_then(|()| file.sync_data())
            .map_err(io_err)?;
        cursor.len += frame.len() as u64;
        cursor.serial = entry.serial;
        Ok(())
    }

    /// Empties the journal once a snapshot at `serial` that holds all of it is durable. A journal
    /// that cannot be emptied is harmless (its entries are older than the snapshot and skipped);
    /// the next append then reads it again.
    pub(crate) fn truncate_after_snapshot(&self, snapshot: &Path, lineage: &str, serial: u64) {
        let mut cursor = meshform_core::sync::lock(&self.cursor);
        *cursor = None;
        let file = match OpenOptions::new().write(true).open(&self.path) {
            Ok(f) => f,
            Err(_) => return,
        };
        if file.set_len(0).and_then(|()| file.sync_data()).is_ok() {
            let snapshot = file_id(snapshot);
            *cursor = Some(Cursor { file, len: 0, lineage: lineage.to_owned(), serial, snapshot });
        }
    }
}
