//! Tests of [`AcsClient`] against a scripted HTTP server on loopback that checks each request's
//! ACS3 signature the way a server does (from the request as received).

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;
use crate::credentials::Credentials;

/// What the server received: method, path, query, headers (lower-case), body.
#[derive(Clone, Debug)]
struct Received {
    method: String,
    path: String,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    body: String,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// Whether the signature is right for `secret`, recomputed from what was received.
    fn signed_by(&self, secret: &str) -> bool {
        let auth = crate::parse_authorization_v3(self.header("authorization").unwrap()).unwrap();
        let signed: Vec<String> = auth.signed_headers.clone();
        let (canonical, _) = crate::canonical_request(
            &self.method,
            &self.path,
            &self.query,
            &self.headers,
            &signed,
            &crate::sha256_hex(self.body.as_bytes()),
        );
        crate::sign_v3(secret, &crate::string_to_sign_v3(&canonical)) == auth.signature
    }
}

/// A server answering the scripted `(status, extra header, body)` replies in turn (the last one
/// repeated), recording every request.
async fn server(
    replies: Vec<(u16, &'static str, &'static str)>,
) -> (String, Arc<Mutex<Vec<Received>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let seen: Arc<Mutex<Vec<Received>>> = Arc::default();
    let log = Arc::clone(&seen);
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut got = Vec::new();
            let mut buf = vec![0u8; 65536];
            let (head, body) = loop {
                let Ok(n) = socket.read(&mut buf).await else {
                    break (String::new(), String::new());
                };
                if n == 0 {
                    break (String::new(), String::new());
                }
                got.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&got).into_owned();
                if let Some(end) = text.find("\r\n\r\n") {
                    let length = text[..end]
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().to_owned())
                        })
                        .and_then(|v| v.parse::<usize>().ok())
                        .unwrap_or(0);
                    if got.len() >= end + 4 + length {
                        break (text[..end].to_owned(), text[end + 4..].to_owned());
                    }
                }
            };
            let mut lines = head.lines();
            let request_line: Vec<&str> = lines.next().unwrap_or_default().split(' ').collect();
            let target = request_line.get(1).copied().unwrap_or("/");
            let (path, query) = target.split_once('?').unwrap_or((target, ""));
            let headers = lines
                .filter_map(|l| l.split_once(':'))
                .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
                .collect();
            let n = {
                let mut log = log.lock().unwrap();
                log.push(Received {
                    method: request_line.first().copied().unwrap_or_default().to_owned(),
                    path: path.to_owned(),
                    query: crate::parse_form(query),
                    headers,
                    body,
                });
                log.len()
            };
            let (status, extra, body) = replies[(n - 1).min(replies.len() - 1)];
            let extra = if extra.is_empty() { String::new() } else { format!("{extra}\r\n") };
            let reply = format!(
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\n{extra}content-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = socket.write_all(reply.as_bytes()).await;
        }
    });
    (endpoint, seen)
}

fn client(endpoint: &str, token: Option<&str>) -> AcsClient {
    let creds =
        Credentials::access_key("LTAI-test", "the-secret", token.map(str::to_owned), "test");
    let policy = RetryPolicy { base: Duration::from_millis(2), ..RetryPolicy::default() };
    AcsClient::new(endpoint, "2015-12-15", CredentialProvider::fixed(creds))
        .unwrap()
        .with_policy(policy.with_max_retries(3))
}

