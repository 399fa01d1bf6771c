//! The ASM OpenAPI client: the shared Alibaba Cloud client ([`AcsClient`]: RPC calls signed with
//! ACS3-HMAC-SHA256, errors with their request ids, the shared [`RetryPolicy`] applied once) with
//! what is ASM's own: its error codes classified ([`classify`]: a busy mesh), a busy mesh waited for
//! when the caller gives patience, and refresh reads that remember an unavailable control plane for
//! the planning of a run.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use meshform_acs::client::{AcsClient, Request, TRANSPORT_ERROR};
use meshform_acs::credentials::CredentialProvider;
use meshform_core::sync::lock;
use meshform_provider::{ErrorKind, Progress, ProviderError, RetryNotice, RetryPolicy};

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

/// What kind of failure an answer is, from its HTTP status and ASM error code: the codes every
/// product shares ([`meshform_acs::client::classify`]) and a mesh busy with another change.
pub fn classify(status: u16, code: &str) -> ErrorKind {
    // The mesh accepts one change at a time, and none while it is not running.
    if status < 500
        && (code.contains("ActiveState")
            || code.contains("NotRunning")
            || code == "StatusForbidden"
            || code.contains("Initializing")
            || code.contains("Conflict"))
    {
        return ErrorKind::Busy;
    }
    meshform_acs::client::classify(status, code)
}

/// A configured client for one endpoint and set of credentials.
#[derive(Clone, Debug)]
pub struct AsmClient {
    acs: AcsClient,
    /// What refresh reads found unavailable, by scope ([`unavailable_scope`]), and when.
    unavailable: Arc<Mutex<BTreeMap<String, (Instant, ProviderError)>>>,
    /// How long an unavailable scope is taken as still down ([`REMEMBERED_FOR`]).
    remembered_for: Duration,
}

impl AsmClient {
    pub fn new(
        endpoint: &str,
        credentials: impl Into<CredentialProvider>,
        max_retries: u32,
    ) -> Result<AsmClient, String> {
        let acs = AcsClient::new(endpoint, VERSION, credentials.into())?
            .with_policy(RetryPolicy::default().with_max_retries(max_retries))
            .with_classifier(classify);
        Ok(AsmClient { acs, unavailable: Arc::default(), remembered_for: REMEMBERED_FOR })
    }

    pub fn endpoint(&self) -> &str {
        self.acs.endpoint()
    }

    /// The retry policy of idempotent calls.
    pub fn policy(&self) -> RetryPolicy {
        self.acs.policy()
    }

    /// Calls an action with form parameters (POST), retrying as `retry` allows.
    pub async fn call(
        &self,
        action: &str,
        params: &[(String, String)],
        retry: Retry,
    ) -> Result<serde_json::Value, ProviderError> {
        let base = self.acs.policy();
        let policy = match retry {
            Retry::Read => base.with_max_retries(base.max_retries.min(READ_RETRIES)),
            Retry::Idempotent => base,
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
        let result = self.acs.call(&Request::rpc(action, params), policy).await;
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
        let notice = |e: &ProviderError, _: RetryNotice| {
            if e.kind == ErrorKind::Busy {
                progress.status(&format!("mesh busy ({}); retrying", e.code));
            }
        };
        let policy = self.acs.policy().with_patience(patience);
        self.acs.call_with(&Request::rpc(action, params), policy, notice).await
    }

    /// One signed request, not retried.
    pub async fn call_once(
        &self,
        action: &str,
        params: &[(String, String)],
    ) -> Result<serde_json::Value, ProviderError> {
        self.acs.call_once(&Request::rpc(action, params)).await
    }
}

/// The scope of the whole endpoint in [`AsmClient::unavailable`]: it could not be reached at all.
const ENDPOINT_SCOPE: &str = "endpoint";

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

#[cfg(test)]
mod tests {
    use super::*;

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
        let creds =
            crate::credentials::Credentials::access_key("LTAI-test", "secret", None, "test");
        let mut c = AsmClient::new(endpoint, creds, 8).unwrap();
        let policy = RetryPolicy { base: Duration::from_millis(2), ..c.acs.policy() };
        c.acs = c.acs.clone().with_policy(policy);
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
        assert!(classify(429, "Throttling.User").is_transient());
        assert!(classify(503, "ServiceUnavailable").is_transient());
        assert!(!classify(400, "InvalidParameter").is_transient());
        assert_eq!(classify(404, "ERR404"), ErrorKind::NotFound);
        assert_eq!(classify(404, "ServiceMesh.NotFound"), ErrorKind::NotFound);
        assert_eq!(classify(404, "InvalidAccessKeyId.NotFound"), ErrorKind::Unauthorized);
        assert_eq!(classify(400, "InvalidActiveState.ServiceMesh"), ErrorKind::Busy);
        assert_eq!(classify(400, "StillInitializing"), ErrorKind::Busy);
        assert_eq!(classify(400, "ClusterAlreadyExist"), ErrorKind::InvalidArgument);
    }
}
