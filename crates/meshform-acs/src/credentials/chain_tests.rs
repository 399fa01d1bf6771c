//! Tests of the chain's order and of its messages, without a network (the links that need STS or
//! the metadata service are tested end to end against the sandbox's emulators).

use super::*;

fn env(vars: &[(&str, &str)], home: Option<&std::path::Path>) -> ProviderEnv {
    let mut vars: BTreeMap<String, String> =
        vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    // No metadata service in unit tests: a closed port answers at once.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    vars.entry("ALIBABA_CLOUD_ECS_METADATA_ENDPOINT".into()).or_insert(format!("http://{closed}"));
    ProviderEnv { vars, home: home.map(Into::into) }
}

fn home_with(config: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join(".aliyun")).unwrap();
    std::fs::write(dir.path().join(".aliyun/config.json"), config).unwrap();
    dir
}

const PROFILES: &str = r#"{"current":"dev","profiles":[
  {"name":"dev","mode":"AK","access_key_id":"p-id","access_key_secret":"p-secret"},
  {"name":"sts","mode":"StsToken","access_key_id":"s","access_key_secret":"t","sts_token":"tok"},
  {"name":"ops","mode":"ChainableRamRoleArn","source_profile":"dev","ram_role_arn":"acs:ram::123456789012:role/ops"},
  {"name":"loop-a","mode":"ChainableRamRoleArn","source_profile":"loop-b","ram_role_arn":"acs:ram::1:role/a"},
  {"name":"loop-b","mode":"ChainableRamRoleArn","source_profile":"loop-a","ram_role_arn":"acs:ram::1:role/b"},
  {"name":"sso","mode":"CloudSSO"}]}"#;

#[tokio::test]
async fn the_block_wins_then_the_environment_then_the_profile() {
    let home = home_with(PROFILES);
    let mut e = env(&[], Some(home.path()));
    let none = ExplicitCredentials::default();
    assert_eq!(chain(&none, &e).await.unwrap().source(), "aliyun profile \"dev\"");
    e.vars.insert("ALICLOUD_ACCESS_KEY".into(), "tf-id".into());
    e.vars.insert("ALICLOUD_SECRET_KEY".into(), "tf-secret".into());
    assert_eq!(chain(&none, &e).await.unwrap().source(), "the environment (ALICLOUD_ACCESS_KEY)");
    e.vars.insert("ALIBABA_CLOUD_ACCESS_KEY_ID".into(), "e-id".into());
    e.vars.insert("ALIBABA_CLOUD_ACCESS_KEY_SECRET".into(), "e-secret".into());
    let c = chain(&none, &e).await.unwrap().get().await.unwrap();
    assert_eq!(
        (c.access_key_id.as_str(), c.source.as_str()),
        ("e-id", "the environment (ALIBABA_CLOUD_ACCESS_KEY_ID)")
    );
    let block = ExplicitCredentials {
        access_key_id: Some("b".into()),
        access_key_secret: Some("block-secret".into()),
        ..Default::default()
    };
    let c = chain(&block, &e).await.unwrap().get().await.unwrap();
    assert_eq!(c.access_key_id, "b");
    assert!(!format!("{c:?}").contains("block-secret"), "the secret never shows in Debug output");
    // A profile named in the block is used even with the environment set.
    let named = ExplicitCredentials { profile: Some("sts".into()), ..Default::default() };
    let c = chain(&named, &e).await.unwrap().get().await.unwrap();
    assert_eq!(c.security_token.unwrap().expose(), "tok");
}

