//! `Table` responses for `kubectl get`: the columns the real server prints for the built-in
//! kinds (Name and Age for the others), each row carrying a `PartialObjectMetadata`.

use serde_json::{json, Value};

use super::kinds::ResourceType;
use super::meta;

/// Whether the Accept header asks for a Table.
pub fn wanted(accept: &str) -> bool {
    accept.split(',').any(|a| a.contains("as=Table"))
}

fn col(name: &str, ty: &str, priority: u8) -> Value {
    let format = if name == "Name" { "name" } else { "" };
    json!({"name": name, "type": ty, "format": format, "description": "", "priority": priority})
}

/// The column definitions of a kind.
pub fn columns(rt: &ResourceType) -> Vec<Value> {
    let s = |n: &str| col(n, "string", 0);
    let i = |n: &str| col(n, "integer", 0);
    match (rt.group.as_str(), rt.kind.as_str(), rt.builtin) {
        ("", "Pod", true) => vec![
            s("Name"),
            s("Ready"),
            s("Status"),
            i("Restarts"),
            s("Age"),
            col("IP", "string", 1),
            col("Node", "string", 1),
        ],
        ("apps", "Deployment", true) => vec![
            s("Name"),
            s("Ready"),
            i("Up-to-date"),
            i("Available"),
            s("Age"),
            col("Containers", "string", 1),
            col("Images", "string", 1),
            col("Selector", "string", 1),
        ],
        ("apps", "ReplicaSet", true) => {
            vec![s("Name"), i("Desired"), i("Current"), i("Ready"), s("Age")]
        }
        ("", "Service", true) => vec![
            s("Name"),
            s("Type"),
            s("Cluster-IP"),
            s("External-IP"),
            s("Port(s)"),
            s("Age"),
            col("Selector", "string", 1),
        ],
        ("", "Namespace", true) => vec![s("Name"), s("Status"), s("Age")],
        ("", "ConfigMap", true) => vec![s("Name"), i("Data"), s("Age")],
        ("", "Secret", true) => vec![s("Name"), s("Type"), i("Data"), s("Age")],
        ("", "Endpoints", true) => vec![s("Name"), s("Endpoints"), s("Age")],
        _ => vec![s("Name"), s("Age")],
    }
}

/// Age in kubectl's short form (`12s`, `4m3s`, `2d`).
pub fn age(created: &str) -> String {
    let Some(t) = meta::parse_time(created) else { return "<unknown>".into() };
    let secs = (time::OffsetDateTime::now_utc() - t).whole_seconds().max(0);
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 600 => format!("{}m{}s", s / 60, s % 60),
        s if s < 3 * 3600 => format!("{}m", s / 60),
        s if s < 8 * 3600 => format!("{}h{}m", s / 3600, (s % 3600) / 60),
        s if s < 48 * 3600 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86400),
    }
}

fn n(v: &Value) -> i64 {
    v.as_i64().unwrap_or(0)
}

