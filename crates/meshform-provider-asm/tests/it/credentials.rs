//! Every credential mode end to end: the chain resolves against the sandbox's STS and instance
//! metadata emulators, and the credentials it yields sign calls the ASM emulator accepts (the
//! emulators accept temporary credentials only until they expire). Also: refresh of expiring
//! credentials during an apply, a role that cannot be assumed, a metadata service that is down, a
//! malformed `role_arn`.

use std::collections::BTreeMap;
use std::time::Duration;

use meshform_acs::credentials::{chain, CredentialProvider, ExplicitCredentials, ProviderEnv};
use meshform_provider::ErrorKind;
use meshform_provider_asm::client::{AsmClient, Retry};
use meshform_sandbox::asm::FaultSettings;
use meshform_sandbox::metadata::{self, MetadataOptions, MetadataService};
use meshform_sandbox::sts::{self, oidc, roles, StsEmulator, StsOptions};

use crate::harness::{World, KEY_ID, SECRET};

async fn sts_emulator(max_lifetime: Option<Duration>) -> StsEmulator {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let opts =
        StsOptions { access_key_id: KEY_ID.into(), access_key_secret: SECRET.into(), max_lifetime };
    sts::start(listener, opts).await.expect("STS starts")
}

async fn metadata_service(opts: MetadataOptions) -> MetadataService {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    metadata::start(listener, opts).await.expect("metadata service starts")
}

fn env(vars: &[(&str, &str)], home: Option<&std::path::Path>) -> ProviderEnv {
    let mut vars: BTreeMap<String, String> =
        vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    vars.entry("ALIBABA_CLOUD_ECS_METADATA_DISABLED".into()).or_insert_with(|| "true".into());
    ProviderEnv { vars, home: home.map(Into::into) }
}

