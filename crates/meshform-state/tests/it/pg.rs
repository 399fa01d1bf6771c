//! The PostgreSQL backend against a real server (started by meshform-pgtest on loopback): reads and
//! writes, lineage and serial checks in one transaction, workspaces side by side, advisory locks
//! that name their holder and die with their session, force-unlock, and migration.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use meshform_state::migrate::{migrate, Migration};
use meshform_state::{
    encode_state, LocalStore, LockInfo, PgSettings, PgStore, State, StateError, StateStore,
};

use crate::{addr, instance, rich_state};

const NOW: Duration = Duration::ZERO;

/// A fresh schema per test, so tests never see each other's rows.
fn settings(workspace: &str) -> Option<PgSettings> {
    static N: AtomicUsize = AtomicUsize::new(0);
    let server = meshform_pgtest::server_or_skip()?;
    let n = N.fetch_add(1, Ordering::Relaxed);
    Some(PgSettings {
        conn_str: server.conn_str(),
        env: Default::default(),
        schema_name: format!("t{}_{n}", std::process::id()),
        workspace: workspace.to_owned(),
    })
}

fn open(s: &PgSettings) -> PgStore {
    PgStore::new(s).expect("valid settings")
}

#[test]
fn writes_read_back_byte_for_byte_and_bump_the_serial() {
    let Some(s) = settings("default") else { return };
    let store = open(&s);
    assert_eq!(store.read().unwrap(), None, "a new workspace has no state");
    let mut state = rich_state();
    store.write(&mut state).unwrap();
    assert_eq!(state.serial, 1);
    let back = store.read().unwrap().expect("written");
    assert_eq!(back, state);
    assert_eq!(encode_state(&back).unwrap(), encode_state(&state).unwrap());
    store.write(&mut state).unwrap();
    assert_eq!(store.read().unwrap().unwrap().serial, 2);
    let d = store.describe();
    assert!(d.contains("PostgreSQL") && d.contains("workspace \"default\""), "{d}");
}

#[test]
fn lineage_and_serial_are_checked_in_the_write_transaction() {
    let Some(s) = settings("default") else { return };
    let (a, b) = (open(&s), open(&s));
    let mut first = State::new();
    a.write(&mut first).unwrap();

    let mut stranger = State::new();
    let e = b.write(&mut stranger).unwrap_err();
    assert!(matches!(e, StateError::LineageMismatch { .. }), "{e}");
    assert!(e.to_string().contains(&first.lineage), "{e}");

    // Both start from serial 1; b writes first, so a's write would lose b's update.
    let mut from_a = a.read().unwrap().unwrap();
    let mut from_b = b.read().unwrap().unwrap();
    from_b.set_instance(&addr("local_file.b"), "provider.local", instance(serde_json::json!({})));
    b.write(&mut from_b).unwrap();
    from_a.set_instance(&addr("local_file.a"), "provider.local", instance(serde_json::json!({})));
    let e = a.write(&mut from_a).unwrap_err();
    assert!(matches!(e, StateError::SerialConflict { stored: 2, ours: 1, .. }), "{e}");
    assert!(b.read().unwrap().unwrap().resources.iter().any(|r| r.name == "b"));

    // A forced write (state push --force) replaces it and moves past the stored serial.
    let mut forced = State::new();
    a.write_forced(&mut forced).unwrap();
    assert_eq!(forced.serial, 3);
    assert_eq!(b.read().unwrap().unwrap().lineage, forced.lineage);
}

