//! Field sets in the `FieldsV1` shape managedFields use (`{"f:spec":{"f:replicas":{}}}`), and the
//! list semantics of the built-in schemas (which lists merge by key, which are sets, which are atomic).

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// How a list field behaves under server-side apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListKind {
    /// Replaced as a whole.
    Atomic,
    /// A set of scalars (`v:` elements).
    Set,
    /// A map keyed by these item fields (`k:` elements).
    Map(&'static [&'static str]),
}

/// The SSA list kind of `field` whose parent path (field names only) is `path`: the one table of
/// list semantics, which strategic merge patch reads too (a keyed list's first key is its
/// `patchMergeKey`).
pub fn list_kind(builtin: bool, path: &[String], field: &str) -> ListKind {
    let parent = path.last().map(String::as_str).unwrap_or("");
    if path.len() == 1 && parent == "metadata" {
        return match field {
            "finalizers" => ListKind::Set,
            "ownerReferences" => ListKind::Map(&["uid"]),
            _ => ListKind::Atomic,
        };
    }
    if !builtin {
        return ListKind::Atomic;
    }
    match field {
        "containers" | "initContainers" | "ephemeralContainers" => ListKind::Map(&["name"]),
        "ports" if is_container_list(parent) => ListKind::Map(&["containerPort", "protocol"]),
        "ports" if parent == "spec" => ListKind::Map(&["port", "protocol"]),
        "env" | "volumes" | "imagePullSecrets" => ListKind::Map(&["name"]),
        "volumeMounts" => ListKind::Map(&["mountPath"]),
        "volumeDevices" => ListKind::Map(&["devicePath"]),
        "conditions" => ListKind::Map(&["type"]),
        "hostAliases" => ListKind::Map(&["ip"]),
        "topologySpreadConstraints" => ListKind::Map(&["topologyKey", "whenUnsatisfiable"]),
        _ => ListKind::Atomic,
    }
}

/// Whether a field name holds containers.
pub fn is_container_list(field: &str) -> bool {
    matches!(field, "containers" | "initContainers" | "ephemeralContainers")
}

/// The `k:{…}` key of a list item, with the item's key field values (protocol defaults to TCP).
pub fn item_key(keys: &[&str], item: &Value) -> Option<String> {
    let mut m = Map::new();
    for k in keys {
        let v = match item.get(*k) {
            Some(v) if !v.is_null() => v.clone(),
            _ if *k == "protocol" => Value::String("TCP".into()),
            _ => return None,
        };
        m.insert((*k).to_string(), v);
    }
    Some(format!("k:{}", Value::Object(m)))
}

/// A set of field paths, in the `FieldsV1` tree shape. Each node's children are keyed exactly as in
/// FieldsV1 (`f:name`, `k:{"name":"x"}`, `v:"x"`); `member` says the node itself is in the set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSet {
    pub member: bool,
    pub children: BTreeMap<String, FieldSet>,
}

/// One path through a FieldSet.
pub type FieldPath = Vec<String>;

impl FieldSet {
    /// Parse `fieldsV1`.
    pub fn from_v1(v: &Value) -> FieldSet {
        let mut fs = FieldSet::default();
        let Some(m) = v.as_object() else { return fs };
        if m.is_empty() {
            fs.member = true;
            return fs;
        }
        for (k, child) in m {
            if k == "." {
                fs.member = true;
            } else {
                fs.children.insert(k.clone(), FieldSet::from_v1(child));
            }
        }
        fs
    }

    /// Render as `fieldsV1`.
    pub fn to_v1(&self) -> Value {
        let mut m = Map::new();
        if self.member && !self.children.is_empty() {
            m.insert(".".into(), Value::Object(Map::new()));
        }
        for (k, c) in &self.children {
            m.insert(k.clone(), c.to_v1());
        }
        Value::Object(m)
    }

    /// Whether no path is in the set.
    pub fn is_empty(&self) -> bool {
        !self.member && self.children.values().all(FieldSet::is_empty)
    }

    /// Every member path.
    pub fn paths(&self) -> Vec<FieldPath> {
        let mut out = Vec::new();
        self.collect(&mut Vec::new(), &mut out);
        out
    }

