//! Locking of the local store: exclusion (also between two stores in one process), waiting with a
//! timeout, taking over the lock of a killed run, and force-unlock.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use meshform_state::{LocalStore, LockInfo, StateError, StateStore};

use crate::store;

const NOW: Duration = Duration::ZERO;

fn holder_of(e: StateError) -> LockInfo {
    match e {
        StateError::Locked { info, .. } => *info,
        e => panic!("expected Locked, got {e:?}"),
    }
}

#[test]
fn second_store_in_the_same_process_is_excluded() {
    let (_d, a) = store();
    let b = LocalStore::new(a.path().to_owned());
    let guard = a.lock(LockInfo::new("apply", "alice@host"), NOW).unwrap();
    assert_eq!(guard.info().path, a.path().display().to_string());
    assert_eq!(guard.info().operation, "apply");
    assert!(a.lock_path().exists());

    let e = b.lock(LockInfo::new("plan", "bob@host"), NOW).unwrap_err();
    let m = e.to_string();
    let holder = holder_of(e);
    assert_eq!(&holder, guard.info(), "the error carries the holder's info");
    assert!(m.contains(&guard.info().id) && m.contains("alice@host") && m.contains("apply"), "{m}");
    assert!(m.contains(&format!("meshform force-unlock {}", guard.info().id)), "{m}");
    // The same store cannot take it twice either.
    assert!(matches!(a.lock(LockInfo::new("x", "y"), NOW), Err(StateError::Locked { .. })));

    drop(guard);
    assert!(!a.lock_path().exists(), "releasing removes the lock file");
    let g2 = b.lock(LockInfo::new("plan", "bob@host"), NOW).unwrap();
    assert_eq!(g2.info().who, "bob@host");
}

#[test]
fn waiting_lock_succeeds_when_released_during_the_wait() {
    let (_d, a) = store();
    let b = LocalStore::new(a.path().to_owned());
    let guard = a.lock(LockInfo::new("apply", "first"), NOW).unwrap();
    let releaser = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        drop(guard);
    });
    let start = Instant::now();
    let g = b.lock(LockInfo::new("apply", "second"), Duration::from_secs(20)).unwrap();
    let waited = start.elapsed();
    releaser.join().unwrap();
    assert_eq!(g.info().who, "second");
    // The first retry comes after the first 1 s backoff.
    assert!(waited >= Duration::from_millis(900) && waited < Duration::from_secs(3), "{waited:?}");
}

#[test]
fn waiting_never_sleeps_past_the_deadline() {
    let (_d, a) = store();
    let _guard = a.lock(LockInfo::new("apply", "first"), NOW).unwrap();
    let start = Instant::now();
    let e = a.lock(LockInfo::new("apply", "second"), Duration::from_millis(1500)).unwrap_err();
    let waited = start.elapsed();
    assert_eq!(holder_of(e).who, "first");
    assert!(
        waited >= Duration::from_millis(1500) && waited < Duration::from_millis(2500),
        "{waited:?}"
    );
}

#[test]
fn zero_timeout_fails_at_once() {
    let (_d, a) = store();
    let _guard = a.lock(LockInfo::new("apply", "first"), NOW).unwrap();
    let start = Instant::now();
    assert!(a.lock(LockInfo::new("apply", "second"), NOW).is_err());
    assert!(start.elapsed() < Duration::from_millis(500));
}

#[test]
fn stale_lock_file_without_an_os_lock_is_taken() {
    let (_d, a) = store();
    let dead = LockInfo::new("apply", "killed@host");
    fs::write(a.lock_path(), serde_json::to_string(&dead).unwrap()).unwrap();
    let g = a.lock(LockInfo::new("plan", "me"), NOW).unwrap();
    let on_disk: LockInfo =
        serde_json::from_str(&fs::read_to_string(a.lock_path()).unwrap()).unwrap();
    assert_eq!(&on_disk, g.info(), "the dead run's info is replaced");
    drop(g);
    // An empty leftover is taken too.
    fs::write(a.lock_path(), b"").unwrap();
    a.lock(LockInfo::new("plan", "me"), NOW).unwrap();
}

