//! The resources that hang off a mesh: cluster attachments (managed or discovery-only), the
//! multi-cluster network, and per-namespace sidecar injection.

use std::time::Duration;

use meshform_core::Value;
use meshform_provider::{ErrorKind, Progress, ProviderError};

use crate::client::{AsmClient, Retry};
use crate::mesh::timeout;
use crate::wait;

const ATTACH_TIMEOUT: Duration = Duration::from_secs(10 * 60);

/// The action that reads a namespace's injection settings back.
pub const DESCRIBE_INJECTION: &str = "DescribeGuestClusterNamespaces";

fn required<'v>(v: &'v Value, k: &str) -> Result<&'v str, ProviderError> {
    v.get_str(k).ok_or_else(|| ProviderError::invalid_config(k, format!("{k} is required")))
}

fn with(v: &Value, pairs: &[(&str, Value)]) -> Value {
    let mut out = v.clone();
    if let Value::Map(m) = &mut out {
        for (k, x) in pairs {
            m.insert((*k).to_owned(), x.clone());
        }
    }
    out
}

/// Member cluster ids of a mesh; `None` when the mesh is gone.
pub async fn member_clusters(
    client: &AsmClient,
    mesh_id: &str,
    retry: Retry,
) -> Result<Option<Vec<String>>, ProviderError> {
    match client
        .call(
            "DescribeClustersInServiceMesh",
            &[("ServiceMeshId".into(), mesh_id.to_owned())],
            retry,
        )
        .await
    {
        Ok(v) => Ok(Some(
            v.get("Clusters")
                .and_then(|c| c.as_array())
                .into_iter()
                .flatten()
                .filter_map(|c| c.get("ClusterId").and_then(|x| x.as_str()).map(str::to_owned))
                .collect(),
        )),
        Err(e) if e.kind == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Calls a mutating action once the mesh is running, waiting while another change keeps it busy
/// (the mesh accepts one change at a time).
pub async fn call_when_running(
    client: &AsmClient,
    mesh: &str,
    action: &str,
    params: &[(String, String)],
    limit: Duration,
    progress: &dyn Progress,
) -> Result<serde_json::Value, ProviderError> {
    let start = std::time::Instant::now();
    wait::until_running(client, mesh, limit, progress).await?;
    client.call_when_idle(action, params, limit.saturating_sub(start.elapsed()), progress).await
}

/// `asm_cluster_attachment` create: waits for the mesh to be running (another attachment may be in
/// progress), adds the cluster, waits again.
pub async fn attach(
    client: &AsmClient,
    planned: &Value,
    progress: &dyn Progress,
) -> Result<Value, ProviderError> {
    let mesh = required(planned, "mesh_id")?.to_owned();
    let cluster = required(planned, "cluster_id")?.to_owned();
    let discovery_only = planned.get("discovery_only").and_then(Value::as_bool).unwrap_or(false);
    let limit = timeout(planned, "create", ATTACH_TIMEOUT);
    let start = std::time::Instant::now();
    let params = vec![
        ("ServiceMeshId".to_owned(), mesh.clone()),
        ("ClusterId".to_owned(), cluster.clone()),
        ("DiscoveryOnly".to_owned(), discovery_only.to_string()),
    ];
    match call_when_running(client, &mesh, "AddClusterIntoServiceMesh", &params, limit, progress)
        .await
    {
        Ok(_) => {}
        // A retried add that had already succeeded.
        Err(_)
            if member_clusters(client, &mesh, Retry::Idempotent)
                .await?
                .is_some_and(|m| m.contains(&cluster)) => {}
        Err(e) => return Err(e),
    }
    wait::until_running(client, &mesh, limit.saturating_sub(start.elapsed()), progress).await?;
    Ok(with(
        planned,
        &[
            ("id", Value::string(format!("{mesh}:{cluster}"))),
            ("discovery_only", Value::Bool(discovery_only)),
        ],
    ))
}

/// `asm_cluster_attachment` read: present while the cluster is a member. `discovery_only` cannot be
/// read back from the API and is kept as known.
pub async fn read_attachment(
    client: &AsmClient,
    current: &Value,
    retry: Retry,
) -> Result<Option<Value>, ProviderError> {
    let (Some(mesh), Some(cluster)) = (current.get_str("mesh_id"), current.get_str("cluster_id"))
    else {
        return Ok(None);
    };
    match member_clusters(client, mesh, retry).await? {
        Some(members) if members.iter().any(|c| c == cluster) => {
            Ok(Some(with(current, &[("id", Value::string(format!("{mesh}:{cluster}")))])))
        }
        _ => Ok(None),
    }
}

pub async fn detach(
    client: &AsmClient,
    prior: &Value,
    progress: &dyn Progress,
) -> Result<(), ProviderError> {
    let (Some(mesh), Some(cluster)) = (prior.get_str("mesh_id"), prior.get_str("cluster_id"))
    else {
        return Ok(());
    };
    if !member_clusters(client, mesh, Retry::Idempotent)
        .await?
        .is_some_and(|m| m.iter().any(|c| c == cluster))
    {
        return Ok(());
    }
    let limit = timeout(prior, "delete", ATTACH_TIMEOUT);
    let start = std::time::Instant::now();
    let params = vec![
        ("ServiceMeshId".to_owned(), mesh.to_owned()),
        ("ClusterId".to_owned(), cluster.to_owned()),
    ];
    match call_when_running(client, mesh, "RemoveClusterFromServiceMesh", &params, limit, progress)
        .await
    {
        Ok(_) => {}
        // The mesh, or the cluster in it, is gone already.
        Err(e) if e.kind == ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    }
    match wait::until_running(client, mesh, limit.saturating_sub(start.elapsed()), progress).await {
        Err(e) if e.kind == ErrorKind::NotFound => Ok(()),
        r => r.map(|_| ()),
    }
}

/// The JSON `MultiClusterNetworks` parameter of a planned network.
fn networks_param(planned: &Value) -> String {
    let mut doc = serde_json::Map::new();
    for c in planned.get("cluster").and_then(Value::as_list).unwrap_or(&[]) {
        let Some(id) = c.get_str("cluster_id") else { continue };
        let mut entry = serde_json::Map::new();
        entry.insert(
            "Network".into(),
            serde_json::Value::String(c.get_str("network").unwrap_or_default().to_owned()),
        );
        entry.insert(
            "EnableGateway".into(),
            serde_json::Value::Bool(
                c.get("cross_cluster_gateway").and_then(Value::as_bool).unwrap_or(false),
            ),
        );
        if let Some(a) = c.get_str("custom_gateway_address") {
            entry.insert("CustomGatewayAddress".into(), serde_json::Value::String(a.to_owned()));
        }
        doc.insert(id.to_owned(), serde_json::Value::Object(entry));
    }
    serde_json::Value::Object(doc).to_string()
}

/// Sets the whole multi-cluster network of a mesh.
pub async fn put_network(
    client: &AsmClient,
    planned: &Value,
    progress: &dyn Progress,
) -> Result<Value, ProviderError> {
    let mesh = required(planned, "mesh_id")?.to_owned();
    let params = vec![
        ("ServiceMeshId".to_owned(), mesh.clone()),
        ("MultiClusterNetworks".to_owned(), networks_param(planned)),
    ];
    let limit = timeout(planned, "update", ATTACH_TIMEOUT);
    call_when_running(client, &mesh, "UpdateMeshMultiClusterNetwork", &params, limit, progress)
        .await?;
    wait::until_running(client, &mesh, timeout(planned, "update", ATTACH_TIMEOUT), progress)
        .await?;
    match read_network(client, planned, Retry::Idempotent).await? {
        Some(v) => Ok(v),
        None => Err(ProviderError::new(
            ErrorKind::Internal,
            "BadResponse",
            format!("the network of mesh {mesh} was not there right after it was set"),
        )),
    }
}

/// Reads a mesh's network, listing clusters in the order `known` has them (others after, sorted), so
/// that reading does not invent a diff.
pub async fn read_network(
    client: &AsmClient,
    known: &Value,
    retry: Retry,
) -> Result<Option<Value>, ProviderError> {
    let Some(mesh) = known.get_str("mesh_id") else { return Ok(None) };
    let doc = match client
        .call(
            "DescribeMeshMultiClusterNetwork",
            &[("ServiceMeshId".into(), mesh.to_owned())],
            retry,
        )
        .await
    {
        Ok(v) => v,
        Err(e) if e.kind == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let networks = match doc.get("MultiClusterNetworks") {
        Some(serde_json::Value::String(s)) => {
            serde_json::from_str::<serde_json::Value>(s).unwrap_or_default()
        }
        Some(v) => v.clone(),
        None => serde_json::Value::Null,
    };
    let Some(map) = networks.as_object().filter(|m| !m.is_empty()) else { return Ok(None) };
    let mut order: Vec<String> = known
        .get("cluster")
        .and_then(Value::as_list)
        .unwrap_or(&[])
        .iter()
        .filter_map(|c| c.get_str("cluster_id").map(str::to_owned))
        .filter(|id| map.contains_key(id))
        .collect();
    let mut rest: Vec<String> = map.keys().filter(|k| !order.contains(k)).cloned().collect();
    rest.sort();
    order.extend(rest);
    let clusters: Vec<Value> = order
        .iter()
        .map(|id| {
            let e = &map[id];
            let custom =
                e.get("CustomGatewayAddress").and_then(|x| x.as_str()).filter(|x| !x.is_empty());
            Value::map([
                ("cluster_id", Value::string(id.clone())),
                (
                    "network",
                    Value::string(e.get("Network").and_then(|x| x.as_str()).unwrap_or_default()),
                ),
                (
                    "cross_cluster_gateway",
                    Value::Bool(e.get("EnableGateway").and_then(|x| x.as_bool()).unwrap_or(false)),
                ),
                ("custom_gateway_address", custom.map(Value::string).unwrap_or(Value::Null)),
            ])
        })
        .collect();
    Ok(Some(with(known, &[("id", Value::string(mesh)), ("cluster", Value::List(clusters))])))
}

pub async fn clear_network(
    client: &AsmClient,
    prior: &Value,
    progress: &dyn Progress,
) -> Result<(), ProviderError> {
    let Some(mesh) = prior.get_str("mesh_id") else { return Ok(()) };
    let params = vec![
        ("ServiceMeshId".to_owned(), mesh.to_owned()),
        ("MultiClusterNetworks".to_owned(), "{}".to_owned()),
    ];
    let limit = timeout(prior, "delete", ATTACH_TIMEOUT);
    match call_when_running(client, mesh, "UpdateMeshMultiClusterNetwork", &params, limit, progress)
        .await
    {
        Err(e) if e.kind == ErrorKind::NotFound => Ok(()),
        r => r.map(|_| ()),
    }
}

/// Sets injection for a namespace.
pub async fn put_injection(
    client: &AsmClient,
    planned: &Value,
    enable: bool,
    progress: &dyn Progress,
) -> Result<Value, ProviderError> {
    let mesh = required(planned, "mesh_id")?.to_owned();
    let ns = required(planned, "namespace")?.to_owned();
    let mut params =
        vec![("ServiceMeshId".to_owned(), mesh.clone()), ("Namespace".to_owned(), ns.clone())];
    match planned.get_str("istio_rev").filter(|_| enable) {
        Some(rev) => params.push(("IstioRev".to_owned(), rev.to_owned())),
        None => params.push(("EnableIstioInjection".to_owned(), enable.to_string())),
    }
    let action = "UpdateIstioInjectionConfig";
    match call_when_running(client, &mesh, action, &params, ATTACH_TIMEOUT, progress).await {
        Ok(_) => {}
        // Turning injection off in a mesh that is gone is done.
        Err(e) if !enable && e.kind == ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let enabled = planned
        .get("enabled")
        .and_then(Value::as_bool)
        .unwrap_or(planned.get_str("istio_rev").is_none());
    Ok(with(
        planned,
        &[("id", Value::string(format!("{mesh}:{ns}"))), ("enabled", Value::Bool(enabled))],
    ))
}

/// Reads injection for a namespace back from the namespace labels of the mesh's member clusters
/// (`DescribeGuestClusterNamespaces` with `ShowNsLabels`): `istio-injection=enabled` or `istio.io/rev`.
pub async fn read_injection(
    client: &AsmClient,
    current: &Value,
    retry: Retry,
) -> Result<Option<Value>, ProviderError> {
    let (Some(mesh), Some(ns)) = (current.get_str("mesh_id"), current.get_str("namespace")) else {
        return Ok(None);
    };
    let Some(members) = member_clusters(client, mesh, retry).await? else { return Ok(None) };
    let mut enabled = false;
    let mut rev: Option<String> = None;
    for cluster in &members {
        let params = vec![
            ("ServiceMeshId".to_owned(), mesh.to_owned()),
            ("GuestClusterID".to_owned(), cluster.clone()),
            ("ShowNsLabels".to_owned(), "true".to_owned()),
        ];
        let doc = match client.call(DESCRIBE_INJECTION, &params, retry).await {
            Ok(v) => v,
            Err(e) if e.kind == ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        let labels = doc.get("NsLabels").and_then(|l| l.get(ns));
        if labels.and_then(|l| l.get("istio-injection")).and_then(|v| v.as_str()) == Some("enabled")
        {
            enabled = true;
        }
        if let Some(r) = labels
            .and_then(|l| l.get("istio.io/rev"))
            .and_then(|v| v.as_str())
            .filter(|r| !r.is_empty())
        {
            rev = Some(r.to_owned());
        }
    }
    if !enabled && rev.is_none() {
        return Ok(None);
    }
    Ok(Some(with(
        current,
        &[
            ("enabled", Value::Bool(enabled)),
            ("istio_rev", rev.map(Value::String).unwrap_or(Value::Null)),
            ("id", Value::string(format!("{mesh}:{ns}"))),
        ],
    )))
}