#[test]
fn concurrent_unlocked_writers_never_lose_an_update() {
    let Some(s) = settings("default") else { return };
    let seed = open(&s);
    seed.write(&mut State::new()).unwrap();
    let writers = 4;
    let per_writer = 5;
    let handles: Vec<_> = (0..writers)
        .map(|w| {
            let s = s.clone();
            std::thread::spawn(move || {
                let store = open(&s);
                let mut done = 0;
                while done < per_writer {
                    let mut state = store.read().unwrap().unwrap();
                    let name = format!("w{w}_{done}");
                    state.set_instance(
                        &addr(&format!("local_file.{name}")),
                        "provider.local",
                        instance(serde_json::json!({})),
                    );
                    match store.write(&mut state) {
                        Ok(()) => done += 1,
                        Err(StateError::SerialConflict { .. }) => continue,
                        Err(e) => panic!("{e}"),
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let last = seed.read().unwrap().unwrap();
    assert_eq!(last.resources.len(), writers * per_writer, "every update survived");
    assert_eq!(last.serial, 1 + (writers * per_writer) as u64);
}

#[test]
fn workspaces_are_stored_side_by_side() {
    let Some(s) = settings("cn-hangzhou") else { return };
    let east = open(&s);
    let west = open(&PgSettings { workspace: "cn-shanghai".into(), ..s.clone() });
    let (mut a, mut b) = (State::new(), State::new());
    east.write(&mut a).unwrap();
    west.write(&mut b).unwrap();
    assert_eq!(east.read().unwrap().unwrap().lineage, a.lineage);
    assert_eq!(west.read().unwrap().unwrap().lineage, b.lineage);
    assert_eq!(east.workspaces().unwrap(), vec!["cn-hangzhou", "cn-shanghai"]);
    // Locks are per workspace too.
    let _g = east.lock(LockInfo::new("apply", "east"), NOW).unwrap();
    let _h = west.lock(LockInfo::new("apply", "west"), NOW).unwrap();
}

#[test]
fn a_held_lock_names_its_holder_and_is_released_on_drop() {
    let Some(s) = settings("default") else { return };
    let (a, b) = (open(&s), open(&s));
    let guard = a.lock(LockInfo::new("apply", "alice@ci-1"), NOW).unwrap();
    assert_eq!(guard.info().path, a.describe());
    let e = b.lock(LockInfo::new("plan", "bob@ci-2"), NOW).unwrap_err();
    let m = e.to_string();
    let StateError::Locked { info, .. } = e else { panic!("expected Locked: {m}") };
    assert_eq!(&*info, guard.info(), "the error carries the holder's lock info");
    assert!(m.contains("alice@ci-1") && m.contains(&format!("force-unlock {}", info.id)), "{m}");
    // The holder writes through its locking session.
    let mut state = State::new();
    a.write(&mut state).unwrap();
    drop(guard);
    let g = b.lock(LockInfo::new("plan", "bob@ci-2"), NOW).unwrap();
    assert_eq!(g.info().who, "bob@ci-2");
}

#[test]
fn a_waiting_lock_gets_it_when_the_holder_releases() {
    let Some(s) = settings("default") else { return };
    let (a, b) = (open(&s), open(&s));
    let guard = a.lock(LockInfo::new("apply", "first"), NOW).unwrap();
    let releaser = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(500));
        drop(guard);
    });
    let start = Instant::now();
    let g = b.lock(LockInfo::new("apply", "second"), Duration::from_secs(30)).unwrap();
    releaser.join().unwrap();
    assert_eq!(g.info().who, "second");
    assert!(start.elapsed() < Duration::from_secs(10), "{:?}", start.elapsed());
    drop(a);
}

#[test]
fn force_unlock_ends_the_holders_session_and_its_writes_fail() {
    let Some(s) = settings("default") else { return };
    let (hung, other) = (open(&s), open(&s));
    let mut state = State::new();
    hung.write(&mut state).unwrap();
    let guard = hung.lock(LockInfo::new("apply", "hung"), NOW).unwrap();
    let id = guard.info().id.clone();

    let e = other.force_unlock("not-the-id").unwrap_err();
    assert!(matches!(e, StateError::LockIdMismatch { .. }), "{e}");
    other.force_unlock(&id).unwrap();
    let g = other.lock(LockInfo::new("apply", "rescuer"), NOW).expect("the lock was released");

    // The hung run's next write fails instead of racing the new holder.
    let e = hung.write(&mut state).unwrap_err();
    assert!(matches!(e, StateError::Backend { .. }), "{e}");
    drop(guard);
    drop(g);
    assert!(matches!(other.force_unlock(&id), Err(StateError::NotLocked { .. })));
}

#[test]
fn migration_goes_local_to_pg_and_back_and_refuses_another_lineage() {
    let Some(s) = settings("default") else { return };
    let dir = tempfile::tempdir().unwrap();
    let local = LocalStore::for_workspace(dir.path(), "default").unwrap();
    let pg = open(&s);
    assert_eq!(migrate(&local, &pg).unwrap(), Migration::NothingToMigrate);

    let mut state = rich_state();
    local.write(&mut state).unwrap();
    let m = migrate(&local, &pg).unwrap();
    assert_eq!(m, Migration::Copied { serial: 2, instances: state.instances().count() });
    let in_pg = pg.read().unwrap().unwrap();
    assert_eq!(in_pg.lineage, state.lineage);
    assert_eq!(in_pg.resources, state.resources);
    assert!(matches!(migrate(&local, &pg).unwrap(), Migration::UpToDate { .. }));

    // Work continues in PostgreSQL, then the state moves back to a fresh directory.
    let mut more = in_pg;
    more.outputs.clear();
    pg.write(&mut more).unwrap();
    let back_dir = tempfile::tempdir().unwrap();
    let back = LocalStore::for_workspace(back_dir.path(), "default").unwrap();
    assert!(matches!(migrate(&pg, &back).unwrap(), Migration::Copied { .. }));
    let round = back.read().unwrap().unwrap();
    assert_eq!((round.lineage.as_str(), round.outputs.len()), (state.lineage.as_str(), 0));

    // A state of another history is never overwritten.
    let other_dir = tempfile::tempdir().unwrap();
    let other = LocalStore::for_workspace(other_dir.path(), "default").unwrap();
    let mut stranger = rich_state();
    other.write(&mut stranger).unwrap();
    let e = migrate(&other, &pg).unwrap_err();
    assert!(matches!(e, StateError::LineageMismatch { .. }), "{e}");
    assert_eq!(pg.read().unwrap().unwrap().lineage, state.lineage);
}

#[test]
fn a_store_works_from_inside_an_async_runtime() {
    let Some(s) = settings("default") else { return };
    let store = Arc::new(open(&s));
    // The CLI writes from async tasks, takes locks from spawn_blocking, and drops stores and guards
    // inside its runtime: none of it may panic.
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(async move {
        let mut state = State::new();
        store.write(&mut state).unwrap();
        let s2 = Arc::clone(&store);
        let g = tokio::task::spawn_blocking(move || s2.lock(LockInfo::new("apply", "x"), NOW))
            .await
            .unwrap()
            .unwrap();
        let s3 = Arc::clone(&store);
        tokio::spawn(async move { s3.write(&mut state).unwrap() }).await.unwrap();
        assert_eq!(store.read().unwrap().unwrap().serial, 2);
        drop(g);
        drop(store);
    });
}
