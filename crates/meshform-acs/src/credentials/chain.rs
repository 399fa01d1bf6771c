//! The credential chain: where credentials are looked for, in order — the provider block, the
//! environment (`ALIBABA_CLOUD_*`, then Terraform's `ALICLOUD_*`), OIDC/RRSA, the aliyun CLI profile,
//! the ECS instance RAM role — the first that yields credentials winning (and used alone on every
//! later refresh), an `assume_role` block applied on top of it. When none yields, the error lists
//! every link and why it did not. `docs/alibaba-cloud.md` documents the same order.

use std::collections::BTreeMap;
use std::path::PathBuf;

use meshform_core::PathStep;
use meshform_provider::{ErrorKind, ProviderError};

use super::imds::{self, EcsRamRole};
use super::sts::{self, AssumeRole, Oidc, RoleRequest};
use super::{profile, CredentialProvider, Credentials, Source};

/// What the CLI passes from the user's environment (libraries never read it themselves).
#[derive(Clone, Debug, Default)]
pub struct ProviderEnv {
    /// `ALIBABA_CLOUD_*` and `ALICLOUD_*` variables, by name.
    pub vars: BTreeMap<String, String>,
    /// The user's home directory, where `.aliyun/config.json` lives.
    pub home: Option<PathBuf>,
}

impl ProviderEnv {
    /// The first of `names` set to a non-empty value.
    fn var(&self, names: &[&str]) -> Option<String> {
        names.iter().find_map(|n| self.vars.get(*n).filter(|v| !v.trim().is_empty()).cloned())
    }

    fn flag(&self, name: &str) -> bool {
        self.var(&[name]).is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }
}

/// Explicit settings from a provider block.
#[derive(Clone, Debug, Default)]
pub struct ExplicitCredentials {
    pub access_key_id: Option<String>,
    pub access_key_secret: Option<String>,
    pub security_token: Option<String>,
    /// An aliyun CLI profile to use (it must exist).
    pub profile: Option<String>,
    pub config_file: Option<PathBuf>,
    /// A role to assume with the credentials found.
    pub assume_role: Option<AssumeRoleSettings>,
    /// The STS endpoint (a host or a URL).
    pub sts_endpoint: Option<String>,
}

/// An `assume_role { }` block.
#[derive(Clone, Debug, Default)]
pub struct AssumeRoleSettings {
    pub role_arn: String,
    pub session_name: Option<String>,
    /// Seconds, 900 to 43200 (default 3600).
    pub duration: Option<u32>,
    pub policy: Option<String>,
    pub external_id: Option<String>,
}

/// Settings every link shares: where STS and the metadata service are, the default session name.
#[derive(Clone, Debug)]
pub(crate) struct Context {
    /// An explicit STS endpoint (provider block `sts_endpoint`, else `ALIBABA_CLOUD_STS_ENDPOINT`).
    pub sts_endpoint: Option<String>,
    /// `ALIBABA_CLOUD_STS_REGION`.
    pub sts_region: Option<String>,
    /// `ALIBABA_CLOUD_VPC_ENDPOINT_ENABLED=true`.
    pub vpc: bool,
    /// `ALIBABA_CLOUD_ROLE_SESSION_NAME`, else `meshform`.
    pub session_name: String,
    /// `ALIBABA_CLOUD_ECS_METADATA_ENDPOINT`, else `http://100.100.100.200`.
    pub metadata_endpoint: String,
    /// `ALIBABA_CLOUD_IMDSV1_DISABLED=true`.
    pub imdsv1_disabled: bool,
}

impl Default for Context {
    fn default() -> Context {
        Context {
            sts_endpoint: None,
            sts_region: None,
            vpc: false,
            session_name: "meshform".into(),
            metadata_endpoint: imds::DEFAULT_ENDPOINT.into(),
            imdsv1_disabled: false,
        }
    }
}

