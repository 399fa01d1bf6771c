//! Running a command in a workload through `pods/exec` (the websocket call `kubectl exec` makes): how
//! `check` blocks ask a pod to `curl` a service across the mesh.

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, AttachParams, ListParams};
use meshform_provider::{ErrorKind, ProviderError};
use tokio::io::AsyncReadExt;

use crate::cluster::Cluster;
use crate::objects::ObjectRef;

/// What one run of a command produced.
#[derive(Clone, Debug, PartialEq)]
pub struct ExecResult {
    pub pod: String,
    pub stdout: String,
    pub stderr: String,
    pub exit_code: i64,
}

/// The pod to run in: the named one, or a running pod of the named Deployment.
pub async fn target_pod(
    cluster: &Cluster,
    namespace: &str,
    pod: Option<&str>,
    deployment: Option<&str>,
) -> Result<Pod, ProviderError> {
    let pods: Api<Pod> = Api::namespaced(cluster.client.clone(), namespace);
    let r = |kind: &str, name: &str| ObjectRef {
        api_version: "v1".into(),
        kind: kind.into(),
        namespace: Some(namespace.into()),
        name: name.into(),
    };
    if let Some(p) = pod {
        return pods.get(p).await.map_err(|e| cluster.error("reading", &r("Pod", p), e));
    }
    let Some(d) = deployment else {
        return Err(ProviderError::invalid_config("deployment", "give pod or deployment"));
    };
    let dref = ObjectRef {
        api_version: "apps/v1".into(),
        kind: "Deployment".into(),
        namespace: Some(namespace.into()),
        name: d.into(),
    };
    let dep = cluster.get(&dref).await?.ok_or_else(|| {
        ProviderError::new(
            ErrorKind::NotFound,
            "NotFound",
            format!("cluster {}: {} does not exist", cluster.name, dref.describe()),
        )
    })?;
    let labels = dep
        .pointer("/spec/selector/matchLabels")
        .and_then(|m| m.as_object())
        .cloned()
        .unwrap_or_default();
    let selector: Vec<String> =
        labels.iter().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default())).collect();
    let list = pods
        .list(&ListParams::default().labels(&selector.join(",")))
        .await
        .map_err(|e| cluster.error("listing pods of", &dref, e))?;
    let mut running: Vec<Pod> = list
        .items
        .into_iter()
        .filter(|p| {
            p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")
                && p.metadata.deletion_timestamp.is_none()
        })
        .collect();
    running.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    running.into_iter().next().ok_or_else(|| {
        ProviderError::new(
            ErrorKind::Unavailable,
            "NoPod",
            format!("cluster {}: {} has no running pod", cluster.name, dref.describe()),
        )
    })
}

/// Runs `command` once in the pod's container.
pub async fn run(
    cluster: &Cluster,
    pod: &Pod,
    container: Option<&str>,
    command: &[String],
) -> Result<ExecResult, ProviderError> {
    let name = pod.metadata.name.clone().unwrap_or_default();
    let ns = pod.metadata.namespace.clone().unwrap_or_else(|| cluster.default_namespace.clone());
    let container = container
        .map(str::to_owned)
        .or_else(|| {
            pod.metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get("kubectl.kubernetes.io/default-container").cloned())
        })
        .or_else(|| pod.spec.as_ref().and_then(|s| s.containers.first()).map(|c| c.name.clone()));
    let pods: Api<Pod> = Api::namespaced(cluster.client.clone(), &ns);
    let mut ap = AttachParams::default().stdout(true).stderr(true).stdin(false);
    if let Some(c) = &container {
        ap = ap.container(c.clone());
    }
    let r = ObjectRef {
        api_version: "v1".into(),
        kind: "Pod".into(),
        namespace: Some(ns.clone()),
        name: name.clone(),
    };
    let mut proc = pods
        .exec(&name, command.to_vec(), &ap)
        .await
        .map_err(|e| cluster.error("exec in", &r, e))?;
    let mut out_stream = proc.stdout();
    let mut err_stream = proc.stderr();
    let status = proc.take_status();
    let read_out = async {
        let mut s = String::new();
        if let Some(o) = out_stream.as_mut() {
            let _ = o.read_to_string(&mut s).await;
        }
        s
    };
    let read_err = async {
        let mut s = String::new();
        if let Some(e) = err_stream.as_mut() {
            let _ = e.read_to_string(&mut s).await;
        }
        s
    };
    let (stdout, stderr) = tokio::join!(read_out, read_err);
    let status = match status {
        Some(f) => f.await,
        None => None,
    };
    let _ = proc.join().await;
    let exit_code = match status {
        Some(s) if s.status.as_deref() == Some("Success") => 0,
        Some(s) => s
            .details
            .as_ref()
            .and_then(|d| d.causes.as_ref())
            .and_then(|cs| cs.iter().find(|c| c.reason.as_deref() == Some("ExitCode")))
            .and_then(|c| c.message.as_deref().and_then(|m| m.parse().ok()))
            .unwrap_or(1),
        None => 0,
    };
    Ok(ExecResult { pod: name, stdout, stderr, exit_code })
}
