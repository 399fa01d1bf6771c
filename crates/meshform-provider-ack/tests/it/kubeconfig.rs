//! `data.ack_cluster.x.kubeconfig` configures a `kubernetes` provider that manages the cluster —
//! long-lived, or temporary (`temporary_duration_minutes`) — and never shows in a plan; a destroy
//! plan reads it again to delete what that provider manages.

use meshform_engine::plan::Action;

use crate::harness::World;

const MANAGED: &str = r#"
provider "ack" {}

data "ack_cluster" "c1" {
  cluster_id                 = "CLUSTER_1"
  temporary_duration_minutes = 30
}

provider "kubernetes" {
  alias              = "cluster_1"
  kubeconfig_content = data.ack_cluster.c1.kubeconfig
}

resource "kubernetes_manifest" "marker" {
  provider = kubernetes.cluster_1
  manifest = {
    apiVersion = "v1"
    kind       = "ConfigMap"
    metadata   = { name = "from-ack", namespace = "default" }
    data       = { region = data.ack_cluster.c1.region }
  }
}

output "expires" { value = data.ack_cluster.c1.kubeconfig_expiration }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kubeconfig_manages_the_cluster() {
    let w = World::start().await;
    w.write(MANAGED);
    let planned = w.plan().await;
    let creates: Vec<_> =
        planned.plan.changes.iter().filter(|c| c.action == Action::Create).collect();
    assert_eq!(creates.len(), 1, "{:?}", planned.plan.changes);
    let rendered = format!("{:?}", planned.plan);
    assert!(!rendered.contains("token:"), "the kubeconfig is sensitive: {rendered}");
    assert!(!rendered.contains(w.sandbox.clusters[0].token()));
    w.apply(planned).await;

    let cm = w.sandbox.clusters[0]
        .handle()
        .get(&meshform_sandbox::kube::Gvk::new("", "v1", "ConfigMap"), Some("default"), "from-ack")
        .expect("the ConfigMap exists in cluster-1");
    assert_eq!(cm["data"]["region"], w.cluster(1).1.as_str());
    // Planned again with a fresh temporary kubeconfig: nothing to do.
    let again = w.plan().await;
    assert!(
        again.plan.changes.iter().all(|c| c.action == Action::NoOp || c.action == Action::Read),
        "{:?}",
        again.plan.changes
    );

    // Destroy: the data source is read again, so the provider it configures can delete the object.
    let destroy = w.plan_destroy().await;
    assert!(destroy.plan.complete(), "{:?}", destroy.plan.failures);
    w.apply(destroy).await;
    let gone = w.sandbox.clusters[0].handle().get(
        &meshform_sandbox::kube::Gvk::new("", "v1", "ConfigMap"),
        Some("default"),
        "from-ack",
    );
    assert!(gone.is_none(), "destroyed through the kubeconfig of data.ack_cluster");
    w.shutdown().await;
}