impl Context {
    fn new(explicit: &ExplicitCredentials, env: &ProviderEnv) -> Context {
        Context {
            sts_endpoint: explicit
                .sts_endpoint
                .clone()
                .or_else(|| env.var(&["ALIBABA_CLOUD_STS_ENDPOINT"])),
            sts_region: env.var(&["ALIBABA_CLOUD_STS_REGION"]),
            vpc: env.flag("ALIBABA_CLOUD_VPC_ENDPOINT_ENABLED"),
            session_name: env
                .var(&["ALIBABA_CLOUD_ROLE_SESSION_NAME", "ALICLOUD_ASSUME_ROLE_SESSION_NAME"])
                .unwrap_or_else(|| "meshform".into()),
            metadata_endpoint: env
                .var(&["ALIBABA_CLOUD_ECS_METADATA_ENDPOINT"])
                .map(|e| e.trim_end_matches('/').to_owned())
                .unwrap_or_else(|| imds::DEFAULT_ENDPOINT.into()),
            imdsv1_disabled: env.flag("ALIBABA_CLOUD_IMDSV1_DISABLED"),
        }
    }

    fn sts(&self) -> String {
        sts::endpoint(self.sts_endpoint.as_deref(), self.sts_region.as_deref(), self.vpc)
    }
}

/// What one link of the chain made of the settings.
enum Link {
    /// Not configured: why (shown when no link yields).
    Skipped(String),
    Found(CredentialProvider),
}

/// Checks the provider block's settings before anything is sent: each problem names its argument.
pub fn check(explicit: &ExplicitCredentials) -> Result<(), ProviderError> {
    if explicit.access_key_id.is_some() != explicit.access_key_secret.is_some() {
        let missing =
            if explicit.access_key_id.is_some() { "access_key_secret" } else { "access_key_id" };
        return Err(ProviderError::invalid_config(
            missing,
            format!("{missing}: set both access_key_id and access_key_secret, or neither (and let the environment, a profile or the instance's role provide them)"),
        ));
    }
    if explicit.security_token.is_some() && explicit.access_key_id.is_none() {
        return Err(ProviderError::invalid_config(
            "security_token",
            "security_token: an STS token goes with the access_key_id and access_key_secret it was issued with; set them too",
        ));
    }
    if let Some(ar) = &explicit.assume_role {
        let at = |arg: &str, e: String| {
            let mut err = ProviderError::invalid_config(arg, format!("assume_role.{arg}: {e}"));
            err.attribute =
                Some(vec![PathStep::Key("assume_role".into()), PathStep::Key(arg.into())]);
            err
        };
        sts::check_role_arn(&ar.role_arn).map_err(|e| at("role_arn", e))?;
        if let Some(n) = &ar.session_name {
            sts::check_session_name(n).map_err(|e| at("session_name", e))?;
        }
        if let Some(d) = ar.duration {
            sts::check_duration(d).map_err(|e| at("duration", e))?;
        }
        if let Some(p) = &ar.policy {
            serde_json::from_str::<serde_json::Value>(p)
                .map_err(|e| at("policy", format!("not a JSON policy document: {e}")))?;
        }
    }
    Ok(())
}

/// The credentials a provider configured with `explicit` uses: the first link of the chain that
/// yields credentials (temporary ones are fetched once here, so a role that cannot be assumed is
/// reported when the provider is configured), with the `assume_role` block applied on top.
pub async fn chain(
    explicit: &ExplicitCredentials,
    env: &ProviderEnv,
) -> Result<CredentialProvider, ProviderError> {
    check(explicit)?;
    let ctx = Context::new(explicit, env);
    let base = match block(explicit) {
        Some(p) => p,
        None => first_that_yields(explicit, env, &ctx).await?,
    };
    let Some(ar) = &explicit.assume_role else { return Ok(base) };
    let request = RoleRequest {
        role_arn: ar.role_arn.clone(),
        session_name: ar.session_name.clone().unwrap_or_else(|| ctx.session_name.clone()),
        duration: ar.duration.unwrap_or(sts::DEFAULT_DURATION),
        policy: ar.policy.clone(),
        external_id: ar.external_id.clone(),
    };
    let assumed = CredentialProvider::new(Source::AssumeRole(AssumeRole {
        base,
        request,
        endpoint: ctx.sts(),
    }));
    assumed.get().await.map_err(|mut e| {
        e.attribute =
            Some(vec![PathStep::Key("assume_role".into()), PathStep::Key("role_arn".into())]);
        e
    })?;
    Ok(assumed)
}

/// The provider block's AccessKey, when it sets one.
fn block(explicit: &ExplicitCredentials) -> Option<CredentialProvider> {
    let (Some(id), Some(secret)) = (&explicit.access_key_id, &explicit.access_key_secret) else {
        return None;
    };
    Some(CredentialProvider::fixed(Credentials::access_key(
        id.clone(),
        secret.clone(),
        explicit.security_token.clone(),
        "the provider block",
    )))
}

