//! The replica set controller: pods per replica, named `<replicaset>-<5 chars>`, and the
//! ReplicaSet's status.

use serde_json::{json, Value};

use super::{all, controlled_by, omit_zero, opts, owner_ref, CONTROLLER};
use crate::kube::cluster::Cluster;
use crate::kube::deletion::DeleteOptions;
use crate::kube::meta;

fn ready(p: &Value) -> bool {
    p["status"]["conditions"]
        .as_array()
        .is_some_and(|cs| cs.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"))
}

pub fn reconcile(cluster: &Cluster) {
    let (Some(rsrt), sets) = all(cluster, "apps", "ReplicaSet") else { return };
    let (Some(prt), pods) = all(cluster, "", "Pod") else { return };
    for rs in sets.iter().filter(|r| !meta::is_deleting(r)) {
        let ns = meta::namespace(rs);
        let uid = meta::uid(rs);
        let mut mine: Vec<&Value> = pods
            .iter()
            .filter(|p| meta::namespace(p) == ns && controlled_by(p, uid) && !meta::is_deleting(p))
            .collect();
        let desired = rs["spec"]["replicas"].as_i64().unwrap_or(1).max(0) as usize;
        if mine.len() < desired {
            let template = &rs["spec"]["template"];
            for _ in mine.len()..desired {
                let mut spec = template["spec"].clone();
                spec["nodeName"] = json!(format!("{}-node-1", cluster.name));
                let pod = json!({
                    "apiVersion": "v1", "kind": "Pod",
                    "metadata": {
                        "name": format!("{}-{}", meta::name(rs), meta::random_suffix(5)),
                        "generateName": format!("{}-", meta::name(rs)),
                        "namespace": ns,
                        "labels": template["metadata"]["labels"],
                        "annotations": template["metadata"]["annotations"],
                        "ownerReferences": [owner_ref(rs)],
                    },
                    "spec": spec,
                });
                let mut pod = pod;
                if let Some(md) = pod["metadata"].as_object_mut() {
                    md.retain(|_, v| !v.is_null());
                }
                let _ = cluster.create(&prt, ns, pod, opts(CONTROLLER, ""));
            }
        } else if mine.len() > desired {
            // Remove not-ready pods first, then the newest.
            mine.sort_by_key(|p| {
                (
                    ready(p),
                    std::cmp::Reverse(
                        p["metadata"]["creationTimestamp"].as_str().unwrap_or("").to_string(),
                    ),
                )
            });
            for p in &mine[..mine.len() - desired] {
                let _ = cluster.delete(&prt, ns, meta::name(p), &DeleteOptions::default());
            }
        }
        let count = mine.len() as i64;
        let ready_count = mine.iter().filter(|p| ready(p)).count() as i64;
        let status = omit_zero(json!({
            "replicas": count,
            "fullyLabeledReplicas": count,
            "readyReplicas": ready_count,
            "availableReplicas": ready_count,
            "observedGeneration": rs["metadata"]["generation"],
        }));
        let status = if status.as_object().is_some_and(|m| !m.contains_key("replicas")) {
            let mut s = status;
            s["replicas"] = json!(0);
            s
        } else {
            status
        };
        if rs["status"] != status {
            let mut obj = rs.clone();
            obj["status"] = status;
            let _ = cluster.replace(&rsrt, ns, meta::name(rs), obj, opts(CONTROLLER, "status"));
        }
    }
}
