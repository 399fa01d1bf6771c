//! The emulated controllers as a user sees them: deployments roll out to running, ready pods;
//! scale (subresource) up, down and to zero; template changes roll to a new ReplicaSet; sidecars
//! are injected; endpoints follow pods; namespaces drain asynchronously; owners take their
//! dependents along (or orphan them); finalizers hold deletion.

use serde_json::{json, Value};

use crate::support::TestCluster;

const DEPLOYS: &str = "/apis/apps/v1/namespaces/default/deployments";

fn deployment(name: &str, replicas: i64, image: &str) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"containers": [{"name": name, "image": image, "ports": [{"containerPort": 5000}]}]}}},
    })
}

fn pods_path(app: &str) -> String {
    format!("/api/v1/namespaces/default/pods?labelSelector=app%3D{app}")
}

fn items(v: &Value) -> Vec<Value> {
    v["items"].as_array().cloned().unwrap_or_default()
}

fn condition<'a>(d: &'a Value, ty: &str) -> &'a Value {
    d["status"]["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == ty))
        .unwrap_or(&Value::Null)
}

fn rolled_out(d: &Value, n: i64) -> bool {
    let s = &d["status"];
    s["observedGeneration"] == d["metadata"]["generation"]
        && s["updatedReplicas"].as_i64().unwrap_or(0) == n
        && s["availableReplicas"].as_i64().unwrap_or(0) == n
        && s["replicas"].as_i64().unwrap_or(0) == n
}

