//! The PostgreSQL backend's journal against a real server: appended entries are read back by
//! another store (a run killed before compacting leaves them to the next reader), a write folds
//! them into the row and deletes them, appends are checked for lineage and lost updates like writes,
//! and an encrypted state's journal rows hold no private key.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use meshform_core::{InstanceKey, PathStep, Value};
use meshform_state::encryption::{Encryption, Method, Pbkdf2Key, Target};
use meshform_state::{
    Appended, InstanceState, LockInfo, PgSettings, PgStore, State, StateChange, StateError,
    StateStore,
};

use crate::{addr, instance};

fn settings() -> Option<PgSettings> {
    static N: AtomicUsize = AtomicUsize::new(0);
    let server = meshform_pgtest::server_or_skip()?;
    let n = N.fetch_add(1, Ordering::Relaxed);
    Some(PgSettings {
        conn_str: server.conn_str(),
        env: Default::default(),
        schema_name: format!("j{}_{n}", std::process::id()),
        workspace: "default".to_owned(),
    })
}

fn set(address: &str, content: &str) -> StateChange {
    let mut inst = instance(serde_json::json!({ "content": content }));
    inst.index_key = addr(address).key;
    StateChange::SetInstance {
        address: address.to_owned(),
        provider: "provider.local".to_owned(),
        instance: inst,
    }
}

fn append(store: &PgStore, state: &mut State, changes: Vec<StateChange>) {
    for c in &changes {
        c.apply(state).expect("a valid change");
    }
    match store.append(&state.lineage, state.serial, &changes).expect("appended") {
        Appended::Journalled { serial } => state.serial = serial,
        Appended::NeedsSnapshot => store.write(state).expect("written"),
    }
}

/// The `data` of the workspace's journal rows, in serial order.
fn journal_rows(s: &PgSettings) -> Vec<String> {
    let mut c = postgres::Client::connect(&s.conn_str, postgres::NoTls).expect("connect");
    let sql = format!(
        "SELECT data FROM \"{}\".journal WHERE workspace = $1 ORDER BY serial",
        s.schema_name
    );
    c.query(sql.as_str(), &[&s.workspace]).expect("query").iter().map(|r| r.get(0)).collect()
}

#[test]
fn a_killed_runs_entries_are_replayed_by_the_next_reader_and_folded_by_a_write() {
    let Some(s) = settings() else { return };
    let store = PgStore::new(&s).expect("settings");
    let mut state = State::new();
    assert_eq!(
        store.append(&state.lineage, state.serial, &[set("local_file.a[0]", "x")]).expect("ok"),
        Appended::NeedsSnapshot,
        "nothing stored yet"
    );
    store.write(&mut state).expect("snapshot");
    {
        // A run holding the lock appends, and dies without compacting.
        let _lock = store.lock(LockInfo::new("apply", "test"), Duration::ZERO).expect("lock");
        append(&store, &mut state, vec![set("local_file.a[0]", "zero")]);
        append(&store, &mut state, vec![set("local_file.a[1]", "one")]);
        append(
            &store,
            &mut state,
            vec![StateChange::RemoveInstance { address: "local_file.a[0]".into() }],
        );
    }
    assert_eq!(state.serial, 4);
    assert_eq!(journal_rows(&s).len(), 3);
    let next = PgStore::new(&s).expect("settings");
    let mut read = next.read().expect("read").expect("a state");
    assert_eq!(read, state, "the row with its journal replayed");

    // A run that read an older serial cannot append after it.
    let mut stale = state.clone();
    stale.serial = 2;
    let e = next.append(&stale.lineage, stale.serial, &[set("local_file.b", "x")]).unwrap_err();
    assert!(matches!(e, StateError::SerialConflict { stored: 4, ours: 2, .. }), "{e}");
    let e = next.append("another lineage", 4, &[]).unwrap_err();
    assert!(matches!(e, StateError::LineageMismatch { .. }), "{e}");
    let e = next.write(&mut stale).unwrap_err();
    assert!(
        matches!(e, StateError::SerialConflict { stored: 4, .. }),
        "a write counts the journal: {e}"
    );

    next.write(&mut read).expect("compaction");
    assert_eq!(read.serial, 5);
    assert!(journal_rows(&s).is_empty(), "the write folded the journal into the row");
    let again = PgStore::new(&s).expect("settings").read().expect("read").expect("state");
    assert_eq!(again, read);
    let addrs: Vec<String> = again.instances().map(|(a, _, _)| a.to_string()).collect();
    assert_eq!(addrs, ["local_file.a[1]"]);
}

#[test]
fn an_encrypted_states_journal_rows_hold_no_private_key() {
    const PEM: &str = "-----BEGIN PRIVATE KEY-----";
    let Some(s) = settings() else { return };
    let key = Pbkdf2Key::new("main", "a passphrase of some length", 1_000).expect("key");
    let enc = Arc::new(Encryption::new(Target::State, Some(Method::AesGcm(key.into())), vec![]));
    let store = PgStore::new(&s).expect("settings").with_encryption(Arc::clone(&enc));
    let mut state = State::new();
    store.write(&mut state).expect("snapshot");
    let mut value = Value::from_json(&serde_json::json!({
        "private_key_pem": format!("{PEM}\nMC4CAQAwBQYDK2VwBCIEIA\n-----END PRIVATE KEY-----\n"),
    }));
    value.mark_at(&[PathStep::Key("private_key_pem".into())]);
    let mut inst = InstanceState::new(InstanceKey::None);
    inst.set_value(&value);
    append(
        &store,
        &mut state,
        vec![StateChange::SetInstance {
            address: "pki_private_key.root".into(),
            provider: "provider.pki".into(),
            instance: inst,
        }],
    );
    let rows = journal_rows(&s);
    assert_eq!(rows.len(), 1);
    for row in &rows {
        assert!(!row.contains(PEM) && !row.contains("MC4CAQAw"), "{row}");
        let doc: serde_json::Value = serde_json::from_str(row).expect("an envelope");
        assert_eq!(doc["encryption_version"], "v0");
    }
    let read = PgStore::new(&s).expect("settings").with_encryption(enc).read().expect("read");
    assert_eq!(read, Some(state));
    let e = PgStore::new(&s).expect("settings").read().expect_err("no key, no state");
    assert!(matches!(e, StateError::Encryption { .. }), "{e}");
}
