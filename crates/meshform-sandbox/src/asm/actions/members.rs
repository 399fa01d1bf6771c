//! Member cluster actions: `AddClusterIntoServiceMesh` (managed or `DiscoveryOnly`),
//! `RemoveClusterFromServiceMesh`, `DescribeClustersInServiceMesh`.
//!
//! A cluster is managed by at most one mesh (that mesh's `istio-system` is deployed there);
//! discovery-only membership has no such limit. Clusters in another region or VPC may be added
//! (the runbook's clusters expose their API servers through an EIP).

use serde_json::{json, Value};

use super::{body, mesh, mesh_mut, require_running, AsmModel, Body, Ctx};
use crate::asm::errors::ApiError;
use crate::asm::model::{MeshMember, MeshState};
use crate::asm::params::Params;
use crate::asm::render;

/// The success body of both membership changes: `Code` 200 beside `RequestId` (the HTTP status, not
/// `Code`, says whether a call failed).
fn accepted() -> Body {
    body([("Code", json!(200)), ("Message", json!("successful"))])
}

pub(super) fn add_cluster_into_service_mesh(
    cx: &Ctx<'_>,
    model: &mut AsmModel,
    p: &Params,
) -> Result<Body, ApiError> {
    let cluster_id = p.required("ClusterId")?;
    let discovery_only = p.bool("DiscoveryOnly")?.unwrap_or(false);
    p.bool("IgnoreNamespaceCheck")?;
    if p.get("Kubeconfig").is_some() {
        return Err(ApiError::invalid_parameter(
            "Kubeconfig is for clusters outside Alibaba Cloud; this account has only ACK clusters: pass ClusterId alone.",
        ));
    }
    let mesh_id = mesh(model, p)?.id.clone();
    cx.cluster(cluster_id)?;
    if !discovery_only {
        if let Some(other) = model.managing_mesh(cluster_id).filter(|m| m.id != mesh_id) {
            return Err(ApiError::cluster_managed_elsewhere(cluster_id, &other.id));
        }
    }
    let mesh = mesh_mut(model, p)?;
    require_running(mesh)?;
    if mesh.member(cluster_id).is_some() {
        return Err(ApiError::cluster_already_member(cluster_id, &mesh.id));
    }
    mesh.members.push(MeshMember {
        cluster_id: cluster_id.to_owned(),
        discovery_only,
        added_unix_ms: cx.now_unix_ms,
    });
    cx.start_transition(mesh, MeshState::Upgrading);
    Ok(accepted())
}

/// Removes the member and its network entry.
pub(super) fn remove_cluster_from_service_mesh(
    cx: &Ctx<'_>,
    model: &mut AsmModel,
    p: &Params,
) -> Result<Body, ApiError> {
    let cluster_id = p.required("ClusterId")?;
    p.bool("ReserveNamespace")?;
    let mesh = mesh_mut(model, p)?;
    require_running(mesh)?;
    if mesh.member(cluster_id).is_none() {
        return Err(ApiError::not_a_member(cluster_id, &mesh.id));
    }
    mesh.members.retain(|m| m.cluster_id != cluster_id);
    mesh.networks.remove(cluster_id);
    cx.start_transition(mesh, MeshState::Upgrading);
    Ok(accepted())
}

pub(super) fn describe_clusters_in_service_mesh(
    cx: &Ctx<'_>,
    model: &AsmModel,
    p: &Params,
) -> Result<Body, ApiError> {
    let mesh = mesh(model, p)?;
    let clusters: Vec<Value> = mesh
        .members
        .iter()
        .map(|m| {
            let cluster = cx.account.clusters.iter().find(|c| c.id == m.cluster_id);
            render::member_cluster(mesh, m, cluster)
        })
        .collect();
    Ok(body([("Clusters", Value::Array(clusters))]))
}
