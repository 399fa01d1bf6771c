//! Temporary credentials (ACK's `TemporaryDurationMinutes`): the API server accepts a token it
//! issued until it expires, then refuses it with 401 like any unknown credential.

use hyper::Method;
use meshform_sandbox::kube::issue_temporary_token;

use crate::support::TestCluster;

#[tokio::test]
async fn a_temporary_token_works_until_it_expires() {
    let c = TestCluster::start().await;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let bearer = |t: &str| format!("Bearer {t}");

    let valid = issue_temporary_token(c.server.token(), now + 900);
    let r = c
        .client
        .call(Method::GET, "/api/v1/namespaces", &[("authorization", &bearer(&valid))], None)
        .await;
    assert_eq!(r.status, 200, "{}", r.text());

    let expired = issue_temporary_token(c.server.token(), now - 1);
    let r = c
        .client
        .call(Method::GET, "/api/v1/namespaces", &[("authorization", &bearer(&expired))], None)
        .await;
    assert_eq!(r.status, 401, "an expired kubeconfig is refused: {}", r.text());
    assert_eq!(r.json()["reason"], "Unauthorized");

    // A token issued by another cluster is not this cluster's.
    let foreign = issue_temporary_token("another-cluster-token", now + 900);
    let r = c
        .client
        .call(Method::GET, "/api/v1/namespaces", &[("authorization", &bearer(&foreign))], None)
        .await;
    assert_eq!(r.status, 401);
}
