//! `DescribeServiceMeshKubeconfig`: the kubeconfig that reaches a mesh's control-plane Kubernetes
//! API server (`ServiceMeshId` required, `PrivateIpAddress` a boolean in any case).

use serde_json::Value;

use super::{body, mesh, AsmModel, Body, Ctx};
use crate::asm::errors::ApiError;
use crate::asm::params::Params;

/// `RequestId` (added by the server), `Kubeconfig` (the whole document as a string) and
/// `ExpireTime` (`YYYY-MM-DD hh:mm:ss`).
pub(super) fn describe_service_mesh_kubeconfig(
    cx: &Ctx<'_>,
    model: &AsmModel,
    p: &Params,
) -> Result<Body, ApiError> {
    let mesh = mesh(model, p)?;
    // Internal and public endpoints are the same loopback address here; the value is still checked.
    p.bool("PrivateIpAddress")?;
    let Some(api) = cx.mesh_apis.get(&mesh.id) else {
        let why = cx
            .mesh_apis
            .failure(&mesh.id)
            .unwrap_or_else(|| "its API server has not started".to_owned());
        return Err(ApiError::internal_error(format!(
            "The kubeconfig of service mesh {} is not available: {why}",
            mesh.id
        )));
    };
    Ok(body([
        ("Kubeconfig", Value::String(api.kubeconfig().to_owned())),
        ("ExpireTime", Value::String(api.expire_time().to_owned())),
    ]))
}
