//! The HTTP side: one axum fallback handler for the RPC endpoint `/` (GET with query parameters,
//! POST with a form body and query parameters), the order of checks, and the background tasks that
//! complete transitions and keep the meshes' API servers in step with the model and the outages.
//!
//! Order of checks: path and method → action and version (`InvalidVersion`,
//! `InvalidAction.NotFound`) → signature → injected latency and faults (decided before the action
//! runs, so a faulted call has no effect) → the meshes' API servers brought in step (so an action
//! sees the server of a mesh created a moment ago) → the action. Every answer carries `RequestId`,
//! in the body and in the `x-acs-request-id` header.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use meshform_core::sync::lock;
use tokio::sync::watch;

use super::actions::{self, Body, Ctx, Handler};
use super::auth::{Scheme, Verifier, WireRequest};
use super::errors::ApiError;
use super::faults::{self, FaultSettings};
use super::meshapi::MeshApis;
use super::model::{AsmModel, AsmSnapshot, UpgradeFailure};
use super::params::Params;
use super::{persist, Account};

/// The API version the emulator speaks.
pub(crate) const API_VERSION: &str = "2020-01-11";

/// What the handlers and the transition task share.
pub(crate) struct Shared {
    pub account: Account,
    pub state_file: PathBuf,
    pub transition_delay: Duration,
    pub faults: Mutex<FaultSettings>,
    /// Upgrades that fail when they would complete ([`super::AsmEmulator::set_upgrade_failure`]).
    pub upgrade_failure: Mutex<Option<UpgradeFailure>>,
    /// Meshes (by id) and regions whose control plane is down (`meshform sandbox outage`).
    pub outages: Mutex<std::collections::BTreeSet<String>>,
    pub model: Mutex<AsmModel>,
    pub snapshots: watch::Sender<Arc<AsmSnapshot>>,
    pub verifier: Verifier,
    pub mesh_apis: MeshApis,
}

impl Shared {
    pub fn lock_model(&self) -> MutexGuard<'_, AsmModel> {
        lock(&self.model)
    }

    /// What is down among what a request names: its mesh, or its region (given, or the mesh's).
    fn outage_for(&self, params: &Params) -> Option<String> {
        let outages = lock(&self.outages);
        if outages.is_empty() {
            return None;
        }
        if let Some(id) = params.get("ServiceMeshId") {
            if outages.contains(id) {
                return Some(format!("service mesh {id}"));
            }
            let region = self.lock_model().meshes.get(id).map(|m| m.region_id.clone());
            if let Some(r) = region.filter(|r| outages.contains(r)) {
                return Some(format!("region {r}"));
            }
        }
        params.get("RegionId").filter(|r| outages.contains(*r)).map(|r| format!("region {r}"))
    }

    pub fn fault_settings(&self) -> FaultSettings {
        lock(&self.faults).clone()
    }

    /// Brings the meshes' API servers in step with the latest model and the outages.
    pub async fn settle_mesh_apis(&self) {
        let snapshot = self.snapshots.borrow().clone();
        let outages = lock(&self.outages).clone();
        self.mesh_apis.reconcile(&snapshot.meshes, &outages).await;
    }

    /// Persists `next` as the new model and publishes it. On failure nothing changes.
    fn commit(&self, current: &mut AsmModel, mut next: AsmModel) -> Result<(), ApiError> {
        next.revision = current.revision + 1;
        persist::save(&self.state_file, &next)
            .map_err(|e| ApiError::internal_error(e.to_string()))?;
        *current = next;
        self.snapshots.send_replace(Arc::new(AsmSnapshot::new(current, &self.account.clusters)));
        self.mesh_apis.wake.notify_one();
        Ok(())
    }

    /// Completes the transitions due now.
    pub fn advance(&self, current: &mut AsmModel, stuck_initial: bool) -> Result<(), ApiError> {
        let now = now_unix_ms();
        let due = |m: &super::Mesh| m.transition.is_some_and(|t| t.due_unix_ms <= now);
        if !current.meshes.values().any(due) {
            return Ok(());
        }
        let mut next = current.clone();
        let failure = lock(&self.upgrade_failure).clone();
        if next.advance(now, stuck_initial, failure.as_ref()) {
            self.commit(current, next)?;
        }
        Ok(())
    }
}

pub(crate) fn now_unix_ms() -> i64 {
    let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
}

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new().fallback(handle).with_state(shared)
}

/// Completes transitions in the background, so observers see `running` without anyone polling.
pub(crate) async fn run_transitions(shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let period =
        (shared.transition_delay / 5).clamp(Duration::from_millis(10), Duration::from_millis(100));
    loop {
        tokio::select! {
            _ = tokio::time::sleep(period) => {}
            _ = stop.changed() => return,
        }
        let stuck = shared.fault_settings().stuck_initial;
        let mut model = shared.lock_model();
        // A failed save is retried at the next tick.
        let _ = shared.advance(&mut model, stuck);
    }
}

