//! Mesh settings: the multi-cluster network (`UpdateMeshMultiClusterNetwork`,
//! `DescribeMeshMultiClusterNetwork`) and per-namespace sidecar injection
//! (`UpdateIstioInjectionConfig`, read back through `DescribeGuestClusterNamespaces`).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Map, Value};

use super::mesh::istio_minor;
use super::{body, mesh, mesh_mut, require_running, AsmModel, Body, Ctx};
use crate::asm::errors::ApiError;
use crate::asm::model::{ClusterNetwork, Injection};
use crate::asm::params::Params;

/// The oldest ASM minor version with multi-cluster networks.
const NETWORK_MIN_VERSION: (u32, u32) = (1, 22);

/// Namespaces every member cluster has.
const BASE_NAMESPACES: &[&str] = &["default", "kube-node-lease", "kube-public", "kube-system"];

/// Replaces the whole configuration with the one given (a cluster left out has no network entry
/// afterwards). Every key must be a member cluster.
pub(super) fn update_mesh_multi_cluster_network(
    cx: &Ctx<'_>,
    model: &mut AsmModel,
    p: &Params,
) -> Result<Body, ApiError> {
    let given: Map<String, Value> = p
        .json("MultiClusterNetworks", "an object keyed by cluster id")?
        .ok_or_else(|| ApiError::missing_parameter("MultiClusterNetworks"))?;
    let mesh = mesh_mut(model, p)?;
    require_running(mesh)?;
    if istio_minor(&mesh.istio_version).is_some_and(|v| v < NETWORK_MIN_VERSION) {
        return Err(ApiError::invalid_parameter(format!(
            "Multi-cluster networks need ASM 1.22 or later; service mesh {} runs {}.",
            mesh.id, mesh.istio_version
        )));
    }
    let mut networks = BTreeMap::new();
    for (cluster_id, entry) in given {
        if mesh.member(&cluster_id).is_none() {
            return Err(ApiError::invalid_parameter(format!(
                "MultiClusterNetworks: the cluster {cluster_id} is not a member of service mesh {}; add it first.",
                mesh.id
            )));
        }
        networks.insert(cluster_id.clone(), parse_network(&cluster_id, &entry)?);
    }
    mesh.networks = networks;
    mesh.updated_unix_ms = cx.now_unix_ms;
    Ok(Body::new())
}

fn parse_network(cluster_id: &str, entry: &Value) -> Result<ClusterNetwork, ApiError> {
    let bad = |what: &str| {
        ApiError::invalid_parameter(format!("MultiClusterNetworks.{cluster_id}: {what}"))
    };
    let obj = entry.as_object().ok_or_else(|| bad("must be an object"))?;
    let network = match obj.get("Network") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_owned(),
        _ => {
            return Err(bad("Network (the homing logical network name) must be a non-empty string"))
        }
    };
    let enable_gateway = match obj.get("EnableGateway") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => true,
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => false,
        Some(_) => return Err(bad("EnableGateway must be true or false")),
    };
    let custom_gateway_address = match obj.get("CustomGatewayAddress") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.is_empty() => None,
        Some(Value::String(s)) => match s.rsplit_once(':') {
            Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => {
                Some(s.clone())
            }
            _ => return Err(bad("CustomGatewayAddress must be host:port")),
        },
        Some(_) => return Err(bad("CustomGatewayAddress must be a string")),
    };
    Ok(ClusterNetwork { network, enable_gateway, custom_gateway_address })
}

pub(super) fn describe_mesh_multi_cluster_network(
    _cx: &Ctx<'_>,
    model: &AsmModel,
    p: &Params,
) -> Result<Body, ApiError> {
    let mesh = mesh(model, p)?;
    let networks: Map<String, Value> = mesh
        .networks
        .iter()
        .map(|(id, n)| {
            let gateway = if n.enable_gateway { mesh.gateway_name() } else { String::new() };
            let v = json!({
                "Network": n.network,
                "EnableGateway": n.enable_gateway,
                "CustomGatewayAddress": n.custom_gateway_address.clone().unwrap_or_default(),
                "GatewayName": gateway,
            });
            (id.clone(), v)
        })
        .collect();
    Ok(body([("MultiClusterNetworks", Value::Object(networks))]))
}

