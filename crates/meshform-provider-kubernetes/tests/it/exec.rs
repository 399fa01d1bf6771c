//! The `kubernetes_exec` data source: a command in a Deployment's pod, and a failing command's code.

use meshform_core::Value;

use crate::harness::{cluster_1_yaml, World};

const CONFIG: &str = r#"
provider "kubernetes" {
  kubeconfig = "KUBECONFIG"
}

data "kubernetes_exec" "hostname" {
  deployment = "sleep"
  command    = ["hostname"]
}

data "kubernetes_exec" "failing" {
  deployment = "sleep"
  command    = ["sh", "-c", "exit 3"]
  repeat     = 2
}

output "pod_name" {
  value = data.kubernetes_exec.hostname.pod_name
}

output "stdout" {
  value = data.kubernetes_exec.hostname.stdout
}

output "exit_codes" {
  value = data.kubernetes_exec.failing.exit_codes
}
"#;

fn output(p: &meshform_engine::ops::Planned, name: &str) -> Value {
    p.plan
        .outputs
        .iter()
        .find(|o| o.name == name)
        .and_then(|o| o.after.clone())
        .unwrap_or_else(|| panic!("output {name}"))
}

#[tokio::test]
async fn exec_runs_in_a_pod_of_the_deployment_and_reports_exit_codes() {
    let w = World::start().await;
    // The runbook's apps first (sleep among them), applied as another manager would.
    w.write(
        r#"
provider "kubernetes" {
  kubeconfig = "KUBECONFIG"
}

resource "kubernetes_manifest" "apps" {
  source = file("${path.module}/apps/cluster-1.yaml")
}
"#,
    );
    w.write_file("apps/cluster-1.yaml", &cluster_1_yaml());
    w.plan_and_apply().await;
    w.write(&format!(
        "{CONFIG}\nresource \"kubernetes_manifest\" \"apps\" {{\n  source = file(\"${{path.module}}/apps/cluster-1.yaml\")\n}}\n"
    ));

    let p = w.plan().await;
    let pod = output(&p, "pod_name");
    let pod = pod.as_str().expect("a pod name");
    assert!(pod.starts_with("sleep-"), "{pod}");
    let pods = w.server.handle().list(
        &meshform_sandbox::kube::Gvk::new("", "v1", "Pod"),
        Some("default"),
        Some("app=sleep"),
    );
    let names: Vec<String> = pods
        .expect("pods")
        .iter()
        .filter_map(|p| p["metadata"]["name"].as_str().map(str::to_owned))
        .collect();
    assert!(names.iter().any(|n| n == pod), "{pod} is one of {names:?}");
    assert_eq!(output(&p, "stdout").as_str().map(str::trim), Some(pod));
    let codes = output(&p, "exit_codes");
    let codes: Vec<i64> = codes
        .as_list()
        .expect("a list")
        .iter()
        .filter_map(|c| c.as_number().and_then(|n| n.as_i64()))
        .collect();
    assert_eq!(codes, vec![3, 3]);
}
