//! Waiting for asynchronous mesh operations: poll `DescribeServiceMeshDetail` from about a second,
//! backing off to 15 s, until the state is `running` (or the mesh is gone), surfacing terminal states.

use std::time::{Duration, Instant};

use meshform_provider::{Progress, ProviderError};

use crate::client::{AsmClient, Retry};

/// States that will not become `running` by waiting.
const TERMINAL: &[&str] = &["failed", "create_timeout", "upgrading_failed"];

/// The mesh detail document.
pub async fn describe(
    client: &AsmClient,
    mesh_id: &str,
) -> Result<Option<serde_json::Value>, ProviderError> {
    match client
        .call(
            "DescribeServiceMeshDetail",
            &[("ServiceMeshId".into(), mesh_id.to_owned())],
            Retry::Idempotent,
        )
        .await
    {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e.into_provider("DescribeServiceMeshDetail")),
    }
}

/// `ServiceMesh.ServiceMeshInfo.<field>` of a detail document.
pub fn info<'a>(detail: &'a serde_json::Value, field: &str) -> Option<&'a str> {
    detail.pointer(&format!("/ServiceMesh/ServiceMeshInfo/{field}")).and_then(|v| v.as_str())
}

fn next_interval(d: Duration) -> Duration {
    (d.mul_f64(1.5)).min(Duration::from_secs(15))
}

/// Waits until the mesh is `running`; returns its detail.
pub async fn until_running(
    client: &AsmClient,
    mesh_id: &str,
    timeout: Duration,
    progress: &dyn Progress,
) -> Result<serde_json::Value, ProviderError> {
    let start = Instant::now();
    let mut interval = Duration::from_millis(1000);
    let mut last = String::from("unknown");
    loop {
        match describe(client, mesh_id).await? {
            None => {
                return Err(ProviderError::new("ServiceMesh.NotFound", format!("mesh {mesh_id} disappeared while meshform was waiting for it to be running")));
            }
            Some(d) => {
                let state = info(&d, "State").unwrap_or("unknown").to_owned();
                if state == "running" {
                    return Ok(d);
                }
                if TERMINAL.contains(&state.as_str()) {
                    let why = info(&d, "ErrorMessage").unwrap_or("no error message given");
                    return Err(ProviderError::new(
                        "MeshFailed",
                        format!("mesh {mesh_id} is in state {state}: {why}"),
                    ));
                }
                if state != last {
                    progress.status(&format!("mesh state: {state}"));
                    last = state;
                }
            }
        }
        if start.elapsed() >= timeout {
            return Err(ProviderError::new(
                "Timeout",
                format!("mesh {mesh_id} was not running after {}s (last state {last}); raise timeouts {{ create = \"…\" }} or check the mesh in the console", timeout.as_secs()),
            )
            .retryable());
        }
        tokio::time::sleep(interval.min(timeout.saturating_sub(start.elapsed()))).await;
        interval = next_interval(interval);
    }
}

/// Waits until the mesh no longer exists.
pub async fn until_gone(
    client: &AsmClient,
    mesh_id: &str,
    timeout: Duration,
    progress: &dyn Progress,
) -> Result<(), ProviderError> {
    let start = Instant::now();
    let mut interval = Duration::from_millis(1000);
    loop {
        match describe(client, mesh_id).await? {
            None => return Ok(()),
            Some(d) => {
                progress.status(&format!("mesh state: {}", info(&d, "State").unwrap_or("unknown")))
            }
        }
        if start.elapsed() >= timeout {
            return Err(ProviderError::new(
                "Timeout",
                format!("mesh {mesh_id} still exists after {}s", timeout.as_secs()),
            )
            .retryable());
        }
        tokio::time::sleep(interval.min(timeout.saturating_sub(start.elapsed()))).await;
        interval = next_interval(interval);
    }
}
