//! Server-side defaulting and validation of the built-in kinds, as the real API server does them
//! on every write (so clients see `clusterIP`, `strategy`, `imagePullPolicy`, … and 422s).

use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::kinds::ResourceType;
use super::meta;
use super::selectors::LabelSelector;

fn set_default(m: &mut Map<String, Value>, key: &str, v: Value) {
    if m.get(key).is_none_or(Value::is_null) {
        m.insert(key.into(), v);
    }
}

/// Fill in what the real server defaults. `old` is the stored object for updates.
pub fn apply(rt: &ResourceType, obj: &mut Value, old: Option<&Value>) {
    if !rt.builtin {
        return;
    }
    let name = meta::name(obj).to_string();
    let ns = meta::namespace(obj).to_string();
    let Some(root) = obj.as_object_mut() else { return };
    match (rt.group.as_str(), rt.kind.as_str()) {
        ("", "Namespace") => {
            let md = meta::object_at(root, "metadata");
            meta::object_at(md, "labels").insert("kubernetes.io/metadata.name".into(), json!(name));
            let spec = meta::object_at(root, "spec");
            set_default(spec, "finalizers", json!(["kubernetes"]));
            let deleting = root["metadata"]["deletionTimestamp"].is_string();
            let status = meta::object_at(root, "status");
            status.insert("phase".into(), json!(if deleting { "Terminating" } else { "Active" }));
        }
        ("apps", "Deployment") => {
            let spec = meta::object_at(root, "spec");
            set_default(spec, "replicas", json!(1));
            set_default(spec, "revisionHistoryLimit", json!(10));
            set_default(spec, "progressDeadlineSeconds", json!(600));
            set_default(
                spec,
                "strategy",
                json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}),
            );
            pod_template(spec);
        }
        ("apps", "ReplicaSet") => {
            let spec = meta::object_at(root, "spec");
            set_default(spec, "replicas", json!(1));
            pod_template(spec);
        }
        ("", "Pod") => {
            let spec = meta::object_at(root, "spec");
            pod_spec(spec);
            if spec.get("serviceAccountName").is_none_or(Value::is_null) {
                let sa = spec.get("serviceAccount").cloned().unwrap_or(json!("default"));
                spec.insert("serviceAccountName".into(), sa);
            }
            let status = meta::object_at(root, "status");
            set_default(status, "phase", json!("Pending"));
            set_default(status, "qosClass", json!("BestEffort"));
        }
        ("", "Service") => {
            let spec = meta::object_at(root, "spec");
            set_default(spec, "type", json!("ClusterIP"));
            set_default(spec, "sessionAffinity", json!("None"));
            let old_ip = old.and_then(|o| o["spec"]["clusterIP"].as_str()).map(String::from);
            if spec.get("clusterIP").is_none_or(Value::is_null) {
                let ip = old_ip.unwrap_or_else(|| cluster_ip(&ns, &name));
                spec.insert("clusterIP".into(), json!(ip));
            }
            let ip = spec["clusterIP"].clone();
            set_default(spec, "clusterIPs", json!([ip]));
            set_default(spec, "ipFamilies", json!(["IPv4"]));
            set_default(spec, "ipFamilyPolicy", json!("SingleStack"));
            set_default(spec, "internalTrafficPolicy", json!("Cluster"));
            let node_ports = matches!(
                spec.get("type").and_then(Value::as_str),
                Some("NodePort" | "LoadBalancer")
            );
            if node_ports {
                set_default(spec, "externalTrafficPolicy", json!("Cluster"));
            }
            for p in spec.get_mut("ports").and_then(Value::as_array_mut).into_iter().flatten() {
                if let Some(p) = p.as_object_mut() {
                    set_default(p, "protocol", json!("TCP"));
                    let port = p.get("port").cloned().unwrap_or(Value::Null);
                    set_default(p, "targetPort", port.clone());
                    if node_ports {
                        set_default(p, "nodePort", json!(node_port(&ns, &name, &port)));
                    }
                }
            }
            let status = meta::object_at(root, "status");
            set_default(status, "loadBalancer", json!({}));
        }
        ("", "Secret") => {
            set_default(root, "type", json!("Opaque"));
            if let Some(Value::Object(sd)) = root.remove("stringData") {
                let data = meta::object_at(root, "data");
                for (k, v) in sd {
                    if let Some(s) = v.as_str() {
                        use base64::Engine;
                        let enc = base64::engine::general_purpose::STANDARD.encode(s);
                        data.insert(k, json!(enc));
                    }
                }
            }
        }
        _ => {}
    }
}

fn pod_template(spec: &mut Map<String, Value>) {
    let template = meta::object_at(spec, "template");
    let pspec = meta::object_at(template, "spec");
    pod_spec(pspec);
}

