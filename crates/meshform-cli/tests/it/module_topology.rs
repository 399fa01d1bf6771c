//! The multi-master topology as a module (`modules/multi-master`) on the sandbox, end to end:
//! `examples/three-regions` on three clusters (every cluster reaches every version, an outage takes
//! one version away, destroy leaves nothing), the module on five clusters, every direction
//! verified, and a deployment of `examples/multi-master`'s earlier hand-written layout
//! (`tests/fixtures/multi_master_flat`) moved to the example as it ships (over the module) by its
//! `moved` blocks, with no destroy.

use std::path::{Path, PathBuf};

use crate::sandboxed::{check, cluster_entry, edit, verify_report, Sandboxed};
use crate::support::{Run, Workdir};

#[path = "../shared/n_clusters.rs"]
mod n_clusters;

/// The repository's root.
fn repo_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Copies the configuration files (`.hcl`, `.yaml`) under `src` into `rel` of `work`, keeping the
/// layout (a user's run leaves `.meshform/` and state files in an example directory: not copied).
fn copy_configuration(src: &Path, work: &Workdir, rel: &str) {
    let entries = std::fs::read_dir(src).unwrap_or_else(|e| panic!("{}: {e}", src.display()));
    for entry in entries {
        let entry = entry.expect("read a configuration directory");
        let name = entry.file_name().to_string_lossy().into_owned();
        let to = if rel.is_empty() { name.clone() } else { format!("{rel}/{name}") };
        let kind = entry.file_type().expect("file type");
        if kind.is_dir() && !name.starts_with('.') {
            copy_configuration(&entry.path(), work, &to);
        } else if kind.is_file() && (name.ends_with(".hcl") || name.ends_with(".yaml")) {
            let text = std::fs::read_to_string(entry.path()).expect("read a configuration file");
            work.write(&to, &text);
        }
    }
}

/// `modules/multi-master` copied into `work/modules/multi-master`, where the tests' configurations
/// call it (`source = "./modules/multi-master"`).
fn add_module(work: &Workdir) {
    copy_configuration(&repo_dir().join("modules/multi-master"), work, "modules/multi-master");
}

/// `examples/three-regions` as it ships, with the module next to it: only its `source` changes,
/// from the repository's layout to the copy's.
fn three_regions() -> Workdir {
    let work = Workdir::new();
    copy_configuration(&repo_dir().join("examples/three-regions"), &work, "");
    add_module(&work);
    let main = work.read("main.hcl");
    let main = edit(
        &main,
        r#"source = "../../modules/multi-master""#,
        r#"source = "./modules/multi-master""#,
    );
    work.write("main.hcl", &main);
    work
}

/// The response counts of one check's first data source, by version (`v1` → 10).
fn counts(report: &serde_json::Value, name: &str) -> serde_json::Value {
    check(report, name)["data"][0]["counts"].clone()
}

/// How many responses came from `version` in `counts` (0 when none did).
fn answered(counts: &serde_json::Value, version: &str) -> u64 {
    counts[version].as_u64().unwrap_or(0)
}

/// Asserts that every check of a verify run passed and that each saw every one of `versions`.
#[track_caller]
fn assert_every_direction(run: &Run, checks: &[String], versions: &[String]) {
    let report = verify_report(run);
    assert_eq!(report["passed"], true, "{report:#}");
    for name in checks {
        assert_eq!(check(&report, name)["passed"], true, "{report:#}");
        let seen = counts(&report, name);
        for v in versions {
            assert!(answered(&seen, v) >= 1, "{name}: {v} answered: {seen:#}");
        }
    }
}

/// Asserts that the sandbox holds nothing meshform made: no mesh, no workload in `default`.
#[track_caller]
fn assert_nothing_left(sandbox: &Sandboxed, clusters: usize) {
    assert!(sandbox.work.state_list().is_empty(), "the state is empty after destroy");
    let status = sandbox.status();
    let meshes = status["asm"]["meshes"].as_array().map(Vec::len).unwrap_or(0);
    assert_eq!(meshes, 0, "no mesh left: {status:#}");
    for i in 1..=clusters {
        let left: Vec<String> = Sandboxed::workloads(&status, &format!("cluster-{i}"))
            .into_iter()
            .map(|(name, _, _)| name)
            .filter(|name| name.starts_with("default/"))
            .collect();
        assert!(left.is_empty(), "cluster-{i} still runs {left:?}");
    }
}

/// Every mesh has every cluster as a member: its own managed, the others for discovery only.
#[track_caller]
fn assert_full_discovery(status: &serde_json::Value, clusters: usize) {
    let meshes = status["asm"]["meshes"].as_array().expect("meshes");
    assert_eq!(meshes.len(), clusters, "a mesh per cluster: {status:#}");
    for m in meshes {
        let members = m["members"].as_array().expect("members");
        let discovery = members.iter().filter(|c| c["discovery_only"] == true).count();
        assert_eq!(
            (members.len(), discovery),
            (clusters, clusters - 1),
            "one cluster managed, every other for discovery: {m:#}"
        );
    }
}

