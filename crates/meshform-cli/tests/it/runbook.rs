//! The multi-master disaster-recovery runbook (`examples/multi-master`) end to end on the sandbox:
//! plan, apply, verify in both directions, destroy, and the ways it fails when a step is missing or
//! wrong. Each test starts its own sandbox (`sandboxed::Sandboxed`), stopped when the test ends.
//! The disaster drill takes mesh-1's control plane down with `meshform sandbox outage`.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::sandboxed::{
    check, cluster_entry, edit, example_main, flat_main, verify_report, Sandboxed,
};
use crate::support::Run;

const SECOND_HALF: &str = "sleep_in_cluster_2=true";

/// The runbook's verification from cluster-1 and from cluster-2.
const FROM_1: &str = "from_cluster_1";
const FROM_2: &str = "from_cluster_2";

/// The responses the check's one data source saw (`kubernetes_exec`, ten requests).
#[track_caller]
fn responses(check: &Value) -> Vec<String> {
    let data = check["data"].as_array().unwrap_or_else(|| panic!("no data in {check:#}"));
    assert_eq!(data.len(), 1, "one kubernetes_exec per check: {check:#}");
    data[0]["responses"]
        .as_array()
        .unwrap_or_else(|| panic!("no responses in {check:#}"))
        .iter()
        .map(|r| r.as_str().unwrap_or("").to_owned())
        .collect()
}

fn count(responses: &[String], version: &str) -> usize {
    let prefix = format!("Hello version: {version}, instance: helloworld-{version}-");
    responses.iter().filter(|r| r.starts_with(&prefix)).count()
}

/// The runbook's printed responses: the lines `Hello version: …` of verify's text report.
fn hello_lines(stdout: &str) -> Vec<&str> {
    stdout.lines().map(str::trim).filter(|l| l.starts_with("Hello version: ")).collect()
}

/// Asserts a passing check that saw ten responses, all from helloworld, both versions among them.
#[track_caller]
fn assert_both_versions(report: &Value, name: &str) {
    assert_eq!(report["passed"], true, "{report:#}");
    let c = check(report, name);
    assert_eq!((c["passed"].as_bool(), c["skipped"].as_bool()), (Some(true), Some(false)), "{c:#}");
    let rs = responses(c);
    assert_eq!(rs.len(), 10, "ten requests: {rs:#?}");
    let (v1, v2) = (count(&rs, "v1"), count(&rs, "v2"));
    assert!(v1 >= 1 && v2 >= 1 && v1 + v2 == 10, "both versions and nothing else: {rs:#?}");
    let counts = &c["data"][0]["counts"];
    assert_eq!(counts["v1"].as_u64(), Some(v1 as u64), "{c:#}");
    assert_eq!(counts["v2"].as_u64(), Some(v2 as u64), "{c:#}");
}

#[track_caller]
fn assert_skipped(report: &Value, name: &str) {
    let c = check(report, name);
    assert_eq!(c["skipped"], true, "{name} should be skipped: {c:#}");
}

/// Everything the runbook deploys, as `(cluster, namespace/name)`.
const APPS: [(&str, &str); 3] = [
    ("cluster-1", "default/sleep"),
    ("cluster-1", "default/helloworld-v1"),
    ("cluster-2", "default/helloworld-v2"),
];

/// A sandbox with the runbook (or a variation of it) applied and its applications running.
fn applied(sandbox: Sandboxed, vars: &[&str]) -> Sandboxed {
    let mut args = vec!["apply", "--auto-approve"];
    for v in vars {
        args.extend(["--var", v]);
    }
    sandbox.ok(&args).stdout_has("Apply complete!");
    sandbox.wait_ready(&APPS);
    sandbox
}

// ---------------------------------------------------------------------------------------------
// 1. sandbox up → plan shows every step → apply → plan shows no changes.

