//! Each mesh's own control-plane Kubernetes API server, as ASM runs one per instance: namespaces and
//! Istio's configuration kinds (`DestinationRule`, `VirtualService`, …), no workloads
//! ([`KindSet::MeshControlPlane`] over the same emulator as the clusters' API servers).
//! `DescribeServiceMeshKubeconfig` returns a kubeconfig that reaches it.
//!
//! [`MeshApis::reconcile`] makes the running servers follow the model and the outages: a server
//! starts when its mesh appears (and for every mesh when the emulator starts), refuses connections
//! while the mesh's control plane is down, and is shut down — its state directory removed — when
//! the mesh is gone. Each server keeps its state in `<dir>/<mesh id>/` and its address in
//! `<dir>/<mesh id>/address`: a restarted emulator serves the same objects on the same port when it
//! is free, so kubeconfigs handed out before stay valid.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

use meshform_core::sync::lock;
use serde_json::Value;
use tokio::net::TcpListener;

use super::model::Mesh;
use crate::kube::{self, Availability, ClusterHandle, ClusterOptions, Gvk, KindSet, KubeApiServer};

/// The file, in a mesh's state directory, holding the address its API server last served on.
const ADDRESS_FILE: &str = "address";

/// One mesh's control-plane API server, as the emulator publishes it. Its `Debug` form leaves the
/// kubeconfig (which holds the bearer token) out.
#[derive(Clone)]
pub struct MeshApiServer {
    url: String,
    kubeconfig: String,
    expire_time: String,
    handle: ClusterHandle,
    down: bool,
}

impl fmt::Debug for MeshApiServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MeshApiServer")
            .field("url", &self.url)
            .field("kubeconfig", &"(sensitive value)")
            .field("down", &self.down)
            .finish_non_exhaustive()
    }
}

/// The traffic configuration a mesh's control plane holds, as its proxies receive it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TrafficConfig {
    /// `networking.istio.io` `DestinationRule`s, every namespace, ordered by namespace and name,
    /// as stored (whichever served version they were written with).
    pub destination_rules: Vec<Value>,
    /// `networking.istio.io` `VirtualService`s, likewise.
    pub virtual_services: Vec<Value>,
}

impl MeshApiServer {
    /// `https://127.0.0.1:PORT`, also reported as `Endpoints.IntranetApiServerEndpoint`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The kubeconfig `DescribeServiceMeshKubeconfig` returns (CA inline, bearer token): a secret.
    pub fn kubeconfig(&self) -> &str {
        &self.kubeconfig
    }

    /// `ExpireTime` of `DescribeServiceMeshKubeconfig` (`YYYY-MM-DD hh:mm:ss`, UTC): when the
    /// kubeconfig's CA certificate expires.
    pub fn expire_time(&self) -> &str {
        &self.expire_time
    }

    /// Hooks on the server's objects: read them (e.g. `DestinationRule`s), follow their changes
    /// with [`ClusterHandle::subscribe`]. Reads work during an outage of the mesh too: they see the
    /// configuration as last written, which is what the mesh's proxies last received.
    pub fn handle(&self) -> ClusterHandle {
        self.handle.clone()
    }

    /// Whether the mesh's control plane is down (the API server refuses connections).
    pub fn is_down(&self) -> bool {
        self.down
    }

    /// The mesh's `DestinationRule`s and `VirtualService`s.
    pub fn traffic_config(&self) -> TrafficConfig {
        let list = |kind: &str| {
            let gvk = Gvk::new("networking.istio.io", "v1", kind);
            // Listing every namespace with no label selector cannot fail.
            self.handle.list(&gvk, None, None).unwrap_or_default()
        };
        TrafficConfig {
            destination_rules: list("DestinationRule"),
            virtual_services: list("VirtualService"),
        }
    }
}

/// A server the emulator runs.
struct Running {
    server: KubeApiServer,
    availability: Availability,
}

/// The control-plane API servers of all meshes.
pub(crate) struct MeshApis {
    dir: PathBuf,
    /// Held across the awaits of one reconciliation, so reconciliations run one at a time.
    running: tokio::sync::Mutex<BTreeMap<String, Running>>,
    /// What the actions read (synchronously, under the model lock).
    published: std::sync::Mutex<BTreeMap<String, MeshApiServer>>,
    /// Why a mesh's server could not be started or switched, for the actions' error messages.
    failures: std::sync::Mutex<BTreeMap<String, String>>,
    /// Wakes the background reconciler after a change of the model or the outages.
    pub wake: tokio::sync::Notify,
    /// Set by [`MeshApis::shutdown`]: nothing starts any more.
    closed: AtomicBool,
}

impl MeshApis {
    pub fn new(dir: PathBuf) -> Self {
        MeshApis {
            dir,
            running: tokio::sync::Mutex::new(BTreeMap::new()),
            published: std::sync::Mutex::new(BTreeMap::new()),
            failures: std::sync::Mutex::new(BTreeMap::new()),
            wake: tokio::sync::Notify::new(),
            closed: AtomicBool::new(false),
        }
    }

