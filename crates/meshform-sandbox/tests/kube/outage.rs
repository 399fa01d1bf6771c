//! A cluster outage at the socket: the API server refuses connections (`ECONNREFUSED`, as from a
//! stopped kube-apiserver), open connections and watches end, and a restore serves the same
//! objects on the same address with the same credentials.

use std::time::Duration;

use serde_json::json;
use tokio::net::TcpStream;

use crate::support::{Client, Lines, TestCluster};

#[tokio::test]
async fn an_outage_refuses_connections_and_a_restore_serves_the_same_objects() {
    let c = TestCluster::start().await;
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "keep"}, "data": {"k": "v"}});
    let created = c.client.post("/api/v1/namespaces/default/configmaps", &cm).await.json();
    let watch = c
        .client
        .send(
            hyper::Method::GET,
            "/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=0",
            &[],
            None,
        )
        .await;
    let mut lines = Lines::new(watch.into_body());
    assert_eq!(lines.next(10).await.expect("the initial event")["type"], "ADDED");
    let availability = c.server.availability();
    let address = c.server.local_addr();

    availability.take_down().await.expect("the cluster goes down");
    assert!(availability.is_down());
    let refused = TcpStream::connect(address).await.expect_err("nothing listens");
    assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused, "{refused}");
    assert_eq!(lines.next(10).await, None, "the open watch ended with the outage");
    let again = availability.take_down().await.expect_err("already down");
    assert_eq!(again.to_string(), "cluster cluster-1 is already down");
    assert!(availability.is_down(), "a refused outage changes nothing");

    availability.bring_up().await.expect("the cluster comes back");
    assert!(!availability.is_down());
    assert_eq!(c.server.local_addr(), address);
    let client = Client::for_server(&c.server);
    let got = client.get("/api/v1/namespaces/default/configmaps/keep").await.json();
    assert_eq!(got["metadata"]["uid"], created["metadata"]["uid"], "the same object");
    assert_eq!(got["data"]["k"], "v");
    let not_down = availability.bring_up().await.expect_err("not down");
    assert_eq!(not_down.to_string(), "cluster cluster-1 is not down");

    // A second outage and restore of the same server work the same way.
    availability.take_down().await.expect("down again");
    let refused = TcpStream::connect(address).await.expect_err("refused again");
    assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);
    availability.bring_up().await.expect("up again");
    let listed = client.get("/api/v1/namespaces/default/configmaps").await.json();
    assert_eq!(listed["items"].as_array().map(Vec::len), Some(1));
    // Shutting down a server that is down releases its address.
    availability.take_down().await.expect("down for the shutdown");
    tokio::time::timeout(Duration::from_secs(30), c.server.shutdown())
        .await
        .expect("the shutdown finishes")
        .expect("state saved");
    let rebound = tokio::net::TcpListener::bind(address).await;
    assert!(rebound.is_ok(), "the address is free after the shutdown: {rebound:?}");
}
