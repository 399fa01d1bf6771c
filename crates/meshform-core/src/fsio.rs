//! The one way meshform replaces a file: [`write_atomic`] (a uniquely named temporary file in the same
//! directory, written and fsynced, renamed over the target, then the directory fsynced), so a crash
//! leaves either the old content or the new one, and concurrent writers never share a temporary file.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Replaces `target` with `bytes` atomically. `mode` sets the Unix permission bits of the new file
/// (before it becomes visible under `target`); `None` leaves the process's default (0666 less umask).
/// The parent directory must exist. On failure the temporary file is removed and `target` is untouched.
///
/// A target that exists and is neither a file nor a directory (`/dev/null`, `/dev/stdout`, a named
/// pipe) is written through, never replaced: renaming over it would turn a device into a file.
///
/// A symbolic link is followed: the file it points to is replaced and the link stays (a state
/// file linked to a shared location keeps being written there).
pub fn write_atomic(target: &Path, bytes: &[u8], mode: Option<u32>) -> io::Result<()> {
    if fs::metadata(target).is_ok_and(|m| !m.is_file() && !m.is_dir()) {
        return OpenOptions::new().write(true).open(target)?.write_all(bytes);
    }
    let linked = link_target(target);
    let target = linked.as_deref().unwrap_or(target);
    let dir = parent_dir(target);
    let (tmp, mut file) = create_temporary(dir, target, mode)?;
    let written = file.write_all(bytes).and_then(|()| file.sync_all());
    drop(file);
    let written = written.and_then(|()| fs::rename(&tmp, target));
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    sync_dir(dir)
}

/// Where the symbolic link `path` points (resolved, or joined to the link's directory when the
/// link dangles); `None` when `path` is not a link.
fn link_target(path: &Path) -> Option<PathBuf> {
    if !fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
        return None;
    }
    fs::canonicalize(path)
        .ok()
        .or_else(|| fs::read_link(path).ok().map(|to| parent_dir(path).join(to)))
}

/// Flushes a directory's entries (a rename, a removal) to disk. A no-op where directories cannot be
/// opened for syncing (Windows).
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        File::open(dir).and_then(|d| d.sync_all())?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// The directory holding `path` (`.` for a bare file name).
pub fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Creates a new, empty temporary file beside `target` whose name no other writer (thread or process)
/// uses: `.NAME.PID.N.tmp`, created with `create_new` so a leftover from a crashed run is never reused.
fn create_temporary(dir: &Path, target: &Path, mode: Option<u32>) -> io::Result<(PathBuf, File)> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    loop {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let tmp = dir.join(format!(".{name}.{}.{n}.tmp", std::process::id()));
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        if let Some(mode) = mode {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(mode);
        }
        #[cfg(not(unix))]
        let _ = mode;
        match options.open(&tmp) {
            Ok(file) => {
                // `mode` at creation is filtered by the umask; set it exactly, as the caller asked.
                #[cfg(unix)]
                if let Some(mode) = mode {
                    use std::os::unix::fs::PermissionsExt;
                    file.set_permissions(fs::Permissions::from_mode(mode))?;
                }
                return Ok((tmp, file));
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_content_and_leaves_no_temporary_file() {
        let dir = tempdir();
        let target = dir.join("state.json");
        write_atomic(&target, b"one", None).unwrap();
        write_atomic(&target, b"two", None).unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"two");
        let names: Vec<_> = fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, vec![std::ffi::OsString::from("state.json")]);
    }

    #[cfg(unix)]
    #[test]
    fn sets_the_requested_mode_exactly() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempdir();
        let target = dir.join("key.pem");
        write_atomic(&target, b"secret", Some(0o600)).unwrap();
        assert_eq!(fs::metadata(&target).unwrap().permissions().mode() & 0o777, 0o600);
        write_atomic(&target, b"public", Some(0o644)).unwrap();
        assert_eq!(fs::metadata(&target).unwrap().permissions().mode() & 0o777, 0o644);
    }

    #[test]
    fn concurrent_writers_never_collide() {
        let dir = tempdir();
        let target = dir.join("shared");
        let threads: Vec<_> = (0..8)
            .map(|i| {
                let target = target.clone();
                std::thread::spawn(move || {
                    for _ in 0..20 {
                        write_atomic(&target, format!("writer {i}").as_bytes(), None).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let content = fs::read_to_string(&target).unwrap();
        assert!(content.starts_with("writer "), "{content}");
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1);
    }

    #[test]
    fn a_missing_directory_is_an_error_and_creates_nothing() {
        let dir = tempdir();
        let target = dir.join("absent").join("file");
        assert_eq!(write_atomic(&target, b"x", None).unwrap_err().kind(), io::ErrorKind::NotFound);
        assert!(!dir.join("absent").exists());
    }

    /// A named pipe (as `/dev/null` or `/dev/stdout`, not a file): written through and left a pipe.
    #[cfg(unix)]
    #[test]
    fn a_device_or_pipe_is_written_through_not_replaced() {
        use std::os::unix::fs::FileTypeExt;
        let dir = tempdir();
        let fifo = dir.join("pipe");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        if !made.is_ok_and(|s| s.success()) {
            return; // no mkfifo here: nothing to test with
        }
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || fs::read(fifo).unwrap())
        };
        write_atomic(&fifo, b"through the pipe", Some(0o600)).unwrap();
        // Checked before joining: a pipe replaced by a file would leave the reader waiting.
        assert!(fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo(), "still a pipe");
        assert_eq!(reader.join().unwrap(), b"through the pipe");
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1, "no temporary file left");
    }

    /// A state or file reached through a symbolic link: the file it points to is replaced, the link
    /// stays a link.
    #[cfg(unix)]
    #[test]
    fn a_symbolic_link_is_followed_and_kept() {
        let dir = tempdir();
        fs::create_dir(dir.join("shared")).unwrap();
        fs::write(dir.join("shared/state.json"), "old").unwrap();
        let link = dir.join("state.json");
        std::os::unix::fs::symlink("shared/state.json", &link).unwrap();
        write_atomic(&link, b"new", None).unwrap();
        assert!(fs::symlink_metadata(&link).unwrap().file_type().is_symlink(), "still a link");
        assert_eq!(fs::read_to_string(dir.join("shared/state.json")).unwrap(), "new");
        // A link to a file not created yet: the file appears where it points.
        let dangling = dir.join("later.json");
        std::os::unix::fs::symlink("shared/later.json", &dangling).unwrap();
        write_atomic(&dangling, b"made", None).unwrap();
        assert_eq!(fs::read_to_string(dir.join("shared/later.json")).unwrap(), "made");
        assert!(fs::symlink_metadata(&dangling).unwrap().file_type().is_symlink());
    }

    fn tempdir() -> PathBuf {
        static N: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "meshform-fsio-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }
}
