//! The hooks other sandbox parts use: reading objects, writing them as a controller, the change
//! feed, namespaces, labels and ConfigMaps.

use std::collections::BTreeMap;

use meshform_sandbox::kube::{ChangeKind, Gvk};
use serde_json::json;

use crate::support::TestCluster;

#[tokio::test]
async fn controllers_can_read_write_and_follow_objects() {
    let c = TestCluster::start().await;
    let h = c.server.handle();
    let mut feed = h.subscribe();

    let ns = h.ensure_namespace("istio-system").unwrap();
    assert_eq!(ns["status"]["phase"], "Active");
    assert_eq!(
        h.ensure_namespace("istio-system").unwrap()["metadata"]["uid"],
        ns["metadata"]["uid"],
        "idempotent"
    );
    h.set_namespace_label("asm", "default", "istio-injection", Some("enabled")).unwrap();
    let mut data = BTreeMap::new();
    data.insert("root-cert.pem".to_string(), "-----BEGIN CERTIFICATE-----\n...".to_string());
    h.put_config_map("asm", "default", "istio-ca-root-cert", &data).unwrap();

    let labelled =
        h.list(&Gvk::new("", "v1", "Namespace"), None, Some("istio-injection=enabled")).unwrap();
    assert_eq!(labelled.len(), 1);
    assert_eq!(labelled[0]["metadata"]["name"], "default");
    let cm =
        h.get(&Gvk::new("", "v1", "ConfigMap"), Some("default"), "istio-ca-root-cert").unwrap();
    assert!(cm["data"]["root-cert.pem"].as_str().unwrap().starts_with("-----BEGIN"));
    // kubectl sees what the hooks wrote.
    let via_api = c.client.get("/api/v1/namespaces/default").await.json();
    assert_eq!(via_api["metadata"]["labels"]["istio-injection"], "enabled");

    let mut seen = Vec::new();
    while seen.len() < 3 {
        let ch = tokio::time::timeout(std::time::Duration::from_secs(5), feed.recv())
            .await
            .unwrap()
            .unwrap();
        seen.push((
            ch.kind,
            ch.gvk.kind.clone(),
            ch.object["metadata"]["name"].as_str().unwrap().to_string(),
        ));
    }
    assert!(
        seen.contains(&(ChangeKind::Added, "Namespace".into(), "istio-system".into())),
        "{seen:?}"
    );
    assert!(
        seen.contains(&(ChangeKind::Modified, "Namespace".into(), "default".into())),
        "{seen:?}"
    );
    assert!(
        seen.contains(&(ChangeKind::Added, "ConfigMap".into(), "istio-ca-root-cert".into())),
        "{seen:?}"
    );

    h.set_namespace_label("asm", "default", "istio-injection", None).unwrap();
    assert!(h
        .list(&Gvk::new("", "v1", "Namespace"), None, Some("istio-injection"))
        .unwrap()
        .is_empty());
    // Unknown kinds can be written by controllers too, and show up in discovery.
    let se = json!({"apiVersion": "networking.istio.io/v1", "kind": "ServiceEntry", "metadata": {"name": "remote", "namespace": "istio-system"}, "spec": {"hosts": ["x"]}});
    h.apply("asm", &se).unwrap();
    assert_eq!(
        c.client
            .get("/apis/networking.istio.io/v1/namespaces/istio-system/serviceentries/remote")
            .await
            .status,
        200
    );
    h.delete(
        &Gvk::new("networking.istio.io", "v1", "ServiceEntry"),
        Some("istio-system"),
        "remote",
    )
    .unwrap();
    assert!(h
        .get(&Gvk::new("networking.istio.io", "v1", "ServiceEntry"), Some("istio-system"), "remote")
        .is_none());
    c.server.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_kubeconfig_names_the_cluster_and_carries_the_ca_and_token() {
    let c = TestCluster::start().await;
    let yaml = c.server.kubeconfig_yaml();
    assert!(yaml.contains(&format!("server: {}", c.server.url())));
    assert!(c.server.url().starts_with("https://127.0.0.1:"));
    assert!(yaml.contains("certificate-authority-data: "));
    assert!(yaml.contains(&format!("token: {}", c.server.token())));
    assert!(yaml.contains("current-context: cluster-1"));
    let path = c.dir.path().join("kc");
    c.server.write_kubeconfig(&path).unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), yaml);
    c.server.shutdown().await.unwrap();
}
