//! The `scale` subresource (`autoscaling/v1` `Scale` over Deployments and ReplicaSets) and
//! `pods/log`.

use serde_json::{json, Value};

use super::cluster::Cluster;
use super::kinds::ResourceType;
use super::meta;
use super::objects::{PatchKind, WriteOptions};
use super::patch::{json_patch, merge_patch};
use super::selectors::LabelSelector;
use super::status::ApiError;
use super::strategic::strategic_merge;

/// The `Scale` view of a Deployment or ReplicaSet.
pub fn to_scale(obj: &Value) -> Value {
    let md = &obj["metadata"];
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": md["name"], "namespace": md["namespace"], "uid": md["uid"],
            "resourceVersion": md["resourceVersion"], "creationTimestamp": md["creationTimestamp"],
        },
        "spec": {"replicas": obj["spec"]["replicas"].as_i64().unwrap_or(0)},
        "status": {
            "replicas": obj["status"]["replicas"].as_i64().unwrap_or(0),
            "selector": LabelSelector::from_object(&obj["spec"]["selector"]).to_query(),
        },
    })
}

/// Whether a type has the scale subresource.
pub fn scalable(rt: &ResourceType) -> bool {
    rt.is("apps", "Deployment") || rt.is("apps", "ReplicaSet")
}

/// Write the scale subresource: `kind` is the patch format, `None` for PUT.
pub fn write_scale(
    cluster: &Cluster,
    rt: &ResourceType,
    ns: &str,
    name: &str,
    kind: Option<PatchKind>,
    body: &Value,
    opts: WriteOptions<'_>,
) -> Result<Value, ApiError> {
    let current = to_scale(&cluster.get_object(rt, ns, name)?);
    let new = match kind {
        None => body.clone(),
        Some(PatchKind::Merge) | Some(PatchKind::Apply { .. }) => {
            let mut s = current.clone();
            merge_patch(&mut s, body);
            s
        }
        Some(PatchKind::Strategic) => strategic_merge(&current, body)?,
        Some(PatchKind::Json) => json_patch(&current, body)?,
    };
    let replicas = match new["spec"]["replicas"].as_i64() {
        Some(r) if r >= 0 && r <= i32::MAX as i64 => r,
        _ => {
            return Err(ApiError::invalid(
                "Scale",
                "autoscaling",
                name,
                &[(
                    "spec.replicas".into(),
                    format!(
                        "Invalid value: {}: must be greater than or equal to 0",
                        new["spec"]["replicas"]
                    ),
                )],
            ))
        }
    };
    let mut patch = json!({"spec": {"replicas": replicas}});
    let rv = meta::resource_version(&new);
    let changed_rv = kind.is_none() || rv != meta::resource_version(&current);
    if !rv.is_empty() && changed_rv {
        patch["metadata"] = json!({"resourceVersion": rv});
    }
    let opts = WriteOptions { subresource: "scale", ..opts };
    let (obj, _) = cluster.patch(rt, ns, name, PatchKind::Merge, &patch, opts)?;
    Ok(to_scale(&obj))
}

/// The container a `log` or `exec` request means: the named one, the
/// `kubectl.kubernetes.io/default-container` annotation's, or the only/first one.
pub fn pick_container(pod: &Value, requested: Option<&str>) -> Result<String, ApiError> {
    let names: Vec<&str> = pod["spec"]["containers"]
        .as_array()
        .map(|cs| cs.iter().filter_map(|c| c["name"].as_str()).collect())
        .unwrap_or_default();
    let pod_name = meta::name(pod);
    let wanted = requested
        .filter(|c| !c.is_empty())
        .or_else(|| {
            pod["metadata"]["annotations"]["kubectl.kubernetes.io/default-container"].as_str()
        })
        .or_else(|| names.first().copied());
    match wanted {
        Some(c) if names.contains(&c) => Ok(c.to_string()),
        Some(c) => {
            Err(ApiError::bad_request(format!("container {c} is not valid for pod {pod_name}")))
        }
        None => Err(ApiError::bad_request(format!("pod {pod_name} has no containers"))),
    }
}

/// `pods/<name>/log`.
pub fn pod_log(
    cluster: &Cluster,
    rt: &ResourceType,
    ns: &str,
    name: &str,
    container: Option<&str>,
    tail_lines: Option<usize>,
) -> Result<String, ApiError> {
    let pod = cluster.get_object(rt, ns, name)?;
    let c = pick_container(&pod, container)?;
    if pod["status"]["phase"] == "Pending" {
        return Err(ApiError::bad_request(format!(
            "container \"{c}\" in pod \"{name}\" is waiting to start: ContainerCreating"
        )));
    }
    let text = cluster.exec_handler().logs(&pod, &c);
    Ok(match tail_lines {
        Some(n) => {
            let lines: Vec<&str> = text.lines().collect();
            let start = lines.len().saturating_sub(n);
            lines[start..].iter().map(|l| format!("{l}\n")).collect()
        }
        None => text,
    })
}
