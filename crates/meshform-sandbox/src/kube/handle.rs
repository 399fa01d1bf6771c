//! The hooks other parts of the sandbox use on a running cluster: read objects, write them as a
//! controller (server-side apply), follow changes, run commands in pods, and plug in the exec
//! handler the data plane implements.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{json, Value};
use tokio::sync::broadcast;

use super::cluster::Cluster;
use super::commands::{ExecHandler, ExecOutput, ExecRequest};
use super::deletion::DeleteOptions;
use super::kinds::{guess_plural, Gvk, ResourceType};
use super::objects::{PatchKind, WriteOptions};
use super::requests::RequestCounts;
use super::selectors::{FieldSelector, LabelSelector};
use super::status::ApiError;
use super::store::{Change, ChangeType};
use super::subresources::pick_container;

/// A handle on one running cluster; cheap to clone.
#[derive(Clone, Debug)]
pub struct ClusterHandle {
    cluster: Arc<Cluster>,
}

/// What happened to an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Added,
    Modified,
    Deleted,
}

/// One change, as the change feed delivers it.
#[derive(Debug, Clone)]
pub struct ObjectChange {
    pub kind: ChangeKind,
    pub gvk: Gvk,
    /// The object after the change; for deletions, its last state.
    pub object: Arc<Value>,
    pub resource_version: u64,
}

/// Why the change feed returned no change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FeedError {
    /// The subscriber fell this many changes behind and missed them; list again.
    #[error("the change feed fell {0} changes behind; list again")]
    Lagged(u64),
    /// The cluster shut down.
    #[error("the cluster shut down")]
    Closed,
}

/// Changes of every object, in resourceVersion order, from the moment of subscription.
#[derive(Debug)]
pub struct ChangeFeed {
    rx: broadcast::Receiver<Change>,
}

impl ChangeFeed {
    /// The next change.
    pub async fn recv(&mut self) -> Result<ObjectChange, FeedError> {
        match self.rx.recv().await {
            Ok(c) => Ok(ObjectChange {
                kind: match c.change {
                    ChangeType::Added => ChangeKind::Added,
                    ChangeType::Modified => ChangeKind::Modified,
                    ChangeType::Deleted => ChangeKind::Deleted,
                },
                gvk: Gvk::of(&c.object).unwrap_or_else(|| Gvk::new(&c.key.group, "", &c.key.kind)),
                object: c.object,
                resource_version: c.resource_version,
            }),
            Err(broadcast::error::RecvError::Lagged(n)) => Err(FeedError::Lagged(n)),
            Err(broadcast::error::RecvError::Closed) => Err(FeedError::Closed),
        }
    }
}

impl ClusterHandle {
    pub(crate) fn new(cluster: Arc<Cluster>) -> Self {
        ClusterHandle { cluster }
    }

    /// The cluster's name.
    pub fn name(&self) -> &str {
        &self.cluster.name
    }

    /// The requests the API server has answered so far, by method and resource.
    pub fn requests(&self) -> RequestCounts {
        self.cluster.requests.snapshot()
    }

    /// The last resourceVersion handed out.
    pub fn resource_version(&self) -> u64 {
        self.cluster.store().resource_version()
    }

    fn rt(&self, gvk: &Gvk) -> Result<ResourceType, ApiError> {
        self.cluster.type_of(&gvk.group, &gvk.kind)
    }

