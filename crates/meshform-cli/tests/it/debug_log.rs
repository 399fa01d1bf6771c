//! The debug log (`MESHFORM_LOG`, `MESHFORM_LOG_PATH`): structured lines for every Alibaba Cloud call
//! (target `meshform::acs`, the shared client) — action, outcome, request id, timing — and never a secret.

use crate::sandboxed::{example_main, Sandboxed};

#[test]
fn the_debug_log_shows_each_call_and_never_a_secret() {
    let sandbox = Sandboxed::runbook_with(&example_main());
    let log = sandbox.work.join("meshform.log");
    let log_path = log.to_string_lossy().into_owned();
    sandbox
        .work
        .run_with(
            &["apply", "--auto-approve"],
            &[("MESHFORM_LOG", "DEBUG"), ("MESHFORM_LOG_PATH", &log_path)],
        )
        .code(0);
    let text = std::fs::read_to_string(&log).expect("the log file is written");
    let calls: Vec<&str> = text.lines().filter(|l| l.contains("meshform::acs")).collect();
    assert!(
        calls.iter().any(|l| l.contains("action=\"CreateServiceMesh\"")
            || l.contains("action=CreateServiceMesh")),
        "{text}"
    );
    assert!(calls.iter().all(|l| l.contains("DEBUG") || l.contains("INFO")), "{text}");
    assert!(
        calls.iter().any(|l| l.contains("request_id=") && l.contains("duration_ms=")),
        "{text}"
    );
    // Neither the account's secret nor any private key reaches the log.
    let identity = std::fs::read_to_string(sandbox.work.join(".meshform/sandbox/identity.json"))
        .expect("the sandbox identity");
    let identity: serde_json::Value = serde_json::from_str(&identity).expect("identity json");
    let secret = identity["access_key_secret"].as_str().expect("a secret");
    assert!(!text.contains(secret), "the access key secret is in the log");
    assert!(!text.contains("PRIVATE KEY"), "a private key is in the log");
    // At trace, with every cluster refreshed, the clusters' bearer tokens stay out too.
    let trace = sandbox.work.join("trace.log");
    let trace_path = trace.to_string_lossy().into_owned();
    sandbox
        .work
        .run_with(&["plan"], &[("MESHFORM_LOG", "trace"), ("MESHFORM_LOG_PATH", &trace_path)])
        .code(0);
    let traced = std::fs::read_to_string(&trace).expect("the trace log is written");
    for cluster in ["cluster-1", "cluster-2"] {
        let kubeconfig = std::fs::read_to_string(sandbox.kubeconfig(cluster)).expect("kubeconfig");
        let token = kubeconfig
            .lines()
            .find_map(|l| l.trim().strip_prefix("token: "))
            .expect("a token in the kubeconfig");
        assert!(!traced.contains(token), "{cluster}'s token is in the trace log");
    }
    // A value that is not a level warns and logs everything, as Terraform does with TF_LOG.
    let plan = sandbox.work.run_with(&["plan"], &[("MESHFORM_LOG", "loud")]).code(0);
    assert!(plan.stderr.contains("MESHFORM_LOG=\"loud\" is not a level"), "{}", plan.stderr);
}