#[tokio::test]
async fn a_deployment_rolls_out_to_running_ready_pods() {
    let c = TestCluster::start().await;
    assert_eq!(c.client.post(DEPLOYS, &deployment("hello", 2, "hello:1")).await.status, 201);
    let d = c.client.wait_for(&format!("{DEPLOYS}/hello"), 10, |d| rolled_out(d, 2)).await;
    let available = condition(&d, "Available");
    assert_eq!(available["status"], "True");
    assert_eq!(available["reason"], "MinimumReplicasAvailable");
    let progressing = condition(&d, "Progressing");
    assert_eq!(progressing["reason"], "NewReplicaSetAvailable");
    assert_eq!(d["status"]["readyReplicas"], 2);

    let rs = items(&c.client.get("/apis/apps/v1/namespaces/default/replicasets").await.json());
    assert_eq!(rs.len(), 1);
    let rs_name = rs[0]["metadata"]["name"].as_str().unwrap();
    let hash = rs[0]["metadata"]["labels"]["pod-template-hash"].as_str().unwrap();
    assert_eq!(rs_name, format!("hello-{hash}"));
    assert_eq!(rs[0]["metadata"]["ownerReferences"][0]["kind"], "Deployment");

    let pods = items(&c.client.get(&pods_path("hello")).await.json());
    assert_eq!(pods.len(), 2);
    for p in &pods {
        let name = p["metadata"]["name"].as_str().unwrap();
        let suffix =
            name.strip_prefix(&format!("{rs_name}-")).expect("named <deployment>-<hash>-<suffix>");
        assert_eq!(suffix.len(), 5);
        assert_eq!(p["status"]["phase"], "Running");
        assert!(p["status"]["podIP"].as_str().unwrap().starts_with("10.244."));
        assert_eq!(p["status"]["containerStatuses"][0]["ready"], true);
        let ready = p["status"]["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["type"] == "Ready")
            .unwrap();
        assert_eq!(ready["status"], "True");
    }
    c.server.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_scale_subresource_scales_up_down_and_to_zero() {
    let c = TestCluster::start().await;
    c.client.post(DEPLOYS, &deployment("s", 1, "s:1")).await;
    let scale_path = format!("{DEPLOYS}/s/scale");
    let scale = c.client.get(&scale_path).await.json();
    assert_eq!(scale["kind"], "Scale");
    assert_eq!(scale["apiVersion"], "autoscaling/v1");
    assert_eq!(scale["spec"]["replicas"], 1);
    assert_eq!(scale["status"]["selector"], "app=s");

    let r = c
        .client
        .patch(&scale_path, "application/merge-patch+json", &json!({"spec": {"replicas": 3}}))
        .await;
    assert_eq!(r.json()["spec"]["replicas"], 3);
    c.client.wait_for(&pods_path("s"), 10, |v| items(v).len() == 3).await;

    // kubectl scale --current-replicas: GET, then PUT without a content type, 409 when stale.
    let mut current = c.client.get(&scale_path).await.json();
    let stale = current.clone();
    current["spec"]["replicas"] = json!(2);
    let r = c
        .client
        .call(hyper::Method::PUT, &scale_path, &[], Some(current.to_string().into_bytes()))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let mut stale = stale;
    stale["spec"]["replicas"] = json!(5);
    let r = c
        .client
        .call(hyper::Method::PUT, &scale_path, &[], Some(stale.to_string().into_bytes()))
        .await;
    assert_eq!(r.status, 409);
    c.client.wait_for(&pods_path("s"), 10, |v| items(v).len() == 2).await;

    c.client
        .patch(&scale_path, "application/merge-patch+json", &json!({"spec": {"replicas": 0}}))
        .await;
    c.client.wait_for(&pods_path("s"), 10, |v| items(v).is_empty()).await;
    let d = c.client.wait_for(&format!("{DEPLOYS}/s"), 10, |d| rolled_out(d, 0)).await;
    assert_eq!(condition(&d, "Available")["status"], "True");
    let bad = c
        .client
        .patch(&scale_path, "application/merge-patch+json", &json!({"spec": {"replicas": -1}}))
        .await;
    assert_eq!(bad.status, 422);
    c.server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_template_change_rolls_to_a_new_replica_set() {
    let c = TestCluster::start().await;
    c.client.post(DEPLOYS, &deployment("r", 1, "r:1")).await;
    c.client.wait_for(&format!("{DEPLOYS}/r"), 10, |d| rolled_out(d, 1)).await;
    let patch =
        json!({"spec": {"template": {"spec": {"containers": [{"name": "r", "image": "r:2"}]}}}});
    let r = c
        .client
        .patch(&format!("{DEPLOYS}/r"), "application/strategic-merge-patch+json", &patch)
        .await;
    assert_eq!(r.json()["metadata"]["generation"], 2);
    c.client.wait_for(&format!("{DEPLOYS}/r"), 10, |d| rolled_out(d, 1)).await;
    let pods = c
        .client
        .wait_for(&pods_path("r"), 10, |v| {
            let ps = items(v);
            ps.len() == 1 && ps[0]["spec"]["containers"][0]["image"] == "r:2"
        })
        .await;
    let rs = items(&c.client.get("/apis/apps/v1/namespaces/default/replicasets").await.json());
    assert_eq!(rs.len(), 2);
    let old = rs
        .iter()
        .find(|r| r["spec"]["template"]["spec"]["containers"][0]["image"] == "r:1")
        .unwrap();
    assert_eq!(old["spec"]["replicas"], 0);
    let new = rs
        .iter()
        .find(|r| r["spec"]["template"]["spec"]["containers"][0]["image"] == "r:2")
        .unwrap();
    assert_eq!(new["metadata"]["annotations"]["deployment.kubernetes.io/revision"], "2");
    assert!(items(&pods)[0]["metadata"]["name"]
        .as_str()
        .unwrap()
        .starts_with(new["metadata"]["name"].as_str().unwrap()));
    c.server.shutdown().await.unwrap();
}

#[tokio::test]
async fn pods_in_injected_namespaces_get_an_istio_proxy() {
    let c = TestCluster::start().await;
    let h = c.server.handle();
    h.set_namespace_label("asm", "default", "istio-injection", Some("enabled")).unwrap();
    c.client.post(DEPLOYS, &deployment("inj", 1, "inj:1")).await;
    let mut opted_out = deployment("out", 1, "out:1");
    opted_out["spec"]["template"]["metadata"]["annotations"] =
        json!({"sidecar.istio.io/inject": "false"});
    c.client.post(DEPLOYS, &opted_out).await;
    let pods = c.client.wait_for(&pods_path("inj"), 10, |v| items(v).len() == 1).await;
    let p = &items(&pods)[0];
    let names: Vec<&str> = p["spec"]["containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["inj", "istio-proxy"]);
    assert!(p["spec"]["containers"][1]["image"].as_str().unwrap().contains("/acs/proxyv2:"));
    assert_eq!(p["metadata"]["annotations"]["kubectl.kubernetes.io/default-container"], "inj");
    let out = c.client.wait_for(&pods_path("out"), 10, |v| items(v).len() == 1).await;
    assert_eq!(items(&out)[0]["spec"]["containers"].as_array().unwrap().len(), 1);
    c.server.shutdown().await.unwrap();
}

#[tokio::test]
async fn endpoints_follow_the_pods_a_service_selects() {
    let c = TestCluster::start().await;
    let svc = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "hello"},
        "spec": {"selector": {"app": "hello"}, "ports": [{"name": "http", "port": 5000}]}});
    let r = c.client.post("/api/v1/namespaces/default/services", &svc).await;
    assert!(r.json()["spec"]["clusterIP"].as_str().unwrap().starts_with("10.96."));
    c.client.post(DEPLOYS, &deployment("hello", 2, "hello:1")).await;
    let ep = c
        .client
        .wait_for("/api/v1/namespaces/default/endpoints/hello", 10, |e| {
            e["subsets"][0]["addresses"].as_array().is_some_and(|a| a.len() == 2)
        })
        .await;
    assert_eq!(ep["subsets"][0]["ports"][0]["port"], 5000);
    assert_eq!(ep["subsets"][0]["addresses"][0]["targetRef"]["kind"], "Pod");
    c.client
        .patch(
            &format!("{DEPLOYS}/hello/scale"),
            "application/merge-patch+json",
            &json!({"spec": {"replicas": 0}}),
        )
        .await;
    c.client
        .wait_for("/api/v1/namespaces/default/endpoints/hello", 10, |e| {
            e["subsets"].as_array().is_some_and(|s| s.is_empty())
        })
        .await;
    c.client.delete("/api/v1/namespaces/default/services/hello", None).await;
    c.client.wait_for("/api/v1/namespaces/default/endpoints/hello", 10, |e| e["code"] == 404).await;
    c.server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_deleted_namespace_terminates_then_goes_with_its_contents() {
    let c = TestCluster::start().await;
    let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "demo"}});
    assert_eq!(c.client.post("/api/v1/namespaces", &ns).await.status, 201);
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}});
    assert_eq!(c.client.post("/api/v1/namespaces/demo/configmaps", &cm).await.status, 201);
    let r = c.client.delete("/api/v1/namespaces/demo", None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["status"]["phase"], "Terminating");
    // Still there, terminating; children still deletable; no new content.
    assert_eq!(
        c.client.get("/api/v1/namespaces/demo").await.json()["status"]["phase"],
        "Terminating"
    );
    assert_eq!(c.client.get("/api/v1/namespaces/demo/configmaps/c").await.status, 200);
    let r = c
        .client
        .post(
            "/api/v1/namespaces/demo/configmaps",
            &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "d"}}),
        )
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(r.json()["reason"], "Forbidden");
    c.client.wait_for("/api/v1/namespaces/demo", 10, |n| n["code"] == 404).await;
    assert_eq!(c.client.get("/api/v1/namespaces/demo/configmaps/c").await.status, 404);
    let r = c.client.delete("/api/v1/namespaces/default", None).await;
    assert_eq!(r.status, 403, "default may not be deleted");
    c.server.shutdown().await.unwrap();
}

