//! Properties: whatever sequence of states is written, the file reads back as the last one written, and
//! the backup as the one before; whatever is appended to the journal and compacted, a crash that cuts
//! the journal anywhere reads back the state after the last whole entry.

use meshform_core::{InstanceKey, ResourceAddr};
use meshform_state::journal::scan_frames;
use meshform_state::{
    encode_state, Appended, InstanceStatus, LocalStore, OutputState, State, StateChange, StateStore,
};
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

/// One step of a run: a batch of changes appended as one entry, or a whole write (compaction).
#[derive(Clone, Debug)]
enum Step {
    Append(Vec<StateChange>),
    Compact,
}

fn change() -> impl Strategy<Value = StateChange> {
    let address =
        (0usize..2, 0i64..4).prop_map(|(name, i)| format!("local_file.{}[{i}]", ["a", "b"][name]));
    prop_oneof![
        3 => (address.clone(), json()).prop_map(|(address, attrs)| {
            let mut instance = instance(attrs);
            instance.index_key = crate::addr(&address).key;
            StateChange::SetInstance { address, provider: "provider.local".into(), instance }
        }),
        1 => address.clone().prop_map(|address| StateChange::RemoveInstance { address }),
        1 => (address.clone(), json()).prop_map(|(address, attributes)| StateChange::AddPending {
            pending: meshform_state::PendingCreate {
                address,
                provider: "provider.local".into(),
                attributes,
                sensitive_attributes: vec![],
                started: "2026-01-01T00:00:00Z".into(),
            },
        }),
        1 => address.prop_map(|address| StateChange::RemovePending { address }),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        5 => prop::collection::vec(change(), 1..4).prop_map(Step::Append),
        1 => Just(Step::Compact),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Whatever was appended and compacted, and wherever a crash cut the journal's last bytes, the
    /// state reads back as it was after the last entry that reached the disk whole: never a torn
    /// entry misread, never an earlier entry lost.
    #[test]
    fn a_crash_anywhere_in_the_journal_reads_back_the_last_whole_entry(
        steps in prop::collection::vec(step(), 1..12),
        cut_fraction in 0.0f64..1.0,
    ) {
        let (_d, store) = store();
        let mut state = State::new();
        store.write(&mut state).unwrap();
        // The state after each entry of the current journal, the snapshot's first.
        let mut after_entry = vec![state.clone()];
        for step in steps {
            match step {
                Step::Append(changes) => {
                    for c in &changes {
                        c.apply(&mut state).unwrap();
                    }
                    match store.append(&state.lineage, state.serial, &changes).unwrap() {
                        Appended::Journalled { serial } => state.serial = serial,
                        Appended::NeedsSnapshot => prop_assert!(false, "a snapshot exists"),
                    }
                    after_entry.push(state.clone());
                }
                Step::Compact => {
                    store.write(&mut state).unwrap();
                    after_entry = vec![state.clone()];
                }
            }
        }
        prop_assert_eq!(&store.read().unwrap().unwrap(), &state);
        // The crash: the journal is cut somewhere in its last entry (or not at all).
        let journal = std::fs::read(store.journal_path()).unwrap_or_default();
        let (frames, _) = scan_frames(&journal);
        let last_start = frames.len().checked_sub(2).map_or(0, |i| frames[i].0);
        let cut = last_start + ((journal.len() - last_start) as f64 * cut_fraction) as usize;
        std::fs::write(store.journal_path(), &journal[..cut]).unwrap();
        let whole = scan_frames(&journal[..cut]).0.len();
        let fresh = LocalStore::new(store.path().to_owned());
        let mut read = fresh.read().unwrap().unwrap();
        prop_assert_eq!(&read, &after_entry[whole]);
        // The next run goes on from there, and its entry is read back.
        let next = StateChange::RemoveInstance { address: "local_file.a[0]".into() };
        next.apply(&mut read).unwrap();
        if let Appended::Journalled { serial } =
            fresh.append(&read.lineage, read.serial, std::slice::from_ref(&next)).unwrap()
        {
            read.serial = serial;
        }
        prop_assert_eq!(&LocalStore::new(store.path().to_owned()).read().unwrap().unwrap(), &read);
    }
}