/// Not a test of its own: run by [`killed_runs_lock_is_released_by_the_os`] in a child process, where
/// it takes the lock and waits to be killed.
#[test]
fn child_holds_lock_until_killed() {
    let Ok(state) = std::env::var("MESHFORM_STATE_TEST_CHILD_STATE") else { return };
    let store = LocalStore::new(PathBuf::from(&state));
    let _guard = store.lock(LockInfo::new("apply", "child"), NOW).unwrap();
    fs::write(format!("{state}.ready"), b"").unwrap();
    loop {
        std::thread::sleep(Duration::from_secs(1));
    }
}

fn wait_for(p: &Path) {
    let start = Instant::now();
    while !p.exists() {
        assert!(start.elapsed() < Duration::from_secs(30), "child never took the lock");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn killed_runs_lock_is_released_by_the_os() {
    let (_d, a) = store();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["lock::child_holds_lock_until_killed", "--exact", "--test-threads=1"])
        .env("MESHFORM_STATE_TEST_CHILD_STATE", a.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_for(&a.path().with_extension("json.ready"));
    let holder = holder_of(a.lock(LockInfo::new("plan", "parent"), NOW).unwrap_err());
    assert_eq!(holder.who, "child");

    child.kill().unwrap();
    child.wait().unwrap();
    assert!(a.lock_path().exists(), "the killed run left its lock file");
    let g = a.lock(LockInfo::new("plan", "parent"), NOW).unwrap();
    assert_eq!(g.info().who, "parent");
}

#[test]
fn force_unlock_needs_the_holders_id() {
    let (_d, a) = store();
    assert!(matches!(a.force_unlock("whatever"), Err(StateError::NotLocked { .. })));

    let b = LocalStore::new(a.path().to_owned());
    let hung = a.lock(LockInfo::new("apply", "hung"), NOW).unwrap();
    let id = hung.info().id.clone();
    let e = b.force_unlock("not-the-id").unwrap_err();
    let m = e.to_string();
    match e {
        StateError::LockIdMismatch { holder, given, .. } => {
            assert_eq!(holder.id, id);
            assert_eq!(given, "not-the-id");
        }
        e => panic!("{e:?}"),
    }
    assert!(m.contains(&id) && m.contains("hung"), "{m}");
    assert!(a.lock_path().exists());

    // The matching id removes the lock even though its (hung) holder still has the OS lock.
    b.force_unlock(&id).unwrap();
    assert!(!a.lock_path().exists());
    let next = b.lock(LockInfo::new("apply", "next"), NOW).unwrap();
    // When the hung run finally lets go, it leaves the new run's lock alone.
    drop(hung);
    assert!(a.lock_path().exists());
    let c = LocalStore::new(a.path().to_owned());
    assert_eq!(holder_of(c.lock(LockInfo::new("plan", "third"), NOW).unwrap_err()).who, "next");
    drop(next);
    c.lock(LockInfo::new("plan", "third"), NOW).unwrap();
}

#[test]
fn force_unlock_of_a_killed_runs_leftover() {
    let (_d, a) = store();
    let dead = LockInfo::new("apply", "killed");
    fs::write(a.lock_path(), serde_json::to_string(&dead).unwrap()).unwrap();
    assert!(matches!(a.force_unlock("other"), Err(StateError::LockIdMismatch { .. })));
    a.force_unlock(&dead.id).unwrap();
    assert!(!a.lock_path().exists());
}

#[test]
fn lock_and_write_from_threads_never_lose_an_update() {
    let (_d, a) = store();
    a.write(&mut meshform_state::State::new()).unwrap();
    let threads: Vec<_> = (0..3)
        .map(|t| {
            let s = LocalStore::new(a.path().to_owned());
            std::thread::spawn(move || {
                for i in 0..3 {
                    let info = LockInfo::new("apply", &format!("t{t}"));
                    let _guard = s.lock(info, Duration::from_secs(120)).unwrap();
                    let mut st = s.read().unwrap().unwrap();
                    st.outputs.insert(
                        format!("t{t}_{i}"),
                        meshform_state::OutputState { value: 1.into(), sensitive: false },
                    );
                    s.write(&mut st).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let end = a.read().unwrap().unwrap();
    assert_eq!(end.outputs.len(), 9);
    assert_eq!(end.serial, 10);
}
