//! Upgrading both meshes of the runbook (`examples/multi-master`, drill mode: sleep in both
//! clusters, both checks on) through their `lifecycle { rollout { … } }` on the sandbox: one mesh at
//! a time, cluster-2 first, gated by both directions of traffic; a check that fails after the canary,
//! an upgrade that fails in the emulator, and a run killed with -9 in the middle of the rollout.

use std::io::{Read, Write};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::harness::{assert_valid, json_lines, schema};
use crate::sandboxed::{check, example_main, verify_report, Sandboxed};
use crate::support::{Watched, Workdir};

const OLD: &str = "v1.22.6.71-g7d67a80b-aliyun";
const NEW: &str = "v1.24.6.69-gb4cd1ba2-aliyun";
const UPGRADE: &str = "istio_version=v1.24.6.69-gb4cd1ba2-aliyun";

fn args<'a>(cmd: &[&'a str], vars: &[&'a str]) -> Vec<&'a str> {
    let mut all = cmd.to_vec();
    for v in ["drill=true"].iter().chain(vars) {
        all.extend(["--var", v]);
    }
    all
}

/// The runbook in drill mode, applied and verified in both directions, on a sandbox whose ASM
/// transitions take `delay` (long enough for a sampler to see a mesh `upgrading`).
fn deployed(delay: &str) -> Sandboxed {
    let sandbox = Sandboxed::runbook_with_delay(&example_main(), delay);
    sandbox.ok(&args(&["apply", "--auto-approve"], &[])).stdout_has("Apply complete!");
    sandbox.wait_ready(&[
        ("cluster-1", "default/sleep"),
        ("cluster-1", "default/helloworld-v1"),
        ("cluster-2", "default/helloworld-v2"),
        ("cluster-2", "default/sleep"),
    ]);
    let run = sandbox.run_until(&args(&["verify", "--json"], &[]), |r| r.status == Some(0));
    let report = verify_report(&run);
    for name in ["from_cluster_1", "from_cluster_2"] {
        assert_eq!(check(&report, name)["passed"], Value::Bool(true), "{report:#}");
    }
    sandbox
}

/// The upgrade's `apply`, spawned with its stderr watched, once the canary's upgrade has started
/// (`mesh["cluster-2"]: Modifying...` on stderr).
fn apply_until_the_canary_upgrades(sandbox: &Sandboxed, stdout: Stdio) -> Watched {
    let modifying =
        |line: &str| line.contains("module.dr.asm_service_mesh.mesh[\"cluster-2\"]: Modifying...");
    let args = args(&["apply", "--auto-approve"], &[UPGRADE]);
    let run = sandbox.work.spawn_watching(&args, stdout, &[("modifying", modifying)]);
    run.marks.recv_timeout(Duration::from_secs(120)).expect("the canary's upgrade starts");
    run
}

/// `(name, state, istio_version)` of each mesh in the emulator, sorted by name.
fn meshes(status: &Value) -> Vec<(String, String, String)> {
    let mut out: Vec<(String, String, String)> = status["asm"]["meshes"]
        .as_array()
        .expect("sandbox status lists the meshes")
        .iter()
        .map(|m| {
            let s = |k: &str| m[k].as_str().unwrap_or_default().to_owned();
            (s("name"), s("state"), s("istio_version"))
        })
        .collect();
    out.sort();
    out
}

fn versions(sandbox: &Sandboxed) -> Vec<(String, String)> {
    meshes(&sandbox.status()).into_iter().map(|(n, _, v)| (n, v)).collect()
}

fn pair(a: &str, b: &str) -> Vec<(String, String)> {
    vec![("mesh-1".to_owned(), a.to_owned()), ("mesh-2".to_owned(), b.to_owned())]
}

/// `POST /faults` on the sandbox's admin endpoint (its address is `admin` in sandbox.json).
fn post_faults(sandbox: &Sandboxed, body: &str) {
    let desc: Value = serde_json::from_str(&sandbox.work.read(".meshform/sandbox/sandbox.json"))
        .expect("sandbox.json is JSON");
    let admin = desc["admin"].as_str().expect("sandbox.json names the admin endpoint");
    let host = admin.trim_start_matches("http://").trim_end_matches('/');
    let mut conn = std::net::TcpStream::connect(host).expect("connect to the admin endpoint");
    write!(
        conn,
        "POST /faults HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("send the faults");
    let mut reply = String::new();
    conn.read_to_string(&mut reply).expect("read the admin reply");
    assert!(reply.starts_with("HTTP/1.1 200"), "POST /faults: {reply}");
}

/// A configuration of its own with only the runbook's two checks (ten requests from sleep in each
/// cluster, every one answered, both versions seen), for `verify` to send traffic while an apply
/// runs in the sandbox's directory.
fn traffic_checker(sandbox: &Sandboxed) -> Workdir {
    let w = Workdir::new();
    let check = |from: &str, alias: &str| {
        format!(
            r#"
check "from_{from}" {{
  data "kubernetes_exec" "curl" {{
    provider   = kubernetes.{alias}
    deployment = "sleep"
    command    = ["curl", "-s", "helloworld:5000/hello"]
    repeat     = 10
  }}
  assert {{
    condition     = alltrue([for o in data.kubernetes_exec.curl.outputs : startswith(o, "Hello version: ")])
    error_message = "every response must come from helloworld"
  }}
  assert {{
    condition     = anytrue([for o in data.kubernetes_exec.curl.outputs : strcontains(o, "version: v1,")]) && anytrue([for o in data.kubernetes_exec.curl.outputs : strcontains(o, "version: v2,")])
    error_message = "both versions of helloworld must answer"
  }}
}}
provider "kubernetes" {{
  alias      = "{alias}"
  kubeconfig = "{}"
}}
"#,
            sandbox.kubeconfig(&from.replace('_', "-")).display()
        )
    };
    w.write("main.hcl", &(check("cluster_1", "cluster_1") + &check("cluster_2", "cluster_2")));
    w
}

#[test]
fn an_upgrade_rolls_out_one_mesh_at_a_time_while_traffic_keeps_flowing() {
    let sandbox = deployed("1500ms");
    sandbox
        .ok(&args(&["plan"], &[UPGRADE]))
        .stdout_has("Plan: 0 to add, 2 to change, 0 to destroy.")
        .stdout_has("Rollout: 2 batches (cluster-2, then cluster-1), gated by check.from_cluster_1, check.from_cluster_2")
        .stdout_has("  batch 1: module.dr.asm_service_mesh.mesh[\"cluster-2\"]");

    // The emulator is sampled for as long as the apply runs, and both directions of traffic are
    // verified over and over meanwhile (`verify` reads the state, it does not lock it).
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (done, dir) = (Arc::clone(&done), sandbox.work.path().to_path_buf());
        std::thread::spawn(move || {
            let mut samples = Vec::new();
            while !done.load(Ordering::SeqCst) {
                let out = std::process::Command::new(crate::support::binary())
                    .args(["sandbox", "status", "--json"])
                    .current_dir(&dir)
                    .output()
                    .expect("sandbox status runs");
                if let Ok(status) = serde_json::from_slice::<Value>(&out.stdout) {
                    samples.push(meshes(&status));
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            samples
        })
    };
    let traffic = {
        let done = Arc::clone(&done);
        let checker = traffic_checker(&sandbox);
        std::thread::spawn(move || {
            let mut runs = Vec::new();
            while !done.load(Ordering::SeqCst) {
                let run = checker.run(&["verify"]);
                runs.push((run.status, format!("{}{}", run.stdout, run.stderr)));
            }
            runs
        })
    };
    let run = sandbox.run(&args(&["apply", "--auto-approve"], &[UPGRADE]));
    done.store(true, Ordering::SeqCst);
    let samples = sampler.join().expect("the sampler");
    let traffic = traffic.join().expect("the traffic checker");
    assert!(traffic.len() >= 2, "traffic was checked during the apply: {traffic:?}");
    for (code, report) in &traffic {
        assert_eq!(*code, Some(0), "requests from both clusters kept succeeding: {report}");
        assert!(report.contains("Verification passed: 2 of 2 checks (0 skipped)"), "{report}");
    }
    let run = run.code(0).stdout_has("Apply complete! Resources: 0 added, 2 changed, 0 destroyed.");

    assert!(samples.len() > 5, "the emulator was sampled during the apply: {samples:?}");
    for s in &samples {
        assert!(s.iter().any(|(_, state, _)| state == "running"), "no mesh was running: {s:?}");
    }
    // The sampler saw the canary upgrading while the other mesh served, and never the reverse order.
    let upgrading = |name: &str| {
        samples.iter().position(|s| s.iter().any(|(n, st, _)| n == name && st == "upgrading"))
    };
    let (one, two) = (upgrading("mesh-1"), upgrading("mesh-2"));
    assert!(two.is_some(), "mesh-2 was seen upgrading: {samples:?}");
    if let (Some(one), Some(two)) = (one, two) {
        assert!(two < one, "mesh-2 (the canary) upgraded before mesh-1: {samples:?}");
    }

    // Both directions of traffic were checked after each batch, cluster-2's first.
    let err = run.stderr_unwrapped();
    let at = |needle: &str| err.find(needle).unwrap_or_else(|| panic!("{needle:?} in\n{err}"));
    let canary = at("batch 1 of 2 (cluster-2): check.from_cluster_2 passed");
    at("batch 1 of 2 (cluster-2): check.from_cluster_1 passed");
    let second = at("module.dr.asm_service_mesh.mesh[\"cluster-1\"]: Modifying...");
    at("batch 2 of 2 (cluster-1): check.from_cluster_1 passed");
    at("batch 2 of 2 (cluster-1): check.from_cluster_2 passed");
    assert!(canary < second, "cluster-1 waited for the canary's checks\n{err}");

    assert_eq!(versions(&sandbox), pair(NEW, NEW));
    sandbox.run(&args(&["plan", "--detailed-exitcode"], &[UPGRADE])).code(0);
}

#[test]
fn a_check_failing_after_the_canary_leaves_the_other_mesh_on_its_version() {
    let sandbox = deployed("200ms");
    // helloworld-v2 (cluster-2) goes away: both directions expect an answer from it.
    sandbox.ok(&args(&["apply", "--auto-approve"], &["helloworld_v2_replicas=0"]));
    sandbox.wait_replicas("cluster-2", "default/helloworld-v2", 0);
    let run =
        sandbox.run(&args(&["apply", "--auto-approve"], &["helloworld_v2_replicas=0", UPGRADE]));
    let run = run.code(1);
    let err = run.stderr_unwrapped();
    for needle in [
        "rollout of module.dr.asm_service_mesh.mesh stopped after batch 1 of 2 (cluster-2)",
        "check.from_cluster_1 failed: no response from helloworld v2 (cluster-2)",
        "the later batches (cluster-1) were not changed",
        "Not attempted",
    ] {
        assert!(err.contains(needle), "{needle:?} in\n{err}");
    }
    assert_eq!(versions(&sandbox), pair(OLD, NEW), "mesh-1 is still on the old version");

    // The next plan covers exactly what is left: mesh-1 alone, so no rollout.
    let plan = sandbox.ok(&args(&["plan"], &["helloworld_v2_replicas=0", UPGRADE]));
    let plan = plan.stdout_has("Plan: 0 to add, 1 to change, 0 to destroy.");
    assert!(plan
        .stdout
        .contains("module.dr.asm_service_mesh.mesh[\"cluster-1\"] will be updated in-place"));
    assert!(!plan.stdout.contains("Rollout:"), "{}", plan.stdout);
}

#[test]
fn an_upgrade_failing_in_the_canary_stops_the_rollout_and_a_retry_finishes_it() {
    let sandbox = deployed("200ms");
    post_faults(
        &sandbox,
        r#"{"upgrade_failure": {"mesh": "mesh-2", "message": "istiod did not become ready"}}"#,
    );
    let run = sandbox.run(&args(&["apply", "--auto-approve"], &[UPGRADE])).code(1);
    let err = run.stderr_unwrapped();
    assert!(err.contains("istiod did not become ready"), "{err}");
    assert!(
        err.contains("- module.dr.asm_service_mesh.mesh[\"cluster-1\"]"),
        "not attempted\n{err}"
    );
    assert!(!err.contains("module.dr.asm_service_mesh.mesh[\"cluster-1\"]: Modifying"), "{err}");
    assert_eq!(versions(&sandbox), pair(OLD, OLD), "the failed upgrade left mesh-2 on its version");

    post_faults(&sandbox, "{}");
    sandbox
        .ok(&args(&["apply", "--auto-approve"], &[UPGRADE]))
        .stdout_has("Rollout: 2 batches (cluster-2, then cluster-1)")
        .stdout_has("Apply complete! Resources: 0 added, 2 changed, 0 destroyed.");
    assert_eq!(versions(&sandbox), pair(NEW, NEW));
}

#[test]
fn a_rollout_killed_mid_batch_is_finished_by_the_next_apply() {
    let sandbox = deployed("1500ms");
    let run = apply_until_the_canary_upgrades(&sandbox, Stdio::piped());
    std::thread::sleep(Duration::from_millis(300));
    let err = run.kill().expect("stderr reader");
    assert!(!err.contains("mesh[\"cluster-1\"]: Modifying"), "killed during batch 1\n{err}");
    let mid = meshes(&sandbox.status());
    assert_eq!(mid[0].2, OLD, "mesh-1 untouched when the run died: {mid:?}");

    // The next apply resumes: whatever of the rollout is left, in order, and then nothing.
    let run = sandbox.ok(&args(&["apply", "--auto-approve"], &[UPGRADE]));
    run.stdout_has("Apply complete!");
    assert_eq!(versions(&sandbox), pair(NEW, NEW));
    let listed = sandbox.work.state_list();
    assert_eq!(
        listed.iter().filter(|a| a.starts_with("module.dr.asm_service_mesh.mesh[")).count(),
        2
    );
    assert_eq!(meshes(&sandbox.status()).len(), 2, "no mesh was duplicated");
    sandbox.run(&args(&["plan", "--detailed-exitcode"], &[UPGRADE])).code(0);
}

#[test]
fn sigterm_during_the_canary_finishes_its_batch_and_starts_no_other() {
    let sandbox = deployed("1500ms");
    let run = apply_until_the_canary_upgrades(&sandbox, Stdio::piped());
    let pid = run.child.id();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let (code, err) = run.wait();
    assert_eq!(code, Some(1), "an interrupted apply ends in error\n{err}");
    assert!(err.contains("Apply interrupted"), "{err}");
    assert!(
        err.contains("module.dr.asm_service_mesh.mesh[\"cluster-2\"]: Modifications complete"),
        "{err}"
    );
    assert!(!err.contains("batch 2 of 2 (cluster-1): starting"), "{err}");
    assert!(!err.contains("mesh[\"cluster-1\"]: Modifying"), "{err}");
    assert_eq!(
        versions(&sandbox),
        pair(OLD, NEW),
        "the canary's batch finished, nothing else began"
    );
    let plan = sandbox.ok(&args(&["plan"], &[UPGRADE]));
    plan.stdout_has("Plan: 0 to add, 1 to change, 0 to destroy.");
}

/// Three pages written with the same text, rolled out two at a time (`c` first), gated by a check
/// that the pages agree (unless mixed texts are allowed).
const PAGES: &str = r#"
variable "text" {
  type    = string
  default = "one"
}
variable "allow_mixed" {
  type    = bool
  default = true
}
check "pages" {
  assert {
    condition     = var.allow_mixed || length(distinct([for p in local_file.page : p.content])) == 1
    error_message = "the pages disagree"
  }
}
resource "local_file" "page" {
  for_each = toset(["a", "b", "c"])
  filename = "${each.key}.txt"
  content  = var.text

  lifecycle {
    rollout {
      batch_size = 2
      order      = ["c"]
      checks     = [check.pages]
    }
  }
}
"#;

#[test]
fn a_saved_plan_keeps_its_rollout_and_apply_reports_each_batch_as_json() {
    let w = Workdir::with_main(PAGES);
    w.ok(&["apply", "--auto-approve"]);
    let events = w.ok(&["plan", "--json", "--var", "text=two"]).stdout;
    let lines_schema = schema("events.schema.json");
    for l in json_lines(&events) {
        assert_valid(&lines_schema, &l);
    }
    assert!(
        events.lines().any(|l| l.contains("\"type\":\"planned_rollout\"")
            && l.contains("Rollout: 2 batches (c and a, then b), gated by check.pages")),
        "{events}"
    );
    w.ok(&["plan", "--out", "two.plan", "--var", "text=two"])
        .stdout_has("Rollout: 2 batches (c and a, then b), gated by check.pages")
        .stdout_has("  batch 1: local_file.page[\"a\"], local_file.page[\"c\"]");
    let shown: Value =
        serde_json::from_str(&w.ok(&["show", "--json", "two.plan"]).stdout).expect("JSON");
    assert_valid(&schema("plan.schema.json"), &shown);
    let r = &shown["rollouts"][0];
    assert_eq!(r["resource"], "local_file.page");
    assert_eq!(r["checks"], serde_json::json!(["check.pages"]));
    assert_eq!(r["batches"][0]["keys"], serde_json::json!(["c", "a"]));
    assert_eq!(r["batches"][1]["instances"], serde_json::json!(["local_file.page[\"b\"]"]));
    w.ok(&["show", "--markdown", "two.plan"])
        .stdout_has("1. `local_file.page[\"a\"]`, `local_file.page[\"c\"]`");

    let run = w.ok(&["apply", "--json", "two.plan"]);
    let events = json_lines(&run.stdout);
    for l in &events {
        assert_valid(&lines_schema, l);
    }
    let of = |t: &str| events.iter().filter(|e| e["type"] == t).cloned().collect::<Vec<_>>();
    let started = of("rollout_batch_start");
    assert_eq!(started.len(), 2, "{}", run.stdout);
    assert_eq!(started[1]["rollout"]["keys"], "b");
    let complete = of("rollout_batch_complete");
    assert_eq!(complete.len(), 2, "{}", run.stdout);
    assert_eq!(complete[0]["checks"][0]["name"], "pages");
    assert_eq!(complete[0]["checks"][0]["passed"], true);
    for k in ["a", "b", "c"] {
        assert_eq!(w.read(&format!("{k}.txt")), "two");
    }
}

#[test]
fn a_failing_gate_leaves_the_last_batch_as_it_was() {
    let w = Workdir::with_main(PAGES);
    w.ok(&["apply", "--auto-approve"]);
    let run = w
        .run(&["apply", "--auto-approve", "--var", "text=two", "--var", "allow_mixed=false"])
        .code(1)
        .stderr_has("rollout of local_file.page stopped after batch 1 of 2 (c and a): check.pages failed: the pages disagree");
    assert!(run.stderr.contains("- local_file.page[\"b\"]"), "{}", run.stderr);
    assert_eq!(
        (w.read("a.txt"), w.read("b.txt"), w.read("c.txt")),
        ("two".into(), "one".into(), "two".into())
    );
    w.ok(&["plan", "--var", "text=two"]).stdout_has("Plan: 0 to add, 1 to change, 0 to destroy.");
}

/// `stdout` and `stderr` of a run as one line of words (miette wraps and frames long messages).
fn words(run: &crate::support::Run) -> String {
    let text = format!("{}\n{}", run.stdout, run.stderr).replace('│', " ");
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn plan_and_verify_during_an_upgrade_see_it_in_progress_and_apply_finishes_it() {
    // Upgrades last 10 s: long enough to plan, refuse and verify while mesh-2's runs.
    let sandbox = deployed("10s");
    let run = apply_until_the_canary_upgrades(&sandbox, Stdio::null());
    // The run dies mid-upgrade (a cancelled CI job): the upgrade goes on, the state lock is free.
    std::thread::sleep(Duration::from_millis(300));
    let _ = run.kill();
    let upgrading = |sandbox: &Sandboxed| {
        meshes(&sandbox.status())
            .iter()
            .any(|(n, st, v)| n == "mesh-2" && st == "upgrading" && v == OLD)
    };
    assert!(upgrading(&sandbox), "mesh-2 is upgrading: {:?}", meshes(&sandbox.status()));

    // The plan shows the upgrade in flight and exits cleanly.
    let plan = sandbox.ok(&args(&["plan"], &[UPGRADE]));
    let said = words(&plan);
    assert!(
        said.contains(&format!("is already upgrading from {OLD} to {NEW}")),
        "the plan says mesh-2's upgrade is in progress:\n{said}"
    );
    assert!(said.contains("Plan: 0 to add, 2 to change, 0 to destroy."), "{said}");

    // Another version while that upgrade runs is refused, naming both and what to do.
    const NEWEST: &str = "v1.25.3.30-g3f7c0b4e-aliyun";
    let other = format!("istio_version={NEWEST}");
    // (mesh-1, on the old version, refuses it as a skip: only mesh-2 is planned.)
    let mesh_2 = ["plan", "--target", "module.dr.asm_service_mesh.mesh[\"cluster-2\"]"];
    let refused = sandbox.run(&args(&mesh_2, &[&other])).code(1);
    let said = words(&refused);
    for needle in [
        format!("is upgrading from {OLD} to {NEW} right now"),
        format!("Set istio_version to {NEW}"),
        NEWEST.to_owned(),
    ] {
        assert!(said.contains(&needle), "{needle:?} in\n{said}");
    }

    // verify plans first: its checks run and pass while the mesh upgrades.
    let verified = sandbox.run(&args(&["verify"], &[UPGRADE]));
    let said = words(&verified);
    assert_eq!(verified.status, Some(0), "{said}");
    assert!(said.contains("Verification passed: 2 of 2 checks (0 skipped)"), "{said}");
    assert!(upgrading(&sandbox), "all of the above ran during the upgrade (make it last longer)");

    // The next apply waits for that upgrade, then rolls out the rest; nothing is left after it.
    sandbox
        .ok(&args(&["apply", "--auto-approve"], &[UPGRADE]))
        .stdout_has("Apply complete! Resources: 0 added, 2 changed, 0 destroyed.");
    assert_eq!(versions(&sandbox), pair(NEW, NEW));
    sandbox.run(&args(&["plan", "--detailed-exitcode"], &[UPGRADE])).code(0);
}
