//! Errors at plan name the cluster, the object and the server's message.

use crate::harness::World;

fn config(manifest: &str) -> String {
    format!(
        r#"
provider "kubernetes" {{
  kubeconfig = "KUBECONFIG"
}}

resource "kubernetes_manifest" "bad" {{
  source = <<-EOT
{manifest}
EOT
}}
"#
    )
}

async fn plan_error(manifest: &str) -> String {
    let w = World::start().await;
    w.write(&config(manifest));
    match w.try_plan(&Default::default()).await {
        Ok(p) => panic!("plan should fail, got {:#?}", p.plan.changes),
        Err(e) => e,
    }
}

#[tokio::test]
async fn a_deployment_without_containers_fails_at_plan() {
    let e = plan_error(
        "    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: empty
    spec:
      selector:
        matchLabels:
          app: empty
      template:
        metadata:
          labels:
            app: empty
        spec:
          containers: []",
    )
    .await;
    assert!(e.contains("cluster-1"), "names the cluster: {e}");
    assert!(e.contains("Deployment default/empty"), "names the object: {e}");
    assert!(e.contains("containers"), "the server's message: {e}");
}

#[tokio::test]
async fn a_bad_field_fails_at_plan() {
    let e = plan_error(
        "    apiVersion: v1
    kind: Service
    metadata:
      name: bad
    spec:
      ports:
      - port: 99999",
    )
    .await;
    assert!(e.contains("cluster-1"), "names the cluster: {e}");
    assert!(e.contains("Service default/bad"), "names the object: {e}");
    assert!(e.contains("port"), "the server's message: {e}");
}

#[tokio::test]
async fn an_unknown_kind_names_the_kind() {
    let e = plan_error(
        "    apiVersion: example.com/v1
    kind: Widget
    metadata:
      name: w",
    )
    .await;
    assert!(e.contains("cluster-1"), "names the cluster: {e}");
    assert!(e.contains("Widget"), "names the kind: {e}");
}