#[tokio::test]
async fn deletion_propagates_to_dependents_or_orphans_them() {
    let c = TestCluster::start().await;
    for name in ["bg", "fg", "orphan"] {
        c.client.post(DEPLOYS, &deployment(name, 1, "x:1")).await;
        c.client.wait_for(&format!("{DEPLOYS}/{name}"), 10, |d| rolled_out(d, 1)).await;
    }
    let rs_of = |name: &'static str| {
        move |v: &Value| {
            items(v)
                .iter()
                .filter(|r| {
                    r["metadata"]["name"].as_str().unwrap().starts_with(&format!("{name}-"))
                })
                .count()
        }
    };
    let rs_path = "/apis/apps/v1/namespaces/default/replicasets";

    c.client
        .delete(&format!("{DEPLOYS}/bg"), Some(&json!({"propagationPolicy": "Background"})))
        .await;
    c.client.wait_for(&pods_path("bg"), 10, |v| items(v).is_empty()).await;
    c.client.wait_for(rs_path, 10, |v| rs_of("bg")(v) == 0).await;

    let r = c
        .client
        .delete(&format!("{DEPLOYS}/fg"), Some(&json!({"propagationPolicy": "Foreground"})))
        .await;
    let d = r.json();
    assert!(
        d["metadata"]["deletionTimestamp"].is_string(),
        "foreground deletion waits for dependents: {d}"
    );
    assert!(d["metadata"]["finalizers"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f == "foregroundDeletion"));
    c.client.wait_for(&format!("{DEPLOYS}/fg"), 10, |d| d["code"] == 404).await;
    assert!(items(&c.client.get(&pods_path("fg")).await.json()).is_empty());

    c.client
        .delete(&format!("{DEPLOYS}/orphan"), Some(&json!({"propagationPolicy": "Orphan"})))
        .await;
    let rs = c.client.wait_for(rs_path, 10, |v| rs_of("orphan")(v) == 1).await;
    let orphan = items(&rs)
        .into_iter()
        .find(|r| r["metadata"]["name"].as_str().unwrap().starts_with("orphan-"))
        .unwrap();
    assert!(orphan["metadata"]["ownerReferences"].is_null(), "orphaned: {orphan}");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(
        items(&c.client.get(&pods_path("orphan")).await.json()).len(),
        1,
        "orphaned pods keep running"
    );
    c.server.shutdown().await.unwrap();
}