    /// The published server of a mesh.
    pub fn get(&self, mesh_id: &str) -> Option<MeshApiServer> {
        lock(&self.published).get(mesh_id).cloned()
    }

    /// Every published server, by mesh id.
    pub fn all(&self) -> BTreeMap<String, MeshApiServer> {
        lock(&self.published).clone()
    }

    /// Why the mesh's server is not available, if it failed.
    pub fn failure(&self, mesh_id: &str) -> Option<String> {
        lock(&self.failures).get(mesh_id).cloned()
    }

    /// Makes the servers follow `meshes` and the outages (mesh ids and region ids).
    pub async fn reconcile(&self, meshes: &BTreeMap<String, Mesh>, outages: &BTreeSet<String>) {
        let mut running = self.running.lock().await;
        if self.closed.load(Ordering::SeqCst) {
            return;
        }
        let gone: Vec<String> =
            running.keys().filter(|id| !meshes.contains_key(*id)).cloned().collect();
        for id in gone {
            lock(&self.published).remove(&id);
            lock(&self.failures).remove(&id);
            if let Some(r) = running.remove(&id) {
                // Saving the objects of a server about to be removed may fail; nothing is lost.
                let _ = r.server.shutdown().await;
            }
            let dir = self.dir.join(&id);
            // Not removable: it is left behind, and a later mesh never reuses the id.
            let _ = tokio::task::spawn_blocking(move || std::fs::remove_dir_all(dir)).await;
        }
        for (id, mesh) in meshes {
            let down = outages.contains(id) || outages.contains(&mesh.region_id);
            if !running.contains_key(id) {
                match self.start(id).await {
                    Ok(r) => {
                        running.insert(id.clone(), r);
                    }
                    Err(e) => {
                        lock(&self.failures).insert(id.clone(), e);
                        continue;
                    }
                }
            }
            let Some(r) = running.get(id) else { continue };
            let switched = match (down, r.availability.is_down()) {
                (true, false) => r.availability.take_down().await,
                (false, true) => r.availability.bring_up().await,
                _ => Ok(()),
            };
            match switched {
                Ok(()) => {
                    lock(&self.failures).remove(id);
                }
                Err(e) => {
                    lock(&self.failures).insert(id.clone(), e.to_string());
                }
            }
            lock(&self.published).insert(id.clone(), publish(r));
        }
    }

    /// Shuts every server down for good (their objects are saved).
    pub async fn shutdown(&self) {
        self.closed.store(true, Ordering::SeqCst);
        let mut running = self.running.lock().await;
        lock(&self.published).clear();
        for (_, r) in std::mem::take(&mut *running) {
            let _ = r.server.shutdown().await;
        }
    }

    async fn start(&self, mesh_id: &str) -> Result<Running, String> {
        let state_dir = self.dir.join(mesh_id);
        let address_file = state_dir.join(ADDRESS_FILE);
        let previous: Option<SocketAddr> = std::fs::read_to_string(&address_file)
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .filter(|a: &SocketAddr| a.ip().is_loopback());
        let listener = match previous {
            Some(a) => TcpListener::bind(a).await.ok(),
            None => None,
        };
        let listener = match listener {
            Some(l) => l,
            None => TcpListener::bind("127.0.0.1:0").await.map_err(|e| {
                format!("the API server of mesh {mesh_id} cannot listen on loopback: {e}")
            })?,
        };
        let mut opts = ClusterOptions::new(mesh_id, &state_dir);
        opts.kinds = KindSet::MeshControlPlane;
        let server = kube::start(listener, opts)
            .await
            .map_err(|e| format!("the API server of mesh {mesh_id}: {e}"))?;
        let address = server.local_addr().to_string();
        // Without the file the next start picks a new port; the server works all the same.
        let _ = meshform_core::fsio::write_atomic(&address_file, address.as_bytes(), None);
        let availability = server.availability();
        Ok(Running { server, availability })
    }
}

fn publish(r: &Running) -> MeshApiServer {
    MeshApiServer {
        url: r.server.url(),
        kubeconfig: r.server.kubeconfig_yaml(),
        expire_time: expire_time(r.server.ca_pem()),
        handle: r.server.handle(),
        down: r.availability.is_down(),
    }
}

/// The CA certificate's notAfter, `YYYY-MM-DD hh:mm:ss` (UTC); empty if it cannot be read.
fn expire_time(ca_pem: &str) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    let Ok(certs) = meshform_core::pem::certificates(ca_pem) else { return String::new() };
    certs
        .first()
        .and_then(|der| x509_parser::parse_x509_certificate(der).ok())
        .and_then(|(_, c)| c.validity().not_after.to_datetime().format(format).ok())
        .unwrap_or_default()
}