    fn ns<'a>(rt: &ResourceType, namespace: Option<&'a str>) -> &'a str {
        if rt.namespaced {
            namespace.unwrap_or("default")
        } else {
            ""
        }
    }

    /// One object; `None` when it or its kind does not exist.
    pub fn get(&self, gvk: &Gvk, namespace: Option<&str>, name: &str) -> Option<Value> {
        let rt = self.rt(gvk).ok()?;
        self.cluster.get_object(&rt, Self::ns(&rt, namespace), name).ok()
    }

    /// Objects of a kind, in one namespace or all (`None`), optionally filtered by a label selector
    /// in query form (`app=x,version in (v1,v2)`). An unknown kind has no objects.
    pub fn list(
        &self,
        gvk: &Gvk,
        namespace: Option<&str>,
        label_selector: Option<&str>,
    ) -> Result<Vec<Value>, ApiError> {
        let Ok(rt) = self.rt(gvk) else { return Ok(vec![]) };
        let labels = LabelSelector::parse(label_selector.unwrap_or(""))?;
        Ok(self.cluster.list_objects(&rt, namespace, &labels, &FieldSelector::default()).0)
    }

    /// Server-side apply `object` as `manager`, taking over conflicting fields (as a controller
    /// does). Kinds the server does not know yet are learnt (plural guessed from the kind).
    pub fn apply(&self, manager: &str, object: &Value) -> Result<Value, ApiError> {
        let gvk = Gvk::of(object)
            .ok_or_else(|| ApiError::bad_request("apiVersion and kind must be set"))?;
        let name = object["metadata"]["name"]
            .as_str()
            .ok_or_else(|| ApiError::bad_request("metadata.name must be set"))?;
        let rt = match self.rt(&gvk) {
            Ok(rt) => rt,
            Err(_) => {
                let namespaced = object["metadata"]["namespace"].is_string();
                self.cluster
                    .with_catalogue(|c| c.learn(&gvk, &guess_plural(&gvk.kind), namespaced));
                self.rt(&gvk)?
            }
        };
        let ns = Self::ns(&rt, object["metadata"]["namespace"].as_str());
        let opts = WriteOptions { manager, dry_run: false, subresource: "" };
        Ok(self.cluster.patch(&rt, ns, name, PatchKind::Apply { force: true }, object, opts)?.0)
    }

    /// Replace the status of an object (`status` subresource) as `manager`.
    pub fn update_status(&self, manager: &str, object: &Value) -> Result<Value, ApiError> {
        let gvk = Gvk::of(object)
            .ok_or_else(|| ApiError::bad_request("apiVersion and kind must be set"))?;
        let rt = self.rt(&gvk)?;
        let name = object["metadata"]["name"].as_str().unwrap_or("");
        let ns = Self::ns(&rt, object["metadata"]["namespace"].as_str());
        let sub = if rt.status_subresource { "status" } else { "" };
        let opts = WriteOptions { manager, dry_run: false, subresource: sub };
        self.cluster.replace(&rt, ns, name, object.clone(), opts)
    }

    /// Delete an object (background propagation). Deleting what is not there is not an error.
    pub fn delete(&self, gvk: &Gvk, namespace: Option<&str>, name: &str) -> Result<(), ApiError> {
        let Ok(rt) = self.rt(gvk) else { return Ok(()) };
        match self.cluster.delete(&rt, Self::ns(&rt, namespace), name, &DeleteOptions::default()) {
            Ok(_) => Ok(()),
            Err(e) if e.code == 404 => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Make sure a namespace exists (e.g. `istio-system`).
    pub fn ensure_namespace(&self, name: &str) -> Result<Value, ApiError> {
        if let Some(ns) = self.get(&Gvk::new("", "v1", "Namespace"), None, name) {
            return Ok(ns);
        }
        self.apply(
            "meshform-sandbox",
            &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}),
        )
    }

    /// Set (`Some`) or remove (`None`) a label on a namespace, e.g. `istio-injection=enabled`.
    /// `manager` owns the label afterwards.
    pub fn set_namespace_label(
        &self,
        manager: &str,
        namespace: &str,
        key: &str,
        value: Option<&str>,
    ) -> Result<Value, ApiError> {
        let rt = self.cluster.type_of("", "Namespace")?;
        let opts = WriteOptions { manager, dry_run: false, subresource: "" };
        let patch = json!({"metadata": {"labels": {key: value}}});
        Ok(self.cluster.patch(&rt, "", namespace, PatchKind::Merge, &patch, opts)?.0)
    }

    /// Create or update a ConfigMap's data (e.g. `istio-ca-root-cert` with `root-cert.pem`).
    pub fn put_config_map(
        &self,
        manager: &str,
        namespace: &str,
        name: &str,
        data: &BTreeMap<String, String>,
    ) -> Result<Value, ApiError> {
        self.apply(
            manager,
            &json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": namespace}, "data": data}),
        )
    }

    /// Follow every change from now on.
    pub fn subscribe(&self) -> ChangeFeed {
        ChangeFeed { rx: self.cluster.store().subscribe() }
    }

    /// Install the handler that runs commands in pods (`pods/exec`) and produces their logs.
    pub fn set_exec_handler(&self, handler: Arc<dyn ExecHandler>) {
        self.cluster.set_exec_handler(handler);
    }

    /// Run a command in a pod's container (the default container when `None`) through the
    /// installed exec handler, as `kubectl exec` would.
    pub async fn exec(
        &self,
        namespace: &str,
        pod: &str,
        container: Option<&str>,
        command: &[&str],
    ) -> Result<ExecOutput, ApiError> {
        let rt = self.cluster.type_of("", "Pod")?;
        let pod = self.cluster.get_object(&rt, namespace, pod)?;
        let container = pick_container(&pod, container)?;
        let request = ExecRequest {
            pod,
            container,
            command: command.iter().map(|s| s.to_string()).collect(),
        };
        let handler = self.cluster.exec_handler();
        Ok(handler.exec(&request).await)
    }
}
