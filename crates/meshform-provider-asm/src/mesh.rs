//! `asm_service_mesh`: create (with the shared-root CA), wait for running, read back (with the
//! kubeconfig of its control-plane API), find by name after an interrupted run, delete and wait
//! until gone.

use std::time::Duration;

use base64::Engine as _;
use meshform_core::Value;
use meshform_provider::{ErrorKind, Progress, ProviderError, Verdict};

use crate::client::{AsmClient, Retry};
use crate::wait::{self, info};

pub const DEFAULT_CREATE_TIMEOUT: Duration = Duration::from_secs(20 * 60);
pub const DEFAULT_DELETE_TIMEOUT: Duration = Duration::from_secs(20 * 60);

/// `timeouts { <op> = "20m" }`, or the default.
pub fn timeout(v: &Value, op: &str, default: Duration) -> Duration {
    v.get("timeouts")
        .and_then(|t| t.get(op))
        .and_then(Value::as_str)
        .and_then(|t| meshform_core::duration::parse_duration(t).ok())
        .unwrap_or(default)
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// The CreateServiceMesh parameters of a planned mesh.
pub fn create_params(planned: &Value) -> Result<Vec<(String, String)>, ProviderError> {
    let req = |k: &str| {
        planned
            .get_str(k)
            .map(str::to_owned)
            .ok_or_else(|| ProviderError::invalid_config(k, format!("{k} is required")))
    };
    let vswitches: Vec<&str> = planned
        .get("vswitches")
        .and_then(Value::as_list)
        .unwrap_or(&[])
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let mut p = vec![
        ("RegionId".to_owned(), req("region")?),
        ("Name".to_owned(), req("name")?),
        ("VpcId".to_owned(), req("vpc_id")?),
        ("VSwitches".to_owned(), serde_json::to_string(&vswitches).unwrap_or_else(|_| "[]".into())),
    ];
    for (attr, param) in [
        ("istio_version", "IstioVersion"),
        ("edition", "Edition"),
        ("cluster_spec", "ClusterSpec"),
        ("cluster_id", "GuestCluster"),
    ] {
        if let Some(v) = planned.get_str(attr) {
            p.push((param.to_owned(), v.to_owned()));
        }
    }
    if planned.get("api_server_public_eip").and_then(Value::as_bool) == Some(true) {
        p.push(("ApiServerPublicEip".to_owned(), "true".to_owned()));
    }
    if let Some(tags) = planned.get("tags").and_then(Value::as_map) {
        for (i, (k, v)) in tags.iter().enumerate() {
            p.push((format!("Tag.{}.Key", i + 1), k.clone()));
            p.push((format!("Tag.{}.Value", i + 1), v.as_str().unwrap_or_default().to_owned()));
        }
    }
    if let Some(ca) = planned.get("ca").filter(|c| !c.is_null()) {
        let field = |k: &str| {
            ca.get_str(k)
                .map(str::to_owned)
                .ok_or_else(|| ProviderError::invalid_config("ca", format!("ca.{k} is required")))
        };
        p.push(("UseExistingCA".to_owned(), "true".to_owned()));
        p.push(("ExistingCaCert".to_owned(), b64(&field("cert")?)));
        p.push(("ExistingCaKey".to_owned(), b64(&field("key")?)));
        p.push(("ExistingRootCaCert".to_owned(), b64(&field("root_cert")?)));
        p.push(("CertChain".to_owned(), b64(&field("cert_chain")?)));
    }
    Ok(p)
}

/// The value of a mesh from its detail document, keeping what the API cannot report (ca, tags,
/// cluster_id, timeouts) from `known`.
pub fn from_detail(detail: &serde_json::Value, known: &Value) -> Value {
    let mut v = known.clone();
    let Value::Map(m) = &mut v else { return v };
    let set_str = |m: &mut std::collections::BTreeMap<String, Value>, k: &str, x: Option<&str>| {
        if let Some(x) = x {
            m.insert(k.to_owned(), Value::string(x));
        }
    };
    set_str(m, "id", info(detail, "ServiceMeshId"));
    set_str(m, "name", info(detail, "Name"));
    set_str(m, "region", info(detail, "RegionId"));
    set_str(m, "state", info(detail, "State"));
    set_str(m, "version", info(detail, "Version"));
    set_str(m, "istio_version", info(detail, "Version"));
    set_str(
        m,
        "edition",
        info(detail, "Edition")
            .or_else(|| detail.pointer("/ServiceMesh/Edition").and_then(|x| x.as_str())),
    );
    set_str(m, "cluster_spec", detail.pointer("/ServiceMesh/ClusterSpec").and_then(|x| x.as_str()));
    set_str(
        m,
        "vpc_id",
        detail.pointer("/ServiceMesh/Spec/Network/VpcId").and_then(|x| x.as_str()),
    );
    if let Some(vsw) =
        detail.pointer("/ServiceMesh/Spec/Network/VSwitches").and_then(|x| x.as_array())
    {
        m.insert(
            "vswitches".into(),
            Value::List(vsw.iter().filter_map(|x| x.as_str()).map(Value::string).collect()),
        );
    }
    v
}

/// The kubeconfig of the mesh's control-plane API (`DescribeServiceMeshKubeconfig`): for its public
/// endpoint when the mesh has `api_server_public_eip`, else for its internal one. Sensitive.
pub async fn kubeconfig(
    client: &AsmClient,
    mesh_id: &str,
    public: bool,
    retry: Retry,
) -> Result<Value, ProviderError> {
    let params = [
        ("ServiceMeshId".to_owned(), mesh_id.to_owned()),
        ("PrivateIpAddress".to_owned(), (!public).to_string()),
    ];
    let resp = client.call("DescribeServiceMeshKubeconfig", &params, retry).await?;
    match resp.get("Kubeconfig").and_then(|k| k.as_str()).filter(|k| !k.trim().is_empty()) {
        Some(k) => Ok(Value::string(k).sensitive()),
        None => Err(ProviderError::new(
            ErrorKind::Internal,
            "BadResponse",
            format!("DescribeServiceMeshKubeconfig returned no Kubeconfig for mesh {mesh_id}"),
        )),
    }
}

/// A mesh's value read from the API: its detail (`None` when the mesh is gone) and its kubeconfig,
/// keeping what the API cannot report from `known`.
pub async fn read(
    client: &AsmClient,
    mesh_id: &str,
    known: &Value,
    retry: Retry,
) -> Result<Option<Value>, ProviderError> {
    let Some(detail) = wait::describe(client, mesh_id, retry).await? else { return Ok(None) };
    let mut v = from_detail(&detail, known);
    let public = known.get("api_server_public_eip").and_then(Value::as_bool) == Some(true);
    let kubeconfig = match kubeconfig(client, mesh_id, public, retry).await {
        Ok(k) => k,
        // Deleted between the two calls.
        Err(e) if e.kind == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    if let Value::Map(m) = &mut v {
        m.insert("kubeconfig".to_owned(), kubeconfig);
    }
    Ok(Some(v))
}

/// Finds a mesh by name and region (how an interrupted create is adopted).
pub async fn find_by_name(
    client: &AsmClient,
    name: &str,
    region: &str,
) -> Result<Option<String>, ProviderError> {
    let list = client.call("DescribeServiceMeshes", &[], Retry::Idempotent).await?;
    let found = list
        .get("ServiceMeshes")
        .and_then(|x| x.as_array())
        .into_iter()
        .flatten()
        .find(|m| {
            m.pointer("/ServiceMeshInfo/Name").and_then(|x| x.as_str()) == Some(name)
                && m.pointer("/ServiceMeshInfo/RegionId")
                    .and_then(|x| x.as_str())
                    .is_none_or(|r| r == region)
                && m.pointer("/ServiceMeshInfo/State").and_then(|x| x.as_str()) != Some("deleting")
        })
        .and_then(|m| {
            m.pointer("/ServiceMeshInfo/ServiceMeshId").and_then(|x| x.as_str()).map(str::to_owned)
        });
    Ok(found)
}

/// Adopts the mesh an interrupted create made: waits (within the create timeout) until it is
/// running, as that create would have, then reads it.
pub async fn adopt(
    client: &AsmClient,
    mesh_id: &str,
    planned: &Value,
) -> Result<Option<Value>, ProviderError> {
    let timeout = timeout(planned, "create", DEFAULT_CREATE_TIMEOUT);
    match wait::until_running(client, mesh_id, timeout, &meshform_provider::NoProgress).await {
        Ok(_) => {}
        Err(e) if e.kind == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    }
    read(client, mesh_id, planned, Retry::Read).await
}

/// Creates the mesh (or adopts it when a retried create already made it) and waits until running.
pub async fn create(
    client: &AsmClient,
    planned: &Value,
    progress: &dyn Progress,
) -> Result<Value, ProviderError> {
    let params = create_params(planned)?;
    let name = planned.get_str("name").unwrap_or_default().to_owned();
    let region = planned.get_str("region").unwrap_or_default().to_owned();
    // Errors of the create call itself are retried; a failed lookup (retried by its own call) is final.
    let retried = std::sync::atomic::AtomicBool::new(false);
    let attempt = || async {
        // A failed attempt may have created the mesh before the error: look before trying again.
        if retried.swap(true, std::sync::atomic::Ordering::Relaxed) {
            if let Some(id) = find_by_name(client, &name, &region).await.map_err(|e| (e, false))? {
                return Ok(id);
            }
        }
        let resp =
            client.call("CreateServiceMesh", &params, Retry::Once).await.map_err(|e| (e, true))?;
        match resp.get("ServiceMeshId").and_then(|x| x.as_str()) {
            Some(id) => Ok(id.to_owned()),
            None => Err((
                ProviderError::new(
                    ErrorKind::Internal,
                    "BadResponse",
                    "CreateServiceMesh returned no ServiceMeshId",
                ),
                false,
            )),
        }
    };
    let verdict =
        |(e, create): &(ProviderError, bool)| if *create { Verdict::of(e) } else { Verdict::Stop };
    let notice = |(e, _): &(ProviderError, bool), _| {
        progress.status(&format!("{} ({}); retrying", e.code, e.message));
    };
    let id = client.policy().run(attempt, verdict, notice).await.map_err(|(e, _)| e)?;
    progress.status(&format!("created {id}; waiting for it to be running"));
    let detail = wait::until_running(
        client,
        &id,
        timeout(planned, "create", DEFAULT_CREATE_TIMEOUT),
        progress,
    )
    .await?;
    let mut v = from_detail(&detail, planned);
    let public = planned.get("api_server_public_eip").and_then(Value::as_bool) == Some(true);
    let kubeconfig = kubeconfig(client, &id, public, Retry::Idempotent).await?;
    if let Value::Map(m) = &mut v {
        m.insert("kubeconfig".to_owned(), kubeconfig);
    }
    Ok(v)
}

/// Deletes the mesh and waits until it is gone.
pub async fn delete(
    client: &AsmClient,
    prior: &Value,
    progress: &dyn Progress,
) -> Result<(), ProviderError> {
    let Some(id) = prior.get_str("id") else { return Ok(()) };
    let limit = timeout(prior, "delete", DEFAULT_DELETE_TIMEOUT);
    let start = std::time::Instant::now();
    let params = [("ServiceMeshId".into(), id.to_owned())];
    match client.call_when_idle("DeleteServiceMesh", &params, limit, progress).await {
        Ok(_) => {}
        Err(e) if e.kind == ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    }
    wait::until_gone(client, id, limit.saturating_sub(start.elapsed()), progress).await
}
