//! Property: whatever sequence of states is written, the file reads back as the last one written, and
//! the backup as the one before.

use meshform_core::{InstanceKey, ResourceAddr};
use meshform_state::{encode_state, InstanceStatus, OutputState, State, StateStore};
use proptest::prelude::*;

use crate::{instance, store};

fn key() -> impl Strategy<Value = InstanceKey> {
    prop_oneof![
        Just(InstanceKey::None),
        (0i64..5).prop_map(InstanceKey::Int),
        "[a-z\"\\\\ .]{0,4}".prop_map(InstanceKey::Str),
    ]
}

fn json() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        "\\PC{0,8}".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            prop::collection::btree_map("[a-z_]{1,5}", inner, 0..4)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

/// The content of one state (lineage and serial are the store's business).
fn content() -> impl Strategy<Value = State> {
    let inst = (0usize..3, 0usize..3, any::<bool>(), key(), json(), any::<bool>());
    let outputs = prop::collection::btree_map("[a-z]{1,6}", (json(), any::<bool>()), 0..3);
    (prop::collection::vec(inst, 0..6), outputs).prop_map(|(insts, outputs)| {
        let mut s = State::new();
        for (ty, name, data, key, attrs, tainted) in insts {
            let ty = ["local_file", "local_secret", "null_thing"][ty];
            let name = ["a", "b", "c"][name];
            let r =
                if data { ResourceAddr::data(ty, name) } else { ResourceAddr::managed(ty, name) };
            let mut i = instance(attrs);
            if tainted {
                i.status = InstanceStatus::Tainted;
            }
            s.set_instance(&r.instance(key), "provider.local", i);
        }
        for (k, (value, sensitive)) in outputs {
            s.outputs.insert(k, OutputState { value, sensitive });
        }
        s
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn last_write_wins(contents in prop::collection::vec(content(), 1..6)) {
        let (_d, store) = store();
        let mut lineage = None;
        let mut serial = 0;
        let mut written: Vec<State> = Vec::new();
        for mut s in contents {
            if let Some(l) = &lineage {
                s.lineage = String::clone(l);
            }
            lineage = Some(s.lineage.clone());
            s.serial = serial;
            store.write(&mut s).unwrap();
            prop_assert_eq!(s.serial, serial + 1);
            serial = s.serial;
            written.push(s);
        }
        let last = written.last().unwrap();
        prop_assert_eq!(&store.read().unwrap().unwrap(), last);
        prop_assert_eq!(std::fs::read(store.path()).unwrap(), encode_state(last).unwrap());
        if written.len() > 1 {
            let before = &written[written.len() - 2];
            prop_assert_eq!(std::fs::read(store.backup_path()).unwrap(), encode_state(before).unwrap());
        }
    }
}
