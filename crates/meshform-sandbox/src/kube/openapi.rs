//! OpenAPI v3, just enough for kubectl: an index of group/versions, and per group/version the
//! item paths with a `patch` operation carrying `x-kubernetes-group-version-kind` and the
//! `fieldValidation` parameter. kubectl then validates server-side (`fieldValidation=Strict`) and
//! computes strategic merge patches from its own types.

use meshform_core::hex;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::discovery::GIT_VERSION;
use super::kinds::{Catalogue, ResourceType};

/// The path of a group/version in the index: `api/v1`, `apis/apps/v1`.
fn gv_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

fn all_gvs(c: &Catalogue) -> Vec<(String, String)> {
    let mut out = vec![(String::new(), "v1".to_string())];
    for (g, vs) in c.groups() {
        for v in vs {
            out.push((g.clone(), v));
        }
    }
    out
}

/// `/openapi/v3`.
pub fn index(c: &Catalogue) -> Value {
    let mut paths = Map::new();
    for (g, v) in all_gvs(c) {
        let doc = document(c, &g, &v);
        let hash = hex::encode_upper(&Sha256::digest(doc.to_string().as_bytes()));
        let p = gv_path(&g, &v);
        paths.insert(
            p.clone(),
            json!({"serverRelativeURL": format!("/openapi/v3/{p}?hash={}", &hash[..32])}),
        );
    }
    json!({"paths": paths})
}

/// `/openapi/v3/<gv path>`, if served.
pub fn for_path(c: &Catalogue, path: &str) -> Option<Value> {
    all_gvs(c).into_iter().find(|(g, v)| gv_path(g, v) == path).map(|(g, v)| document(c, &g, &v))
}

fn param(name: &str, ty: &str) -> Value {
    json!({"name": name, "in": "query", "schema": {"type": ty, "uniqueItems": true}})
}

fn operation(t: &ResourceType, version: &str, action: &str) -> Value {
    let mut params = vec![param("dryRun", "string"), param("fieldManager", "string")];
    if action == "patch" || action == "put" || action == "post" {
        params.push(param("fieldValidation", "string"));
    }
    if action == "patch" {
        params.push(param("force", "boolean"));
    }
    json!({
        "operationId": format!("{action}{}", t.kind),
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": {"group": t.group, "version": version, "kind": t.kind},
        "parameters": params,
        "responses": {"200": {"description": "OK"}},
    })
}

fn document(c: &Catalogue, group: &str, version: &str) -> Value {
    let mut paths = Map::new();
    for t in c.in_group_version(group, version) {
        let base = format!("/{}", gv_path(group, version));
        let coll = if t.namespaced {
            format!("{base}/namespaces/{{namespace}}/{}", t.plural)
        } else {
            format!("{base}/{}", t.plural)
        };
        paths.insert(
            coll.clone(),
            json!({"get": operation(t, version, "list"), "post": operation(t, version, "post")}),
        );
        paths.insert(
            format!("{coll}/{{name}}"),
            json!({
                "get": operation(t, version, "get"),
                "put": operation(t, version, "put"),
                "patch": operation(t, version, "patch"),
                "delete": operation(t, version, "delete"),
            }),
        );
    }
    json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": GIT_VERSION},
        "paths": paths,
        "components": {"schemas": {}},
    })
}
