//! Emulated Kubernetes API servers: one HTTPS server per emulated cluster, speaking the real REST
//! API closely enough that kubectl and kube-rs work against it unchanged (the contract:
//! `shared/reference/kubernetes-wire.md`).
//!
//! - [`start`] serves a cluster on a listener; [`KubeApiServer`] gives its URL, its kubeconfig and
//!   a [`ClusterHandle`] with the hooks other sandbox parts use (read objects, write them as a
//!   controller, follow changes, run commands in pods).
//! - [`Availability`] takes the API server down (connections refused, as from a stopped
//!   kube-apiserver) and brings it back on the same address with the same objects.
//! - [`KindSet`] says what a server offers: a cluster's kinds, or those of a mesh's control plane
//!   (ASM's per-mesh API server: namespaces and Istio's kinds, started by `asm`).
//! - [`ExecHandler`] is what runs inside emulated containers; [`DefaultExecHandler`] is the
//!   built-in command set, and [`run_sh`] runs `sh -c` scripts for any handler.
//!
//! Inside: `server` (connections, TLS, auth, routing) → `handlers` (REST verbs) → `objects`
//! (the write pipeline: `defaults`, `injection`, `managed`/`apply`/`fields` for managedFields and
//! server-side apply, `patch`/`strategic` for patches) → `store` (objects, resourceVersions, the
//! change feed) ← `controllers` (deployments, replica sets, kubelet, endpoints, namespaces, GC).
//! `watch`, `table`, `discovery`, `openapi`, `exec` and `subresources` serve what kubectl asks for;
//! `persist` and `tls` keep the state directory; `temporary`: the expiring tokens of temporary
//! kubeconfigs (ACK's `TemporaryDurationMinutes`); `requests`: how many requests the server
//! answered, by verb and resource ([`ClusterHandle::requests`]).

mod apply;
mod cluster;
mod commands;
mod controllers;
mod defaults;
mod deletion;
mod discovery;
mod exec;
mod fields;
mod handle;
mod handlers;
mod http;
mod injection;
mod kinds;
mod managed;
mod meta;
mod objects;
mod openapi;
mod patch;
mod persist;
mod requests;
mod router;
mod selectors;
mod server;
mod shell;
mod status;
mod store;
mod strategic;
mod subresources;
mod table;
mod temporary;
mod tls;
mod watch;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub use cluster::Timing;
pub use commands::{
    default_logs, run_builtin, DefaultExecHandler, ExecHandler, ExecOutput, ExecRequest,
};
pub use handle::{ChangeFeed, ChangeKind, ClusterHandle, FeedError, ObjectChange};
pub use injection::{INJECTION_LABEL, INJECTOR_CONFIG_MAP};
pub use kinds::{Gvk, KindSet};
pub use requests::{RequestCounts, RequestKind};
pub use server::Availability;
pub use shell::run_sh;
pub use status::ApiError;
pub use temporary::{check_temporary_token, issue_temporary_token, TemporaryToken};

/// The Kubernetes version the emulated API servers report (`/version`'s `gitVersion`).
pub const KUBERNETES_VERSION: &str = discovery::GIT_VERSION;

/// The sidecar image injected into pods when nothing else is configured (ASM's proxy).
pub const DEFAULT_SIDECAR_IMAGE: &str =
    "registry-cn-hangzhou.ack.aliyuncs.com/acs/proxyv2:v1.22.6.71-g7d67a80b-aliyun";