async fn first_that_yields(
    explicit: &ExplicitCredentials,
    env: &ProviderEnv,
    ctx: &Context,
) -> Result<CredentialProvider, ProviderError> {
    let mut tried =
        vec!["the provider block: access_key_id and access_key_secret are not set".to_owned()];
    let links: [(&str, Result<Link, ProviderError>); 4] = [
        ("the environment", environment(explicit, env)),
        ("OIDC (RRSA)", oidc(env, ctx)),
        ("the aliyun CLI profile", cli_profile(explicit, env, ctx)),
        ("the ECS instance RAM role", ecs_ram_role(env, ctx)),
    ];
    for (name, link) in links {
        match link? {
            Link::Skipped(why) => tried.push(format!("{name}: {why}")),
            Link::Found(p) => match p.get().await {
                Ok(_) => return Ok(p),
                Err(e) => tried.push(format!("{name}: {e}")),
            },
        }
    }
    let list: String =
        tried.iter().enumerate().map(|(i, t)| format!("\n  {}. {t}", i + 1)).collect();
    Err(ProviderError::new(
        ErrorKind::Unauthorized,
        "NoCredentials",
        format!("no Alibaba Cloud credentials found; tried, in order:{list}\nSet access_key_id and access_key_secret (or an assume_role block) in the provider block, export ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET, configure a profile with `aliyun configure`, or run where a RAM role is attached (RRSA, an ECS instance); see docs/alibaba-cloud.md"),
    ))
}

fn environment(explicit: &ExplicitCredentials, env: &ProviderEnv) -> Result<Link, ProviderError> {
    if explicit.profile.is_some() {
        return Ok(Link::Skipped("not looked at: the provider block names a profile".into()));
    }
    for (id, secret, token) in [
        (
            "ALIBABA_CLOUD_ACCESS_KEY_ID",
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
            "ALIBABA_CLOUD_SECURITY_TOKEN",
        ),
        ("ALICLOUD_ACCESS_KEY", "ALICLOUD_SECRET_KEY", "ALICLOUD_SECURITY_TOKEN"),
    ] {
        match (env.var(&[id]), env.var(&[secret])) {
            (Some(i), Some(s)) => {
                return Ok(Link::Found(CredentialProvider::fixed(Credentials::access_key(
                    i,
                    s,
                    env.var(&[token]),
                    format!("the environment ({id})"),
                ))))
            }
            (Some(_), None) => {
                return Ok(Link::Skipped(format!("{id} is set but {secret} is not")))
            }
            (None, Some(_)) => {
                return Ok(Link::Skipped(format!("{secret} is set but {id} is not")))
            }
            (None, None) => {}
        }
    }
    Ok(Link::Skipped("ALIBABA_CLOUD_ACCESS_KEY_ID/ALIBABA_CLOUD_ACCESS_KEY_SECRET (or ALICLOUD_ACCESS_KEY/ALICLOUD_SECRET_KEY) are not set".into()))
}

fn oidc(env: &ProviderEnv, ctx: &Context) -> Result<Link, ProviderError> {
    let names = [
        "ALIBABA_CLOUD_ROLE_ARN",
        "ALIBABA_CLOUD_OIDC_PROVIDER_ARN",
        "ALIBABA_CLOUD_OIDC_TOKEN_FILE",
    ];
    let (Some(role_arn), Some(provider_arn), Some(token_file)) =
        (env.var(&[names[0]]), env.var(&[names[1]]), env.var(&[names[2]]))
    else {
        let unset: Vec<&str> = names.iter().copied().filter(|n| env.var(&[n]).is_none()).collect();
        return Ok(Link::Skipped(format!("{} not set", unset.join(", "))));
    };
    let env_error = |name: &str, e: String| {
        ProviderError::new(ErrorKind::InvalidArgument, "InvalidEnvironment", format!("{name}: {e}"))
    };
    sts::check_role_arn(&role_arn).map_err(|e| env_error("ALIBABA_CLOUD_ROLE_ARN", e))?;
    sts::check_session_name(&ctx.session_name)
        .map_err(|e| env_error("ALIBABA_CLOUD_ROLE_SESSION_NAME", e))?;
    let request = RoleRequest {
        role_arn,
        session_name: ctx.session_name.clone(),
        duration: sts::DEFAULT_DURATION,
        policy: None,
        external_id: None,
    };
    Ok(Link::Found(CredentialProvider::new(Source::Oidc(Oidc {
        request,
        provider_arn,
        token_file: token_file.into(),
        endpoint: ctx.sts(),
    }))))
}

