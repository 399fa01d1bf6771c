//! In-place upgrades of `asm_service_mesh.istio_version`.
//!
//! ASM computes the version a mesh upgrades to itself — the next one it offers — and
//! `UpgradeMeshEditionPartially`'s `ExpectedVersion` only asserts it. So the plan asks
//! `DescribeUpgradeVersion` and refuses any other target (a skip, a downgrade, the newest version
//! already running) with the allowed one named; apply calls the upgrade with that target and waits
//! on `DescribeServiceMeshUpgradeStatus` until the mesh runs it. A failed upgrade is an error and the
//! mesh keeps its old version (so does the state).

use std::cmp::Ordering;
use std::time::Duration;

use meshform_core::Value;
use meshform_provider::{ErrorKind, Progress, ProviderError};

use crate::client::{AsmClient, Retry};
use crate::mesh::{self, timeout};
use crate::wait::{self, info};

/// How long an upgrade may take (`timeouts { update = "…" }`).
pub const DEFAULT_UPDATE_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// The numeric parts of `v1.22.6.71-g7d67a80b-aliyun`: `[1, 22, 6, 71]`.
fn numbers(version: &str) -> Vec<u64> {
    let core = version.trim_start_matches('v').split('-').next().unwrap_or_default();
    core.split('.').map_while(|p| p.parse().ok()).collect()
}

/// Orders two ASM versions by their numbers (`None` when either has none).
pub fn compare(a: &str, b: &str) -> Option<Ordering> {
    let (a, b) = (numbers(a), numbers(b));
    (!a.is_empty() && !b.is_empty()).then(|| a.cmp(&b))
}

/// The version `DescribeUpgradeVersion` says the mesh upgrades to (`None`: it runs the newest).
pub async fn allowed_target(
    client: &AsmClient,
    mesh_id: &str,
) -> Result<Option<String>, ProviderError> {
    let params = [("ServiceMeshId".to_owned(), mesh_id.to_owned())];
    // A plan-time read: an unavailable control plane is recognised quickly, as a refresh's is.
    let resp = client.call("DescribeUpgradeVersion", &params, Retry::Read).await?;
    Ok(resp
        .pointer("/Version/IstioVersion")
        .and_then(|v| v.as_str())
        .filter(|v| !v.is_empty())
        .map(str::to_owned))
}

/// Why moving mesh `mesh_id` from `from` to `to` is not an allowed in-place upgrade, or `None`
/// when `to` is the allowed target.
pub fn refusal(mesh_id: &str, from: &str, to: &str, allowed: Option<&str>) -> Option<String> {
    if allowed == Some(to) {
        return None;
    }
    let next = match allowed {
        Some(a) => format!("the only version it can be upgraded to in place is {a}"),
        None => {
            format!("{from} is the newest version ASM offers it, so there is nothing to upgrade to")
        }
    };
    let why = match compare(to, from) {
        Some(Ordering::Less) => format!(
            "ASM cannot downgrade a mesh: mesh {mesh_id} runs {from}, and {to} is older; {next}. To run an older version, replace the mesh (apply with -replace)"
        ),
        Some(Ordering::Greater) if allowed.is_some() => format!(
            "ASM upgrades a mesh in place one version at a time: mesh {mesh_id} runs {from} and {next}; set istio_version to it, apply, then continue towards {to}"
        ),
        _ => format!("mesh {mesh_id} runs {from}: {to} is not an allowed upgrade; {next}"),
    };
    Some(format!("cannot change istio_version to {to}: {why}"))
}

/// Plan-time check of a change of `istio_version` on an existing mesh.
pub async fn check(
    client: &AsmClient,
    mesh_id: &str,
    from: &str,
    to: &str,
) -> Result<(), ProviderError> {
    let allowed = allowed_target(client, mesh_id).await?;
    match refusal(mesh_id, from, to, allowed.as_deref()) {
        None => Ok(()),
        Some(why) => Err(ProviderError::invalid_config("istio_version", why)),
    }
}

