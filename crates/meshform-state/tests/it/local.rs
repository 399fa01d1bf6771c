//! The local store: round trips, serials, backups, and refusing to touch files it cannot understand.

use std::fs;

use meshform_state::{encode_state, State, StateError, StateStore, STATE_FORMAT_VERSION};

use crate::{path_of, rich_state, store};

#[test]
fn missing_file_reads_as_none() {
    let (_d, store) = store();
    assert!(store.read().unwrap().is_none());
    assert!(store.describe().contains("meshform.state.json"), "{}", store.describe());
}

#[test]
fn round_trip_and_serial_bumps() {
    let (_d, store) = store();
    let mut s = rich_state();
    assert_eq!(s.serial, 0);
    store.write(&mut s).unwrap();
    assert_eq!(s.serial, 1);
    assert_eq!(store.read().unwrap().as_ref(), Some(&s));
    store.write(&mut s).unwrap();
    assert_eq!(s.serial, 2);
    let back = store.read().unwrap().unwrap();
    assert_eq!(back, s);
    assert_eq!(back.version, STATE_FORMAT_VERSION);
    // The sensitive marks come back.
    let (_, i) = back.instance(&crate::addr("local_secret.each[\"k.with dots\"]")).unwrap();
    assert_eq!(i.value().sensitive_paths().len(), 2);
}

#[test]
fn numbers_read_back_exactly() {
    use meshform_core::{Number, Value};
    let (_d, store) = store();
    let mut s = State::new();
    let texts = [
        "9223372036854775808",
        "18446744073709551615",
        "-9223372036854775808",
        "9007199254740993",
        "0.3",
        "1e100",
        "123456.789012345",
    ];
    let value = Value::map(
        texts.iter().map(|t| (t.to_string(), Value::Number(Number::parse(t).expect("number")))),
    );
    let mut inst = crate::instance(serde_json::Value::Null);
    inst.set_value(&value);
    s.set_instance(&crate::addr("local_file.n"), "provider.local", inst);
    store.write(&mut s).unwrap();
    let text = fs::read_to_string(path_of(&store)).unwrap();
    assert!(text.contains("9223372036854775808") && text.contains("9007199254740993"), "{text}");
    let back = store.read().unwrap().unwrap();
    let (_, i) = back.instance(&crate::addr("local_file.n")).unwrap();
    assert_eq!(i.value(), value);
    for t in texts {
        assert_eq!(
            i.value().get(t).map(ToString::to_string),
            Some(Number::parse(t).unwrap().to_string())
        );
    }
}

#[test]
fn file_is_pretty_deterministic_json_with_trailing_newline() {
    let (_d, store) = store();
    let mut s = rich_state();
    store.write(&mut s).unwrap();
    let bytes = fs::read(path_of(&store)).unwrap();
    assert_eq!(bytes, encode_state(&s).unwrap());
    assert!(bytes.ends_with(b"}\n") && !bytes.ends_with(b"\n\n"));
    assert!(bytes.starts_with(b"{\n  \"version\": 1,\n"), "{}", String::from_utf8_lossy(&bytes));
    // Reading and writing it again changes only the serial.
    let mut again = store.read().unwrap().unwrap();
    store.write(&mut again).unwrap();
    let text = fs::read_to_string(path_of(&store)).unwrap();
    assert_eq!(text, String::from_utf8(bytes).unwrap().replace("\"serial\": 1", "\"serial\": 2"));
}

#[test]
fn backup_holds_the_previous_version() {
    let (_d, store) = store();
    let mut s = State::new();
    store.write(&mut s).unwrap();
    assert!(!store.backup_path().exists(), "first write has nothing to back up");
    let first = fs::read(path_of(&store)).unwrap();
    s.outputs.insert("x".into(), meshform_state::OutputState { value: 1.into(), sensitive: false });
    store.write(&mut s).unwrap();
    assert_eq!(fs::read(store.backup_path()).unwrap(), first);
    let second = fs::read(path_of(&store)).unwrap();
    store.write(&mut s).unwrap();
    assert_eq!(fs::read(store.backup_path()).unwrap(), second);
    // No temp files are left behind.
    let names: Vec<String> = fs::read_dir(store.path().parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
}

#[cfg(unix)]
#[test]
fn state_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let (_d, store) = store();
    let mut s = State::new();
    store.write(&mut s).unwrap();
    store.write(&mut s).unwrap();
    for p in [store.path().to_owned(), store.backup_path()] {
        assert_eq!(fs::metadata(&p).unwrap().permissions().mode() & 0o777, 0o600, "{p:?}");
    }
}

