//! `schemas/state.schema.json` describes what the code writes, and rejects what it must not.

use std::path::Path;

use meshform_core::InstanceKey;
use meshform_state::{encode_state, State, StateStore};

use crate::{addr, instance, rich_state, store};

fn schema() -> serde_json::Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schemas/state.schema.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("schema is JSON")
}

fn validator() -> jsonschema::Validator {
    jsonschema::draft202012::new(&schema()).expect("schema compiles")
}

/// Writes `state` through a store and returns the document as stored.
fn written(mut state: State) -> serde_json::Value {
    let (_d, store) = store();
    store.write(&mut state).unwrap();
    serde_json::from_slice(&std::fs::read(store.path()).unwrap()).unwrap()
}

fn assert_valid(v: &jsonschema::Validator, doc: &serde_json::Value) {
    let errors: Vec<String> =
        v.iter_errors(doc).map(|e| format!("{e} at {}", e.instance_path())).collect();
    assert!(errors.is_empty(), "{errors:#?}\nin {doc:#}");
}

#[test]
fn schema_is_a_valid_draft_2020_12_schema() {
    let s = schema();
    assert_eq!(s["$schema"], "https://json-schema.org/draft/2020-12/schema");
    jsonschema::draft202012::meta::validate(&s).expect("valid against the 2020-12 meta-schema");
}

#[test]
fn states_written_by_the_code_are_valid() {
    let v = validator();
    assert_valid(&v, &written(State::new()));
    assert_valid(&v, &written(rich_state()));

    // Instance keys of each kind, one resource at a time.
    for key in
        [InstanceKey::None, InstanceKey::Int(0), InstanceKey::Int(42), InstanceKey::Str("".into())]
    {
        let mut s = State::new();
        s.set_instance(
            &addr("local_file.a").resource.instance(key),
            "provider.local",
            instance(1.into()),
        );
        assert_valid(&v, &written(s));
    }

    // The rich state exercises every optional field; make sure they were really written.
    let doc = written(rich_state());
    let text = doc.to_string();
    for field in
        ["tainted", "sensitive_attributes", "pending", "create_before_destroy", "dependencies"]
    {
        assert!(text.contains(field), "{field} missing from {doc:#}");
    }
    let keys: Vec<&serde_json::Value> = doc["resources"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["instances"].as_array().unwrap())
        .filter_map(|i| i.get("index_key"))
        .collect();
    assert!(keys.iter().any(|k| k.is_i64()) && keys.iter().any(|k| k.is_string()), "{keys:?}");
}

/// A change that makes a valid document invalid.
type Mutation = Box<dyn Fn(&mut serde_json::Value)>;

#[test]
fn invalid_documents_are_rejected() {
    let v = validator();
    let good = written(rich_state());
    assert_valid(&v, &good);
    let mutations: Vec<(&str, Mutation)> = vec![
        (
            "missing lineage",
            Box::new(|d| {
                d.as_object_mut().unwrap().remove("lineage");
            }),
        ),
        ("unknown top-level field", Box::new(|d| d["extra"] = true.into())),
        ("newer version", Box::new(|d| d["version"] = 2.into())),
        ("negative serial", Box::new(|d| d["serial"] = (-1).into())),
        ("string serial", Box::new(|d| d["serial"] = "1".into())),
        ("bad mode", Box::new(|d| d["resources"][0]["mode"] = "weird".into())),
        (
            "object index key",
            Box::new(|d| {
                d["resources"][0]["instances"][0]["index_key"] = serde_json::json!({"a": 1})
            }),
        ),
        ("bad status", Box::new(|d| d["resources"][0]["instances"][0]["status"] = "broken".into())),
        (
            "missing attributes",
            Box::new(|d| {
                d["resources"][0]["instances"][0].as_object_mut().unwrap().remove("attributes");
            }),
        ),
        (
            "negative path index",
            Box::new(|d| d["pending"][0]["sensitive_attributes"] = serde_json::json!([[-1]])),
        ),
        (
            "output without value",
            Box::new(|d| d["outputs"]["pw"] = serde_json::json!({"sensitive": true})),
        ),
        ("bad provider", Box::new(|d| d["resources"][0]["provider"] = "local".into())),
        (
            "pending without started",
            Box::new(|d| {
                d["pending"][0].as_object_mut().unwrap().remove("started");
            }),
        ),
    ];
    for (what, mutate) in mutations {
        let mut doc = good.clone();
        mutate(&mut doc);
        assert!(!v.is_valid(&doc), "{what}: schema accepted {doc:#}");
    }
}

#[test]
fn every_document_the_schema_accepts_here_is_also_read_by_the_code() {
    // The schema and the decoder agree on a document with every optional field omitted.
    let minimal = serde_json::json!({
        "version": 1, "meshform_version": "0.1.0", "serial": 3,
        "lineage": "0b6e4a7e-4c3f-4d3f-9d6c-1c1f1c1f1c1f",
        "resources": [{"mode": "managed", "type": "t", "name": "a", "provider": "provider.p",
                       "instances": [{"attributes": {}}]}]
    });
    assert_valid(&validator(), &minimal);
    let s = meshform_state::decode_state(Path::new("x"), minimal.to_string().as_bytes()).unwrap();
    assert_eq!(s.serial, 3);
    assert_eq!(encode_state(&s).unwrap().last(), Some(&b'\n'));
}
