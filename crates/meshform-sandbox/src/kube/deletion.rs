//! Deletion: immediate, or marked with `deletionTimestamp` while finalizers remain; namespaces
//! go `Terminating`; dependents are orphaned at once or left to the garbage collector
//! (background) or deleted first (foreground).

use serde_json::{json, Value};

use super::cluster::Cluster;
use super::kinds::ResourceType;
use super::meta;
use super::objects::{key, Tracking, WriteOptions};
use super::status::ApiError;
use super::store::{ObjectKey, Store};

const FOREGROUND: &str = "foregroundDeletion";

/// How dependents of a deleted object are treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Propagation {
    Foreground,
    Background,
    Orphan,
}

/// The parts of `DeleteOptions` the server honours.
#[derive(Debug, Clone, Default)]
pub struct DeleteOptions {
    pub propagation: Option<Propagation>,
    pub precondition_uid: Option<String>,
    pub precondition_resource_version: Option<String>,
    pub dry_run: bool,
}

impl Cluster {
    /// Delete an object: at once, or marked with `deletionTimestamp` while finalizers remain.
    pub fn delete(
        &self,
        rt: &ResourceType,
        ns: &str,
        name: &str,
        opts: &DeleteOptions,
    ) -> Result<Value, ApiError> {
        let mut store = self.store();
        let k = key(rt, ns, name);
        let old = store
            .get(&k)
            .cloned()
            .ok_or_else(|| ApiError::not_found(&rt.group, &rt.plural, name))?;
        if opts.precondition_uid.as_deref().is_some_and(|u| u != meta::uid(&old))
            || opts
                .precondition_resource_version
                .as_deref()
                .is_some_and(|r| r != meta::resource_version(&old))
        {
            return Err(ApiError::conflict(&rt.group, &rt.plural, name));
        }
        let wopts =
            WriteOptions { manager: "kube-apiserver", dry_run: opts.dry_run, subresource: "" };
        if rt.is("", "Namespace") {
            if matches!(name, "default" | "kube-system" | "kube-public") {
                return Err(ApiError::forbidden(format!(
                    "namespaces \"{name}\" is forbidden: this namespace may not be deleted"
                )));
            }
            if meta::is_deleting(&old) {
                return Ok(old);
            }
            let mut new = old.clone();
            new["metadata"]["deletionTimestamp"] = json!(meta::now());
            return self.commit(&mut store, rt, ns, Some(&old), new, wopts, Tracking::System);
        }
        if opts.dry_run {
            return Ok(old);
        }
        let uid = meta::uid(&old).to_string();
        match opts.propagation.unwrap_or(Propagation::Background) {
            Propagation::Orphan => self.orphan_dependents(&mut store, &uid),
            Propagation::Foreground if has_dependents(&store, &uid) => {
                let mut new = old.clone();
                let deleting = meta::is_deleting(&new);
                let md = meta::metadata_mut(&mut new);
                let fins = md.entry("finalizers").or_insert_with(|| json!([]));
                if let Some(list) = fins.as_array_mut() {
                    if !list.iter().any(|f| f == FOREGROUND) {
                        list.push(json!(FOREGROUND));
                    }
                }
                if !deleting {
                    md.insert("deletionTimestamp".into(), json!(meta::now()));
                    md.insert("deletionGracePeriodSeconds".into(), json!(0));
                }
                return self.commit(&mut store, rt, ns, Some(&old), new, wopts, Tracking::System);
            }
            _ => {}
        }
        if !meta::finalizers(&old).is_empty() {
            if meta::is_deleting(&old) {
                return Ok(old);
            }
            let mut new = old.clone();
            new["metadata"]["deletionTimestamp"] = json!(meta::now());
            new["metadata"]["deletionGracePeriodSeconds"] = json!(0);
            return self.commit(&mut store, rt, ns, Some(&old), new, wopts, Tracking::System);
        }
        let gone =
            store.remove(&k).ok_or_else(|| ApiError::not_found(&rt.group, &rt.plural, name))?;
        drop(store);
        self.changed();
        Ok(gone)
    }

    fn orphan_dependents(&self, store: &mut Store, uid: &str) {
        let dependents: Vec<(ObjectKey, Value)> = store
            .all()
            .filter(|(_, o)| owner_uids(o).iter().any(|u| u == uid))
            .map(|(k, o)| (k.clone(), o.clone()))
            .collect();
        for (k, mut o) in dependents {
            if let Some(refs) = o["metadata"]["ownerReferences"].as_array_mut() {
                refs.retain(|r| r["uid"] != uid);
                if refs.is_empty() {
                    if let Some(md) = o["metadata"].as_object_mut() {
                        md.remove("ownerReferences");
                    }
                }
            }
            store.put(k, o);
        }
    }
}

/// The uids an object's ownerReferences name.
pub fn owner_uids(o: &Value) -> Vec<String> {
    o["metadata"]["ownerReferences"]
        .as_array()
        .map(|a| a.iter().filter_map(|r| r["uid"].as_str().map(String::from)).collect())
        .unwrap_or_default()
}

fn has_dependents(store: &Store, uid: &str) -> bool {
    store.all().any(|(_, o)| owner_uids(o).iter().any(|u| u == uid))
}
