//! The local store's journal, as a crash leaves it: appended changes are read back (replayed) and
//! folded into the snapshot by the next whole write; a record torn by a crash (cut anywhere, or
//! never flushed) is ignored and then overwritten, never misread; a compaction interrupted before
//! the journal was emptied changes nothing; a newer journal is refused and left alone; an encrypted
//! state's journal holds no private key.

use std::sync::Arc;

use meshform_core::{PathStep, Value};
use meshform_state::encryption::{Encryption, Method, Pbkdf2Key, Target};
use meshform_state::journal::{encode_frame, scan_frames};
use meshform_state::{
    Appended, InstanceState, LocalStore, PendingCreate, State, StateChange, StateError, StateStore,
};

use crate::{addr, instance, store};

fn set(address: &str, content: &str) -> StateChange {
    let mut inst = instance(serde_json::json!({ "content": content }));
    inst.index_key = addr(address).key;
    StateChange::SetInstance {
        address: address.to_owned(),
        provider: "provider.local".to_owned(),
        instance: inst,
    }
}

/// Makes `changes` to `state` and appends them, as the apply does.
fn append(store: &LocalStore, state: &mut State, changes: Vec<StateChange>) {
    for c in &changes {
        c.apply(state).expect("a valid change");
    }
    match store.append(&state.lineage, state.serial, &changes).expect("appended") {
        Appended::Journalled { serial } => state.serial = serial,
        Appended::NeedsSnapshot => store.write(state).expect("written"),
    }
}

fn addrs(state: &State) -> Vec<String> {
    state.instances().map(|(a, _, _)| a.to_string()).collect()
}

/// A written state and two journalled entries after it.
fn journalled() -> (tempfile::TempDir, LocalStore, State) {
    let (dir, store) = store();
    let mut state = State::new();
    store.write(&mut state).expect("first snapshot");
    append(&store, &mut state, vec![set("local_file.a[0]", "zero")]);
    append(&store, &mut state, vec![set("local_file.a[1]", "one")]);
    (dir, store, state)
}

#[test]
fn appended_changes_are_read_back_and_a_whole_write_empties_the_journal() {
    let (_dir, store, mut state) = journalled();
    assert_eq!(state.serial, 3, "each append bumps the serial");
    let snapshot = std::fs::read(store.path()).expect("snapshot");
    let read = store.read().expect("read").expect("a state");
    assert_eq!(read, state, "the snapshot with its journal replayed");
    assert!(std::fs::metadata(store.journal_path()).expect("journal").len() > 0);
    assert_eq!(
        std::fs::read(store.path()).expect("snapshot"),
        snapshot,
        "appends leave the snapshot alone"
    );

    store.write(&mut state).expect("compaction");
    assert_eq!(state.serial, 4);
    assert_eq!(std::fs::metadata(store.journal_path()).expect("journal").len(), 0);
    let written: State = serde_json::from_slice(&std::fs::read(store.path()).expect("snapshot"))
        .expect("the snapshot is a state document");
    assert_eq!(addrs(&written), ["local_file.a[0]", "local_file.a[1]"]);
    assert_eq!(store.read().expect("read").expect("a state"), state);
}

#[test]
fn a_record_torn_anywhere_is_ignored_and_the_next_append_replaces_it() {
    let (_dir, store, state) = journalled();
    let journal = std::fs::read(store.journal_path()).expect("journal");
    let (frames, _) = scan_frames(&journal);
    let first_end = frames[0].0;
    // A crash while the second record was written (or before it was flushed: the same bytes, or
    // none, reach the disk) at every possible length.
    for cut in first_end..journal.len() {
        std::fs::write(store.journal_path(), &journal[..cut]).expect("cut");
        let fresh = LocalStore::new(store.path().to_owned());
        let read = fresh.read().expect("a torn record is not an error").expect("a state");
        assert_eq!(addrs(&read), ["local_file.a[0]"], "cut at {cut}");
        assert_eq!(read.serial, state.serial - 1, "cut at {cut}");
    }
    // A damaged byte inside the last record: the checksum catches it.
    let mut damaged = journal.clone();
    let last = damaged.len() - 3;
    damaged[last] ^= 0x20;
    std::fs::write(store.journal_path(), &damaged).expect("damage");
    let fresh = LocalStore::new(store.path().to_owned());
    let mut read = fresh.read().expect("read").expect("a state");
    assert_eq!(addrs(&read), ["local_file.a[0]"]);

    // The next run goes on from what was saved; its record replaces the torn one.
    append(&fresh, &mut read, vec![set("local_file.a[2]", "two")]);
    let again = LocalStore::new(store.path().to_owned()).read().expect("read").expect("state");
    assert_eq!(addrs(&again), ["local_file.a[0]", "local_file.a[2]"]);
    assert_eq!(again.serial, read.serial);
    let journal = std::fs::read(store.journal_path()).expect("journal");
    let (frames, valid) = scan_frames(&journal);
    assert_eq!(frames.len(), 2, "the torn record was cut off, not followed");
    assert_eq!(valid as u64, std::fs::metadata(store.journal_path()).expect("journal").len());
}