#[test]
fn plan_shows_every_runbook_step_and_apply_converges() {
    let sandbox = Sandboxed::runbook();

    let plan = sandbox.ok(&["plan"]);
    // The plan says which environment it acts on: the sandbox's endpoints, from the environment
    // its sandbox.env sets (the configuration names only the clusters' ids).
    let asm_endpoint = sandbox.status()["asm"]["endpoint"].as_str().unwrap_or("?").to_owned();
    assert!(
        plan.stdout.contains(&format!(
            "Provider asm: endpoint {asm_endpoint} (from ALIBABA_CLOUD_SERVICEMESH_ENDPOINT)"
        )),
        "{}",
        plan.stdout
    );
    let described: serde_json::Value =
        serde_json::from_str(&sandbox.work.read(".meshform/sandbox/sandbox.json")).expect("JSON");
    let cs_endpoint = described["cs"]["endpoint"].as_str().unwrap_or("?");
    assert!(
        plan.stdout.contains(&format!(
            "Provider ack: endpoint {cs_endpoint} (from ALIBABA_CLOUD_CS_ENDPOINT)"
        )),
        "{}",
        plan.stdout
    );
    let steps = [
        // Step 1: the shared root, an intermediate and a mesh per cluster.
        "module.dr.pki_root_ca.shared",
        "module.dr.pki_intermediate_ca.mesh[\"cluster-1\"]",
        "module.dr.pki_intermediate_ca.mesh[\"cluster-2\"]",
        "module.dr.asm_service_mesh.mesh[\"cluster-1\"]",
        "module.dr.asm_service_mesh.mesh[\"cluster-2\"]",
        // Step 2: each cluster in the other mesh, for discovery only.
        "module.dr.asm_cluster_attachment.discovery[\"cluster-1/cluster-2\"]",
        "module.dr.asm_cluster_attachment.discovery[\"cluster-2/cluster-1\"]",
        // Step 3: the multi-cluster network.
        "module.dr.asm_multi_cluster_network.net[\"cluster-1\"]",
        "module.dr.asm_multi_cluster_network.net[\"cluster-2\"]",
        // Step 4: injection, and the applications.
        "module.dr.asm_sidecar_injection.default[\"cluster-1\"]",
        "module.dr.asm_sidecar_injection.default[\"cluster-2\"]",
        "kubernetes_manifest.cluster_1_apps",
        "kubernetes_manifest.cluster_2_apps",
    ];
    for step in steps {
        assert!(
            plan.stdout.contains(&format!("# {step} will be created")),
            "the plan does not create {step}:\n{}",
            plan.stdout
        );
    }
    assert_eq!(plan.stdout.matches("discovery_only = true").count(), 2, "{}", plan.stdout);
    assert!(plan.stdout.contains("network                = \"network1\""), "{}", plan.stdout);
    assert!(plan.stdout.contains("network                = \"network2\""), "{}", plan.stdout);
    assert!(plan.stdout.contains("Deployment"), "the manifests are shown:\n{}", plan.stdout);
    let plan = plan.stdout_has("Plan: 15 to add, 0 to change, 0 to destroy.");
    assert!(!plan.stdout.contains("sleep_cluster_2"), "the second half is not planned yet");

    sandbox
        .ok(&["apply", "--auto-approve"])
        .stdout_has("Apply complete! Resources: 15 added, 0 changed, 0 destroyed.");
    sandbox.run(&["plan", "--detailed-exitcode"]).code(0).stdout_has("No changes.");

    // The emulated cloud holds what the runbook builds.
    let status = sandbox.status();
    let meshes = status["asm"]["meshes"].as_array().expect("meshes");
    let mut names: Vec<&str> = meshes.iter().filter_map(|m| m["name"].as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["mesh-1", "mesh-2"], "{status:#}");
    for m in meshes {
        assert_eq!(m["state"], "running", "{m:#}");
        let members = m["members"].as_array().expect("members");
        let discovery: Vec<&Value> =
            members.iter().filter(|c| c["discovery_only"] == true).collect();
        assert_eq!(
            (members.len(), discovery.len()),
            (2, 1),
            "one managed, one discovery-only: {m:#}"
        );
    }
    sandbox.wait_ready(&APPS);
}

