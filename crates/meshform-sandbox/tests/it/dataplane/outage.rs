//! Whole-cluster and whole-region outages: what requests from the surviving cluster see (the down
//! cluster's endpoints refuse connections; Istio's default retries move such a request to another
//! host — `failover` has the details), what API clients see (refused connections,
//! `ServiceUnavailable` from ASM), what `/status` says, what restore brings back, and how bad
//! requests are refused without changing anything.

use std::collections::BTreeSet;

use meshform_sandbox::admin::outage::{OutageError, OutageTarget};
use tokio::net::TcpStream;

use super::support::Drill;

/// What `curl -s helloworld:5000/hello` printed over `n` requests from cluster-2, reduced to the
/// version that answered or the error.
async fn answers(drill: &Drill, n: usize) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    for _ in 0..n {
        let out = drill.curl(&["-s", "helloworld:5000/hello"]).await;
        assert_eq!(out.code, 0, "no --fail: curl succeeds whatever the status: {out:?}");
        let shown = match out.stdout.strip_prefix("Hello version: ") {
            Some(rest) => rest.split(',').next().unwrap_or_default().to_owned(),
            None => out.stdout,
        };
        seen.insert(shown);
    }
    seen
}

fn api_address(drill: &Drill, cluster: usize) -> std::net::SocketAddr {
    drill.sandbox.clusters[cluster].local_addr()
}

#[tokio::test]
async fn a_request_to_an_endpoint_in_a_down_cluster_is_retried_on_the_surviving_one() {
    let drill = Drill::start().await;
    let both: BTreeSet<String> = ["v1".to_owned(), "v2".to_owned()].into();
    assert_eq!(answers(&drill, 4).await, both, "before the outage both versions answer");
    let address = api_address(&drill, 0);

    let said = drill.outages().outage(&OutageTarget::Cluster("cluster-1".into())).await;
    assert!(said.as_deref().is_ok_and(|s| s.starts_with("cluster cluster-1 is down")), "{said:?}");
    let refused = TcpStream::connect(address).await.expect_err("cluster-1's API server is down");
    assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);
    // The mesh keeps cluster-1's endpoints as last seen: round robin still picks them, the
    // connection is refused, and Istio's default retry (connect-failure, another host) gets the
    // answer from cluster-2's own endpoint.
    let retried = drill.stat("helloworld", "upstream_rq_retry").await;
    let during = answers(&drill, 4).await;
    assert_eq!(during, ["v2".to_owned()].into());
    assert!(drill.stat("helloworld", "upstream_rq_retry").await >= retried + 3);
    let code =
        drill.curl(&["-s", "-o", "/dev/null", "-w", "%{http_code}", "helloworld:5000/hello"]);
    let code = code.await;
    let code2 =
        drill.curl(&["-s", "-o", "/dev/null", "-w", "%{http_code}", "helloworld:5000/hello"]);
    let codes: BTreeSet<String> = [code.stdout, code2.await.stdout].into();
    assert_eq!(codes, ["200".to_owned()].into());
    let status = drill.status().await;
    assert_eq!(status["outages"]["clusters"], serde_json::json!(["cluster-1"]), "{status:#}");
    assert_eq!(status["clusters"][0]["down"], true);
    assert_eq!(status["clusters"][1]["down"], false);
    assert!(
        status["clusters"][0]["workloads"].as_array().is_some_and(|w| !w.is_empty()),
        "a down cluster keeps its objects: {status:#}"
    );

    let back = drill.outages().restore(Some(&OutageTarget::Cluster("cluster-1".into()))).await;
    assert!(back.is_ok(), "{back:?}");
    assert_eq!(api_address(&drill, 0), address);
    TcpStream::connect(address).await.expect("cluster-1's API server serves again");
    assert_eq!(answers(&drill, 4).await, both, "after the restore both versions answer");
    assert!(drill.outages().down().is_empty());
}

