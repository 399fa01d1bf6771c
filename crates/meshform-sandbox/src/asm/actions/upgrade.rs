//! In-place version upgrades: `DescribeUpgradeVersion`, `UpgradeMeshEditionPartially` and
//! `DescribeServiceMeshUpgradeStatus`.
//!
//! As the reference describes: an in-place upgrade moves the control plane to the *next adjacent*
//! version (the next newer entry of [`ISTIO_VERSIONS`]); the caller cannot choose another target,
//! `ExpectedVersion` only asserts the computed one (`UpgradedVersion.NotExpected` otherwise), so a
//! skip or a downgrade is refused. The mesh is `upgrading` for the transition delay (its data plane
//! keeps serving), then `running` on the new version — or, with an injected failure,
//! `upgrading_failed` on the old one with an `ErrorMessage`; from there another upgrade (or a
//! deletion) is accepted.
//!
//! Decided here where the reference is silent: `DescribeUpgradeVersion` reports empty strings when
//! the mesh already runs the newest version, and `UpgradeMeshEditionPartially` then answers
//! `UpgradedVersion.NotExpected` too; the gateways reported are the mesh's cross-cluster gateway
//! (when a cluster reaches it through one) and those named in `AllIstioGatewayFullNames`;
//! `SwitchToPro` (deprecated) is parsed and ignored.

use serde_json::{json, Map, Value};

use super::mesh::ISTIO_VERSIONS;
use super::{body, mesh, mesh_mut, AsmModel, Body, Ctx};
use crate::asm::errors::ApiError;
use crate::asm::model::{Mesh, MeshState, Upgrade};
use crate::asm::params::Params;
use crate::asm::render;

/// The next newer version of [`ISTIO_VERSIONS`] (listed newest first).
pub(crate) fn next_version(version: &str) -> Option<&'static str> {
    let i = ISTIO_VERSIONS.iter().position(|v| *v == version)?;
    i.checked_sub(1).and_then(|j| ISTIO_VERSIONS.get(j)).copied()
}

pub(super) fn describe_upgrade_version(
    _cx: &Ctx<'_>,
    model: &AsmModel,
    p: &Params,
) -> Result<Body, ApiError> {
    let mesh = mesh(model, p)?;
    let target = next_version(&mesh.istio_version).unwrap_or_default();
    let kubernetes = if target.is_empty() { "" } else { render::CLUSTER_VERSION };
    Ok(body([(
        "Version",
        json!({
            "IstioVersion": target,
            "IstioOperatorVersion": target,
            "KubernetesVersion": kubernetes,
        }),
    )]))
}

pub(super) fn upgrade_mesh_edition_partially(
    cx: &Ctx<'_>,
    model: &mut AsmModel,
    p: &Params,
) -> Result<Body, ApiError> {
    let pre_check = p.bool("PreCheck")?.unwrap_or(false);
    let gateways = p.bool("ASMGatewayContinue")?.unwrap_or(false);
    p.bool("SwitchToPro")?;
    gateway_names(p, "UpgradeGatewayRecords")?;
    let mesh = mesh_mut(model, p)?;
    match mesh.state {
        MeshState::Running | MeshState::UpgradingFailed => {}
        other => return Err(ApiError::not_running(&mesh.id, other.as_api_str())),
    }
    let Some(target) = next_version(&mesh.istio_version) else {
        return Err(not_expected(format!(
            "The service mesh {} already runs {}, the newest version; there is nothing to upgrade to.",
            mesh.id, mesh.istio_version
        )));
    };
    if let Some(expected) = p.get("ExpectedVersion") {
        if expected != target {
            let why = match ISTIO_VERSIONS.iter().position(|v| *v == expected) {
                None => "it is not a version ASM offers",
                Some(i)
                    if Some(i) >= ISTIO_VERSIONS.iter().position(|v| *v == mesh.istio_version) =>
                {
                    "a mesh cannot be downgraded"
                }
                Some(_) => {
                    "an in-place upgrade moves to the next version only, without skipping one"
                }
            };
            return Err(not_expected(format!(
                "The expected version {expected} is not the version service mesh {} upgrades to from {}: that is {target} ({why}).",
                mesh.id, mesh.istio_version
            )));
        }
    }
    if pre_check {
        return Ok(Body::new());
    }
    mesh.upgrade = Some(Upgrade {
        from_version: mesh.istio_version.clone(),
        to_version: target.to_owned(),
        gateways,
    });
    mesh.error_message.clear();
    cx.start_transition(mesh, MeshState::Upgrading);
    Ok(Body::new())
}

pub(super) fn describe_service_mesh_upgrade_status(
    _cx: &Ctx<'_>,
    model: &AsmModel,
    p: &Params,
) -> Result<Body, ApiError> {
    let mesh = mesh(model, p)?;
    let mut gateways = gateway_names(p, "AllIstioGatewayFullNames")?;
    if mesh.networks.values().any(|n| n.enable_gateway) {
        let own = format!("istio-system:{}", mesh.gateway_name());
        if !gateways.contains(&own) {
            gateways.insert(0, own);
        }
    }
    let (status, version) = gateway_status(mesh);
    let records: Map<String, Value> = gateways
        .iter()
        .map(|g| (g.clone(), json!({ "Status": status, "Message": "", "Version": version })))
        .collect();
    let finished = if status == "finished" { records.len() } else { 0 };
    Ok(body([(
        "UpgradeDetail",
        json!({
            "MeshStatus": mesh.state.as_api_str(),
            "TotalGatewaysNum": records.len(),
            "FinishedGatewaysNum": finished,
            "GatewayStatusRecord": records,
        }),
    )]))
}

/// The status and version every gateway of the mesh reports.
fn gateway_status(mesh: &Mesh) -> (&'static str, &str) {
    match (&mesh.upgrade, mesh.state) {
        (Some(up), MeshState::Upgrading) if up.gateways => ("upgrading", mesh.gateways_version()),
        (Some(up), MeshState::UpgradingFailed) if up.gateways => {
            ("failed", mesh.gateways_version())
        }
        _ if mesh.gateway_version.is_some() => ("notStart", mesh.gateways_version()),
        _ => ("finished", mesh.gateways_version()),
    }
}

/// A comma-separated list of gateways written `namespace:name`.
fn gateway_names(p: &Params, name: &str) -> Result<Vec<String>, ApiError> {
    let Some(list) = p.get(name) else { return Ok(Vec::new()) };
    list.split(',')
        .map(str::trim)
        .filter(|g| !g.is_empty())
        .map(|g| match g.split_once(':') {
            Some((ns, n)) if !ns.is_empty() && !n.is_empty() && !n.contains(':') => Ok(g.to_owned()),
            _ => Err(ApiError::invalid_parameter(format!(
                "The parameter {name} lists gateways as namespace:name, separated by commas; \"{g}\" is not one."
            ))),
        })
        .collect()
}

fn not_expected(message: String) -> ApiError {
    ApiError::new(400, "UpgradedVersion.NotExpected", message)
}