#[tokio::test]
async fn nothing_found_lists_what_was_tried_in_order() {
    let e = chain(
        &ExplicitCredentials::default(),
        &env(&[("ALIBABA_CLOUD_ROLE_ARN", "acs:ram::1:role/x")], None),
    )
    .await
    .unwrap_err();
    assert_eq!(e.code, "NoCredentials");
    let m = &e.message;
    let order = [
        "1. the provider block",
        "2. the environment",
        "3. OIDC (RRSA): ALIBABA_CLOUD_OIDC_PROVIDER_ARN, ALIBABA_CLOUD_OIDC_TOKEN_FILE not set",
        "4. the aliyun CLI profile",
        "5. the ECS instance RAM role: EcsRamRole: the metadata service at http://127.0.0.1",
    ];
    let mut at = 0;
    for step in order {
        let found =
            m[at..].find(step).unwrap_or_else(|| panic!("{step:?} after position {at} in:\n{m}"));
        at += found;
    }
    assert!(m.contains("could not be reached"), "{m}");
    assert!(m.contains("docs/alibaba-cloud.md"), "{m}");
}

#[tokio::test]
async fn profiles_in_every_mode_are_understood_and_bad_ones_explained() {
    let home = home_with(PROFILES);
    let e = env(&[("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true")], Some(home.path()));
    let named = |p: &str| ExplicitCredentials { profile: Some(p.into()), ..Default::default() };
    let looped = chain(&named("loop-a"), &e).await.unwrap_err();
    assert!(looped.message.contains("loop-a → loop-b → loop-a"), "{looped}");
    assert_eq!(looped.attribute, Some(vec![PathStep::Key("profile".into())]));
    let sso = chain(&named("sso"), &e).await.unwrap_err();
    assert!(sso.message.contains("mode CloudSSO, which meshform does not follow"), "{sso}");
    let missing = chain(&named("nope"), &e).await.unwrap_err();
    assert!(
        missing.message.contains("no profile named \"nope\" (profiles: dev, sts, ops"),
        "{missing}"
    );
    // A chained role is assumed through STS with the source profile's key: reported as such.
    let ops = chain(
        &named("ops"),
        &ProviderEnv {
            vars: [("ALIBABA_CLOUD_STS_ENDPOINT".to_owned(), "http://127.0.0.1:9".to_owned())]
                .into(),
            ..e.clone()
        },
    )
    .await;
    let ops = ops.unwrap_err();
    assert!(
        ops.message.contains("the aliyun CLI profile: TransportError")
            || ops.message.contains(
                "cannot assume role acs:ram::123456789012:role/ops with aliyun profile \"dev\""
            ),
        "{ops}"
    );
}

#[test]
fn malformed_block_settings_name_their_argument() {
    let arn = ExplicitCredentials {
        assume_role: Some(AssumeRoleSettings {
            role_arn: "arn:aws:iam::1:role/x".into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    let e = check(&arn).unwrap_err();
    assert_eq!(
        e.attribute,
        Some(vec![PathStep::Key("assume_role".into()), PathStep::Key("role_arn".into())])
    );
    assert!(
        e.message
            .starts_with("assume_role.role_arn: \"arn:aws:iam::1:role/x\" is not a RAM role ARN"),
        "{e}"
    );
    let half = ExplicitCredentials { access_key_id: Some("x".into()), ..Default::default() };
    assert_eq!(
        check(&half).unwrap_err().attribute,
        Some(vec![PathStep::Key("access_key_secret".into())])
    );
    let short = ExplicitCredentials {
        assume_role: Some(AssumeRoleSettings {
            role_arn: "acs:ram::1:role/x".into(),
            duration: Some(60),
            ..Default::default()
        }),
        ..Default::default()
    };
    assert!(check(&short).unwrap_err().message.contains("900 to 43200"));
}

#[test]
fn the_static_resolution_refuses_temporary_credentials_with_a_reason() {
    let home = home_with(PROFILES);
    let e = env(&[("ALIBABA_CLOUD_PROFILE", "ops")], Some(home.path()));
    let m = resolve(&ExplicitCredentials::default(), &e).unwrap_err();
    assert!(m.contains("temporary credentials"), "{m}");
    let e = env(&[("ALIBABA_CLOUD_PROFILE", "sts")], Some(home.path()));
    assert_eq!(resolve(&ExplicitCredentials::default(), &e).unwrap().access_key_id, "s");
}