fn cells(rt: &ResourceType, o: &Value) -> Vec<Value> {
    let name = json!(meta::name(o));
    let a = json!(age(o["metadata"]["creationTimestamp"].as_str().unwrap_or("")));
    let spec = &o["spec"];
    let st = &o["status"];
    match (rt.group.as_str(), rt.kind.as_str(), rt.builtin) {
        ("", "Pod", true) => {
            let total = spec["containers"].as_array().map_or(0, Vec::len);
            let statuses = st["containerStatuses"].as_array();
            let ready = statuses.map_or(0, |s| s.iter().filter(|c| c["ready"] == true).count());
            let restarts: i64 =
                statuses.map_or(0, |s| s.iter().map(|c| n(&c["restartCount"])).sum());
            let phase = if meta::is_deleting(o) {
                "Terminating".to_string()
            } else if st["phase"] == "Pending" && o["spec"]["nodeName"].is_string() {
                "ContainerCreating".to_string()
            } else {
                st["phase"].as_str().unwrap_or("Pending").to_string()
            };
            vec![
                name,
                json!(format!("{ready}/{total}")),
                json!(phase),
                json!(restarts),
                a,
                json!(st["podIP"].as_str().unwrap_or("<none>")),
                json!(spec["nodeName"].as_str().unwrap_or("<none>")),
            ]
        }
        ("apps", "Deployment", true) => {
            let containers = spec["template"]["spec"]["containers"].as_array();
            let names: Vec<&str> =
                containers.into_iter().flatten().filter_map(|c| c["name"].as_str()).collect();
            let images: Vec<&str> =
                containers.into_iter().flatten().filter_map(|c| c["image"].as_str()).collect();
            let sel = super::selectors::LabelSelector::from_object(&spec["selector"]).to_query();
            vec![
                name,
                json!(format!("{}/{}", n(&st["readyReplicas"]), n(&spec["replicas"]))),
                json!(n(&st["updatedReplicas"])),
                json!(n(&st["availableReplicas"])),
                a,
                json!(names.join(",")),
                json!(images.join(",")),
                json!(sel),
            ]
        }
        ("apps", "ReplicaSet", true) => vec![
            name,
            json!(n(&spec["replicas"])),
            json!(n(&st["replicas"])),
            json!(n(&st["readyReplicas"])),
            a,
        ],
        ("", "Service", true) => {
            let ports: Vec<String> = spec["ports"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| format!("{}/{}", n(&p["port"]), p["protocol"].as_str().unwrap_or("TCP")))
                .collect();
            let sel = meta::string_map(&spec["selector"])
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(",");
            vec![
                name,
                json!(spec["type"].as_str().unwrap_or("ClusterIP")),
                json!(spec["clusterIP"].as_str().unwrap_or("<none>")),
                json!("<none>"),
                json!(if ports.is_empty() { "<none>".to_string() } else { ports.join(",") }),
                a,
                json!(if sel.is_empty() { "<none>".to_string() } else { sel }),
            ]
        }
        ("", "Namespace", true) => vec![name, json!(st["phase"].as_str().unwrap_or("Active")), a],
        ("", "ConfigMap", true) => {
            let count = o["data"].as_object().map_or(0, |m| m.len())
                + o["binaryData"].as_object().map_or(0, |m| m.len());
            vec![name, json!(count), a]
        }
        ("", "Secret", true) => vec![
            name,
            json!(o["type"].as_str().unwrap_or("Opaque")),
            json!(o["data"].as_object().map_or(0, |m| m.len())),
            a,
        ],
        ("", "Endpoints", true) => {
            let mut eps = Vec::new();
            for s in o["subsets"].as_array().into_iter().flatten() {
                for addr in s["addresses"].as_array().into_iter().flatten() {
                    for p in s["ports"].as_array().into_iter().flatten() {
                        eps.push(format!(
                            "{}:{}",
                            addr["ip"].as_str().unwrap_or(""),
                            n(&p["port"])
                        ));
                    }
                }
            }
            vec![name, json!(if eps.is_empty() { "<none>".to_string() } else { eps.join(",") }), a]
        }
        _ => vec![name, a],
    }
}

/// The row object `includeObject` asks for (`Metadata` by default).
fn row_object(o: &Value, include: &str) -> Value {
    match include {
        "None" => Value::Null,
        "Object" => o.clone(),
        _ => {
            json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": o["metadata"]})
        }
    }
}

/// A Table of objects.
pub fn table(
    rt: &ResourceType,
    items: &[Value],
    resource_version: &str,
    include: &str,
    with_columns: bool,
) -> Value {
    let rows: Vec<Value> = items
        .iter()
        .map(|o| json!({"cells": cells(rt, o), "object": row_object(o, include)}))
        .collect();
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": resource_version},
        "columnDefinitions": if with_columns { columns(rt) } else { vec![] },
        "rows": rows,
    })
}
