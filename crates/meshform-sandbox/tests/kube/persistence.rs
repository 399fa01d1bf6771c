//! State across restarts: objects, the resourceVersion counter, the CA and the token survive;
//! a watch from before the restart is told to list again.

use hyper::Method;
use serde_json::json;

use crate::support::{fast, start_in, Client, Lines};

#[tokio::test]
async fn a_restarted_server_keeps_objects_credentials_and_counts_on() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_in(dir.path(), fast()).await;
    let client = Client::for_server(&server);
    let (ca, token) = (server.ca_pem().to_string(), server.token().to_string());
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "keep"}, "data": {"k": "v"}});
    let created = client.post("/api/v1/namespaces/default/configmaps", &cm).await.json();
    let gw = json!({"apiVersion": "networking.istio.io/v1", "kind": "Gateway", "metadata": {"name": "gw"},
        "spec": {"selector": {"istio": "eastwestgateway"}}});
    assert_eq!(
        client
            .apply(
                "/apis/networking.istio.io/v1/namespaces/default/gateways/gw",
                "meshform",
                false,
                &gw
            )
            .await
            .status,
        201
    );
    let widget = json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"size": 1}});
    assert_eq!(
        client.post("/apis/example.com/v1/namespaces/default/widgets", &widget).await.status,
        201
    );
    let rv_before: u64 = client.get("/api/v1/namespaces").await.json()["metadata"]
        ["resourceVersion"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    server.shutdown().await.unwrap();

    let server = start_in(dir.path(), fast()).await;
    assert_eq!(server.ca_pem(), ca, "the CA is kept");
    assert_eq!(server.token(), token, "the token is kept");
    let client = Client::for_server(&server);
    let got = client.get("/api/v1/namespaces/default/configmaps/keep").await.json();
    assert_eq!(got["metadata"]["uid"], created["metadata"]["uid"]);
    assert_eq!(got["data"]["k"], "v");
    assert_eq!(
        client.get("/apis/networking.istio.io/v1/namespaces/default/gateways/gw").await.status,
        200
    );
    assert_eq!(
        client.get("/apis/example.com/v1/namespaces/default/widgets/w").await.status,
        200,
        "learnt kinds are kept"
    );
    let next = client
        .post(
            "/api/v1/namespaces/default/configmaps",
            &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "new"}}),
        )
        .await
        .json();
    let rv_after: u64 = next["metadata"]["resourceVersion"].as_str().unwrap().parse().unwrap();
    assert!(rv_after > rv_before, "resourceVersions continue: {rv_after} > {rv_before}");

    // A watch from a version before the restart gets 410 Expired, as after etcd compaction.
    let resp = client
        .send(
            Method::GET,
            "/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=1",
            &[],
            None,
        )
        .await;
    let mut lines = Lines::new(resp.into_body());
    let e = lines.next(5).await.expect("an event");
    assert_eq!(e["type"], "ERROR");
    assert_eq!(e["object"]["code"], 410);
    server.shutdown().await.unwrap();
}
