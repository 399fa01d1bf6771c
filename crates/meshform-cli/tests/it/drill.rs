//! The day of the disaster on the sandbox (`docs/disaster-recovery.md`), with the runbook's
//! configuration as it ships (`examples/multi-master`, its failover policy on) in drill mode:
//! sleep in both clusters, both directions verified. Each test takes one part of the world down —
//! mesh-1's control plane, cluster-1, the whole region `cn-hangzhou` — and checks that a plan still
//! covers every instance it can reach and holds back, per instance and with the cause, what it
//! cannot; that the surviving side is scaled with `apply --allow-incomplete`; what `verify` says;
//! and that after `sandbox restore` a plan converges with nothing lost or duplicated.
//!
//! How fast such a plan is compared with the same plan without the outage is measured, not
//! asserted here: `scripts/measure-outage-plan`, results in `docs/performance.md`. How the data
//! plane fails over (outlier detection, retries) is `failover.rs`'s subject.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::sandboxed::{check, verify_report, Sandboxed};
use crate::support::Run;

/// Drill mode: sleep in both clusters, both checks enabled.
const DRILL: &[&str] = &["drill=true"];
/// Drill mode with the surviving side scaled: helloworld-v2 at 3 replicas in cluster-2.
const SCALED: &[&str] = &["drill=true", "helloworld_v2_replicas=3"];

const FROM_1: &str = "from_cluster_1";
const FROM_2: &str = "from_cluster_2";

/// What the drill deploys, as `(cluster, namespace/name)`.
const APPS: [(&str, &str); 4] = [
    ("cluster-1", "default/sleep"),
    ("cluster-1", "default/helloworld-v1"),
    ("cluster-2", "default/helloworld-v2"),
    ("cluster-2", "default/sleep"),
];

/// What cluster-2's side is made of, as planned when only cluster-1's side is unreachable.
const CLUSTER_2_SIDE: [&str; 7] = [
    "module.dr.asm_service_mesh.mesh[\"cluster-2\"]",
    "module.dr.asm_cluster_attachment.discovery[\"cluster-2/cluster-1\"]",
    "module.dr.asm_multi_cluster_network.net[\"cluster-2\"]",
    "module.dr.asm_sidecar_injection.default[\"cluster-2\"]",
    "kubernetes_manifest.cluster_2_apps",
    "kubernetes_manifest.sleep_cluster_2[0]",
    "kubernetes_manifest.failover_mesh_2[0]",
];

/// Shared by both sides, and readable during any outage: the certificates.
const PKI: [&str; 3] = [
    "module.dr.pki_root_ca.shared",
    "module.dr.pki_intermediate_ca.mesh[\"cluster-1\"]",
    "module.dr.pki_intermediate_ca.mesh[\"cluster-2\"]",
];

/// What reads mesh-1, held back when mesh-1 cannot be refreshed, with the cause the plan gives.
const HELD_BACK_WITH_MESH_1: [(&str, &str); 3] = [
    (
        "module.dr.asm_cluster_attachment.discovery[\"cluster-1/cluster-2\"]",
        "reads module.dr.asm_service_mesh.mesh[\"cluster-1\"], which could not be planned",
    ),
    (
        "module.dr.asm_multi_cluster_network.net[\"cluster-1\"]",
        "reads module.dr.asm_cluster_attachment.discovery[\"cluster-1/cluster-2\"], which could not be planned",
    ),
    (
        "module.dr.asm_sidecar_injection.default[\"cluster-1\"]",
        "reads module.dr.asm_service_mesh.mesh[\"cluster-1\"], which could not be planned",
    ),
];