/// Writes `bytes` as the state file, checks that reading and writing both fail as `check` expects
/// and that the file and the directory are exactly as they were.
fn assert_refused(bytes: &[u8], check: impl Fn(&StateError) -> bool) {
    let (_d, store) = store();
    fs::write(store.path(), bytes).unwrap();
    let e = store.read().unwrap_err();
    assert!(check(&e), "read of {:?}: {e:?}", String::from_utf8_lossy(bytes));
    let mut s = State::new();
    let before = s.clone();
    let e = store.write(&mut s).unwrap_err();
    assert!(check(&e), "write over {:?}: {e:?}", String::from_utf8_lossy(bytes));
    assert_eq!(s, before, "a failed write leaves the caller's state alone");
    let e2 = store.write_forced(&mut s).unwrap_err();
    assert!(check(&e2), "forced write over {:?}: {e2:?}", String::from_utf8_lossy(bytes));
    assert_eq!(fs::read(store.path()).unwrap(), bytes, "file must stay byte-identical");
    assert!(!store.backup_path().exists());
    let entries = fs::read_dir(store.path().parent().unwrap()).unwrap().count();
    assert_eq!(entries, 1, "no other file was created");
}

fn is_corrupt(e: &StateError) -> bool {
    matches!(e, StateError::Corrupt { .. })
}

#[test]
fn truncated_file_is_refused_with_line_and_column() {
    let mut s = crate::rich_state();
    s.serial = 4;
    let full = encode_state(&s).unwrap();
    for cut in [1, full.len() / 3, full.len() / 2, full.len() - 2] {
        assert_refused(&full[..cut], is_corrupt);
    }
    let (_d, store) = store();
    fs::write(store.path(), &full[..full.len() / 2]).unwrap();
    let m = store.read().unwrap_err().to_string();
    assert!(m.contains("line ") && m.contains("column "), "{m}");
    assert!(m.contains("truncated"), "{m}");
    assert!(m.contains("left untouched") && m.contains("meshform.state.json.backup"), "{m}");
    assert!(m.contains(&store.path().display().to_string()), "{m}");
}

#[test]
fn empty_and_garbage_files_are_refused() {
    assert_refused(b"", is_corrupt);
    assert_refused(b"\n  \n", is_corrupt);
    assert_refused(b"\xff\xfe garbage", is_corrupt);
    assert_refused(b"not json", is_corrupt);
    assert_refused(b"[]", is_corrupt);
    assert_refused(b"{}", is_corrupt);
    assert_refused(b"{\"version\": \"1\"}", is_corrupt);
    assert_refused(b"{\"version\": 0}", is_corrupt);
}

#[test]
fn wrong_shape_is_refused() {
    let good = String::from_utf8(encode_state(&crate::rich_state()).unwrap()).unwrap();
    assert_refused(good.replace("\"serial\": 0", "\"serial\": \"zero\"").as_bytes(), is_corrupt);
    assert_refused(good.replace("\"lineage\"", "\"lineagx\"").as_bytes(), is_corrupt);
    assert_refused(good.replace("\"managed\"", "\"other\"").as_bytes(), is_corrupt);
    assert_refused(
        good.replacen("\"name\": ", "\"extra\": 1, \"name\": ", 1).as_bytes(),
        is_corrupt,
    );
}

#[test]
fn newer_version_is_refused_and_says_upgrade() {
    let good = String::from_utf8(encode_state(&crate::rich_state()).unwrap()).unwrap();
    let newer = good.replace("\"version\": 1,", "\"version\": 2,\n  \"new_thing\": {},");
    assert_refused(newer.as_bytes(), |e| {
        matches!(e, StateError::UnsupportedVersion { found: 2, supported: 1, .. })
    });
    let (_d, store) = store();
    fs::write(store.path(), &newer).unwrap();
    let m = store.read().unwrap_err().to_string();
    assert!(m.contains("Upgrade meshform") && m.contains("version 2"), "{m}");
}

#[test]
fn other_lineage_is_refused() {
    let (_d, store) = store();
    let mut ours = State::new();
    store.write(&mut ours).unwrap();
    let bytes = fs::read(store.path()).unwrap();
    let mut theirs = State::new();
    let e = store.write(&mut theirs).unwrap_err();
    match &e {
        StateError::LineageMismatch { stored, ours: o, .. } => {
            assert_eq!(stored, &ours.lineage);
            assert_eq!(o, &theirs.lineage);
        }
        e => panic!("{e:?}"),
    }
    assert!(e.to_string().contains(&ours.lineage));
    assert_eq!(theirs.serial, 0, "serial not bumped on failure");
    assert_eq!(fs::read(store.path()).unwrap(), bytes);
}

