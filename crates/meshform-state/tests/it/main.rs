//! Integration tests of meshform-state: the local store, its locking, the JSON Schema, and properties
//! of writes. One test binary, so the crate is linked once.

mod encryption;
mod journal;
mod local;
mod lock;
mod pg;
mod pg_journal;
mod pg_tls;
mod props;
mod schema;

use std::path::PathBuf;

use meshform_core::{InstanceAddr, InstanceKey, PathStep, Value};
use meshform_state::{
    InstanceState, InstanceStatus, LocalStore, OutputState, PendingCreate, State,
};

/// A temporary directory with a store for `meshform.state.json` in it.
pub fn store() -> (tempfile::TempDir, LocalStore) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = LocalStore::new(dir.path().join("meshform.state.json"));
    (dir, store)
}

pub fn path_of(store: &LocalStore) -> PathBuf {
    store.path().to_owned()
}

pub fn instance(attrs: serde_json::Value) -> InstanceState {
    InstanceState {
        index_key: InstanceKey::None,
        provider: None,
        status: InstanceStatus::Ready,
        attributes: attrs,
        sensitive_attributes: vec![],
        dependencies: vec![],
        create_before_destroy: false,
    }
}

pub fn addr(s: &str) -> InstanceAddr {
    s.parse().expect("valid address")
}

/// A state using every part of the format: instance keys of each kind, data sources, a tainted
/// instance, sensitive attributes, dependencies, outputs and a pending create.
pub fn rich_state() -> State {
    let mut s = State::new();
    s.set_instance(
        &addr("local_file.single"),
        "provider.local",
        instance(serde_json::json!({"filename": "a.txt", "content": "hi", "size": 2})),
    );
    s.set_instance(
        &addr("local_file.counted[0]"),
        "provider.local",
        instance(serde_json::json!({})),
    );
    let mut tainted = instance(serde_json::json!({"filename": "b.txt"}));
    tainted.status = InstanceStatus::Tainted;
    tainted.create_before_destroy = true;
    tainted.dependencies = vec!["local_file.single".into()];
    s.set_instance(&addr("local_file.counted[1]"), "provider.local", tainted);
    let mut secret = instance(serde_json::Value::Null);
    let value = Value::from_json(&serde_json::json!({
        "password": "hunter2", "list": ["a", "b"], "plain": true
    }));
    let mut value = value;
    value.mark_at(&[PathStep::Key("password".into())]);
    value.mark_at(&[PathStep::Key("list".into()), PathStep::Index(1)]);
    secret.set_value(&value);
    s.set_instance(&addr("local_secret.each[\"k.with dots\"]"), "provider.local.alias", secret);
    s.set_instance(
        &addr("data.local_file.read"),
        "provider.local",
        instance(serde_json::json!({"content": null})),
    );
    s.outputs.insert(
        "name".into(),
        OutputState { value: serde_json::json!({"a": [1, 2.5, "x"]}), sensitive: false },
    );
    s.outputs
        .insert("pw".into(), OutputState { value: serde_json::json!("s3cret"), sensitive: true });
    s.pending.push(PendingCreate {
        address: "local_file.counted[2]".into(),
        provider: "provider.local".into(),
        attributes: serde_json::json!({"filename": "c.txt", "id": null, "token": "t"}),
        sensitive_attributes: vec![vec![PathStep::Key("token".into())]],
        started: "2025-06-01T12:00:00Z".into(),
    });
    s
}
