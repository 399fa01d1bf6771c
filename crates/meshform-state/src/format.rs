//! The state document: what meshform knows about the objects it manages, as stored on disk.
//!
//! Attribute values are stored in cleartext JSON (the state must be able to recreate them) with the paths
//! of sensitive attributes listed beside them, so that loading marks them sensitive again.

use std::collections::BTreeMap;

use meshform_core::{InstanceAddr, InstanceKey, Mode, ModulePath, PathStep, ResourceAddr, Value};
use serde::{Deserialize, Serialize};

use crate::keyed::{Keyed, KeyedList};
use crate::store::now_rfc3339;

/// The state format version this build reads and writes.
pub const STATE_FORMAT_VERSION: u32 = 1;

/// A whole state document.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct State {
    /// Format version ([`STATE_FORMAT_VERSION`]).
    pub version: u32,
    /// The meshform version that last wrote this state.
    pub meshform_version: String,
    /// Bumped on every write.
    pub serial: u64,
    /// A UUID fixed when the state is created; states of different lineages are different histories.
    pub lineage: String,
    #[serde(default)]
    pub outputs: BTreeMap<String, OutputState>,
    /// Sorted by address; stored as a list.
    #[serde(default)]
    pub resources: KeyedList<ResourceState>,
    /// Creates that were sent (or about to be sent) to a provider but whose result was not yet saved.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending: Vec<PendingCreate>,
    /// Objects replaced by `create_before_destroy` whose deletion has not completed: the next plan
    /// destroys them, so a crash between the create and the delete orphans nothing.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deposed: Vec<DeposedObject>,
}

/// An object replaced at its address (create-before-destroy) and not yet deleted.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeposedObject {
    pub address: String,
    pub provider: String,
    pub attributes: serde_json::Value,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sensitive_attributes: Vec<Vec<PathStep>>,
    /// RFC 3339 time it was deposed.
    pub deposed_at: String,
}

impl DeposedObject {
    /// `old`, replaced at `address` (create-before-destroy) and set aside now until it is deleted.
    pub fn from_instance(address: String, provider: String, old: &InstanceState) -> DeposedObject {
        DeposedObject {
            address,
            provider,
            attributes: old.attributes.clone(),
            sensitive_attributes: old.sensitive_attributes.clone(),
            deposed_at: now_rfc3339(),
        }
    }

    pub fn value(&self) -> Value {
        let mut v = Value::from_json(&self.attributes);
        for p in &self.sensitive_attributes {
            v.mark_at(p);
        }
        v
    }
}

/// An output value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputState {
    pub value: serde_json::Value,
    #[serde(default)]
    pub sensitive: bool,
}

impl OutputState {
    /// An output's value as stored: cleartext, with `sensitive` saying whether to redact it when shown.
    pub fn new(value: &Value, sensitive: bool) -> OutputState {
        OutputState { value: value.expose_json(), sensitive }
    }
}

/// A resource (all instances of one `resource`/`data` block).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceState {
    /// The module instance holding it (`module.dr["prod"]`), absent in the root module.
    #[serde(default, skip_serializing_if = "ModulePath::is_root")]
    pub module: ModulePath,
    pub mode: Mode,
    #[serde(rename = "type")]
    pub ty: String,
    pub name: String,
    /// The provider instance that manages it: `provider.local` or `provider.kubernetes.cluster_1`.
    pub provider: String,
    /// Sorted by key; stored as a list.
    pub instances: KeyedList<InstanceState>,
}

impl Keyed for ResourceState {
    type Key = ResourceAddr;

    fn key(&self) -> ResourceAddr {
        self.addr()
    }

    fn describe(key: &ResourceAddr) -> String {
        format!("resource {key}")
    }
}

impl Keyed for InstanceState {
    type Key = InstanceKey;

    fn key(&self) -> InstanceKey {
        self.index_key.clone()
    }

    fn describe(key: &InstanceKey) -> String {
        if key.is_none() {
            "an instance without a key".to_owned()
        } else {
            format!("instance {key}")
        }
    }
}

impl ResourceState {
    /// The provider instance (state key) managing instance `i` of this resource.
    pub fn provider_of<'a>(&'a self, i: &'a InstanceState) -> &'a str {
        i.provider.as_deref().unwrap_or(&self.provider)
    }

    /// When every instance names the same provider of its own, it becomes the resource's.
    fn hoist_provider(&mut self) {
        let Some(first) = self.instances.first().and_then(|i| i.provider.clone()) else { return };
        if self.instances.iter().all(|i| i.provider.as_deref() == Some(first.as_str())) {
            self.provider = first;
            self.instances.iter_mut().for_each(|i| i.provider = None);
        }
    }

    pub fn addr(&self) -> ResourceAddr {
        ResourceAddr {
            module: self.module.clone(),
            mode: self.mode,
            ty: self.ty.clone(),
            name: self.name.clone(),
        }
    }
}

/// Whether an instance is healthy.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InstanceStatus {
    #[default]
    Ready,
    /// A create or update failed part-way: the next plan replaces it.
    Tainted,
}

