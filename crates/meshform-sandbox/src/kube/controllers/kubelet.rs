//! The emulated kubelet: a pod is `Pending` for a short delay, then `Running` with every container
//! started and ready, an IP, and the `Ready` condition true.

use meshform_core::hex;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tokio::time::Instant;

use super::{all, opts, Controllers, Due};
use crate::kube::cluster::Cluster;
use crate::kube::meta;

/// The fake IP of a pod, stable for its uid, in 10.244.0.0/16.
pub fn pod_ip(uid: &str) -> String {
    let h = Sha256::digest(uid.as_bytes());
    format!("10.244.{}.{}", h[0], 2 + h[1] % 250)
}

fn running_status(pod: &Value, now: &str) -> Value {
    let ip = pod_ip(meta::uid(pod));
    let started = pod["metadata"]["creationTimestamp"].clone();
    let container_status = |c: &Value| {
        let image = c["image"].as_str().unwrap_or("");
        let id =
            hex::encode(&Sha256::digest(format!("{}/{}", meta::uid(pod), c["name"]).as_bytes()));
        let digest = hex::encode(&Sha256::digest(image.as_bytes()));
        json!({
            "name": c["name"], "image": image, "imageID": format!("{image}@sha256:{digest}"),
            "containerID": format!("containerd://{id}"), "ready": true, "started": true, "restartCount": 0,
            "state": {"running": {"startedAt": now}},
        })
    };
    let statuses: Vec<Value> =
        pod["spec"]["containers"].as_array().into_iter().flatten().map(container_status).collect();
    let cond = |t: &str| json!({"type": t, "status": "True", "lastProbeTime": null, "lastTransitionTime": now});
    let mut s = json!({
        "phase": "Running",
        "conditions": [cond("PodReadyToStartContainers"), cond("Initialized"), cond("Ready"), cond("ContainersReady"), cond("PodScheduled")],
        "hostIP": "10.0.0.10", "hostIPs": [{"ip": "10.0.0.10"}],
        "podIP": ip, "podIPs": [{"ip": ip}],
        "startTime": started,
        "containerStatuses": statuses,
        "qosClass": pod["status"]["qosClass"].as_str().unwrap_or("BestEffort"),
    });
    if let Some(init) = pod["spec"]["initContainers"].as_array() {
        s["initContainerStatuses"] = json!(init.iter().map(|c| json!({
            "name": c["name"], "image": c["image"], "ready": true, "restartCount": 0,
            "state": {"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": now, "finishedAt": now}},
        })).collect::<Vec<_>>());
    }
    s
}

pub fn reconcile(cluster: &Cluster, state: &mut Controllers, due: &mut Due) {
    let (Some(prt), pods) = all(cluster, "", "Pod") else { return };
    let now = Instant::now();
    state.pod_seen.retain(|uid, _| pods.iter().any(|p| meta::uid(p) == uid));
    for pod in pods.iter().filter(|p| p["status"]["phase"] == "Pending" && !meta::is_deleting(p)) {
        let seen = *state.pod_seen.entry(meta::uid(pod).to_string()).or_insert(now);
        let ready_at = seen + cluster.timing.pod_start_delay;
        if ready_at > now {
            due.at(ready_at);
            continue;
        }
        let mut obj = pod.clone();
        if obj["spec"]["nodeName"].is_null() {
            obj["spec"]["nodeName"] = json!(format!("{}-node-1", cluster.name));
            let _ = cluster.replace(
                &prt,
                meta::namespace(pod),
                meta::name(pod),
                obj.clone(),
                opts("kube-scheduler", ""),
            );
            continue;
        }
        obj["status"] = running_status(pod, &meta::now());
        let _ = cluster.replace(
            &prt,
            meta::namespace(pod),
            meta::name(pod),
            obj,
            opts("kubelet", "status"),
        );
    }
}