/// Why a cluster could not start or save.
#[derive(Debug, thiserror::Error)]
pub enum KubeError {
    #[error("cluster {cluster}: cannot use the state directory {path}: {source}")]
    StateDir { cluster: String, path: PathBuf, source: std::io::Error },
    #[error("cluster {cluster}: the saved state in {path} cannot be read: {reason}; move the file away to start empty")]
    CorruptState { cluster: String, path: PathBuf, reason: String },
    #[error("cluster {cluster}: setting up TLS failed: {reason}; delete ca.crt and ca.key in the state directory to make a new CA")]
    Tls { cluster: String, reason: String },
    #[error("cluster {cluster}: the listener has no local address: {source}")]
    Listener { cluster: String, source: std::io::Error },
    #[error("cluster {cluster}: writing {path} failed: {source}")]
    Write { cluster: String, path: PathBuf, source: std::io::Error },
    #[error("cluster {cluster} is already down")]
    AlreadyDown { cluster: String },
    #[error("cluster {cluster} is not down")]
    NotDown { cluster: String },
    #[error("cluster {cluster}: its API server has shut down")]
    Stopped { cluster: String },
    #[error("cluster {cluster}: cannot listen on {address} again: {source}; restart the sandbox (`meshform sandbox down`, then `up`) to serve it on a new port")]
    Relisten { cluster: String, address: SocketAddr, source: std::io::Error },
}

/// How to run one emulated cluster.
#[derive(Clone)]
pub struct ClusterOptions {
    /// The cluster's name (`cluster-1`): the kubeconfig's cluster, user and context are named after it.
    pub name: String,
    /// Where the CA, the token and the objects are kept across restarts.
    pub state_dir: PathBuf,
    /// Serve HTTPS (the default) or plain HTTP.
    pub tls: bool,
    /// Delays of the emulated controllers.
    pub timing: Timing,
    /// The image of injected `istio-proxy` containers.
    pub sidecar_image: String,
    /// What runs commands in pods; [`DefaultExecHandler`] when `None`.
    pub exec_handler: Option<Arc<dyn ExecHandler>>,
    /// Which kinds are served: a cluster's, or a mesh control plane's.
    pub kinds: KindSet,
}

impl std::fmt::Debug for ClusterOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterOptions")
            .field("name", &self.name)
            .field("state_dir", &self.state_dir)
            .field("tls", &self.tls)
            .field("timing", &self.timing)
            .field("kinds", &self.kinds)
            .finish_non_exhaustive()
    }
}

impl ClusterOptions {
    /// Options with the defaults: TLS on, default timing, the ASM sidecar image, the default exec handler.
    pub fn new(name: impl Into<String>, state_dir: impl Into<PathBuf>) -> Self {
        ClusterOptions {
            name: name.into(),
            state_dir: state_dir.into(),
            tls: true,
            timing: Timing::default(),
            sidecar_image: DEFAULT_SIDECAR_IMAGE.to_string(),
            exec_handler: None,
            kinds: KindSet::Cluster,
        }
    }
}

