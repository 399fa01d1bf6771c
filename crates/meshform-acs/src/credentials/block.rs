//! The credential settings every Alibaba Cloud provider block accepts (`access_key_id`, …, an
//! `assume_role` block; docs/alibaba-cloud.md, "Credentials"): their [`schema`], added to a
//! provider's, and [`explicit`], which reads them from a configured block for [`super::chain`].
//! One definition for the `asm` and `ack` providers.

use meshform_core::schema::{Attribute, BlockNesting, NestedBlock, Schema};
use meshform_core::{Type, Value};
use meshform_provider::{ProviderError, ProviderResult};

use super::{AssumeRoleSettings, ExplicitCredentials};

fn s() -> Type {
    Type::String
}

/// The credential settings every Alibaba Cloud provider block accepts (docs/alibaba-cloud.md,
/// "Credentials"), added to `schema`.
pub fn schema(schema: Schema) -> Schema {
    let assume_role = Schema::new(
        "A RAM role to assume (STS AssumeRole) with the credentials found.",
    )
    .attr("role_arn", Attribute::required(s(), "acs:ram::<account id>:role/<role name>."))
    .attr(
        "session_name",
        Attribute::optional(
            s(),
            "Role session name (default ALIBABA_CLOUD_ROLE_SESSION_NAME, else meshform).",
        ),
    )
    .attr(
        "duration",
        Attribute::optional(
            Type::Number,
            "Session lifetime in seconds, 900 to 43200 (default 3600); refreshed before it ends.",
        ),
    )
    .attr("policy", Attribute::optional(s(), "A policy (JSON) narrowing what the session may do."))
    .attr(
        "external_id",
        Attribute::optional(s(), "The external id the role's trust policy requires."),
    );
    schema
        .attr("access_key_id", Attribute::optional(s(), "AccessKey id (else the environment, OIDC/RRSA, the aliyun CLI profile, the ECS instance RAM role: see docs/alibaba-cloud.md)."))
        .attr("access_key_secret", Attribute::optional(s(), "AccessKey secret.").sensitive())
        .attr("security_token", Attribute::optional(s(), "STS token issued with that AccessKey.").sensitive())
        .attr("profile", Attribute::optional(s(), "aliyun CLI profile name (else ALIBABA_CLOUD_PROFILE, else the current one)."))
        .attr("config_file", Attribute::optional(s(), "aliyun CLI config file (default ALIBABA_CLOUD_CONFIG_FILE, else ~/.aliyun/config.json)."))
        .attr("sts_endpoint", Attribute::optional(s(), "STS endpoint, a host or a URL (default ALIBABA_CLOUD_STS_ENDPOINT, else sts.aliyuncs.com or sts.<ALIBABA_CLOUD_STS_REGION>.aliyuncs.com)."))
        .block("assume_role", NestedBlock { nesting: BlockNesting::Single, schema: assume_role, min_items: 0, max_items: Some(1), force_new: false })
}

/// The credential settings of a provider block (its [`schema`]).
pub fn explicit(config: &Value) -> ProviderResult<ExplicitCredentials> {
    let s = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
    let assume_role = match config.get("assume_role").filter(|v| !v.is_null()) {
        None => None,
        Some(b) => Some(AssumeRoleSettings {
            role_arn: s(b, "role_arn").unwrap_or_default(),
            session_name: s(b, "session_name"),
            duration: match b.get("duration").and_then(Value::as_number) {
                None => None,
                Some(n) if n.as_u64().is_some_and(|u| u32::try_from(u).is_ok()) => {
                    n.as_u64().and_then(|u| u32::try_from(u).ok())
                }
                Some(n) => {
                    return Err(ProviderError::invalid_config(
                        "assume_role",
                        format!("assume_role.duration: {n} is not a whole number of seconds"),
                    ))
                }
            },
            policy: s(b, "policy"),
            external_id: s(b, "external_id"),
        }),
    };
    Ok(ExplicitCredentials {
        access_key_id: s(config, "access_key_id"),
        access_key_secret: s(config, "access_key_secret"),
        security_token: s(config, "security_token"),
        profile: s(config, "profile"),
        config_file: s(config, "config_file").map(Into::into),
        assume_role,
        sts_endpoint: s(config, "sts_endpoint"),
    })
}
