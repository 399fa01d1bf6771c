//! The failover policy changes what users see when a cluster dies (issue 10's first drill), end
//! to end through `examples/multi-master` on the sandbox: cluster-1 down, 1,000 requests from
//! cluster-2's `sleep` to `helloworld`, first without the policy (`var.failover=false`), then with
//! it applied by meshform during the outage to both meshes' control planes. What each request
//! got comes from curl (`-w '%{http_code}'`); how the sidecar got it (retries, ejections) from
//! its Envoy counters (`curl localhost:15000/stats`), read before and after in the same exec.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::sandboxed::{example_main, Sandboxed};
use crate::support::Run;

/// The example's policy: an endpoint is ejected after this many consecutive errors.
const CONSECUTIVE_5XX_ERRORS: u64 = 3;
const REQUESTS: usize = 1000;

/// A check that sends the requests from cluster-2 and reads the sidecar's counters around them.
const DRILL_CHECK: &str = r#"
# The failover drill (crates/meshform-cli/tests/it/failover.rs).
check "thousand_requests" {
  enabled = var.drill

  data "kubernetes_exec" "drill" {
    provider   = kubernetes.cluster_2
    deployment = "sleep"
    command = ["sh", "-c", join("; ", [
      "curl -s localhost:15000/stats?filter=helloworld",
      "echo ---",
      "for i in $(seq 1 1000); do curl -s -o /dev/null -w '%%{http_code}\\n' helloworld:5000/hello; done",
      "echo ---",
      "curl -s localhost:15000/stats?filter=helloworld",
    ])]
  }

  assert {
    condition     = length(data.kubernetes_exec.drill.outputs) == 1
    error_message = "one run"
  }
}
"#;

/// What one drill run measured.
#[derive(Debug)]
struct Measured {
    /// Status code → requests.
    codes: BTreeMap<String, usize>,
    /// The sidecar's helloworld counters before and after the requests.
    before: BTreeMap<String, u64>,
    after: BTreeMap<String, u64>,
}

impl Measured {
    /// How much a counter grew during the 1,000 requests.
    fn grew(&self, stat: &str) -> u64 {
        self.after(stat) - self.before.get(stat).copied().unwrap_or(0)
    }

    fn after(&self, stat: &str) -> u64 {
        self.after.get(stat).copied().unwrap_or(0)
    }

    fn failed(&self) -> usize {
        self.codes.iter().filter(|(c, _)| c.as_str() != "200").map(|(_, n)| n).sum()
    }
}

fn counters(text: &str) -> BTreeMap<String, u64> {
    text.lines()
        .filter_map(|l| {
            let (name, value) = l.rsplit_once(": ")?;
            let stat = name.split_once(".svc.cluster.local.")?.1;
            Some((stat.to_owned(), value.trim().parse().ok()?))
        })
        .collect()
}

/// `meshform verify --json` with `vars` (exit 1: cluster-1's check is unreachable), and what the
/// drill check's one exec printed, taken apart.
fn drill(sandbox: &Sandboxed, vars: &[&str]) -> Measured {
    let mut args = vec!["verify", "--json"];
    for v in vars {
        args.extend(["--var", v]);
    }
    let run: Run = sandbox.run(&args);
    let report: Value = serde_json::from_str(&run.stdout).unwrap_or_else(|e| {
        panic!("verify --json prints JSON ({e})\n{}\n{}", run.stdout, run.stderr)
    });
    let check = report["checks"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["name"] == "thousand_requests"))
        .unwrap_or_else(|| panic!("no drill check in {report:#}"));
    let out = check["data"][0]["responses"][0]
        .as_str()
        .unwrap_or_else(|| panic!("the drill ran nothing: {check:#}"));
    let parts: Vec<&str> = out.split("---\n").collect();
    assert_eq!(parts.len(), 3, "stats, codes, stats: {out}");
    let mut codes = BTreeMap::new();
    for code in parts[1].lines() {
        *codes.entry(code.to_owned()).or_insert(0) += 1;
    }
    assert_eq!(codes.values().sum::<usize>(), REQUESTS, "{codes:?}");
    Measured { codes, before: counters(parts[0]), after: counters(parts[2]) }
}

