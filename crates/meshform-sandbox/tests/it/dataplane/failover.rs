//! The data plane follows Istio when endpoints fail (reference §1–5): endpoints stay as last
//! discovered while their source is unreachable, Istio's default retries, outlier detection and
//! its ejection cap, locality priorities. Requests go from cluster-2's `sleep` to `helloworld`
//! (v1 in cluster-1, v2 in cluster-2); outcomes are read from curl and the sidecar's `/stats`.
//! Outlier detection runs on the data plane's clock, which these tests pause and advance.

use std::collections::BTreeMap;
use std::time::Duration;

use meshform_sandbox::admin::outage::OutageTarget;
use meshform_sandbox::kube::Gvk;

use super::support::Drill;

const RETRIED_REFUSED: &str = "upstream connect error or disconnect/reset before headers. retried and the latest reset reason: remote connection failure, transport failure reason: delayed connect error: Connection refused";

/// A DestinationRule for helloworld with this `trafficPolicy` (YAML, indented by four).
fn destination_rule(traffic_policy: &str) -> String {
    format!(
        "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata:\n  name: helloworld\n  namespace: default\nspec:\n  host: helloworld\n  trafficPolicy:\n{traffic_policy}"
    )
}

fn only(entries: &[(&str, usize)]) -> BTreeMap<String, usize> {
    entries.iter().map(|(k, n)| ((*k).to_owned(), *n)).collect()
}

async fn cluster_1_down(drill: &Drill) {
    let said = drill.outages().outage(&OutageTarget::Cluster("cluster-1".into())).await;
    assert!(said.is_ok(), "{said:?}");
}

#[tokio::test]
async fn endpoints_stay_as_last_discovered_while_their_cluster_or_the_control_plane_is_down() {
    let drill = Drill::start().await;
    drill.scale(1, "helloworld-v2", 0).await;
    cluster_1_down(&drill).await;
    // Only cluster-1's endpoint is left, and it refuses: three attempts on it, Envoy's reply.
    assert_eq!(drill.hello(2).await, only(&[(&format!("503 {RETRIED_REFUSED}"), 2)]));
    // What changes in the down cluster's store is not seen: its API server does not answer.
    let c1 = drill.sandbox.clusters[0].handle();
    c1.delete(&Gvk::new("", "v1", "Service"), Some("default"), "helloworld").expect("deleted");
    assert_eq!(drill.hello(1).await, only(&[(&format!("503 {RETRIED_REFUSED}"), 1)]));
    assert_eq!(drill.stat("helloworld", "upstream_rq_retry_limit_exceeded").await, 3);
    // Once it answers again, the mesh reads it: no endpoint left anywhere.
    drill.outages().restore(None).await.expect("restored");
    assert_eq!(drill.hello(1).await, only(&[("503 no healthy upstream", 1)]));

    // The control plane down: its proxies keep their last configuration, policy included.
    drill.scale(1, "helloworld-v2", 1).await;
    drill.outages().outage(&OutageTarget::Mesh("mesh-1".into())).await.expect("mesh-1 down");
    drill.apply_to_mesh(&destination_rule("    outlierDetection: {}\n"));
    drill.scale(1, "helloworld-v2", 2).await;
    assert_eq!(instances(&drill, 4).await.len(), 1, "the second v2 pod is not pushed");
    let stats = drill.stats("helloworld").await;
    assert!(!stats.contains_key("outlier_detection.ejections_active"), "no policy yet: {stats:?}");
    drill.outages().restore(None).await.expect("restored");
    drill.sandbox.dataplane.push();
    // Now pushed: both v2 pods, and the DestinationRule's outlier detection.
    assert_eq!(instances(&drill, 4).await.len(), 2);
    let stats = drill.stats("helloworld").await;
    assert_eq!(stats.get("outlier_detection.ejections_active"), Some(&0), "{stats:?}");
}

/// The helloworld pods that answered `n` requests from cluster-2.
async fn instances(drill: &Drill, n: usize) -> std::collections::BTreeSet<String> {
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..n {
        let out = drill.curl(&["-s", "helloworld:5000/hello"]).await;
        let instance = out.stdout.split("instance: ").nth(1).map(|i| i.trim().to_owned());
        seen.insert(instance.unwrap_or_else(|| panic!("no instance in {out:?}")));
    }
    seen
}

#[tokio::test]
async fn default_retries_move_a_refused_request_to_another_host() {
    let drill = Drill::start().await;
    cluster_1_down(&drill).await;
    let before = drill.stats("helloworld").await;
    assert_eq!(drill.hello(10).await, only(&[("200 v2", 10)]));
    let after = drill.stats("helloworld").await;
    let delta = |k: &str| after.get(k).unwrap_or(&0) - before.get(k).unwrap_or(&0);
    // Round robin advances with every pick, retries included: after the first request, every
    // request's first attempt lands on cluster-1's endpoint.
    assert!(delta("upstream_rq_retry") >= 9, "{after:?}");
    assert_eq!(delta("upstream_rq_retry"), delta("upstream_cx_connect_fail"));
    assert_eq!(delta("upstream_rq_retry_success"), delta("upstream_rq_retry"));
    assert_eq!(after.get("outlier_detection.ejections_active"), None, "no outlier detection");
}

