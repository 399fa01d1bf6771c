//! `data.ack_cluster.x.kubeconfig` configures a `kubernetes` provider that manages the cluster —
//! long-lived, or temporary (`temporary_duration_minutes`) — and never shows in a plan; a destroy
//! plan reads it again to delete what that provider manages.

use base64::Engine as _;
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

/// A temporary kubeconfig past its expiry (one ACK issued, shaped as `data.ack_cluster.x.kubeconfig`
/// is) is refused by the cluster's API server: the plan says the credentials were not accepted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_temporary_kubeconfig_is_refused() {
    let w = World::start().await;
    let server = &w.sandbox.clusters[0];
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default();
    let expired = meshform_sandbox::kube::issue_temporary_token(server.token(), now - 60);
    let kubeconfig = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: cluster-1\n  cluster:\n    server: {}\n    certificate-authority-data: {}\nusers:\n- name: u\n  user:\n    token: {expired}\ncontexts:\n- name: cluster-1\n  context:\n    cluster: cluster-1\n    user: u\ncurrent-context: cluster-1\n",
        server.url(),
        base64::engine::general_purpose::STANDARD.encode(server.ca_pem()),
    );
    std::fs::write(w.ws.dir.join("expired.kubeconfig"), kubeconfig).expect("write");
    w.write(
        r#"
provider "kubernetes" {
  kubeconfig_content = file("expired.kubeconfig")
}

resource "kubernetes_manifest" "marker" {
  manifest = {
    apiVersion = "v1"
    kind       = "ConfigMap"
    metadata   = { name = "expired", namespace = "default" }
  }
}
"#,
    );
    let refused = match w.try_plan().await {
        Err(errors) => errors.join("\n"),
        Ok(planned) => format!("{:?}", planned.plan.failures),
    };
    #[allow(clippy::print_stderr)] // what a user reads, for whoever runs the test
    {
        eprintln!("{refused}");
    }
    assert!(refused.contains("Unauthorized"), "{refused}");
    assert!(refused.contains("did not accept the kubeconfig's credentials"), "{refused}");
    assert!(refused.contains("get a new kubeconfig"), "says what to do: {refused}");
    assert!(!refused.contains(&expired), "the token is never shown: {refused}");
    w.shutdown().await;
}
