//! The emulated Alibaba Cloud Service Mesh (ASM) OpenAPI, version `2020-01-11`, on loopback.
//!
//! It speaks the real wire protocol — RPC style on `/`, V3 (`ACS3-HMAC-SHA256`) and V2 (`HMAC-SHA1`)
//! signatures, JSON answers and error bodies, throttling headers — so the official SDKs and
//! meshform's `asm` provider work against it unchanged. It models meshes, member clusters (managed
//! or discovery-only), multi-cluster networks, per-namespace injection, each mesh's CA, and
//! asynchronous states; faults can be injected; the state survives restarts.
//!
//! Start it with [`start`]; observe it with [`AsmEmulator::snapshot`] and
//! [`AsmEmulator::subscribe`]: a [`tokio::sync::watch`] receiver of [`AsmSnapshot`]s, replaced on
//! every change (a slow observer skips to the latest, which is what a reconciler wants). The other
//! sandbox parts react to it, e.g.:
//!
//! ```text
//! let mut changes = emulator.subscribe();
//! while changes.changed().await.is_ok() {
//!     let snapshot = changes.borrow_and_update().clone();
//!     for cluster in &snapshot.clusters {
//!         match snapshot.managing_mesh(&cluster.id) {
//!             Some(mesh) if mesh.state == MeshState::Running => { /* istio-system, labels, CA */ }
//!             _ => { /* no control plane pushes to this cluster */ }
//!         }
//!     }
//! }
//! ```
//!
//! Each mesh also has its own control-plane Kubernetes API server (`meshapi`), reached with the
//! kubeconfig `DescribeServiceMeshKubeconfig` returns; [`AsmEmulator::mesh_api`] gives the other
//! sandbox parts its URL and a handle on its objects, e.g. the data plane reads a mesh's traffic
//! policy:
//!
//! ```text
//! if let Some(api) = emulator.mesh_api(&mesh.id) {
//!     let TrafficConfig { destination_rules, virtual_services } = api.traffic_config();
//!     let mut changes = api.handle().subscribe(); // to follow them
//! }
//! ```
//!
//! Modules: `server` (HTTP, order of checks), `auth` (signatures), `params` (parameter parsing),
//! `actions` (one function per action), `model` (the state and its transitions), `render` (answer
//! shapes), `ca` (CA checks and generation), `meshapi` (the meshes' API servers), `faults`,
//! `persist`, `errors`.

mod actions;
pub(crate) mod auth;
mod ca;
mod errors;
mod faults;
mod meshapi;
mod model;
mod params;
mod persist;
mod render;
mod server;

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use meshform_core::sync::lock;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use errors::AsmError;
pub use faults::FaultSettings;
pub use meshapi::{MeshApiServer, TrafficConfig};
pub use model::{
    AsmSnapshot, CaSource, ClusterNetwork, Injection, Mesh, MeshCa, MeshMember, MeshState,
    SecretPem, Tag, Transition, Upgrade, UpgradeFailure,
};

/// The API version the emulator speaks.
pub const API_VERSION: &str = server::API_VERSION;

/// The version an in-place upgrade of a mesh on `version` moves to: the next newer one of
/// [`istio_versions`] (`None` for the newest, or a version the emulator does not know).
pub fn next_istio_version(version: &str) -> Option<&'static str> {
    actions::next_istio_version(version)
}

/// The Istio versions `DescribeVersions` offers (newest first).
pub fn istio_versions() -> &'static [&'static str] {
    actions::istio_versions()
}

/// An emulated Alibaba Cloud account: its access key and its ACK clusters.
#[derive(Clone, PartialEq, Eq)]
pub struct Account {
    pub access_key_id: String,
    pub access_key_secret: String,
    pub clusters: Vec<EmulatedCluster>,
}

impl fmt::Debug for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Account")
            .field("access_key_id", &self.access_key_id)
            .field("access_key_secret", &"(sensitive value)")
            .field("clusters", &self.clusters)
            .finish()
    }
}

/// An ACK cluster of the account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmulatedCluster {
    pub id: String,
    pub name: String,
    pub region: String,
    pub vpc_id: String,
    pub vswitch_id: String,
}

/// How the emulator runs.
#[derive(Clone, Debug)]
pub struct AsmOptions {
    /// Where the state is kept (JSON, written atomically after every change).
    pub state_file: PathBuf,
    /// How long `initial`, `upgrading` and `deleting` last.
    pub transition_delay: Duration,
    pub faults: FaultSettings,
    /// Where each mesh's control-plane API server keeps its state (`<dir>/<mesh id>/`).
    pub mesh_api_dir: PathBuf,
}

