//! [`AcsClient`]: signed calls to one Alibaba Cloud product endpoint — RPC style (`POST /`, form body)
//! and ROA style (a method and a resource path) — both signed ACS3-HMAC-SHA256 as the official SDKs
//! do, with credentials from a [`CredentialProvider`] (refreshed before they expire), JSON answers,
//! errors carrying their request ids and classified into [`ErrorKind`]s, and the shared
//! [`RetryPolicy`] applied once per call (throttling, 5xx and transport errors retried with backoff and
//! jitter, honouring the `x-ratelimit-*` `TimeLeft` and `x-acs-retry-after` hints).

use std::time::{Duration, Instant};

use meshform_provider::{ErrorKind, ProviderError, RetryNotice, RetryPolicy, Verdict};
pub use reqwest::Method;

use crate::credentials::CredentialProvider;
use crate::{
    authorization_v3, canonical_request, default_signed_headers, encode_form, sha256_hex, sign_v3,
    string_to_sign_v3,
};

/// The code of an error in reaching the endpoint (no answer at all).
pub const TRANSPORT_ERROR: &str = "TransportError";

/// How a product maps an error answer (HTTP status, error code) to an [`ErrorKind`].
pub type Classifier = fn(u16, &str) -> ErrorKind;

/// What kind of failure an answer is, by the conventions every Alibaba Cloud product shares:
/// 5xx and `ServiceUnavailable` are unavailable, `Throttling*`/429 throttled, signature and key
/// errors (and 401/403) unauthorized, `*NotFound` not found, other 4xx invalid arguments.
pub fn classify(status: u16, code: &str) -> ErrorKind {
    if status >= 500 || code == "ServiceUnavailable" {
        return ErrorKind::Unavailable;
    }
    if code.starts_with("Throttling") || status == 429 {
        return ErrorKind::Throttled;
    }
    if code.starts_with("InvalidAccessKeyId")
        || code.starts_with("SignatureDoesNotMatch")
        || code.starts_with("IncompleteSignature")
        || code.starts_with("InvalidSecurityToken")
        || code.starts_with("Forbidden")
        || code.starts_with("NoPermission")
        || code.starts_with("AuthenticationFail")
        || code == "ErrorCheckAcl"
        || status == 401
        || status == 403
    {
        return ErrorKind::Unauthorized;
    }
    if matches!(code, "ERR404" | "NotFound")
        || code.ends_with(".NotFound")
        || code.ends_with("NotFound") && code.starts_with("Error")
        || code.starts_with("EntityNotExist")
    {
        return ErrorKind::NotFound;
    }
    if (400..500).contains(&status) {
        return ErrorKind::InvalidArgument;
    }
    ErrorKind::Internal
}

/// `https://host` for a bare host name; a URL with a scheme is kept (without a trailing `/`). The
/// same rule for every endpoint setting a user gives (a provider block's `endpoint`, an environment
/// variable), so the sandbox is reached exactly as a private or VPC endpoint would be.
pub fn endpoint_url(endpoint: &str) -> Result<(String, String), String> {
    let given = endpoint.trim();
    let (scheme, rest) = given.split_once("://").unwrap_or(("https", given));
    let rest = rest.trim_end_matches('/');
    let host = rest.split('/').next().unwrap_or_default();
    let host_ok = !host.is_empty()
        && !host.ends_with(':')
        && host.chars().all(|c| c.is_ascii_alphanumeric() || ".-:[]_".contains(c));
    if !matches!(scheme, "https" | "http") || !host_ok {
        return Err(format!(
            "invalid endpoint {given:?}: expected a host such as cs.cn-hangzhou.aliyuncs.com, or a URL such as http://127.0.0.1:40123"
        ));
    }
    Ok((format!("{scheme}://{rest}"), host.to_owned()))
}

/// A product's regional endpoint: `<product>.<region>.aliyuncs.com`.
pub fn regional_endpoint(product: &str, region: &str) -> String {
    format!("{product}.{region}.aliyuncs.com")
}