    fn collect(&self, prefix: &mut FieldPath, out: &mut Vec<FieldPath>) {
        if self.member && !prefix.is_empty() {
            out.push(prefix.clone());
        }
        for (k, c) in &self.children {
            prefix.push(k.clone());
            c.collect(prefix, out);
            prefix.pop();
        }
    }

    /// Add a path.
    pub fn insert(&mut self, path: &[String]) {
        match path.split_first() {
            None => self.member = true,
            Some((head, rest)) => self.children.entry(head.clone()).or_default().insert(rest),
        }
    }

    /// Whether a path is a member.
    pub fn contains(&self, path: &[String]) -> bool {
        match path.split_first() {
            None => self.member,
            Some((head, rest)) => self.children.get(head).is_some_and(|c| c.contains(rest)),
        }
    }

    /// Whether a path or anything below it is a member.
    pub fn touches(&self, path: &[String]) -> bool {
        match path.split_first() {
            None => !self.is_empty(),
            Some((head, rest)) => self.children.get(head).is_some_and(|c| c.touches(rest)),
        }
    }

    /// Remove one path (its descendants stay).
    pub fn remove(&mut self, path: &[String]) {
        match path.split_first() {
            None => self.member = false,
            Some((head, rest)) => {
                if let Some(c) = self.children.get_mut(head) {
                    c.remove(rest);
                    if c.is_empty() {
                        self.children.remove(head);
                    }
                }
            }
        }
    }

    /// Add every path of `other`.
    pub fn union(&mut self, other: &FieldSet) {
        self.member |= other.member;
        for (k, c) in &other.children {
            self.children.entry(k.clone()).or_default().union(c);
        }
    }

    /// Remove every path of `other`.
    pub fn subtract(&mut self, other: &FieldSet) {
        for p in other.paths() {
            self.remove(&p);
        }
    }
}

/// Metadata fields no manager owns.
const SYSTEM_METADATA: &[&str] = &[
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "managedFields",
    "selfLink",
];

/// The set of fields an object sets (what an applier owns), leaving out identity and server
/// metadata. `skip_status` leaves out `status` (kinds with a status subresource).
pub fn fields_of(obj: &Value, builtin: bool, skip_status: bool) -> FieldSet {
    let mut fs = FieldSet::default();
    let Some(m) = obj.as_object() else { return fs };
    for (k, v) in m {
        if k == "apiVersion" || k == "kind" || (skip_status && k == "status") {
            continue;
        }
        let mut child = value_fields(v, builtin, &mut vec![k.clone()]);
        if k == "metadata" {
            for s in SYSTEM_METADATA {
                child.children.remove(&format!("f:{s}"));
            }
            if child.children.is_empty() {
                continue;
            }
            child.member = false;
        }
        fs.children.insert(format!("f:{k}"), child);
    }
    fs
}

/// The fields of one value at `path` (field names only, used for list semantics).
fn value_fields(v: &Value, builtin: bool, path: &mut Vec<String>) -> FieldSet {
    match v {
        Value::Object(m) if !m.is_empty() => {
            let mut fs = FieldSet::default();
            for (k, c) in m {
                path.push(k.clone());
                let child = value_fields(c, builtin, path);
                path.pop();
                fs.children.insert(format!("f:{k}"), child);
            }
            fs
        }
        Value::Array(items) => {
            let (field, parent) = match path.split_last() {
                Some((f, p)) => (f.clone(), p.to_vec()),
                None => return FieldSet { member: true, ..Default::default() },
            };
            match list_kind(builtin, &parent, &field) {
                ListKind::Atomic => FieldSet { member: true, ..Default::default() },
                ListKind::Set => {
                    let mut fs = FieldSet::default();
                    for it in items {
                        fs.children.insert(
                            format!("v:{it}"),
                            FieldSet { member: true, ..Default::default() },
                        );
                    }
                    fs
                }
                ListKind::Map(keys) => {
                    let mut fs = FieldSet::default();
                    for it in items {
                        let Some(key) = item_key(keys, it) else {
                            // An item without its key cannot be tracked separately.
                            return FieldSet { member: true, ..Default::default() };
                        };
                        let mut item = value_fields(it, builtin, path);
                        item.member = true;
                        fs.children.insert(key, item);
                    }
                    fs
                }
            }
        }
        _ => FieldSet { member: true, ..Default::default() },
    }
}