// ---------------------------------------------------------------------------------------------
// 2. verify from cluster-1: ten responses, both versions.

#[test]
fn verify_from_cluster_1_reaches_both_versions() {
    let sandbox = applied(Sandboxed::runbook(), &[]);

    let run = sandbox.run_until(&["verify"], |r| r.status == Some(0));
    let lines = hello_lines(&run.stdout);
    assert_eq!(lines.len(), 10, "ten responses, as the runbook shows them:\n{}", run.stdout);
    assert!(lines.iter().any(|l| l.starts_with("Hello version: v1, instance: helloworld-v1-")));
    assert!(lines.iter().any(|l| l.starts_with("Hello version: v2, instance: helloworld-v2-")));
    run.stdout_has("check \"from_cluster_1\"")
        .stdout_has("responses by version: v1: ")
        .stdout_has(", v2: ")
        .stdout_has("PASS")
        .stdout_has("Verification passed");

    let json = sandbox.run(&["verify", "--json"]).code(0);
    let report = verify_report(&json);
    assert_both_versions(&report, FROM_1);
    assert_skipped(&report, FROM_2);
}

// ---------------------------------------------------------------------------------------------
// 3. The runbook's second half: sleep in cluster-1 scaled to 0, sleep in cluster-2, verify from
//    cluster-2 (with meshform, and with the runbook's own kubectl command).

#[test]
#[allow(clippy::print_stderr)] // the skip notice is for whoever runs the tests
fn second_half_verifies_from_cluster_2() {
    let sandbox = applied(Sandboxed::runbook(), &[]);

    sandbox
        .ok(&["apply", "--auto-approve", "--var", SECOND_HALF])
        .stderr_has("kubernetes_manifest.sleep_cluster_2[0]: Creation complete")
        .stdout_has("Apply complete! Resources: 1 added, 1 changed, 0 destroyed.");
    sandbox.run(&["plan", "--detailed-exitcode", "--var", SECOND_HALF]).code(0);
    sandbox.wait_ready(&[("cluster-2", "default/sleep")]);
    let status = sandbox.status();
    let sleep_1 = Sandboxed::workloads(&status, "cluster-1")
        .into_iter()
        .find(|(n, _, _)| n == "default/sleep")
        .expect("sleep stays in cluster-1, scaled down");
    assert_eq!((sleep_1.1, sleep_1.2), (0, 0), "sleep in cluster-1 is scaled to 0: {status:#}");

    let run = sandbox.run_until(&["verify", "--var", SECOND_HALF], |r| r.status == Some(0));
    assert_eq!(hello_lines(&run.stdout).len(), 10, "{}", run.stdout);
    run.stdout_has("check \"from_cluster_2\"").stdout_has("Verification passed");
    let json = sandbox.run(&["verify", "--json", "--var", SECOND_HALF]).code(0);
    let report = verify_report(&json);
    assert_both_versions(&report, FROM_2);
    assert_skipped(&report, FROM_1);

    // The runbook's own command, with kubectl against the sandbox's kubeconfig.
    if !kubectl_available() {
        eprintln!(
            "SKIPPED the kubectl part of runbook::second_half_verifies_from_cluster_2: kubectl is not on PATH (scripts/install-kubectl installs it)"
        );
        return;
    }
    let kubeconfig = sandbox.kubeconfig("cluster-2");
    let out = kubectl(&[
        "--kubeconfig",
        &kubeconfig.display().to_string(),
        "exec",
        "deploy/sleep",
        "--",
        "sh",
        "-c",
        "for i in $(seq 1 10); do curl helloworld:5000/hello; done;",
    ]);
    let lines = hello_lines(&out);
    assert_eq!(lines.len(), 10, "kubectl exec printed:\n{out}");
    assert!(lines.iter().any(|l| l.starts_with("Hello version: v1, ")), "{out}");
    assert!(lines.iter().any(|l| l.starts_with("Hello version: v2, ")), "{out}");
}

