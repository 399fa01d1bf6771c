//! The emulated account's RAM roles and who may assume them, and the two STS actions over them.
//!
//! | role | trusts |
//! |---|---|
//! | [`OPERATOR_ROLE`] | the account (its AccessKey, or credentials STS issued to it) |
//! | [`CI_ROLE`] | the sandbox's RRSA OIDC provider ([`super::oidc::PROVIDER_NAME`]) |
//! | [`ECS_ROLE`] | the ECS service (the instance metadata service hands out its credentials) |
//! | [`UNTRUSTED_ROLE`] | nobody: assuming it is `NoPermission` |
//!
//! Any other role, or a role of another account, does not exist (`EntityNotExist.Role`).

use sha2::{Digest, Sha256};

use super::{oidc, token, StsOptions};

/// The role an operator (or CI with an AccessKey) assumes.
pub const OPERATOR_ROLE: &str = "meshform-operator";
/// The role CI running in ACK assumes with its service account's OIDC token (RRSA).
pub const CI_ROLE: &str = "meshform-ci";
/// The role attached to the emulated ECS instance.
pub const ECS_ROLE: &str = "meshform-ecs";
/// A role that trusts nobody.
pub const UNTRUSTED_ROLE: &str = "trusts-nobody";

/// The account id of the account an AccessKey belongs to: 16 digits derived from it.
pub fn account_id(access_key_id: &str) -> String {
    let digest = Sha256::digest(access_key_id.as_bytes());
    let n = u64::from_be_bytes(digest[..8].try_into().unwrap_or_default());
    format!("1{:015}", n % 1_000_000_000_000_000)
}

/// A role's ARN in the account.
pub fn role_arn(account_id: &str, role: &str) -> String {
    format!("acs:ram::{account_id}:role/{role}")
}

/// Who asks.
#[derive(Debug)]
pub(crate) enum Caller {
    /// A signed request: the account's AccessKey id, or an `STS.` one it was issued.
    AccessKey(String),
    Oidc {
        provider_arn: String,
        token: String,
    },
}

/// An STS error answer.
pub(crate) use crate::acs_api::AcsError as RoleError;

impl RoleError {
    fn invalid(name: &str, message: String) -> RoleError {
        RoleError::new(400, &format!("InvalidParameter.{name}"), message)
    }
}

/// `AssumeRole` / `AssumeRoleWithOIDC`: the answer, or why not.
pub(crate) fn assume(
    opts: &StsOptions,
    account: &str,
    caller: &Caller,
    param: &dyn Fn(&str) -> Option<String>,
    now_ms: i64,
) -> Result<serde_json::Value, RoleError> {
    let role_arn = param("RoleArn").ok_or_else(|| RoleError::missing("RoleArn"))?;
    let session = param("RoleSessionName").ok_or_else(|| RoleError::missing("RoleSessionName"))?;
    let duration: i64 = match param("DurationSeconds") {
        None => 3600,
        Some(d) => d.trim().parse().map_err(|_| {
            RoleError::invalid(
                "DurationSeconds",
                format!("The parameter DurationSeconds {d:?} is not a number."),
            )
        })?,
    };
    if !(900..=43200).contains(&duration) {
        return Err(RoleError::invalid("DurationSeconds", format!("The DurationSeconds {duration} is out of range: 900 to the role's MaxSessionDuration (3600 by default, up to 43200).")));
    }
    let session_ok = (2..=64).contains(&session.len())
        && session.chars().all(|c| c.is_ascii_alphanumeric() || ".@-_".contains(c));
    if !session_ok {
        return Err(RoleError::invalid("RoleSessionName", "The parameter RoleSessionName is wrongly formed: 2 to 64 characters, letters, digits and . @ - _.".into()));
    }
    if let Some(policy) = param("Policy") {
        if serde_json::from_str::<serde_json::Value>(&policy).map_or(true, |v| !v.is_object()) {
            return Err(RoleError::invalid(
                "PolicyGrammar",
                "The parameter Policy has not passed grammar check.".into(),
            ));
        }
    }
    let (role_account, role) = parse_arn(&role_arn)
        .ok_or_else(|| RoleError::invalid("RoleArn", format!("The parameter RoleArn {role_arn:?} is wrongly formed: acs:ram::<AccountId>:role/<RoleName>.")))?;
    let known = [OPERATOR_ROLE, CI_ROLE, ECS_ROLE, UNTRUSTED_ROLE].contains(&role.as_str());
    if role_account != account || !known {
        return Err(RoleError::new(
            404,
            "EntityNotExist.Role",
            format!("The specified Role not exists: {role_arn}."),
        ));
    }
    let trusted = match caller {
        Caller::AccessKey(ak) => {
            role == OPERATOR_ROLE && (ak == &opts.access_key_id || ak.starts_with("STS."))
        }
        Caller::Oidc { provider_arn, token } => {
            if *provider_arn != oidc::provider_arn(account) {
                return Err(RoleError::new(
                    401,
                    "AuthenticationFail.NoPermission",
                    format!("No such OIDC Provider registered: {provider_arn}."),
                ));
            }
            oidc::verify(&opts.access_key_secret, token, now_ms / 1000)
                .map_err(|(code, m)| RoleError::new(401, code, m))?;
            role == CI_ROLE
        }
    };
    if !trusted {
        let action = match caller {
            Caller::AccessKey(_) => "sts:AssumeRole",
            Caller::Oidc { .. } => "sts:AssumeRoleWithOIDC",
        };
        return Err(RoleError::new(403, "NoPermission", format!("No permission perform {action} on this Role. Maybe you are not authorized to perform {action} or the specified role does not trust you: {role_arn}.")));
    }
    let lifetime_ms = match opts.max_lifetime {
        Some(max) => (duration * 1000).min(i64::try_from(max.as_millis()).unwrap_or(i64::MAX)),
        None => duration * 1000,
    };
    Ok(credentials_answer(&opts.access_key_secret, &role_arn, &session, now_ms + lifetime_ms))
}

/// The answer for credentials of `role_arn` valid until `expires_ms`.
pub(crate) fn credentials_answer(
    account_secret: &str,
    role_arn: &str,
    session: &str,
    expires_ms: i64,
) -> serde_json::Value {
    let (id, secret, token) = token::issue(account_secret, role_arn, expires_ms);
    let role_id = &account_id(role_arn)[..12];
    serde_json::json!({
        "AssumedRoleUser": { "AssumedRoleId": format!("3{role_id}:{session}"), "Arn": format!("{role_arn}/{session}") },
        "Credentials": {
            "AccessKeyId": id,
            "AccessKeySecret": secret,
            "SecurityToken": token,
            "Expiration": iso8601(expires_ms),
        },
    })
}

/// `YYYY-MM-DDThh:mm:ssZ`, rounded down to the second (as STS writes it).
pub(crate) fn iso8601(ms: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    meshform_acs::credentials::iso8601(t)
}

fn parse_arn(arn: &str) -> Option<(String, String)> {
    let rest = arn.strip_prefix("acs:ram::")?;
    let (account, role) = rest.split_once(":role/")?;
    let ok = !account.is_empty() && account.chars().all(|c| c.is_ascii_digit()) && !role.is_empty();
    ok.then(|| (account.to_owned(), role.to_owned()))
}
