//! Watches: a chunked HTTP/1.1 stream of `{"type":…,"object":…}` lines, one per change after the
//! requested resourceVersion (or the current state first when none is given), until
//! `timeoutSeconds` or the client leaves; `410 Expired` when the version is older than the history.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::Response;
use serde_json::{json, Value};
use tokio::sync::broadcast::{self, error::RecvError};
use tokio::time::Instant;

use super::cluster::Cluster;
use super::http::Body;
use super::kinds::ResourceType;
use super::selectors::{FieldSelector, LabelSelector};
use super::status::ApiError;
use super::store::{Change, ChangeType};
use super::table;

/// What a watch selects and how it renders objects.
pub struct WatchRequest {
    pub rt: ResourceType,
    pub namespace: Option<String>,
    pub labels: LabelSelector,
    pub fields: FieldSelector,
    /// `None` or `Some(0)`: start with the current state.
    pub resource_version: Option<u64>,
    pub timeout: Duration,
    /// The version the client asked for (objects are rendered with it).
    pub version: String,
    /// `Some(includeObject)` when the client wants Table rows.
    pub table: Option<String>,
    /// `sendInitialEvents=true`: the current state, then a BOOKMARK marking its end.
    pub initial_events: bool,
}

impl WatchRequest {
    fn selects(&self, c: &Change) -> bool {
        c.key.group == self.rt.group
            && c.key.kind == self.rt.kind
            && self.namespace.as_deref().is_none_or(|ns| c.key.namespace == ns)
            && self.labels.matches(&c.object["metadata"]["labels"])
            && self.fields.matches(&c.object)
    }

    fn render(&self, kind: &str, obj: &Value, first: &mut bool) -> Bytes {
        let mut o = obj.clone();
        o["apiVersion"] = json!(super::kinds::api_version(&self.rt.group, &self.version));
        let object = match &self.table {
            Some(include) => {
                let rv = o["metadata"]["resourceVersion"].as_str().unwrap_or("").to_string();
                let t = table::table(&self.rt, &[o], &rv, include, *first);
                *first = false;
                t
            }
            None => o,
        };
        line(kind, object)
    }
}

fn line(kind: &str, object: Value) -> Bytes {
    let mut b = serde_json::to_vec(&json!({"type": kind, "object": object})).unwrap_or_default();
    b.push(b'\n');
    Bytes::from(b)
}

struct State {
    pending: VecDeque<Bytes>,
    rx: Option<broadcast::Receiver<Change>>,
    deadline: Instant,
    req: WatchRequest,
    first: bool,
}

/// Start a watch.
pub fn start(cluster: &Arc<Cluster>, req: WatchRequest) -> Response<Body> {
    let mut pending = VecDeque::new();
    let mut first = true;
    let rx = {
        let store = cluster.store();
        let current = store.resource_version();
        match req.resource_version.filter(|rv| *rv != 0 && !req.initial_events) {
            None => {
                let ns = if req.rt.namespaced { req.namespace.as_deref() } else { None };
                for o in store.list(&req.rt.group, &req.rt.kind, ns) {
                    if req.labels.matches(&o["metadata"]["labels"]) && req.fields.matches(o) {
                        pending.push_back(req.render("ADDED", o, &mut first));
                    }
                }
                if req.initial_events {
                    let bookmark = json!({
                        "kind": req.rt.kind,
                        "apiVersion": super::kinds::api_version(&req.rt.group, &req.version),
                        "metadata": {"resourceVersion": current.to_string(),
                                     "annotations": {"k8s.io/initial-events-end": "true"}},
                    });
                    pending.push_back(line("BOOKMARK", bookmark));
                }
                Some(store.subscribe())
            }
            Some(rv) => match store.changes_since(rv) {
                Some((past, rx)) => {
                    for c in past.iter().filter(|c| req.selects(c)) {
                        pending.push_back(req.render(c.change.as_str(), &c.object, &mut first));
                    }
                    Some(rx)
                }
                None => {
                    let e = ApiError::gone(format!("too old resource version: {rv} ({current})"));
                    pending.push_back(line("ERROR", e.to_status()));
                    None
                }
            },
        }
    };
    let state = State { pending, rx, deadline: Instant::now() + req.timeout, req, first };
    let stream = futures::stream::unfold(state, next);
    let mut resp = Response::new(StreamBody::new(stream).boxed());
    resp.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

async fn next(mut s: State) -> Option<(Result<Frame<Bytes>, Infallible>, State)> {
    loop {
        if let Some(b) = s.pending.pop_front() {
            return Some((Ok(Frame::data(b)), s));
        }
        let rx = s.rx.as_mut()?;
        let got = tokio::select! {
            _ = tokio::time::sleep_until(s.deadline) => return None,
            got = rx.recv() => got,
        };
        match got {
            Ok(c) if s.req.selects(&c) => {
                let kind = match c.change {
                    ChangeType::Added => "ADDED",
                    ChangeType::Modified => "MODIFIED",
                    ChangeType::Deleted => "DELETED",
                };
                let mut first = s.first;
                let b = s.req.render(kind, &c.object, &mut first);
                s.first = first;
                return Some((Ok(Frame::data(b)), s));
            }
            Ok(_) => continue,
            Err(RecvError::Lagged(_)) => {
                s.rx = None;
                let e = ApiError::gone("the watch fell behind; list again");
                s.pending.push_back(line("ERROR", e.to_status()));
            }
            Err(RecvError::Closed) => return None,
        }
    }
}
