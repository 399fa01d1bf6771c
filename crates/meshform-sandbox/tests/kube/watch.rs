//! Watches: the framing, only events after the given resourceVersion, selectors, the initial
//! state without one, and Table rows for `kubectl get -w`.

use hyper::Method;
use serde_json::json;

use crate::support::{Lines, TestCluster};

#[tokio::test]
async fn watch_streams_changes_after_the_list_resource_version() {
    let c = TestCluster::start().await;
    let base = "/api/v1/namespaces/default/configmaps";
    let cm = |name: &str, v: &str| json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"v": v}});
    assert_eq!(c.client.post(base, &cm("before", "0")).await.status, 201);
    let list = c
        .client
        .get(&format!("{base}?fieldSelector=metadata.name%3Dx&limit=500&resourceVersion=0"))
        .await
        .json();
    let rv = list["metadata"]["resourceVersion"].as_str().unwrap().to_string();
    let path = format!("{base}?allowWatchBookmarks=true&fieldSelector=metadata.name%3Dx&resourceVersion={rv}&timeoutSeconds=30&watch=true");
    let resp = c.client.send(Method::GET, &path, &[], None).await;
    assert_eq!(resp.status(), 200);
    let mut lines = Lines::new(resp.into_body());

    assert_eq!(c.client.post(base, &cm("other", "1")).await.status, 201);
    assert_eq!(c.client.post(base, &cm("x", "1")).await.status, 201);
    let mut x = c.client.get(&format!("{base}/x")).await.json();
    x["data"]["v"] = json!("2");
    assert_eq!(c.client.put(&format!("{base}/x"), &x).await.status, 200);
    assert_eq!(c.client.delete(&format!("{base}/x"), None).await.status, 200);

    let mut seen = Vec::new();
    let mut last_rv = rv.parse::<u64>().unwrap();
    for _ in 0..3 {
        let e = lines.next(10).await.expect("an event");
        let obj = &e["object"];
        assert_eq!(obj["kind"], "ConfigMap");
        assert_eq!(obj["apiVersion"], "v1");
        assert_eq!(obj["metadata"]["name"], "x", "the field selector holds: {e}");
        let erv: u64 = obj["metadata"]["resourceVersion"].as_str().unwrap().parse().unwrap();
        assert!(erv > last_rv, "in order, after the given version");
        last_rv = erv;
        seen.push(e["type"].as_str().unwrap().to_string());
    }
    assert_eq!(seen, vec!["ADDED", "MODIFIED", "DELETED"]);
    c.server.shutdown().await.unwrap();
}

#[tokio::test]
async fn watch_without_a_version_starts_with_the_current_state_and_ends_at_the_timeout() {
    let c = TestCluster::start().await;
    let resp = c
        .client
        .send(Method::GET, "/api/v1/namespaces?watch=true&timeoutSeconds=1", &[], None)
        .await;
    let mut lines = Lines::new(resp.into_body());
    let mut names = Vec::new();
    while let Some(e) = lines.next(5).await {
        assert_eq!(e["type"], "ADDED");
        names.push(e["object"]["metadata"]["name"].as_str().unwrap().to_string());
    }
    assert!(
        names.contains(&"default".to_string()) && names.contains(&"kube-system".to_string()),
        "{names:?}"
    );
    c.server.shutdown().await.unwrap();
}

#[tokio::test]
async fn watch_as_table_for_kubectl_get_w() {
    let c = TestCluster::start().await;
    let accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json";
    let resp = c
        .client
        .send(
            Method::GET,
            "/api/v1/namespaces?watch=true&timeoutSeconds=2",
            &[("accept", accept)],
            None,
        )
        .await;
    let mut lines = Lines::new(resp.into_body());
    let first = lines.next(5).await.expect("an event");
    assert_eq!(first["object"]["kind"], "Table");
    assert_eq!(first["object"]["columnDefinitions"][0]["name"], "Name");
    assert_eq!(first["object"]["rows"][0]["object"]["kind"], "PartialObjectMetadata");
    c.server.shutdown().await.unwrap();
}
