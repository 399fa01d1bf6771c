//! Label selectors (equality and set-based) and field selectors on lists.

use serde_json::json;

use crate::support::TestCluster;

fn names(v: &serde_json::Value) -> Vec<String> {
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["metadata"]["name"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn label_selectors_equality_and_set_based() {
    let c = TestCluster::start().await;
    let base = "/api/v1/namespaces/default/configmaps";
    for (name, labels) in [
        ("a", json!({"app": "web", "tier": "front"})),
        ("b", json!({"app": "web", "tier": "back"})),
        ("c", json!({"app": "db"})),
        ("d", json!({})),
    ] {
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": labels}});
        assert_eq!(c.client.post(base, &cm).await.status, 201);
    }
    let q = |sel: &str| {
        format!(
            "{base}?labelSelector={}&limit=500",
            sel.replace(' ', "%20").replace('=', "%3D").replace(',', "%2C").replace('!', "%21")
        )
    };
    let cases = [
        ("app=web", vec!["a", "b"]),
        ("app==web,tier!=back", vec!["a"]),
        ("app in (web,db)", vec!["a", "b", "c"]),
        ("app notin (web)", vec!["c", "d"]),
        ("tier", vec!["a", "b"]),
        ("!tier", vec!["c", "d"]),
        ("app=web,tier in (back)", vec!["b"]),
    ];
    for (sel, want) in cases {
        let got = names(&c.client.get(&q(sel)).await.json());
        assert_eq!(got, want, "selector {sel}");
    }
    let bad = c.client.get(&q("app in web")).await;
    assert_eq!(bad.status, 400);
    assert_eq!(bad.json()["reason"], "BadRequest");
    c.server.shutdown().await.unwrap();
}

#[tokio::test]
async fn field_selectors_by_name_namespace_and_pod_phase() {
    let c = TestCluster::start().await;
    let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "other"}});
    assert_eq!(c.client.post("/api/v1/namespaces", &ns).await.status, 201);
    for (ns, name) in [("default", "x"), ("default", "y"), ("other", "x")] {
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}});
        assert_eq!(
            c.client.post(&format!("/api/v1/namespaces/{ns}/configmaps"), &cm).await.status,
            201
        );
    }
    let all_x = c.client.get("/api/v1/configmaps?fieldSelector=metadata.name%3Dx").await.json();
    assert_eq!(all_x["items"].as_array().unwrap().len(), 2);
    let other =
        c.client.get("/api/v1/configmaps?fieldSelector=metadata.namespace%3Dother").await.json();
    assert_eq!(names(&other), vec!["x"]);
    let not_x = c
        .client
        .get("/api/v1/namespaces/default/configmaps?fieldSelector=metadata.name%21%3Dx")
        .await
        .json();
    assert_eq!(names(&not_x), vec!["y"]);

    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "busybox:1"}]}});
    assert_eq!(c.client.post("/api/v1/namespaces/default/pods", &pod).await.status, 201);
    let running = "/api/v1/namespaces/default/pods?fieldSelector=status.phase%3DRunning";
    c.client.wait_for(running, 10, |v| v["items"].as_array().is_some_and(|a| a.len() == 1)).await;
    let pending = c
        .client
        .get("/api/v1/namespaces/default/pods?fieldSelector=status.phase%3DPending")
        .await
        .json();
    assert!(names(&pending).is_empty());
    let bad =
        c.client.get("/api/v1/namespaces/default/configmaps?fieldSelector=spec.nope%3D1").await;
    assert_eq!(bad.status, 400);
    assert!(bad.json()["message"].as_str().unwrap().contains("field label not supported"));
    c.server.shutdown().await.unwrap();
}
