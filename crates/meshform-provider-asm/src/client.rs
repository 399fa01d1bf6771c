//! The ASM OpenAPI client: RPC calls signed with ACS3-HMAC-SHA256, JSON responses, and errors with
//! their request ids classified into [`ErrorKind`]s in one place ([`classify`]). Every call goes
//! through the shared [`RetryPolicy`] once: throttling, 5xx and transport errors are retried with
//! backoff and jitter (honouring the `x-ratelimit-*` `TimeLeft` hint), a busy mesh is waited for when
//! the caller gives patience, validation errors never.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use meshform_acs as acs;
use meshform_core::sync::lock;
use meshform_provider::{ErrorKind, Progress, ProviderError, RetryNotice, RetryPolicy, Verdict};

use crate::credentials::Credentials;

/// The API version this client speaks.
pub const VERSION: &str = "2020-01-11";

/// How a call may be retried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Retry {
    /// A refresh read: a small retry budget, and a control plane found unavailable is remembered for
    /// the planning of the run ([`REMEMBERED_FOR`]), so that every later read of the same mesh (or of
    /// the endpoint, when it cannot be reached at all) fails at once instead of waiting out its own
    /// retries.
    Read,
    /// Safe to repeat (writes that set a state, and the reads that wait for them): transient failures
    /// are retried with the full budget, and never cut short by an earlier read's failure.
    Idempotent,
    /// Not safe to repeat blindly (a create): the caller checks whether it happened first.
    Once,
}

/// How long a control plane a refresh read found unavailable is taken as down without asking again:
/// the planning of one run, not the apply that follows (after a review, the outage may be over).
const REMEMBERED_FOR: Duration = Duration::from_secs(30);

/// Retries of a refresh read ([`Retry::Read`]): an outage is recognised in about a second.
const READ_RETRIES: u32 = 2;

/// What kind of failure an answer is, from its HTTP status and ASM error code.
pub fn classify(status: u16, code: &str, transport: bool) -> ErrorKind {
    if transport || status >= 500 || code == "ServiceUnavailable" {
        return ErrorKind::Unavailable;
    }
    if code.starts_with("Throttling") || status == 429 {
        return ErrorKind::Throttled;
    }
    // The mesh accepts one change at a time, and none while it is not running.
    if code.contains("ActiveState")
        || code.contains("NotRunning")
        || code == "StatusForbidden"
        || code.contains("Initializing")
        || code.contains("Conflict")
    {
        return ErrorKind::Busy;
    }
    if code.starts_with("InvalidAccessKeyId")
        || code.starts_with("SignatureDoesNotMatch")
        || code.starts_with("IncompleteSignature")
        || code.starts_with("InvalidSecurityToken")
        || code.starts_with("Forbidden")
        || status == 401
        || status == 403
    {
        return ErrorKind::Unauthorized;
    }
    if matches!(code, "ERR404" | "NotFound") || code.ends_with(".NotFound") {
        return ErrorKind::NotFound;
    }
    if (400..500).contains(&status) {
        return ErrorKind::InvalidArgument;
    }
    ErrorKind::Internal
}

/// A configured client for one endpoint and set of credentials.
#[derive(Clone, Debug)]
pub struct AsmClient {
    http: reqwest::Client,
    /// `https://servicemesh.aliyuncs.com` or an override such as `http://127.0.0.1:40123`.
    endpoint: String,
    host: String,
    creds: Credentials,
    policy: RetryPolicy,
    /// What refresh reads found unavailable, by scope ([`unavailable_scope`]), and when.
    unavailable: Arc<Mutex<BTreeMap<String, (Instant, ProviderError)>>>,
    /// How long an unavailable scope is taken as still down ([`REMEMBERED_FOR`]).
    remembered_for: Duration,
}

