//! `DescribeClusterDetail`, `DescribeClustersV1` and `DescribeClusterUserKubeconfig` against a
//! started sandbox: what a caller reads, and the ROA errors for a wrong id, a wrong region and a
//! wrong signature.

use meshform_sandbox::kube::{check_temporary_token, TemporaryToken};
use serde_json::Value;

use super::roa::{sandbox, sandbox_with, Signer};
use crate::asm::client::send;

fn code(body: &Value) -> &str {
    body["code"].as_str().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clusters_are_described_as_ack_describes_them() {
    let s = sandbox().await;
    let api = s.signer();
    let ids = s.sandbox.identity.clusters.clone();
    let described = s.sandbox.description().clusters.clone();

    let r = api.get("DescribeClusterDetail", &format!("/clusters/{}", ids[0].id), &[]).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let c = &r.body;
    assert_eq!(c["cluster_id"], ids[0].id.as_str());
    assert_eq!(c["name"], "cluster-1");
    assert_eq!(c["region_id"], ids[0].region.as_str());
    assert_eq!(c["zone_id"], format!("{}-h", ids[0].region));
    assert_eq!(c["vpc_id"], ids[0].vpc_id.as_str());
    assert_eq!(c["vswitch_ids"], serde_json::json!([ids[0].vswitch_id]));
    assert_eq!(c["state"], "running");
    assert!(c["current_version"].as_str().unwrap().ends_with("-aliyun.1"));
    // master_url is a JSON document inside a string.
    let master: Value = serde_json::from_str(c["master_url"].as_str().unwrap()).unwrap();
    assert_eq!(master["api_server_endpoint"].as_str(), described[0].api_server.as_deref());
    assert!(master["intranet_api_server_endpoint"]
        .as_str()
        .unwrap()
        .starts_with("https://localhost:"));
    assert!(r.header("x-acs-request-id").is_some());

    let r =
        api.get("DescribeClustersV1", "/api/v1/clusters", &[("region_id", &ids[1].region)]).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let names: Vec<&str> = r.body["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["cluster-2"]);
    assert_eq!(r.body["page_info"]["total_count"], 1);
    let r = api
        .get(
            "DescribeClustersV1",
            "/api/v1/clusters",
            &[("name", "cluster"), ("page_size", "1"), ("page_number", "2")],
        )
        .await;
    assert_eq!(r.body["page_info"]["total_count"], 2, "name is a fuzzy filter");
    assert_eq!(r.body["clusters"][0]["name"], "cluster-2", "the second page of one");
    let r = api.get("DescribeClustersV1", "/api/v1/clusters", &[("page_size", "1000")]).await;
    assert_eq!((r.status, code(&r.body)), (400, "ErrorParamInvalid"));
    s.shutdown().await;
}

/// The names of the clusters a `DescribeClustersV1` answer lists.
fn listed(body: &Value) -> Vec<String> {
    body["clusters"]
        .as_array()
        .unwrap_or_else(|| panic!("no clusters in {body}"))
        .iter()
        .map(|c| c["name"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// `--clusters 3`: three clusters in three regions, each listed and described by CS, each with an
/// API server that answers its kubeconfig's credentials over TLS; the default stays two.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sandbox_of_three_clusters_lists_describes_and_serves_each() {
    let s = sandbox_with(Some(3)).await;
    let api = s.signer();
    let described = s.sandbox.description().clusters.clone();
    let names: Vec<&str> = described.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["cluster-1", "cluster-2", "cluster-3"]);
    let regions: Vec<&str> = described.iter().map(|c| c.region.as_str()).collect();
    assert_eq!(regions, ["cn-hangzhou", "cn-shanghai", "cn-beijing"]);

    let r = api.get("DescribeClustersV1", "/api/v1/clusters", &[("page_size", "100")]).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(listed(&r.body), ["cluster-1", "cluster-2", "cluster-3"]);
    let r = api.get("DescribeClustersV1", "/api/v1/clusters", &[("region_id", "cn-beijing")]).await;
    assert_eq!(listed(&r.body), ["cluster-3"]);
    let third = &described[2];
    let r = api.get("DescribeClusterDetail", &format!("/clusters/{}", third.id), &[]).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        (r.body["name"].as_str(), r.body["vpc_id"].as_str()),
        (Some("cluster-3"), Some(third.vpc_id.as_str()))
    );

    for server in &s.sandbox.clusters {
        let ca = reqwest::Certificate::from_pem(server.ca_pem().as_bytes()).expect("the CA");
        let client = reqwest::Client::builder().add_root_certificate(ca).build().expect("a client");
        let url = format!("{}/api/v1/namespaces/default", server.url());
        let r = client.get(&url).bearer_auth(server.token()).send().await.expect("reachable");
        assert_eq!(r.status(), 200, "{}: {url}", server.name());
        let body: Value = serde_json::from_str(&r.text().await.expect("a body")).expect("JSON");
        assert_eq!(body["metadata"]["name"], "default", "{}", server.name());
    }
    s.shutdown().await;

    let default = sandbox().await;
    assert_eq!(default.sandbox.description().clusters.len(), 2, "two unless told otherwise");
    default.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_id_region_and_signature_get_roa_errors() {
    let s = sandbox().await;
    let api = s.signer();
    let c1 = s.sandbox.identity.clusters[0].clone();

    let r =
        api.get("DescribeClusterDetail", "/clusters/c0000000000000000000000000000000", &[]).await;
    assert_eq!((r.status, code(&r.body)), (404, "ErrorClusterNotFound"), "{:?}", r.body);
    assert_eq!(r.body["requestId"].as_str(), r.header("x-acs-request-id"));
    let r = api.get("DescribeClusterUserKubeconfig", "/k8s/c-nope/user_config", &[]).await;
    assert_eq!((r.status, code(&r.body)), (404, "ErrorClusterNotFound"));

    // A regional host name sees only its region: cluster-1 is not in cn-shanghai.
    let other = s.sandbox.identity.clusters[1].region.clone();
    let regional = format!("cs.{other}.aliyuncs.com");
    let req = api.request("DescribeClusterDetail", &format!("/clusters/{}", c1.id), &[], &regional);
    let r = send(&api.host, &req).await;
    assert_eq!((r.status, code(&r.body)), (404, "ErrorClusterNotFound"), "{:?}", r.body);
    let home = format!("cs.{}.aliyuncs.com", c1.region);
    let req = api.request("DescribeClusterDetail", &format!("/clusters/{}", c1.id), &[], &home);
    assert_eq!(send(&api.host, &req).await.status, 200);

    let wrong = Signer { secret: "not-the-secret".into(), ..s.signer() };
    let r = wrong.get("DescribeClusterDetail", &format!("/clusters/{}", c1.id), &[]).await;
    assert_eq!((r.status, code(&r.body)), (400, "SignatureDoesNotMatch"), "{:?}", r.body);
    let unknown = Signer { key_id: "LTAI5tNobody".into(), ..s.signer() };
    let r = unknown.get("DescribeClusterDetail", &format!("/clusters/{}", c1.id), &[]).await;
    assert_eq!((r.status, code(&r.body)), (404, "InvalidAccessKeyId.NotFound"));
    // The path is signed: a signature for one cluster does not open another.
    let mut req =
        api.request("DescribeClusterDetail", &format!("/clusters/{}", c1.id), &[], &api.host);
    req.target = format!("/clusters/{}", s.sandbox.identity.clusters[1].id);
    assert_eq!(code(&send(&api.host, &req).await.body), "SignatureDoesNotMatch");
    let r = api.get("DeleteCluster", "/clusters/x/delete", &[]).await;
    assert_eq!((r.status, code(&r.body)), (404, "InvalidAction.NotFound"));
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_kubeconfigs_follow_private_ip_and_temporary_duration() {
    let s = sandbox().await;
    let api = s.signer();
    let id = s.sandbox.identity.clusters[0].id.clone();
    let server = &s.sandbox.clusters[0];
    let path = format!("/k8s/{id}/user_config");
    let token_of = |config: &str| {
        config.lines().find_map(|l| l.trim().strip_prefix("token: ")).unwrap().to_owned()
    };
    let now = time::OffsetDateTime::now_utc().unix_timestamp();

    let r = api.get("DescribeClusterUserKubeconfig", &path, &[]).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let config = r.body["config"].as_str().unwrap();
    assert!(config.contains(&format!("server: {}", server.url())), "{config}");
    assert_eq!(token_of(config), server.token(), "a long-lived kubeconfig");
    let expiration = r.body["expiration"].as_str().unwrap();
    assert!(
        expiration.ends_with('Z') && expiration[..4].parse::<i32>().unwrap() >= 2028,
        "{expiration}"
    );

    let r = api.get("DescribeClusterUserKubeconfig", &path, &[("PrivateIpAddress", "True")]).await;
    let config = r.body["config"].as_str().unwrap();
    assert!(
        config.contains(&format!("server: https://localhost:{}", server.local_addr().port())),
        "{config}"
    );

    let r = api
        .get("DescribeClusterUserKubeconfig", &path, &[("TemporaryDurationMinutes", "15")])
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let token = token_of(r.body["config"].as_str().unwrap());
    assert_ne!(token, server.token());
    assert_eq!(check_temporary_token(server.token(), &token, now), TemporaryToken::Valid);
    assert!(matches!(
        check_temporary_token(server.token(), &token, now + 15 * 60 + 5),
        TemporaryToken::Expired(_)
    ));
    let expires = time::OffsetDateTime::parse(
        r.body["expiration"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert!((expires.unix_timestamp() - (now + 900)).abs() < 60, "expires in 15 minutes");

    for bad in ["5", "4321", "soon"] {
        let r = api
            .get("DescribeClusterUserKubeconfig", &path, &[("TemporaryDurationMinutes", bad)])
            .await;
        assert_eq!((r.status, code(&r.body)), (400, "ErrorParamInvalid"), "{bad}");
        assert!(r.body["message"].as_str().unwrap().contains("TemporaryDurationMinutes"));
    }
    s.shutdown().await;
}