#[tokio::test]
async fn finalizers_hold_an_object_until_they_are_removed() {
    let c = TestCluster::start().await;
    let base = "/api/v1/namespaces/default/configmaps";
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "f", "finalizers": ["example.com/hold"]}});
    c.client.post(base, &cm).await;
    let r = c.client.delete(&format!("{base}/f"), None).await;
    assert!(r.json()["metadata"]["deletionTimestamp"].is_string());
    assert_eq!(c.client.get(&format!("{base}/f")).await.status, 200);
    let r = c
        .client
        .patch(
            &format!("{base}/f"),
            "application/merge-patch+json",
            &json!({"metadata": {"finalizers": null}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(c.client.get(&format!("{base}/f")).await.status, 404);
    c.server.shutdown().await.unwrap();
}

#[tokio::test]
async fn load_balancer_services_get_node_ports_and_an_ingress_ip() {
    let c = TestCluster::start().await;
    let svc = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "eastwest", "namespace": "default"},
        "spec": {"type": "LoadBalancer", "selector": {"istio": "eastwestgateway"}, "ports": [{"name": "tls", "port": 15443}]}});
    let r = c.client.post("/api/v1/namespaces/default/services", &svc).await;
    let node_port = r.json()["spec"]["ports"][0]["nodePort"].as_i64().unwrap();
    assert!((30000..=32767).contains(&node_port));
    let s = c
        .client
        .wait_for("/api/v1/namespaces/default/services/eastwest", 10, |s| {
            s["status"]["loadBalancer"]["ingress"][0]["ip"].is_string()
        })
        .await;
    assert!(s["status"]["loadBalancer"]["ingress"][0]["ip"]
        .as_str()
        .unwrap()
        .starts_with("203.0.113."));
    c.server.shutdown().await.unwrap();
}
