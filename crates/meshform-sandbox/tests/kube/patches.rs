//! Strategic merge patch (as kubectl apply and rollout restart send it), JSON merge patch, JSON
//! patch, and the errors for patches the server cannot take.

use serde_json::json;

use crate::support::TestCluster;

const PATH: &str = "/apis/apps/v1/namespaces/default/deployments/web";

async fn setup(c: &TestCluster) {
    let d = json!({
    "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
    "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": {"metadata": {"labels": {"app": "web"}}, "spec": {
        "containers": [
            {"name": "web", "image": "nginx:1", "ports": [{"containerPort": 80}], "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]},
            {"name": "side", "image": "busybox:1"}
        ]}}}});
    let r = c.client.post("/apis/apps/v1/namespaces/default/deployments", &d).await;
    assert_eq!(r.status, 201, "{}", r.text());
}

#[tokio::test]
async fn strategic_merge_patch_merges_containers_and_env_by_name() {
    let c = TestCluster::start().await;
    setup(&c).await;
    let patch = json!({"spec": {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "side"}, {"name": "web"}],
        "containers": [{"name": "web", "image": "nginx:2", "env": [{"name": "B", "$patch": "delete"}, {"name": "C", "value": "3"}]}]}}}});
    let r = c.client.patch(PATH, "application/strategic-merge-patch+json", &patch).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let cs = r.json()["spec"]["template"]["spec"]["containers"].clone();
    assert_eq!(cs[0]["name"], "side", "reordered by $setElementOrder: {cs}");
    assert_eq!(cs[1]["image"], "nginx:2");
    assert_eq!(cs[1]["ports"][0]["containerPort"], 80, "unpatched fields kept");
    let env: Vec<&str> =
        cs[1]["env"].as_array().unwrap().iter().map(|e| e["name"].as_str().unwrap()).collect();
    assert_eq!(env, vec!["A", "C"]);

    // kubectl rollout restart.
    let restart = json!({"spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": "2026-01-01T00:00:00Z"}}}}});
    let r = c.client.patch(PATH, "application/strategic-merge-patch+json", &restart).await;
    assert_eq!(r.json()["spec"]["template"]["spec"]["containers"].as_array().unwrap().len(), 2);

    // $patch: replace replaces the list.
    let replace = json!({"spec": {"template": {"spec": {"containers": [{"$patch": "replace"}, {"name": "only", "image": "x:1"}]}}}});
    let r = c.client.patch(PATH, "application/strategic-merge-patch+json", &replace).await;
    assert_eq!(r.json()["spec"]["template"]["spec"]["containers"].as_array().unwrap().len(), 1);
    c.server.shutdown().await.unwrap();
}

#[tokio::test]
async fn merge_patch_and_json_patch() {
    let c = TestCluster::start().await;
    let path = "/api/v1/namespaces/default/configmaps/c";
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1", "b": "2"}});
    assert_eq!(c.client.post("/api/v1/namespaces/default/configmaps", &cm).await.status, 201);
    let r = c
        .client
        .patch(
            path,
            "application/merge-patch+json",
            &json!({"metadata": {"labels": {"x": "1"}}, "data": {"a": null, "c": "3"}}),
        )
        .await;
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_eq!(v["data"], json!({"b": "2", "c": "3"}));
    assert_eq!(v["metadata"]["labels"]["x"], "1");
    let rv = v["metadata"]["resourceVersion"].as_str().unwrap().to_string();

    let ops = json!([
        {"op": "test", "path": "/metadata/resourceVersion", "value": rv},
        {"op": "replace", "path": "/data/b", "value": "two"},
        {"op": "add", "path": "/metadata/labels/y", "value": "2"},
        {"op": "remove", "path": "/metadata/labels/x"},
    ]);
    let r = c.client.patch(path, "application/json-patch+json", &ops).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["data"]["b"], "two");
    assert_eq!(v["metadata"]["labels"], json!({"y": "2"}));

    // The same test on the old resourceVersion now fails.
    let r = c.client.patch(path, "application/json-patch+json", &ops).await;
    assert_eq!(r.status, 422, "{}", r.text());
    assert_eq!(r.json()["kind"], "Status");

    // A merge patch carrying a stale resourceVersion is an optimistic-concurrency conflict.
    let r = c
        .client
        .patch(
            path,
            "application/merge-patch+json",
            &json!({"metadata": {"resourceVersion": rv}, "data": {"a": "1"}}),
        )
        .await;
    assert_eq!(r.status, 409);
    assert_eq!(r.json()["reason"], "Conflict");
    c.server.shutdown().await.unwrap();
}

#[tokio::test]
async fn patches_the_server_cannot_take_are_status_errors() {
    let c = TestCluster::start().await;
    setup(&c).await;
    let r = c.client.patch(PATH, "text/plain", &json!({})).await;
    assert_eq!(r.status, 415);
    assert_eq!(r.json()["reason"], "UnsupportedMediaType");
    let r = c
        .client
        .patch(
            "/apis/apps/v1/namespaces/default/deployments/nope",
            "application/merge-patch+json",
            &json!({}),
        )
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["details"]["name"], "nope");
    let r = c.client.patch(PATH, "application/json-patch+json", &json!({"op": "add"})).await;
    assert_eq!(r.status, 400);
    // Custom resources take no strategic merge patch, as on a real server.
    let vs = json!({"apiVersion": "networking.istio.io/v1", "kind": "VirtualService", "metadata": {"name": "v"}, "spec": {"hosts": ["a"]}});
    assert_eq!(
        c.client
            .post("/apis/networking.istio.io/v1/namespaces/default/virtualservices", &vs)
            .await
            .status,
        201
    );
    let r = c
        .client
        .patch(
            "/apis/networking.istio.io/v1/namespaces/default/virtualservices/v",
            "application/strategic-merge-patch+json",
            &json!({"spec": {}}),
        )
        .await;
    assert_eq!(r.status, 415);
    c.server.shutdown().await.unwrap();
}
