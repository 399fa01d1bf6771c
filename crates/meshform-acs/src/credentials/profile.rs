//! Profiles of the aliyun CLI's `~/.aliyun/config.json`, in the modes meshform follows: `AK`,
//! `StsToken`, `RamRoleArn`, `EcsRamRole`, `OIDC` and `ChainableRamRoleArn` (a role assumed with
//! another profile's credentials, to any depth). A profile without a `mode` gets the one the CLI
//! infers from its fields.

use super::chain::Context;
use super::imds::EcsRamRole;
use super::sts::{self, AssumeRole, Oidc, RoleRequest};
use super::{CredentialProvider, Credentials, Source};

/// The modes meshform follows.
pub const MODES: &str = "AK, StsToken, RamRoleArn, EcsRamRole, OIDC, ChainableRamRoleArn";

/// The provider for profile `name` (else the file's `current`, else `default`) of a config file.
pub(crate) fn provider(
    text: &str,
    name: Option<&str>,
    ctx: &Context,
) -> Result<CredentialProvider, String> {
    let doc: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?;
    let name = name
        .map(str::to_owned)
        .or_else(|| {
            doc.get("current").and_then(|c| c.as_str()).filter(|c| !c.is_empty()).map(str::to_owned)
        })
        .unwrap_or_else(|| "default".into());
    let profiles = doc.get("profiles").and_then(|p| p.as_array()).cloned().unwrap_or_default();
    build(&profiles, &name, ctx, &mut Vec::new())
}

/// The credentials of a profile in a static mode (`AK`, `StsToken`); other modes are refused.
pub fn from_profile_file(text: &str, name: Option<&str>) -> Result<Credentials, String> {
    let p = provider(text, name, &Context::default())?;
    p.fixed_credentials().cloned().ok_or_else(|| {
        format!("{} gives temporary credentials, which this caller cannot fetch; use an AK or StsToken profile", p.source())
    })
}

fn build(
    profiles: &[serde_json::Value],
    name: &str,
    ctx: &Context,
    seen: &mut Vec<String>,
) -> Result<CredentialProvider, String> {
    if seen.iter().any(|s| s == name) {
        seen.push(name.to_owned());
        return Err(format!(
            "the profiles' source_profile settings form a loop: {}",
            seen.join(" → ")
        ));
    }
    seen.push(name.to_owned());
    let p = profiles
        .iter()
        .find(|p| p.get("name").and_then(|n| n.as_str()) == Some(name))
        .ok_or_else(|| {
            let names: Vec<&str> =
                profiles.iter().filter_map(|p| p.get("name").and_then(|n| n.as_str())).collect();
            format!("no profile named {name:?} (profiles: {})", names.join(", "))
        })?;
    let field = |k: &str| {
        p.get(k)
            .and_then(|v| match v {
                serde_json::Value::String(s) => Some(s.clone()),
                serde_json::Value::Number(n) => Some(n.to_string()),
                serde_json::Value::Bool(b) => Some(b.to_string()),
                _ => None,
            })
            .filter(|v| !v.is_empty())
    };
    let need = |k: &str, mode: &str| {
        field(k).ok_or_else(|| format!("profile {name:?} (mode {mode}) has no {k}"))
    };
    let mode = field("mode").unwrap_or_else(|| inferred_mode(&field));
    let source = format!("aliyun profile {name:?}");
    let access_key = |mode: &str, token: Option<String>| -> Result<Credentials, String> {
        Ok(Credentials::access_key(
            need("access_key_id", mode)?,
            need("access_key_secret", mode)?,
            token,
            source.clone(),
        ))
    };
    let role = |mode: &str| -> Result<(RoleRequest, String), String> {
        let role_arn = need("ram_role_arn", mode)?;
        sts::check_role_arn(&role_arn)
            .map_err(|e| format!("profile {name:?}: ram_role_arn: {e}"))?;
        let session_name = field("ram_session_name")
            .or_else(|| field("role_session_name"))
            .unwrap_or_else(|| ctx.session_name.clone());
        sts::check_session_name(&session_name)
            .map_err(|e| format!("profile {name:?}: ram_session_name: {e}"))?;
        let duration = match field("expired_seconds") {
            Some(s) => s.parse::<u32>().map_err(|_| {
                format!("profile {name:?}: expired_seconds {s:?} is not a number of seconds")
            })?,
            None => sts::DEFAULT_DURATION,
        };
        sts::check_duration(duration)
            .map_err(|e| format!("profile {name:?}: expired_seconds: {e}"))?;
        let request = RoleRequest {
            role_arn,
            session_name,
            duration,
            policy: field("policy"),
            external_id: field("external_id"),
        };
        let vpc = field("enable_vpc").is_some_and(|v| v == "true") || ctx.vpc;
        let region = field("sts_region").or_else(|| ctx.sts_region.clone());
        let endpoint = ctx.sts_endpoint.clone().or_else(|| field("sts_endpoint"));
        Ok((request, sts::endpoint(endpoint.as_deref(), region.as_deref(), vpc)))
    };
    Ok(match mode.as_str() {
        "AK" => CredentialProvider::fixed(access_key("AK", None)?),
        "StsToken" => {
            CredentialProvider::fixed(access_key("StsToken", Some(need("sts_token", "StsToken")?))?)
        }
        "RamRoleArn" => {
            let base = CredentialProvider::fixed(access_key("RamRoleArn", None)?);
            let (request, endpoint) = role("RamRoleArn")?;
            CredentialProvider::new(Source::AssumeRole(AssumeRole { base, request, endpoint }))
        }
        "ChainableRamRoleArn" => {
            let source_profile = need("source_profile", "ChainableRamRoleArn")?;
            let base = build(profiles, &source_profile, ctx, seen)?;
            let (request, endpoint) = role("ChainableRamRoleArn")?;
            CredentialProvider::new(Source::AssumeRole(AssumeRole { base, request, endpoint }))
        }
        "EcsRamRole" => CredentialProvider::new(Source::EcsRamRole(EcsRamRole {
            role_name: field("ram_role_name"),
            endpoint: ctx.metadata_endpoint.clone(),
            imdsv1_disabled: ctx.imdsv1_disabled,
        })),
        "OIDC" => {
            let (request, endpoint) = role("OIDC")?;
            CredentialProvider::new(Source::Oidc(Oidc {
                request,
                provider_arn: need("oidc_provider_arn", "OIDC")?,
                token_file: need("oidc_token_file", "OIDC")?.into(),
                endpoint,
            }))
        }
        other => {
            return Err(format!(
            "profile {name:?} uses mode {other}, which meshform does not follow (modes: {MODES})"
        ))
        }
    })
}

/// The mode the aliyun CLI infers for a profile without one.
fn inferred_mode(field: &dyn Fn(&str) -> Option<String>) -> String {
    let ak = field("access_key_id").is_some() && field("access_key_secret").is_some();
    match () {
        _ if ak && field("sts_token").is_some() => "StsToken",
        _ if ak && field("ram_role_arn").is_some() => "RamRoleArn",
        _ if ak => "AK",
        _ if field("ram_role_name").is_some() => "EcsRamRole",
        _ if field("oidc_provider_arn").is_some() => "OIDC",
        _ if field("source_profile").is_some() => "ChainableRamRoleArn",
        _ => "AK",
    }
    .to_owned()
}