fn pod_spec(spec: &mut Map<String, Value>) {
    set_default(spec, "restartPolicy", json!("Always"));
    set_default(spec, "terminationGracePeriodSeconds", json!(30));
    set_default(spec, "dnsPolicy", json!("ClusterFirst"));
    set_default(spec, "securityContext", json!({}));
    set_default(spec, "schedulerName", json!("default-scheduler"));
    if let Some(sa) = spec.get("serviceAccount").cloned() {
        set_default(spec, "serviceAccountName", sa);
    }
    for field in ["containers", "initContainers"] {
        for c in spec.get_mut(field).and_then(Value::as_array_mut).into_iter().flatten() {
            let Some(c) = c.as_object_mut() else { continue };
            set_default(c, "terminationMessagePath", json!("/dev/termination-log"));
            set_default(c, "terminationMessagePolicy", json!("File"));
            set_default(c, "resources", json!({}));
            let image = c.get("image").and_then(Value::as_str).unwrap_or("");
            let latest =
                !image.rsplit('/').next().unwrap_or("").contains(':') || image.ends_with(":latest");
            set_default(
                c,
                "imagePullPolicy",
                json!(if latest { "Always" } else { "IfNotPresent" }),
            );
            for p in c.get_mut("ports").and_then(Value::as_array_mut).into_iter().flatten() {
                if let Some(p) = p.as_object_mut() {
                    set_default(p, "protocol", json!("TCP"));
                }
            }
        }
    }
}

/// A stable node port in 30000-32767 for a service port.
fn node_port(ns: &str, name: &str, port: &Value) -> u16 {
    let h = Sha256::digest(format!("{ns}/{name}/{port}").as_bytes());
    30000 + (u16::from_be_bytes([h[0], h[1]]) % 2768)
}

/// A stable cluster IP in 10.96.0.0/16 for a service.
fn cluster_ip(ns: &str, name: &str) -> String {
    let h = Sha256::digest(format!("{ns}/{name}").as_bytes());
    format!("10.96.{}.{}", h[0], 1 + h[1] % 254)
}

/// Problems with an object, as (field, message) pairs; empty when valid.
pub fn validate(rt: &ResourceType, obj: &Value, old: Option<&Value>) -> Vec<(String, String)> {
    let mut errs = Vec::new();
    let name = meta::name(obj);
    let name_problem = if rt.is("", "Namespace") || rt.is("", "Service") {
        meta::check_label(name)
    } else {
        meta::check_subdomain(name)
    };
    if let Some(p) = name_problem {
        errs.push(("metadata.name".into(), p));
    }
    for (k, v) in meta::labels(obj) {
        if !meta::check_label_key(&k) {
            errs.push(("metadata.labels".into(), format!("Invalid value: {k:?}: name part must consist of alphanumeric characters, '-', '_' or '.'")));
        }
        if !meta::check_label_value(&v) {
            errs.push(("metadata.labels".into(), format!("Invalid value: {v:?}: a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character")));
        }
    }
    if obj["metadata"]["labels"].as_object().is_some_and(|m| m.values().any(|v| !v.is_string())) {
        errs.push(("metadata.labels".into(), "Invalid value: label values must be strings".into()));
    }
    if !rt.builtin {
        return errs;
    }
    match (rt.group.as_str(), rt.kind.as_str()) {
        ("apps", "Deployment") | ("apps", "ReplicaSet") => {
            let spec = &obj["spec"];
            match spec["replicas"].as_i64() {
                Some(r) if r < 0 => errs.push((
                    "spec.replicas".into(),
                    format!("Invalid value: {r}: must be greater than or equal to 0"),
                )),
                None if !spec["replicas"].is_null() => {
                    errs.push(("spec.replicas".into(), "Invalid value: must be an integer".into()))
                }
                _ => {}
            }
            let sel = &spec["selector"];
            if !sel.is_object()
                || (sel["matchLabels"].is_null() && sel["matchExpressions"].is_null())
            {
                errs.push(("spec.selector".into(), "Required value".into()));
            } else {
                let labels = &spec["template"]["metadata"]["labels"];
                if !LabelSelector::from_object(sel).matches(labels) {
                    errs.push((
                        "spec.template.metadata.labels".into(),
                        format!(
                            "Invalid value: {}: `selector` does not match template `labels`",
                            labels
                        ),
                    ));
                }
                if let Some(o) = old {
                    if o["spec"]["selector"] != *sel {
                        errs.push((
                            "spec.selector".into(),
                            format!("Invalid value: {}: field is immutable", sel),
                        ));
                    }
                }
            }
            containers(&spec["template"]["spec"], "spec.template.spec", &mut errs);
        }
        ("", "Pod") => containers(&obj["spec"], "spec", &mut errs),
        ("", "Service") => {
            for (i, p) in obj["spec"]["ports"].as_array().into_iter().flatten().enumerate() {
                let port = p["port"].as_i64().unwrap_or(0);
                if !(1..=65535).contains(&port) {
                    errs.push((
                        format!("spec.ports[{i}].port"),
                        format!("Invalid value: {port}: must be between 1 and 65535, inclusive"),
                    ));
                }
            }
        }
        _ => {}
    }
    errs
}

fn containers(spec: &Value, at: &str, errs: &mut Vec<(String, String)>) {
    let list = spec["containers"].as_array();
    if list.is_none_or(|l| l.is_empty()) {
        errs.push((format!("{at}.containers"), "Required value".into()));
        return;
    }
    for (i, c) in list.into_iter().flatten().enumerate() {
        if c["name"].as_str().is_none_or(str::is_empty) {
            errs.push((format!("{at}.containers[{i}].name"), "Required value".into()));
        }
        if c["image"].as_str().is_none_or(str::is_empty) {
            errs.push((format!("{at}.containers[{i}].image"), "Required value".into()));
        }
    }
}
