//! The resources that hang off a mesh: cluster attachments (managed or discovery-only), the
//! multi-cluster network, and per-namespace sidecar injection.

use std::collections::BTreeMap;
use std::time::Duration;

use meshform_core::Value;
use meshform_provider::{Progress, ProviderError};

use crate::client::{backoff, AsmClient, Retry};
use crate::mesh::timeout;
use crate::wait;

const ATTACH_TIMEOUT: Duration = Duration::from_secs(10 * 60);

/// The action that reads a namespace's injection settings back.
pub const DESCRIBE_INJECTION: &str = "DescribeIstioInjectionConfig";

fn s<'v>(v: &'v Value, k: &str) -> Option<&'v str> {
    v.get(k).and_then(Value::as_str)
}

fn required<'v>(v: &'v Value, k: &str) -> Result<&'v str, ProviderError> {
    s(v, k).ok_or_else(|| {
        ProviderError::new("InvalidConfig", format!("{k} is required")).at_attribute(k)
    })
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
) -> Result<Option<Vec<String>>, ProviderError> {
    match client
        .call(
            "DescribeClustersInServiceMesh",
            &[("ServiceMeshId".into(), mesh_id.to_owned())],
            Retry::Idempotent,
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
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e.into_provider("DescribeClustersInServiceMesh")),
    }
}

