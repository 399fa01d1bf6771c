//! The garbage collector: objects whose owners are all gone are deleted; dependents of an owner
//! in foreground deletion are deleted first, then the owner's `foregroundDeletion` finalizer is
//! removed so it goes too.

use std::collections::HashSet;

use serde_json::{json, Value};

use super::{opts, CONTROLLER};
use crate::kube::cluster::Cluster;
use crate::kube::deletion::{owner_uids, DeleteOptions, Propagation};
use crate::kube::meta;
use crate::kube::store::ObjectKey;

const FOREGROUND: &str = "foregroundDeletion";

pub fn reconcile(cluster: &Cluster) {
    let objects: Vec<(ObjectKey, Value)> =
        cluster.store().all().map(|(k, v)| (k.clone(), v.clone())).collect();
    let uids: HashSet<&str> = objects.iter().map(|(_, o)| meta::uid(o)).collect();
    let foreground: HashSet<&str> = objects
        .iter()
        .filter(|(_, o)| {
            meta::is_deleting(o) && meta::finalizers(o).iter().any(|f| f == FOREGROUND)
        })
        .map(|(_, o)| meta::uid(o))
        .collect();
    for (k, o) in &objects {
        let owners = owner_uids(o);
        if owners.is_empty() || meta::is_deleting(o) {
            continue;
        }
        let orphaned = owners.iter().all(|u| !uids.contains(u.as_str()));
        let owner_going = owners.iter().any(|u| foreground.contains(u.as_str()));
        if orphaned || owner_going {
            if let Ok(rt) = cluster.type_of(&k.group, &k.kind) {
                let d = DeleteOptions {
                    propagation: Some(if owner_going {
                        Propagation::Foreground
                    } else {
                        Propagation::Background
                    }),
                    ..Default::default()
                };
                let _ = cluster.delete(&rt, &k.namespace, &k.name, &d);
            }
        }
    }
    for (k, o) in objects.iter().filter(|(_, o)| foreground.contains(meta::uid(o))) {
        let uid = meta::uid(o);
        let has_dependents =
            cluster.store().all().any(|(_, d)| owner_uids(d).iter().any(|u| u == uid));
        if has_dependents {
            continue;
        }
        let Ok(rt) = cluster.type_of(&k.group, &k.kind) else { continue };
        let mut obj = o.clone();
        let rest: Vec<String> =
            meta::finalizers(o).into_iter().filter(|f| f != FOREGROUND).collect();
        obj["metadata"]["finalizers"] = json!(rest);
        let _ = cluster.replace(&rt, &k.namespace, &k.name, obj, opts(CONTROLLER, ""));
    }
}
