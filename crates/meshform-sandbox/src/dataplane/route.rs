//! The facts routing rests on: the emulated clusters ([`ClusterView`]), endpoints ([`Endpoint`]:
//! a ready pod selected by a Service, as a mesh discovered it or as kube-proxy sees it for a pod
//! without a sidecar), and whether a connection to an endpoint succeeds ([`endpoint_reachable`]:
//! VPCs, networks, gateways, cluster outages), in Envoy's words when it does not. What a mesh
//! discovered is in `discovery`; what a sidecar does with it (balancing, retries, outlier
//! detection) in `proxy`.

use serde_json::Value;

use super::balancer::Placement;
use crate::asm::AsmSnapshot;
use crate::kube::{Availability, ClusterHandle, Gvk};

/// One emulated cluster as the data plane sees it.
#[derive(Clone)]
pub struct ClusterView {
    pub id: String,
    pub name: String,
    pub vpc_id: String,
    pub handle: ClusterHandle,
    /// Whether the cluster is up: during an outage its API server refuses connections, its pods
    /// answer nothing and its cross-cluster gateway is gone.
    pub availability: Availability,
}

impl ClusterView {
    /// Whether the whole cluster is down (`meshform sandbox outage --cluster`).
    pub fn is_down(&self) -> bool {
        self.availability.is_down()
    }
}

/// A candidate destination pod.
#[derive(Clone, Debug)]
pub struct Endpoint {
    pub cluster_id: String,
    pub pod: Value,
    /// Where it runs (its locality and labels), as its mesh discovered it.
    pub placement: Placement,
}

impl Endpoint {
    pub fn name(&self) -> &str {
        self.pod["metadata"]["name"].as_str().unwrap_or("")
    }

    /// The host's identity in a sidecar's upstream cluster: `cluster-id/namespace/pod`.
    pub fn host_key(&self) -> String {
        let ns = self.pod["metadata"]["namespace"].as_str().unwrap_or("");
        format!("{}/{ns}/{}", self.cluster_id, self.name())
    }
}

/// Whether a pod runs the mesh's proxy.
pub fn has_sidecar(pod: &Value) -> bool {
    pod["spec"]["containers"]
        .as_array()
        .is_some_and(|cs| cs.iter().any(|c| c["name"] == "istio-proxy"))
}

/// Whether a pod is an endpoint: running and not being deleted.
pub fn pod_ready(pod: &Value) -> bool {
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
        .map(|pod| Endpoint {
            cluster_id: cluster.id.clone(),
            pod,
            placement: Placement::default(),
        })
        .collect();
    eps.sort_by(|a, b| a.name().cmp(b.name()));
    Some(eps)
}

/// The cluster IP of Service `svc` in namespace `ns` of a cluster, what a client connects to.
pub fn service_ip(cluster: &ClusterView, ns: &str, svc: &str) -> Option<String> {
    let service = cluster.handle.get(&Gvk::new("", "v1", "Service"), Some(ns), svc)?;
    service["spec"]["clusterIP"].as_str().filter(|ip| *ip != "None").map(str::to_owned)
}

/// Why a connection from a sidecar to an endpoint failed, in Envoy's words (Envoy ≥ 1.27, the
/// proxies of ASM 1.22): the client receives a 503 local reply whose body is [`ConnectFailure::body`]
/// (reference §4: flag `UF`, details `upstream_reset_before_response_started{…}`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectFailure {
    /// `remote connection failure`, `connection timeout`, …
    pub reset_reason: String,
    /// What the transport said (`delayed connect error: Connection refused`); empty when nothing.
    pub transport_failure: String,
}

impl ConnectFailure {
    fn new(reset_reason: &str, transport_failure: String) -> Self {
        ConnectFailure { reset_reason: reset_reason.to_owned(), transport_failure }
    }

    /// The connection was refused: nothing listens at the endpoint (its cluster is down).
    pub fn refused() -> Self {
        ConnectFailure::new(
            "remote connection failure",
            "delayed connect error: Connection refused".to_owned(),
        )
    }

    /// The status of the local reply Envoy sends for it.
    pub const STATUS: u16 = 503;

    /// The local reply's body for a failure on the first attempt.
    pub fn body(&self) -> String {
        self.text("reset reason")
    }

    /// The body when the failing attempt was a retry (for a retry policy built on this model).
    pub fn body_after_retries(&self) -> String {
        self.text("retried and the latest reset reason")
    }

    fn text(&self, lead: &str) -> String {
        let mut s = format!(
            "upstream connect error or disconnect/reset before headers. {lead}: {}",
            self.reset_reason
        );
        if !self.transport_failure.is_empty() {
            s.push_str(", transport failure reason: ");
            s.push_str(&self.transport_failure);
        }
        s
    }
}

/// Whether a sidecar in `from` can open a connection to an endpoint in `to`: **the one place the
/// data plane decides that an endpoint is down**. The sidecar (`proxy`) calls it per attempt,
/// retries and counts its failures for outlier detection; it does not look at discovery, which
/// keeps endpoints as last seen (reference §5).
///
/// In order: pods in one cluster or one VPC reach each other directly. Across VPCs, the source
/// mesh must know the two clusters are on different networks (its multi-cluster network), and the
/// destination cluster must run a cross-cluster mesh proxy — which the mesh that manages it deploys
/// when its network configuration enables the gateway. Then, the destination's cluster must be up:
/// in a down cluster neither the pods nor the gateway accept connections, which Envoy reports as
/// `remote connection failure` / `delayed connect error: Connection refused`.
pub fn endpoint_reachable(
    snapshot: &AsmSnapshot,
    from: &ClusterView,
    to: &ClusterView,
) -> Result<(), ConnectFailure> {
    network_path(snapshot, from, to)?;
    if to.is_down() {
        return Err(ConnectFailure::refused());
    }
    Ok(())
}

/// Whether the networks route a connection from `from` to `to` (see [`endpoint_reachable`]).
fn network_path(
    snapshot: &AsmSnapshot,
    from: &ClusterView,
    to: &ClusterView,
) -> Result<(), ConnectFailure> {
    if from.id == to.id || from.vpc_id == to.vpc_id {
        return Ok(());
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
                Ok(())
            } else {
                Err(ConnectFailure::new("remote connection failure", format!(
                    "delayed connect error: 113 (network {d} of {} has no cross-cluster mesh proxy: enable it in the multi-cluster network of the mesh that manages {})",
                    to.name, to.name
                )))
            }
        }
        _ => Err(ConnectFailure::new("connection timeout", format!(
            "connect timeout after 10s ({} and {} are in different VPCs with no route between them: configure a multi-cluster network with cross-cluster mesh proxies)",
            from.name, to.name
        ))),
    }
}
