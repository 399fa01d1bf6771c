//! One cluster's API, as the provider uses it: kind resolution through discovery (cached), server-side
//! apply (and its dry run), reads, deletes that wait, and waits for rollouts and conditions that follow
//! a watch on the object (polling when no watch can be had).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures::StreamExt;
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams, WatchEvent, WatchParams};
use kube::core::{ApiResource, GroupVersionKind};
use kube::discovery::Scope;
use kube::Client;
use meshform_core::sync::lock;
use meshform_provider::{wait_until, ErrorKind, Poll, Progress, ProviderError, WaitPolicy};
use serde_json::Value as Json;

use crate::objects::ObjectRef;

/// The field manager meshform applies as.
pub const FIELD_MANAGER: &str = "meshform";

/// A connected cluster.
pub struct Cluster {
    pub client: Client,
    /// How errors name the cluster (the kubeconfig context, or the provider alias).
    pub name: String,
    pub default_namespace: String,
    kinds: Mutex<HashMap<(String, String), (ApiResource, Scope)>>,
}

impl Cluster {
    pub fn new(client: Client, name: String, default_namespace: String) -> Cluster {
        Cluster { client, name, default_namespace, kinds: Mutex::new(HashMap::new()) }
    }

    /// A Kubernetes error as a provider error naming the cluster and the object.
    pub fn error(&self, what: &str, r: &ObjectRef, e: kube::Error) -> ProviderError {
        match e {
            kube::Error::Api(status) => {
                let mut msg =
                    format!("cluster {}: {what} {}: {}", self.name, r.describe(), status.message);
                if let Some(d) = &status.details {
                    let causes: Vec<String> = d
                        .causes
                        .iter()
                        .map(|c| {
                            if c.field.is_empty() {
                                c.message.clone()
                            } else {
                                format!("{}: {}", c.field, c.message)
                            }
                        })
                        .collect();
                    if !causes.is_empty() && !status.message.contains(&causes[0]) {
                        msg.push_str(&format!(" ({})", causes.join("; ")));
                    }
                }
                if status.code == 401 {
                    msg.push_str(": the API server did not accept the kubeconfig's credentials (expired or revoked; a temporary kubeconfig stops working when its duration ends): get a new kubeconfig");
                }
                let code = if status.reason.is_empty() {
                    format!("HTTP{}", status.code)
                } else {
                    status.reason.clone()
                };
                ProviderError::new(status_kind(status.code), code, msg)
            }
            other => ProviderError::new(
                ErrorKind::Unavailable,
                "ClusterUnreachable",
                format!("cluster {}: {what} {}: {other}", self.name, r.describe()),
            ),
        }
    }

    /// The API resource and scope of a kind, from discovery.
    pub async fn resolve(&self, r: &ObjectRef) -> Result<(ApiResource, Scope), ProviderError> {
        let key = (r.api_version.clone(), r.kind.clone());
        if let Some(hit) = meshform_core::sync::lock(&self.kinds).get(&key) {
            return Ok(hit.clone());
        }
        let (g, v) = r.group_version();
        let gvk = GroupVersionKind::gvk(g, v, &r.kind);
        let (ar, caps) = kube::discovery::pinned_kind(&self.client, &gvk).await.map_err(|e| match e {
            kube::Error::Discovery(_) => ProviderError::new(ErrorKind::NotFound, "UnknownKind", format!("cluster {}: the server does not know {} {}; check apiVersion and kind (is the CRD installed?)", self.name, r.api_version, r.kind)),
            other => self.error("discovering", r, other),
        })?;
        let out = (ar, caps.scope);
        meshform_core::sync::lock(&self.kinds).insert(key, out.clone());
        Ok(out)
    }

    /// Fills in the namespace of a namespaced object that has none; clears it on cluster-scoped ones.
    pub async fn normalize(
        &self,
        obj: &mut Json,
        default_ns: Option<&str>,
    ) -> Result<ObjectRef, ProviderError> {
        let r = ObjectRef::of(obj).map_err(|e| invalid_manifest(e).at_attribute("manifest"))?;
        let (_, scope) = self.resolve(&r).await?;
        let meta = obj.get_mut("metadata").and_then(|m| m.as_object_mut());
        if let Some(m) = meta {
            match scope {
                Scope::Namespaced if !m.contains_key("namespace") => {
                    m.insert(
                        "namespace".into(),
                        Json::String(default_ns.unwrap_or(&self.default_namespace).to_owned()),
                    );
                }
                Scope::Cluster => {
                    m.remove("namespace");
                }
                _ => {}
            }
        }
        ObjectRef::of(obj).map_err(invalid_manifest)
    }

    async fn api(&self, r: &ObjectRef) -> Result<Api<DynamicObject>, ProviderError> {
        let (ar, scope) = self.resolve(r).await?;
        Ok(match (scope, &r.namespace) {
            (Scope::Namespaced, Some(ns)) => Api::namespaced_with(self.client.clone(), ns, &ar),
            (Scope::Namespaced, None) => {
                Api::namespaced_with(self.client.clone(), &self.default_namespace, &ar)
            }
            (Scope::Cluster, _) => Api::all_with(self.client.clone(), &ar),
        })
    }

