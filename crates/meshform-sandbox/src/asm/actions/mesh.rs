//! Mesh lifecycle actions: `CreateServiceMesh`, `DescribeServiceMeshDetail`,
//! `DescribeServiceMeshes`, `DeleteServiceMesh`, plus `DescribeVersions` and `GetCaCert`.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::{body, mesh, mesh_mut, AsmModel, Body, Ctx};
use crate::asm::ca::{self, ExistingCaParams};
use crate::asm::errors::ApiError;
use crate::asm::model::{Mesh, MeshMember, MeshState};
use crate::asm::params::Params;
use crate::asm::render;

/// The Istio versions `DescribeVersions` offers, newest first. The runbook's
/// `v1.22.6.71-g7d67a80b-aliyun` is real; the others follow ASM's naming.
pub(crate) const ISTIO_VERSIONS: &[&str] = &[
    "v1.25.3.30-g3f7c0b4e-aliyun",
    "v1.24.6.69-gb4cd1ba2-aliyun",
    "v1.22.6.71-g7d67a80b-aliyun",
    "v1.20.6.44-g5a9e2c71-aliyun",
];

const EDITIONS: &[&str] = &["Default", "Pro"];
const CLUSTER_SPECS: &[&str] = &["standard", "enterprise", "ultimate"];
const MAX_NAME_LEN: usize = 64;

pub(super) fn create_service_mesh(
    cx: &Ctx<'_>,
    model: &mut AsmModel,
    p: &Params,
) -> Result<Body, ApiError> {
    let region = p.required("RegionId")?;
    let vpc = p.required("VpcId")?;
    p.required("VSwitches")?;
    let vswitches: Vec<String> =
        p.json("VSwitches", "an array of vSwitch ids, e.g. [\"vsw-123\"]")?.unwrap_or_default();
    if vswitches.is_empty() {
        return Err(ApiError::invalid_parameter("VSwitches must name at least one vSwitch."));
    }
    let version = p.get("IstioVersion").unwrap_or(ISTIO_VERSIONS[0]);
    if !ISTIO_VERSIONS.contains(&version) {
        return Err(ApiError::invalid_parameter(format!(
            "IstioVersion \"{version}\" is not available; DescribeVersions lists: {}.",
            ISTIO_VERSIONS.join(", ")
        )));
    }
    let edition = p.one_of("Edition", EDITIONS, "Pro")?;
    let cluster_spec = p.one_of("ClusterSpec", CLUSTER_SPECS, "standard")?;
    let use_existing_ca = p.bool("UseExistingCA")?.unwrap_or(false);
    let api_server_public_eip = p.bool("ApiServerPublicEip")?.unwrap_or(false);
    let tags = p.tags()?;

    // The VPC and vSwitches must be the account's, in the region.
    let in_region: Vec<_> = cx.account.clusters.iter().filter(|c| c.region == region).collect();
    if !in_region.iter().any(|c| c.vpc_id == vpc) {
        return Err(ApiError::invalid_parameter(format!(
            "The VPC {vpc} does not exist in region {region}."
        )));
    }
    for vsw in &vswitches {
        if !in_region.iter().any(|c| c.vpc_id == vpc && &c.vswitch_id == vsw) {
            return Err(ApiError::invalid_parameter(format!(
                "The vSwitch {vsw} does not exist in VPC {vpc}."
            )));
        }
    }

    let id = format!("c{}", uuid::Uuid::new_v4().simple());
    let name = match p.get("Name") {
        Some(n) => n.to_owned(),
        None => format!("asm-{}", &id[1..9]),
    };
    if name.chars().count() > MAX_NAME_LEN {
        return Err(ApiError::invalid_parameter(format!(
            "Name must be at most {MAX_NAME_LEN} characters."
        )));
    }
    if model.meshes.values().any(|m| m.region_id == region && m.name == name) {
        return Err(ApiError::name_already_exists(&name, region));
    }

    let mut members = Vec::new();
    if let Some(guest) = p.get("GuestCluster") {
        let cluster = cx.cluster(guest)?;
        if cluster.region != region || cluster.vpc_id != vpc {
            return Err(ApiError::invalid_parameter(format!(
                "GuestCluster {guest} is in {}/{}; a cluster added at creation must be in the mesh's region and VPC ({region}/{vpc}). Add it later with AddClusterIntoServiceMesh.",
                cluster.region, cluster.vpc_id
            )));
        }
        if let Some(other) = model.managing_mesh(guest) {
            return Err(ApiError::cluster_managed_elsewhere(guest, &other.id));
        }
        members.push(MeshMember {
            cluster_id: guest.to_owned(),
            discovery_only: false,
            added_unix_ms: cx.now_unix_ms,
        });
    }

    // `UseExistingCA=false` ignores the CA parameters, as the service does.
    let ca = if use_existing_ca {
        ca::existing(&ExistingCaParams {
            ca_cert: p.get("ExistingCaCert"),
            ca_key: p.get("ExistingCaKey"),
            root_cert: p.get("ExistingRootCaCert"),
            cert_chain: p.get("CertChain"),
        })?
    } else {
        ca::generate(&id)?
    };

    let mesh = Mesh {
        id: id.clone(),
        name,
        region_id: region.to_owned(),
        vpc_id: vpc.to_owned(),
        vswitches,
        istio_version: version.to_owned(),
        edition: edition.to_owned(),
        cluster_spec: cluster_spec.to_owned(),
        cluster_domain: p.get("ClusterDomain").unwrap_or("cluster.local").to_owned(),
        state: MeshState::Initial,
        transition: Some(cx.transition()),
        created_unix_ms: cx.now_unix_ms,
        updated_unix_ms: cx.now_unix_ms,
        members,
        networks: BTreeMap::new(),
        injection: BTreeMap::new(),
        ca,
        tags,
        api_server_public_eip,
        upgrade: None,
        gateway_version: None,
        error_message: String::new(),
    };
    model.meshes.insert(id.clone(), mesh);
    Ok(body([("ServiceMeshId", Value::String(id))]))
}

