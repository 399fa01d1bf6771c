//! Object storage for one cluster: objects by group/kind/namespace/name, the cluster's single
//! monotonically increasing resourceVersion counter, the recent change history and the change feed.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use serde_json::{json, Value};
use tokio::sync::broadcast;

/// How many changes are kept for watches that start from an older resourceVersion.
const HISTORY: usize = 4096;

/// Where an object lives.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectKey {
    pub group: String,
    pub kind: String,
    /// "" for cluster-scoped objects.
    pub namespace: String,
    pub name: String,
}

impl ObjectKey {
    /// A key from its parts.
    pub fn new(group: &str, kind: &str, namespace: &str, name: &str) -> Self {
        ObjectKey {
            group: group.into(),
            kind: kind.into(),
            namespace: namespace.into(),
            name: name.into(),
        }
    }
}

/// What happened to an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeType {
    Added,
    Modified,
    Deleted,
}

impl ChangeType {
    /// The watch event type (`ADDED`, `MODIFIED`, `DELETED`).
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeType::Added => "ADDED",
            ChangeType::Modified => "MODIFIED",
            ChangeType::Deleted => "DELETED",
        }
    }
}

/// One change of one object, in resourceVersion order.
#[derive(Debug, Clone)]
pub struct Change {
    /// The resourceVersion the change produced.
    pub resource_version: u64,
    pub change: ChangeType,
    pub key: ObjectKey,
    /// The object after the change (for `Deleted`: the last state, with the deletion's version).
    pub object: Arc<Value>,
}

/// The objects of one cluster.
#[derive(Debug)]
pub struct Store {
    rv: u64,
    objects: BTreeMap<ObjectKey, Value>,
    history: VecDeque<Change>,
    feed: broadcast::Sender<Change>,
}

impl Store {
    /// An empty store whose next resourceVersion follows `rv`.
    pub fn new(rv: u64) -> Self {
        let (feed, _) = broadcast::channel(1024);
        Store { rv, objects: BTreeMap::new(), history: VecDeque::new(), feed }
    }

    /// The last resourceVersion handed out.
    pub fn resource_version(&self) -> u64 {
        self.rv
    }

    /// One object.
    pub fn get(&self, key: &ObjectKey) -> Option<&Value> {
        self.objects.get(key)
    }

    /// Objects of a group/kind, optionally in one namespace, in namespace/name order.
    pub fn list(&self, group: &str, kind: &str, namespace: Option<&str>) -> Vec<&Value> {
        let start = ObjectKey::new(group, kind, namespace.unwrap_or(""), "");
        self.objects
            .range(start..)
            .take_while(|(k, _)| {
                k.group == group && k.kind == kind && namespace.is_none_or(|ns| k.namespace == ns)
            })
            .map(|(_, v)| v)
            .collect()
    }

    /// Every object.
    pub fn all(&self) -> impl Iterator<Item = (&ObjectKey, &Value)> {
        self.objects.iter()
    }

    /// Store an object, stamping the next resourceVersion on it; returns the stored object.
    pub fn put(&mut self, key: ObjectKey, mut object: Value) -> Value {
        self.rv += 1;
        object["metadata"]["resourceVersion"] = json!(self.rv.to_string());
        let change =
            if self.objects.contains_key(&key) { ChangeType::Modified } else { ChangeType::Added };
        self.objects.insert(key.clone(), object.clone());
        self.record(change, key, object.clone());
        object
    }

    /// Remove an object; returns its last state with the deletion's resourceVersion.
    pub fn remove(&mut self, key: &ObjectKey) -> Option<Value> {
        let mut object = self.objects.remove(key)?;
        self.rv += 1;
        object["metadata"]["resourceVersion"] = json!(self.rv.to_string());
        self.record(ChangeType::Deleted, key.clone(), object.clone());
        Some(object)
    }

    fn record(&mut self, change: ChangeType, key: ObjectKey, object: Value) {
        let c = Change { resource_version: self.rv, change, key, object: Arc::new(object) };
        if self.history.len() >= HISTORY {
            self.history.pop_front();
        }
        self.history.push_back(c.clone());
        // No receivers is fine: nobody is watching.
        let _ = self.feed.send(c);
    }

    /// Changes after `rv`, with a receiver for the ones that follow; `None` when `rv` is older
    /// than the retained history (the watch must answer 410 Gone).
    pub fn changes_since(&self, rv: u64) -> Option<(Vec<Change>, broadcast::Receiver<Change>)> {
        let oldest = self.history.front().map(|c| c.resource_version).unwrap_or(self.rv + 1);
        if rv + 1 < oldest && rv < self.rv {
            return None;
        }
        let past = self.history.iter().filter(|c| c.resource_version > rv).cloned().collect();
        Some((past, self.feed.subscribe()))
    }

    /// A receiver for changes from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.feed.subscribe()
    }

    /// The persisted form: the counter and every object.
    pub fn snapshot(&self) -> Value {
        json!({
            "resourceVersion": self.rv,
            "objects": self.objects.values().collect::<Vec<_>>(),
        })
    }

    /// Load a snapshot made by [`Store::snapshot`]; `key_of` files each object. Objects it cannot
    /// file are skipped.
    pub fn load(snapshot: &Value, key_of: impl Fn(&Value) -> Option<ObjectKey>) -> Self {
        let rv = snapshot["resourceVersion"].as_u64().unwrap_or(0);
        let mut store = Store::new(rv);
        for o in snapshot["objects"].as_array().into_iter().flatten() {
            if let Some(k) = key_of(o) {
                store.objects.insert(k, o.clone());
            }
        }
        store
    }
}