/// One call: an action, the product's API version, the method and path, query and body.
#[derive(Clone, Debug)]
pub struct Request {
    pub action: String,
    pub method: Method,
    /// `/` for RPC; the resource path for ROA, path parameters already percent-encoded.
    pub path: String,
    pub query: Vec<(String, String)>,
    pub body: Body,
}

/// A request body.
#[derive(Clone, Debug, Default)]
pub enum Body {
    #[default]
    Empty,
    /// `application/x-www-form-urlencoded` (RPC parameters).
    Form(Vec<(String, String)>),
    /// `application/json; charset=utf-8` (ROA).
    Json(serde_json::Value),
}

impl Request {
    /// An RPC call: `POST /`, the parameters in a form body.
    pub fn rpc(action: &str, params: &[(String, String)]) -> Request {
        Request {
            action: action.to_owned(),
            method: Method::POST,
            path: "/".to_owned(),
            query: Vec::new(),
            body: Body::Form(params.to_vec()),
        }
    }

    /// A ROA call: a method on a resource path, with query parameters.
    pub fn roa(method: Method, action: &str, path: &str, query: &[(String, String)]) -> Request {
        Request {
            action: action.to_owned(),
            method,
            path: path.to_owned(),
            query: query.to_vec(),
            body: Body::Empty,
        }
    }

    /// With a JSON body (ROA writes).
    pub fn with_json(mut self, body: serde_json::Value) -> Request {
        self.body = Body::Json(body);
        self
    }

