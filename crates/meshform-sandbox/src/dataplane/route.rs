//! Routing a request from a pod to a service as its mesh's proxies would: the endpoints the source's
//! mesh discovers (its own cluster's, and those of every cluster attached to the mesh, discovery-only
//! included, that has a Service of that name), reachability across VPCs and networks, round-robin
//! balancing, then the hop over real mTLS and the sample images' answers.

use serde_json::Value;

use crate::asm::AsmSnapshot;
use crate::kube::{ClusterHandle, Gvk};

/// One emulated cluster as the data plane sees it.
#[derive(Clone)]
pub struct ClusterView {
    pub id: String,
    pub name: String,
    pub vpc_id: String,
    pub handle: ClusterHandle,
}

/// A candidate destination pod.
#[derive(Clone, Debug)]
pub struct Endpoint {
    pub cluster_id: String,
    pub pod: Value,
}

impl Endpoint {
    pub fn name(&self) -> &str {
        self.pod["metadata"]["name"].as_str().unwrap_or("")
    }
}

/// Whether a pod runs the mesh's proxy.
pub fn has_sidecar(pod: &Value) -> bool {
    pod["spec"]["containers"]
        .as_array()
        .is_some_and(|cs| cs.iter().any(|c| c["name"] == "istio-proxy"))
}

fn pod_ready(pod: &Value) -> bool {
    pod["status"]["phase"] == "Running" && pod["metadata"]["deletionTimestamp"].is_null()
}

/// Ready pods selected by Service `svc` in namespace `ns` of one cluster; `None` when the cluster has
/// no such Service.
pub fn service_endpoints(cluster: &ClusterView, ns: &str, svc: &str) -> Option<Vec<Endpoint>> {
    let service = cluster.handle.get(&Gvk::new("", "v1", "Service"), Some(ns), svc)?;
    let selector: Vec<String> = service["spec"]["selector"]
        .as_object()
        .map(|m| m.iter().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or(""))).collect())
        .unwrap_or_default();
    if selector.is_empty() {
        return Some(Vec::new());
    }
    let pods = cluster
        .handle
        .list(&Gvk::new("", "v1", "Pod"), Some(ns), Some(&selector.join(",")))
        .unwrap_or_default();
    let mut eps: Vec<Endpoint> = pods
        .into_iter()
        .filter(pod_ready)
        .map(|pod| Endpoint { cluster_id: cluster.id.clone(), pod })
        .collect();
    eps.sort_by(|a, b| a.name().cmp(b.name()));
    Some(eps)
}

/// Why an endpoint cannot be reached from a cluster, if it cannot. Pods in one VPC reach each
/// other directly. Across VPCs, the source mesh must know the two clusters are on different networks
/// (its multi-cluster network), and the destination cluster must run a cross-cluster mesh proxy —
/// which the mesh that manages it deploys when its network configuration enables the gateway.
pub fn unreachable_reason(
    snapshot: &AsmSnapshot,
    from: &ClusterView,
    to: &ClusterView,
) -> Option<String> {
    if from.id == to.id || from.vpc_id == to.vpc_id {
        return None;
    }
    let src = snapshot.managing_mesh(&from.id);
    let nets = src.map(|m| &m.networks);
    let src_net = nets.and_then(|n| n.get(&from.id)).map(|n| n.network.as_str());
    let dst_net = nets.and_then(|n| n.get(&to.id)).map(|n| n.network.as_str());
    match (src_net, dst_net) {
        (Some(s), Some(d)) if s != d => {
            let gateway = snapshot
                .managing_mesh(&to.id)
                .and_then(|m| m.networks.get(&to.id))
                .is_some_and(|n| n.enable_gateway);
            if gateway {
                None
            } else {
                Some(format!(
                    "delayed connect error: 113 (network {d} of {} has no cross-cluster mesh proxy: enable it in the multi-cluster network of the mesh that manages {})",
                    to.name, to.name
                ))
            }
        }
        _ => Some(format!(
            "connection timeout ({} and {} are in different VPCs with no route between them: configure a multi-cluster network with cross-cluster mesh proxies)",
            from.name, to.name
        )),
    }
}

/// The endpoints of `svc` that the proxies of a pod in `from` know about.
pub fn discover(
    snapshot: &AsmSnapshot,
    clusters: &[ClusterView],
    from: &ClusterView,
    ns: &str,
    svc: &str,
    meshed: bool,
) -> Option<Vec<Endpoint>> {
    let mesh = if meshed { snapshot.managing_mesh(&from.id) } else { None };
    let mut in_view: Vec<&ClusterView> = vec![from];
    if let Some(m) = mesh {
        for member in &m.members {
            if let Some(c) = clusters.iter().find(|c| c.id == member.cluster_id && c.id != from.id)
            {
                in_view.push(c);
            }
        }
    }
    let mut found = false;
    let mut all = Vec::new();
    for c in in_view {
        if let Some(eps) = service_endpoints(c, ns, svc) {
            found = true;
            all.extend(eps);
        }
    }
    found.then_some(all)
}

/// What a sample image answers on a path (`examples-helloworld-vN` and others).
pub fn app_answer(pod: &Value, path: &str) -> (u16, String) {
    let name = pod["metadata"]["name"].as_str().unwrap_or("");
    let image = pod["spec"]["containers"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["name"] != "istio-proxy"))
        .and_then(|c| c["image"].as_str())
        .unwrap_or("");
    if let Some(rest) = image.split("examples-helloworld-").nth(1) {
        let version = rest.split([':', '@', '/']).next().unwrap_or("v1");
        return match path {
            "/hello" => (200, format!("Hello version: {version}, instance: {name}\n")),
            "/health" => (200, "Healthy\n".into()),
            _ => {
                (404, "<!doctype html>\n<title>404 Not Found</title>\n<h1>Not Found</h1>\n".into())
            }
        };
    }
    (200, format!("{name}\n"))
}
