//! `metadata.managedFields`: reading and writing the entries, and recording which manager changed
//! which fields on ordinary (non-apply) writes.

use serde_json::{json, Value};

use super::fields::{fields_of, value_at, FieldSet};
use super::meta;

/// One managedFields entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub manager: String,
    /// `Apply` or `Update`.
    pub operation: String,
    pub api_version: String,
    pub time: String,
    /// "" for the main resource, else `status`, `scale`.
    pub subresource: String,
    pub fields: FieldSet,
}

impl Entry {
    /// Whether this entry belongs to `manager`'s `operation` on `subresource`.
    pub fn is(&self, manager: &str, operation: &str, subresource: &str) -> bool {
        self.manager == manager && self.operation == operation && self.subresource == subresource
    }
}

/// The entries of an object (malformed ones skipped).
pub fn read(obj: &Value) -> Vec<Entry> {
    obj["metadata"]["managedFields"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|e| {
                    Some(Entry {
                        manager: e["manager"].as_str()?.to_string(),
                        operation: e["operation"].as_str().unwrap_or("Update").to_string(),
                        api_version: e["apiVersion"].as_str().unwrap_or("").to_string(),
                        time: e["time"].as_str().unwrap_or("").to_string(),
                        subresource: e["subresource"].as_str().unwrap_or("").to_string(),
                        fields: FieldSet::from_v1(&e["fieldsV1"]),
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Write entries onto an object, dropping empty ones; no entries removes the field.
pub fn write(obj: &mut Value, entries: &[Entry]) {
    let list: Vec<Value> = entries
        .iter()
        .filter(|e| !e.fields.is_empty())
        .map(|e| {
            let mut v = json!({
                "manager": e.manager,
                "operation": e.operation,
                "apiVersion": e.api_version,
                "time": e.time,
                "fieldsType": "FieldsV1",
                "fieldsV1": e.fields.to_v1(),
            });
            if !e.subresource.is_empty() {
                v["subresource"] = json!(e.subresource);
            }
            v
        })
        .collect();
    let md = meta::metadata_mut(obj);
    if list.is_empty() {
        md.remove("managedFields");
    } else {
        md.insert("managedFields".into(), Value::Array(list));
    }
}

/// managedFields without their timestamps, to tell a real change from a no-op write.
pub fn without_times(obj: &Value) -> Value {
    let mut v = obj.clone();
    if let Some(list) = v["metadata"]["managedFields"].as_array_mut() {
        for e in list {
            if let Some(m) = e.as_object_mut() {
                m.remove("time");
            }
        }
    }
    if let Some(md) = v["metadata"].as_object_mut() {
        md.remove("resourceVersion");
    }
    v
}

/// What an ordinary write by `manager` does to ownership: the fields it changed become its own
/// (taken from other managers), removed fields are owned by nobody.
pub struct UpdateTracking<'a> {
    pub manager: &'a str,
    pub subresource: &'a str,
    pub api_version: &'a str,
    pub builtin: bool,
    pub skip_status: bool,
}

impl UpdateTracking<'_> {
    /// Record the write `old` → `new` into `new`'s managedFields. Entries the client changed
    /// itself (a request that sets managedFields) are kept as sent.
    pub fn record(&self, old: Option<&Value>, new: &mut Value) {
        let old_mf = old.map(|o| o["metadata"]["managedFields"].clone()).unwrap_or(Value::Null);
        let new_mf = new["metadata"]["managedFields"].clone();
        if new_mf.is_null() {
            if !old_mf.is_null() {
                new["metadata"]["managedFields"] = old_mf;
            }
        } else if new_mf != old_mf {
            let entries = read(new);
            write(new, &entries);
            return;
        }
        let empty = Value::Null;
        let old_obj = old.unwrap_or(&empty);
        let old_fields = fields_of(old_obj, self.builtin, self.skip_status);
        let new_fields = fields_of(new, self.builtin, self.skip_status);
        let mut changed = FieldSet::default();
        for p in new_fields.paths() {
            let is_item = p.last().is_some_and(|s| s.starts_with("k:") || s.starts_with("v:"));
            let differs = if is_item {
                value_at(old_obj, &p).is_none()
            } else {
                value_at(old_obj, &p) != value_at(new, &p)
            };
            if differs {
                changed.insert(&p);
            }
        }
        let mut removed = old_fields;
        removed.subtract(&new_fields);
        let mut entries = read(new);
        for e in entries.iter_mut() {
            e.fields.subtract(&removed);
            if !e.is(self.manager, "Update", self.subresource) {
                e.fields.subtract(&changed);
            }
        }
        if !changed.is_empty() {
            let now = meta::now();
            match entries.iter_mut().find(|e| e.is(self.manager, "Update", self.subresource)) {
                Some(e) => {
                    e.fields.union(&changed);
                    e.time = now;
                    e.api_version = self.api_version.to_string();
                }
                None => entries.push(Entry {
                    manager: self.manager.to_string(),
                    operation: "Update".into(),
                    api_version: self.api_version.to_string(),
                    time: now,
                    subresource: self.subresource.to_string(),
                    fields: changed,
                }),
            }
        }
        write(new, &entries);
    }
}
