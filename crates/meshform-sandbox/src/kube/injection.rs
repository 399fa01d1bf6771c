//! Sidecar injection, as Istio's mutating webhook does it: a pod created in a namespace labelled
//! `istio-injection=enabled` (and not opted out) gets an `istio-proxy` container.

use serde_json::{json, Value};

/// The label that turns injection on for a namespace.
pub const INJECTION_LABEL: &str = "istio-injection";

/// Whether a pod created in `namespace` gets a sidecar.
pub fn wants_sidecar(pod: &Value, namespace: Option<&Value>) -> bool {
    let Some(ns) = namespace else { return false };
    let ns_on = ns["metadata"]["labels"][INJECTION_LABEL].as_str() == Some("enabled");
    let opted_out = pod["metadata"]["annotations"]["sidecar.istio.io/inject"].as_str()
        == Some("false")
        || pod["metadata"]["labels"]["sidecar.istio.io/inject"].as_str() == Some("false");
    let has = pod["spec"]["containers"]
        .as_array()
        .is_some_and(|cs| cs.iter().any(|c| c["name"] == "istio-proxy"));
    ns_on && !opted_out && !has && pod["spec"]["hostNetwork"].as_bool() != Some(true)
}

/// Add the `istio-proxy` container and the annotations and labels the injector sets.
pub fn inject(pod: &mut Value, image: &str) {
    let app = pod["metadata"]["labels"]["app"].as_str().map(String::from).unwrap_or_else(|| {
        pod["metadata"]["generateName"].as_str().unwrap_or("").trim_end_matches('-').to_string()
    });
    let first_app = pod["spec"]["containers"][0]["name"].as_str().map(String::from);
    let version = pod["metadata"]["labels"]["version"].as_str().unwrap_or("latest").to_string();
    let proxy = json!({
        "name": "istio-proxy",
        "image": image,
        "args": ["proxy", "sidecar", "--domain", "$(POD_NAMESPACE).svc.cluster.local",
                 "--proxyLogLevel=warning", "--proxyComponentLogLevel=misc:error", "--log_output_level=default:info"],
        "ports": [{"containerPort": 15090, "name": "http-envoy-prom", "protocol": "TCP"}],
        "env": [
            {"name": "POD_NAME", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}},
            {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}},
            {"name": "ISTIO_META_APP_CONTAINERS", "value": container_names(pod)}
        ],
        "readinessProbe": {"httpGet": {"path": "/healthz/ready", "port": 15021, "scheme": "HTTP"},
                           "periodSeconds": 15, "failureThreshold": 4, "timeoutSeconds": 3},
        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "2", "memory": "1Gi"}},
        "securityContext": {"runAsUser": 1337, "runAsGroup": 1337, "runAsNonRoot": true,
                            "readOnlyRootFilesystem": true, "allowPrivilegeEscalation": false},
        "volumeMounts": [{"mountPath": "/var/run/secrets/istio", "name": "istiod-ca-cert"},
                         {"mountPath": "/etc/istio/proxy", "name": "istio-envoy"}]
    });
    if let Some(cs) = pod["spec"]["containers"].as_array_mut() {
        cs.push(proxy);
    }
    let volumes =
        pod["spec"].as_object_mut().map(|s| s.entry("volumes").or_insert_with(|| json!([])));
    if let Some(Value::Array(vs)) = volumes {
        vs.push(json!({"name": "istio-envoy", "emptyDir": {"medium": "Memory"}}));
        vs.push(json!({"name": "istiod-ca-cert", "configMap": {"name": "istio-ca-root-cert"}}));
    }
    let status = json!({
        "initContainers": [], "containers": ["istio-proxy"],
        "volumes": ["istio-envoy", "istiod-ca-cert"], "imagePullSecrets": null,
    });
    let md = super::meta::metadata_mut(pod);
    let ann = super::meta::object_at(md, "annotations");
    ann.insert("sidecar.istio.io/status".into(), json!(status.to_string()));
    if let Some(first) = first_app {
        ann.entry("kubectl.kubernetes.io/default-container").or_insert_with(|| json!(first));
    }
    let labels = super::meta::object_at(md, "labels");
    labels.insert("security.istio.io/tlsMode".into(), json!("istio"));
    labels.entry("service.istio.io/canonical-name").or_insert_with(|| json!(app));
    labels.entry("service.istio.io/canonical-revision").or_insert_with(|| json!(version));
}

fn container_names(pod: &Value) -> String {
    pod["spec"]["containers"]
        .as_array()
        .map(|cs| cs.iter().filter_map(|c| c["name"].as_str()).collect::<Vec<_>>().join(","))
        .unwrap_or_default()
}
