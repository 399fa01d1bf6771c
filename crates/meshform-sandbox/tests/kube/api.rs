//! Discovery, OpenAPI, authentication, CRUD, optimistic concurrency and error bodies.

use serde_json::json;

use crate::support::TestCluster;

#[tokio::test]
async fn discovery_reports_minor_32_and_lists_builtin_kinds() {
    let c = TestCluster::start().await;
    let v = c.client.get("/version").await.json();
    assert_eq!(v["minor"], "32");
    let core = c.client.get("/api/v1").await.json();
    let names: Vec<&str> =
        core["resources"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
    for n in [
        "namespaces",
        "pods",
        "pods/exec",
        "pods/log",
        "services",
        "configmaps",
        "secrets",
        "serviceaccounts",
        "endpoints",
    ] {
        assert!(names.contains(&n), "{n} missing from {names:?}");
    }
    let apps = c.client.get("/apis/apps/v1").await.json();
    let scale = apps["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "deployments/scale")
        .unwrap();
    assert_eq!(scale["group"], "autoscaling");
    let groups = c.client.get("/apis").await.json();
    assert!(groups["groups"]
        .as_array()
        .unwrap()
        .iter()
        .any(|g| g["name"] == "networking.istio.io"));
    c.server.shutdown().await.unwrap();
}

#[tokio::test]
async fn requests_without_the_token_get_401_status() {
    let c = TestCluster::start().await;
    let r = c
        .client
        .call(hyper::Method::GET, "/api/v1/namespaces", &[("authorization", "Bearer wrong")], None)
        .await;
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["reason"], "Unauthorized");
    c.server.shutdown().await.unwrap();
}

#[tokio::test]
async fn create_get_update_delete_a_configmap() {
    let c = TestCluster::start().await;
    let base = "/api/v1/namespaces/default/configmaps";
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "data": {"a": "1"}});
    let r = c.client.post(base, &cm).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let created = r.json();
    assert!(created["metadata"]["uid"].is_string());
    assert!(created["metadata"]["creationTimestamp"].is_string());
    let again = c.client.post(base, &cm).await;
    assert_eq!(again.status, 409);
    assert_eq!(again.json()["reason"], "AlreadyExists");

    let mut upd = created.clone();
    upd["data"]["a"] = json!("2");
    let r = c.client.put(&format!("{base}/x"), &upd).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let rv1: u64 = created["metadata"]["resourceVersion"].as_str().unwrap().parse().unwrap();
    let rv2: u64 = r.json()["metadata"]["resourceVersion"].as_str().unwrap().parse().unwrap();
    assert!(rv2 > rv1);
    // The same stale resourceVersion again is a conflict.
    let stale = c.client.put(&format!("{base}/x"), &upd).await;
    assert_eq!(stale.status, 409);
    assert_eq!(stale.json()["reason"], "Conflict");

    let list = c.client.get(base).await.json();
    assert_eq!(list["kind"], "ConfigMapList");
    assert_eq!(list["apiVersion"], "v1");
    assert!(list["metadata"]["resourceVersion"].is_string());

    let r = c.client.delete(&format!("{base}/x"), None).await;
    assert_eq!(r.status, 200);
    let gone = c.client.get(&format!("{base}/x")).await;
    assert_eq!(gone.status, 404);
    assert_eq!(gone.json()["message"], "configmaps \"x\" not found");
    c.server.shutdown().await.unwrap();
}
