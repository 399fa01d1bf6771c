//! API discovery: `/version`, `/api`, `/apis`, `/apis/<group>` and the resource lists of each
//! group/version (plain discovery; aggregated discovery requests fall back to it).

use serde_json::{json, Value};

use super::kinds::{api_version, Catalogue, ResourceType};

/// The Kubernetes version the emulator reports; kubectl's dispatcher picks a kubectl by its minor.
pub const GIT_VERSION: &str = "v1.32.4";

/// `/version`.
pub fn version() -> Value {
    json!({
        "major": "1",
        "minor": "32",
        "gitVersion": GIT_VERSION,
        "gitCommit": "59526cd4867447956156ae3a602fcbac10a2c335",
        "gitTreeState": "clean",
        "buildDate": "2025-04-22T16:02:27Z",
        "goVersion": "go1.23.8",
        "compiler": "gc",
        "platform": "linux/amd64",
        "emulator": "meshform-sandbox",
    })
}

/// `/api`.
pub fn core_versions(server_address: &str) -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    })
}

fn group_json(name: &str, versions: &[String]) -> Value {
    let vs: Vec<Value> = versions
        .iter()
        .map(|v| json!({"groupVersion": api_version(name, v), "version": v}))
        .collect();
    json!({
        "name": name,
        "versions": vs,
        "preferredVersion": vs.first().cloned().unwrap_or(Value::Null),
    })
}

/// `/apis`.
pub fn groups(c: &Catalogue) -> Value {
    let groups: Vec<Value> = c.groups().iter().map(|(g, vs)| group_json(g, vs)).collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// `/apis/<group>`, if served.
pub fn group(c: &Catalogue, name: &str) -> Option<Value> {
    let (g, vs) = c.groups().into_iter().find(|(g, _)| g == name)?;
    let mut v = group_json(&g, &vs);
    v["kind"] = json!("APIGroup");
    v["apiVersion"] = json!("v1");
    Some(v)
}

const VERBS: &[&str] =
    &["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];

fn resource_json(t: &ResourceType) -> Value {
    let mut r = json!({
        "name": t.plural,
        "singularName": t.singular,
        "namespaced": t.namespaced,
        "kind": t.kind,
        "verbs": VERBS,
    });
    if !t.short_names.is_empty() {
        r["shortNames"] = json!(t.short_names);
    }
    if !t.categories.is_empty() {
        r["categories"] = json!(t.categories);
    }
    r
}

fn sub(t: &ResourceType, name: &str, kind: &str, verbs: &[&str]) -> Value {
    json!({
        "name": format!("{}/{name}", t.plural),
        "singularName": "",
        "namespaced": t.namespaced,
        "kind": kind,
        "verbs": verbs,
    })
}

/// `/api/v1`, `/apis/<group>/<version>`, if served.
pub fn resources(c: &Catalogue, group: &str, version: &str) -> Option<Value> {
    let types = c.in_group_version(group, version);
    if types.is_empty() {
        return None;
    }
    let mut list = Vec::new();
    for t in types {
        list.push(resource_json(t));
        if t.status_subresource {
            list.push(sub(t, "status", &t.kind, &["get", "patch", "update"]));
        }
        if t.is("apps", "Deployment") || t.is("apps", "ReplicaSet") {
            let mut s = sub(t, "scale", "Scale", &["get", "patch", "update"]);
            s["group"] = json!("autoscaling");
            s["version"] = json!("v1");
            list.push(s);
        }
        if t.is("", "Pod") {
            list.push(sub(t, "exec", "PodExecOptions", &["create", "get"]));
            list.push(sub(t, "log", "Pod", &["get"]));
        }
        if t.is("", "Namespace") {
            list.push(sub(t, "finalize", "Namespace", &["update"]));
        }
    }
    Some(json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": api_version(group, version),
        "resources": list,
    }))
}