fn is_busy(code: &str) -> bool {
    code.contains("ActiveState")
        || code.contains("NotRunning")
        || code == "StatusForbidden"
        || code.contains("Initializing")
        || code.contains("Conflict")
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
    let mut attempt = 0;
    loop {
        wait::until_running(client, &mesh, limit.saturating_sub(start.elapsed()), progress).await?;
        let params = vec![
            ("ServiceMeshId".to_owned(), mesh.clone()),
            ("ClusterId".to_owned(), cluster.clone()),
            ("DiscoveryOnly".to_owned(), discovery_only.to_string()),
        ];
        match client.call("AddClusterIntoServiceMesh", &params, Retry::Idempotent).await {
            Ok(_) => break,
            Err(e)
                if member_clusters(client, &mesh).await?.is_some_and(|m| m.contains(&cluster)) =>
            {
                // A retried add that had already succeeded.
                let _ = e;
                break;
            }
            Err(e) if is_busy(&e.code) && start.elapsed() < limit => {
                progress.status(&format!("mesh busy ({}); retrying", e.code));
                tokio::time::sleep(backoff(attempt.min(4), e.retry_after)).await;
                attempt += 1;
            }
            Err(e) => return Err(e.into_provider("AddClusterIntoServiceMesh")),
        }
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
) -> Result<Option<Value>, ProviderError> {
    let (Some(mesh), Some(cluster)) = (s(current, "mesh_id"), s(current, "cluster_id")) else {
        return Ok(None);
    };
    match member_clusters(client, mesh).await? {
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
    let (Some(mesh), Some(cluster)) = (s(prior, "mesh_id"), s(prior, "cluster_id")) else {
        return Ok(());
    };
    let limit = timeout(prior, "delete", ATTACH_TIMEOUT);
    let start = std::time::Instant::now();
    let mut attempt = 0;
    loop {
        if !member_clusters(client, mesh).await?.is_some_and(|m| m.iter().any(|c| c == cluster)) {
            return Ok(());
        }
        match wait::until_running(client, mesh, limit.saturating_sub(start.elapsed()), progress)
            .await
        {
            Err(e) if e.code == "ServiceMesh.NotFound" => return Ok(()),
            r => r.map(|_| ())?,
        }
        let params = vec![
            ("ServiceMeshId".to_owned(), mesh.to_owned()),
            ("ClusterId".to_owned(), cluster.to_owned()),
        ];
        match client.call("RemoveClusterFromServiceMesh", &params, Retry::Idempotent).await {
            Ok(_) => break,
            Err(e) if e.is_not_found() => return Ok(()),
            Err(e) if is_busy(&e.code) && start.elapsed() < limit => {
                tokio::time::sleep(backoff(attempt.min(4), e.retry_after)).await;
                attempt += 1;
            }
            Err(e) => return Err(e.into_provider("RemoveClusterFromServiceMesh")),
        }
    }
    match wait::until_running(client, mesh, limit.saturating_sub(start.elapsed()), progress).await {
        Err(e) if e.code == "ServiceMesh.NotFound" => Ok(()),
        r => r.map(|_| ()),
    }
}

/// The JSON `MultiClusterNetworks` parameter of a planned network.
fn networks_param(planned: &Value) -> String {
    let mut doc = serde_json::Map::new();
    for c in planned.get("cluster").and_then(Value::as_list).unwrap_or(&[]) {
        let Some(id) = s(c, "cluster_id") else { continue };
        let mut entry = serde_json::Map::new();
        entry.insert(
            "Network".into(),
            serde_json::Value::String(s(c, "network").unwrap_or_default().to_owned()),
        );
        entry.insert(
            "EnableGateway".into(),
            serde_json::Value::Bool(
                c.get("cross_cluster_gateway").and_then(Value::as_bool).unwrap_or(false),
            ),
        );
        if let Some(a) = s(c, "custom_gateway_address") {
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
    wait::until_running(client, &mesh, timeout(planned, "update", ATTACH_TIMEOUT), progress)
        .await?;
    let params = vec![
        ("ServiceMeshId".to_owned(), mesh.clone()),
        ("MultiClusterNetworks".to_owned(), networks_param(planned)),
    ];
    client
        .call("UpdateMeshMultiClusterNetwork", &params, Retry::Idempotent)
        .await
        .map_err(|e| e.into_provider("UpdateMeshMultiClusterNetwork"))?;
    wait::until_running(client, &mesh, timeout(planned, "update", ATTACH_TIMEOUT), progress)
        .await?;
    match read_network(client, planned).await? {
        Some(v) => Ok(v),
        None => Err(ProviderError::new(
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
) -> Result<Option<Value>, ProviderError> {
    let Some(mesh) = s(known, "mesh_id") else { return Ok(None) };
    let doc = match client
        .call(
            "DescribeMeshMultiClusterNetwork",
            &[("ServiceMeshId".into(), mesh.to_owned())],
            Retry::Idempotent,
        )
        .await
    {
        Ok(v) => v,
        Err(e) if e.is_not_found() => return Ok(None),
        Err(e) => return Err(e.into_provider("DescribeMeshMultiClusterNetwork")),
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
        .filter_map(|c| s(c, "cluster_id").map(str::to_owned))
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
    let Some(mesh) = s(prior, "mesh_id") else { return Ok(()) };
    match wait::until_running(client, mesh, timeout(prior, "delete", ATTACH_TIMEOUT), progress)
        .await
    {
        Err(e) if e.code == "ServiceMesh.NotFound" => return Ok(()),
        r => r.map(|_| ())?,
    }
    let params = vec![
        ("ServiceMeshId".to_owned(), mesh.to_owned()),
        ("MultiClusterNetworks".to_owned(), "{}".to_owned()),
    ];
    match client.call("UpdateMeshMultiClusterNetwork", &params, Retry::Idempotent).await {
        Ok(_) => Ok(()),
        Err(e) if e.is_not_found() => Ok(()),
        Err(e) => Err(e.into_provider("UpdateMeshMultiClusterNetwork")),
    }
}

/// Sets injection for a namespace.
pub async fn put_injection(
    client: &AsmClient,
    planned: &Value,
    enable: bool,
) -> Result<Value, ProviderError> {
    let mesh = required(planned, "mesh_id")?.to_owned();
    let ns = required(planned, "namespace")?.to_owned();
    let mut params =
        vec![("ServiceMeshId".to_owned(), mesh.clone()), ("Namespace".to_owned(), ns.clone())];
    match s(planned, "istio_rev").filter(|_| enable) {
        Some(rev) => params.push(("IstioRev".to_owned(), rev.to_owned())),
        None => params.push(("EnableIstioInjection".to_owned(), enable.to_string())),
    }
    client
        .call("UpdateIstioInjectionConfig", &params, Retry::Idempotent)
        .await
        .map_err(|e| e.into_provider("UpdateIstioInjectionConfig"))?;
    let enabled = planned
        .get("enabled")
        .and_then(Value::as_bool)
        .unwrap_or(s(planned, "istio_rev").is_none());
    Ok(with(
        planned,
        &[("id", Value::string(format!("{mesh}:{ns}"))), ("enabled", Value::Bool(enabled))],
    ))
}

/// Reads injection for a namespace back.
pub async fn read_injection(
    client: &AsmClient,
    current: &Value,
) -> Result<Option<Value>, ProviderError> {
    let (Some(mesh), Some(ns)) = (s(current, "mesh_id"), s(current, "namespace")) else {
        return Ok(None);
    };
    let params = vec![
        ("ServiceMeshId".to_owned(), mesh.to_owned()),
        ("Namespace".to_owned(), ns.to_owned()),
    ];
    let doc = match client.call(DESCRIBE_INJECTION, &params, Retry::Idempotent).await {
        Ok(v) => v,
        Err(e) if e.is_not_found() => return Ok(None),
        Err(e) => return Err(e.into_provider(DESCRIBE_INJECTION)),
    };
    let enabled = doc.get("EnableIstioInjection").and_then(|x| x.as_bool()).unwrap_or(false);
    let rev = doc.get("IstioRev").and_then(|x| x.as_str()).filter(|x| !x.is_empty());
    if !enabled && rev.is_none() {
        return Ok(None);
    }
    let mut pairs: BTreeMap<&str, Value> = BTreeMap::new();
    pairs.insert("enabled", Value::Bool(enabled));
    pairs.insert("istio_rev", rev.map(Value::string).unwrap_or(Value::Null));
    pairs.insert("id", Value::string(format!("{mesh}:{ns}")));
    let pairs: Vec<(&str, Value)> = pairs.into_iter().collect();
    Ok(Some(with(current, &pairs)))
}