impl AsmClient {
    pub fn new(endpoint: &str, creds: Credentials, max_retries: u32) -> Result<AsmClient, String> {
        let endpoint = if endpoint.contains("://") {
            endpoint.trim_end_matches('/').to_owned()
        } else {
            format!("https://{}", endpoint.trim_end_matches('/'))
        };
        let host = endpoint
            .split("://")
            .nth(1)
            .unwrap_or_default()
            .split('/')
            .next()
            .unwrap_or_default()
            .to_owned();
        if host.is_empty() {
            return Err(format!("invalid endpoint {endpoint:?}: expected e.g. servicemesh.aliyuncs.com or http://127.0.0.1:40123"));
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("meshform/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(AsmClient {
            http,
            endpoint,
            host,
            creds,
            policy: RetryPolicy::default().with_max_retries(max_retries),
            unavailable: Arc::default(),
            remembered_for: REMEMBERED_FOR,
        })
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The retry policy of idempotent calls.
    pub fn policy(&self) -> RetryPolicy {
        self.policy
    }

    /// Calls an action with form parameters (POST), retrying as `retry` allows.
    pub async fn call(
        &self,
        action: &str,
        params: &[(String, String)],
        retry: Retry,
    ) -> Result<serde_json::Value, ProviderError> {
        let policy = match retry {
            Retry::Read => self.policy.with_max_retries(self.policy.max_retries.min(READ_RETRIES)),
            Retry::Idempotent => self.policy,
            Retry::Once => RetryPolicy::once(),
        };
        let scope = unavailable_scope(params);
        if retry == Retry::Read {
            let known = lock(&self.unavailable);
            let recent =
                |k: &str| known.get(k).filter(|(at, _)| at.elapsed() < self.remembered_for);
            if let Some((_, e)) = recent(ENDPOINT_SCOPE).or_else(|| recent(&scope)) {
                return Err(e.clone());
            }
        }
        let notice = |e: &ProviderError, n: RetryNotice| log_retry(action, e, n);
        let result = policy.run(|| self.call_once(action, params), Verdict::of, notice).await;
        match result {
            Err(e) if retry == Retry::Read && e.kind == ErrorKind::Unavailable => {
                let scope =
                    if e.code == TRANSPORT_ERROR { ENDPOINT_SCOPE.to_owned() } else { scope };
                lock(&self.unavailable).insert(scope, (Instant::now(), e.clone()));
                Err(e)
            }
            other => other,
        }
    }

    /// Calls a mutating action on a mesh that accepts one change at a time: idempotent, and while the
    /// mesh is busy with another change it is tried again for up to `patience`, saying so.
    pub async fn call_when_idle(
        &self,
        action: &str,
        params: &[(String, String)],
        patience: Duration,
        progress: &dyn Progress,
    ) -> Result<serde_json::Value, ProviderError> {
        let notice = |e: &ProviderError, n: RetryNotice| {
            log_retry(action, e, n);
            if e.kind == ErrorKind::Busy {
                progress.status(&format!("mesh busy ({}); retrying", e.code));
            }
        };
        self.policy
            .with_patience(patience)
            .run(|| self.call_once(action, params), Verdict::of, notice)
            .await
    }

    /// One signed request.
    pub async fn call_once(
        &self,
        action: &str,
        params: &[(String, String)],
    ) -> Result<serde_json::Value, ProviderError> {
        let started = std::time::Instant::now();
        let result = self.send(action, params).await;
        let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        // The debug log (MESHFORM_LOG=debug): action, outcome, request id and timing — never the
        // parameters, which may carry a CA's private key, nor any header.
        match &result {
            Ok(v) => tracing::debug!(
                target: "meshform::asm",
                action,
                endpoint = %self.endpoint,
                status = "ok",
                request_id = v.get("RequestId").and_then(|x| x.as_str()).unwrap_or(""),
                duration_ms,
                "call"
            ),
            Err(e) => tracing::debug!(
                target: "meshform::asm",
                action,
                endpoint = %self.endpoint,
                status = %e.code,
                request_id = e.request_id.as_deref().unwrap_or(""),
                duration_ms,
                "call failed"
            ),
        }
        result
    }

    /// One signed request, unlogged.
    async fn send(
        &self,
        action: &str,
        params: &[(String, String)],
    ) -> Result<serde_json::Value, ProviderError> {
        let body = acs::encode_form(params);
        let now = time::OffsetDateTime::now_utc();
        let date = format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            now.year(),
            now.month() as u8,
            now.day(),
            now.hour(),
            now.minute(),
            now.second()
        );
        let mut headers: Vec<(String, String)> = vec![
            ("host".into(), self.host.clone()),
            ("x-acs-action".into(), action.to_owned()),
            ("x-acs-version".into(), VERSION.to_owned()),
            ("x-acs-date".into(), date),
            ("x-acs-signature-nonce".into(), uuid::Uuid::new_v4().simple().to_string()),
            ("x-acs-content-sha256".into(), acs::sha256_hex(body.as_bytes())),
            ("content-type".into(), "application/x-www-form-urlencoded".into()),
        ];
        if let Some(t) = &self.creds.security_token {
            headers.push(("x-acs-security-token".into(), t.expose().to_owned()));
        }
        let signed = acs::default_signed_headers(&headers);
        let (canonical, signed_names) = acs::canonical_request(
            "POST",
            "/",
            &[],
            &headers,
            &signed,
            &acs::sha256_hex(body.as_bytes()),
        );
        let signature = acs::sign_v3(
            self.creds.access_key_secret.expose(),
            &acs::string_to_sign_v3(&canonical),
        );
        let mut req = self.http.post(format!("{}/", self.endpoint));
        for (k, v) in &headers {
            if k != "host" {
                req = req.header(k.as_str(), v.as_str());
            }
        }
        req = req
            .header(
                "authorization",
                acs::authorization_v3(&self.creds.access_key_id, &signed_names, &signature),
            )
            .body(body);
        let resp = req.send().await.map_err(|e| transport_error(action, &self.endpoint, &e))?;
        let status = resp.status().as_u16();
        let retry_after = rate_limit_wait(resp.headers());
        let text = resp.text().await.map_err(|e| transport_error(action, &self.endpoint, &e))?;
        let json: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(
            |_| serde_json::json!({ "Message": text.chars().take(300).collect::<String>() }),
        );
        if (200..300).contains(&status) {
            return Ok(json);
        }
        let field = |a: &str, b: &str| {
            json.get(a).or_else(|| json.get(b)).and_then(|v| v.as_str()).map(str::to_owned)
        };
        let code = field("Code", "code").unwrap_or_else(|| format!("HTTP{status}"));
        let message =
            field("Message", "message").unwrap_or_else(|| format!("HTTP status {status}"));
        let mut e = ProviderError::new(
            classify(status, &code, false),
            code,
            format!("{action}: {message}"),
        )
        .with_retry_after(retry_after);
        if let Some(id) = field("RequestId", "requestId") {
            e = e.with_request_id(id);
        }
        Err(e)
    }
}

