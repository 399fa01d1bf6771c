//! What each mesh's control plane last pushed to its proxies (reference §5): the Services, pods
//! and nodes of every member cluster as last read, and its `DestinationRule`s and
//! `VirtualService`s. A member cluster is read again only while its API server answers — when it
//! is down, the mesh keeps pushing the endpoints it last saw, as istiod's informer caches do; when
//! the mesh's own control plane is down, nothing changes at all: its proxies keep their last
//! configuration (endpoints and traffic policy), as Envoy does without its management server. A
//! cluster leaves the configuration only when it leaves the mesh.
//!
//! Also here: where workloads run ([`Placement`]): the pod label `topology.istio.io/locality`,
//! else the labels of the pod's node, else its cluster's region and zone ([`zone_of`]).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use meshform_core::sync::lock;
use serde_json::{json, Value};

use super::balancer::Placement;
use super::route::{ClusterView, Endpoint};
use crate::asm::{AsmSnapshot, Mesh, MeshApiServer, TrafficConfig};
use crate::kube::Gvk;

pub const REGION_LABEL: &str = "topology.kubernetes.io/region";
pub const ZONE_LABEL: &str = "topology.kubernetes.io/zone";
const SUBZONE_LABEL: &str = "topology.istio.io/subzone";
const LOCALITY_LABEL: &str = "topology.istio.io/locality";

/// The zone of the emulated clusters' node: each cluster has one node, in zone `a` of its
/// region (`cn-hangzhou-a`).
pub fn zone_of(region: &str) -> String {
    format!("{region}-a")
}

/// The name of a cluster's node, where the emulated kubelet runs every pod.
pub fn node_name(cluster: &str) -> String {
    format!("{cluster}-node-1")
}

/// A cluster's node as the cloud's node controller registers it: labelled with its region and
/// zone.
pub fn node(cluster: &str, region: &str) -> Value {
    let name = node_name(cluster);
    json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {
            REGION_LABEL: region, ZONE_LABEL: zone_of(region), "kubernetes.io/hostname": name,
        }},
    })
}

/// One cluster as its mesh last read it.
#[derive(Debug, Default)]
pub struct ClusterSnapshot {
    resource_version: u64,
    region: String,
    network: Option<String>,
    services: Vec<Value>,
    pods: Vec<Value>,
    nodes: BTreeMap<String, Value>,
}

fn list(c: &ClusterView, kind: &str) -> Vec<Value> {
    c.handle.list(&Gvk::new("", "v1", kind), None, None).unwrap_or_default()
}

impl ClusterSnapshot {
    fn read(c: &ClusterView, region: &str, network: Option<String>) -> ClusterSnapshot {
        let nodes = list(c, "Node")
            .into_iter()
            .filter_map(|n| Some((n["metadata"]["name"].as_str()?.to_owned(), n)))
            .collect();
        ClusterSnapshot {
            resource_version: c.handle.resource_version(),
            region: region.to_owned(),
            network,
            services: list(c, "Service"),
            pods: list(c, "Pod"),
            nodes,
        }
    }

    /// Ready pods selected by Service `svc` of namespace `ns`; `None` without such a Service.
    fn endpoints(&self, cluster: &ClusterView, ns: &str, svc: &str) -> Option<Vec<Endpoint>> {
        let service = self.services.iter().find(|s| {
            s["metadata"]["namespace"].as_str() == Some(ns) && s["metadata"]["name"] == svc
        })?;
        let selector = service["spec"]["selector"].as_object().filter(|s| !s.is_empty());
        let Some(selector) = selector else { return Some(Vec::new()) };
        let mut eps: Vec<Endpoint> = self
            .pods
            .iter()
            .filter(|p| p["metadata"]["namespace"].as_str() == Some(ns))
            .filter(|p| selector.iter().all(|(k, v)| p["metadata"]["labels"][k] == *v))
            .filter(|p| super::route::pod_ready(p))
            .map(|pod| Endpoint {
                cluster_id: cluster.id.clone(),
                placement: placement(pod, &self.nodes, &cluster.id, &self.region, &self.network),
                pod: pod.clone(),
            })
            .collect();
        eps.sort_by(|a, b| a.name().cmp(b.name()));
        Some(eps)
    }
}

