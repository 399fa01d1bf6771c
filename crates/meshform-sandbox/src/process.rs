//! The sandbox as a background process: starting it detached (`sandbox up --detach`: its own
//! process group, output appended to `sandbox.log`) and waiting until it has described itself in
//! `sandbox.json`, finding the one running in a directory, and stopping it (SIGTERM, then SIGKILL
//! after a grace period). Signals are sent with `kill(2)` through rustix, not a `kill` program.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::launch::{Description, DESCRIPTION_FILE};

/// How often a wait looks again (for `sandbox.json`, for a process to exit).
const POLL: Duration = Duration::from_millis(100);

/// The log file of a detached sandbox, in its directory.
pub const LOG_FILE: &str = "sandbox.log";

/// Why a detached sandbox did not start.
#[derive(Debug, thiserror::Error)]
pub enum DetachError {
    #[error("cannot create {}: {source}", dir.display())]
    CreateDir { dir: PathBuf, source: std::io::Error },
    #[error("cannot open {}: {source}", log.display())]
    OpenLog { log: PathBuf, source: std::io::Error },
    #[error("cannot start the sandbox process: {0}")]
    Spawn(std::io::Error),
    /// The process exited, or did not describe itself within the timeout; its log says why.
    #[error("the sandbox did not become ready")]
    NotReady { log: PathBuf },
}

/// How to start a detached sandbox: `program` with `args` (the same binary running
/// `sandbox up --dir DIR` in the foreground), the directory it describes itself in, and how long to
/// wait for that.
#[derive(Clone, Debug)]
pub struct DetachOptions {
    pub program: PathBuf,
    pub args: Vec<OsString>,
    pub dir: PathBuf,
    pub ready_timeout: Duration,
}

/// Whether a process with this id exists (it may belong to another user).
pub fn alive(pid: u32) -> bool {
    #[cfg(unix)]
    {
        let Some(pid) = i32::try_from(pid).ok().and_then(rustix::process::Pid::from_raw) else {
            return false;
        };
        match rustix::process::test_kill_process(pid) {
            Ok(()) => true,
            Err(e) => e == rustix::io::Errno::PERM,
        }
    }
    #[cfg(not(unix))]
    {
        Path::new(&format!("/proc/{pid}")).exists()
    }
}

/// The description of the sandbox running now in `dir`, if any.
pub fn running(dir: &Path) -> Option<Description> {
    Description::read(dir).ok().filter(|d| alive(d.pid))
}

/// Starts the sandbox in the background and waits until it has written its description (a stale
/// description is removed first). The process gets its own process group, so that a Ctrl-C in the
/// terminal that started it does not stop it; its output is appended to [`LOG_FILE`].
pub async fn start_detached(opts: &DetachOptions) -> Result<Description, DetachError> {
    let dir = &opts.dir;
    std::fs::create_dir_all(dir)
        .map_err(|source| DetachError::CreateDir { dir: dir.clone(), source })?;
    let log_path = dir.join(LOG_FILE);
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(|source| DetachError::OpenLog { log: log_path.clone(), source })?;
    let _ = std::fs::remove_file(dir.join(DESCRIPTION_FILE));
    let _ = std::fs::remove_file(dir.join(crate::envfile::ENV_FILE));
    let mut cmd = Command::new(&opts.program);
    cmd.args(&opts.args);
    cmd.stdin(Stdio::null());
    cmd.stdout(log.try_clone().map(Stdio::from).unwrap_or_else(|_| Stdio::null()));
    cmd.stderr(Stdio::from(log));
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
    }
    let mut child = cmd.spawn().map_err(DetachError::Spawn)?;
    let start = Instant::now();
    while start.elapsed() < opts.ready_timeout {
        if let Some(d) = Description::read(dir).ok().filter(|d| d.pid == child.id()) {
            return Ok(d);
        }
        // An exited child is reaped here (it would otherwise linger as a zombie that looks alive).
        if !matches!(child.try_wait(), Ok(None)) {
            break;
        }
        tokio::time::sleep(POLL).await;
    }
    Err(DetachError::NotReady { log: log_path })
}