#[tokio::test]
async fn a_roa_call_signs_its_path_and_query_and_returns_the_json_answer() {
    let (endpoint, seen) =
        server(vec![(200, "", r#"{"cluster_id":"c-1","requestId":"r-1"}"#)]).await;
    let c = client(&endpoint, Some("sts-token"));
    let query =
        [("PrivateIpAddress".to_owned(), "true".to_owned()), ("a b".to_owned(), "x*y~".to_owned())];
    let v = c
        .roa(Method::GET, "DescribeClusterUserKubeconfig", "/k8s/c-1/user_config", &query)
        .await
        .unwrap();
    assert_eq!(v["cluster_id"], "c-1");
    let got = seen.lock().unwrap()[0].clone();
    assert_eq!((got.method.as_str(), got.path.as_str()), ("GET", "/k8s/c-1/user_config"));
    assert_eq!(got.header("x-acs-action"), Some("DescribeClusterUserKubeconfig"));
    assert_eq!(got.header("x-acs-version"), Some("2015-12-15"));
    assert_eq!(got.header("x-acs-security-token"), Some("sts-token"));
    assert!(got.signed_by("the-secret"), "the server's recomputation matches");
    assert!(!got.signed_by("another"), "and depends on the secret");
    // The path is signed: the same signature does not hold for another path.
    let moved = Received { path: "/k8s/c-2/user_config".into(), ..got };
    assert!(!moved.signed_by("the-secret"));
}

#[tokio::test]
async fn an_rpc_call_posts_a_signed_form() {
    let (endpoint, seen) = server(vec![(200, "", r#"{"RequestId":"r-1"}"#)]).await;
    let c = client(&endpoint, None);
    c.rpc("DescribeServiceMeshes", &[("RegionId".into(), "cn-hangzhou".into())]).await.unwrap();
    let got = seen.lock().unwrap()[0].clone();
    assert_eq!(
        (got.method.as_str(), got.path.as_str(), got.body.as_str()),
        ("POST", "/", "RegionId=cn-hangzhou")
    );
    assert_eq!(got.header("content-type"), Some("application/x-www-form-urlencoded"));
    assert!(got.header("x-acs-security-token").is_none());
    assert!(got.signed_by("the-secret"));
}

#[tokio::test]
async fn throttling_and_server_errors_are_retried_then_the_answer_returned() {
    let (endpoint, seen) = server(vec![
        (503, "", r#"{"Code":"ServiceUnavailable","Message":"down","RequestId":"r-1"}"#),
        (400, "", r#"{"Code":"Throttling.User","Message":"slow down","RequestId":"r-2"}"#),
        (200, "", r#"{"RequestId":"r-3","ok":true}"#),
    ])
    .await;
    let v = client(&endpoint, None).rpc("X", &[]).await.unwrap();
    assert_eq!(v["ok"], true);
    let got = seen.lock().unwrap().clone();
    assert_eq!(got.len(), 3);
    let nonces: std::collections::BTreeSet<_> =
        got.iter().map(|r| r.header("x-acs-signature-nonce").unwrap().to_owned()).collect();
    assert_eq!(nonces.len(), 3, "each attempt is signed afresh");
}

#[tokio::test]
async fn an_error_says_its_code_message_and_request_id_and_is_not_retried_when_final() {
    let (endpoint, seen) = server(vec![(
        404,
        "",
        r#"{"code":"ErrorClusterNotFound","message":"cluster c-9 not found","requestId":"9F1C-REQ"}"#,
    )])
    .await;
    let e = client(&endpoint, None)
        .roa(Method::GET, "DescribeClusterDetail", "/clusters/c-9", &[])
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound);
    assert_eq!(e.request_id.as_deref(), Some("9F1C-REQ"));
    assert_eq!(
        e.to_string(),
        "ErrorClusterNotFound: DescribeClusterDetail: cluster c-9 not found (request 9F1C-REQ)"
    );
    assert_eq!(seen.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_request_id_in_a_header_is_kept_when_the_body_has_none() {
    let (endpoint, _seen) = server(vec![(
        403,
        "x-acs-request-id: HDR-REQ-1",
        r#"{"code":"ErrorCheckAcl","message":"denied"}"#,
    )])
    .await;
    let e = client(&endpoint, None)
        .roa(Method::GET, "DescribeClusterDetail", "/clusters/c-1", &[])
        .await
        .unwrap_err();
    assert_eq!((e.kind, e.request_id.as_deref()), (ErrorKind::Unauthorized, Some("HDR-REQ-1")));
}

#[tokio::test]
async fn a_server_hint_sets_the_wait_before_the_retry() {
    let (endpoint, _seen) = server(vec![
        (
            400,
            "x-ratelimit-user-api: Limit:1,Remain:0,TimeLeft:300,Reset:1",
            r#"{"Code":"Throttling.Api"}"#,
        ),
        (200, "", r#"{}"#),
    ])
    .await;
    let started = Instant::now();
    client(&endpoint, None).rpc("X", &[]).await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(300), "waited as the server asked");
}

#[tokio::test]
async fn an_unreachable_endpoint_is_a_transport_error_after_the_retries() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let e = client(&endpoint, None).rpc("X", &[]).await.unwrap_err();
    assert_eq!((e.kind, e.code.as_str()), (ErrorKind::Unavailable, TRANSPORT_ERROR));
    assert!(e.message.contains("could not connect"), "{e}");
}

#[test]
fn endpoints_take_a_host_or_a_url() {
    assert_eq!(
        endpoint_url("cs.cn-hangzhou.aliyuncs.com").unwrap().0,
        "https://cs.cn-hangzhou.aliyuncs.com"
    );
    assert_eq!(
        endpoint_url("http://127.0.0.1:4000/").unwrap(),
        ("http://127.0.0.1:4000".to_owned(), "127.0.0.1:4000".to_owned())
    );
    assert!(endpoint_url("ftp://x").unwrap_err().contains("expected a host"));
    assert!(endpoint_url("https://").is_err());
    assert_eq!(regional_endpoint("cs", "cn-beijing"), "cs.cn-beijing.aliyuncs.com");
}

#[test]
fn classification_of_common_codes() {
    assert_eq!(classify(429, "Throttling.User"), ErrorKind::Throttled);
    assert_eq!(classify(503, "ServiceUnavailable"), ErrorKind::Unavailable);
    assert_eq!(classify(400, "InvalidParameter"), ErrorKind::InvalidArgument);
    assert_eq!(classify(404, "ErrorClusterNotFound"), ErrorKind::NotFound);
    assert_eq!(classify(404, "EntityNotExist.Role"), ErrorKind::NotFound);
    assert_eq!(classify(403, "NoPermission"), ErrorKind::Unauthorized);
    assert_eq!(classify(404, "InvalidAccessKeyId.NotFound"), ErrorKind::Unauthorized);
    assert_eq!(classify(400, "SignatureDoesNotMatch"), ErrorKind::Unauthorized);
}