/// Where a pod runs (reference §2): `topology.istio.io/locality` (`region.zone.subzone`), else
/// its node's labels, else its cluster's region and zone; with the labels `failoverPriority` can
/// name.
pub fn placement(
    pod: &Value,
    nodes: &BTreeMap<String, Value>,
    cluster_id: &str,
    region: &str,
    network: &Option<String>,
) -> Placement {
    let labels = &pod["metadata"]["labels"];
    let node_name = pod["spec"]["nodeName"].as_str().unwrap_or("");
    let node = &nodes.get(node_name).map_or(&Value::Null, |n| &n["metadata"]["labels"]);
    let label = |v: &Value, k: &str| v[k].as_str().map(str::to_owned);
    let mut p = match labels[LOCALITY_LABEL].as_str().or(labels["istio-locality"].as_str()) {
        Some(l) => {
            let mut parts = l.split('.').map(str::to_owned);
            Placement {
                region: parts.next().unwrap_or_default(),
                zone: parts.next().unwrap_or_default(),
                subzone: parts.next().unwrap_or_default(),
                labels: BTreeMap::new(),
            }
        }
        None => Placement {
            region: label(node, REGION_LABEL)
                .or_else(|| label(node, "failure-domain.beta.kubernetes.io/region"))
                .unwrap_or_else(|| region.to_owned()),
            zone: label(node, ZONE_LABEL)
                .or_else(|| label(node, "failure-domain.beta.kubernetes.io/zone"))
                .unwrap_or_else(|| zone_of(region)),
            subzone: label(node, SUBZONE_LABEL).unwrap_or_default(),
            labels: BTreeMap::new(),
        },
    };
    if let Some(m) = labels.as_object() {
        p.labels.extend(m.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned()))));
    }
    p.labels.extend([
        ("topology.istio.io/cluster".to_owned(), cluster_id.to_owned()),
        (REGION_LABEL.to_owned(), p.region.clone()),
        (ZONE_LABEL.to_owned(), p.zone.clone()),
        (SUBZONE_LABEL.to_owned(), p.subzone.clone()),
        ("kubernetes.io/hostname".to_owned(), node_name.to_owned()),
    ]);
    if let Some(n) = network {
        p.labels.insert("topology.istio.io/network".to_owned(), n.clone());
    }
    p
}

/// The placement of a client pod in its own (running) cluster.
pub fn client_placement(snapshot: &AsmSnapshot, from: &ClusterView, pod: &Value) -> Placement {
    let region = region_of(snapshot, &from.id);
    let nodes = list(from, "Node")
        .into_iter()
        .filter_map(|n| Some((n["metadata"]["name"].as_str()?.to_owned(), n)))
        .collect();
    let network = network_of(snapshot.managing_mesh(&from.id), &from.id);
    placement(pod, &nodes, &from.id, &region, &network)
}

pub fn region_of(snapshot: &AsmSnapshot, cluster_id: &str) -> String {
    snapshot
        .clusters
        .iter()
        .find(|c| c.id == cluster_id)
        .map(|c| c.region.clone())
        .unwrap_or_default()
}

fn network_of(mesh: Option<&Mesh>, cluster_id: &str) -> Option<String> {
    mesh.and_then(|m| m.networks.get(cluster_id)).map(|n| n.network.clone())
}

/// What one mesh pushed.
#[derive(Debug, Default)]
pub struct Pushed {
    clusters: BTreeMap<String, Arc<ClusterSnapshot>>,
    pub traffic: TrafficConfig,
}

impl Pushed {
    /// The endpoints of Service `svc` in namespace `ns` across the mesh's clusters (by cluster
    /// id, then pod name); `None` when no cluster has such a Service.
    pub fn endpoints(
        &self,
        clusters: &[ClusterView],
        ns: &str,
        svc: &str,
    ) -> Option<Vec<Endpoint>> {
        let mut found = false;
        let mut all = Vec::new();
        for (id, snap) in &self.clusters {
            let Some(view) = clusters.iter().find(|c| &c.id == id) else { continue };
            if let Some(eps) = snap.endpoints(view, ns, svc) {
                found = true;
                all.extend(eps);
            }
        }
        found.then_some(all)
    }
}

/// The configuration every mesh pushed, by mesh id.
#[derive(Debug, Default)]
pub struct Discovery {
    meshes: Mutex<BTreeMap<String, Arc<Pushed>>>,
}

impl Discovery {
    /// Forgets the meshes that are gone (a deleted mesh pushes nothing).
    pub fn retain(&self, snapshot: &AsmSnapshot) {
        lock(&self.meshes).retain(|id, _| snapshot.meshes.contains_key(id));
    }

    /// What `mesh` pushes now: read again from the sources that answer (its member clusters whose
    /// API servers are up, its own control plane's API), the rest as last seen.
    pub fn pushed(
        &self,
        snapshot: &AsmSnapshot,
        mesh: &Mesh,
        api: Option<&MeshApiServer>,
        clusters: &[ClusterView],
    ) -> Arc<Pushed> {
        let mut meshes = lock(&self.meshes);
        let last = meshes.get(&mesh.id).cloned().unwrap_or_default();
        if api.is_some_and(MeshApiServer::is_down) {
            return last;
        }
        let mut next = Pushed::default();
        let mut changed = false;
        for member in &mesh.members {
            let Some(c) = clusters.iter().find(|c| c.id == member.cluster_id) else { continue };
            let previous = last.clusters.get(&c.id);
            let network = network_of(Some(mesh), &c.id);
            let snap = match previous {
                Some(p) if c.is_down() => Arc::clone(p),
                Some(p)
                    if p.resource_version == c.handle.resource_version()
                        && p.network == network =>
                {
                    Arc::clone(p)
                }
                // Never read, and down now: nothing is known of it yet.
                None if c.is_down() => continue,
                _ => {
                    changed = true;
                    Arc::new(ClusterSnapshot::read(c, &region_of(snapshot, &c.id), network))
                }
            };
            next.clusters.insert(c.id.clone(), snap);
        }
        changed |= next.clusters.len() != last.clusters.len();
        next.traffic = api.map(MeshApiServer::traffic_config).unwrap_or_default();
        changed |= next.traffic != last.traffic;
        if !changed {
            return last;
        }
        let next = Arc::new(next);
        meshes.insert(mesh.id.clone(), Arc::clone(&next));
        next
    }
}
