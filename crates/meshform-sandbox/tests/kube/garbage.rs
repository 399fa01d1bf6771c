//! Bad input gets the Status error a real server returns, never a crash or a 500.

use hyper::Method;
use serde_json::{json, Value};

use crate::support::{Resp, TestCluster};

fn status(r: &Resp, code: u16) -> Value {
    assert_eq!(r.status, code, "{}", r.text());
    let s = r.json();
    assert_eq!(s["kind"], "Status", "{s}");
    assert_eq!(s["code"], code);
    s
}

#[tokio::test]
async fn malformed_bodies_and_paths_get_status_errors() {
    let c = TestCluster::start().await;
    let cms = "/api/v1/namespaces/default/configmaps";
    let json_ct = [("content-type", "application/json")];
    let r = c.client.call(Method::POST, cms, &json_ct, Some(b"{not json".to_vec())).await;
    assert_eq!(status(&r, 400)["reason"], "BadRequest");
    let r = c.client.call(Method::POST, cms, &json_ct, Some(vec![0xff, 0xfe, 0x00, 0x01])).await;
    status(&r, 400);
    let r = c.client.call(Method::POST, cms, &json_ct, Some(Vec::new())).await;
    status(&r, 400);
    let deep = "[".repeat(10_000) + &"]".repeat(10_000);
    let r = c.client.call(Method::POST, cms, &json_ct, Some(deep.into_bytes())).await;
    status(&r, 400);
    let r = c.client.post(cms, &json!([1, 2, 3])).await;
    status(&r, 400);
    let r = c
        .client
        .post(cms, &json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "x"}}))
        .await;
    status(&r, 400);
    let r = c
        .client
        .post(cms, &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": "nope"}))
        .await;
    status(&r, 400);
    let big = vec![b' '; 4 * 1024 * 1024];
    let r = c.client.call(Method::POST, cms, &json_ct, Some(big)).await;
    assert_eq!(status(&r, 413)["reason"], "RequestEntityTooLarge");

    for path in [
        "/nope",
        "/api/v2/pods",
        "/apis/nope.example.com/v1/widgets",
        "/api/v1/namespaces/default/widgets",
        "/api/v1/a/b/c/d/e/f",
    ] {
        let r = c.client.get(path).await;
        assert_eq!(status(&r, 404)["reason"], "NotFound", "{path}");
    }
    let r = c
        .client
        .call(
            Method::POST,
            "/api/v1/namespaces/default/configmaps/x",
            &json_ct,
            Some(b"{}".to_vec()),
        )
        .await;
    status(&r, 405);
    let r = c.client.get("/api/v1/namespaces/default/configmaps?dryRun=Some").await;
    status(&r, 400);
    let r = c.client.get("/api/v1/namespaces/default/configmaps?labelSelector=%28%28%28").await;
    status(&r, 400);
    let r =
        c.client.get("/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=abc").await;
    status(&r, 400);
    c.server.shutdown().await.unwrap();
}

#[tokio::test]
async fn invalid_objects_get_422_with_causes() {
    let c = TestCluster::start().await;
    let huge = "a".repeat(300);
    let r = c
        .client
        .post(
            "/api/v1/namespaces/default/configmaps",
            &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": huge}}),
        )
        .await;
    let s = status(&r, 422);
    assert_eq!(s["reason"], "Invalid");
    assert_eq!(s["details"]["causes"][0]["field"], "metadata.name");
    let r = c
        .client
        .post(
            "/api/v1/namespaces/default/configmaps",
            &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "Bad_Name"}}),
        )
        .await;
    status(&r, 422);
    let r = c
        .client
        .post(
            "/api/v1/namespaces/default/configmaps",
            &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}}),
        )
        .await;
    status(&r, 422);
    let r = c
        .client
        .post(
            "/api/v1/namespaces/missing/configmaps",
            &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}),
        )
        .await;
    assert_eq!(status(&r, 404)["message"], "namespaces \"missing\" not found");

    let bad = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
        "spec": {"selector": {"matchLabels": {"app": "a"}}, "template": {"metadata": {"labels": {"app": "b"}}, "spec": {"containers": [{"name": "c"}]}}}});
    let r = c.client.post("/apis/apps/v1/namespaces/default/deployments", &bad).await;
    let s = status(&r, 422);
    let fields: Vec<&str> = s["details"]["causes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["field"].as_str().unwrap())
        .collect();
    assert!(
        fields.contains(&"spec.template.metadata.labels")
            && fields.contains(&"spec.template.spec.containers[0].image"),
        "{fields:?}"
    );
    assert!(s["message"].as_str().unwrap().starts_with("Deployment.apps \"d\" is invalid"));

    // Changing a selector is refused (it forces replacement).
    let good = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
        "spec": {"selector": {"matchLabels": {"app": "a"}}, "template": {"metadata": {"labels": {"app": "a", "v": "2"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}}});
    assert_eq!(
        c.client.post("/apis/apps/v1/namespaces/default/deployments", &good).await.status,
        201
    );
    let r = c
        .client
        .patch(
            "/apis/apps/v1/namespaces/default/deployments/d",
            "application/merge-patch+json",
            &json!({"spec": {"selector": {"matchLabels": {"v": "2"}}}}),
        )
        .await;
    assert!(status(&r, 422)["message"].as_str().unwrap().contains("field is immutable"));

    let r = c
        .client
        .apply(
            "/api/v1/namespaces/default/configmaps/x",
            "m",
            false,
            &json!({"metadata": {"name": "x"}}),
        )
        .await;
    status(&r, 400);
    let r = c
        .client
        .patch(
            "/api/v1/namespaces/default/configmaps/x?force=true",
            "application/apply-patch+yaml",
            &json!({"apiVersion": "v1", "kind": "ConfigMap"}),
        )
        .await;
    status(&r, 422);
    c.server.shutdown().await.unwrap();
}

#[tokio::test]
async fn yaml_apply_bodies_are_accepted() {
    let c = TestCluster::start().await;
    let yaml =
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-yaml\ndata:\n  key: value\n";
    let r = c
        .client
        .call(
            Method::PATCH,
            "/api/v1/namespaces/default/configmaps/from-yaml?fieldManager=m",
            &[("content-type", "application/apply-patch+yaml")],
            Some(yaml.as_bytes().to_vec()),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["data"]["key"], "value");
    let r = c
        .client
        .call(
            Method::PATCH,
            "/api/v1/namespaces/default/configmaps/from-yaml?fieldManager=m",
            &[("content-type", "application/apply-patch+yaml")],
            Some(b"a: [unclosed".to_vec()),
        )
        .await;
    status(&r, 400);
    c.server.shutdown().await.unwrap();
}

#[tokio::test]
async fn protobuf_bodies_are_refused_with_415() {
    let c = TestCluster::start().await;
    let r = c
        .client
        .call(
            Method::POST,
            "/api/v1/namespaces",
            &[("content-type", "application/vnd.kubernetes.protobuf")],
            Some(b"k8s\x00\x0a\x0f\x0a\x02v1\x12\x09Namespace".to_vec()),
        )
        .await;
    assert_eq!(status(&r, 415)["reason"], "UnsupportedMediaType");
    c.server.shutdown().await.unwrap();
}
