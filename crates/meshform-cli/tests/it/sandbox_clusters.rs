//! `meshform sandbox up --clusters N`: N clusters named cluster-1 … cluster-N, each in a region and
//! VPC of its own, shown by `sandbox status`, exported in `sandbox.env`, listed by the Container
//! Service API and reached through the kubeconfig it gives; the count kept across restarts; counts
//! a sandbox cannot run refused before anything starts.

use crate::sandboxed::{check, cluster_entry, example_dir, verify_report, Sandboxed};
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

/// `tests/fixtures/three_clusters` with the example's applications, and helloworld v3 for cluster-3
/// (cluster-2's, renamed).
fn three_cluster_runbook() -> Workdir {
    let work = Workdir::from_fixture("three_clusters");
    for name in ["cluster-1.yaml", "cluster-2.yaml"] {
        let p = example_dir().join("apps").join(name);
        let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        work.write(&format!("apps/{name}"), &text);
        if name == "cluster-2.yaml" {
            assert!(text.contains("helloworld-v2"), "the example's cluster-2 runs helloworld v2");
            work.write("apps/cluster-3.yaml", &text.replace("v2", "v3"));
        }
    }
    work
}

#[test]
fn the_runbook_on_three_clusters_reaches_every_cluster_until_one_is_down() {
    let sandbox = Sandboxed::start_with(
        three_cluster_runbook(),
        &["--clusters", "3", "--transition-delay", "200ms"],
    );
    sandbox
        .ok(&["apply", "--auto-approve"])
        .stdout_has("Apply complete! Resources: 22 added, 0 changed, 0 destroyed.");
    let status = sandbox.status();
    let meshes = status["asm"]["meshes"].as_array().expect("meshes");
    assert_eq!(meshes.len(), 3, "{status:#}");
    for m in meshes {
        let members = m["members"].as_array().expect("members");
        let discovery = members.iter().filter(|c| c["discovery_only"] == true).count();
        assert_eq!((members.len(), discovery), (3, 2), "one managed, two for discovery: {m:#}");
    }
    sandbox.wait_ready(&[
        ("cluster-1", "default/sleep"),
        ("cluster-1", "default/helloworld-v1"),
        ("cluster-2", "default/helloworld-v2"),
        ("cluster-3", "default/helloworld-v3"),
    ]);

    // From cluster-1, 30 requests: every cluster's version answers.
    let run = sandbox.run_until(&["verify", "--json"], |r| r.status == Some(0));
    let report = verify_report(&run);
    let counts = &check(&report, "from_cluster_1")["data"][0]["counts"];
    for v in ["v1", "v2", "v3"] {
        assert!(counts[v].as_u64().is_some_and(|n| n >= 1), "{v} answered: {counts:#}");
    }

    // cluster-3 down: its version no longer answers; the others still do.
    sandbox.ok(&["sandbox", "outage", "--cluster", "cluster-3"]);
    let run = sandbox.run(&["verify", "--json"]).code(1);
    let report = verify_report(&run);
    let counts = &check(&report, "from_cluster_1")["data"][0]["counts"];
    assert!(counts["v3"].as_u64().unwrap_or(0) == 0, "cluster-3 is down: {counts:#}");
    assert!(counts["v1"].as_u64().is_some_and(|n| n >= 1), "{counts:#}");
    assert!(counts["v2"].as_u64().is_some_and(|n| n >= 1), "{counts:#}");
    sandbox.ok(&["sandbox", "restore"]);

    sandbox
        .ok(&["destroy", "--auto-approve"])
        .stdout_has("Destroy complete! Resources: 22 destroyed.");
}
