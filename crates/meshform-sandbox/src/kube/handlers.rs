//! The REST verbs on objects and collections: get, list, watch, create, update, patch, delete,
//! deletecollection, and the `status`, `scale`, `log` and `exec` subresources.

use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::header::{ACCEPT, USER_AGENT};
use hyper::{Method, Request, Response};
use serde_json::{json, Value};

use super::cluster::Cluster;
use super::deletion::{DeleteOptions, Propagation};
use super::exec;
use super::http::{self, Body, Query};
use super::kinds::{api_version, Gvk, ResourceType};
use super::objects::{PatchKind, WriteOptions};
use super::router::ObjectPath;
use super::selectors::{FieldSelector, LabelSelector};
use super::status::ApiError;
use super::subresources;
use super::table;
use super::watch::{self, WatchRequest};

/// Serve a request for an object or collection.
pub async fn handle(
    cluster: &Arc<Cluster>,
    req: Request<Incoming>,
    p: ObjectPath,
) -> Response<Body> {
    match serve(cluster, req, p).await {
        Ok(r) => r,
        Err(e) => http::error(&e),
    }
}

/// The field manager of a write: `fieldManager`, else the User-Agent's program name.
fn manager(q: &Query, req_headers: &hyper::HeaderMap) -> String {
    if let Some(m) = q.get("fieldManager").filter(|m| !m.is_empty()) {
        return m.to_string();
    }
    req_headers
        .get(USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .and_then(|ua| ua.split('/').next())
        .filter(|s| !s.is_empty())
        .unwrap_or("unknown")
        .to_string()
}

fn present(mut obj: Value, rt: &ResourceType, version: &str) -> Value {
    if obj.is_object() && obj["kind"] == rt.kind.as_str() {
        obj["apiVersion"] = json!(api_version(&rt.group, version));
    }
    obj
}

async fn serve(
    cluster: &Arc<Cluster>,
    req: Request<Incoming>,
    p: ObjectPath,
) -> Result<Response<Body>, ApiError> {
    let q = Query::parse(req.uri().query());
    let method = req.method().clone();
    let accept = req.headers().get(ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let mgr = manager(&q, req.headers());
    let media = http::content_type(req.headers());

    if p.subresource.as_deref() == Some("exec") && p.group.is_empty() && p.plural == "pods" {
        let (ns, name) = match (&p.namespace, &p.name) {
            (Some(ns), Some(n)) => (ns.clone(), n.clone()),
            _ => return Err(ApiError::no_route()),
        };
        return Ok(exec::handle(cluster.clone(), req, ns, name, q).await);
    }
    if p.subresource.as_deref() == Some("attach") || p.subresource.as_deref() == Some("portforward")
    {
        return Err(ApiError::bad_request(format!(
            "{} is not supported by the emulated API server",
            p.subresource.unwrap_or_default()
        )));
    }

    let needs_body = matches!(method, Method::POST | Method::PUT | Method::PATCH);
    let body = if needs_body || method == Method::DELETE {
        let bytes = http::read_body(req.into_body()).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            if needs_body {
                return Err(ApiError::bad_request(
                    "the request body is empty; an object was expected",
                ));
            }
            Value::Null
        } else {
            http::decode(&bytes, &media)?
        }
    } else {
        Value::Null
    };

    let rt = match cluster.resolve(&p.group, &p.version, &p.plural) {
        Some(rt) => rt,
        None => learn(cluster, &p, &body, needs_body)?,
    };
    if !rt.namespaced && p.namespace.is_some() {
        return Err(ApiError::no_route());
    }
    let ns = p.namespace.clone().unwrap_or_default();
    if rt.namespaced && ns.is_empty() && (p.name.is_some() || method == Method::POST) {
        return Err(ApiError::no_route());
    }
    let dry_run = q.dry_run()?;
    let sub = p.subresource.clone().unwrap_or_default();
    if !sub.is_empty() {
        let ok = match sub.as_str() {
            "status" => rt.status_subresource,
            "scale" => subresources::scalable(&rt),
            "log" => rt.is("", "Pod") && method == Method::GET,
            _ => false,
        };
        if !ok {
            return Err(ApiError::no_route());
        }
    }
    let opts = WriteOptions { manager: &mgr, dry_run, subresource: &sub };
    let version = p.version.as_str();
    let wants_table = table::wanted(&accept);
    let include = q.get("includeObject").unwrap_or("Metadata").to_string();

    match (&method, p.name.as_deref()) {
        (&Method::GET, None) => {
            let labels = LabelSelector::parse(q.get("labelSelector").unwrap_or(""))?;
            let fields = FieldSelector::parse(q.get("fieldSelector").unwrap_or(""), &rt.kind)?;
            if p.watch || q.flag("watch") {
                let rv = match q.get("resourceVersion").filter(|s| !s.is_empty()) {
                    Some(s) => Some(s.parse::<u64>().map_err(|_| {
                        ApiError::bad_request(format!("invalid resourceVersion {s:?}"))
                    })?),
                    None => None,
                };
                let timeout = q
                    .get("timeoutSeconds")
                    .and_then(|s| s.parse::<u64>().ok())
                    .unwrap_or(1800)
                    .min(3600);
                let wr = WatchRequest {
                    rt: rt.clone(),
                    namespace: p.namespace.clone(),
                    labels,
                    fields,
                    resource_version: rv,
                    timeout: Duration::from_secs(timeout),
                    version: version.to_string(),
                    table: wants_table.then_some(include),
                    initial_events: q.flag("sendInitialEvents"),
                };
                return Ok(watch::start(cluster, wr));
            }
            let (items, rv) = cluster.list_objects(&rt, p.namespace.as_deref(), &labels, &fields);
            let items: Vec<Value> = items.into_iter().map(|o| present(o, &rt, version)).collect();
            if wants_table {
                return Ok(http::json(
                    200,
                    &table::table(&rt, &items, &rv.to_string(), &include, true),
                ));
            }
            Ok(http::json(
                200,
                &json!({
                    "kind": rt.list_kind(),
                    "apiVersion": api_version(&rt.group, version),
                    "metadata": {"resourceVersion": rv.to_string()},
                    "items": items,
                }),
            ))
        }
        (&Method::GET, Some(name)) => {
            if sub == "log" {
                let tail = q.get("tailLines").and_then(|s| s.parse().ok());
                let text =
                    subresources::pod_log(cluster, &rt, &ns, name, q.get("container"), tail)?;
                return Ok(http::with_type(200, "text/plain", text));
            }
            let obj = cluster.get_object(&rt, &ns, name)?;
            if sub == "scale" {
                return Ok(http::json(200, &subresources::to_scale(&obj)));
            }
            let obj = present(obj, &rt, version);
            if wants_table && sub.is_empty() {
                let rv = obj["metadata"]["resourceVersion"].as_str().unwrap_or("").to_string();
                return Ok(http::json(200, &table::table(&rt, &[obj], &rv, &include, true)));
            }
            Ok(http::json(200, &obj))
        }
        (&Method::POST, None) => {
            let obj = cluster.create(&rt, &ns, body, opts)?;
            Ok(http::json(201, &present(obj, &rt, version)))
        }
        (&Method::PUT, Some(name)) => {
            if sub == "scale" {
                let s = subresources::write_scale(cluster, &rt, &ns, name, None, &body, opts)?;
                return Ok(http::json(200, &s));
            }
            let obj = cluster.replace(&rt, &ns, name, body, opts)?;
            Ok(http::json(200, &present(obj, &rt, version)))
        }
        (&Method::PATCH, Some(name)) => {
            let force = q.flag("force");
            let kind = match media.as_str() {
                "application/json-patch+json" => PatchKind::Json,
                "application/merge-patch+json" => PatchKind::Merge,
                "application/strategic-merge-patch+json" => PatchKind::Strategic,
                "application/apply-patch+yaml" | "application/apply-patch+json" => {
                    PatchKind::Apply { force }
                }
                other => return Err(ApiError::unsupported_media_type(other)),
            };
            if force && !matches!(kind, PatchKind::Apply { .. }) {
                return Err(ApiError::unprocessable(
                    "force: Invalid value: true: may not be specified for non-apply patch",
                ));
            }
            if matches!(kind, PatchKind::Apply { .. })
                && q.get("fieldManager").is_none_or(str::is_empty)
            {
                return Err(ApiError::unprocessable(
                    "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch",
                ));
            }
            if sub == "scale" {
                let s =
                    subresources::write_scale(cluster, &rt, &ns, name, Some(kind), &body, opts)?;
                return Ok(http::json(200, &s));
            }
            let (obj, created) = cluster.patch(&rt, &ns, name, kind, &body, opts)?;
            Ok(http::json(if created { 201 } else { 200 }, &present(obj, &rt, version)))
        }
        (&Method::DELETE, name) => {
            let mut d = delete_options(&q, &body)?;
            d.dry_run |= dry_run;
            match name {
                Some(name) => {
                    let obj = cluster.delete(&rt, &ns, name, &d)?;
                    Ok(http::json(200, &present(obj, &rt, version)))
                }
                None => {
                    let labels = LabelSelector::parse(q.get("labelSelector").unwrap_or(""))?;
                    let fields =
                        FieldSelector::parse(q.get("fieldSelector").unwrap_or(""), &rt.kind)?;
                    let (items, _) =
                        cluster.list_objects(&rt, p.namespace.as_deref(), &labels, &fields);
                    let mut gone = Vec::new();
                    for o in items {
                        let ons = o["metadata"]["namespace"].as_str().unwrap_or("").to_string();
                        let oname = o["metadata"]["name"].as_str().unwrap_or("").to_string();
                        match cluster.delete(&rt, &ons, &oname, &d) {
                            Ok(x) => gone.push(present(x, &rt, version)),
                            Err(e) if e.code == 404 => {}
                            Err(e) => return Err(e),
                        }
                    }
                    let rv = cluster.store().resource_version();
                    Ok(http::json(
                        200,
                        &json!({
                            "kind": rt.list_kind(), "apiVersion": api_version(&rt.group, version),
                            "metadata": {"resourceVersion": rv.to_string()}, "items": gone,
                        }),
                    ))
                }
            }
        }
        _ => Err(ApiError::method_not_allowed(format!(
            "the server does not allow this method on the requested resource ({method} {})",
            rt.qualified()
        ))),
    }
}

fn delete_options(q: &Query, body: &Value) -> Result<DeleteOptions, ApiError> {
    let policy = q
        .get("propagationPolicy")
        .map(String::from)
        .or_else(|| body["propagationPolicy"].as_str().map(String::from))
        .or_else(|| {
            match body["orphanDependents"]
                .as_bool()
                .or(q.get("orphanDependents").map(|v| v == "true"))
            {
                Some(true) => Some("Orphan".into()),
                _ => None,
            }
        });
    let propagation = match policy.as_deref() {
        None => None,
        Some("Foreground") => Some(Propagation::Foreground),
        Some("Background") => Some(Propagation::Background),
        Some("Orphan") => Some(Propagation::Orphan),
        Some(other) => {
            return Err(ApiError::unprocessable(format!(
                "propagationPolicy: Unsupported value: {other:?}: supported values: \"Foreground\", \"Background\", \"Orphan\""
            )))
        }
    };
    let dry_run = body["dryRun"].as_array().is_some_and(|a| a.iter().any(|v| v == "All"));
    Ok(DeleteOptions {
        propagation,
        precondition_uid: body["preconditions"]["uid"].as_str().map(String::from),
        precondition_resource_version: body["preconditions"]["resourceVersion"]
            .as_str()
            .map(String::from),
        dry_run,
    })
}

/// A write to a resource the catalogue does not know: learn it from the object's apiVersion and
/// kind when they name this group/version (CRD-like storage), else 404.
fn learn(
    cluster: &Cluster,
    p: &ObjectPath,
    body: &Value,
    is_write: bool,
) -> Result<ResourceType, ApiError> {
    let gvk = Gvk::of(body).filter(|g| is_write && g.group == p.group && g.version == p.version);
    let Some(gvk) = gvk else { return Err(ApiError::no_route()) };
    let core =
        matches!(p.group.as_str(), "" | "apps" | "coordination.k8s.io" | "apiextensions.k8s.io");
    let plausible = gvk.kind.chars().next().is_some_and(|c| c.is_ascii_uppercase())
        && gvk.kind.chars().all(|c| c.is_ascii_alphanumeric())
        && gvk.kind.len() <= 63
        && p.plural.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && !p.plural.is_empty()
        && p.plural.len() <= 63;
    if core || !plausible {
        return Err(ApiError::no_route());
    }
    let namespaced = p.namespace.is_some();
    if !cluster.with_catalogue(|c| c.learn(&gvk, &p.plural, namespaced)) {
        return Err(ApiError::no_route());
    }
    cluster.changed();
    cluster.resolve(&p.group, &p.version, &p.plural).ok_or_else(ApiError::no_route)
}
