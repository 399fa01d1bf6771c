//! The endpoints controller: for each Service with a selector, an Endpoints object listing the
//! matching pods' IPs (ready ones as `addresses`, others as `notReadyAddresses`) and ports.

use serde_json::{json, Value};

use super::{all, opts, CONTROLLER};
use crate::kube::cluster::Cluster;
use crate::kube::deletion::DeleteOptions;
use crate::kube::meta;
use crate::kube::selectors::LabelSelector;

fn is_ready(p: &Value) -> bool {
    p["status"]["phase"] == "Running"
        && p["status"]["conditions"]
            .as_array()
            .is_some_and(|cs| cs.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"))
}

/// The port a service port targets on a pod (a number, or a named container port).
fn target_port(sp: &Value, pods: &[&Value]) -> Option<i64> {
    match &sp["targetPort"] {
        Value::Number(n) => n.as_i64(),
        Value::String(name) => pods.iter().find_map(|p| {
            p["spec"]["containers"].as_array()?.iter().find_map(|c| {
                c["ports"].as_array()?.iter().find(|cp| cp["name"] == name.as_str())?
                    ["containerPort"]
                    .as_i64()
            })
        }),
        _ => sp["port"].as_i64(),
    }
}

pub fn reconcile(cluster: &Cluster) {
    let (Some(_), services) = all(cluster, "", "Service") else { return };
    let (Some(ert), endpoints) = all(cluster, "", "Endpoints") else { return };
    let (Some(_), pods) = all(cluster, "", "Pod") else { return };
    for svc in
        services.iter().filter(|s| s["spec"]["selector"].is_object() && !meta::is_deleting(s))
    {
        let ns = meta::namespace(svc);
        let name = meta::name(svc);
        let sel = LabelSelector::from_map(&svc["spec"]["selector"]);
        let matching: Vec<&Value> = pods
            .iter()
            .filter(|p| {
                meta::namespace(p) == ns
                    && !meta::is_deleting(p)
                    && p["status"]["podIP"].is_string()
            })
            .filter(|p| !sel.is_empty() && sel.matches(&p["metadata"]["labels"]))
            .collect();
        let address = |p: &Value| {
            json!({"ip": p["status"]["podIP"], "nodeName": p["spec"]["nodeName"],
            "targetRef": {"kind": "Pod", "namespace": ns, "name": meta::name(p), "uid": meta::uid(p)}})
        };
        let mut ready: Vec<Value> =
            matching.iter().filter(|p| is_ready(p)).map(|p| address(p)).collect();
        let mut not_ready: Vec<Value> =
            matching.iter().filter(|p| !is_ready(p)).map(|p| address(p)).collect();
        ready.sort_by(|a, b| a["ip"].as_str().cmp(&b["ip"].as_str()));
        not_ready.sort_by(|a, b| a["ip"].as_str().cmp(&b["ip"].as_str()));
        let ports: Vec<Value> = svc["spec"]["ports"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|sp| {
                let mut p = json!({"port": target_port(sp, &matching)?, "protocol": sp["protocol"].as_str().unwrap_or("TCP")});
                if let Some(n) = sp["name"].as_str() {
                    p["name"] = json!(n);
                }
                if let Some(ap) = sp["appProtocol"].as_str() {
                    p["appProtocol"] = json!(ap);
                }
                Some(p)
            })
            .collect();
        let mut subset = json!({"ports": ports});
        if !ready.is_empty() {
            subset["addresses"] = json!(ready);
        }
        if !not_ready.is_empty() {
            subset["notReadyAddresses"] = json!(not_ready);
        }
        let subsets = if matching.is_empty() { json!([]) } else { json!([subset]) };
        let labels = svc["metadata"]["labels"].clone();
        match endpoints.iter().find(|e| meta::namespace(e) == ns && meta::name(e) == name) {
            None => {
                let mut ep = json!({"apiVersion": "v1", "kind": "Endpoints",
                    "metadata": {"name": name, "namespace": ns}, "subsets": subsets});
                if labels.is_object() {
                    ep["metadata"]["labels"] = labels;
                }
                let _ = cluster.create(&ert, ns, ep, opts(CONTROLLER, ""));
            }
            Some(e) => {
                let current = if e["subsets"].is_null() { json!([]) } else { e["subsets"].clone() };
                if current != subsets || (labels.is_object() && e["metadata"]["labels"] != labels) {
                    let mut ep = e.clone();
                    ep["subsets"] = subsets;
                    if labels.is_object() {
                        ep["metadata"]["labels"] = labels;
                    }
                    let _ = cluster.replace(&ert, ns, name, ep, opts(CONTROLLER, ""));
                }
            }
        }
    }
    for e in &endpoints {
        let ns = meta::namespace(e);
        let gone =
            !services.iter().any(|s| meta::namespace(s) == ns && meta::name(s) == meta::name(e));
        if gone {
            let _ = cluster.delete(&ert, ns, meta::name(e), &DeleteOptions::default());
        }
    }
}