    /// Server-side apply (or its dry run) of one object; returns the object the server holds after it.
    pub async fn apply(
        &self,
        obj: &Json,
        dry_run: bool,
        force: bool,
    ) -> Result<Json, ProviderError> {
        let r = ObjectRef::of(obj).map_err(invalid_manifest)?;
        let api = self.api(&r).await?;
        let mut pp = PatchParams::apply(FIELD_MANAGER);
        if force {
            pp = pp.force();
        }
        if dry_run {
            pp = pp.dry_run();
        }
        let what = if dry_run { "planning (server-side dry run of)" } else { "applying" };
        let out = api
            .patch(&r.name, &pp, &Patch::Apply(obj))
            .await
            .map_err(|e| self.error(what, &r, e))?;
        serde_json::to_value(out).map_err(|e| bad_response(&e))
    }

    /// The live object, if it exists.
    pub async fn get(&self, r: &ObjectRef) -> Result<Option<Json>, ProviderError> {
        let api = self.api(r).await?;
        match api.get_opt(&r.name).await {
            Ok(Some(o)) => Ok(Some(to_json(o)?)),
            Ok(None) => Ok(None),
            Err(e) => Err(self.error("reading", r, e)),
        }
    }

    /// Deletes with foreground propagation and waits until the object is gone.
    pub async fn delete(
        &self,
        r: &ObjectRef,
        timeout: Duration,
        progress: &dyn Progress,
    ) -> Result<(), ProviderError> {
        let api = match self.api(r).await {
            Ok(a) => a,
            // The kind itself is gone (a CRD removed): nothing left to delete.
            Err(e) if e.kind == ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        match api.delete(&r.name, &DeleteParams::foreground()).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 => return Ok(()),
            Err(e) => return Err(self.error("deleting", r, e)),
        }
        let check = |o: Option<&Json>| {
            Ok(match o {
                None => Poll::Ready(()),
                Some(_) => Poll::Pending(format!("waiting for {} to be deleted", r.describe())),
            })
        };
        self.wait_for(&api, r, timeout, progress, check, |_| {
            format!(
                "cluster {}: {} still exists after {}s",
                self.name,
                r.describe(),
                timeout.as_secs()
            )
        })
        .await
    }

    /// Waits until a Deployment's rollout is complete: observed generation current and every replica
    /// updated and available.
    pub async fn wait_rollout(
        &self,
        r: &ObjectRef,
        timeout: Duration,
        progress: &dyn Progress,
    ) -> Result<(), ProviderError> {
        let api = self.api(r).await?;
        let check = |o: Option<&Json>| {
            let Some(o) = o else {
                return Err(ProviderError::new(
                    ErrorKind::NotFound,
                    "NotFound",
                    format!(
                        "cluster {}: {} disappeared during its rollout",
                        self.name,
                        r.describe()
                    ),
                ));
            };
            let (available, want) = replicas(o);
            let n = |p: &str| o.pointer(p).and_then(|v| v.as_i64()).unwrap_or(0);
            let done = n("/status/observedGeneration") >= n("/metadata/generation")
                && n("/status/updatedReplicas") >= want
                && available >= want
                && n("/status/replicas") <= want;
            Ok(if done {
                Poll::Ready(())
            } else {
                Poll::Pending(format!("{}: {available} of {want} replicas available", r.describe()))
            })
        };
        self.wait_for(&api, r, timeout, progress, check, |last| {
            let (available, want) = last.map(replicas).unwrap_or((0, 1));
            format!(
                "cluster {}: {} did not finish its rollout in {}s ({available} of {want} available)",
                self.name,
                r.describe(),
                timeout.as_secs(),
            )
        })
        .await
    }

    /// Waits until an object reports a condition (`type` with `status`).
    pub async fn wait_condition(
        &self,
        r: &ObjectRef,
        ty: &str,
        status: &str,
        timeout: Duration,
        progress: &dyn Progress,
    ) -> Result<(), ProviderError> {
        let api = self.api(r).await?;
        let check = |o: Option<&Json>| {
            let ok = o
                .and_then(|o| o.pointer("/status/conditions"))
                .and_then(|c| c.as_array())
                .is_some_and(|cs| {
                    cs.iter().any(|c| {
                        c.get("type").and_then(|v| v.as_str()) == Some(ty)
                            && c.get("status").and_then(|v| v.as_str()) == Some(status)
                    })
                });
            Ok(if ok {
                Poll::Ready(())
            } else {
                Poll::Pending(format!("{}: waiting for condition {ty}={status}", r.describe()))
            })
        };
        self.wait_for(&api, r, timeout, progress, check, |_| {
            format!(
                "cluster {}: {} did not reach {ty}={status} in {}s",
                self.name,
                r.describe(),
                timeout.as_secs()
            )
        })
        .await
    }