impl AsmOptions {
    /// The defaults: transitions of 1.5 s, no faults, the meshes' API servers in `meshes/` next to
    /// the state file.
    pub fn new(state_file: impl Into<PathBuf>) -> Self {
        let state_file = state_file.into();
        let mesh_api_dir = meshform_core::fsio::parent_dir(&state_file).join("meshes");
        AsmOptions {
            state_file,
            transition_delay: Duration::from_millis(1500),
            faults: FaultSettings::default(),
            mesh_api_dir,
        }
    }
}

/// A running emulator. Dropping it stops the server; [`AsmEmulator::shutdown`] stops it gracefully.
pub struct AsmEmulator {
    shared: Arc<server::Shared>,
    local_addr: SocketAddr,
    stop: watch::Sender<bool>,
    server: Option<JoinHandle<std::io::Result<()>>>,
    transitions: Option<JoinHandle<()>>,
    mesh_apis: Option<JoinHandle<()>>,
}

impl fmt::Debug for AsmEmulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsmEmulator").field("endpoint", &self.endpoint()).finish_non_exhaustive()
    }
}

/// Starts the emulator on `listener` (bind `127.0.0.1:0` for a free port), loading the state file
/// if it exists. Transitions that were in flight complete at their original wall-clock deadline.
pub async fn start(
    listener: tokio::net::TcpListener,
    account: Account,
    opts: AsmOptions,
) -> Result<AsmEmulator, AsmError> {
    check_account(&account)?;
    check_faults(&opts.faults)?;
    let local_addr =
        listener.local_addr().map_err(|e| AsmError::io("reading the listener's address", e))?;
    let model = persist::load(&opts.state_file)?;
    let (snapshots, _) = watch::channel(Arc::new(AsmSnapshot::new(&model, &account.clusters)));
    let shared = Arc::new(server::Shared {
        verifier: auth::Verifier::new(
            account.access_key_id.clone(),
            account.access_key_secret.clone(),
        ),
        account,
        state_file: opts.state_file,
        transition_delay: opts.transition_delay,
        faults: Mutex::new(opts.faults),
        upgrade_failure: Mutex::new(None),
        outages: Mutex::new(std::collections::BTreeSet::new()),
        model: Mutex::new(model),
        snapshots,
        mesh_apis: meshapi::MeshApis::new(opts.mesh_api_dir),
    });
    shared.settle_mesh_apis().await;
    let (stop, stop_rx) = watch::channel(false);
    let mut server_stop = stop_rx.clone();
    let app = server::router(shared.clone());
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = server_stop.wait_for(|stopped| *stopped).await;
            })
            .await
    });
    let transitions = tokio::spawn(server::run_transitions(shared.clone(), stop_rx.clone()));
    let mesh_apis = tokio::spawn(server::run_mesh_apis(shared.clone(), stop_rx));
    Ok(AsmEmulator {
        shared,
        local_addr,
        stop,
        server: Some(server),
        transitions: Some(transitions),
        mesh_apis: Some(mesh_apis),
    })
}

