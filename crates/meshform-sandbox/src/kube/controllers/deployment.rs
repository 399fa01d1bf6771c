//! The deployment controller: one ReplicaSet per pod-template hash, old ones scaled to zero, and
//! the Deployment's status and `Available`/`Progressing` conditions.

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::{all, controlled_by, omit_zero, opts, owner_ref, set_condition, CONTROLLER};
use crate::kube::cluster::Cluster;
use crate::kube::meta;
use crate::kube::objects::PatchKind;

/// The `pod-template-hash` of a template.
pub fn template_hash(template: &Value) -> String {
    let h = Sha256::digest(template.to_string().as_bytes());
    meta::safe_encode(&h, 10)
}

fn max_unavailable(d: &Value, desired: i64) -> i64 {
    let ru = &d["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"];
    if d["spec"]["strategy"]["type"] == "Recreate" {
        return desired;
    }
    match ru {
        Value::Number(n) => n.as_i64().unwrap_or(0),
        Value::String(s) => {
            let pct: i64 = s.trim_end_matches('%').parse().unwrap_or(25);
            desired * pct / 100
        }
        _ => desired * 25 / 100,
    }
}

pub fn reconcile(cluster: &Cluster) {
    let (Some(drt), deployments) = all(cluster, "apps", "Deployment") else { return };
    let (Some(rsrt), sets) = all(cluster, "apps", "ReplicaSet") else { return };
    for d in deployments.iter().filter(|d| !meta::is_deleting(d)) {
        let ns = meta::namespace(d);
        let name = meta::name(d);
        let uid = meta::uid(d);
        let desired = d["spec"]["replicas"].as_i64().unwrap_or(1);
        let mut template = d["spec"]["template"].clone();
        let hash = template_hash(&template);
        let rs_name = format!("{name}-{hash}");
        let owned: Vec<&Value> =
            sets.iter().filter(|r| meta::namespace(r) == ns && controlled_by(r, uid)).collect();
        let revision = owned
            .iter()
            .filter_map(|r| {
                r["metadata"]["annotations"]["deployment.kubernetes.io/revision"]
                    .as_str()?
                    .parse::<i64>()
                    .ok()
            })
            .max()
            .unwrap_or(0);
        let new_rs = owned.iter().find(|r| meta::name(r) == rs_name).copied();
        match new_rs {
            None => {
                template["metadata"]["labels"]["pod-template-hash"] = json!(hash);
                let mut selector = d["spec"]["selector"].clone();
                selector["matchLabels"]["pod-template-hash"] = json!(hash);
                let rs = json!({
                    "apiVersion": "apps/v1", "kind": "ReplicaSet",
                    "metadata": {
                        "name": rs_name, "namespace": ns,
                        "labels": template["metadata"]["labels"],
                        "annotations": {
                            "deployment.kubernetes.io/desired-replicas": desired.to_string(),
                            "deployment.kubernetes.io/max-replicas": desired.to_string(),
                            "deployment.kubernetes.io/revision": (revision + 1).to_string(),
                        },
                        "ownerReferences": [owner_ref(d)],
                    },
                    "spec": {"replicas": desired, "minReadySeconds": d["spec"]["minReadySeconds"].as_i64().unwrap_or(0),
                             "selector": selector, "template": template},
                });
                // A conflict or a race is retried on the next pass.
                let _ = cluster.create(&rsrt, ns, rs, opts(CONTROLLER, ""));
            }
            Some(rs) if rs["spec"]["replicas"].as_i64() != Some(desired) => {
                let patch = json!({"spec": {"replicas": desired}, "metadata": {"annotations": {
                    "deployment.kubernetes.io/desired-replicas": desired.to_string(),
                    "deployment.kubernetes.io/max-replicas": desired.to_string()}}});
                let _ = cluster.patch(
                    &rsrt,
                    ns,
                    &rs_name,
                    PatchKind::Merge,
                    &patch,
                    opts(CONTROLLER, ""),
                );
            }
            Some(_) => {}
        }
        for old in owned.iter().filter(|r| meta::name(r) != rs_name) {
            if old["spec"]["replicas"].as_i64() != Some(0) {
                let patch = json!({"spec": {"replicas": 0}});
                let _ = cluster.patch(
                    &rsrt,
                    ns,
                    meta::name(old),
                    PatchKind::Merge,
                    &patch,
                    opts(CONTROLLER, ""),
                );
            }
        }
        update_status(cluster, &drt, d, &owned, new_rs, &rs_name, desired);
    }
}

fn update_status(
    cluster: &Cluster,
    drt: &crate::kube::kinds::ResourceType,
    d: &Value,
    owned: &[&Value],
    new_rs: Option<&Value>,
    rs_name: &str,
    desired: i64,
) {
    let sum = |f: &str| owned.iter().map(|r| r["status"][f].as_i64().unwrap_or(0)).sum::<i64>();
    let replicas = sum("replicas");
    let ready = sum("readyReplicas");
    let available = sum("availableReplicas");
    let updated = new_rs.map_or(0, |r| r["status"]["replicas"].as_i64().unwrap_or(0));
    let new_available =
        new_rs.map_or(0, |r| r["status"]["availableReplicas"].as_i64().unwrap_or(0));
    let conds: Vec<Value> = d["status"]["conditions"].as_array().cloned().unwrap_or_default();
    let (a_status, a_reason, a_msg) = if available >= desired - max_unavailable(d, desired) {
        ("True", "MinimumReplicasAvailable", "Deployment has minimum availability.")
    } else {
        ("False", "MinimumReplicasUnavailable", "Deployment does not have minimum availability.")
    };
    let conds = set_condition(&conds, "Available", a_status, a_reason, a_msg, true);
    let complete =
        new_rs.is_some() && updated == desired && new_available == desired && replicas == desired;
    let (p_reason, p_msg) = if complete {
        ("NewReplicaSetAvailable", format!("ReplicaSet \"{rs_name}\" has successfully progressed."))
    } else if new_rs.is_none() {
        ("NewReplicaSetCreated", format!("Created new replica set \"{rs_name}\""))
    } else {
        ("ReplicaSetUpdated", format!("ReplicaSet \"{rs_name}\" is progressing."))
    };
    let conds = set_condition(&conds, "Progressing", "True", p_reason, &p_msg, true);
    let mut status = omit_zero(json!({
        "observedGeneration": d["metadata"]["generation"],
        "replicas": replicas,
        "updatedReplicas": updated,
        "readyReplicas": ready,
        "availableReplicas": available,
        "unavailableReplicas": (desired - available).max(0),
    }));
    status["conditions"] = json!(conds);
    if d["status"] == status {
        return;
    }
    let mut obj = d.clone();
    obj["status"] = status;
    let _ =
        cluster.replace(drt, meta::namespace(d), meta::name(d), obj, opts(CONTROLLER, "status"));
}