#[tokio::test]
async fn a_region_outage_takes_its_control_plane_and_its_cluster() {
    let drill = Drill::start().await;
    let said = drill.outages().outage(&OutageTarget::Region("cn-hangzhou".into())).await;
    assert_eq!(
        said.as_deref().ok(),
        Some("region cn-hangzhou is down: its ASM control planes (meshes: mesh-1) and its clusters (cluster-1)")
    );
    let asm = drill.asm.call("DescribeServiceMeshDetail", &[("ServiceMeshId", &drill.mesh)]).await;
    assert_eq!((asm.status, asm.code()), (503, "ServiceUnavailable"));
    let refused = TcpStream::connect(api_address(&drill, 0)).await.expect_err("cluster-1 is down");
    assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);
    TcpStream::connect(api_address(&drill, 1)).await.expect("cluster-2 is in another region");
    // The proxies keep their last configuration: cluster-2 is still served (cluster-1's
    // endpoints are still pushed, and retried away from).
    assert_eq!(answers(&drill, 4).await, ["v2".to_owned()].into());
    assert!(drill.stat("helloworld", "upstream_cx_connect_fail").await >= 3);
    let down = drill.outages().down();
    assert_eq!(
        (down.regions, down.clusters),
        (vec!["cn-hangzhou".to_owned()], vec!["cluster-1".to_owned()])
    );

    let back = drill.outages().restore(Some(&OutageTarget::Region("cn-hangzhou".into()))).await;
    assert_eq!(back.as_deref().ok(), Some("region cn-hangzhou restored"));
    assert_eq!(
        drill.asm.call("DescribeServiceMeshDetail", &[("ServiceMeshId", &drill.mesh)]).await.status,
        200
    );
    TcpStream::connect(api_address(&drill, 0)).await.expect("cluster-1 is back");
    assert!(drill.outages().down().is_empty());
}

#[tokio::test]
async fn bad_requests_are_refused_with_what_to_do_and_change_nothing() {
    let drill = Drill::start().await;
    let o = drill.outages();
    let unknown = o.outage(&OutageTarget::Cluster("cluster-9".into())).await.expect_err("unknown");
    assert!(matches!(unknown, OutageError::UnknownCluster { .. }));
    assert_eq!(unknown.to_string(), "no cluster named cluster-9");
    assert_eq!(unknown.help(), "the sandbox's clusters (by name or id) are cluster-1, cluster-2");
    let region = o.outage(&OutageTarget::Region("eu-west-1".into())).await.expect_err("unknown");
    assert_eq!(region.help(), "the sandbox's regions are cn-hangzhou, cn-shanghai");
    let nothing = o.restore(None).await.expect_err("nothing is down");
    assert!(matches!(nothing, OutageError::NothingDown), "{nothing}");
    let up = o.restore(Some(&OutageTarget::Cluster("cluster-2".into()))).await.expect_err("up");
    assert_eq!(up.to_string(), "cluster cluster-2 is not down");
    assert!(o.down().is_empty(), "refusals changed nothing");

    // The cluster given by id works as by name; a second outage of it is refused.
    let id = drill.sandbox.identity.clusters[0].id.clone();
    o.outage(&OutageTarget::Cluster(id)).await.expect("down by id");
    let again = o.outage(&OutageTarget::Cluster("cluster-1".into())).await.expect_err("down");
    assert_eq!(again.to_string(), "cluster cluster-1 is already down");
    assert_eq!(again.help(), "end the outage with `meshform sandbox restore --cluster cluster-1`");
    // A region outage over it completes the region; then the mesh is down with its region.
    o.outage(&OutageTarget::Region("cn-hangzhou".into())).await.expect("the rest of the region");
    let region_again = o.outage(&OutageTarget::Region("cn-hangzhou".into())).await;
    assert!(matches!(region_again, Err(OutageError::AlreadyDown { .. })), "{region_again:?}");
    let mesh = o.outage(&OutageTarget::Mesh("mesh-1".into())).await.expect_err("down with region");
    assert_eq!(mesh.help(), "end the outage with `meshform sandbox restore --region cn-hangzhou`");
    let mesh_restore =
        o.restore(Some(&OutageTarget::Mesh("mesh-1".into()))).await.expect_err("region's");
    assert!(
        mesh_restore.help().contains("restore --region cn-hangzhou"),
        "{}",
        mesh_restore.help()
    );
    let before = o.down();

    // Over HTTP: the status code and `{"error", "help"}`.
    let (code, body) = drill.admin("POST", "/outage", r#"{"cluster": "nope"}"#).await;
    assert_eq!(code, 404);
    let body: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(body["error"], "no cluster named nope");
    assert!(body["help"].as_str().is_some_and(|h| h.contains("cluster-1, cluster-2")));
    let (code, _) = drill.admin("POST", "/outage", r#"{"cluster": "cluster-1"}"#).await;
    assert_eq!(code, 409);
    let (code, _) = drill.admin("POST", "/outage", r#"{"cluster": "a", "mesh": "b"}"#).await;
    assert_eq!(code, 400);
    assert_eq!(o.down(), before, "refusals changed nothing");

    let (code, body) = drill.admin("POST", "/restore", "").await;
    assert_eq!(
        (code, body.as_str()),
        (200, "every outage ended (region cn-hangzhou, cluster cluster-1)")
    );
    let (code, body) = drill.admin("POST", "/restore", "").await;
    assert_eq!(code, 409, "{body}");
    assert!(body.contains("nothing is down"));
}
