//! The HTTP side of the CS emulator: one axum fallback handler, the order of checks, the three
//! routes, and ROA error bodies.
//!
//! Order of checks: method and path (`InvalidAction.NotFound`, 404) → `x-acs-version`
//! (`InvalidVersion`) → the V3 signature (a ROA API takes no V2 signature: `IncompleteSignature`)
//! → the action's parameters → the cluster (`ErrorClusterNotFound`, 404, also for a cluster of
//! another region when the request names a regional host). Every answer carries the request id in
//! `x-acs-request-id`; errors also in the body's `requestId`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use axum::Router;
use serde_json::{json, Value};

use super::render;
use super::{CsCluster, API_VERSION};
use crate::acs_api::{self, now_unix_ms};
use crate::asm::auth::{Scheme, Verifier, WireRequest};
use crate::kube::issue_temporary_token;

/// What the handler shares.
pub(crate) struct Shared {
    pub verifier: Verifier,
    pub clusters: Vec<CsCluster>,
}

/// An error answer: status, code and message (ROA body `{code, message, requestId, status}`).
#[derive(Debug)]
struct RoaError {
    status: u16,
    code: String,
    message: String,
}

impl RoaError {
    fn new(status: u16, code: &str, message: impl Into<String>) -> Self {
        RoaError { status, code: code.to_owned(), message: message.into() }
    }

    fn cluster_not_found(id: &str) -> Self {
        Self::new(404, "ErrorClusterNotFound", format!("cluster {id} not found"))
    }

    fn invalid_parameter(name: &str, message: impl Into<String>) -> Self {
        Self::new(
            400,
            "ErrorParamInvalid",
            format!("the parameter {name} is invalid: {}", message.into()),
        )
    }
}

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new().fallback(handle).with_state(shared)
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request_id = acs_api::request_id();
    let (status, body) = match serve(&shared, method, &uri, &headers, body) {
        Ok(v) => (StatusCode::OK, v),
        Err(e) => (
            StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            json!({"code": e.code, "message": e.message, "requestId": request_id, "status": e.status}),
        ),
    };
    acs_api::json_reply(status, &body, Some(&request_id))
}

/// What a request asks for.
enum Route<'a> {
    Detail(&'a str),
    List,
    UserConfig(&'a str),
}

fn route(path: &str) -> Option<Route<'_>> {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match segments.as_slice() {
        ["clusters", id] if !id.is_empty() => Some(Route::Detail(id)),
        ["api", "v1", "clusters"] => Some(Route::List),
        ["k8s", id, "user_config"] if !id.is_empty() => Some(Route::UserConfig(id)),
        _ => None,
    }
}

fn serve(
    shared: &Shared,
    method: Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Value, RoaError> {
    let req = wire_request(&method, uri, headers, body);
    let not_found = || {
        RoaError::new(
            404,
            "InvalidAction.NotFound",
            format!(
                "Specified api is not found, please check your url and method: {} {}",
                method,
                uri.path()
            ),
        )
    };
    let decoded = meshform_acs::percent_decode(uri.path());
    let route = route(&decoded).ok_or_else(not_found)?;
    if method != Method::GET {
        return Err(not_found());
    }
    match req.header("x-acs-version") {
        Some(API_VERSION) => {}
        Some(other) => {
            return Err(RoaError::new(
                400,
                "InvalidVersion",
                format!("Specified parameter Version \"{other}\" is not valid; this service speaks {API_VERSION}."),
            ))
        }
        None => {
            return Err(RoaError::new(
                400,
                "MissingParameter",
                "The input parameter \"x-acs-version\" that is mandatory for processing this request is not supplied.",
            ))
        }
    }
    if req.header("authorization").is_none() {
        return Err(RoaError::new(
            400,
            "IncompleteSignature",
            "The request signature does not conform to Aliyun standards: no Authorization header (ACS3-HMAC-SHA256)",
        ));
    }
    let now_ms = now_unix_ms();
    shared
        .verifier
        .verify(&req, Scheme::V3, now_ms)
        .map_err(|e| RoaError::new(e.status, &e.code, e.message))?;
    let visible = visible_clusters(shared, req.header("host"));
    match route {
        Route::Detail(id) => Ok(render::cluster(find(&visible, id)?)),
        Route::List => list(&visible, &req),
        Route::UserConfig(id) => user_config(find(&visible, id)?, &req, now_ms / 1000),
    }
}

/// The clusters a request may see: all of them on the central endpoint, those of one region on a
/// regional host name (`cs.<region>.aliyuncs.com`, `cs-vpc.<region>.aliyuncs.com`).
fn visible_clusters<'a>(shared: &'a Shared, host: Option<&str>) -> Vec<&'a CsCluster> {
    let region = host.and_then(region_of_host);
    shared.clusters.iter().filter(|c| region.as_ref().is_none_or(|r| *r == c.region)).collect()
}