/// Keeps the meshes' API servers in step after every change of the model or the outages.
pub(crate) async fn run_mesh_apis(shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = shared.mesh_apis.wake.notified() => {}
            _ = stop.changed() => return,
        }
        shared.settle_mesh_apis().await;
    }
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request_id = uuid::Uuid::new_v4().hyphenated().to_string().to_ascii_uppercase();
    match serve(&shared, method, &uri, &headers, body).await {
        Ok(fields) => {
            let mut out = Body::new();
            out.insert("RequestId".to_owned(), request_id.clone().into());
            out.extend(fields);
            json_response(StatusCode::OK, &request_id, &serde_json::Value::Object(out), &[])
        }
        Err(e) => {
            let status =
                StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            json_response(status, &request_id, &e.body(&request_id), &e.headers)
        }
    }
}

fn json_response(
    status: StatusCode,
    request_id: &str,
    body: &serde_json::Value,
    extra: &[(&'static str, String)],
) -> Response {
    let mut response = (status, body.to_string()).into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json;charset=utf-8"));
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert(HeaderName::from_static("x-acs-request-id"), v);
    }
    for (name, value) in extra {
        if let Ok(v) = HeaderValue::from_str(value) {
            h.insert(HeaderName::from_static(name), v);
        }
    }
    response
}

async fn serve(
    shared: &Shared,
    method: Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Body, ApiError> {
    if method != Method::GET && method != Method::POST {
        return Err(ApiError::unsupported_method(method.as_str()));
    }
    let req = wire_request(method, uri, headers, body);
    if req.path != "/" {
        return Err(ApiError::unknown_action(&req.path));
    }
    let scheme = Scheme::of(&req)?;
    let (action, version) = match scheme {
        Scheme::V3 => (req.header("x-acs-action"), req.header("x-acs-version")),
        Scheme::V2 => (req.param("Action"), req.param("Version")),
    };
    let action = action.ok_or_else(|| ApiError::missing_parameter("Action"))?;
    let version = version.ok_or_else(|| ApiError::missing_parameter("Version"))?;
    if version != API_VERSION {
        return Err(ApiError::invalid_version(version));
    }
    let handler = actions::handler(action).ok_or_else(|| ApiError::unknown_action(action))?;
    shared.verifier.verify(&req, scheme, now_unix_ms())?;

    let faults = shared.fault_settings();
    if !faults.latency.is_zero() {
        tokio::time::sleep(faults.latency).await;
    }
    if let Some(fault) = faults::decide(&faults, (faults::draw(), faults::draw())) {
        return Err(fault);
    }
    let params = Params::from_request(&req);
    if let Some(down) = shared.outage_for(&params) {
        return Err(ApiError::new(503, "ServiceUnavailable", format!("The control plane of {down} is unavailable (an outage of the sandbox). Please try again later.")));
    }
    shared.settle_mesh_apis().await;
    run_action(shared, handler, &params, faults.stuck_initial)
}

/// Runs one action under the model lock (never held across an await).
fn run_action(
    shared: &Shared,
    handler: Handler,
    params: &Params,
    stuck_initial: bool,
) -> Result<Body, ApiError> {
    let mut model = shared.lock_model();
    shared.advance(&mut model, stuck_initial)?;
    let cx = Ctx {
        account: &shared.account,
        now_unix_ms: now_unix_ms(),
        transition_delay: shared.transition_delay,
        mesh_apis: &shared.mesh_apis,
    };
    match handler {
        Handler::Read(f) => f(&cx, &model, params),
        Handler::Write(f) => {
            let mut next = model.clone();
            let out = f(&cx, &mut next, params)?;
            if next != *model {
                shared.commit(&mut model, next)?;
            }
            Ok(out)
        }
    }
}

fn wire_request(method: Method, uri: &Uri, headers: &HeaderMap, body: Bytes) -> WireRequest {
    let headers: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| {
            (k.as_str().to_ascii_lowercase(), String::from_utf8_lossy(v.as_bytes()).into_owned())
        })
        .collect();
    let is_form = headers.iter().any(|(k, v)| {
        k == "content-type"
            && v.trim().to_ascii_lowercase().starts_with("application/x-www-form-urlencoded")
    });
    let form = if is_form {
        meshform_acs::parse_form(&String::from_utf8_lossy(&body))
    } else {
        Vec::new()
    };
    WireRequest {
        method: method.as_str().to_owned(),
        path: uri.path().to_owned(),
        query: uri.query().map(meshform_acs::parse_form).unwrap_or_default(),
        form,
        headers,
        body: body.to_vec(),
    }
}