/// An environment with only the ECS instance metadata service at `endpoint` enabled.
fn metadata_env(endpoint: &str) -> ProviderEnv {
    env(
        &[
            ("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "false"),
            ("ALIBABA_CLOUD_ECS_METADATA_ENDPOINT", endpoint),
        ],
        None,
    )
}

fn operator(sts: &StsEmulator) -> String {
    roles::role_arn(sts.account_id(), roles::OPERATOR_ROLE)
}

/// The provider block's AccessKey, assuming `role_arn` through the STS at `sts_endpoint`.
fn assume_role(role_arn: String, sts_endpoint: String) -> ExplicitCredentials {
    ExplicitCredentials {
        access_key_id: Some(KEY_ID.into()),
        access_key_secret: Some(SECRET.into()),
        assume_role: Some(meshform_acs::credentials::AssumeRoleSettings {
            role_arn,
            ..Default::default()
        }),
        sts_endpoint: Some(sts_endpoint),
        ..Default::default()
    }
}

/// One call to the ASM emulator signed with `creds`.
async fn describe_versions(
    world: &World,
    creds: CredentialProvider,
) -> Result<serde_json::Value, meshform_provider::ProviderError> {
    AsmClient::new(&world.emulator.endpoint(), creds, 0)
        .expect("client")
        .call("DescribeVersions", &[], Retry::Once)
        .await
}

#[tokio::test]
async fn assume_role_oidc_and_the_instance_role_sign_calls_the_emulators_accept() {
    let world = World::start(FaultSettings::default()).await;
    let sts = sts_emulator(None).await;
    let md = metadata_service(MetadataOptions::new(KEY_ID, SECRET)).await;
    // assume_role in the provider block, with the block's AccessKey.
    let explicit = assume_role(operator(&sts), sts.endpoint());
    let p = chain(&explicit, &env(&[], None)).await.expect("role assumed");
    let c = p.get().await.unwrap();
    assert!(
        c.access_key_id.starts_with("STS.") && c.security_token.is_some() && c.expiration.is_some()
    );
    describe_versions(&world, p).await.expect("the ASM emulator accepts the role's credentials");
    // OIDC / RRSA from the environment, as ACK sets it in a pod.
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    std::fs::write(
        &token_file,
        oidc::token(SECRET, "system:serviceaccount:ci:runner", now, now + 3600),
    )
    .unwrap();
    let ci_role = roles::role_arn(sts.account_id(), roles::CI_ROLE);
    let provider_arn = oidc::provider_arn(sts.account_id());
    let rrsa = env(
        &[
            ("ALIBABA_CLOUD_ROLE_ARN", &ci_role),
            ("ALIBABA_CLOUD_OIDC_PROVIDER_ARN", &provider_arn),
            ("ALIBABA_CLOUD_OIDC_TOKEN_FILE", &token_file.display().to_string()),
            ("ALIBABA_CLOUD_STS_ENDPOINT", &sts.endpoint()),
        ],
        None,
    );
    let p = chain(&ExplicitCredentials::default(), &rrsa).await.expect("OIDC role assumed");
    assert!(p.source().contains("assumed with the OIDC token"), "{}", p.source());
    describe_versions(&world, p).await.expect("accepted");
    // An expired service-account token is STS's error, named in the list of what was tried.
    std::fs::write(
        &token_file,
        oidc::token(SECRET, "system:serviceaccount:ci:runner", now - 7200, now - 3600),
    )
    .unwrap();
    let e = chain(&ExplicitCredentials::default(), &rrsa).await.unwrap_err();
    assert!(e.message.contains("3. OIDC (RRSA): AuthenticationFail.OIDCToken.Expired"), "{e}");
    // The ECS instance RAM role, in the enforced hardened mode (a session token on every read).
    let ecs = metadata_env(&md.endpoint());
    let p = chain(&ExplicitCredentials::default(), &ecs).await.expect("instance role");
    assert_eq!(
        p.source(),
        format!("the ECS instance RAM role (metadata service {})", md.endpoint())
    );
    describe_versions(&world, p).await.expect("accepted");
}

#[tokio::test]
async fn every_cli_profile_mode_resolves_against_the_emulators() {
    let world = World::start(FaultSettings::default()).await;
    let sts = sts_emulator(None).await;
    let md = metadata_service(MetadataOptions::new(KEY_ID, SECRET)).await;
    // A real STS token for the StsToken profile.
    let base = assume_role(operator(&sts), sts.endpoint());
    let issued = chain(&base, &env(&[], None)).await.unwrap().get().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("oidc-token");
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    std::fs::write(
        &token_file,
        oidc::token(SECRET, "system:serviceaccount:ci:runner", now, now + 3600),
    )
    .unwrap();
    let config = serde_json::json!({
        "current": "ak",
        "profiles": [
            { "name": "ak", "mode": "AK", "access_key_id": KEY_ID, "access_key_secret": SECRET },
            { "name": "sts-token", "mode": "StsToken", "access_key_id": issued.access_key_id, "access_key_secret": issued.access_key_secret.expose(), "sts_token": issued.security_token.as_ref().unwrap().expose() },
            { "name": "ram", "mode": "RamRoleArn", "access_key_id": KEY_ID, "access_key_secret": SECRET, "ram_role_arn": operator(&sts), "ram_session_name": "ops", "expired_seconds": 900 },
            { "name": "chained", "mode": "ChainableRamRoleArn", "source_profile": "ram", "ram_role_arn": operator(&sts), "ram_session_name": "chained" },
            { "name": "ecs", "mode": "EcsRamRole", "ram_role_name": roles::ECS_ROLE },
            { "name": "oidc", "mode": "OIDC", "ram_role_arn": roles::role_arn(sts.account_id(), roles::CI_ROLE), "oidc_provider_arn": oidc::provider_arn(sts.account_id()), "oidc_token_file": token_file.display().to_string(), "role_session_name": "ci" },
        ]
    });
    std::fs::create_dir_all(dir.path().join(".aliyun")).unwrap();
    std::fs::write(dir.path().join(".aliyun/config.json"), config.to_string()).unwrap();
    let e = env(
        &[
            ("ALIBABA_CLOUD_STS_ENDPOINT", &sts.endpoint()),
            ("ALIBABA_CLOUD_ECS_METADATA_ENDPOINT", &md.endpoint()),
        ],
        Some(dir.path()),
    );
    for (profile, temporary) in [
        ("ak", false),
        ("sts-token", false),
        ("ram", true),
        ("chained", true),
        ("ecs", true),
        ("oidc", true),
    ] {
        let explicit = ExplicitCredentials { profile: Some(profile.into()), ..Default::default() };
        let p = chain(&explicit, &e).await.unwrap_or_else(|e| panic!("profile {profile}: {e}"));
        assert_eq!(p.fixed_credentials().is_none(), temporary, "profile {profile}");
        describe_versions(&world, p).await.unwrap_or_else(|e| panic!("profile {profile}: {e}"));
    }
}

#[tokio::test]
async fn expiring_role_credentials_are_refreshed_during_an_apply() {
    // STS issues credentials living 2 s; ASM's transitions take 2.5 s, so the apply outlives them.
    let sts = sts_emulator(Some(Duration::from_secs(2))).await;
    let world = World::start_with(
        FaultSettings::default(),
        env(&[("ALIBABA_CLOUD_STS_ENDPOINT", &sts.endpoint())], None),
        Duration::from_millis(2500),
    )
    .await;
    world.write(&format!(
        r#"
provider "asm" {{
  endpoint          = "ENDPOINT"
  access_key_id     = "KEY_ID"
  access_key_secret = "SECRET"
  assume_role {{
    role_arn = "{}"
  }}
}}
resource "asm_service_mesh" "m" {{
  name      = "mesh-1"
  region    = "cn-hangzhou"
  vpc_id    = "vpc-1"
  vswitches = ["vsw-1"]
}}
"#,
        operator(&sts)
    ));
    let planned = world.plan(&Default::default()).await;
    let before_apply = sts.issued();
    let started = std::time::Instant::now();
    world.apply(planned).await;
    assert!(started.elapsed() > Duration::from_secs(2), "the apply outlived the first credentials");
    assert!(
        sts.issued() >= before_apply + 2,
        "fetched again during the apply ({} → {})",
        before_apply,
        sts.issued()
    );
    assert_eq!(world.emulator.snapshot().meshes.len(), 1);

    // Credentials that are not refreshed stop working when they expire.
    let explicit = assume_role(operator(&sts), sts.endpoint());
    let stale = chain(&explicit, &env(&[], None)).await.unwrap().get().await.unwrap();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let e = describe_versions(&world, CredentialProvider::fixed(stale)).await.unwrap_err();
    assert_eq!(
        (e.kind, e.code.as_str()),
        (ErrorKind::Unauthorized, "InvalidSecurityToken.Expired"),
        "{e}"
    );
}

#[tokio::test]
async fn a_role_that_cannot_be_assumed_is_one_clear_error_about_role_arn() {
    let sts = sts_emulator(None).await;
    let attempt = |role: String| {
        let sts_endpoint = sts.endpoint();
        async move {
            let explicit = assume_role(role, sts_endpoint);
            chain(&explicit, &env(&[], None)).await.unwrap_err()
        }
    };
    let untrusted = roles::role_arn(sts.account_id(), roles::UNTRUSTED_ROLE);
    let e = attempt(untrusted.clone()).await;
    assert_eq!((e.kind, e.code.as_str()), (ErrorKind::Unauthorized, "NoPermission"));
    assert!(
        e.message.starts_with(&format!(
            "cannot assume role {untrusted} with the provider block through {}",
            sts.endpoint()
        )),
        "{e}"
    );
    assert!(e.message.contains("trust policy"), "says what to check: {e}");
    assert!(e.request_id.is_some(), "the request id is kept");
    assert_eq!(e.attribute.as_ref().map(|a| a.len()), Some(2), "points at assume_role.role_arn");
    let e = attempt("acs:ram::999999999999:role/meshform-operator".into()).await;
    assert_eq!((e.kind, e.code.as_str()), (ErrorKind::NotFound, "EntityNotExist.Role"), "{e}");
    assert!(!e.to_string().contains(SECRET));
    // A malformed ARN never reaches STS.
    let before = sts.issued();
    let e = attempt("meshform-operator".into()).await;
    assert_eq!(e.code, "InvalidConfig");
    assert!(
        e.message.starts_with("assume_role.role_arn: \"meshform-operator\" is not a RAM role ARN"),
        "{e}"
    );
    assert_eq!(sts.issued(), before);
}

#[tokio::test]
async fn a_malformed_role_arn_in_the_configuration_is_one_diagnostic_naming_it() {
    let world = World::start(FaultSettings::default()).await;
    world.write(
        r#"
provider "asm" {
  endpoint          = "ENDPOINT"
  access_key_id     = "KEY_ID"
  access_key_secret = "SECRET"
  assume_role {
    role_arn = "arn:aws:iam::123456789012:role/meshform"
  }
}
data "asm_versions" "v" {}
"#,
    );
    let diags = match meshform_engine::ops::plan(
        &world.ws,
        &meshform_config::vars::VarInputs::default(),
        &Default::default(),
        &meshform_engine::SilentReporter,
    )
    .await
    {
        Err(meshform_engine::ops::PlanError::Diagnostics(d)) => d,
        Err(other) => panic!("{other:?}"),
        Ok(_) => panic!("a malformed role_arn must stop the plan"),
    };
    let errors: Vec<_> = diags.iter().filter(|d| d.is_error()).collect();
    assert_eq!(errors.len(), 1, "one diagnostic: {errors:#?}");
    let d = errors[0];
    assert!(d.summary.contains("assume_role.role_arn: \"arn:aws:iam::123456789012:role/meshform\" is not a RAM role ARN: expected acs:ram::<account id>:role/<role name>"), "{}", d.summary);
    let span = d.span.as_ref().expect("a span");
    assert_eq!(
        span.text(),
        "\"arn:aws:iam::123456789012:role/meshform\"",
        "points at the argument"
    );
}

#[tokio::test]
async fn a_metadata_service_that_is_down_or_refuses_plain_reads_is_reported() {
    // Down: the chain's error names it last, after what else was tried.
    let md = metadata_service(MetadataOptions::new(KEY_ID, SECRET)).await;
    let endpoint = md.endpoint();
    md.shutdown().await;
    let down = metadata_env(&endpoint);
    let e = chain(&ExplicitCredentials::default(), &down).await.unwrap_err();
    assert_eq!(e.code, "NoCredentials");
    assert!(e.message.contains(&format!("5. the ECS instance RAM role: EcsRamRole: the metadata service at {endpoint}: could not be reached")), "{e}");
    // No role attached: said so.
    let md = metadata_service(MetadataOptions {
        role_name: None,
        ..MetadataOptions::new(KEY_ID, SECRET)
    })
    .await;
    let none = metadata_env(&md.endpoint());
    let e = chain(&ExplicitCredentials::default(), &none).await.unwrap_err();
    assert!(e.message.contains("not found (is the role attached to this instance?)"), "{e}");
}
