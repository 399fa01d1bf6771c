//! The ECS instance RAM role: temporary credentials from the instance metadata service
//! (`http://100.100.100.200`), in its hardened mode — a session token from `PUT /latest/api/token`
//! sent with every read — falling back to plain reads when the token cannot be had, unless that
//! fallback is disabled (`ALIBABA_CLOUD_IMDSV1_DISABLED=true`).

use std::time::Duration;

use meshform_provider::{ErrorKind, ProviderError};

use super::sts::credentials_of;
use super::Credentials;

/// Where the metadata service answers on an ECS instance.
pub const DEFAULT_ENDPOINT: &str = "http://100.100.100.200";

/// The lifetime asked for a metadata session token, in seconds.
const TOKEN_TTL: &str = "21600";

/// The ECS instance RAM role.
#[derive(Debug)]
pub struct EcsRamRole {
    /// The role attached to the instance; `None`: asked of the metadata service.
    pub role_name: Option<String>,
    /// The metadata service's base URL.
    pub endpoint: String,
    /// Refuse plain (token-less) reads.
    pub imdsv1_disabled: bool,
}

impl EcsRamRole {
    pub(crate) fn describe(&self) -> String {
        match &self.role_name {
            Some(r) => {
                format!("the ECS instance RAM role {r} (metadata service {})", self.endpoint)
            }
            None => format!("the ECS instance RAM role (metadata service {})", self.endpoint),
        }
    }

    pub(crate) async fn fetch(&self) -> Result<Credentials, ProviderError> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(1))
            .timeout(Duration::from_secs(3))
            .no_proxy()
            .build()
            .map_err(|e| {
                self.error(ErrorKind::Internal, format!("cannot build the HTTP client: {e}"))
            })?;
        let token = self.token(&http).await?;
        let role = match &self.role_name {
            Some(r) => r.clone(),
            None => {
                let listed =
                    self.get(&http, "/latest/meta-data/ram/security-credentials/", &token).await?;
                let role = listed.lines().next().unwrap_or_default().trim().to_owned();
                if role.is_empty() {
                    return Err(self.error(ErrorKind::Unauthorized, "the instance has no RAM role attached (attach one in the ECS console, or set ALIBABA_CLOUD_ECS_METADATA to its name)".into()));
                }
                role
            }
        };
        let text = self
            .get(&http, &format!("/latest/meta-data/ram/security-credentials/{role}"), &token)
            .await?;
        let answer: serde_json::Value = serde_json::from_str(&text).map_err(|_| {
            self.error(ErrorKind::Internal, format!("the credentials of role {role} are not JSON"))
        })?;
        if answer.get("Code").and_then(|c| c.as_str()) != Some("Success") {
            return Err(self.error(
                ErrorKind::Unauthorized,
                format!(
                    "the metadata service refused the credentials of role {role} (Code {})",
                    answer.get("Code").cloned().unwrap_or_default()
                ),
            ));
        }
        credentials_of(&answer, &format!("the ECS instance RAM role {role}"))
    }

    /// A session token, or `None` when the service gives none and plain reads are allowed.
    async fn token(&self, http: &reqwest::Client) -> Result<Option<String>, ProviderError> {
        let answer = http
            .put(format!("{}/latest/api/token", self.endpoint))
            .header("x-aliyun-ecs-metadata-token-ttl-seconds", TOKEN_TTL)
            .send()
            .await;
        let problem = match answer {
            Ok(r) if r.status().is_success() => match r.text().await {
                Ok(t) if !t.trim().is_empty() => return Ok(Some(t.trim().to_owned())),
                Ok(_) => "an empty token".to_owned(),
                Err(e) => format!("an unreadable token: {e}"),
            },
            Ok(r) => format!("HTTP {}", r.status().as_u16()),
            Err(e) if self.imdsv1_disabled || e.is_connect() || e.is_timeout() => {
                return Err(self.unreachable(&e));
            }
            Err(e) => e.to_string(),
        };
        if self.imdsv1_disabled {
            return Err(self.error(ErrorKind::Unauthorized, format!("no metadata session token ({problem}), and ALIBABA_CLOUD_IMDSV1_DISABLED=true forbids reads without one")));
        }
        tracing::debug!(target: "meshform::acs", problem = %problem, "no metadata session token; reading without one");
        Ok(None)
    }

    async fn get(
        &self,
        http: &reqwest::Client,
        path: &str,
        token: &Option<String>,
    ) -> Result<String, ProviderError> {
        let mut req = http.get(format!("{}{path}", self.endpoint));
        if let Some(t) = token {
            req = req.header("x-aliyun-ecs-metadata-token", t);
        }
        let r = req.send().await.map_err(|e| self.unreachable(&e))?;
        let status = r.status().as_u16();
        let text = r.text().await.map_err(|e| self.unreachable(&e))?;
        match status {
            200 => Ok(text),
            404 => Err(self.error(
                ErrorKind::Unauthorized,
                format!("{path}: not found (is the role attached to this instance?)"),
            )),
            _ => Err(self.error(
                if status >= 500 { ErrorKind::Unavailable } else { ErrorKind::Unauthorized },
                format!("{path}: HTTP {status}"),
            )),
        }
    }

    fn unreachable(&self, e: &reqwest::Error) -> ProviderError {
        let what = if e.is_timeout() { "did not answer in time" } else { "could not be reached" };
        self.error(ErrorKind::Unavailable, format!("{what} (not on an ECS instance?): {e}"))
    }

    fn error(&self, kind: ErrorKind, message: String) -> ProviderError {
        ProviderError::new(
            kind,
            "EcsRamRole",
            format!("the metadata service at {}: {message}", self.endpoint),
        )
    }
}