/// A running emulated API server.
pub struct KubeApiServer {
    name: String,
    address: SocketAddr,
    tls: bool,
    ca_pem: String,
    token: String,
    state_dir: PathBuf,
    cluster: Arc<cluster::Cluster>,
    availability: Availability,
    tasks: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for KubeApiServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeApiServer")
            .field("name", &self.name)
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

/// Start serving a cluster on `listener`: load (or create) its state in `opts.state_dir`, make
/// sure the system namespaces exist, and run the controllers and the persister.
pub async fn start(
    listener: TcpListener,
    opts: ClusterOptions,
) -> Result<KubeApiServer, KubeError> {
    let name = opts.name.clone();
    let dir = opts.state_dir.clone();
    std::fs::create_dir_all(&dir).map_err(|source| KubeError::StateDir {
        cluster: name.clone(),
        path: dir.clone(),
        source,
    })?;
    let address = listener
        .local_addr()
        .map_err(|source| KubeError::Listener { cluster: name.clone(), source })?;
    let identity = tls::load_or_create(&dir, &name)
        .map_err(|reason| KubeError::Tls { cluster: name.clone(), reason })?;
    let (store, loaded) = persist::load(&dir).map_err(|reason| KubeError::CorruptState {
        cluster: name.clone(),
        path: dir.join(persist::OBJECTS),
        reason,
    })?;
    let catalogue = opts.kinds.restrict(loaded);
    let exec: Arc<dyn ExecHandler> =
        opts.exec_handler.clone().unwrap_or_else(|| Arc::new(DefaultExecHandler));
    let cluster = Arc::new(cluster::Cluster::new(
        name.clone(),
        opts.timing,
        opts.sidecar_image.clone(),
        store,
        catalogue,
        exec,
    ));
    let handle = ClusterHandle::new(cluster.clone());
    for ns in opts.kinds.system_namespaces() {
        // Only fails on an invariant breach; the server still serves.
        let _ = handle.ensure_namespace(ns);
    }
    let kubernetes = json!({"apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "kubernetes", "namespace": "default", "labels": {"component": "apiserver", "provider": "kubernetes"}},
        "spec": {"clusterIP": "10.96.0.1", "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}]}});
    if handle.get(&Gvk::new("", "v1", "Service"), Some("default"), "kubernetes").is_none() {
        let _ = handle.apply("kube-apiserver", &kubernetes);
    }
    let acceptor =
        opts.tls.then(|| tokio_rustls::TlsAcceptor::from(identity.server_config.clone()));
    let shared =
        server::Shared { cluster: cluster.clone(), token: identity.token.clone(), address };
    let availability = Availability::serve(listener, acceptor, shared);
    let tasks = vec![
        tokio::spawn(controllers::run(cluster.clone())),
        tokio::spawn(persist::run(cluster.clone(), dir.clone())),
    ];
    cluster.changed();
    Ok(KubeApiServer {
        name,
        address,
        tls: opts.tls,
        ca_pem: identity.ca_pem,
        token: identity.token,
        state_dir: dir,
        cluster,
        availability,
        tasks,
    })
}

impl KubeApiServer {
    /// The cluster's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The address served.
    pub fn local_addr(&self) -> SocketAddr {
        self.address
    }

    /// `https://127.0.0.1:PORT` (`http://…` without TLS).
    pub fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.address)
    }

    /// The CA certificate (PEM) clients must trust.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The bearer token clients must present.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// Hooks on the running cluster.
    pub fn handle(&self) -> ClusterHandle {
        ClusterHandle::new(self.cluster.clone())
    }

    /// A kubeconfig whose cluster, user and context are named after the cluster, with the CA
    /// inline and the bearer token.
    pub fn kubeconfig_yaml(&self) -> String {
        let ca = base64::engine::general_purpose::STANDARD.encode(self.ca_pem.as_bytes());
        let name = yaml_string(&self.name);
        let ca_line = if self.tls {
            format!("    certificate-authority-data: {ca}\n")
        } else {
            String::new()
        };
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: {name}\n  cluster:\n    server: {url}\n{ca_line}\
             users:\n- name: {name}\n  user:\n    token: {token}\n\
             contexts:\n- name: {name}\n  context:\n    cluster: {name}\n    user: {name}\n    namespace: default\n\
             current-context: {name}\npreferences: {{}}\n",
            url = self.url(),
            token = self.token,
        )
    }

    /// Write the kubeconfig to `path` (atomically, readable by the owner only).
    pub fn write_kubeconfig(&self, path: &Path) -> Result<(), KubeError> {
        let werr = |source| KubeError::Write {
            cluster: self.name.clone(),
            path: path.to_path_buf(),
            source,
        };
        persist::atomic_write(path, self.kubeconfig_yaml().as_bytes(), Some(0o600)).map_err(werr)
    }

    /// The switch of an outage of this cluster: [`Availability::take_down`] makes the API server
    /// refuse connections, [`Availability::bring_up`] serves it again on the same address.
    pub fn availability(&self) -> Availability {
        self.availability.clone()
    }

    /// Stop serving, stop the controllers and save the state.
    pub async fn shutdown(self) -> Result<(), KubeError> {
        self.cluster.stop.send_replace(true);
        self.availability.close().await;
        for t in self.tasks {
            // A task that panicked has nothing left to clean up.
            let _ = t.await;
        }
        persist::save(&self.cluster, &self.state_dir).map_err(|source| KubeError::Write {
            cluster: self.name.clone(),
            path: self.state_dir.join(persist::OBJECTS),
            source,
        })
    }
}

/// A YAML scalar for a name: plain when safe, else double-quoted JSON.
fn yaml_string(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if plain {
        s.to_string()
    } else {
        serde_json::to_string(s).unwrap_or_default()
    }
}
