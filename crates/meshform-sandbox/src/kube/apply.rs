//! Server-side apply: merge an applied configuration into the live object, track what each field
//! manager owns, report conflicts with other managers (or take their fields with `force`), and
//! remove fields a manager stopped applying when nobody else owns them.

use serde_json::{json, Map, Value};

use super::fields::{display_path, fields_of, item_key, list_kind, remove_at, value_at, ListKind};
use super::kinds::ResourceType;
use super::managed::{self, Entry};
use super::meta;
use super::status::ApiError;

/// One server-side apply request.
pub struct ApplyRequest<'a> {
    pub manager: &'a str,
    pub force: bool,
    /// "" or `status`.
    pub subresource: &'a str,
    pub rt: &'a ResourceType,
}

/// Metadata an applied configuration may not set.
const SERVER_METADATA: &[&str] = &[
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "managedFields",
    "selfLink",
];

impl ApplyRequest<'_> {
    /// The object after applying `cfg` to `live` (or to `base` when there is no live object).
    pub fn apply(&self, live: Option<&Value>, base: Value, cfg: &Value) -> Result<Value, ApiError> {
        let builtin = self.rt.builtin;
        let skip_status = self.rt.status_subresource && self.subresource != "status";
        let mut cfg = cfg.clone();
        if let Some(md) = cfg["metadata"].as_object_mut() {
            for k in SERVER_METADATA {
                md.remove(*k);
            }
        }
        if self.subresource == "status" {
            let status = cfg.get("status").cloned().unwrap_or(Value::Null);
            cfg = json!({ "status": status });
        } else if skip_status {
            if let Some(m) = cfg.as_object_mut() {
                m.remove("status");
            }
        }
        let api_version = cfg["apiVersion"].as_str().unwrap_or("").to_string();
        let mut merged = live.cloned().unwrap_or(base);
        let mut entries = managed::read(&merged);
        let new_set = fields_of(&cfg, builtin, skip_status);

        let mut conflicts: Vec<(String, Vec<String>, String)> = Vec::new();
        for e in entries.iter() {
            if e.is(self.manager, "Apply", self.subresource) {
                continue;
            }
            for p in e.fields.paths() {
                let is_item = p.last().is_some_and(|s| s.starts_with("k:") || s.starts_with("v:"));
                if is_item || !new_set.contains(&p) {
                    continue;
                }
                if value_at(&merged, &p) != value_at(&cfg, &p) {
                    conflicts.push((e.manager.clone(), p, e.api_version.clone()));
                }
            }
        }
        if !conflicts.is_empty() && !self.force {
            return Err(conflict_error(&conflicts));
        }
        for (manager, p, _) in &conflicts {
            for e in entries.iter_mut().filter(|e| &e.manager == manager) {
                e.fields.remove(p);
            }
        }

        merge(&mut merged, &cfg, builtin, &mut Vec::new());

        let mine = entries
            .iter()
            .find(|e| e.is(self.manager, "Apply", self.subresource))
            .map(|e| e.fields.clone())
            .unwrap_or_default();
        let mut dropped = mine;
        dropped.subtract(&new_set);
        let mut paths = dropped.paths();
        paths.sort_by_key(|p| std::cmp::Reverse(p.len()));
        for p in paths {
            let owned_elsewhere = entries
                .iter()
                .filter(|e| !e.is(self.manager, "Apply", self.subresource))
                .any(|e| e.fields.touches(&p));
            if !owned_elsewhere {
                remove_at(&mut merged, &p);
            }
        }

        let now = meta::now();
        match entries.iter_mut().find(|e| e.is(self.manager, "Apply", self.subresource)) {
            Some(e) => {
                e.fields = new_set;
                e.api_version = api_version;
                e.time = now;
            }
            None => entries.push(Entry {
                manager: self.manager.to_string(),
                operation: "Apply".into(),
                api_version,
                time: now,
                subresource: self.subresource.to_string(),
                fields: new_set,
            }),
        }
        managed::write(&mut merged, &entries);
        Ok(merged)
    }
}

fn conflict_error(conflicts: &[(String, Vec<String>, String)]) -> ApiError {
    let causes: Vec<Value> = conflicts
        .iter()
        .map(|(m, p, av)| {
            json!({
                "reason": "FieldManagerConflict",
                "message": format!("conflict with \"{m}\" using {av}"),
                "field": display_path(p),
            })
        })
        .collect();
    let message = if let [(m, p, av)] = conflicts {
        format!(
            "Apply failed with 1 conflict: conflict with \"{m}\" using {av}: {}",
            display_path(p)
        )
    } else {
        let lines: Vec<String> = conflicts
            .iter()
            .map(|(m, p, av)| format!("conflict with \"{m}\" using {av}: {}", display_path(p)))
            .collect();
        format!("Apply failed with {} conflicts: {}", conflicts.len(), lines.join("\n"))
    };
    ApiError::conflict_with(message, json!({ "causes": causes }))
}

/// Merge an applied value into a live one: maps field by field, keyed lists item by item, sets by
/// value, everything else replaced.
fn merge(dst: &mut Value, src: &Value, builtin: bool, path: &mut Vec<String>) {
    match (dst, src) {
        (Value::Object(d), Value::Object(s)) => {
            for (k, sv) in s {
                if sv.is_null() {
                    d.remove(k);
                    continue;
                }
                match d.get_mut(k) {
                    Some(dv) => {
                        if let (Value::Array(_), Value::Array(items)) = (&*dv, sv) {
                            let kind = list_kind(builtin, path, k);
                            path.push(k.clone());
                            merge_list(dv, items, kind, builtin, path);
                            path.pop();
                        } else {
                            path.push(k.clone());
                            merge(dv, sv, builtin, path);
                            path.pop();
                        }
                    }
                    None => {
                        d.insert(k.clone(), without_nulls(sv));
                    }
                }
            }
        }
        (dst, src) => *dst = without_nulls(src),
    }
}

fn merge_list(
    dst: &mut Value,
    items: &[Value],
    kind: ListKind,
    builtin: bool,
    path: &mut Vec<String>,
) {
    let Some(list) = dst.as_array_mut() else { return };
    match kind {
        ListKind::Atomic => *list = items.iter().map(without_nulls).collect(),
        ListKind::Set => {
            for it in items {
                if !list.contains(it) {
                    list.push(it.clone());
                }
            }
        }
        ListKind::Map(keys) => {
            for it in items {
                let Some(key) = item_key(keys, it) else {
                    *list = items.iter().map(without_nulls).collect();
                    return;
                };
                let key_map: Map<String, Value> =
                    serde_json::from_str(key.trim_start_matches("k:")).unwrap_or_default();
                match list.iter_mut().find(|x| super::fields::item_matches(x, &key_map)) {
                    Some(existing) => merge(existing, it, builtin, path),
                    None => list.push(without_nulls(it)),
                }
            }
        }
    }
}

fn without_nulls(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), without_nulls(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(without_nulls).collect()),
        other => other.clone(),
    }
}
