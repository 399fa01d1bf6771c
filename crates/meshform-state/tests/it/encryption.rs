//! Encryption at rest through the stores: every byte the local backend (state and backup) and the
//! PostgreSQL backend (`data` and `previous`) keep is an envelope without the secrets; a wrong
//! passphrase or a missing configuration is refused and nothing is overwritten; plaintext migrates
//! through an `unencrypted` fallback.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use meshform_core::{PathStep, Value};
use meshform_state::encryption::{Encryption, Method, Pbkdf2Key, Target};
use meshform_state::{LocalStore, PgSettings, PgStore, State, StateError, StateStore};

use crate::{addr, instance, rich_state};

const PASS: &str = "a passphrase of some length";
const PEM: &str = "-----BEGIN PRIVATE KEY-----";
const ROOT_KEY: &str =
    "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA\n-----END PRIVATE KEY-----\n";

fn aes(pass: &str) -> Method {
    Method::AesGcm(Pbkdf2Key::new("main", pass, 1_000).expect("valid key provider").into())
}

fn encrypted(pass: &str) -> Arc<Encryption> {
    Arc::new(Encryption::new(Target::State, Some(aes(pass)), vec![]))
}

fn migrating(pass: &str) -> Arc<Encryption> {
    Arc::new(Encryption::new(Target::State, Some(aes(pass)), vec![Method::Unencrypted]))
}

/// A state holding a root CA key (sensitive) and a sensitive output.
fn secret_state() -> State {
    let mut s = rich_state();
    let mut ca = instance(serde_json::Value::Null);
    let mut v =
        Value::from_json(&serde_json::json!({"private_key_pem": ROOT_KEY, "algorithm": "ED25519"}));
    v.mark_at(&[PathStep::Key("private_key_pem".into())]);
    ca.set_value(&v);
    s.set_instance(&addr("pki_private_key.root"), "provider.pki", ca);
    s
}

fn assert_no_secret(what: &str, bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    for secret in [PEM, "hunter2", "s3cret", PASS] {
        assert!(!text.contains(secret), "{what} holds {secret:?}:\n{text}");
    }
    let doc: serde_json::Value = serde_json::from_slice(bytes).expect("an envelope is JSON");
    assert_eq!(doc["encryption_version"], "v0", "{what}");
}

fn local_store(dir: &tempfile::TempDir, enc: Arc<Encryption>) -> LocalStore {
    LocalStore::new(dir.path().join("meshform.state.json")).with_encryption(enc)
}

#[test]
fn local_state_and_backup_round_trip_without_plaintext_on_disk() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = local_store(&dir, encrypted(PASS));
    let mut s = secret_state();
    store.write(&mut s).expect("first write");
    store.write(&mut s).expect("second write (makes a backup)");
    assert_eq!(store.read().expect("read").expect("stored"), s);
    assert_no_secret("state file", &std::fs::read(store.path()).expect("state file"));
    assert_no_secret("backup", &std::fs::read(store.backup_path()).expect("backup"));
    let doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(store.path()).expect("state")).expect("JSON");
    assert_eq!(doc["serial"], s.serial);
    assert_eq!(doc["lineage"], s.lineage.as_str());
    // Another run with the same passphrase (a new salt, no cached key) reads and extends it.
    let again = local_store(&dir, encrypted(PASS));
    let mut back = again.read().expect("read").expect("stored");
    again.write(&mut back).expect("write");
    assert_eq!(back.serial, s.serial + 1);
}

#[test]
fn wrong_passphrase_and_no_configuration_are_refused_and_nothing_is_overwritten() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = local_store(&dir, encrypted(PASS));
    let mut s = secret_state();
    store.write(&mut s).expect("write");
    store.write(&mut s).expect("write");
    let before = (std::fs::read(store.path()).ok(), std::fs::read(store.backup_path()).ok());

    let wrong = local_store(&dir, encrypted("not the right passphrase"));
    let e = wrong.read().expect_err("wrong passphrase");
    let m = e.to_string();
    assert!(matches!(e, StateError::Encryption { .. }), "{m}");
    assert!(m.contains("authentication failed") && !m.contains("not the right"), "{m}");
    let mut other = s.clone();
    assert!(matches!(wrong.write(&mut other), Err(StateError::Encryption { .. })));
    assert!(matches!(wrong.write_forced(&mut other), Err(StateError::Encryption { .. })));

    let plain = LocalStore::new(store.path().to_owned());
    let m = plain.read().expect_err("no configuration").to_string();
    assert!(
        m.contains(
            "This state file is encrypted and can not be read without an encryption configuration"
        ),
        "{m}"
    );
    assert!(plain.write(&mut other).is_err());
    assert!(plain.write_forced(&mut other).is_err());
    let after = (std::fs::read(store.path()).ok(), std::fs::read(store.backup_path()).ok());
    assert!(before == after, "a refused write changed the state or its backup");
}