/// `cs.cn-hangzhou.aliyuncs.com[:port]` → `cn-hangzhou`; `None` for other hosts.
fn region_of_host(host: &str) -> Option<String> {
    let host = host.split(':').next()?;
    let rest = host.strip_suffix(".aliyuncs.com")?;
    let (service, region) = rest.split_once('.')?;
    (service == "cs" || service.starts_with("cs-")).then(|| region.to_owned())
}

fn find<'a>(clusters: &[&'a CsCluster], id: &str) -> Result<&'a CsCluster, RoaError> {
    clusters.iter().copied().find(|c| c.id == id).ok_or_else(|| RoaError::cluster_not_found(id))
}

fn query<'a>(req: &'a WireRequest, name: &str) -> Option<&'a str> {
    req.query.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

fn positive(req: &WireRequest, name: &str, default: u64, max: u64) -> Result<u64, RoaError> {
    match query(req, name) {
        None | Some("") => Ok(default),
        Some(v) => match v.parse::<u64>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(RoaError::invalid_parameter(
                name,
                format!("{v:?} is not a whole number from 1 to {max}"),
            )),
        },
    }
}

/// `DescribeClustersV1`: filters, then one page.
fn list(clusters: &[&CsCluster], req: &WireRequest) -> Result<Value, RoaError> {
    let page_number = positive(req, "page_number", 1, u64::from(u32::MAX))?;
    let page_size = positive(req, "page_size", 10, 100)?;
    let filter = |name: &str| query(req, name).filter(|v| !v.is_empty());
    let matching: Vec<&CsCluster> = clusters
        .iter()
        .copied()
        .filter(|c| filter("name").is_none_or(|n| c.name.contains(n)))
        .filter(|c| filter("region_id").is_none_or(|r| c.region == r))
        .filter(|c| filter("cluster_id").is_none_or(|id| c.id == id))
        // Every emulated cluster is an ACK Pro managed cluster with the default profile.
        .filter(|_| filter("cluster_type").is_none_or(|t| t == "ManagedKubernetes"))
        .filter(|_| filter("profile").is_none_or(|p| p == "Default"))
        .filter(|_| filter("cluster_spec").is_none_or(|s| s == "ack.pro.small"))
        .collect();
    let start = usize::try_from((page_number - 1).saturating_mul(page_size)).unwrap_or(usize::MAX);
    let page: Vec<Value> = matching
        .iter()
        .skip(start)
        .take(usize::try_from(page_size).unwrap_or(usize::MAX))
        .map(|c| render::cluster(c))
        .collect();
    Ok(json!({
        "clusters": page,
        "page_info": {"page_number": page_number, "page_size": page_size, "total_count": matching.len()},
    }))
}

/// `DescribeClusterUserKubeconfig`: `PrivateIpAddress` (a boolean, `True`/`true`), and
/// `TemporaryDurationMinutes` (15–4320) for a kubeconfig that expires; without it, one valid for
/// three years (the long-lived token).
fn user_config(c: &CsCluster, req: &WireRequest, now_unix: i64) -> Result<Value, RoaError> {
    let private = match query(req, "PrivateIpAddress").map(str::to_ascii_lowercase).as_deref() {
        None | Some("") | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(RoaError::invalid_parameter(
                "PrivateIpAddress",
                format!("{other:?} is not true or false"),
            ))
        }
    };
    let (token, expires) = match query(req, "TemporaryDurationMinutes").filter(|v| !v.is_empty()) {
        None => (c.token.clone(), now_unix + 3 * 365 * 24 * 3600),
        Some(v) => match v.parse::<i64>() {
            Ok(m) if (15..=4320).contains(&m) => {
                let expires = now_unix + m * 60;
                (issue_temporary_token(&c.token, expires), expires)
            }
            _ => {
                return Err(RoaError::invalid_parameter(
                    "TemporaryDurationMinutes",
                    format!("{v:?} is not a whole number of minutes from 15 to 4320"),
                ))
            }
        },
    };
    Ok(json!({
        "config": render::user_kubeconfig(c, private, &token),
        "expiration": render::rfc3339(expires),
    }))
}

/// As the verifier reads it; a ROA API reads no form body.
fn wire_request(method: &Method, uri: &Uri, headers: &HeaderMap, body: Bytes) -> WireRequest {
    WireRequest { form: Vec::new(), ..acs_api::wire_request(method, uri, headers, &body) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_and_regional_hosts() {
        assert!(matches!(route("/clusters/c1"), Some(Route::Detail("c1"))));
        assert!(matches!(route("/api/v1/clusters"), Some(Route::List)));
        assert!(matches!(route("/k8s/c1/user_config"), Some(Route::UserConfig("c1"))));
        assert!(route("/clusters/").is_none() && route("/k8s/c1").is_none());
        assert_eq!(region_of_host("cs.cn-shanghai.aliyuncs.com").as_deref(), Some("cn-shanghai"));
        assert_eq!(
            region_of_host("cs-vpc.cn-hangzhou.aliyuncs.com:443").as_deref(),
            Some("cn-hangzhou")
        );
        assert_eq!(region_of_host("cs.aliyuncs.com"), None);
        assert_eq!(region_of_host("127.0.0.1:4000"), None);
    }
}
