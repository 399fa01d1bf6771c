//! The sandbox's admin endpoint on loopback: `GET /status` (what the emulated cloud holds and what
//! is down, for `meshform sandbox status --json`; per workload its pods and their proxy versions),
//! `POST /faults` (ASM fault injection at run time, a failing upgrade included), `POST /outage`
//! and `POST /restore` (drills: [`outage`]). Refusals answer `{"error": …, "help": …}` with a 4xx
//! status.

pub mod outage;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;

use crate::asm::{AsmEmulator, AsmSnapshot, FaultSettings, UpgradeFailure};
use crate::dataplane::{proxy_version, ClusterView};
use crate::kube::Gvk;
use crate::launch::Description;
use outage::{OutageError, OutageTarget, Outages};

#[derive(Clone)]
struct AdminState {
    asm: Arc<AsmEmulator>,
    clusters: Vec<ClusterView>,
    description: Description,
    /// Held through each outage or restore: one at a time, so that a restore never interleaves with
    /// a region going down.
    switching: Arc<tokio::sync::Mutex<()>>,
}

/// Serves the admin endpoint until the task is aborted.
pub fn serve(
    listener: tokio::net::TcpListener,
    asm: Arc<AsmEmulator>,
    clusters: Vec<ClusterView>,
    description: Description,
) -> tokio::task::JoinHandle<()> {
    let app = Router::new()
        .route("/status", get(status))
        .route("/faults", post(faults))
        .route("/outage", post(outage))
        .route("/restore", post(restore))
        .with_state(AdminState { asm, clusters, description, switching: Arc::default() });
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    })
}

/// Per cluster: its namespaces, the version of the mesh that manages it, and its workloads
/// (Deployments with replica counts, and their pods with the version of their sidecars).
fn cluster_content(c: &ClusterView, snap: &AsmSnapshot) -> serde_json::Value {
    let namespaces: Vec<serde_json::Value> = c
        .handle
        .list(&Gvk::new("", "v1", "Namespace"), None, None)
        .unwrap_or_default()
        .iter()
        .map(|n| {
            serde_json::json!({
                "name": n["metadata"]["name"],
                "injection": n["metadata"]["labels"]["istio-injection"].as_str() == Some("enabled"),
            })
        })
        .collect();
    let pods = c.handle.list(&Gvk::new("", "v1", "Pod"), None, None).unwrap_or_default();
    let workloads: Vec<serde_json::Value> = c
        .handle
        .list(&Gvk::new("apps", "v1", "Deployment"), None, None)
        .unwrap_or_default()
        .iter()
        .map(|d| {
            serde_json::json!({
                "namespace": d["metadata"]["namespace"],
                "name": d["metadata"]["name"],
                "replicas": d["spec"]["replicas"],
                "ready": d["status"]["readyReplicas"].as_i64().unwrap_or(0),
                "pods": pods_of(d, &pods),
            })
        })
        .collect();
    let mesh_version = snap.managing_mesh(&c.id).map(|m| m.istio_version.clone());
    serde_json::json!({
        "namespaces": namespaces,
        "mesh_version": mesh_version,
        "workloads": workloads,
    })
}