/// What [`stop`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stopped {
    /// No sandbox was running in the directory.
    NotRunning,
    /// The sandbox with this process id was stopped.
    Stopped { pid: u32 },
}

/// Stops the sandbox running in `dir`: SIGTERM (it saves its state and exits), then SIGKILL if it
/// still runs after `grace`. Its description is removed either way; its state stays.
pub async fn stop(dir: &Path, grace: Duration) -> Stopped {
    let Some(d) = running(dir) else {
        let _ = std::fs::remove_file(dir.join(DESCRIPTION_FILE));
        let _ = std::fs::remove_file(dir.join(crate::envfile::ENV_FILE));
        return Stopped::NotRunning;
    };
    signal(d.pid, Signal::Terminate);
    let start = Instant::now();
    while alive(d.pid) && start.elapsed() < grace {
        tokio::time::sleep(POLL).await;
    }
    if alive(d.pid) {
        signal(d.pid, Signal::Kill);
    }
    let _ = std::fs::remove_file(dir.join(DESCRIPTION_FILE));
    let _ = std::fs::remove_file(dir.join(crate::envfile::ENV_FILE));
    Stopped::Stopped { pid: d.pid }
}

#[derive(Clone, Copy)]
enum Signal {
    Terminate,
    Kill,
}

/// Sends a signal; a process that is already gone is not an error worth reporting.
fn signal(pid: u32, sig: Signal) {
    #[cfg(unix)]
    {
        use rustix::process::{kill_process, Pid, Signal as S};
        let Some(pid) = i32::try_from(pid).ok().and_then(Pid::from_raw) else { return };
        let sig = match sig {
            Signal::Terminate => S::TERM,
            Signal::Kill => S::KILL,
        };
        let _ = kill_process(pid, sig);
    }
    #[cfg(not(unix))]
    let _ = (pid, sig);
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_an_unused_id_is_not() {
        assert!(alive(std::process::id()));
        assert!(!alive(0));
        assert!(!alive(u32::MAX));
    }

    #[tokio::test]
    async fn stop_terminates_the_described_process_and_removes_its_description() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let mut child = Command::new("sleep").arg("60").spawn().expect("sleep starts");
        let pid = child.id();
        let description = serde_json::json!({
            "pid": pid,
            "admin": "http://127.0.0.1:1",
            "asm": {"endpoint": "http://127.0.0.1:1", "access_key_id": "a", "access_key_secret": "s"},
            "clusters": [],
            "dir": dir.path(),
        });
        std::fs::write(dir.path().join(DESCRIPTION_FILE), description.to_string())
            .expect("description written");
        assert_eq!(running(dir.path()).map(|d| d.pid), Some(pid));
        // Reap the child as soon as it exits, so that it does not linger as a zombie.
        let waiter = std::thread::spawn(move || child.wait());
        assert_eq!(stop(dir.path(), Duration::from_secs(10)).await, Stopped::Stopped { pid });
        let status = waiter.join().expect("waiter").expect("status");
        assert!(!status.success(), "sleep was terminated by a signal");
        assert!(!dir.path().join(DESCRIPTION_FILE).exists());
        assert_eq!(stop(dir.path(), Duration::from_secs(1)).await, Stopped::NotRunning);
    }

    #[tokio::test]
    async fn a_process_that_exits_at_once_is_not_ready() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let opts = DetachOptions {
            program: "false".into(),
            args: Vec::new(),
            dir: dir.path().join("sandbox"),
            ready_timeout: Duration::from_secs(30),
        };
        let started = Instant::now();
        let err = start_detached(&opts).await.expect_err("false never describes itself");
        assert!(matches!(err, DetachError::NotReady { .. }), "{err}");
        assert!(started.elapsed() < Duration::from_secs(20), "the exit is noticed, not waited out");
        assert!(dir.path().join("sandbox").join(LOG_FILE).exists());
    }
}
