//! The sandbox's admin endpoint on loopback: `GET /status` (what the emulated cloud holds, for
//! `meshform sandbox status --json`), `POST /faults` (ASM fault injection at run time).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;

use crate::asm::{AsmEmulator, FaultSettings};
use crate::dataplane::ClusterView;
use crate::kube::Gvk;
use crate::launch::Description;

#[derive(Clone)]
struct AdminState {
    asm: Arc<AsmEmulator>,
    clusters: Vec<ClusterView>,
    description: Description,
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
        .with_state(AdminState { asm, clusters, description });
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    })
}

/// Per cluster: its namespaces and workloads (Deployments with replica counts, injected or not).
fn cluster_content(c: &ClusterView) -> serde_json::Value {
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
            })
        })
        .collect();
    serde_json::json!({ "namespaces": namespaces, "workloads": workloads })
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
        a.insert("faults".into(), faults_json(&asm.faults()));
        a.insert("outages".into(), serde_json::json!(asm.outages()));
    }
    if let Some(list) = doc.get_mut("clusters").and_then(|c| c.as_array_mut()) {
        for entry in list {
            let id = entry.get("id").and_then(|v| v.as_str()).unwrap_or("").to_owned();
            if let (Some(view), Some(obj)) =
                (clusters.iter().find(|c| c.id == id), entry.as_object_mut())
            {
                if let serde_json::Value::Object(extra) = cluster_content(view) {
                    obj.extend(extra);
                }
            }
        }
    }
    doc
}

fn faults_json(f: &FaultSettings) -> serde_json::Value {
    serde_json::json!({
        "throttle_rate": f.throttle_rate,
        "server_error_rate": f.server_error_rate,
        "latency_ms": f.latency.as_millis() as u64,
        "stuck_initial": f.stuck_initial,
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
}

async fn faults(State(s): State<AdminState>, body: String) -> (StatusCode, String) {
    let req: FaultRequest = match serde_json::from_str(&body) {
        Ok(r) => r,
        Err(e) => return (StatusCode::BAD_REQUEST, format!("invalid fault settings: {e}")),
    };
    let settings = FaultSettings {
        throttle_rate: req.throttle_rate,
        server_error_rate: req.server_error_rate,
        latency: Duration::from_millis(req.latency_ms),
        stuck_initial: req.stuck_initial,
    };
    match s.asm.set_faults(settings) {
        Ok(()) => (StatusCode::OK, "ok".into()),
        Err(e) => (StatusCode::BAD_REQUEST, e.to_string()),
    }
}

#[derive(serde::Deserialize)]
struct OutageRequest {
    /// A mesh name or id.
    #[serde(default)]
    mesh: Option<String>,
    /// A region id.
    #[serde(default)]
    region: Option<String>,
}

/// The mesh id a name or id designates.
fn mesh_id(asm: &AsmEmulator, name_or_id: &str) -> Option<String> {
    let snap = asm.snapshot();
    snap.meshes.values().find(|m| m.id == name_or_id || m.name == name_or_id).map(|m| m.id.clone())
}

async fn outage(State(s): State<AdminState>, body: String) -> (StatusCode, String) {
    let req: OutageRequest = match serde_json::from_str(&body) {
        Ok(r) => r,
        Err(e) => return (StatusCode::BAD_REQUEST, format!("invalid outage request: {e}")),
    };
    match (req.mesh, req.region) {
        (Some(m), None) => match mesh_id(&s.asm, &m) {
            Some(id) => {
                s.asm.outage(&id);
                (StatusCode::OK, format!("the control plane of mesh {m} ({id}) is down"))
            }
            None => (StatusCode::NOT_FOUND, format!("no mesh named {m}")),
        },
        (None, Some(r)) => {
            s.asm.outage(&r);
            (StatusCode::OK, format!("the ASM control planes of region {r} are down"))
        }
        _ => (StatusCode::BAD_REQUEST, "give exactly one of mesh and region".into()),
    }
}

async fn restore(State(s): State<AdminState>, body: String) -> (StatusCode, String) {
    let req: OutageRequest =
        serde_json::from_str(&body).unwrap_or(OutageRequest { mesh: None, region: None });
    match (req.mesh, req.region) {
        (Some(m), _) => {
            let id = mesh_id(&s.asm, &m).unwrap_or(m.clone());
            s.asm.restore(Some(&id));
            (StatusCode::OK, format!("mesh {m} restored"))
        }
        (None, Some(r)) => {
            s.asm.restore(Some(&r));
            (StatusCode::OK, format!("region {r} restored"))
        }
        (None, None) => {
            s.asm.restore(None);
            (StatusCode::OK, "every outage ended".into())
        }
    }
}