/// A Deployment's pods (those of its namespace its selector's `matchLabels` select, not being
/// deleted), by name: whether each is ready and its sidecar's version (`null`: no sidecar).
fn pods_of(deployment: &serde_json::Value, pods: &[serde_json::Value]) -> Vec<serde_json::Value> {
    let ns = &deployment["metadata"]["namespace"];
    let Some(selector) = deployment["spec"]["selector"]["matchLabels"].as_object() else {
        return Vec::new();
    };
    let mut mine: Vec<serde_json::Value> = pods
        .iter()
        .filter(|p| {
            p["metadata"]["namespace"] == *ns
                && p["metadata"]["deletionTimestamp"].is_null()
                && selector.iter().all(|(k, v)| p["metadata"]["labels"][k] == *v)
        })
        .map(|p| {
            let ready = p["status"]["conditions"]
                .as_array()
                .is_some_and(|cs| cs.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"));
            serde_json::json!({
                "name": p["metadata"]["name"],
                "ready": ready,
                "proxy_version": proxy_version(p),
            })
        })
        .collect();
    mine.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    mine
}

/// The description plus the live content: meshes with their members, per cluster what it holds.
pub fn status_document(
    asm: &AsmEmulator,
    clusters: &[ClusterView],
    description: &Description,
) -> serde_json::Value {
    let snap = asm.snapshot();
    let meshes: Vec<serde_json::Value> = snap
        .meshes
        .values()
        .map(|m| {
            serde_json::json!({
                "id": m.id,
                "name": m.name,
                "region": m.region_id,
                "state": m.state.as_api_str(),
                "istio_version": m.istio_version,
                "members": m.members.iter().map(|c| serde_json::json!({
                    "cluster_id": c.cluster_id,
                    "discovery_only": c.discovery_only,
                })).collect::<Vec<_>>(),
                "networks": m.networks.iter().map(|(k, n)| (k.clone(), serde_json::json!({
                    "network": n.network,
                    "cross_cluster_gateway": n.enable_gateway,
                }))).collect::<serde_json::Map<_, _>>(),
            })
        })
        .collect();
    let mut doc = serde_json::to_value(description).unwrap_or_default();
    if let Some(a) = doc.get_mut("asm").and_then(|a| a.as_object_mut()) {
        a.insert("meshes".into(), serde_json::Value::Array(meshes));
        a.insert("faults".into(), faults_json(&asm.faults(), asm.upgrade_failure().as_ref()));
        a.insert("outages".into(), serde_json::json!(asm.outages()));
    }
    let down = Outages { asm, clusters }.down();
    if let Some(obj) = doc.as_object_mut() {
        obj.insert("outages".into(), serde_json::to_value(&down).unwrap_or_default());
    }
    if let Some(list) = doc.get_mut("clusters").and_then(|c| c.as_array_mut()) {
        for entry in list {
            let id = entry.get("id").and_then(|v| v.as_str()).unwrap_or("").to_owned();
            if let (Some(view), Some(obj)) =
                (clusters.iter().find(|c| c.id == id), entry.as_object_mut())
            {
                if let serde_json::Value::Object(extra) = cluster_content(view, &snap) {
                    obj.extend(extra);
                }
                obj.insert("down".into(), serde_json::Value::Bool(view.is_down()));
            }
        }
    }
    doc
}

fn faults_json(f: &FaultSettings, upgrade: Option<&UpgradeFailure>) -> serde_json::Value {
    serde_json::json!({
        "throttle_rate": f.throttle_rate,
        "server_error_rate": f.server_error_rate,
        "latency_ms": f.latency.as_millis() as u64,
        "stuck_initial": f.stuck_initial,
        "upgrade_failure": upgrade.map(|u| serde_json::json!({
            "mesh_id": u.mesh_id,
            "message": u.message,
        })),
    })
}

async fn status(
    State(s): State<AdminState>,
) -> ([(axum::http::HeaderName, &'static str); 1], String) {
    let doc = status_document(&s.asm, &s.clusters, &s.description);
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        serde_json::to_string_pretty(&doc).unwrap_or_default(),
    )
}

/// The whole set of faults: what a request leaves out is off.
#[derive(serde::Deserialize)]
struct FaultRequest {
    #[serde(default)]
    throttle_rate: f64,
    #[serde(default)]
    server_error_rate: f64,
    #[serde(default)]
    latency_ms: u64,
    #[serde(default)]
    stuck_initial: bool,
    /// Upgrades fail ([`AsmEmulator::set_upgrade_failure`]).
    #[serde(default)]
    upgrade_failure: Option<UpgradeFailureRequest>,
}

/// `{"mesh": NAME or ID, "message": TEXT}`, both optional: every mesh's upgrades fail when no
/// mesh is named.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct UpgradeFailureRequest {
    #[serde(default)]
    mesh: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

/// What an upgrade failure without a message reports.
const DEFAULT_UPGRADE_FAILURE: &str = "injected upgrade failure";

impl UpgradeFailureRequest {
    /// The failure, its mesh named by id or by name (a name must name one mesh).
    fn resolve(self, snap: &AsmSnapshot) -> Result<UpgradeFailure, (StatusCode, String)> {
        let mesh_id = match self.mesh {
            None => None,
            Some(m) if snap.meshes.contains_key(&m) => Some(m),
            Some(m) => {
                let named: Vec<&String> =
                    snap.meshes.values().filter(|x| x.name == m).map(|x| &x.id).collect();
                match named.as_slice() {
                    [id] => Some((*id).clone()),
                    [] => {
                        return Err(refused(
                            404,
                            &format!("no mesh is named {m:?}"),
                            "name a mesh by its name or id (`meshform sandbox status` lists them), or none for all",
                        ))
                    }
                    _ => {
                        return Err(refused(
                            400,
                            &format!("{} meshes are named {m:?}", named.len()),
                            "name the mesh by its id",
                        ))
                    }
                }
            }
        };
        let message =
            self.message.filter(|m| !m.trim().is_empty()).unwrap_or(DEFAULT_UPGRADE_FAILURE.into());
        Ok(UpgradeFailure { mesh_id, message })
    }
}

async fn faults(State(s): State<AdminState>, body: String) -> (StatusCode, String) {
    let req: FaultRequest = match serde_json::from_str(&body) {
        Ok(r) => r,
        Err(e) => return (StatusCode::BAD_REQUEST, format!("invalid fault settings: {e}")),
    };
    let upgrade_failure = match req.upgrade_failure.map(|u| u.resolve(&s.asm.snapshot())) {
        None => None,
        Some(Ok(f)) => Some(f),
        Some(Err(refusal)) => return refusal,
    };
    let settings = FaultSettings {
        throttle_rate: req.throttle_rate,
        server_error_rate: req.server_error_rate,
        latency: Duration::from_millis(req.latency_ms),
        stuck_initial: req.stuck_initial,
    };
    match s.asm.set_faults(settings) {
        Ok(()) => {
            s.asm.set_upgrade_failure(upgrade_failure);
            (StatusCode::OK, "ok".into())
        }
        Err(e) => (StatusCode::BAD_REQUEST, e.to_string()),
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct OutageRequest {
    /// A mesh name or id.
    #[serde(default)]
    mesh: Option<String>,
    /// A region id.
    #[serde(default)]
    region: Option<String>,
    /// A cluster name or id.
    #[serde(default)]
    cluster: Option<String>,
}

impl OutageRequest {
    /// The one target named; `Ok(None)` when none is.
    fn target(self) -> Result<Option<OutageTarget>, String> {
        match (self.mesh, self.region, self.cluster) {
            (None, None, None) => Ok(None),
            (Some(m), None, None) => Ok(Some(OutageTarget::Mesh(m))),
            (None, Some(r), None) => Ok(Some(OutageTarget::Region(r))),
            (None, None, Some(c)) => Ok(Some(OutageTarget::Cluster(c))),
            _ => Err("give at most one of mesh, region and cluster".into()),
        }
    }
}

fn refused(status: u16, error: &str, help: &str) -> (StatusCode, String) {
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
        serde_json::json!({ "error": error, "help": help }).to_string(),
    )
}

fn outage_error(e: &OutageError) -> (StatusCode, String) {
    refused(e.status(), &e.to_string(), &e.help())
}

/// The target of an outage or restore request; an empty body names none.
fn parse_target(body: &str) -> Result<Option<OutageTarget>, (StatusCode, String)> {
    let req: OutageRequest = if body.trim().is_empty() {
        OutageRequest { mesh: None, region: None, cluster: None }
    } else {
        serde_json::from_str(body).map_err(|e| {
            refused(
                400,
                &format!("invalid outage request: {e}"),
                "send {\"cluster\": NAME}, {\"mesh\": NAME} or {\"region\": ID}",
            )
        })?
    };
    req.target().map_err(|e| refused(400, &e, "name one target"))
}

async fn outage(State(s): State<AdminState>, body: String) -> (StatusCode, String) {
    let target = match parse_target(&body) {
        Ok(Some(t)) => t,
        Ok(None) => {
            return refused(400, "nothing to take down", "give a cluster, a mesh or a region")
        }
        Err(r) => return r,
    };
    let _one_at_a_time = s.switching.lock().await;
    let outages = Outages { asm: &s.asm, clusters: &s.clusters };
    match outages.outage(&target).await {
        Ok(text) => (StatusCode::OK, text),
        Err(e) => outage_error(&e),
    }
}

async fn restore(State(s): State<AdminState>, body: String) -> (StatusCode, String) {
    let target = match parse_target(&body) {
        Ok(t) => t,
        Err(r) => return r,
    };
    let _one_at_a_time = s.switching.lock().await;
    let outages = Outages { asm: &s.asm, clusters: &s.clusters };
    match outages.restore(target.as_ref()).await {
        Ok(text) => (StatusCode::OK, text),
        Err(e) => outage_error(&e),
    }
}