/// A retry, in the debug log.
fn log_retry(action: &str, e: &ProviderError, n: RetryNotice) {
    tracing::info!(
        target: "meshform::asm",
        action,
        code = %e.code,
        request_id = e.request_id.as_deref().unwrap_or(""),
        retry = n.retry,
        delay_ms = u64::try_from(n.delay.as_millis()).unwrap_or(u64::MAX),
        "retrying"
    );
}

/// The scope of the whole endpoint in [`AsmClient::unavailable`]: it could not be reached at all.
const ENDPOINT_SCOPE: &str = "endpoint";

/// The code of an error in reaching the endpoint (no answer at all).
const TRANSPORT_ERROR: &str = "TransportError";

/// What an unavailable answer to a call says is down: the mesh it names, else its region, else the
/// endpoint's API as a whole.
fn unavailable_scope(params: &[(String, String)]) -> String {
    let param = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    match (param("ServiceMeshId"), param("RegionId")) {
        (Some(mesh), _) => format!("mesh {mesh}"),
        (None, Some(region)) => format!("region {region}"),
        (None, None) => "api".to_owned(),
    }
}

/// The request may or may not have reached the server (timeout, reset): always worth another try.
fn transport_error(action: &str, endpoint: &str, e: &reqwest::Error) -> ProviderError {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "failed"
    };
    ProviderError::new(
        ErrorKind::Unavailable,
        TRANSPORT_ERROR,
        format!("{action}: the request to {endpoint} {what}: {e}"),
    )
}

