//! The actions of the emulated ASM API (version `2020-01-11`), one function each, and the table
//! that maps an action name to its function. Read actions see the model; write actions get a copy
//! to change, which the server persists and publishes only when the action succeeds — a failed
//! action changes nothing.
//!
//! Rules the reference leaves open, decided here:
//! - Every mutation other than `DeleteServiceMesh` needs the mesh `running`
//!   (`InvalidActiveState.ServiceMesh` otherwise).
//! - Adding or removing a cluster puts the mesh in `upgrading` (the console's "Updating") for the
//!   transition delay; network and injection updates take effect at once.
//! - Injection is read back with the real action `DescribeGuestClusterNamespaces` (`ShowNsLabels`):
//!   `UpdateIstioInjectionConfig` acts on namespace labels, which that action reports.
//! - `DescribeServiceMeshKubeconfig` answers in every state of the mesh (its API server runs from
//!   creation to deletion), and for `PrivateIpAddress` true or false alike: on loopback the
//!   internal and the public endpoint are the same.
//! - In-place upgrades (`upgrade`): see that module for what the reference leaves open.

mod kubeconfig;
mod members;
mod mesh;
mod settings;
mod upgrade;

use std::time::Duration;

use serde_json::{Map, Value};

use super::errors::ApiError;
use super::meshapi::MeshApis;
use super::model::{AsmModel, Mesh, MeshState, Transition};
use super::params::Params;
use super::{Account, EmulatedCluster};

/// The fields of a successful answer (the server adds `RequestId`).
pub(crate) type Body = Map<String, Value>;

type ReadFn = fn(&Ctx<'_>, &AsmModel, &Params) -> Result<Body, ApiError>;
type WriteFn = fn(&Ctx<'_>, &mut AsmModel, &Params) -> Result<Body, ApiError>;

pub(crate) enum Handler {
    Read(ReadFn),
    Write(WriteFn),
}

/// The action's function, or `None` for an action the emulator does not know.
pub(crate) fn handler(action: &str) -> Option<Handler> {
    use Handler::{Read, Write};
    Some(match action {
        "CreateServiceMesh" => Write(mesh::create_service_mesh),
        "DescribeServiceMeshDetail" => Read(mesh::describe_service_mesh_detail),
        "DescribeServiceMeshes" => Read(mesh::describe_service_meshes),
        "DeleteServiceMesh" => Write(mesh::delete_service_mesh),
        "DescribeVersions" => Read(mesh::describe_versions),
        "GetCaCert" => Read(mesh::get_ca_cert),
        "AddClusterIntoServiceMesh" => Write(members::add_cluster_into_service_mesh),
        "RemoveClusterFromServiceMesh" => Write(members::remove_cluster_from_service_mesh),
        "DescribeClustersInServiceMesh" => Read(members::describe_clusters_in_service_mesh),
        "UpdateMeshMultiClusterNetwork" => Write(settings::update_mesh_multi_cluster_network),
        "DescribeMeshMultiClusterNetwork" => Read(settings::describe_mesh_multi_cluster_network),
        "UpdateIstioInjectionConfig" => Write(settings::update_istio_injection_config),
        "DescribeGuestClusterNamespaces" => Read(settings::describe_guest_cluster_namespaces),
        "DescribeServiceMeshKubeconfig" => Read(kubeconfig::describe_service_mesh_kubeconfig),
        "DescribeUpgradeVersion" => Read(upgrade::describe_upgrade_version),
        "UpgradeMeshEditionPartially" => Write(upgrade::upgrade_mesh_edition_partially),
        "DescribeServiceMeshUpgradeStatus" => Read(upgrade::describe_service_mesh_upgrade_status),
        _ => return None,
    })
}

/// The Istio versions `DescribeVersions` offers (newest first).
pub(crate) fn istio_versions() -> &'static [&'static str] {
    mesh::ISTIO_VERSIONS
}

/// The version an in-place upgrade from `version` moves to.
pub(crate) fn next_istio_version(version: &str) -> Option<&'static str> {
    upgrade::next_version(version)
}

/// What an action may know besides the model and its parameters.
pub(crate) struct Ctx<'a> {
    pub account: &'a Account,
    pub now_unix_ms: i64,
    pub transition_delay: Duration,
    /// The meshes' control-plane API servers (their URLs and kubeconfigs).
    pub mesh_apis: &'a MeshApis,
}

impl Ctx<'_> {
    /// A transition due after the configured delay.
    fn transition(&self) -> Transition {
        let delay = i64::try_from(self.transition_delay.as_millis()).unwrap_or(i64::MAX);
        Transition { due_unix_ms: self.now_unix_ms.saturating_add(delay) }
    }

    fn cluster(&self, id: &str) -> Result<&EmulatedCluster, ApiError> {
        self.account
            .clusters
            .iter()
            .find(|c| c.id == id)
            .ok_or_else(|| ApiError::cluster_not_found(id))
    }

    /// Puts a mesh through `state` and back to `running` after the delay.
    fn start_transition(&self, mesh: &mut Mesh, state: MeshState) {
        mesh.state = state;
        mesh.transition = Some(self.transition());
        mesh.updated_unix_ms = self.now_unix_ms;
    }
}

/// The mesh named by `ServiceMeshId`.
fn mesh<'m>(model: &'m AsmModel, p: &Params) -> Result<&'m Mesh, ApiError> {
    let id = p.required("ServiceMeshId")?;
    model.meshes.get(id).ok_or_else(|| ApiError::mesh_not_found(id))
}

fn mesh_mut<'m>(model: &'m mut AsmModel, p: &Params) -> Result<&'m mut Mesh, ApiError> {
    let id = p.required("ServiceMeshId")?;
    model.meshes.get_mut(id).ok_or_else(|| ApiError::mesh_not_found(id))
}

fn require_running(mesh: &Mesh) -> Result<(), ApiError> {
    match mesh.state {
        MeshState::Running => Ok(()),
        other => Err(ApiError::not_running(&mesh.id, other.as_api_str())),
    }
}

/// Builds a body from `(name, value)` pairs.
fn body<const N: usize>(fields: [(&str, Value); N]) -> Body {
    fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

#[cfg(test)]
mod tests;
