//! STS (API version 2015-04-01): temporary credentials for a RAM role — `AssumeRole`, signed with
//! other credentials, and `AssumeRoleWithOIDC`, unsigned, with the OIDC token of a Kubernetes service
//! account (ACK's RRSA). Also the checks of what a role request is made of (ARN, session name,
//! duration), so a malformed setting is refused before anything is sent, and the endpoint rule.

use std::path::PathBuf;
use std::time::Duration;

use meshform_provider::{ErrorKind, ProviderError, RetryPolicy};

use super::{parse_iso8601, CredentialProvider, Credentials, Secret};
use crate::client::{AcsClient, Request};

/// STS's API version.
pub const VERSION: &str = "2015-04-01";

/// The global STS endpoint (used when no region or endpoint is given).
pub const DEFAULT_ENDPOINT: &str = "sts.aliyuncs.com";

/// The session lifetime asked for when none is configured, in seconds.
pub const DEFAULT_DURATION: u32 = 3600;

/// The STS endpoint: an explicit one, else `sts.<region>.aliyuncs.com` (`sts-vpc.` with VPC
/// endpoints on), else the global one — the official SDKs' rule.
pub fn endpoint(explicit: Option<&str>, region: Option<&str>, vpc: bool) -> String {
    match (explicit.filter(|e| !e.is_empty()), region.filter(|r| !r.is_empty())) {
        (Some(e), _) => e.to_owned(),
        (None, Some(r)) if vpc => format!("sts-vpc.{r}.aliyuncs.com"),
        (None, Some(r)) => format!("sts.{r}.aliyuncs.com"),
        (None, None) => DEFAULT_ENDPOINT.to_owned(),
    }
}

/// Checks a RAM role ARN: `acs:ram::<account id>:role/<role name>`.
pub fn check_role_arn(arn: &str) -> Result<(), String> {
    let problem = || {
        format!("{arn:?} is not a RAM role ARN: expected acs:ram::<account id>:role/<role name>, e.g. acs:ram::123456789012:role/meshform (the role's ARN is shown on its page in the RAM console)")
    };
    let rest = arn.strip_prefix("acs:ram::").ok_or_else(problem)?;
    let (account, role) = rest.split_once(":role/").ok_or_else(problem)?;
    let account_ok = !account.is_empty() && account.chars().all(|c| c.is_ascii_digit());
    let role_ok = !role.is_empty()
        && role.len() <= 64
        && role.chars().all(|c| c.is_ascii_alphanumeric() || "-_.@/".contains(c));
    if account_ok && role_ok {
        Ok(())
    } else {
        Err(problem())
    }
}

/// Checks a role session name: 2 to 64 letters, digits and `.@-_`.
pub fn check_session_name(name: &str) -> Result<(), String> {
    let ok = (2..=64).contains(&name.len())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || ".@-_".contains(c));
    if ok {
        Ok(())
    } else {
        Err(format!("{name:?} is not a role session name: 2 to 64 letters, digits and . @ - _"))
    }
}

/// Checks a session lifetime: 900 to 43200 seconds (the role's own maximum may be lower).
pub fn check_duration(seconds: u32) -> Result<(), String> {
    if (900..=43200).contains(&seconds) {
        Ok(())
    } else {
        Err(format!(
            "{seconds} is not a session duration: STS issues credentials for 900 to 43200 seconds"
        ))
    }
}

/// What a role is assumed with.
#[derive(Clone, Debug)]
pub struct RoleRequest {
    pub role_arn: String,
    pub session_name: String,
    pub duration: u32,
    /// A policy narrowing what the session may do (JSON).
    pub policy: Option<String>,
    /// The external id the role's trust policy asks for.
    pub external_id: Option<String>,
}

impl RoleRequest {
    fn params(&self) -> Vec<(String, String)> {
        let mut p = vec![
            ("RoleArn".to_owned(), self.role_arn.clone()),
            ("RoleSessionName".to_owned(), self.session_name.clone()),
            ("DurationSeconds".to_owned(), self.duration.to_string()),
        ];
        if let Some(policy) = &self.policy {
            p.push(("Policy".to_owned(), policy.clone()));
        }
        if let Some(id) = &self.external_id {
            p.push(("ExternalId".to_owned(), id.clone()));
        }
        p
    }
}

/// STS `AssumeRole` with the credentials of `base`.
#[derive(Debug)]
pub struct AssumeRole {
    pub base: CredentialProvider,
    pub request: RoleRequest,
    pub endpoint: String,
}

impl AssumeRole {
    pub(crate) fn describe(&self) -> String {
        format!("role {} assumed with {}", self.request.role_arn, self.base.source())
    }

    pub(crate) async fn fetch(&self) -> Result<Credentials, ProviderError> {
        let client = sts_client(&self.endpoint, self.base.clone())?;
        let answer = client.rpc("AssumeRole", &self.request.params()).await.map_err(|e| {
            role_error(e, &self.request.role_arn, &client, &format!("with {}", self.base.source()))
        })?;
        credentials_of(&answer, &self.describe())
    }
}

/// STS `AssumeRoleWithOIDC` with the token in `token_file` (read again on every refresh: the
/// kubelet rotates it).
#[derive(Debug)]
pub struct Oidc {
    pub request: RoleRequest,
    pub provider_arn: String,
    pub token_file: PathBuf,
    pub endpoint: String,
}