fn names(prefix: &str, n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("{prefix}{i}")).collect()
}

#[test]
fn three_regions_reach_every_version_from_every_cluster_until_one_is_down() {
    let sandbox =
        Sandboxed::start_with(three_regions(), &["--clusters", "3", "--transition-delay", "200ms"]);
    sandbox
        .ok(&["apply", "--auto-approve"])
        .stdout_has("Apply complete! Resources: 22 added, 0 changed, 0 destroyed.");
    let status = sandbox.status();
    assert_full_discovery(&status, 3);
    for i in 1..=3 {
        assert_eq!(cluster_entry(&status, &format!("cluster-{i}"))["name"], format!("cluster-{i}"));
    }
    sandbox.wait_ready(&[
        ("cluster-1", "default/sleep"),
        ("cluster-2", "default/sleep"),
        ("cluster-3", "default/sleep"),
        ("cluster-1", "default/helloworld-v1"),
        ("cluster-2", "default/helloworld-v2"),
        ("cluster-3", "default/helloworld-v3"),
    ]);

    // From every cluster, all three versions answer.
    let checks = names("from_cluster_", 3);
    let run = sandbox.run_until(&["verify", "--json"], |r| r.status == Some(0));
    assert_every_direction(&run, &checks, &names("v", 3));
    sandbox.run(&["plan", "--detailed-exitcode"]).code(0).stdout_has("No changes.");

    // cluster-3 down: v3 no longer answers cluster-1 and cluster-2, whose own versions still do;
    // cluster-3's own check cannot run.
    sandbox.ok(&["sandbox", "outage", "--cluster", "cluster-3"]);
    let run = sandbox.run(&["verify", "--json"]).code(1);
    let report = verify_report(&run);
    for name in ["from_cluster_1", "from_cluster_2"] {
        let seen = counts(&report, name);
        assert_eq!(answered(&seen, "v3"), 0, "{name}: cluster-3 is down: {seen:#}");
        assert!(answered(&seen, "v1") >= 1 && answered(&seen, "v2") >= 1, "{name}: {seen:#}");
        assert_eq!(check(&report, name)["passed"], false, "{name} asserts v3: {report:#}");
    }
    assert_eq!(check(&report, "from_cluster_3")["passed"], false, "{report:#}");
    sandbox.ok(&["sandbox", "restore"]);

    sandbox
        .ok(&["destroy", "--auto-approve"])
        .stdout_has("Destroy complete! Resources: 22 destroyed.");
    assert_nothing_left(&sandbox, 3);
}

/// A configuration over the module for `n` clusters, as a user with `n` regions writes it: sleep and
/// helloworld vN in cluster-N, one kubernetes provider block with `for_each`, and a check per
/// cluster that every version answers (apps from `examples/three-regions`).
fn n_clusters_config(n: usize) -> String {
    let mut hcl = n_clusters::topology(n);
    let versions: Vec<String> = (1..=n).map(|i| format!("\"v{i}\"")).collect();
    let versions = versions.join(", ");
    for i in 1..=n {
        hcl.push_str(&format!(
            r#"
check "from_cluster_{i}" {{
  data "kubernetes_exec" "curl" {{
    provider   = kubernetes.cluster["cluster-{i}"]
    deployment = "sleep"
    command    = ["curl", "-s", "helloworld:5000/hello"]
    repeat     = {repeat}
  }}
  assert {{
    condition     = alltrue([for v in [{versions}] : anytrue([for o in data.kubernetes_exec.curl.outputs : strcontains(o, "version: ${{v}},")])])
    error_message = "from cluster-{i}, not every helloworld version answered"
  }}
}}
"#,
            repeat = 6 * n,
        ));
    }
    hcl
}

#[test]
fn the_module_on_five_clusters_reaches_every_version_in_every_direction() {
    const N: usize = 5;
    let work = Workdir::with_main(&n_clusters_config(N));
    add_module(&work);
    copy_configuration(&repo_dir().join("examples/three-regions/apps"), &work, "apps");
    let sandbox = Sandboxed::start_with(work, &["--clusters", "5", "--transition-delay", "200ms"]);

    // 1 root, and per cluster an intermediate, a mesh, a network, an injection and its apps; N × (N − 1)
    // discovery attachments.
    let resources = 1 + 5 * N + N * (N - 1);
    sandbox.ok(&["apply", "--auto-approve"]).stdout_has(&format!(
        "Apply complete! Resources: {resources} added, 0 changed, 0 destroyed."
    ));
    assert_full_discovery(&sandbox.status(), N);
    let mut ready = Vec::new();
    for i in 1..=N {
        ready.push((format!("cluster-{i}"), "default/sleep".to_owned()));
        ready.push((format!("cluster-{i}"), format!("default/helloworld-v{i}")));
    }
    let ready: Vec<(&str, &str)> = ready.iter().map(|(c, w)| (c.as_str(), w.as_str())).collect();
    sandbox.wait_ready(&ready);

    let run = sandbox.run_until(&["verify", "--json"], |r| r.status == Some(0));
    assert_every_direction(&run, &names("from_cluster_", N), &names("v", N));

    sandbox
        .ok(&["destroy", "--auto-approve"])
        .stdout_has(&format!("Destroy complete! Resources: {resources} destroyed."));
    assert_nothing_left(&sandbox, N);
}

