//! Waiting for asynchronous mesh operations: poll `DescribeServiceMeshDetail` (through the shared
//! [`wait_until`]) from about a second, backing off to 15 s, until the state is `running` (or the mesh
//! is gone), surfacing terminal states.

use std::sync::Mutex;
use std::time::Duration;

use meshform_core::sync::lock;
use meshform_provider::{wait_until, ErrorKind, Poll, Progress, ProviderError, WaitPolicy};

use crate::client::{AsmClient, Retry};

/// States that will not become `running` by waiting.
const TERMINAL: &[&str] = &["failed", "create_timeout", "upgrading_failed"];

/// The mesh detail document (`None` when the mesh does not exist).
pub async fn describe(
    client: &AsmClient,
    mesh_id: &str,
    retry: Retry,
) -> Result<Option<serde_json::Value>, ProviderError> {
    match client
        .call("DescribeServiceMeshDetail", &[("ServiceMeshId".into(), mesh_id.to_owned())], retry)
        .await
    {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.kind == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// `ServiceMesh.ServiceMeshInfo.<field>` of a detail document.
pub fn info<'a>(detail: &'a serde_json::Value, field: &str) -> Option<&'a str> {
    detail.pointer(&format!("/ServiceMesh/ServiceMeshInfo/{field}")).and_then(|v| v.as_str())
}

fn policy(timeout: Duration) -> WaitPolicy {
    WaitPolicy::backing_off(Duration::from_millis(1000), Duration::from_secs(15), timeout)
}

fn state_of(d: &serde_json::Value) -> String {
    info(d, "State").unwrap_or("unknown").to_owned()
}

/// Waits until the mesh is `running`; returns its detail. A timeout names `timeouts { create }`.
pub async fn until_running(
    client: &AsmClient,
    mesh_id: &str,
    timeout: Duration,
    progress: &dyn Progress,
) -> Result<serde_json::Value, ProviderError> {
    until_running_for(client, mesh_id, "create", timeout, progress).await
}

/// [`until_running`] within the timeout of operation `op` (`create`, `update`), which a timeout's
/// message tells the user to raise.
pub async fn until_running_for(
    client: &AsmClient,
    mesh_id: &str,
    op: &str,
    timeout: Duration,
    progress: &dyn Progress,
) -> Result<serde_json::Value, ProviderError> {
    let last = Mutex::new(String::from("unknown"));
    let check = || async {
        let Some(d) = describe(client, mesh_id, Retry::Idempotent).await? else {
            return Err(ProviderError::new(
                ErrorKind::NotFound,
                "ServiceMesh.NotFound",
                format!(
                    "mesh {mesh_id} disappeared while meshform was waiting for it to be running"
                ),
            ));
        };
        let state = state_of(&d);
        if state == "running" {
            return Ok(Poll::Ready(d));
        }
        if TERMINAL.contains(&state.as_str()) {
            let why = info(&d, "ErrorMessage").unwrap_or("no error message given");
            return Err(ProviderError::new(
                ErrorKind::Failed,
                "MeshFailed",
                format!("mesh {mesh_id} is in state {state}: {why}"),
            ));
        }
        *lock(&last) = state.clone();
        Ok(Poll::Pending(format!("mesh state: {state}")))
    };
    wait_until(policy(timeout), progress, check, |_| {
        format!("mesh {mesh_id} was not running after {}s (last state {}); raise timeouts {{ {op} = \"…\" }} or check the mesh in the console", timeout.as_secs(), lock(&last))
    })
    .await
}

/// Waits until an upgrade of the mesh to `version` is over: polls
/// `DescribeServiceMeshUpgradeStatus`, reporting the mesh status and the gateways' progress, until
/// the mesh is `running` on `version`. `upgrading_failed`, or `running` on another version with an
/// `ErrorMessage`, is an error that carries that message.
pub async fn until_upgraded(
    client: &AsmClient,
    mesh_id: &str,
    version: &str,
    timeout: Duration,
    progress: &dyn Progress,
) -> Result<(), ProviderError> {
    let last = Mutex::new(String::from("unknown"));
    let params = [("ServiceMeshId".to_owned(), mesh_id.to_owned())];
    let check = || async {
        let status =
            client.call("DescribeServiceMeshUpgradeStatus", &params, Retry::Idempotent).await?;
        let detail = status.get("UpgradeDetail");
        let field = |k: &str| detail.and_then(|d| d.get(k));
        let mesh_status = field("MeshStatus").and_then(|v| v.as_str()).unwrap_or("unknown");
        *lock(&last) = mesh_status.to_owned();
        if mesh_status == "running" || mesh_status == "upgrading_failed" {
            let Some(d) = describe(client, mesh_id, Retry::Idempotent).await? else {
                return Err(ProviderError::new(
                    ErrorKind::NotFound,
                    "ServiceMesh.NotFound",
                    format!("mesh {mesh_id} disappeared during its upgrade"),
                ));
            };
            let runs = info(&d, "Version").unwrap_or("an unknown version");
            let why = info(&d, "ErrorMessage").filter(|m| !m.is_empty());
            if mesh_status == "running" && runs == version {
                return Ok(Poll::Ready(()));
            }
            if mesh_status == "upgrading_failed" || why.is_some() {
                return Err(ProviderError::new(
                    ErrorKind::Failed,
                    "UpgradeFailed",
                    format!(
                        "the upgrade of mesh {mesh_id} to {version} failed: it is {mesh_status} on {runs} ({}); fix the cause and apply again to retry the upgrade",
                        why.unwrap_or("no error message given")
                    ),
                ));
            }
            // Running on the old version, no error: the upgrade has not started yet.
        }
        let total = field("TotalGatewaysNum").and_then(serde_json::Value::as_u64).unwrap_or(0);
        let done = field("FinishedGatewaysNum").and_then(serde_json::Value::as_u64).unwrap_or(0);
        let gateways =
            if total > 0 { format!(", gateways upgraded {done}/{total}") } else { String::new() };
        Ok(Poll::Pending(format!("upgrade to {version}: mesh status {mesh_status}{gateways}")))
    };
    wait_until(policy(timeout), progress, check, |_| {
        format!("mesh {mesh_id} had not finished upgrading to {version} after {}s (last status {}); raise timeouts {{ update = \"…\" }} or check the mesh in the console", timeout.as_secs(), lock(&last))
    })
    .await
}

/// Waits until the mesh no longer exists.
pub async fn until_gone(
    client: &AsmClient,
    mesh_id: &str,
    timeout: Duration,
    progress: &dyn Progress,
) -> Result<(), ProviderError> {
    let check = || async {
        Ok(match describe(client, mesh_id, Retry::Idempotent).await? {
            None => Poll::Ready(()),
            Some(d) => Poll::Pending(format!("mesh state: {}", state_of(&d))),
        })
    };
    wait_until(policy(timeout), progress, check, |_| {
        format!("mesh {mesh_id} still exists after {}s", timeout.as_secs())
    })
    .await
}