/// One instance of a resource.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstanceState {
    #[serde(default = "no_key", skip_serializing_if = "InstanceKey::is_none")]
    pub index_key: InstanceKey,
    /// The provider instance managing this instance when it is not its resource's (a resource
    /// choosing a provider instance per key: `provider.kubernetes.by_cluster["cluster-1"]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    #[serde(default, skip_serializing_if = "is_ready")]
    pub status: InstanceStatus,
    /// Attribute values in cleartext JSON.
    pub attributes: serde_json::Value,
    /// Paths of sensitive values within `attributes`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sensitive_attributes: Vec<Vec<PathStep>>,
    /// Addresses of the resources this instance depended on when it was last applied; destroy order
    /// follows them when the configuration is gone.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dependencies: Vec<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub create_before_destroy: bool,
}

fn no_key() -> InstanceKey {
    InstanceKey::None
}

fn is_ready(s: &InstanceStatus) -> bool {
    *s == InstanceStatus::Ready
}

impl InstanceState {
    /// A ready instance at `key` with no attributes yet.
    pub fn new(index_key: InstanceKey) -> InstanceState {
        InstanceState {
            index_key,
            provider: None,
            status: InstanceStatus::Ready,
            attributes: serde_json::Value::Null,
            sensitive_attributes: Vec::new(),
            dependencies: Vec::new(),
            create_before_destroy: false,
        }
    }

    /// The attributes as a [`Value`] with sensitive marks restored.
    pub fn value(&self) -> Value {
        let mut v = Value::from_json(&self.attributes);
        for p in &self.sensitive_attributes {
            v.mark_at(p);
        }
        v
    }

    /// Stores a value, remembering where its sensitive marks were.
    pub fn set_value(&mut self, value: &Value) {
        self.attributes = value.expose_json();
        self.sensitive_attributes = value.sensitive_paths();
    }
}

/// The recorded intent of a create, saved before the provider is called.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PendingCreate {
    /// The instance address (`local_file.a["k"]`).
    pub address: String,
    pub provider: String,
    /// The planned value (unknown attributes as null): the identifying attributes `lookup` needs.
    pub attributes: serde_json::Value,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sensitive_attributes: Vec<Vec<PathStep>>,
    /// RFC 3339 time the intent was recorded.
    pub started: String,
}

impl PendingCreate {
    /// The intent, recorded now, to create `planned` (unknown attributes as null) at `address`.
    pub fn new(address: String, provider: String, planned: &Value) -> PendingCreate {
        PendingCreate {
            address,
            provider,
            attributes: planned.expose_json(),
            sensitive_attributes: planned.sensitive_paths(),
            started: now_rfc3339(),
        }
    }

    pub fn value(&self) -> Value {
        let mut v = Value::from_json(&self.attributes);
        for p in &self.sensitive_attributes {
            v.mark_at(p);
        }
        v
    }
}

impl Default for State {
    fn default() -> State {
        State::new()
    }
}

impl State {
    /// A fresh, empty state with a new lineage.
    pub fn new() -> State {
        State {
            version: STATE_FORMAT_VERSION,
            meshform_version: env!("CARGO_PKG_VERSION").to_owned(),
            serial: 0,
            lineage: uuid::Uuid::new_v4().to_string(),
            outputs: BTreeMap::new(),
            resources: KeyedList::new(),
            pending: Vec::new(),
            deposed: Vec::new(),
        }
    }

    pub fn resource(&self, addr: &ResourceAddr) -> Option<&ResourceState> {
        self.resources.get(addr)
    }

    pub fn instance(&self, addr: &InstanceAddr) -> Option<(&ResourceState, &InstanceState)> {
        let r = self.resource(&addr.resource)?;
        Some((r, r.instances.get(&addr.key)?))
    }

    /// Every instance with its address, in state order.
    pub fn instances(
        &self,
    ) -> impl Iterator<Item = (InstanceAddr, &ResourceState, &InstanceState)> {
        self.resources.iter().flat_map(|r| {
            r.instances.iter().map(move |i| (r.addr().instance(i.index_key.clone()), r, i))
        })
    }

    /// Inserts or replaces an instance, creating its resource entry when needed. The instance's
    /// `index_key` is set to `addr.key`.
    pub fn set_instance(
        &mut self,
        addr: &InstanceAddr,
        provider: &str,
        mut instance: InstanceState,
    ) {
        instance.index_key = addr.key.clone();
        let r = self.resources.get_or_insert_with(addr.resource.clone(), || ResourceState {
            module: addr.resource.module.clone(),
            mode: addr.resource.mode,
            ty: addr.resource.ty.clone(),
            name: addr.resource.name.clone(),
            provider: provider.to_owned(),
            instances: KeyedList::new(),
        });
        let alone = r.instances.iter().all(|i| i.index_key == addr.key);
        if alone {
            // The resource's provider is its only instance's.
            r.provider = provider.to_owned();
        }
        instance.provider = (r.provider != provider).then(|| provider.to_owned());
        let own = instance.provider.is_some();
        r.instances.insert(instance);
        if own {
            r.hoist_provider();
        }
    }

    /// Removes an instance (and its resource entry when it was the last); returns it.
    pub fn remove_instance(&mut self, addr: &InstanceAddr) -> Option<InstanceState> {
        let r = self.resources.get_mut(&addr.resource)?;
        let inst = r.instances.remove(&addr.key)?;
        if r.instances.is_empty() {
            self.resources.remove(&addr.resource);
        }
        Some(inst)
    }

    pub fn is_empty(&self) -> bool {
        self.resources.is_empty() && self.pending.is_empty() && self.deposed.is_empty()
    }
}
