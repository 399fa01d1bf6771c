//! Static credentials as Alibaba Cloud users keep them: the provider block, `ALIBABA_CLOUD_*`
//! environment variables, or a profile of the `aliyun` CLI's `~/.aliyun/config.json`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::{Credentials, Secret};

/// What the CLI passes from the user's environment (libraries never read it themselves).
#[derive(Clone, Debug, Default)]
pub struct ProviderEnv {
    /// `ALIBABA_CLOUD_ACCESS_KEY_ID`, `ALIBABA_CLOUD_ACCESS_KEY_SECRET`, `ALIBABA_CLOUD_SECURITY_TOKEN`,
    /// `ALIBABA_CLOUD_PROFILE`, … by name.
    pub vars: BTreeMap<String, String>,
    /// The user's home directory, where `.aliyun/config.json` lives.
    pub home: Option<PathBuf>,
}

/// Explicit settings from the provider block.
#[derive(Clone, Debug, Default)]
pub struct ExplicitCredentials {
    pub access_key_id: Option<String>,
    pub access_key_secret: Option<String>,
    pub security_token: Option<String>,
    pub profile: Option<String>,
    pub config_file: Option<PathBuf>,
}

/// Resolves credentials: provider block, then environment, then the CLI profile file.
pub fn resolve(explicit: &ExplicitCredentials, env: &ProviderEnv) -> Result<Credentials, String> {
    if let (Some(id), Some(secret)) = (&explicit.access_key_id, &explicit.access_key_secret) {
        return Ok(Credentials::access_key(
            id.clone(),
            secret.clone(),
            explicit.security_token.clone(),
            "the provider block",
        ));
    }
    if explicit.access_key_id.is_some() != explicit.access_key_secret.is_some() {
        return Err(
            "set both access_key_id and access_key_secret in the provider block, or neither".into(),
        );
    }
    let var = |k: &str| env.vars.get(k).filter(|v| !v.is_empty()).cloned();
    if explicit.profile.is_none() {
        if let (Some(id), Some(secret)) =
            (var("ALIBABA_CLOUD_ACCESS_KEY_ID"), var("ALIBABA_CLOUD_ACCESS_KEY_SECRET"))
        {
            return Ok(Credentials::access_key(
                id,
                secret,
                var("ALIBABA_CLOUD_SECURITY_TOKEN"),
                "the environment (ALIBABA_CLOUD_ACCESS_KEY_ID)",
            ));
        }
    }
    let file = explicit
        .config_file
        .clone()
        .or_else(|| env.home.as_ref().map(|h| h.join(".aliyun").join("config.json")));
    let Some(file) = file else {
        return Err(no_credentials());
    };
    let text = match std::fs::read_to_string(&file) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(no_credentials()),
        Err(e) => return Err(format!("cannot read {}: {e}", file.display())),
    };
    from_profile_file(
        &text,
        explicit.profile.clone().or_else(|| var("ALIBABA_CLOUD_PROFILE")).as_deref(),
    )
    .map_err(|e| format!("{}: {e}", file.display()))
}

fn no_credentials() -> String {
    "no Alibaba Cloud credentials: set access_key_id and access_key_secret in the provider block, export ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET, or configure a profile with `aliyun configure`".into()
}

/// Reads a profile from the `aliyun` CLI's config file (`current` when none is named).
pub fn from_profile_file(text: &str, profile: Option<&str>) -> Result<Credentials, String> {
    let doc: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?;
    let name = profile
        .map(str::to_owned)
        .or_else(|| doc.get("current").and_then(|c| c.as_str()).map(str::to_owned))
        .unwrap_or_else(|| "default".into());
    let profiles = doc.get("profiles").and_then(|p| p.as_array()).cloned().unwrap_or_default();
    let p = profiles
        .iter()
        .find(|p| p.get("name").and_then(|n| n.as_str()) == Some(name.as_str()))
        .ok_or_else(|| {
            let names: Vec<&str> =
                profiles.iter().filter_map(|p| p.get("name").and_then(|n| n.as_str())).collect();
            format!("no profile named {name:?} (profiles: {})", names.join(", "))
        })?;
    let mode = p.get("mode").and_then(|m| m.as_str()).unwrap_or("AK");
    let field =
        |k: &str| p.get(k).and_then(|v| v.as_str()).filter(|v| !v.is_empty()).map(str::to_owned);
    let (Some(id), Some(secret)) = (field("access_key_id"), field("access_key_secret")) else {
        return Err(format!("profile {name:?} (mode {mode}) has no access_key_id/access_key_secret; meshform supports the AK and StsToken modes"));
    };
    let token = match mode {
        "AK" => None,
        "StsToken" => Some(Secret::new(field("sts_token").ok_or_else(|| format!("profile {name:?} is StsToken but has no sts_token"))?)),
        other => return Err(format!("profile {name:?} uses mode {other}, which meshform does not support; use AK or StsToken")),
    };
    Ok(Credentials {
        access_key_id: id,
        access_key_secret: Secret::new(secret),
        security_token: token,
        expiration: None,
        source: format!("aliyun profile {name:?}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence_block_then_env_then_profile() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(".aliyun")).unwrap();
        std::fs::write(
            dir.path().join(".aliyun/config.json"),
            r#"{"current":"dev","profiles":[{"name":"dev","mode":"AK","access_key_id":"p-id","access_key_secret":"p-secret"},{"name":"sts","mode":"StsToken","access_key_id":"s","access_key_secret":"t","sts_token":"tok"}]}"#,
        )
        .unwrap();
        let mut env = ProviderEnv { vars: BTreeMap::new(), home: Some(dir.path().to_path_buf()) };
        assert_eq!(resolve(&ExplicitCredentials::default(), &env).unwrap().access_key_id, "p-id");
        env.vars.insert("ALIBABA_CLOUD_PROFILE".into(), "sts".into());
        let c = resolve(&ExplicitCredentials::default(), &env).unwrap();
        assert_eq!(c.security_token.unwrap().expose(), "tok");
        env.vars.insert("ALIBABA_CLOUD_ACCESS_KEY_ID".into(), "e-id".into());
        env.vars.insert("ALIBABA_CLOUD_ACCESS_KEY_SECRET".into(), "e-secret".into());
        assert_eq!(resolve(&ExplicitCredentials::default(), &env).unwrap().access_key_id, "e-id");
        let explicit = ExplicitCredentials {
            access_key_id: Some("b".into()),
            access_key_secret: Some("bs".into()),
            ..Default::default()
        };
        let c = resolve(&explicit, &env).unwrap();
        assert_eq!(c.access_key_id, "b");
        assert!(!format!("{c:?}").contains("bs"), "the secret never shows in Debug output");
    }

    #[test]
    fn missing_credentials_say_what_to_do() {
        let e = resolve(&ExplicitCredentials::default(), &ProviderEnv::default()).unwrap_err();
        assert!(e.contains("ALIBABA_CLOUD_ACCESS_KEY_ID"), "{e}");
    }
}
