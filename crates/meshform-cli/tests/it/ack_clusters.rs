//! The runbook from ACK cluster ids, end to end through the binary: `sandbox up` writes
//! `sandbox.env` (owner-only) and says how to source it, the example plans with nothing but the ids
//! from it, and a wrong id gets one diagnostic on the argument that names the cluster — while the
//! kubeconfigs read from ACK never show.

use crate::sandboxed::Sandboxed;

/// `KEY='value'` of sandbox.env.
fn env_value(env: &str, name: &str) -> String {
    let prefix = format!("export {name}='");
    env.lines()
        .find_map(|l| l.strip_prefix(&prefix).and_then(|v| v.strip_suffix('\'')))
        .unwrap_or_else(|| panic!("{name} is not in sandbox.env:\n{env}"))
        .to_owned()
}

#[test]
fn the_example_runs_from_cluster_ids_and_a_wrong_id_points_at_the_argument() {
    let sandbox = Sandboxed::runbook();
    let env = sandbox.work.read(".meshform/sandbox/sandbox.env");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(sandbox.work.join(".meshform/sandbox/sandbox.env"))
            .expect("sandbox.env")
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "sandbox.env holds the AccessKey secret: owner only");
    }
    let described: serde_json::Value =
        serde_json::from_str(&sandbox.work.read(".meshform/sandbox/sandbox.json")).expect("JSON");
    let id_1 = described["clusters"][0]["id"].as_str().expect("an id").to_owned();
    assert_eq!(env_value(&env, "MESHFORM_VAR_cluster_1_id"), id_1);
    assert_eq!(
        env_value(&env, "ALIBABA_CLOUD_CS_ENDPOINT"),
        described["cs"]["endpoint"].as_str().unwrap_or("?")
    );
    sandbox.ok(&["sandbox", "status"]).stdout_has("To run meshform against it, in your shell: . ");

    // With the sourced environment only: every step of the runbook is planned, on the clusters'
    // own regions and networks, and no kubeconfig (a bearer token) is printed.
    let plan = sandbox.ok(&["plan"]);
    let region_2 = described["clusters"][1]["region"].as_str().unwrap_or("?");
    let vpc_2 = described["clusters"][1]["vpc_id"].as_str().unwrap_or("?");
    assert!(plan.stdout.contains(&format!("+ region        = \"{region_2}\"")), "{}", plan.stdout);
    assert!(plan.stdout.contains(&format!("+ vpc_id        = \"{vpc_2}\"")), "{}", plan.stdout);
    let token = std::fs::read_to_string(sandbox.kubeconfig("cluster-1")).expect("kubeconfig");
    let token = token.lines().find_map(|l| l.trim().strip_prefix("token: ")).expect("a token");
    assert!(!plan.stdout.contains(token) && !plan.stderr.contains(token), "a kubeconfig leaked");

    // A cluster the account does not have: one error, on the data source's cluster_id.
    let wrong = sandbox.run(&["plan", "--var", "cluster_1_id=c0000000000000000000000000000000"]);
    assert_eq!(wrong.status, Some(1), "{}\n{}", wrong.stdout, wrong.stderr);
    let stderr = wrong.stderr_unwrapped();
    assert!(stderr.contains("ErrorClusterNotFound"), "{stderr}");
    assert!(stderr.contains("no ACK cluster \"c0000000000000000000000000000000\""), "{stderr}");
    assert!(stderr.contains("cluster_id = each.value"), "the argument is shown: {stderr}");
    assert_eq!(stderr.matches("rejected by the provider").count(), 1, "one diagnostic: {stderr}");

    // Not an ACK id at all: the variable's validation says what one looks like.
    sandbox
        .run(&["plan", "--var", "cluster_2_id=cluster-2"])
        .code(1)
        .stderr_has("cluster_2_id is an ACK cluster id");

    sandbox.ok(&["sandbox", "down"]);
    assert!(!sandbox.work.exists(".meshform/sandbox/sandbox.env"), "down removes sandbox.env");
}