impl AsmEmulator {
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// `http://127.0.0.1:PORT`, for `sandbox.json`'s `asm.endpoint`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.local_addr)
    }

    pub fn account(&self) -> &Account {
        &self.shared.account
    }

    pub fn faults(&self) -> FaultSettings {
        self.shared.fault_settings()
    }

    /// Changes the injected faults; they apply to the next request.
    pub fn set_faults(&self, faults: FaultSettings) -> Result<(), AsmError> {
        check_faults(&faults)?;
        *lock(&self.shared.faults) = faults;
        Ok(())
    }

    /// Makes upgrades fail (`None`: succeed again): an upgrade in flight, or a later one, ends in
    /// `upgrading_failed` on its old version with the failure's message as `ErrorMessage`. Decided
    /// when the upgrade would complete, so it can be set mid-upgrade.
    pub fn set_upgrade_failure(&self, failure: Option<UpgradeFailure>) {
        *lock(&self.shared.upgrade_failure) = failure;
    }

    /// The upgrade failure [`AsmEmulator::set_upgrade_failure`] set, if any.
    pub fn upgrade_failure(&self) -> Option<UpgradeFailure> {
        lock(&self.shared.upgrade_failure).clone()
    }

    /// Takes a control plane down (a mesh id, or a region id): every call about it answers
    /// `ServiceUnavailable` until [`AsmEmulator::restore`], and the mesh's control-plane API server
    /// refuses connections (switched in the background at once; [`AsmEmulator::settle`] waits for
    /// it). Data planes keep their last configuration.
    pub fn outage(&self, target: &str) {
        lock(&self.shared.outages).insert(target.to_owned());
        self.shared.mesh_apis.wake.notify_one();
    }

    /// Ends an outage (`None`: all of them); the API servers serve again likewise.
    pub fn restore(&self, target: Option<&str>) {
        {
            let mut o = lock(&self.shared.outages);
            match target {
                Some(t) => {
                    o.remove(t);
                }
                None => o.clear(),
            }
        }
        self.shared.mesh_apis.wake.notify_one();
    }

    /// Waits until every mesh's control-plane API server is in the state the meshes and the
    /// outages ask for: started for a new mesh, refusing connections during an outage, serving
    /// after a restore, gone with a deleted mesh.
    pub async fn settle(&self) {
        self.shared.settle_mesh_apis().await;
    }

    /// A mesh's control-plane Kubernetes API server (`None` for a mesh that does not exist, or
    /// whose server has not started yet — [`AsmEmulator::settle`] first): its URL, its kubeconfig,
    /// a handle on its objects and its traffic configuration.
    pub fn mesh_api(&self, mesh_id: &str) -> Option<MeshApiServer> {
        self.shared.mesh_apis.get(mesh_id)
    }

    /// Shuts the meshes' control-plane API servers down for good, saving their objects (what
    /// [`AsmEmulator::shutdown`] does, for an emulator that is shared).
    pub async fn shutdown_mesh_apis(&self) {
        self.shared.mesh_apis.shutdown().await;
    }

    /// Every mesh's control-plane API server, by mesh id.
    pub fn mesh_apis(&self) -> std::collections::BTreeMap<String, MeshApiServer> {
        self.shared.mesh_apis.all()
    }

    /// What is down now.
    pub fn outages(&self) -> Vec<String> {
        lock(&self.shared.outages).iter().cloned().collect()
    }

    /// The current state.
    pub fn snapshot(&self) -> Arc<AsmSnapshot> {
        self.shared.snapshots.borrow().clone()
    }

    /// A receiver that sees every change (the latest snapshot; `changed().await` wakes on the next).
    pub fn subscribe(&self) -> watch::Receiver<Arc<AsmSnapshot>> {
        self.shared.snapshots.subscribe()
    }

    /// Stops accepting requests, lets requests in flight finish (up to 5 s), stops the
    /// transition task and the meshes' API servers. The state file and the meshes' state
    /// directories hold everything.
    pub async fn shutdown(mut self) -> Result<(), AsmError> {
        let _ = self.stop.send(true);
        if let Some(t) = self.transitions.take() {
            let _ = t.await;
        }
        if let Some(t) = self.mesh_apis.take() {
            let _ = t.await;
        }
        self.shared.mesh_apis.shutdown().await;
        if let Some(mut s) = self.server.take() {
            match tokio::time::timeout(Duration::from_secs(5), &mut s).await {
                Ok(Ok(result)) => result.map_err(|e| AsmError::io("serving", e))?,
                Ok(Err(_)) => {}
                Err(_) => s.abort(),
            }
        }
        Ok(())
    }
}

impl Drop for AsmEmulator {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        if let Some(s) = self.server.take() {
            s.abort();
        }
        if let Some(t) = self.transitions.take() {
            t.abort();
        }
        if let Some(t) = self.mesh_apis.take() {
            t.abort();
        }
        // The meshes' API servers save their objects as they change; stop them in the background.
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            let shared = Arc::clone(&self.shared);
            rt.spawn(async move { shared.mesh_apis.shutdown().await });
        }
    }
}

fn check_account(account: &Account) -> Result<(), AsmError> {
    if account.access_key_id.is_empty() || account.access_key_secret.is_empty() {
        return Err(AsmError::Options("the account needs an access key id and secret".into()));
    }
    let mut ids: Vec<&str> = account.clusters.iter().map(|c| c.id.as_str()).collect();
    ids.sort_unstable();
    if let Some(w) = ids.windows(2).find(|w| w[0] == w[1]) {
        return Err(AsmError::Options(format!("cluster id {} appears twice", w[0])));
    }
    Ok(())
}

fn check_faults(f: &FaultSettings) -> Result<(), AsmError> {
    for (name, rate) in
        [("throttle_rate", f.throttle_rate), ("server_error_rate", f.server_error_rate)]
    {
        if !(0.0..=1.0).contains(&rate) {
            return Err(AsmError::Options(format!("{name} must be between 0 and 1, not {rate}")));
        }
    }
    Ok(())
}