/// Upgrades the mesh of `prior` to `planned`'s `istio_version` and waits until it runs it; returns
/// the mesh read back.
pub async fn apply(
    client: &AsmClient,
    prior: &Value,
    planned: &Value,
    progress: &dyn Progress,
) -> Result<Value, ProviderError> {
    let (Some(id), Some(to)) = (prior.get_str("id"), planned.get_str("istio_version")) else {
        return Err(ProviderError::invalid_config(
            "istio_version",
            "an upgrade needs the mesh's id and a known target version",
        ));
    };
    let from = prior.get_str("istio_version").unwrap_or("its current version");
    let gateways = planned.get("upgrade_gateways").and_then(Value::as_bool) == Some(true);
    let limit = timeout(planned, "update", DEFAULT_UPDATE_TIMEOUT);
    let start = std::time::Instant::now();
    let with = if gateways { " with its gateways" } else { "" };
    progress.status(&format!("upgrading mesh {id} from {from} to {to}{with}"));
    let params = [
        ("ServiceMeshId".to_owned(), id.to_owned()),
        ("ExpectedVersion".to_owned(), to.to_owned()),
        ("ASMGatewayContinue".to_owned(), gateways.to_string()),
    ];
    match client.call_when_idle("UpgradeMeshEditionPartially", &params, limit, progress).await {
        Ok(_) => {}
        // A retried call whose first attempt went through: the mesh may already run `to`.
        Err(e) if e.code == "UpgradedVersion.NotExpected" => {
            let runs = wait::describe(client, id, Retry::Idempotent).await?;
            if runs.as_ref().and_then(|d| info(d, "Version")) != Some(to) {
                return Err(ProviderError::new(
                    ErrorKind::InvalidArgument,
                    &e.code,
                    format!("ASM refused to upgrade mesh {id} to {to}: {}", e.message),
                ));
            }
        }
        Err(e) => return Err(e),
    }
    wait::until_upgraded(client, id, to, limit.saturating_sub(start.elapsed()), progress).await?;
    progress.status(&format!("mesh {id} runs {to}"));
    match mesh::read(client, id, planned, Retry::Idempotent).await? {
        Some(v) => Ok(v),
        None => Err(ProviderError::new(
            ErrorKind::NotFound,
            "ServiceMesh.NotFound",
            format!("mesh {id} disappeared after its upgrade"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V20: &str = "v1.20.6.44-g5a9e2c71-aliyun";
    const V22: &str = "v1.22.6.71-g7d67a80b-aliyun";
    const V24: &str = "v1.24.6.69-gb4cd1ba2-aliyun";
    const V25: &str = "v1.25.3.30-g3f7c0b4e-aliyun";

    #[test]
    fn versions_compare_by_their_numbers() {
        assert_eq!(compare(V22, V24), Some(Ordering::Less));
        assert_eq!(compare(V25, V24), Some(Ordering::Greater));
        assert_eq!(compare("1.22.6.71", V22), Some(Ordering::Equal));
        assert_eq!(compare("latest", V22), None);
    }

    #[test]
    fn only_the_allowed_target_passes_and_the_refusal_names_it() {
        assert_eq!(refusal("m", V22, V24, Some(V24)), None);
        let skip = refusal("m", V22, V25, Some(V24)).unwrap();
        assert!(skip.contains("one version at a time") && skip.contains(V24), "{skip}");
        let down = refusal("m", V22, V20, Some(V24)).unwrap();
        assert!(down.contains("cannot downgrade") && down.contains(V24), "{down}");
        let newest = refusal("m", V25, "v1.26.0.1", None).unwrap();
        assert!(newest.contains("nothing to upgrade to"), "{newest}");
        let odd = refusal("m", V22, "latest", Some(V24)).unwrap();
        assert!(odd.contains("not an allowed upgrade") && odd.contains(V24), "{odd}");
    }
}