#[tokio::test]
async fn outlier_detection_ejects_after_consecutive_errors_and_brings_the_host_back() {
    let drill = Drill::start().await;
    drill.sandbox.dataplane.clock().pause();
    drill.apply_to_mesh(&destination_rule(
        "    outlierDetection:\n      consecutive5xxErrors: 2\n      interval: 1s\n      baseEjectionTime: 30s\n      maxEjectionPercent: 100\n    loadBalancer:\n      localityLbSetting:\n        enabled: false\n",
    ));
    assert_eq!(drill.hello(4).await, only(&[("200 v1", 2), ("200 v2", 2)]), "round robin");
    cluster_1_down(&drill).await;
    assert_eq!(drill.hello(20).await, only(&[("200 v2", 20)]));
    // Two connect failures (each retried), then the endpoint is ejected: no more attempts on it.
    assert_eq!(drill.stat("helloworld", "upstream_rq_retry").await, 2);
    assert_eq!(drill.stat("helloworld", "outlier_detection.ejections_active").await, 1);
    drill.sandbox.dataplane.clock().advance(Duration::from_secs(29));
    assert_eq!(drill.hello(5).await, only(&[("200 v2", 5)]));
    assert_eq!(drill.stat("helloworld", "upstream_rq_retry").await, 2, "still ejected");
    // At the sweep 30 s after its ejection it is back, fails twice more, and is ejected again.
    drill.sandbox.dataplane.clock().advance(Duration::from_secs(1));
    assert_eq!(drill.hello(10).await, only(&[("200 v2", 10)]));
    assert_eq!(drill.stat("helloworld", "upstream_rq_retry").await, 4);
    assert_eq!(drill.stat("helloworld", "outlier_detection.ejections_enforced_total").await, 2);
    // The second ejection in a row lasts twice as long: still out 31 s later.
    drill.sandbox.dataplane.clock().advance(Duration::from_secs(31));
    drill.hello(5).await;
    assert_eq!(drill.stat("helloworld", "upstream_rq_retry").await, 4);
}

#[tokio::test]
async fn the_default_ejection_cap_ejects_nothing_below_ten_hosts() {
    let drill = Drill::start().await;
    drill.apply_to_mesh(&destination_rule(
        "    outlierDetection:\n      consecutive5xxErrors: 1\n    loadBalancer:\n      localityLbSetting:\n        enabled: false\n",
    ));
    cluster_1_down(&drill).await;
    assert_eq!(drill.hello(6).await, only(&[("200 v2", 6)]));
    // maxEjectionPercent 10: one host of two is 50% — every detection overflows, every request
    // that lands on cluster-1 is retried.
    let stats = drill.stats("helloworld").await;
    assert_eq!(stats.get("outlier_detection.ejections_active"), Some(&0), "{stats:?}");
    assert!(stats.get("outlier_detection.ejections_overflow").is_some_and(|n| *n >= 5));
    assert!(stats.get("upstream_rq_retry").is_some_and(|n| *n >= 5), "{stats:?}");
    // Ten hosts: one of them is 10%, which the cap allows.
    drill.scale(1, "helloworld-v2", 9).await;
    assert_eq!(drill.hello(12).await, only(&[("200 v2", 12)]));
    let retried = drill.stat("helloworld", "upstream_rq_retry").await;
    assert_eq!(drill.stat("helloworld", "outlier_detection.ejections_active").await, 1);
    assert_eq!(drill.hello(20).await, only(&[("200 v2", 20)]));
    assert_eq!(drill.stat("helloworld", "upstream_rq_retry").await, retried, "no more retries");
}

#[tokio::test]
async fn locality_priorities_keep_traffic_local_and_fail_over() {
    let drill = Drill::start().await;
    drill.sandbox.dataplane.clock().pause();
    // Outlier detection switches on the mesh's default locality failover (enabled: true).
    drill.apply_to_mesh(&destination_rule(
        "    outlierDetection:\n      consecutive5xxErrors: 1\n      maxEjectionPercent: 100\n",
    ));
    assert_eq!(drill.hello(6).await, only(&[("200 v2", 6)]), "cluster-2 (cn-shanghai) is local");
    // With `distribute`, traffic goes where it says, outlier detection or not.
    drill.apply_to_mesh(&destination_rule(
        "    loadBalancer:\n      localityLbSetting:\n        distribute:\n        - from: cn-shanghai/*\n          to:\n            \"cn-hangzhou/*\": 100\n",
    ));
    assert_eq!(drill.hello(4).await, only(&[("200 v1", 4)]));
    // failoverPriority: endpoints labelled version=v1 first.
    drill.apply_to_mesh(&destination_rule(
        "    outlierDetection:\n      consecutive5xxErrors: 1\n      maxEjectionPercent: 100\n    loadBalancer:\n      localityLbSetting:\n        failoverPriority: [version=v1]\n",
    ));
    assert_eq!(drill.hello(4).await, only(&[("200 v1", 4)]));
    // It fails: the first refused attempt ejects it, the retry goes to the next priority.
    cluster_1_down(&drill).await;
    assert_eq!(drill.hello(6).await, only(&[("200 v2", 6)]));
    assert_eq!(drill.stat("helloworld", "outlier_detection.ejections_active").await, 1);
    drill.outages().restore(None).await.expect("restored");
    drill.sandbox.dataplane.clock().advance(Duration::from_secs(31));
    assert_eq!(drill.hello(4).await, only(&[("200 v1", 4)]), "back once its ejection ends");
}