fn with_vars<'a>(args: &[&'a str], vars: &[&'a str]) -> Vec<&'a str> {
    let mut all = args.to_vec();
    for v in vars {
        all.extend(["--var", v]);
    }
    all
}

/// The runbook applied in drill mode, its applications running and verified in both directions.
fn drill_applied() -> Sandboxed {
    let sandbox = Sandboxed::runbook();
    // The runbook's 13 resources, the failover policy in both meshes, sleep in cluster-2.
    sandbox
        .ok(&with_vars(&["apply", "--auto-approve"], DRILL))
        .stdout_has("Apply complete! Resources: 16 added, 0 changed, 0 destroyed.");
    sandbox.wait_ready(&APPS);
    let run = sandbox.run_until(&with_vars(&["verify", "--json"], DRILL), |r| r.status == Some(0));
    let report = verify_report(&run);
    for name in [FROM_1, FROM_2] {
        let c = check(&report, name);
        assert_eq!(
            (&c["passed"], &c["skipped"]),
            (&Value::Bool(true), &Value::Bool(false)),
            "{c:#}"
        );
    }
    sandbox
}

// ---------------------------------------------------------------------------------------------
// A saved plan of an outage, instance by instance.

/// What a plan did with each instance: planned (with its actions), failed to refresh (with the
/// provider's message) or held back (with the cause).
struct PlanOutcome {
    planned: BTreeMap<String, String>,
    failed: BTreeMap<String, String>,
    held_back: BTreeMap<String, String>,
    text: Run,
}

impl PlanOutcome {
    /// `plan --out` with `vars` during an outage: an incomplete plan (exit 1, saying so), read back
    /// with `show --json`.
    #[track_caller]
    fn during_outage(sandbox: &Sandboxed, vars: &[&str]) -> PlanOutcome {
        let text = sandbox
            .run(&with_vars(&["plan", "--out", "outage.plan"], vars))
            .code(1)
            .stdout_has("Warning: this plan is incomplete")
            .stdout_has("Everything else was planned.");
        let shown = sandbox.ok(&["show", "outage.plan", "--json"]);
        let plan: Value = serde_json::from_str(&shown.stdout).expect("show --json prints JSON");
        assert_eq!(
            (&plan["complete"], &plan["applyable"]),
            (&Value::Bool(false), &Value::Bool(false))
        );
        let planned = plan["resource_changes"]
            .as_array()
            .expect("resource_changes")
            .iter()
            .map(|c| {
                let actions: Vec<&str> = c["change"]["actions"]
                    .as_array()
                    .expect("actions")
                    .iter()
                    .filter_map(Value::as_str)
                    .collect();
                (c["address"].as_str().unwrap_or("?").to_owned(), actions.join(","))
            })
            .collect();
        let failed = plan["failures"]
            .as_array()
            .expect("failures")
            .iter()
            .map(|f| {
                let address = f["address"].as_str().unwrap_or("?").to_owned();
                (address, f["message"].as_str().unwrap_or("").to_owned())
            })
            .collect();
        // Each held-back instance is written `ADDRESS (CAUSE)`.
        let held_back = plan["skipped"]
            .as_array()
            .expect("skipped")
            .iter()
            .filter_map(Value::as_str)
            .map(|s| {
                let (address, cause) = s.split_once(" (").unwrap_or((s, ""));
                (address.to_owned(), cause.trim_end_matches(')').to_owned())
            })
            .collect();
        PlanOutcome { planned, failed, held_back, text }
    }

    /// Asserts exactly which instances were planned; all are unchanged but `changed` (updated).
    #[track_caller]
    fn assert_planned(&self, addresses: &[&str], changed: &str) {
        let want: BTreeMap<String, String> = addresses
            .iter()
            .map(|a| (a.to_string(), if *a == changed { "update" } else { "no-op" }.to_owned()))
            .collect();
        assert_eq!(self.planned, want, "planned instances\n{}", self.text.stdout);
    }

    /// Asserts exactly which instances failed to refresh, each message containing its sign.
    #[track_caller]
    fn assert_failed(&self, failed: &[(&str, &str)]) {
        let addresses: BTreeSet<&str> = self.failed.keys().map(String::as_str).collect();
        let want: BTreeSet<&str> = failed.iter().map(|(a, _)| *a).collect();
        assert_eq!(addresses, want, "instances that could not be refreshed\n{}", self.text.stdout);
        for (address, sign) in failed {
            let message = &self.failed[*address];
            assert!(message.contains(sign), "{address}: {message:?} lacks {sign:?}");
            // The plan's text names each one with its cause, too.
            assert!(
                self.text.stdout.contains(&format!("  - {address} (provider ")),
                "{address} not listed\n{}",
                self.text.stdout
            );
        }
    }

    /// Asserts exactly which instances were held back, with their causes.
    #[track_caller]
    fn assert_held_back(&self, held_back: &[(&str, &str)]) {
        let want: BTreeMap<String, String> =
            held_back.iter().map(|(a, c)| (a.to_string(), c.to_string())).collect();
        assert_eq!(self.held_back, want, "held-back instances\n{}", self.text.stdout);
        for (address, cause) in held_back {
            let line = format!("  - {address} ({cause})");
            assert!(self.text.stdout.contains(&line), "{line:?} not in\n{}", self.text.stdout);
        }
    }
}

/// Scales helloworld-v2 to 3 in cluster-2 while `left_out` cannot be planned: the change is
/// applied, what could not be planned is listed, and the replicas run.
#[track_caller]
fn scale_surviving_side(sandbox: &Sandboxed, left_out: &[&str]) {
    sandbox
        .run(&with_vars(&["apply", "--auto-approve"], SCALED))
        .code(1)
        .stdout_has("this plan is incomplete")
        .stderr_has("the plan is incomplete, so it will not be applied")
        .stderr_has("--allow-incomplete");
    assert_eq!(
        Sandboxed::workloads(&sandbox.status(), "cluster-2")
            .into_iter()
            .find(|(n, _, _)| n == "default/helloworld-v2")
            .map(|(_, want, _)| want),
        Some(1),
        "a refused apply changes nothing"
    );

    let run = sandbox
        .ok(&with_vars(&["apply", "--auto-approve", "--allow-incomplete"], SCALED))
        .stdout_has("# kubernetes_manifest.cluster_2_apps will be updated in-place")
        .stdout_has("Apply complete! Resources: 0 added, 1 changed, 0 destroyed.");
    let all = run.all_output();
    let listed = all
        .split_once("Left out of this run")
        .map(|(_, l)| l)
        .unwrap_or_else(|| panic!("apply --allow-incomplete lists what it left out\n{all}"));
    for address in left_out {
        assert!(
            listed.contains(&format!("  - {address} (")),
            "{address} not listed as left out\n{all}"
        );
    }
    sandbox.wait_replicas("cluster-2", "default/helloworld-v2", 3);
}

// ---------------------------------------------------------------------------------------------
// Nothing lost or duplicated.

/// What must survive an outage and its restore: the state's addresses, the meshes as the emulator
/// holds them (ids, members, networks), and each cluster's workloads with their replica counts.
#[derive(Debug, PartialEq)]
struct World {
    state: Vec<String>,
    meshes: Vec<Value>,
    workloads: BTreeMap<String, Vec<(String, i64)>>,
}

impl World {
    fn of(sandbox: &Sandboxed) -> World {
        let status = sandbox.status();
        let mut meshes = status["asm"]["meshes"].as_array().expect("meshes").clone();
        meshes.sort_by_key(|m| m["name"].as_str().unwrap_or("").to_owned());
        let workloads = ["cluster-1", "cluster-2"]
            .iter()
            .map(|c| {
                let ws = Sandboxed::workloads(&status, c).into_iter().map(|(n, r, _)| (n, r));
                (c.to_string(), ws.collect())
            })
            .collect();
        World { state: sandbox.work.state_list(), meshes, workloads }
    }

    /// The same world with helloworld-v2 at `replicas`.
    fn scaled(mut self, replicas: i64) -> World {
        for (name, r) in self.workloads.get_mut("cluster-2").expect("cluster-2") {
            if name == "default/helloworld-v2" {
                *r = replicas;
            }
        }
        self
    }
}

/// Ends every outage, then: a plan with the drill's last values converges to no changes, and the
/// world is `before` with helloworld-v2 scaled to 3.
#[track_caller]
fn restore_converges(sandbox: &Sandboxed, before: World, restored: &str) {
    sandbox.ok(&["sandbox", "restore"]).stdout_has(&format!("every outage ended ({restored})"));
    sandbox
        .run(&with_vars(&["plan", "--detailed-exitcode"], SCALED))
        .code(0)
        .stdout_has("No changes.");
    assert_eq!(World::of(sandbox), before.scaled(3), "nothing lost or duplicated");
    sandbox.wait_ready(&APPS);
}

// ---------------------------------------------------------------------------------------------
// verify's report.

/// The responses a check's one `kubernetes_exec` saw (empty when it could not run).
fn responses(check: &Value) -> Vec<String> {
    check["data"][0]["responses"]
        .as_array()
        .map(|rs| rs.iter().map(|r| r.as_str().unwrap_or("").trim().to_owned()).collect())
        .unwrap_or_default()
}

/// The distinct pods of helloworld `version` that answered.
fn instances(responses: &[String], version: &str) -> BTreeSet<String> {
    let prefix = format!("Hello version: {version}, instance: ");
    responses.iter().filter_map(|r| r.strip_prefix(&prefix)).map(str::to_owned).collect()
}

/// Asserts a check reported as UNREACHABLE, naming the cluster it could not reach.
#[track_caller]
fn assert_unreachable(report: &Value, name: &str, cluster: &str) {
    let c = check(report, name);
    assert_eq!(
        (&c["unreachable"], &c["passed"]),
        (&Value::Bool(true), &Value::Bool(false)),
        "{c:#}"
    );
    let failures = c["failures"].to_string();
    assert!(failures.contains(&format!("cluster {cluster}")), "{c:#}");
}

/// verify from both sides until cluster-2's sleep has seen all three helloworld-v2 pods answer
/// (the mesh discovers the new replicas); returns the last report.
#[track_caller]
fn verify_until_three_v2(sandbox: &Sandboxed, vars: &[&str], done: impl Fn(&Run) -> bool) -> Value {
    let run = sandbox.run_until(&with_vars(&["verify", "--json"], vars), |r| {
        done(r)
            && serde_json::from_str::<Value>(&r.stdout)
                .is_ok_and(|rep| instances(&responses(check(&rep, FROM_2)), "v2").len() == 3)
    });
    verify_report(&run)
}

// ---------------------------------------------------------------------------------------------
// The drills.

#[test]
fn mesh_1_down_plans_the_surviving_side_scales_it_verifies_and_converges_after_restore() {
    let sandbox = drill_applied();
    let before = World::of(&sandbox);
    sandbox.ok(&["sandbox", "outage", "--mesh", "mesh-1"]).stdout_has("is down");

    // Every instance of cluster-2's side is planned (and the scaling with it); of cluster-1's
    // side, what lives on mesh-1's control plane cannot be refreshed, what reads it waits, and
    // cluster-1's applications — in a cluster that is up, ordered only after cluster-1's
    // unchanged injection — are planned.
    let plan = PlanOutcome::during_outage(&sandbox, SCALED);
    let mut planned = CLUSTER_2_SIDE.to_vec();
    planned.extend(PKI);
    planned.push("kubernetes_manifest.cluster_1_apps");
    plan.assert_planned(&planned, "kubernetes_manifest.cluster_2_apps");
    plan.assert_failed(&[
        ("module.dr.asm_service_mesh.mesh[\"cluster-1\"]", "ServiceUnavailable"),
        ("kubernetes_manifest.failover_mesh_1[0]", "ClusterUnreachable"),
    ]);
    plan.assert_held_back(&HELD_BACK_WITH_MESH_1);

    scale_surviving_side(
        &sandbox,
        &[
            "module.dr.asm_service_mesh.mesh[\"cluster-1\"]",
            "kubernetes_manifest.failover_mesh_1[0]",
        ],
    );

    // A mesh outage leaves both clusters up, and the proxies keep the configuration they last
    // received: both checks run and pass, none is unreachable, and verify exits 0 without
    // --allow-unreachable. Mesh-2 routes to the three helloworld-v2 pods.
    let report = verify_until_three_v2(&sandbox, SCALED, |r| r.status == Some(0));
    for name in [FROM_1, FROM_2] {
        let c = check(&report, name);
        assert_eq!(
            (&c["passed"], &c["unreachable"]),
            (&Value::Bool(true), &Value::Bool(false)),
            "{c:#}"
        );
    }

    restore_converges(&sandbox, before, "mesh mesh-1");
    // No endpoint was ejected (both clusters stayed up): both directions pass at once. (After a
    // cluster outage, a sidecar that ejected the cluster's endpoints sends them traffic again only
    // once their ejection time is over, so the region drill does not verify right after restore.)
    sandbox.run_until(&with_vars(&["verify"], SCALED), |r| r.status == Some(0));
}

#[test]
fn region_down_plans_the_surviving_side_scales_it_and_mesh_2_keeps_serving() {
    let sandbox = drill_applied();
    let before = World::of(&sandbox);
    sandbox
        .ok(&["sandbox", "outage", "--region", "cn-hangzhou"])
        .stdout_has("region cn-hangzhou is down")
        .stdout_has("mesh-1")
        .stdout_has("cluster-1");

    // Now cluster-1's applications cannot be refreshed either.
    let plan = PlanOutcome::during_outage(&sandbox, SCALED);
    let mut planned = CLUSTER_2_SIDE.to_vec();
    planned.extend(PKI);
    plan.assert_planned(&planned, "kubernetes_manifest.cluster_2_apps");
    plan.assert_failed(&[
        ("module.dr.asm_service_mesh.mesh[\"cluster-1\"]", "ServiceUnavailable"),
        ("kubernetes_manifest.failover_mesh_1[0]", "ClusterUnreachable"),
        ("kubernetes_manifest.cluster_1_apps", "ClusterUnreachable: cluster cluster-1"),
    ]);
    plan.assert_held_back(&HELD_BACK_WITH_MESH_1);

    scale_surviving_side(
        &sandbox,
        &[
            "module.dr.asm_service_mesh.mesh[\"cluster-1\"]",
            "kubernetes_manifest.failover_mesh_1[0]",
            "kubernetes_manifest.cluster_1_apps",
        ],
    );

    // verify, told that cluster-1 is down: the check from cluster-1 is UNREACHABLE; the check
    // from cluster-2 runs, and mesh-2 keeps serving — cluster-2's sleep gets answers from all
    // three helloworld-v2 pods, and none from v1.
    let down: Vec<&str> = SCALED.iter().copied().chain(["clusters_down=[\"cluster-1\"]"]).collect();
    let report = verify_until_three_v2(&sandbox, &down, |r| r.status == Some(1));
    assert_unreachable(&report, FROM_1, "cluster-1");
    let from_2 = check(&report, FROM_2);
    assert_eq!(from_2["unreachable"], false, "{from_2:#}");
    let rs = responses(from_2);
    assert_eq!(rs.len(), 10, "{rs:#?}");
    assert_eq!(instances(&rs, "v1"), BTreeSet::new(), "cluster-1 answers nothing: {rs:#?}");
    // What does not come from v2 is Envoy's answer for an endpoint of the dead cluster (whether
    // any is left depends on the data plane's failover, failover.rs); then that, and only that,
    // assertion fails — the missing v1 is expected, cluster-1 being down.
    let failed: Vec<&String> =
        rs.iter().filter(|r| !r.starts_with("Hello version: v2, ")).collect();
    assert!(failed.iter().all(|r| r.starts_with("upstream connect error")), "{rs:#?}");
    let failures: Vec<&str> =
        from_2["failures"].as_array().expect("failures").iter().filter_map(Value::as_str).collect();
    if failed.is_empty() {
        assert_eq!((from_2["passed"].as_bool(), failures.len()), (Some(true), 0), "{from_2:#}");
    } else {
        assert_eq!(failures.len(), 1, "{from_2:#}");
        assert!(failures[0].starts_with("every response must come from helloworld"), "{from_2:#}");
    }

    // --allow-unreachable excuses only the unreachable check: exit 0 exactly when cluster-2's
    // passed (the same request mix is not guaranteed, so it is read from the same run).
    let with_allow = with_vars(&["verify", "--json", "--allow-unreachable"], &down);
    let run = sandbox.run(&with_allow);
    let report = verify_report(&run);
    let passed = check(&report, FROM_2)["passed"] == true;
    assert_eq!(run.status, Some(if passed { 0 } else { 1 }), "{report:#}");
    assert_unreachable(&report, FROM_1, "cluster-1");

    restore_converges(&sandbox, before, "region cn-hangzhou, cluster cluster-1");
}

#[test]
fn cluster_1_down_holds_back_only_its_applications() {
    let sandbox = drill_applied();
    sandbox
        .ok(&["sandbox", "outage", "--cluster", "cluster-1"])
        .stdout_has("cluster cluster-1 is down");

    // Both meshes answer: everything but cluster-1's objects is planned, mesh-1's side included.
    let plan = PlanOutcome::during_outage(&sandbox, DRILL);
    let everything_else = [
        "module.dr.asm_service_mesh.mesh[\"cluster-1\"]",
        "module.dr.asm_cluster_attachment.discovery[\"cluster-1/cluster-2\"]",
        "module.dr.asm_multi_cluster_network.net[\"cluster-1\"]",
        "module.dr.asm_sidecar_injection.default[\"cluster-1\"]",
        "kubernetes_manifest.failover_mesh_1[0]",
    ];
    let mut planned = CLUSTER_2_SIDE.to_vec();
    planned.extend(PKI);
    planned.extend(everything_else);
    plan.assert_planned(&planned, "");
    plan.assert_failed(&[(
        "kubernetes_manifest.cluster_1_apps",
        "ClusterUnreachable: cluster cluster-1",
    )]);
    plan.assert_held_back(&[]);

    // Without being told, verify expects v1 from cluster-2 and cannot run the check in cluster-1.
    let run = sandbox.run(&with_vars(&["verify", "--json"], DRILL)).code(1);
    let report = verify_report(&run);
    assert_unreachable(&report, FROM_1, "cluster-1");
    let from_2 = check(&report, FROM_2);
    assert_eq!(
        (&from_2["passed"], &from_2["unreachable"]),
        (&Value::Bool(false), &Value::Bool(false))
    );
    assert!(
        from_2["failures"].to_string().contains("no response from helloworld v1"),
        "{from_2:#}"
    );
    sandbox
        .run(&with_vars(&["verify"], DRILL))
        .code(1)
        .stdout_has("UNREACHABLE")
        .stdout_has("1 could not reach what they check");

    sandbox.ok(&["sandbox", "restore"]).stdout_has("every outage ended (cluster cluster-1)");
    sandbox
        .run(&with_vars(&["plan", "--detailed-exitcode"], DRILL))
        .code(0)
        .stdout_has("No changes.");
}

// ---------------------------------------------------------------------------------------------
// Bad input, through the CLI. The sandbox's own tests cover each refusal and its HTTP form
// (crates/meshform-sandbox/tests/it/dataplane/outage.rs,
// `bad_requests_are_refused_with_what_to_do_and_change_nothing`); here: the exit code, the
// message and help the user reads, and that the status shows nothing changed.

#[test]
fn bad_outage_requests_are_refused_with_what_to_do_and_change_nothing() {
    let sandbox = Sandboxed::runbook();
    let outages = |s: &Sandboxed| s.status()["outages"].clone();
    let nothing = outages(&sandbox);

    sandbox
        .run(&["sandbox", "outage", "--cluster", "cluster-9"])
        .code(1)
        .stderr_has("no cluster named cluster-9")
        .stderr_has("the sandbox's clusters (by name or id) are cluster-1, cluster-2");
    sandbox
        .run(&["sandbox", "restore"])
        .code(1)
        .stderr_has("nothing is down")
        .stderr_has("meshform sandbox outage --cluster NAME");
    assert_eq!(outages(&sandbox), nothing, "refusals changed nothing");

    sandbox.ok(&["sandbox", "outage", "--cluster", "cluster-1"]);
    let down = outages(&sandbox);
    sandbox
        .run(&["sandbox", "outage", "--cluster", "cluster-1"])
        .code(1)
        .stderr_has("cluster cluster-1 is already down")
        .stderr_has("meshform sandbox restore --cluster cluster-1");
    sandbox
        .run(&["sandbox", "outage", "--region", "eu-west-1"])
        .code(1)
        .stderr_has("the sandbox's regions are cn-hangzhou, cn-shanghai");
    assert_eq!(outages(&sandbox), down, "refusals changed nothing");
    assert_eq!(down["clusters"], serde_json::json!(["cluster-1"]), "{down:#}");
}