/// Each object of `examples/multi-master`'s hand-written topology, and its address in the module
/// layout (`examples/multi-master` over the module).
const MOVES: [(&str, &str); 11] = [
    ("pki_root_ca.shared", "module.dr.pki_root_ca.shared"),
    (
        r#"pki_intermediate_ca.mesh["cluster-1"]"#,
        r#"module.dr.pki_intermediate_ca.mesh["cluster-1"]"#,
    ),
    (
        r#"pki_intermediate_ca.mesh["cluster-2"]"#,
        r#"module.dr.pki_intermediate_ca.mesh["cluster-2"]"#,
    ),
    (r#"asm_service_mesh.mesh["cluster-1"]"#, r#"module.dr.asm_service_mesh.mesh["cluster-1"]"#),
    (r#"asm_service_mesh.mesh["cluster-2"]"#, r#"module.dr.asm_service_mesh.mesh["cluster-2"]"#),
    (
        r#"asm_cluster_attachment.discovery["cluster-1"]"#,
        r#"module.dr.asm_cluster_attachment.discovery["cluster-1/cluster-2"]"#,
    ),
    (
        r#"asm_cluster_attachment.discovery["cluster-2"]"#,
        r#"module.dr.asm_cluster_attachment.discovery["cluster-2/cluster-1"]"#,
    ),
    (
        r#"asm_multi_cluster_network.net["cluster-1"]"#,
        r#"module.dr.asm_multi_cluster_network.net["cluster-1"]"#,
    ),
    (
        r#"asm_multi_cluster_network.net["cluster-2"]"#,
        r#"module.dr.asm_multi_cluster_network.net["cluster-2"]"#,
    ),
    (
        r#"asm_sidecar_injection.default["cluster-1"]"#,
        r#"module.dr.asm_sidecar_injection.default["cluster-1"]"#,
    ),
    (
        r#"asm_sidecar_injection.default["cluster-2"]"#,
        r#"module.dr.asm_sidecar_injection.default["cluster-2"]"#,
    ),
];

/// The ids of the sandbox's meshes, sorted.
fn mesh_ids(sandbox: &Sandboxed) -> Vec<String> {
    let status = sandbox.status();
    let mut ids: Vec<String> = status["asm"]["meshes"]
        .as_array()
        .expect("meshes")
        .iter()
        .map(|m| m["id"].as_str().unwrap_or_default().to_owned())
        .collect();
    ids.sort();
    ids
}

#[test]
fn moving_the_example_to_the_module_layout_plans_moves_and_no_destroy() {
    // The example's earlier, hand-written layout.
    let sandbox = Sandboxed::runbook_with(&crate::sandboxed::flat_main());
    sandbox.ok(&["apply", "--auto-approve"]).stdout_has("Apply complete!");
    let meshes = mesh_ids(&sandbox);
    assert_eq!(meshes.len(), 2, "{meshes:?}");
    sandbox.wait_ready(&[
        ("cluster-1", "default/sleep"),
        ("cluster-1", "default/helloworld-v1"),
        ("cluster-2", "default/helloworld-v2"),
    ]);
    sandbox.run_until(&["verify"], |r| r.status == Some(0));
    let before = sandbox.work.state_list();
    for (from, _) in MOVES {
        assert!(before.iter().any(|a| a == from), "the example's state has {from}: {before:?}");
    }

    // The example as it ships now: every topology object moves, nothing is destroyed or created.
    let main = crate::sandboxed::example_main()
        .replace("\"../../modules/multi-master\"", "\"./modules/multi-master\"");
    sandbox.work.write("main.hcl", &main);
    let plan = sandbox.ok(&["plan"]);
    for (from, to) in MOVES {
        let line = format!("# {from} has moved to {to}");
        assert!(plan.stdout.contains(&line), "{line}\n--- plan\n{}", plan.stdout);
    }
    assert!(plan.stdout.contains("Plan: 0 to add, 0 to change, 0 to destroy."), "{}", plan.stdout);

    sandbox.ok(&["apply", "--auto-approve"]).stdout_has("0 added, 0 changed, 0 destroyed.");
    assert_eq!(mesh_ids(&sandbox), meshes, "the same two meshes");
    let after = sandbox.work.state_list();
    for (from, to) in MOVES {
        assert!(after.iter().any(|a| a == to), "{to} in the state: {after:?}");
        assert!(!after.iter().any(|a| a == from), "{from} left the state: {after:?}");
    }
    let run = sandbox.run_until(&["verify", "--json"], |r| r.status == Some(0));
    assert_every_direction(&run, &["from_cluster_1".to_owned()], &names("v", 2));
    sandbox.run(&["plan", "--detailed-exitcode"]).code(0).stdout_has("No changes.");
}