/// Find the value at a FieldSet path inside an object (`None` when absent).
pub fn value_at<'a>(obj: &'a Value, path: &[String]) -> Option<&'a Value> {
    let mut cur = obj;
    for seg in path {
        cur = step(cur, seg)?;
    }
    Some(cur)
}

fn step<'a>(cur: &'a Value, seg: &str) -> Option<&'a Value> {
    if let Some(f) = seg.strip_prefix("f:") {
        return cur.as_object()?.get(f);
    }
    if let Some(k) = seg.strip_prefix("k:") {
        let key: Map<String, Value> = serde_json::from_str(k).ok()?;
        return cur.as_array()?.iter().find(|it| item_matches(it, &key));
    }
    if let Some(v) = seg.strip_prefix("v:") {
        let want: Value = serde_json::from_str(v).ok()?;
        return cur.as_array()?.iter().find(|it| **it == want);
    }
    None
}

/// Whether a list item carries these key values (a missing protocol counts as TCP).
pub fn item_matches(item: &Value, key: &Map<String, Value>) -> bool {
    key.iter().all(|(k, v)| match item.get(k) {
        Some(x) if !x.is_null() => x == v,
        _ => k == "protocol" && v == "TCP",
    })
}

/// Remove the value at a FieldSet path from an object. Returns whether something was removed.
pub fn remove_at(obj: &mut Value, path: &[String]) -> bool {
    let Some((last, parents)) = path.split_last() else { return false };
    let mut cur = obj;
    for seg in parents {
        let next = match step_mut(cur, seg) {
            Some(n) => n,
            None => return false,
        };
        cur = next;
    }
    if let Some(f) = last.strip_prefix("f:") {
        return cur.as_object_mut().and_then(|m| m.remove(f)).is_some();
    }
    if let Some(k) = last.strip_prefix("k:") {
        let Ok(key) = serde_json::from_str::<Map<String, Value>>(k) else { return false };
        if let Some(a) = cur.as_array_mut() {
            let before = a.len();
            a.retain(|it| !item_matches(it, &key));
            return a.len() != before;
        }
        return false;
    }
    if let Some(v) = last.strip_prefix("v:") {
        let Ok(want) = serde_json::from_str::<Value>(v) else { return false };
        if let Some(a) = cur.as_array_mut() {
            let before = a.len();
            a.retain(|it| *it != want);
            return a.len() != before;
        }
    }
    false
}

fn step_mut<'a>(cur: &'a mut Value, seg: &str) -> Option<&'a mut Value> {
    if let Some(f) = seg.strip_prefix("f:") {
        return cur.as_object_mut()?.get_mut(f);
    }
    if let Some(k) = seg.strip_prefix("k:") {
        let key: Map<String, Value> = serde_json::from_str(k).ok()?;
        return cur.as_array_mut()?.iter_mut().find(|it| item_matches(it, &key));
    }
    if let Some(v) = seg.strip_prefix("v:") {
        let want: Value = serde_json::from_str(v).ok()?;
        return cur.as_array_mut()?.iter_mut().find(|it| **it == want);
    }
    None
}

/// A path as the conflict messages print it: `.spec.template.spec.containers[name="x"].image`.
pub fn display_path(path: &[String]) -> String {
    let mut out = String::new();
    for seg in path {
        if let Some(f) = seg.strip_prefix("f:") {
            out.push('.');
            out.push_str(f);
        } else if let Some(k) = seg.strip_prefix("k:") {
            let key: Map<String, Value> = serde_json::from_str(k).unwrap_or_default();
            let parts: Vec<String> = key.iter().map(|(k, v)| format!("{k}={v}")).collect();
            out.push_str(&format!("[{}]", parts.join(",")));
        } else if let Some(v) = seg.strip_prefix("v:") {
            out.push_str(&format!("[{v}]"));
        }
    }
    out
}