#[test]
fn plaintext_migrates_through_an_unencrypted_fallback_and_not_without_one() {
    let dir = tempfile::tempdir().expect("temp dir");
    let plain = LocalStore::new(dir.path().join("meshform.state.json"));
    let mut s = secret_state();
    plain.write(&mut s).expect("plaintext write");
    plain.write(&mut s).expect("plaintext write with a plaintext backup");
    assert!(String::from_utf8_lossy(&std::fs::read(plain.path()).expect("state")).contains(PEM));

    let strict = local_store(&dir, encrypted(PASS));
    let m = strict.read().expect_err("plaintext without the fallback").to_string();
    assert!(m.contains("encountered unencrypted payload without unencrypted method"), "{m}");
    let untouched = std::fs::read(plain.path()).expect("state");
    assert!(strict.write(&mut s.clone()).is_err());
    assert_eq!(std::fs::read(plain.path()).expect("state"), untouched);

    let store = local_store(&dir, migrating(PASS));
    let mut back = store.read().expect("plaintext read through the fallback").expect("stored");
    assert_eq!(back, s);
    store.write(&mut back).expect("encrypted write");
    assert_no_secret("state file", &std::fs::read(store.path()).expect("state"));
    assert_no_secret("backup", &std::fs::read(store.backup_path()).expect("backup"));
    // The encrypted backup is the replaced version.
    std::fs::copy(store.backup_path(), store.path()).expect("restore the backup");
    assert_eq!(local_store(&dir, encrypted(PASS)).read().expect("read").expect("stored"), s);
}

#[test]
fn decrypting_back_to_plaintext_through_a_fallback_method() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut s = secret_state();
    local_store(&dir, encrypted(PASS)).write(&mut s).expect("encrypted write");
    let back_to_plain =
        Arc::new(Encryption::new(Target::State, Some(Method::Unencrypted), vec![aes(PASS)]));
    let store = local_store(&dir, back_to_plain);
    let mut back = store.read().expect("read through the fallback").expect("stored");
    store.write(&mut back).expect("plaintext write");
    let on_disk = LocalStore::new(store.path().to_owned()).read().expect("plain read");
    assert_eq!(on_disk.expect("stored").serial, s.serial + 1);
}

#[test]
fn altered_clear_text_serial_is_reported_as_corrupt() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = local_store(&dir, encrypted(PASS));
    let mut s = State::new();
    store.write(&mut s).expect("write");
    let mut doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(store.path()).expect("state")).expect("JSON");
    doc["serial"] = 99.into();
    std::fs::write(store.path(), serde_json::to_vec(&doc).expect("JSON")).expect("write");
    assert!(matches!(store.read(), Err(StateError::Corrupt { .. })));
}

/// A fresh schema per test, so tests never see each other's rows.
fn pg_settings() -> Option<PgSettings> {
    static N: AtomicUsize = AtomicUsize::new(0);
    let server = meshform_pgtest::server_or_skip()?;
    let n = N.fetch_add(1, Ordering::Relaxed);
    Some(PgSettings {
        conn_str: server.conn_str(),
        env: Default::default(),
        schema_name: format!("enc{}_{n}", std::process::id()),
        workspace: "default".to_owned(),
    })
}

/// The raw `data` and `previous` columns of the default workspace's row.
fn pg_row(s: &PgSettings) -> (String, Option<String>) {
    let mut c = postgres::Client::connect(&s.conn_str, postgres::NoTls).expect("connect");
    let row = c
        .query_one(
            format!(
                "SELECT data, previous FROM \"{}\".states WHERE workspace = 'default'",
                s.schema_name
            )
            .as_str(),
            &[],
        )
        .expect("the row");
    (row.get(0), row.get(1))
}

#[test]
fn pg_rows_are_encrypted_migrated_and_refused_without_the_key() {
    let Some(settings) = pg_settings() else { return };
    let open = |enc: Option<Arc<Encryption>>| {
        let store = PgStore::new(&settings).expect("valid settings");
        match enc {
            Some(e) => store.with_encryption(e),
            None => store,
        }
    };
    let mut s = secret_state();
    open(None).write(&mut s).expect("plaintext write");
    assert!(pg_row(&settings).0.contains(PEM));

    let e = open(Some(encrypted(PASS))).write(&mut s.clone()).expect_err("no fallback");
    assert!(e.to_string().contains("unencrypted payload"), "{e}");

    let store = open(Some(migrating(PASS)));
    let mut back = store.read().expect("read").expect("stored");
    store.write(&mut back).expect("encrypted write");
    let (data, previous) = pg_row(&settings);
    assert_no_secret("data", data.as_bytes());
    assert_no_secret("previous", previous.expect("previous").as_bytes());
    let strict = open(Some(encrypted(PASS)));
    let mut again = strict.read().expect("read").expect("stored");
    assert_eq!(again.resources, s.resources);
    strict.write(&mut again).expect("write");

    let before = pg_row(&settings);
    let m = open(None).read().expect_err("no configuration").to_string();
    assert!(m.contains("This state file is encrypted and can not be read"), "{m}");
    let wrong = open(Some(encrypted("definitely the wrong one")));
    let m = wrong.read().expect_err("wrong passphrase").to_string();
    assert!(m.contains("authentication failed"), "{m}");
    assert!(wrong.write(&mut again.clone()).is_err());
    assert!(open(None).write_forced(&mut again.clone()).is_err());
    assert_eq!(pg_row(&settings), before, "a refused write changed the row");
}