#[test]
fn with_the_failover_policy_a_dead_cluster_costs_at_most_the_ejection_threshold() {
    let sandbox = Sandboxed::runbook_with(&format!("{}{DRILL_CHECK}", example_main()));
    sandbox
        .ok(&["apply", "--auto-approve", "--var", "drill=true", "--var", "failover=false"])
        .stdout_has("Apply complete!");
    sandbox.wait_ready(&[
        ("cluster-1", "default/helloworld-v1"),
        ("cluster-2", "default/helloworld-v2"),
        ("cluster-2", "default/sleep"),
    ]);
    // A drill starts from a working mesh: wait until cluster-2's mesh has discovered cluster-1's
    // endpoint (both versions answer cluster-2's check), so that the outage freezes a discovery that
    // includes it, as istiod's cache would.
    sandbox.run_until(
        &["verify", "--check", "from_cluster_2", "--var", "drill=true", "--var", "failover=false"],
        |r| r.status == Some(0),
    );
    sandbox.ok(&["sandbox", "outage", "--cluster", "cluster-1"]).stdout_has("is down");
    let down = "clusters_down=[\"cluster-1\"]";

    // Without the policy: Istio's default retry policy (connect-failure, another host) rescues
    // every request that round robin sends to cluster-1's dead endpoint — after a refused
    // connection and a back-off — and nothing ever stops sending them there.
    let without = drill(&sandbox, &["drill=true", "failover=false", down]);
    assert_eq!(without.failed(), 0, "{without:?}");
    assert!(without.grew("upstream_rq_retry") >= (REQUESTS - 1) as u64, "{without:?}");
    assert_eq!(without.grew("upstream_cx_connect_fail"), without.grew("upstream_rq_retry"));
    assert_eq!(without.grew("outlier_detection.ejections_enforced_total"), 0, "{without:?}");

    // The policy, applied during the outage to both meshes' control planes (cluster-1's
    // applications cannot be refreshed: the plan is incomplete, the rest is applied).
    sandbox
        .ok(&[
            "apply",
            "--auto-approve",
            "--allow-incomplete",
            "--var",
            "drill=true",
            "--var",
            "failover=true",
        ])
        .stdout_has("kubernetes_manifest.failover_mesh_1[0]")
        .stdout_has("kubernetes_manifest.failover_mesh_2[0]");
    let with = drill(&sandbox, &["drill=true", "failover=true", down]);
    // The bound the policy sets: cluster-1's endpoint is ejected after 3 consecutive errors
    // (maxEjectionPercent 100 lets 1 of the 2 hosts go) for baseEjectionTime (1m, doubled at
    // each ejection in a row). Each error is a refused connection, retried on v2, so no request
    // fails at all; and per ejection at most 3 requests are retried. The ejection may happen
    // during the verify's other check from cluster-2 (10 requests, before the drill's), so the
    // bound covers everything since the policy arrived: from the end of the run without it.
    let ejections = with.after("outlier_detection.ejections_enforced_total");
    let retried = with.after("upstream_rq_retry") - without.after("upstream_rq_retry");
    assert!(ejections >= 1, "{with:?}");
    assert_eq!(with.failed(), 0, "{with:?}");
    assert!(retried <= CONSECUTIVE_5XX_ERRORS * ejections, "{retried} retried: {with:?}");
    assert_eq!(with.grew("upstream_cx_connect_fail"), with.grew("upstream_rq_retry"));
    // Measured: without the policy 1000 of 1000 requests were retried; with it, 3 (one
    // ejection), all 1000 answered 200 both times.
    assert!(retried * 100 < without.grew("upstream_rq_retry"), "{retried} retried: {with:?}");
}
