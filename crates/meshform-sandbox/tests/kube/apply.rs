//! Server-side apply: creation, managedFields per manager, conflicts between managers, force,
//! removal of fields a manager stops applying, dry-run.

use serde_json::{json, Value};

use crate::support::TestCluster;

const PATH: &str = "/apis/apps/v1/namespaces/default/deployments/web";

fn deployment(replicas: i64, image: &str, extra_label: Option<&str>) -> Value {
    let mut d = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}},
                         "spec": {"containers": [{"name": "web", "image": image}]}},
        },
    });
    if let Some(l) = extra_label {
        d["metadata"]["labels"][l] = json!("yes");
    }
    d
}

fn managers(obj: &Value) -> Vec<(String, String)> {
    obj["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["manager"].as_str().unwrap().to_string(),
                e["operation"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn apply_creates_then_updates_and_records_managed_fields() {
    let c = TestCluster::start().await;
    let r = c.client.apply(PATH, "meshform", false, &deployment(1, "nginx:1", None)).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let created = r.json();
    assert_eq!(managers(&created), vec![("meshform".to_string(), "Apply".to_string())]);
    let fields = &created["metadata"]["managedFields"][0]["fieldsV1"];
    assert!(fields["f:spec"]["f:replicas"].is_object());
    assert!(fields["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"web\"}"]
        ["f:image"]
        .is_object());
    assert!(fields["f:metadata"].get("f:name").is_none(), "identity is not owned: {fields}");
    assert_eq!(created["metadata"]["generation"], 1);
    // Server defaults are present but not owned by the applier.
    assert_eq!(created["spec"]["strategy"]["type"], "RollingUpdate");
    assert!(fields["f:spec"].get("f:strategy").is_none());

    let r = c.client.apply(PATH, "meshform", false, &deployment(1, "nginx:2", None)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let updated = r.json();
    assert_eq!(updated["spec"]["template"]["spec"]["containers"][0]["image"], "nginx:2");
    assert_eq!(updated["metadata"]["generation"], 2, "a spec change bumps generation");

    // Re-applying the same configuration changes nothing, not even the resourceVersion (a
    // ConfigMap: no controller writes its status meanwhile).
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"k": "v"}});
    let path = "/api/v1/namespaces/default/configmaps/c";
    let first = c.client.apply(path, "meshform", false, &cm).await.json();
    let again = c.client.apply(path, "meshform", false, &cm).await.json();
    assert_eq!(first["metadata"]["resourceVersion"], again["metadata"]["resourceVersion"]);
    c.server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_second_manager_conflicts_unless_forced_and_force_takes_ownership() {
    let c = TestCluster::start().await;
    c.client.apply(PATH, "meshform", false, &deployment(1, "nginx:1", None)).await;

    // Someone else applies a different replica count: a conflict naming the owner and the field.
    let mut other = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": {"replicas": 3}});
    let r = c.client.apply(PATH, "ops", false, &other).await;
    assert_eq!(r.status, 409, "{}", r.text());
    let s = r.json();
    assert_eq!(s["reason"], "Conflict");
    assert_eq!(
        s["message"],
        "Apply failed with 1 conflict: conflict with \"meshform\" using apps/v1: .spec.replicas"
    );
    assert_eq!(s["details"]["causes"][0]["reason"], "FieldManagerConflict");
    assert_eq!(s["details"]["causes"][0]["field"], ".spec.replicas");

    // Applying the same value is shared ownership, not a conflict.
    other["spec"]["replicas"] = json!(1);
    assert_eq!(c.client.apply(PATH, "ops", false, &other).await.status, 200);

    // Force takes the field over.
    other["spec"]["replicas"] = json!(3);
    let r = c.client.apply(PATH, "ops", true, &other).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let obj = r.json();
    assert_eq!(obj["spec"]["replicas"], 3);
    let entries = obj["metadata"]["managedFields"].as_array().unwrap();
    let mesh = entries.iter().find(|e| e["manager"] == "meshform").unwrap();
    assert!(
        mesh["fieldsV1"]["f:spec"].get("f:replicas").is_none(),
        "meshform lost .spec.replicas: {mesh}"
    );
    let ops = entries.iter().find(|e| e["manager"] == "ops").unwrap();
    assert!(ops["fieldsV1"]["f:spec"]["f:replicas"].is_object());

    // Now meshform conflicts with ops on replicas.
    let r = c.client.apply(PATH, "meshform", false, &deployment(1, "nginx:1", None)).await;
    assert_eq!(r.status, 409);
    assert!(r.json()["message"].as_str().unwrap().contains("conflict with \"ops\""));
    c.server.shutdown().await.unwrap();
}

#[tokio::test]
async fn fields_a_manager_stops_applying_are_removed_unless_someone_else_owns_them() {
    let c = TestCluster::start().await;
    c.client.apply(PATH, "meshform", false, &deployment(1, "nginx:1", Some("tier"))).await;
    let obj = c.client.apply(PATH, "meshform", false, &deployment(1, "nginx:1", None)).await.json();
    assert!(
        obj["metadata"]["labels"].get("tier").is_none(),
        "dropped label removed: {}",
        obj["metadata"]["labels"]
    );

    c.client.apply(PATH, "meshform", false, &deployment(1, "nginx:1", Some("tier"))).await;
    let labels = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "labels": {"tier": "yes"}}});
    assert_eq!(c.client.apply(PATH, "labeller", false, &labels).await.status, 200);
    let obj = c.client.apply(PATH, "meshform", false, &deployment(1, "nginx:1", None)).await.json();
    assert_eq!(obj["metadata"]["labels"]["tier"], "yes", "still owned by labeller");
    c.server.shutdown().await.unwrap();
}