/// The largest `TimeLeft` (milliseconds) of the `x-ratelimit-user*` headers.
fn rate_limit_wait(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    headers
        .iter()
        .filter(|(k, _)| k.as_str().starts_with("x-ratelimit-user"))
        .filter_map(|(_, v)| v.to_str().ok())
        .filter_map(|v| {
            v.split(',')
                .find_map(|p| p.trim().strip_prefix("TimeLeft:"))
                .and_then(|n| n.trim().parse::<u64>().ok())
        })
        .max()
        .map(Duration::from_millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limit_headers() {
        let mut h = reqwest::header::HeaderMap::new();
        h.insert("x-ratelimit-user", "Limit:1,Remain:0,TimeLeft:2000,Reset:1".parse().unwrap());
        h.insert("x-ratelimit-user-api", "Limit:1,Remain:0,TimeLeft:3500,Reset:1".parse().unwrap());
        assert_eq!(rate_limit_wait(&h), Some(Duration::from_millis(3500)));
    }

    /// A server that answers every request with 503 `ServiceUnavailable` and counts them.
    async fn unavailable_server() -> (String, Arc<std::sync::atomic::AtomicUsize>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let count = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = Arc::clone(&count);
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let counted = Arc::clone(&counted);
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 65536];
                    let mut got = Vec::new();
                    // The whole request: headers, then the form body of Content-Length bytes.
                    loop {
                        let Ok(n) = socket.read(&mut buf).await else { return };
                        if n == 0 {
                            return;
                        }
                        got.extend_from_slice(&buf[..n]);
                        let text = String::from_utf8_lossy(&got).to_lowercase();
                        if let Some(end) = text.find("\r\n\r\n") {
                            let length = text
                                .lines()
                                .find_map(|l| l.strip_prefix("content-length:"))
                                .and_then(|v| v.trim().parse::<usize>().ok())
                                .unwrap_or(0);
                            if got.len() >= end + 4 + length {
                                break;
                            }
                        }
                    }
                    counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let body =
                        r#"{"Code":"ServiceUnavailable","Message":"down","RequestId":"r-1"}"#;
                    let reply = format!(
                        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
                         content-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = socket.write_all(reply.as_bytes()).await;
                });
            }
        });
        (endpoint, count)
    }

    fn client(endpoint: &str) -> AsmClient {
        let creds = Credentials {
            access_key_id: "LTAI-test".into(),
            access_key_secret: crate::credentials::Secret::new("secret"),
            security_token: None,
            source: "test".into(),
        };
        let mut c = AsmClient::new(endpoint, creds, 8).unwrap();
        c.policy.base = Duration::from_millis(2);
        c
    }

    fn mesh(id: &str) -> Vec<(String, String)> {
        vec![("ServiceMeshId".to_owned(), id.to_owned())]
    }

    #[tokio::test]
    async fn a_read_of_an_unavailable_mesh_is_tried_briefly_then_remembered_for_the_run() {
        use std::sync::atomic::Ordering::SeqCst;
        let (endpoint, count) = unavailable_server().await;
        let c = client(&endpoint);
        let e = c.call("DescribeServiceMeshDetail", &mesh("m-1"), Retry::Read).await.unwrap_err();
        assert_eq!((e.kind, e.code.as_str()), (ErrorKind::Unavailable, "ServiceUnavailable"));
        assert_eq!(count.load(SeqCst), 1 + READ_RETRIES as usize, "a small budget for reads");
        // Every later read of that mesh fails at once, with the same error, without a request.
        let again = c.call("DescribeClustersInServiceMesh", &mesh("m-1"), Retry::Read).await;
        assert_eq!(again.unwrap_err().to_string(), e.to_string());
        assert_eq!(count.load(SeqCst), 1 + READ_RETRIES as usize);
        // Another mesh is asked; writes keep their full budget and are never cut short.
        let _ = c.call("DescribeServiceMeshDetail", &mesh("m-2"), Retry::Read).await;
        assert_eq!(count.load(SeqCst), 2 * (1 + READ_RETRIES as usize));
        let before = count.load(SeqCst);
        let _ = c.call("UpdateMeshFeature", &mesh("m-1"), Retry::Idempotent).await;
        assert_eq!(count.load(SeqCst) - before, 9, "the full budget: one attempt and 8 retries");
    }

    #[tokio::test]
    async fn an_endpoint_that_cannot_be_reached_fails_every_later_read_at_once() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        drop(listener);
        let c = client(&endpoint);
        let e = c.call("DescribeServiceMeshDetail", &mesh("m-1"), Retry::Read).await.unwrap_err();
        assert_eq!((e.kind, e.code.as_str()), (ErrorKind::Unavailable, TRANSPORT_ERROR));
        let other = c.call("DescribeServiceMeshes", &[], Retry::Read).await.unwrap_err();
        assert_eq!(other.to_string(), e.to_string(), "remembered for the whole endpoint");
    }

    #[tokio::test]
    async fn an_unavailable_mesh_is_asked_again_once_the_memory_has_expired() {
        use std::sync::atomic::Ordering::SeqCst;
        let (endpoint, count) = unavailable_server().await;
        let mut c = client(&endpoint);
        c.remembered_for = Duration::ZERO;
        let _ = c.call("DescribeServiceMeshDetail", &mesh("m-1"), Retry::Read).await;
        let first = count.load(SeqCst);
        let _ = c.call("DescribeServiceMeshDetail", &mesh("m-1"), Retry::Read).await;
        assert_eq!(count.load(SeqCst), 2 * first, "asked again, not answered from memory");
    }

    #[test]
    fn error_classification() {
        assert!(classify(429, "Throttling.User", false).is_transient());
        assert!(classify(503, "ServiceUnavailable", false).is_transient());
        assert!(classify(0, "TransportError", true).is_transient());
        assert!(!classify(400, "InvalidParameter", false).is_transient());
        assert_eq!(classify(404, "ERR404", false), ErrorKind::NotFound);
        assert_eq!(classify(404, "ServiceMesh.NotFound", false), ErrorKind::NotFound);
        assert_eq!(classify(404, "InvalidAccessKeyId.NotFound", false), ErrorKind::Unauthorized);
        assert_eq!(classify(400, "InvalidActiveState.ServiceMesh", false), ErrorKind::Busy);
        assert_eq!(classify(400, "StillInitializing", false), ErrorKind::Busy);
        assert_eq!(classify(400, "ClusterAlreadyExist", false), ErrorKind::InvalidArgument);
    }
}
