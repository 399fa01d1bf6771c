//! The JSON shapes of the API's answers (field names and types as in the official SDK's response
//! models — the Python SDK silently drops a whole body when one nested field has the wrong type),
//! built from the model. Load balancer, security group and endpoint values are derived from the
//! mesh id: stable, realistic-looking, and not modelled further.

use serde_json::{json, Value};

use super::model::{Mesh, MeshMember};
use super::EmulatedCluster;

/// The Kubernetes version the emulated ACK clusters report.
pub(crate) const CLUSTER_VERSION: &str = "1.31.1-aliyun.1";

/// `2024-05-12T15:38:16Z`, from unix milliseconds.
pub(crate) fn iso(unix_ms: i64) -> String {
    let format =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(unix_ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(format).ok())
        .unwrap_or_default()
}

/// A short stable token derived from the mesh id, for the ids of resources the emulator does not model.
fn token(mesh: &Mesh, len: usize) -> String {
    mesh.id.chars().skip(1).take(len).collect()
}

fn octets(mesh: &Mesh) -> (u8, u8) {
    let b = mesh.id.as_bytes();
    let at = |i: usize| b.get(i).copied().unwrap_or(0);
    (at(1).wrapping_mul(7), at(2).wrapping_mul(13).max(2))
}

pub(crate) fn mesh_info(mesh: &Mesh) -> Value {
    json!({
        "ServiceMeshId": mesh.id,
        "Name": mesh.name,
        "RegionId": mesh.region_id,
        "State": mesh.state.as_api_str(),
        "Version": mesh.istio_version,
        "Profile": mesh.edition,
        "ErrorMessage": mesh.error_message,
        "CreationTime": iso(mesh.created_unix_ms),
        "UpdateTime": iso(mesh.updated_unix_ms),
    })
}

/// The API server endpoints are where the mesh's control-plane API server really listens (on
/// loopback, internal and public alike; the public one only with `ApiServerPublicEip`).
fn endpoints(mesh: &Mesh, api_server: Option<&str>) -> Value {
    let (a, b) = octets(mesh);
    let url = api_server.unwrap_or_default();
    json!({
        "IntranetApiServerEndpoint": url,
        "IntranetPilotEndpoint": format!("192.168.{a}.{b}:15010"),
        "PublicApiServerEndpoint": if mesh.api_server_public_eip { url } else { "" },
        "PublicPilotEndpoint": "",
    })
}

fn spec(mesh: &Mesh) -> Value {
    json!({
        "LoadBalancer": {
            "ApiServerLoadbalancerId": format!("lb-{}", token(mesh, 20)),
            "ApiServerPublicEip": mesh.api_server_public_eip,
            "PilotPublicEip": false,
            "PilotPublicLoadbalancerId": "",
        },
        // Only scalar fields: in the SDK's models, most others (`Edition` among them) are objects.
        "MeshConfig": {
            "EnableLocalityLB": false,
            "OutboundTrafficPolicy": "ALLOW_ANY",
            "Telemetry": false,
            "Tracing": false,
        },
        "Network": {
            "VpcId": mesh.vpc_id,
            "VSwitches": mesh.vswitches,
            "SecurityGroupId": format!("sg-{}", token(mesh, 20)),
        },
    })
}

/// `ServiceMesh` of `DescribeServiceMeshDetail`; `api_server` is the URL of the mesh's API server.
pub(crate) fn mesh_detail(mesh: &Mesh, api_server: Option<&str>) -> Value {
    json!({
        "ClusterSpec": mesh.cluster_spec,
        "Clusters": mesh.members.iter().map(|m| m.cluster_id.as_str()).collect::<Vec<_>>(),
        "Endpoints": endpoints(mesh, api_server),
        "OwnerId": "",
        "OwnerType": "",
        "ServiceMeshInfo": mesh_info(mesh),
        "Spec": spec(mesh),
    })
}

/// An entry of `ServiceMeshes` in `DescribeServiceMeshes`.
pub(crate) fn mesh_list_entry(mesh: &Mesh, api_server: Option<&str>) -> Value {
    let mut v = mesh_detail(mesh, api_server);
    if let Value::Object(map) = &mut v {
        let tags: Vec<Value> =
            mesh.tags.iter().map(|t| json!({"Key": t.key, "Value": t.value})).collect();
        map.insert("Tag".into(), Value::Array(tags));
        let upgradable = super::actions::next_istio_version(&mesh.istio_version).is_some();
        map.insert("Upgradable".into(), Value::Bool(upgradable));
    }
    v
}

/// An entry of `Clusters` in `DescribeClustersInServiceMesh`. Deliberately without any field that
/// reveals discovery-only membership: the real API has none.
pub(crate) fn member_cluster(
    mesh: &Mesh,
    member: &MeshMember,
    cluster: Option<&EmulatedCluster>,
) -> Value {
    let (name, region, vpc) = cluster
        .map(|c| (c.name.as_str(), c.region.as_str(), c.vpc_id.as_str()))
        .unwrap_or(("", "", ""));
    json!({
        "ClusterId": member.cluster_id,
        "Name": name,
        "RegionId": region,
        "VpcId": vpc,
        "State": "running",
        "ClusterType": "ManagedKubernetes",
        "ClusterDomain": mesh.cluster_domain,
        "Version": CLUSTER_VERSION,
        "ErrorMessage": mesh.error_message,
        "SgId": format!("sg-{}", member.cluster_id.chars().skip(2).take(20).collect::<String>()),
        "CreationTime": iso(member.added_unix_ms),
        "UpdateTime": iso(member.added_unix_ms),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_formats_utc_seconds() {
        assert_eq!(iso(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso(1_700_000_000_999), "2023-11-14T22:13:20Z");
    }
}