fn kubectl_available() -> bool {
    Command::new("kubectl")
        .args(["version", "--client"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs kubectl, failing the test when it fails or takes more than 30 s; returns its stdout.
#[track_caller]
fn kubectl(args: &[&str]) -> String {
    let mut child = Command::new("kubectl")
        .args(args)
        .env_remove("KUBECONFIG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start kubectl");
    let start = Instant::now();
    while child.try_wait().expect("wait for kubectl").is_none() {
        if start.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("kubectl {} took more than 30 s", args.join(" "));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().expect("kubectl's output");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "kubectl {} failed: {:?}\n--- stdout\n{stdout}\n--- stderr\n{}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn the_applied_runbook_survives_a_sandbox_restart() {
    let sandbox = applied(Sandboxed::runbook(), &[]);
    sandbox.ok(&["sandbox", "down"]).stdout_has("Sandbox stopped");
    sandbox
        .ok(&["sandbox", "up", "--detach", "--transition-delay", "200ms"])
        .stdout_has("Sandbox running");
    // New ports, same cloud: nothing to change, and the mesh still carries the traffic.
    sandbox.run(&["plan", "--detailed-exitcode"]).code(0).stdout_has("No changes.");
    sandbox.wait_ready(&APPS);
    let run = sandbox.run_until(&["verify", "--json"], |r| r.status == Some(0));
    assert_both_versions(&verify_report(&run), FROM_1);
    sandbox
        .ok(&["sandbox", "status"])
        .stdout_has("mesh-1")
        .stdout_has("mesh-2")
        .stdout_has("cluster-2    default/helloworld-v2");
}

// ---------------------------------------------------------------------------------------------
// 4. destroy → no meshes and no application objects, and `sandbox status` says so.

#[test]
fn destroy_leaves_the_sandbox_empty() {
    let sandbox = applied(Sandboxed::runbook(), &[]);
    sandbox.ok(&["apply", "--auto-approve", "--var", SECOND_HALF]).stdout_has("Apply complete!");

    sandbox
        .ok(&["destroy", "--auto-approve", "--var", SECOND_HALF])
        .stdout_has("Destroy complete! Resources: 16 destroyed.");
    assert_eq!(sandbox.work.state_list(), Vec::<String>::new());

    let status = sandbox.status();
    assert_eq!(status["asm"]["meshes"], serde_json::json!([]), "{status:#}");
    for cluster in ["cluster-1", "cluster-2"] {
        assert_eq!(Sandboxed::workloads(&status, cluster), vec![], "{cluster}: {status:#}");
    }
    // Injection goes with the meshes (the sandbox's reconciler removes the labels).
    sandbox.run_until(&["sandbox", "status", "--json"], |r| {
        let status: Value = serde_json::from_str(&r.stdout).unwrap_or_default();
        ["cluster-1", "cluster-2"].iter().all(|c| {
            cluster_entry(&status, c)["namespaces"]
                .as_array()
                .is_some_and(|ns| ns.iter().all(|n| n["injection"] == false))
        })
    });

    sandbox.ok(&["sandbox", "status"]).stdout_has("Meshes: none").stdout_has("Workloads: none");
}

// ---------------------------------------------------------------------------------------------
// 5. Negative: the runbook with a step wrong or missing. Each is a modified copy of the example's
//    main.hcl (the runbook files stay untouched); verify from cluster-1 must fail, and say why.

/// The example's step 1, replaced by one root per mesh in the first negative case.
const SHARED_ROOT: &str = r#"resource "pki_root_ca" "shared" {
  common_name   = "Root CA"
  organization  = "Istio"
  key_algorithm = "ecdsa_p256"
}

resource "pki_intermediate_ca" "mesh" {
  for_each = local.clusters

  root_cert_pem = pki_root_ca.shared.cert_pem
  root_key_pem  = pki_root_ca.shared.key_pem
  locality      = each.key
}
"#;

const SEPARATE_ROOTS: &str = r#"resource "pki_root_ca" "own" {
  for_each = local.clusters

  common_name   = "Root CA ${each.key}"
  organization  = "Istio"
  key_algorithm = "ecdsa_p256"
}

resource "pki_intermediate_ca" "mesh" {
  for_each = local.clusters

  root_cert_pem = pki_root_ca.own[each.key].cert_pem
  root_key_pem  = pki_root_ca.own[each.key].key_pem
  locality      = each.key
}
"#;

/// Verify from cluster-1 until its output shows `sign` (pods may still be starting), then asserts
/// it failed; returns the text run and the JSON report.
#[track_caller]
fn failing_verify(sandbox: &Sandboxed, vars: &[&str], sign: &str) -> (Run, Value) {
    let mut args = vec!["verify"];
    for v in vars {
        args.extend(["--var", v]);
    }
    let run = sandbox.run_until(&args, |r| r.stdout.contains(sign)).code(1);
    let run =
        run.stdout_has("FAIL").stdout_has("Verification failed: 1 of 1 checks failed (1 skipped).");
    args.push("--json");
    let json = sandbox.run(&args).code(1);
    let report = verify_report(&json);
    assert_eq!(report["passed"], false, "{report:#}");
    assert_eq!(check(&report, FROM_1)["passed"], false, "{report:#}");
    (run, report)
}

/// Istio's default retries send a failed cross-cluster attempt to the local version, which answers:
/// the broken hop shows only as a missing version. These tests turn retries off for helloworld (a
/// `VirtualService` with `retries.attempts = 0` in mesh-1's control plane, and no failover policy, whose
/// outlier detection would eject the broken endpoint) to see Envoy's error, as a drill would.
const NO_RETRIES: &str = r#"
resource "kubernetes_manifest" "no_retries" {
  provider = kubernetes.mesh_1
  manifest = {
    apiVersion = "networking.istio.io/v1"
    kind       = "VirtualService"
    metadata   = { name = "helloworld", namespace = "default" }
    spec = {
      hosts = ["helloworld.default.svc.cluster.local"]
      http  = [{ route = [{ destination = { host = "helloworld.default.svc.cluster.local" } }], retries = { attempts = 0 } }]
    }
  }
}
"#;

/// The example's variable that leaves the failover policy out.
const NO_FAILOVER: &str = "failover=false";

/// The failure messages of the check from cluster-1.
fn failures(report: &Value) -> Vec<String> {
    check(report, FROM_1)["failures"]
        .as_array()
        .map(|fs| fs.iter().map(|f| f.as_str().unwrap_or("").to_owned()).collect())
        .unwrap_or_default()
}

#[test]
fn separate_roots_fail_certificate_verification() {
    let hcl = edit(&flat_main(), SHARED_ROOT, SEPARATE_ROOTS);
    let hcl = edit(
        &hcl,
        "root_cert  = pki_root_ca.shared.cert_pem",
        "root_cert  = pki_root_ca.own[each.key].cert_pem",
    );
    let hcl = edit(
        &hcl,
        "value = pki_root_ca.shared.fingerprint_sha256",
        "value = { for k, r in pki_root_ca.own : k => r.fingerprint_sha256 }",
    );
    // With Istio's default retries the failure is hidden: every request is answered by v1.
    let sandbox = applied(Sandboxed::runbook_with(&hcl), &[NO_FAILOVER]);
    let (_, report) = failing_verify(&sandbox, &[NO_FAILOVER], "no response from helloworld v2");
    let rs = responses(check(&report, FROM_1));
    assert_eq!(count(&rs, "v1"), 10, "retried on the local version: {rs:#?}");
    drop(sandbox);
    let sandbox = applied(Sandboxed::runbook_with(&format!("{hcl}{NO_RETRIES}")), &[NO_FAILOVER]);
    let (run, report) = failing_verify(&sandbox, &[NO_FAILOVER], "CERTIFICATE_VERIFY_FAILED");
    run.stdout_has("upstream connect error")
        .stdout_has("the meshes of cluster-1 and cluster-2 do not share a root certificate");
    // Within mesh-1, mTLS works: the local version still answers; the cross-mesh hop never does.
    let rs = responses(check(&report, FROM_1));
    assert!(count(&rs, "v1") >= 1, "{rs:#?}");
    assert_eq!(count(&rs, "v2"), 0, "{rs:#?}");
    let rejected = rs.iter().filter(|r| r.contains("CERTIFICATE_VERIFY_FAILED")).count();
    assert_eq!(rejected + count(&rs, "v1"), 10, "{rs:#?}");
    let fs = failures(&report);
    assert!(fs.iter().any(|f| f.contains("no response from helloworld v2")), "{fs:?}");
}

#[test]
fn without_a_discovery_link_only_the_local_version_answers() {
    // No step 2: neither cluster is attached to the other's mesh, so the multi-cluster network of
    // each mesh can list only its own cluster.
    let hcl = flat_main();
    let step_2 = r#"# Step 2: each cluster added to the other mesh, for service discovery only.
resource "asm_cluster_attachment" "discovery" {
  for_each = local.clusters

  mesh_id        = asm_service_mesh.mesh[each.key].id
  cluster_id     = local.clusters[local.peer[each.key]].id
  discovery_only = true
}
"#;
    let hcl = edit(&hcl, step_2, "# Step 2 left out: no discovery link between the meshes.\n");
    let peer_network = r#"  cluster {
    cluster_id            = local.clusters[local.peer[each.key]].id
    network               = local.network[local.peer[each.key]]
    cross_cluster_gateway = false
  }
"#;
    let hcl = edit(&hcl, peer_network, "");
    let hcl = edit(&hcl, "\n  depends_on = [asm_cluster_attachment.discovery]\n", "");
    assert!(!hcl.contains("asm_cluster_attachment"), "{hcl}");
    let sandbox = applied(Sandboxed::runbook_with(&hcl), &[]);
    for m in sandbox.status()["asm"]["meshes"].as_array().expect("meshes") {
        assert_eq!(
            m["members"].as_array().map(Vec::len),
            Some(1),
            "only the managed cluster: {m:#}"
        );
    }

    // helloworld-v2 runs in cluster-2 (applied() waited for it), yet only v1 answers.
    let (run, report) = failing_verify(&sandbox, &[], "responses by version: v1: 10\n");
    let lines = hello_lines(&run.stdout);
    assert_eq!(lines.len(), 10, "{}", run.stdout);
    assert!(lines.iter().all(|l| l.starts_with("Hello version: v1, ")), "{}", run.stdout);
    run.stdout_has("no response from helloworld v2");
    let rs = responses(check(&report, FROM_1));
    assert_eq!(count(&rs, "v1"), 10, "{rs:#?}");
    let fs = failures(&report);
    assert_eq!(fs.len(), 1, "only the missing version fails: {fs:?}");
    assert!(fs[0].contains("no response from helloworld v2"), "{fs:?}");
}

#[test]
fn different_networks_without_gateways_fail_with_a_reason() {
    let hcl = edit(&flat_main(), "cross_cluster_gateway = true", "cross_cluster_gateway = false");
    let sandbox = applied(Sandboxed::runbook_with(&format!("{hcl}{NO_RETRIES}")), &[NO_FAILOVER]);
    for m in sandbox.status()["asm"]["meshes"].as_array().expect("meshes") {
        let nets = m["networks"].as_object().expect("networks");
        assert_eq!(nets.len(), 2, "{m:#}");
        assert!(nets.values().all(|n| n["cross_cluster_gateway"] == false), "{m:#}");
    }

    let (run, report) = failing_verify(&sandbox, &[NO_FAILOVER], "upstream connect error");
    run.stdout_has("network network2 of cluster-2 has no cross-cluster mesh proxy");
    let rs = responses(check(&report, FROM_1));
    assert_eq!(count(&rs, "v2"), 0, "{rs:#?}");
    assert!(
        rs.iter()
            .filter(|r| !r.starts_with("Hello version: v1, "))
            .all(|r| r.starts_with("upstream connect error")
                && r.contains("cross-cluster mesh proxy"))
    );
    let fs = failures(&report);
    assert!(fs.iter().any(|f| f.contains("no response from helloworld v2")), "{fs:?}");
    assert!(fs.iter().any(|f| f.contains("every response must come from helloworld")), "{fs:?}");
}

#[test]
fn without_a_multi_cluster_network_the_vpcs_are_not_connected() {
    // The example's own switch for step 3; the sandbox's clusters are in different VPCs.
    let sandbox = Sandboxed::runbook_with(&format!("{}{NO_RETRIES}", example_main()));
    let status = sandbox.status();
    assert_ne!(
        cluster_entry(&status, "cluster-1")["vpc_id"],
        cluster_entry(&status, "cluster-2")["vpc_id"],
        "{status:#}"
    );
    let sandbox = applied(sandbox, &["cross_network=false", NO_FAILOVER]);
    for m in sandbox.status()["asm"]["meshes"].as_array().expect("meshes") {
        assert_eq!(m["networks"], serde_json::json!({}), "{m:#}");
    }

    let (run, report) =
        failing_verify(&sandbox, &["cross_network=false", NO_FAILOVER], "upstream connect error");
    run.stdout_has("cluster-1 and cluster-2 are in different VPCs with no route between them");
    let rs = responses(check(&report, FROM_1));
    assert_eq!(count(&rs, "v2"), 0, "{rs:#?}");
    assert!(rs
        .iter()
        .filter(|r| !r.starts_with("Hello version: v1, "))
        .all(|r| r.contains("different VPCs")));
}

// ---------------------------------------------------------------------------------------------
// 6. Disaster drill: mesh-1's control plane goes down.

#[test]
fn drill_mesh_1_control_plane_down() {
    let sandbox = applied(Sandboxed::runbook(), &[]);
    sandbox.ok(&["apply", "--auto-approve", "--var", SECOND_HALF]).stdout_has("Apply complete!");
    sandbox.run_until(&["verify", "--json", "--var", SECOND_HALF], |r| r.status == Some(0));
    sandbox.ok(&["sandbox", "outage", "--mesh", "mesh-1"]).stdout_has("is down");
    sandbox.ok(&["sandbox", "status"]).stdout_has("CONTROL PLANE DOWN");
    // Proxies keep their last configuration: cluster-2 still reaches both versions.
    let run =
        sandbox.run_until(&["verify", "--json", "--var", SECOND_HALF], |r| r.status == Some(0));
    assert_both_versions(&verify_report(&run), FROM_2);
    // A plan marks mesh-1's side incomplete, names the failure, and still plans the rest.
    let plan = sandbox.run(&["plan", "--var", SECOND_HALF]);
    assert_eq!(
        plan.status,
        Some(1),
        "an incomplete plan is an error\n{}\n{}",
        plan.stdout,
        plan.stderr
    );
    assert!(plan.stdout.contains("this plan is incomplete"), "{}", plan.stdout);
    assert!(plan.stdout.contains("ServiceUnavailable"), "{}", plan.stdout);
    // A plan that touches only mesh-2 succeeds.
    sandbox
        .ok(&[
            "plan",
            "--var",
            SECOND_HALF,
            "--target",
            "module.dr.asm_service_mesh.mesh[\"cluster-2\"]",
        ])
        .stdout_has("No changes.");
    sandbox.ok(&["sandbox", "restore"]);
    let plan = sandbox.run(&["plan", "--detailed-exitcode", "--var", SECOND_HALF]);
    assert_eq!(
        plan.status,
        Some(0),
        "after restore everything is planned again\n{}\n{}",
        plan.stdout,
        plan.stderr
    );
}
