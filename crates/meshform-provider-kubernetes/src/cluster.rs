//! One cluster's API, as the provider uses it: kind resolution through discovery (cached), server-side
//! apply (and its dry run), reads, deletes that wait, rollout waits, and exec.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams};
use kube::core::{ApiResource, GroupVersionKind};
use kube::discovery::Scope;
use kube::Client;
use meshform_provider::{Progress, ProviderError};
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
                let mut pe = ProviderError::new(
                    if status.reason.is_empty() {
                        format!("HTTP{}", status.code)
                    } else {
                        status.reason.clone()
                    },
                    msg,
                );
                pe.retryable = status.code >= 500 || status.code == 429;
                pe
            }
            other => ProviderError::new(
                "ClusterUnreachable",
                format!("cluster {}: {what} {}: {other}", self.name, r.describe()),
            )
            .retryable(),
        }
    }

    /// The API resource and scope of a kind, from discovery.
    pub async fn resolve(&self, r: &ObjectRef) -> Result<(ApiResource, Scope), ProviderError> {
        let key = (r.api_version.clone(), r.kind.clone());
        if let Some(hit) = self.kinds.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
            return Ok(hit.clone());
        }
        let (g, v) = r.group_version();
        let gvk = GroupVersionKind::gvk(g, v, &r.kind);
        let (ar, caps) = kube::discovery::pinned_kind(&self.client, &gvk).await.map_err(|e| match e {
            kube::Error::Discovery(_) => ProviderError::new("UnknownKind", format!("cluster {}: the server does not know {} {}; check apiVersion and kind (is the CRD installed?)", self.name, r.api_version, r.kind)),
            other => self.error("discovering", r, other),
        })?;
        let out = (ar, caps.scope);
        self.kinds.lock().unwrap_or_else(|p| p.into_inner()).insert(key, out.clone());
        Ok(out)
    }

    /// Fills in the namespace of a namespaced object that has none; clears it on cluster-scoped ones.
    pub async fn normalize(
        &self,
        obj: &mut Json,
        default_ns: Option<&str>,
    ) -> Result<ObjectRef, ProviderError> {
        let r = ObjectRef::of(obj)
            .map_err(|e| ProviderError::new("InvalidManifest", e).at_attribute("manifest"))?;
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
        ObjectRef::of(obj).map_err(|e| ProviderError::new("InvalidManifest", e))
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
        let r = ObjectRef::of(obj).map_err(|e| ProviderError::new("InvalidManifest", e))?;
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
        serde_json::to_value(out).map_err(|e| ProviderError::new("BadResponse", e.to_string()))
    }

    /// The live object, if it exists.
    pub async fn get(&self, r: &ObjectRef) -> Result<Option<Json>, ProviderError> {
        let api = self.api(r).await?;
        match api.get_opt(&r.name).await {
            Ok(Some(o)) => Ok(Some(
                serde_json::to_value(o)
                    .map_err(|e| ProviderError::new("BadResponse", e.to_string()))?,
            )),
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
            Err(e) if e.code == "UnknownKind" => return Ok(()),
            Err(e) => return Err(e),
        };
        match api.delete(&r.name, &DeleteParams::foreground()).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 => return Ok(()),
            Err(e) => return Err(self.error("deleting", r, e)),
        }
        let start = Instant::now();
        loop {
            match api.get_opt(&r.name).await {
                Ok(None) => return Ok(()),
                Ok(Some(_)) => {
                    progress.status(&format!("waiting for {} to be deleted", r.describe()))
                }
                Err(e) => return Err(self.error("waiting for the deletion of", r, e)),
            }
            if start.elapsed() > timeout {
                return Err(ProviderError::new(
                    "Timeout",
                    format!(
                        "cluster {}: {} still exists after {}s",
                        self.name,
                        r.describe(),
                        timeout.as_secs()
                    ),
                )
                .retryable());
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    /// Waits until a Deployment's rollout is complete: observed generation current and every replica
    /// updated and available.
    pub async fn wait_rollout(
        &self,
        r: &ObjectRef,
        timeout: Duration,
        progress: &dyn Progress,
    ) -> Result<(), ProviderError> {
        let start = Instant::now();
        loop {
            let Some(o) = self.get(r).await? else {
                return Err(ProviderError::new(
                    "NotFound",
                    format!(
                        "cluster {}: {} disappeared during its rollout",
                        self.name,
                        r.describe()
                    ),
                ));
            };
            let n = |p: &str| o.pointer(p).and_then(|v| v.as_i64()).unwrap_or(0);
            let want = o.pointer("/spec/replicas").and_then(|v| v.as_i64()).unwrap_or(1);
            let done = n("/status/observedGeneration") >= n("/metadata/generation")
                && n("/status/updatedReplicas") >= want
                && n("/status/availableReplicas") >= want
                && n("/status/replicas") <= want;
            if done {
                return Ok(());
            }
            progress.status(&format!(
                "{}: {} of {want} replicas available",
                r.describe(),
                n("/status/availableReplicas")
            ));
            if start.elapsed() > timeout {
                return Err(ProviderError::new(
                    "Timeout",
                    format!(
                        "cluster {}: {} did not finish its rollout in {}s ({} of {want} available)",
                        self.name,
                        r.describe(),
                        timeout.as_secs(),
                        n("/status/availableReplicas")
                    ),
                )
                .retryable());
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
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
        let start = Instant::now();
        loop {
            if let Some(o) = self.get(r).await? {
                let ok =
                    o.pointer("/status/conditions").and_then(|c| c.as_array()).is_some_and(|cs| {
                        cs.iter().any(|c| {
                            c.get("type").and_then(|v| v.as_str()) == Some(ty)
                                && c.get("status").and_then(|v| v.as_str()) == Some(status)
                        })
                    });
                if ok {
                    return Ok(());
                }
            }
            progress.status(&format!("{}: waiting for condition {ty}={status}", r.describe()));
            if start.elapsed() > timeout {
                return Err(ProviderError::new(
                    "Timeout",
                    format!(
                        "cluster {}: {} did not reach {ty}={status} in {}s",
                        self.name,
                        r.describe(),
                        timeout.as_secs()
                    ),
                )
                .retryable());
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}