#[tokio::test]
async fn dry_run_writes_nothing() {
    let c = TestCluster::start().await;
    let before = c.client.get("/api/v1/namespaces/default/configmaps").await.json();
    let r = c
        .client
        .call(
            hyper::Method::PATCH,
            &format!("{PATH}?fieldManager=meshform&dryRun=All"),
            &[("content-type", "application/apply-patch+yaml")],
            Some(deployment(1, "nginx:1", None).to_string().into_bytes()),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["spec"]["replicas"], 1);
    assert_eq!(c.client.get(PATH).await.status, 404);
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "dry"}});
    let r = c
        .client
        .call(
            hyper::Method::POST,
            "/api/v1/namespaces/default/configmaps?dryRun=All",
            &[("content-type", "application/json")],
            Some(cm.to_string().into_bytes()),
        )
        .await;
    assert_eq!(r.status, 201);
    assert_eq!(c.client.get("/api/v1/namespaces/default/configmaps/dry").await.status, 404);

    c.client.apply(PATH, "meshform", false, &deployment(1, "nginx:1", None)).await;
    let r = c.client.call(hyper::Method::DELETE, &format!("{PATH}?dryRun=All"), &[], None).await;
    assert_eq!(r.status, 200);
    assert_eq!(c.client.get(PATH).await.status, 200, "a dry-run delete leaves the object");
    let r = c
        .client
        .call(
            hyper::Method::PATCH,
            &format!("{PATH}?dryRun=All"),
            &[("content-type", "application/merge-patch+json")],
            Some(br#"{"spec":{"replicas":5}}"#.to_vec()),
        )
        .await;
    assert_eq!(r.json()["spec"]["replicas"], 5);
    assert_eq!(c.client.get(PATH).await.json()["spec"]["replicas"], 1);
    let after = c.client.get("/api/v1/namespaces/default/configmaps").await.json();
    assert_eq!(before["items"], after["items"]);
    c.server.shutdown().await.unwrap();
}

#[tokio::test]
async fn updates_by_other_managers_are_recorded_as_update_operations() {
    let c = TestCluster::start().await;
    c.client.apply(PATH, "meshform", false, &deployment(1, "nginx:1", None)).await;
    let r = c
        .client
        .patch(
            &format!("{PATH}/scale?fieldManager=kubectl-scale"),
            "application/merge-patch+json",
            &json!({"spec": {"replicas": 4}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["kind"], "Scale");
    let obj = c.client.get(PATH).await.json();
    let entries = obj["metadata"]["managedFields"].as_array().unwrap();
    let scale = entries.iter().find(|e| e["manager"] == "kubectl-scale").unwrap();
    assert_eq!(scale["operation"], "Update");
    assert_eq!(scale["subresource"], "scale");
    assert!(scale["fieldsV1"]["f:spec"]["f:replicas"].is_object());
    // The scaler now owns replicas: meshform's apply conflicts with it (drift), until forced.
    let r = c.client.apply(PATH, "meshform", false, &deployment(1, "nginx:1", None)).await;
    assert_eq!(r.status, 409);
    assert!(r.json()["message"].as_str().unwrap().contains("conflict with \"kubectl-scale\""));
    assert_eq!(
        c.client.apply(PATH, "meshform", true, &deployment(1, "nginx:1", None)).await.json()
            ["spec"]["replicas"],
        1
    );
    c.server.shutdown().await.unwrap();
}