    /// A parameter of the call (form or query), e.g. to scope what an error is about.
    pub fn param(&self, name: &str) -> Option<&str> {
        let form = match &self.body {
            Body::Form(f) => f.as_slice(),
            _ => &[],
        };
        form.iter().chain(&self.query).find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// A client of one product at one endpoint, with one set of credentials. Cheap to clone.
#[derive(Clone, Debug)]
pub struct AcsClient {
    http: reqwest::Client,
    /// `https://servicemesh.aliyuncs.com` or an override such as `http://127.0.0.1:40123`.
    endpoint: String,
    host: String,
    /// The product's API version (`x-acs-version`), e.g. `2020-01-11`.
    version: String,
    credentials: CredentialProvider,
    policy: RetryPolicy,
    classifier: Classifier,
}

impl AcsClient {
    /// A client of the product whose API `version` is served at `endpoint` (a host, or a URL).
    pub fn new(
        endpoint: &str,
        version: &str,
        credentials: CredentialProvider,
    ) -> Result<AcsClient, String> {
        let (endpoint, host) = endpoint_url(endpoint)?;
        Ok(AcsClient {
            http: http_client(Duration::from_secs(60))?,
            endpoint,
            host,
            version: version.to_owned(),
            credentials,
            policy: RetryPolicy::default(),
            classifier: classify,
        })
    }

    /// With another retry policy for [`AcsClient::call`] (e.g. the provider block's `max_retries`).
    pub fn with_policy(mut self, policy: RetryPolicy) -> AcsClient {
        self.policy = policy;
        self
    }

    /// With the product's own error classification (e.g. ASM's busy-mesh codes).
    pub fn with_classifier(mut self, classifier: Classifier) -> AcsClient {
        self.classifier = classifier;
        self
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    pub fn policy(&self) -> RetryPolicy {
        self.policy
    }

    pub fn credentials(&self) -> &CredentialProvider {
        &self.credentials
    }

    /// An RPC call, retried by the client's policy.
    pub async fn rpc(
        &self,
        action: &str,
        params: &[(String, String)],
    ) -> Result<serde_json::Value, ProviderError> {
        self.call(&Request::rpc(action, params), self.policy).await
    }

    /// A ROA call (`GET /clusters/c-1` …), retried by the client's policy.
    pub async fn roa(
        &self,
        method: Method,
        action: &str,
        path: &str,
        query: &[(String, String)],
    ) -> Result<serde_json::Value, ProviderError> {
        self.call(&Request::roa(method, action, path, query), self.policy).await
    }

    /// A call retried as `policy` allows ([`Verdict::of`] on each error), every retry logged.
    pub async fn call(
        &self,
        request: &Request,
        policy: RetryPolicy,
    ) -> Result<serde_json::Value, ProviderError> {
        self.call_with(request, policy, |_, _| ()).await
    }

    /// [`AcsClient::call`], telling `notice` of every retry too (for progress lines).
    pub async fn call_with(
        &self,
        request: &Request,
        policy: RetryPolicy,
        mut notice: impl FnMut(&ProviderError, RetryNotice),
    ) -> Result<serde_json::Value, ProviderError> {
        let mut attempt = 0u32;
        let on_retry = |e: &ProviderError, n: RetryNotice| {
            tracing::info!(
                target: "meshform::acs",
                action = %request.action,
                code = %e.code,
                request_id = e.request_id.as_deref().unwrap_or(""),
                retry = n.retry,
                delay_ms = millis(n.delay),
                "retrying"
            );
            notice(e, n);
        };
        policy
            .run(
                || {
                    attempt += 1;
                    self.call_once_numbered(request, attempt)
                },
                Verdict::of,
                on_retry,
            )
            .await
    }

    /// One signed request, logged at debug level.
    pub async fn call_once(&self, request: &Request) -> Result<serde_json::Value, ProviderError> {
        self.call_once_numbered(request, 1).await
    }

    async fn call_once_numbered(
        &self,
        request: &Request,
        attempt: u32,
    ) -> Result<serde_json::Value, ProviderError> {
        let started = Instant::now();
        let result = self.send(request).await;
        let duration_ms = millis(started.elapsed());
        // The debug log (MESHFORM_LOG=debug): action, outcome, request id, attempt and timing — never
        // the parameters (they may carry a CA's private key), a header or a credential.
        match &result {
            Ok((status, _, id)) => tracing::debug!(
                target: "meshform::acs",
                action = %request.action,
                endpoint = %self.endpoint,
                attempt,
                status,
                request_id = id.as_deref().unwrap_or(""),
                duration_ms,
                "call"
            ),
            Err(e) => tracing::debug!(
                target: "meshform::acs",
                action = %request.action,
                endpoint = %self.endpoint,
                attempt,
                status = %e.code,
                request_id = e.request_id.as_deref().unwrap_or(""),
                duration_ms,
                "call failed"
            ),
        }
        result.map(|(_, v, _)| v)
    }

    /// One signed request, unlogged: the HTTP status, the JSON answer and its request id, or the
    /// error.
    async fn send(
        &self,
        request: &Request,
    ) -> Result<(u16, serde_json::Value, Option<String>), ProviderError> {
        let creds = self.credentials.get().await?;
        let (body, content_type) = match &request.body {
            Body::Empty => (String::new(), None),
            Body::Form(f) => (encode_form(f), Some("application/x-www-form-urlencoded")),
            Body::Json(v) => (v.to_string(), Some("application/json; charset=utf-8")),
        };
        let body_hash = sha256_hex(body.as_bytes());
        let mut headers: Vec<(String, String)> = vec![
            ("host".into(), self.host.clone()),
            ("x-acs-action".into(), request.action.clone()),
            ("x-acs-version".into(), self.version.clone()),
            ("x-acs-date".into(), crate::credentials::iso8601(time::OffsetDateTime::now_utc())),
            ("x-acs-signature-nonce".into(), uuid::Uuid::new_v4().simple().to_string()),
            ("x-acs-content-sha256".into(), body_hash.clone()),
            ("accept".into(), "application/json".into()),
        ];
        if let Some(ct) = content_type {
            headers.push(("content-type".into(), ct.into()));
        }
        if let Some(t) = &creds.security_token {
            headers.push(("x-acs-security-token".into(), t.expose().to_owned()));
        }
        let signed = default_signed_headers(&headers);
        let (canonical, names) = canonical_request(
            request.method.as_str(),
            &request.path,
            &request.query,
            &headers,
            &signed,
            &body_hash,
        );
        let signature = sign_v3(creds.access_key_secret.expose(), &string_to_sign_v3(&canonical));
        let mut url = format!("{}{}", self.endpoint, request.path);
        if !request.query.is_empty() {
            url.push('?');
            url.push_str(&encode_form(&request.query));
        }
        let mut req = self.http.request(request.method.clone(), url);
        for (k, v) in headers.iter().filter(|(k, _)| k != "host") {
            req = req.header(k.as_str(), v.as_str());
        }
        if !self.credentials.is_anonymous() {
            let authorization = authorization_v3(&creds.access_key_id, &names, &signature);
            req = req.header("authorization", authorization);
        }
        req = req.body(body);
        let transport = |e: reqwest::Error| transport_error(&request.action, &self.endpoint, &e);
        let resp = req.send().await.map_err(transport)?;
        let status = resp.status().as_u16();
        let retry_after = retry_hint(resp.headers());
        // ROA answers carry it in a header; RPC ones (and ROA errors) in the body.
        let header_id =
            resp.headers().get("x-acs-request-id").and_then(|v| v.to_str().ok()).map(str::to_owned);
        let text = resp.text().await.map_err(transport)?;
        let json: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(
            |_| serde_json::json!({ "Message": text.chars().take(300).collect::<String>() }),
        );
        let id = request_id(&json).map(str::to_owned).or(header_id);
        if (200..300).contains(&status) {
            return Ok((status, json, id));
        }
        let mut e = answer_error(&request.action, status, &json, self.classifier);
        if e.request_id.is_none() {
            e.request_id = id;
        }
        Err(e.with_retry_after(retry_after))
    }
}

/// The error an error answer stands for: its code (`Code`/`code`), message and request id, in the
/// two spellings RPC and ROA products use.
pub fn answer_error(
    action: &str,
    status: u16,
    json: &serde_json::Value,
    classifier: Classifier,
) -> ProviderError {
    let field = |a: &str, b: &str| {
        json.get(a).or_else(|| json.get(b)).and_then(|v| v.as_str()).map(str::to_owned)
    };
    let code = field("Code", "code").unwrap_or_else(|| format!("HTTP{status}"));
    let message = field("Message", "message").unwrap_or_else(|| format!("HTTP status {status}"));
    let e = ProviderError::new(classifier(status, &code), code, format!("{action}: {message}"));
    match request_id(json) {
        Some(id) => e.with_request_id(id),
        None => e,
    }
}

/// The request id of an answer (`RequestId` in RPC answers, `requestId` in ROA ones).
pub fn request_id(json: &serde_json::Value) -> Option<&str> {
    json.get("RequestId").or_else(|| json.get("requestId")).and_then(|v| v.as_str())
}

/// The HTTP client every Alibaba Cloud call uses: rustls, meshform's user agent, bounded timeouts.
pub(crate) fn http_client(timeout: Duration) -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(Duration::from_secs(10).min(timeout))
        .user_agent(concat!("meshform/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))
}

/// The request may or may not have reached the server (timeout, reset): always worth another try.
pub(crate) fn transport_error(action: &str, endpoint: &str, e: &reqwest::Error) -> ProviderError {
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

/// How long the server asked us to wait: the largest `TimeLeft` (milliseconds) of the
/// `x-ratelimit-user*` headers, or `x-acs-retry-after` (seconds).
fn retry_hint(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let time_left = headers
        .iter()
        .filter(|(k, _)| k.as_str().starts_with("x-ratelimit-user"))
        .filter_map(|(_, v)| v.to_str().ok())
        .filter_map(|v| {
            v.split(',')
                .find_map(|p| p.trim().strip_prefix("TimeLeft:"))
                .and_then(|n| n.trim().parse::<u64>().ok())
        })
        .max()
        .map(Duration::from_millis);
    let retry_after = headers
        .get("x-acs-retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|s| *s > 0)
        .map(Duration::from_secs);
    time_left.max(retry_after)
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
#[path = "client_tests.rs"]
mod tests;