/// `EnableIstioInjection` and `IstioRev` are exclusive. `EnableSidecarSetInjection` (OpenKruise
/// SidecarSet) is accepted and not modelled.
pub(super) fn update_istio_injection_config(
    cx: &Ctx<'_>,
    model: &mut AsmModel,
    p: &Params,
) -> Result<Body, ApiError> {
    let namespace = p.required("Namespace")?;
    if !is_dns_label(namespace) {
        return Err(ApiError::invalid_parameter(format!(
            "Namespace \"{namespace}\" is not a valid namespace name (lower-case letters, digits and '-', at most 63)."
        )));
    }
    let enable = p.bool("EnableIstioInjection")?;
    let sidecar_set = p.bool("EnableSidecarSetInjection")?;
    let revision = p.get("IstioRev");
    let setting = match (revision, enable, sidecar_set) {
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
            return Err(ApiError::invalid_parameter(
                "IstioRev is exclusive with EnableIstioInjection and EnableSidecarSetInjection.",
            ))
        }
        (Some(rev), None, None) if is_dns_label(rev) => Some(Injection::Revision(rev.to_owned())),
        (Some(rev), None, None) => {
            return Err(ApiError::invalid_parameter(format!(
                "IstioRev \"{rev}\" is not a valid revision name."
            )))
        }
        (None, Some(true), _) => Some(Injection::Enabled),
        (None, Some(false), _) => Some(Injection::Disabled),
        (None, None, Some(_)) => None,
        (None, None, None) => return Err(ApiError::missing_parameter("EnableIstioInjection")),
    };
    let mesh = mesh_mut(model, p)?;
    require_running(mesh)?;
    if let Some(setting) = setting {
        mesh.injection.insert(namespace.to_owned(), setting);
        mesh.updated_unix_ms = cx.now_unix_ms;
    }
    Ok(Body::new())
}

/// The namespaces of a member cluster as this mesh sees them: the standard ones, `istio-system`
/// and the namespaces with injection settings where the mesh manages the cluster, and — with
/// `ShowNsLabels` — their labels (`istio-injection` / `istio.io/rev` from the mesh's settings).
/// A discovery-only member gets none of the mesh's namespaces or labels: the mesh does not change
/// such a cluster.
pub(super) fn describe_guest_cluster_namespaces(
    _cx: &Ctx<'_>,
    model: &AsmModel,
    p: &Params,
) -> Result<Body, ApiError> {
    let mesh = mesh(model, p)?;
    let cluster_id = p.required("GuestClusterID")?;
    let show_labels = p.bool("ShowNsLabels")?.unwrap_or(false);
    let member =
        mesh.member(cluster_id).ok_or_else(|| ApiError::not_a_member(cluster_id, &mesh.id))?;
    let mut namespaces: BTreeSet<String> =
        BASE_NAMESPACES.iter().map(|s| (*s).to_owned()).collect();
    if !member.discovery_only {
        namespaces.insert("istio-system".to_owned());
        namespaces.extend(mesh.injection.keys().cloned());
    }
    let mut fields = body([(
        "NsList",
        Value::Array(namespaces.iter().map(|n| Value::String(n.clone())).collect()),
    )]);
    if show_labels {
        let labels: Map<String, Value> = namespaces
            .iter()
            .map(|ns| {
                let mut l =
                    BTreeMap::from([("kubernetes.io/metadata.name".to_owned(), ns.clone())]);
                if !member.discovery_only {
                    l.extend(mesh.injection.get(ns).map(Injection::labels).unwrap_or_default());
                }
                (ns.clone(), json!(l))
            })
            .collect();
        fields.insert("NsLabels".to_owned(), Value::Object(labels));
    }
    Ok(fields)
}

/// An RFC 1123 label: what Kubernetes accepts as a namespace name.
fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}
