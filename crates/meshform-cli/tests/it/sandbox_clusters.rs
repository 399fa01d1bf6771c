//! `meshform sandbox up --clusters N`: N clusters named cluster-1 … cluster-N, each in a region and
//! VPC of its own, shown by `sandbox status`, exported in `sandbox.env`, listed by the Container
//! Service API and reached through the kubeconfig it gives; the count kept across restarts; counts
//! a sandbox cannot run refused before anything starts. (The topology on three and five clusters:
//! `module_topology`.)

use crate::sandboxed::{cluster_entry, Sandboxed};
use crate::support::Workdir;

/// Three clusters by id (from `sandbox.env`), each read from ACK, listed per region, and given a
/// ConfigMap through a kubernetes provider configured from ACK's kubeconfig.
const THREE_CLUSTERS: &str = r#"
variable "cluster_1_id" { type = string }
variable "cluster_2_id" { type = string }
variable "cluster_3_id" { type = string }

provider "ack" {}

data "ack_cluster" "c" {
  for_each = { "cluster-1" = var.cluster_1_id, "cluster-2" = var.cluster_2_id, "cluster-3" = var.cluster_3_id }

  cluster_id = each.value
}

data "ack_clusters" "in" {
  for_each = toset([for c in data.ack_cluster.c : c.region])

  region = each.key
}

provider "kubernetes" {
  alias              = "cluster_1"
  kubeconfig_content = data.ack_cluster.c["cluster-1"].kubeconfig
}
provider "kubernetes" {
  alias              = "cluster_2"
  kubeconfig_content = data.ack_cluster.c["cluster-2"].kubeconfig
}
provider "kubernetes" {
  alias              = "cluster_3"
  kubeconfig_content = data.ack_cluster.c["cluster-3"].kubeconfig
}

resource "kubernetes_manifest" "hello_1" {
  provider = kubernetes.cluster_1
  manifest = { apiVersion = "v1", kind = "ConfigMap", metadata = { name = "hello", namespace = "default" }, data = { cluster = "cluster-1" } }
}
resource "kubernetes_manifest" "hello_2" {
  provider = kubernetes.cluster_2
  manifest = { apiVersion = "v1", kind = "ConfigMap", metadata = { name = "hello", namespace = "default" }, data = { cluster = "cluster-2" } }
}
resource "kubernetes_manifest" "hello_3" {
  provider = kubernetes.cluster_3
  manifest = { apiVersion = "v1", kind = "ConfigMap", metadata = { name = "hello", namespace = "default" }, data = { cluster = "cluster-3" } }
}

output "listed" {
  value = { for region, d in data.ack_clusters.in : region => d.names }
}
"#;

#[test]
fn three_clusters_are_shown_listed_and_reached_and_kept_across_restarts() {
    let sandbox = Sandboxed::start_with(Workdir::with_main(THREE_CLUSTERS), &["--clusters", "3"]);

    let status = sandbox.status();
    let mut vpcs = Vec::new();
    for (name, region) in
        [("cluster-1", "cn-hangzhou"), ("cluster-2", "cn-shanghai"), ("cluster-3", "cn-beijing")]
    {
        let c = cluster_entry(&status, name);
        assert_eq!(c["region"], region, "{c:#}");
        vpcs.push(c["vpc_id"].as_str().unwrap_or_default().to_owned());
    }
    vpcs.sort();
    vpcs.dedup();
    assert_eq!(vpcs.len(), 3, "one VPC per cluster: {status:#}");
    assert_eq!(status["clusters"].as_array().map(Vec::len), Some(3), "{status:#}");
    let text = sandbox.ok(&["sandbox", "status"]);
    let cluster_3 = text.stdout.lines().find(|l| l.trim_start().starts_with("cluster-3"));
    assert!(cluster_3.is_some_and(|l| l.contains("cn-beijing")), "{}", text.stdout);
    let env = sandbox.work.read(".meshform/sandbox/sandbox.env");
    for i in 1..=3 {
        assert!(env.contains(&format!("export MESHFORM_VAR_cluster_{i}_id='c")), "{env}");
    }

    // Everything a configuration reaches the clusters by: CS lists each in its region, and the
    // kubeconfig CS gives reaches each API server (created, then read back by the next plan).
    sandbox
        .ok(&["apply", "--auto-approve"])
        .stdout_has("Apply complete! Resources: 3 added, 0 changed, 0 destroyed.");
    sandbox.run(&["plan", "--detailed-exitcode"]).code(0).stdout_has("No changes.");
    let listed: serde_json::Value =
        serde_json::from_str(&sandbox.ok(&["output", "--json", "listed"]).stdout).expect("JSON");
    assert_eq!(
        listed,
        serde_json::json!({
            "cn-beijing": ["cluster-3"],
            "cn-hangzhou": ["cluster-1"],
            "cn-shanghai": ["cluster-2"],
        })
    );

    // Restarted without --clusters: the same three; asked for fewer: refused, saying what to do.
    sandbox.ok(&["sandbox", "down"]);
    sandbox
        .run(&["sandbox", "up", "--detach", "--clusters", "2"])
        .code(1)
        .stderr_has("has 3 clusters, more than the 2 asked for")
        .stderr_has("--clusters 3");
    sandbox.ok(&["sandbox", "up", "--detach"]).stdout_has("cluster-3");
    sandbox.run(&["plan", "--detailed-exitcode"]).code(0).stdout_has("No changes.");
    // A running sandbox of another size is not silently reused.
    sandbox
        .run(&["sandbox", "up", "--detach", "--clusters", "4"])
        .code(1)
        .stderr_has("a sandbox with 3 clusters is already running");
}

#[test]
fn cluster_counts_a_sandbox_cannot_run_are_refused_before_anything_starts() {
    let work = Workdir::new();
    for (n, says) in [
        ("0", "a sandbox runs from 1 to 200 clusters, not 0"),
        ("201", "a sandbox runs from 1 to 200 clusters, not 201"),
        ("many", "invalid value 'many'"),
    ] {
        work.run(&["sandbox", "up", "--detach", "--clusters", n]).code(1).stderr_has(says);
    }
    assert!(!work.exists(".meshform/sandbox/sandbox.json"), "nothing was started");
    assert!(!work.exists(".meshform/sandbox/identity.json"), "nothing was created");
}