#[test]
fn lost_update_is_refused() {
    let (_d, store) = store();
    let mut s = State::new();
    store.write(&mut s).unwrap();
    let mut a = store.read().unwrap().unwrap();
    let mut b = a.clone();
    store.write(&mut a).unwrap();
    assert_eq!(a.serial, 2);
    let e = store.write(&mut b).unwrap_err();
    assert!(matches!(e, StateError::SerialConflict { stored: 2, ours: 1, .. }), "{e:?}");
    assert_eq!(b.serial, 1);
    assert_eq!(store.read().unwrap().unwrap(), a);
}

#[test]
fn forced_write_replaces_another_lineage_and_stays_ahead() {
    let (_d, store) = store();
    let mut s = State::new();
    for _ in 0..5 {
        store.write(&mut s).unwrap();
    }
    let mut pushed = State::new();
    pushed.serial = 2;
    store.write_forced(&mut pushed).unwrap();
    assert_eq!(pushed.serial, 6);
    assert_eq!(store.read().unwrap().unwrap(), pushed);
    // The run that held the replaced state cannot overwrite it.
    assert!(store.write(&mut s).is_err());
}

#[test]
fn leftover_temp_files_are_ignored() {
    let (_d, store) = store();
    let mut s = State::new();
    store.write(&mut s).unwrap();
    let dir = store.path().parent().unwrap();
    fs::write(dir.join(".meshform.state.json.0123.tmp"), b"{\"version\": 1, \"ser").unwrap();
    assert_eq!(store.read().unwrap().unwrap(), s);
    store.write(&mut s).unwrap();
    assert_eq!(store.read().unwrap().unwrap(), s);
}

#[test]
fn missing_directory_is_an_io_error_naming_the_path() {
    let d = tempfile::tempdir().unwrap();
    let store = meshform_state::LocalStore::new(d.path().join("nope/meshform.state.json"));
    assert!(store.read().unwrap().is_none());
    let e = store.write(&mut State::new()).unwrap_err();
    assert!(matches!(e, StateError::Io { .. }), "{e:?}");
    assert!(e.to_string().contains("nope"), "{e}");
}

#[test]
fn workspaces_other_than_default_live_in_their_own_directory() {
    let d = tempfile::tempdir().unwrap();
    let default = meshform_state::LocalStore::for_workspace(d.path(), "default").unwrap();
    assert_eq!(default.path(), d.path().join("meshform.state.json"));
    let other = meshform_state::LocalStore::for_workspace(d.path(), "cn-hangzhou").unwrap();
    let guard =
        other.lock(meshform_state::LockInfo::new("apply", "x"), std::time::Duration::ZERO).unwrap();
    other.write(&mut State::new()).unwrap();
    drop(guard);
    assert!(d.path().join("meshform.state.d/cn-hangzhou/meshform.state.json").exists());
    assert!(default.read().unwrap().is_none(), "workspaces do not share a state");
    assert!(matches!(
        meshform_state::LocalStore::for_workspace(d.path(), "../x"),
        Err(StateError::InvalidWorkspace { .. })
    ));
}

#[test]
fn a_retired_state_file_is_renamed_with_its_backup() {
    let (d, store) = crate::store();
    let mut s = State::new();
    store.write(&mut s).unwrap();
    store.write(&mut s).unwrap();
    let to = store.retire("migrated").unwrap().expect("there was a state file");
    assert_eq!(to, d.path().join("meshform.state.json.migrated"));
    assert!(d.path().join("meshform.state.json.backup.migrated").exists());
    assert!(store.read().unwrap().is_none());
    assert_eq!(store.retire("migrated").unwrap(), None);
}

/// A state path that is not a file (`-state=/dev/null`, here a named pipe) is never renamed by a
/// migration: renaming a device would take it away from everything else on the machine.
#[cfg(unix)]
#[test]
fn a_state_path_that_is_not_a_file_is_never_retired() {
    use std::os::unix::fs::FileTypeExt;
    let d = tempfile::tempdir().unwrap();
    let pipe = d.path().join("state.pipe");
    let made = std::process::Command::new("mkfifo").arg(&pipe).status();
    if !made.is_ok_and(|s| s.success()) {
        return; // no mkfifo here: nothing to test with
    }
    let store = meshform_state::LocalStore::new(pipe.clone());
    assert_eq!(store.retire("migrated").unwrap(), None);
    assert!(std::fs::symlink_metadata(&pipe).unwrap().file_type().is_fifo(), "still a pipe");
    assert!(!d.path().join("state.pipe.migrated").exists());
}
