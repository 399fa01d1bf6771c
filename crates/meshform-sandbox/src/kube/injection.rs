//! Sidecar injection, as Istio's mutating webhook does it: a pod created in a namespace labelled
//! `istio-injection=enabled` (and not opted out) gets an `istio-proxy` container.
//!
//! The proxy image is the one the cluster's mesh names in its injector's values (the ConfigMap
//! `istio-system/istio-sidecar-injector`, as istiod reads it): `<global.hub>/<global.proxy.image>:
//! <global.tag>`, the tag being the mesh's version. A pod keeps the image it was created with, so
//! after a control-plane upgrade only pods created since (a rollout restart) run the new proxy.

use serde_json::{json, Value};

/// The label that turns injection on for a namespace.
pub const INJECTION_LABEL: &str = "istio-injection";

/// The ConfigMap in `istio-system` whose `values` (JSON) say which proxy the injector adds.
pub const INJECTOR_CONFIG_MAP: &str = "istio-sidecar-injector";

/// What the injector's values name: the proxy image and the control plane's revision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InjectorValues {
    pub image: String,
    pub revision: String,
}

/// The values of an `istio-sidecar-injector` ConfigMap; `None` when it has no usable
/// `global.hub`, `global.tag` (the image defaults to `proxyv2`, the revision to `default`).
pub fn injector_values(config_map: Option<&Value>) -> Option<InjectorValues> {
    let values: Value = serde_json::from_str(config_map?["data"]["values"].as_str()?).ok()?;
    let global = &values["global"];
    let hub = global["hub"].as_str().filter(|h| !h.is_empty())?;
    let tag = global["tag"].as_str().filter(|t| !t.is_empty())?;
    let image = global["proxy"]["image"].as_str().unwrap_or("proxyv2");
    let revision = values["revision"].as_str().filter(|r| !r.is_empty()).unwrap_or("default");
    Some(InjectorValues { image: format!("{hub}/{image}:{tag}"), revision: revision.to_owned() })
}

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

/// Add the `istio-proxy` container and the annotations and labels the injector sets;
/// `sidecar.istio.io/status` names the control plane's `revision`, as Istio ≥ 1.8 writes it.
pub fn inject(pod: &mut Value, image: &str, revision: &str) {
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
        "revision": revision,
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