fn cli_profile(
    explicit: &ExplicitCredentials,
    env: &ProviderEnv,
    ctx: &Context,
) -> Result<Link, ProviderError> {
    if explicit.profile.is_none() && env.flag("ALIBABA_CLOUD_CLI_PROFILE_DISABLED") {
        return Ok(Link::Skipped("disabled by ALIBABA_CLOUD_CLI_PROFILE_DISABLED=true".into()));
    }
    let file = explicit
        .config_file
        .clone()
        .or_else(|| env.var(&["ALIBABA_CLOUD_CONFIG_FILE"]).map(PathBuf::from))
        .or_else(|| env.home.as_ref().map(|h| h.join(".aliyun").join("config.json")));
    let in_block = |attr: &str, message: String| Err(ProviderError::invalid_config(attr, message));
    let Some(file) = file else {
        return Ok(Link::Skipped("no home directory to find .aliyun/config.json in".into()));
    };
    let text = match std::fs::read_to_string(&file) {
        Ok(t) => t,
        Err(e)
            if e.kind() == std::io::ErrorKind::NotFound
                && explicit.config_file.is_none()
                && explicit.profile.is_none() =>
        {
            return Ok(Link::Skipped(format!("{} does not exist", file.display())));
        }
        Err(e) => {
            return in_block(
                "config_file",
                format!("config_file: cannot read {}: {e}", file.display()),
            )
        }
    };
    let name = explicit
        .profile
        .clone()
        .or_else(|| env.var(&["ALIBABA_CLOUD_PROFILE", "ALICLOUD_PROFILE"]));
    match profile::provider(&text, name.as_deref(), ctx) {
        Ok(p) => Ok(Link::Found(p)),
        Err(e) if explicit.profile.is_some() => {
            in_block("profile", format!("profile: {}: {e}", file.display()))
        }
        Err(e) => Ok(Link::Skipped(format!("{}: {e}", file.display()))),
    }
}

fn ecs_ram_role(env: &ProviderEnv, ctx: &Context) -> Result<Link, ProviderError> {
    if env.flag("ALIBABA_CLOUD_ECS_METADATA_DISABLED") {
        return Ok(Link::Skipped("disabled by ALIBABA_CLOUD_ECS_METADATA_DISABLED=true".into()));
    }
    Ok(Link::Found(CredentialProvider::new(Source::EcsRamRole(EcsRamRole {
        role_name: env.var(&["ALIBABA_CLOUD_ECS_METADATA", "ALICLOUD_ECS_ROLE_NAME"]),
        endpoint: ctx.metadata_endpoint.clone(),
        imdsv1_disabled: ctx.imdsv1_disabled,
    }))))
}

/// Long-lived credentials only, without network: the provider block, the environment, or an `AK` or
/// `StsToken` profile — for callers that cannot fetch temporary credentials.
pub fn resolve(explicit: &ExplicitCredentials, env: &ProviderEnv) -> Result<Credentials, String> {
    check(explicit).map_err(|e| e.message)?;
    if let Some(p) = block(explicit) {
        return Ok(p
            .fixed_credentials()
            .cloned()
            .unwrap_or_else(|| unreachable!("a fixed provider")));
    }
    let ctx = Context::new(explicit, env);
    let mut tried = Vec::new();
    for link in [environment(explicit, env), cli_profile(explicit, env, &ctx)] {
        match link.map_err(|e| e.message)? {
            Link::Found(p) => match p.fixed_credentials() {
                Some(c) => return Ok(c.clone()),
                None => tried.push(format!(
                    "{} gives temporary credentials, which need the full chain",
                    p.source()
                )),
            },
            Link::Skipped(why) => tried.push(why),
        }
    }
    Err(format!("no Alibaba Cloud AccessKey: set access_key_id and access_key_secret in the provider block, export ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET, or configure a profile with `aliyun configure` ({})", tried.join("; ")))
}

#[cfg(test)]
#[path = "chain_tests.rs"]
mod tests;
