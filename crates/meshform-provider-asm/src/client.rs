//! The ASM OpenAPI client: RPC calls signed with ACS3-HMAC-SHA256, JSON responses, errors with their
//! request ids, and retries with exponential backoff and jitter on throttling, 5xx and transport errors
//! (honouring the `x-ratelimit-*` `TimeLeft` hint), never on validation errors.

use std::time::Duration;

use meshform_acs as acs;
use meshform_provider::ProviderError;

use crate::credentials::Credentials;

/// The API version this client speaks.
pub const VERSION: &str = "2020-01-11";

/// How a call may be retried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Retry {
    /// Safe to repeat (reads, and writes that set a state).
    Idempotent,
    /// Not safe to repeat blindly (a create): the caller checks whether it happened first.
    Once,
}

/// An error from the API (or from reaching it).
#[derive(Clone, Debug)]
pub struct ApiError {
    pub status: u16,
    pub code: String,
    pub message: String,
    pub request_id: Option<String>,
    /// Server hint of how long to wait (`TimeLeft`).
    pub retry_after: Option<Duration>,
    /// The request may or may not have reached the server (timeout, reset).
    pub transport: bool,
}

impl ApiError {
    pub fn is_retryable(&self) -> bool {
        self.transport
            || self.status >= 500
            || self.code.starts_with("Throttling")
            || self.code == "ServiceUnavailable"
    }

    pub fn is_not_found(&self) -> bool {
        matches!(self.code.as_str(), "ERR404" | "ServiceMesh.NotFound" | "NotFound")
            || self.code.ends_with(".NotFound") && !self.code.starts_with("InvalidAccessKeyId")
    }

    /// As a provider error naming the action.
    pub fn into_provider(self, action: &str) -> ProviderError {
        let mut e = ProviderError::new(self.code.clone(), format!("{action}: {}", self.message));
        e.retryable = self.is_retryable();
        if let Some(id) = self.request_id {
            e = e.with_request_id(id);
        }
        e
    }
}

/// A configured client for one endpoint and set of credentials.
#[derive(Clone, Debug)]
pub struct AsmClient {
    http: reqwest::Client,
    /// `https://servicemesh.aliyuncs.com` or an override such as `http://127.0.0.1:40123`.
    endpoint: String,
    host: String,
    creds: Credentials,
    max_retries: u32,
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
        Ok(AsmClient { http, endpoint, host, creds, max_retries })
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Calls an action with form parameters (POST), retrying as `retry` allows.
    pub async fn call(
        &self,
        action: &str,
        params: &[(String, String)],
        retry: Retry,
    ) -> Result<serde_json::Value, ApiError> {
        let mut attempt = 0u32;
        loop {
            match self.call_once(action, params).await {
                Ok(v) => return Ok(v),
                Err(e)
                    if e.is_retryable()
                        && retry == Retry::Idempotent
                        && attempt < self.max_retries =>
                {
                    tokio::time::sleep(backoff(attempt, e.retry_after)).await;
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// One signed request.
    pub async fn call_once(
        &self,
        action: &str,
        params: &[(String, String)],
    ) -> Result<serde_json::Value, ApiError> {
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
        let resp = req.send().await.map_err(|e| transport_error(&self.endpoint, &e))?;
        let status = resp.status().as_u16();
        let retry_after = rate_limit_wait(resp.headers());
        let text = resp.text().await.map_err(|e| transport_error(&self.endpoint, &e))?;
        let json: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(
            |_| serde_json::json!({ "Message": text.chars().take(300).collect::<String>() }),
        );
        if (200..300).contains(&status) {
            return Ok(json);
        }
        let field = |a: &str, b: &str| {
            json.get(a).or_else(|| json.get(b)).and_then(|v| v.as_str()).map(str::to_owned)
        };
        Err(ApiError {
            status,
            code: field("Code", "code").unwrap_or_else(|| format!("HTTP{status}")),
            message: field("Message", "message").unwrap_or_else(|| format!("HTTP status {status}")),
            request_id: field("RequestId", "requestId"),
            retry_after,
            transport: false,
        })
    }
}

fn transport_error(endpoint: &str, e: &reqwest::Error) -> ApiError {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "failed"
    };
    ApiError {
        status: 0,
        code: "TransportError".into(),
        message: format!("the request to {endpoint} {what}: {e}"),
        request_id: None,
        retry_after: None,
        transport: true,
    }
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

/// Exponential backoff with jitter: 0.5 s, 1 s, 2 s, … capped at 20 s; at least the server's hint.
pub fn backoff(attempt: u32, hint: Option<Duration>) -> Duration {
    let base = Duration::from_millis(500)
        .saturating_mul(1u32 << attempt.min(6))
        .min(Duration::from_secs(20));
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let jitter = base.mul_f64(f64::from(nanos % 1000) / 2000.0);
    let d = base / 2 + jitter;
    match hint {
        Some(h) if h > d => h.min(Duration::from_secs(60)),
        _ => d,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_respects_hints() {
        assert!(backoff(0, None) <= Duration::from_millis(500));
        assert!(backoff(5, None) >= Duration::from_secs(8));
        assert!(backoff(20, None) <= Duration::from_secs(20));
        assert_eq!(backoff(0, Some(Duration::from_secs(3))), Duration::from_secs(3));
    }

    #[test]
    fn rate_limit_headers() {
        let mut h = reqwest::header::HeaderMap::new();
        h.insert("x-ratelimit-user", "Limit:1,Remain:0,TimeLeft:2000,Reset:1".parse().unwrap());
        h.insert("x-ratelimit-user-api", "Limit:1,Remain:0,TimeLeft:3500,Reset:1".parse().unwrap());
        assert_eq!(rate_limit_wait(&h), Some(Duration::from_millis(3500)));
    }

    #[test]
    fn error_classification() {
        let e = |status: u16, code: &str| ApiError {
            status,
            code: code.into(),
            message: String::new(),
            request_id: None,
            retry_after: None,
            transport: false,
        };
        assert!(e(429, "Throttling.User").is_retryable());
        assert!(e(503, "ServiceUnavailable").is_retryable());
        assert!(!e(400, "InvalidParameter").is_retryable());
        assert!(e(404, "ERR404").is_not_found());
        assert!(!e(404, "InvalidAccessKeyId.NotFound").is_not_found());
    }
}