impl Oidc {
    pub(crate) fn describe(&self) -> String {
        format!(
            "role {} assumed with the OIDC token in {}",
            self.request.role_arn,
            self.token_file.display()
        )
    }

    pub(crate) async fn fetch(&self) -> Result<Credentials, ProviderError> {
        let token = std::fs::read_to_string(&self.token_file).map_err(|e| {
            ProviderError::new(
                ErrorKind::Unauthorized,
                "OIDCTokenFile",
                format!("cannot read the OIDC token file {}: {e}", self.token_file.display()),
            )
        })?;
        let mut params = self.request.params();
        params.retain(|(k, _)| k != "ExternalId");
        params.push(("OIDCProviderArn".to_owned(), self.provider_arn.clone()));
        params.push(("OIDCToken".to_owned(), token.trim().to_owned()));
        let client = sts_client(&self.endpoint, CredentialProvider::anonymous())?;
        let answer = client
            .call(&Request::rpc("AssumeRoleWithOIDC", &params), client.policy())
            .await
            .map_err(|e| role_error(e, &self.request.role_arn, &client, "with an OIDC token"))?;
        credentials_of(&answer, &self.describe())
    }
}

fn sts_client(endpoint: &str, creds: CredentialProvider) -> Result<AcsClient, ProviderError> {
    let policy = RetryPolicy { base: Duration::from_millis(200), ..RetryPolicy::default() };
    AcsClient::new(endpoint, VERSION, creds)
        .map(|c| c.with_policy(policy.with_max_retries(3)))
        .map_err(|e| ProviderError::new(ErrorKind::InvalidArgument, "InvalidEndpoint", e))
}

/// An STS refusal, saying which role, where and with what.
fn role_error(e: ProviderError, role_arn: &str, client: &AcsClient, with: &str) -> ProviderError {
    let hint = match e.kind {
        ErrorKind::Unauthorized | ErrorKind::NotFound => "; check that the role exists and that its trust policy allows the caller (RAM console → the role → Trust Policy)",
        _ => "",
    };
    ProviderError {
        message: format!(
            "cannot assume role {role_arn} {with} through {}: {}{hint}",
            client.endpoint(),
            e.message
        ),
        ..e
    }
}

/// The `Credentials` of an STS (or metadata service) answer.
pub(crate) fn credentials_of(
    answer: &serde_json::Value,
    source: &str,
) -> Result<Credentials, ProviderError> {
    let c = answer.get("Credentials").unwrap_or(answer);
    let field = |k: &str| c.get(k).and_then(|v| v.as_str()).filter(|v| !v.is_empty());
    let bad = |what: &str| {
        ProviderError::new(
            ErrorKind::Internal,
            "InvalidCredentialsAnswer",
            format!("{source}: the answer has no valid {what}"),
        )
    };
    let expiration =
        field("Expiration").and_then(parse_iso8601).ok_or_else(|| bad("Expiration"))?;
    Ok(Credentials {
        access_key_id: field("AccessKeyId").ok_or_else(|| bad("AccessKeyId"))?.to_owned(),
        access_key_secret: Secret::new(
            field("AccessKeySecret").ok_or_else(|| bad("AccessKeySecret"))?,
        ),
        security_token: Some(Secret::new(
            field("SecurityToken").ok_or_else(|| bad("SecurityToken"))?,
        )),
        expiration: Some(expiration),
        source: source.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_requests_are_checked_before_anything_is_sent() {
        assert!(check_role_arn("acs:ram::123456789012:role/meshform").is_ok());
        for bad in [
            "meshform",
            "acs:ram::abc:role/x",
            "acs:ram::123:user/x",
            "acs:ram::123:role/",
            "arn:aws:iam::1:role/x",
        ] {
            let e = check_role_arn(bad).unwrap_err();
            assert!(e.contains("acs:ram::<account id>:role/<role name>"), "{e}");
        }
        assert!(check_session_name("meshform").is_ok());
        assert!(check_session_name("a").is_err());
        assert!(check_session_name("has space").is_err());
        assert!(check_duration(3600).is_ok());
        assert!(check_duration(60).unwrap_err().contains("900 to 43200"));
    }

    #[test]
    fn the_endpoint_rule() {
        assert_eq!(endpoint(None, None, false), "sts.aliyuncs.com");
        assert_eq!(endpoint(None, Some("cn-beijing"), false), "sts.cn-beijing.aliyuncs.com");
        assert_eq!(endpoint(None, Some("cn-beijing"), true), "sts-vpc.cn-beijing.aliyuncs.com");
        assert_eq!(
            endpoint(Some("https://127.0.0.1:1"), Some("cn-beijing"), true),
            "https://127.0.0.1:1"
        );
    }

    #[test]
    fn an_answer_without_a_strict_expiration_is_refused() {
        let ok = serde_json::json!({"Credentials": {"AccessKeyId": "STS.a", "AccessKeySecret": "s", "SecurityToken": "t", "Expiration": "2030-01-01T00:00:00Z"}});
        let c = credentials_of(&ok, "test").unwrap();
        assert_eq!(c.access_key_id, "STS.a");
        assert!(!format!("{c:?}").contains("\"s\""));
        let mut bad = ok.clone();
        bad["Credentials"]["Expiration"] = "2030-01-01T00:00:00.000+08:00".into();
        assert!(credentials_of(&bad, "test").unwrap_err().message.contains("Expiration"));
    }
}