pub(super) fn describe_service_mesh_detail(
    cx: &Ctx<'_>,
    model: &AsmModel,
    p: &Params,
) -> Result<Body, ApiError> {
    let mesh = mesh(model, p)?;
    let api = cx.mesh_apis.get(&mesh.id);
    Ok(body([("ServiceMesh", render::mesh_detail(mesh, api.as_ref().map(|a| a.url())))]))
}

/// Every mesh of the account (the endpoint is central: all regions), oldest first.
pub(super) fn describe_service_meshes(
    cx: &Ctx<'_>,
    model: &AsmModel,
    _p: &Params,
) -> Result<Body, ApiError> {
    let mut meshes: Vec<&Mesh> = model.meshes.values().collect();
    meshes.sort_by(|a, b| (a.created_unix_ms, &a.id).cmp(&(b.created_unix_ms, &b.id)));
    let list = meshes
        .into_iter()
        .map(|m| {
            let api = cx.mesh_apis.get(&m.id);
            render::mesh_list_entry(m, api.as_ref().map(|a| a.url()))
        })
        .collect();
    Ok(body([("ServiceMeshes", Value::Array(list))]))
}

/// `StillInitializing` while `initial`; a mesh already `deleting` answers success again (a
/// retried delete is harmless).
pub(super) fn delete_service_mesh(
    cx: &Ctx<'_>,
    model: &mut AsmModel,
    p: &Params,
) -> Result<Body, ApiError> {
    p.bool("Force")?;
    p.json::<Vec<String>>("RetainResources", "an array of resource ids")?;
    let mesh = mesh_mut(model, p)?;
    match mesh.state {
        MeshState::Initial => return Err(ApiError::still_initializing(&mesh.id)),
        MeshState::Deleting => {}
        MeshState::Running | MeshState::Upgrading | MeshState::UpgradingFailed => {
            // An upgrade in flight is abandoned with the mesh.
            mesh.upgrade = None;
            cx.start_transition(mesh, MeshState::Deleting);
        }
    }
    Ok(Body::new())
}

pub(super) fn describe_versions(
    _cx: &Ctx<'_>,
    _model: &AsmModel,
    _p: &Params,
) -> Result<Body, ApiError> {
    let info: Vec<Value> = EDITIONS
        .iter()
        .map(|edition| json!({ "Edition": edition, "Versions": ISTIO_VERSIONS }))
        .collect();
    Ok(body([("VersionInfo", Value::Array(info))]))
}

/// The mesh's signing CA certificate, base64 of PEM. Never the key.
pub(super) fn get_ca_cert(_cx: &Ctx<'_>, model: &AsmModel, p: &Params) -> Result<Body, ApiError> {
    let mesh = mesh(model, p)?;
    Ok(body([("CaCert", Value::String(ca::to_base64(&mesh.ca.ca_cert_pem)))]))
}

/// `(major, minor)` of `v1.22.6.71-…`.
pub(crate) fn istio_minor(version: &str) -> Option<(u32, u32)> {
    let mut parts = version.trim_start_matches('v').split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}