    /// Waits until `check` is ready for the object (`None` while it does not exist), following a watch
    /// on it; when the server offers no watch (or the object does not exist yet), the rest of the wait
    /// polls through the shared [`wait_until`]. A new status is reported once; on timeout the error
    /// says `timed_out(last object seen)`.
    async fn wait_for<T>(
        &self,
        api: &Api<DynamicObject>,
        r: &ObjectRef,
        timeout: Duration,
        progress: &dyn Progress,
        check: impl Fn(Option<&Json>) -> Result<Poll<T>, ProviderError>,
        timed_out: impl FnOnce(Option<&Json>) -> String,
    ) -> Result<T, ProviderError> {
        let deadline = Instant::now() + timeout;
        let last: Mutex<Option<Json>> = Mutex::new(None);
        let mut status: Option<String> = None;
        // What the object is now: its answer to `check`, and the version to watch it from.
        let look = || async {
            let now = api.get_opt(&r.name).await.map_err(|e| self.error("waiting for", r, e))?;
            let version = now.as_ref().and_then(|o| o.metadata.resource_version.clone());
            let now = now.map(to_json).transpose()?;
            let seen = check(now.as_ref())?;
            *lock(&last) = now;
            Ok::<_, ProviderError>((seen, version))
        };
        let mut report = |seen: Poll<T>| match seen {
            Poll::Ready(v) => Some(v),
            Poll::Pending(s) => {
                if status.as_deref() != Some(s.as_str()) {
                    progress.status(&s);
                    status = Some(s);
                }
                None
            }
        };
        while Instant::now() < deadline {
            let (seen, version) = look().await?;
            if let Some(v) = report(seen) {
                return Ok(v);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            let params = WatchParams::default()
                .fields(&format!("metadata.name={}", r.name))
                .timeout(left.as_secs().clamp(1, 290) as u32);
            let events = match &version {
                Some(version) => api.watch(&params, version).await.ok(),
                None => None,
            };
            let Some(events) = events else { break };
            let mut events = std::pin::pin!(events);
            let mut heard = false;
            loop {
                let left = deadline.saturating_duration_since(Instant::now());
                let event = match tokio::time::timeout(left, events.next()).await {
                    Ok(Some(Ok(event))) => event,
                    // The watch ended (server timeout, 410 Gone, a dropped connection), or the
                    // deadline passed: look again.
                    Ok(Some(Err(_)) | None) | Err(_) => break,
                };
                let seen = match event {
                    WatchEvent::Added(o) | WatchEvent::Modified(o) => Some(to_json(o)?),
                    WatchEvent::Deleted(_) => None,
                    WatchEvent::Bookmark(_) => continue,
                    WatchEvent::Error(_) => break,
                };
                heard = true;
                let answer = check(seen.as_ref())?;
                *lock(&last) = seen;
                if let Some(v) = report(answer) {
                    return Ok(v);
                }
            }
            if !heard {
                // A watch that ends at once (a proxy closing it) is no reason to ask again at once.
                let left = deadline.saturating_duration_since(Instant::now());
                tokio::time::sleep(POLL.min(left)).await;
            }
        }
        // No watch to follow: poll for what is left of the timeout.
        let left = deadline.saturating_duration_since(Instant::now());
        let poll = || async { look().await.map(|(seen, _)| seen) };
        let result =
            wait_until(WaitPolicy::backing_off(POLL, POLL * 8, left), progress, poll, |_| {
                String::new()
            })
            .await;
        match result {
            Err(e) if e.kind == ErrorKind::Timeout => Err(ProviderError::new(
                ErrorKind::Timeout,
                "Timeout",
                timed_out(lock(&last).as_ref()),
            )),
            other => other,
        }
    }
}

/// How often an object without a watch is polled.
const POLL: Duration = Duration::from_millis(250);

/// `(available, wanted)` replicas of a Deployment.
fn replicas(o: &Json) -> (i64, i64) {
    let available = o.pointer("/status/availableReplicas").and_then(|v| v.as_i64()).unwrap_or(0);
    let want = o.pointer("/spec/replicas").and_then(|v| v.as_i64()).unwrap_or(1);
    (available, want)
}

fn to_json(o: DynamicObject) -> Result<Json, ProviderError> {
    serde_json::to_value(o).map_err(|e| bad_response(&e))
}

fn bad_response(e: &serde_json::Error) -> ProviderError {
    ProviderError::new(ErrorKind::Internal, "BadResponse", e.to_string())
}

/// A manifest meshform cannot use (no kind, no name, not an object).
pub fn invalid_manifest(message: String) -> ProviderError {
    ProviderError::new(ErrorKind::InvalidArgument, "InvalidManifest", message)
}

/// The kind of a Kubernetes API error, by HTTP status.
fn status_kind(code: u16) -> ErrorKind {
    match code {
        404 => ErrorKind::NotFound,
        409 => ErrorKind::Conflict,
        429 => ErrorKind::Throttled,
        401 | 403 => ErrorKind::Unauthorized,
        400..=499 => ErrorKind::InvalidArgument,
        500.. => ErrorKind::Unavailable,
        _ => ErrorKind::Internal,
    }
}