#[test]
fn a_compaction_interrupted_before_the_journal_was_emptied_changes_nothing() {
    let (_dir, store, mut state) = journalled();
    let journal = std::fs::read(store.journal_path()).expect("journal");
    store.write(&mut state).expect("compaction");
    // The crash came after the snapshot was renamed into place, before the journal was emptied.
    std::fs::write(store.journal_path(), &journal).expect("stale journal");
    let fresh = LocalStore::new(store.path().to_owned());
    let mut read = fresh.read().expect("read").expect("a state");
    assert_eq!(read, state, "the journal's entries are already in the snapshot");
    append(
        &fresh,
        &mut read,
        vec![StateChange::RemoveInstance { address: "local_file.a[0]".into() }],
    );
    let again = LocalStore::new(store.path().to_owned()).read().expect("read").expect("state");
    assert_eq!(addrs(&again), ["local_file.a[1]"]);
    assert_eq!(again.serial, state.serial + 1);
}

#[test]
fn an_append_after_another_run_wrote_is_refused_as_a_lost_update() {
    let (_dir, store, state) = journalled();
    let other = LocalStore::new(store.path().to_owned());
    let mut theirs = other.read().expect("read").expect("state");
    append(&other, &mut theirs, vec![set("local_file.b", "theirs")]);
    // This store's own cursor is behind the journal now; and a fresh store reads it whole.
    for s in [&store, &LocalStore::new(store.path().to_owned())] {
        let e = s.append(&state.lineage, state.serial, &[set("local_file.c", "ours")]);
        assert!(matches!(e, Err(StateError::SerialConflict { .. })), "{e:?}");
    }
    let e = store.append("another lineage", theirs.serial, &[]);
    assert!(matches!(e, Err(StateError::LineageMismatch { .. })), "{e:?}");
}

#[test]
fn nothing_stored_yet_asks_for_a_whole_write() {
    let (_dir, store) = store();
    let state = State::new();
    let r = store.append(&state.lineage, state.serial, &[set("local_file.a", "x")]);
    assert_eq!(r.expect("no error"), Appended::NeedsSnapshot);
    assert!(!store.path().exists() && !store.journal_path().exists());
}

#[test]
fn a_newer_journal_is_refused_and_left_untouched() {
    let (_dir, store, mut state) = journalled();
    let payload = format!(
        r#"{{"version": 2, "lineage": "{}", "serial": {}, "changes": [], "new": true}}"#,
        state.lineage,
        state.serial + 1
    );
    let mut journal = std::fs::read(store.journal_path()).expect("journal");
    journal.extend(encode_frame(payload.as_bytes()));
    std::fs::write(store.journal_path(), &journal).expect("newer record");
    let fresh = LocalStore::new(store.path().to_owned());
    let e = fresh.read().expect_err("a newer journal is refused");
    assert!(matches!(e, StateError::UnsupportedVersion { found: 2, .. }), "{e}");
    assert!(e.to_string().contains("meshform.state.json.journal"), "{e}");
    let e = fresh.write(&mut state).expect_err("and never overwritten");
    assert!(matches!(e, StateError::UnsupportedVersion { .. }), "{e}");
    let e = fresh.append(&state.lineage, state.serial, &[]).expect_err("nor appended to");
    assert!(matches!(e, StateError::UnsupportedVersion { .. }), "{e}");
    assert_eq!(std::fs::read(store.journal_path()).expect("journal"), journal);
}

#[test]
fn an_encrypted_state_journals_no_private_key() {
    const PEM: &str = "-----BEGIN PRIVATE KEY-----";
    let key = Pbkdf2Key::new("main", "a passphrase of some length", 1_000).expect("key");
    let enc = Arc::new(Encryption::new(Target::State, Some(Method::AesGcm(key.into())), vec![]));
    let (_dir, plain) = store();
    let store = plain.with_encryption(Arc::clone(&enc));
    let mut state = State::new();
    store.write(&mut state).expect("snapshot");
    let mut value = Value::from_json(&serde_json::json!({
        "private_key_pem": format!("{PEM}\nMC4CAQAwBQYDK2VwBCIEIA\n-----END PRIVATE KEY-----\n"),
    }));
    value.mark_at(&[PathStep::Key("private_key_pem".into())]);
    let mut inst = InstanceState::new(meshform_core::InstanceKey::None);
    inst.set_value(&value);
    let pending = PendingCreate::new("pki_private_key.root".into(), "provider.pki".into(), &value);
    append(&store, &mut state, vec![StateChange::AddPending { pending }]);
    append(
        &store,
        &mut state,
        vec![StateChange::SetInstance {
            address: "pki_private_key.root".into(),
            provider: "provider.pki".into(),
            instance: inst,
        }],
    );
    let journal = std::fs::read(store.journal_path()).expect("journal");
    let text = String::from_utf8_lossy(&journal);
    assert!(!text.contains(PEM) && !text.contains("MC4CAQAw"), "{text}");
    let (frames, _) = scan_frames(&journal);
    assert_eq!(frames.len(), 2);
    for (_, payload) in frames {
        let doc: serde_json::Value = serde_json::from_slice(payload).expect("an envelope");
        assert_eq!(doc["encryption_version"], "v0");
    }
    let read = store.read().expect("read").expect("a state");
    assert_eq!(read, state);
    // Without the key the journal is refused like the state.
    let e = LocalStore::new(store.path().to_owned()).read().expect_err("no key");
    assert!(matches!(e, StateError::Encryption { .. }), "{e}");
}
