//! The namespace controller: a deleted namespace stays `Terminating` for a moment, then its
//! contents are deleted, and once nothing is left the namespace itself goes. Active namespaces get
//! their `default` ServiceAccount.

use serde_json::json;
use tokio::time::Instant;

use super::{all, opts, Controllers, Due, CONTROLLER};
use crate::kube::cluster::Cluster;
use crate::kube::deletion::DeleteOptions;
use crate::kube::meta;
use crate::kube::store::ObjectKey;

pub fn reconcile(cluster: &Cluster, state: &mut Controllers, due: &mut Due) {
    let (Some(_), namespaces) = all(cluster, "", "Namespace") else { return };
    let now = Instant::now();
    state.namespace_seen.retain(|uid, _| namespaces.iter().any(|n| meta::uid(n) == uid));
    for ns in &namespaces {
        let name = meta::name(ns);
        if !meta::is_deleting(ns) {
            ensure_default_service_account(cluster, name);
            continue;
        }
        let seen = *state.namespace_seen.entry(meta::uid(ns).to_string()).or_insert(now);
        let start = seen + cluster.timing.namespace_finalize_delay;
        if start > now {
            due.at(start);
            continue;
        }
        let contents: Vec<ObjectKey> = cluster
            .store()
            .all()
            .filter(|(k, o)| k.namespace == name && !meta::is_deleting(o))
            .map(|(k, _)| k.clone())
            .collect();
        for k in contents {
            if let Ok(rt) = cluster.type_of(&k.group, &k.kind) {
                let _ = cluster.delete(&rt, &k.namespace, &k.name, &DeleteOptions::default());
            }
        }
        let mut store = cluster.store();
        let empty = !store.all().any(|(k, _)| k.namespace == name);
        if empty {
            store.remove(&ObjectKey::new("", "Namespace", "", name));
            drop(store);
            cluster.changed();
        } else {
            // Objects with finalizers are still going away.
            due.at(now + std::time::Duration::from_millis(200));
        }
    }
}

fn ensure_default_service_account(cluster: &Cluster, ns: &str) {
    let key = ObjectKey::new("", "ServiceAccount", ns, "default");
    if cluster.store().get(&key).is_some() {
        return;
    }
    let Ok(rt) = cluster.type_of("", "ServiceAccount") else { return };
    let sa = json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default", "namespace": ns}});
    let _ = cluster.create(&rt, ns, sa, opts(CONTROLLER, ""));
}
