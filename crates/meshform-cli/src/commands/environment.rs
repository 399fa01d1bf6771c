//! The lines a plan starts with, naming the environment it acts on: each provider instance's
//! settings that say where it works ([`ENVIRONMENT_SETTINGS`], from the configuration), and — for
//! a provider block that names no endpoint — the endpoint its provider takes from the environment
//! (`ALIBABA_CLOUD_SERVICEMESH_ENDPOINT`, `ALIBABA_CLOUD_CS_ENDPOINT`), so a configuration that
//! leaves endpoints to the environment still says which one a plan acts on.

use meshform_engine::environment::{provider_environments, ProviderEnvironment};
use meshform_engine::ops::Planned;

use super::ENVIRONMENT_SETTINGS;
use crate::settings::Settings;

/// Which environment variable gives each provider's endpoint.
const ENDPOINT_VARIABLES: &[(&str, &str)] = &[
    ("asm", meshform_provider_asm::ENDPOINT_VARIABLE),
    ("ack", meshform_provider_ack::ENDPOINT_VARIABLE),
];

/// The environment of every provider instance of the plan's configuration, in key order.
pub fn environments(planned: &Planned, settings: &Settings) -> Vec<ProviderEnvironment> {
    let configured = provider_environments(planned, ENVIRONMENT_SETTINGS);
    let mut out = Vec::new();
    for key in planned.loaded.config.providers.keys() {
        let mut env =
            configured.iter().find(|e| e.provider == *key).cloned().unwrap_or_else(|| {
                ProviderEnvironment { provider: key.clone(), settings: Vec::new() }
            });
        let name = key.split('.').next().unwrap_or(key);
        let variable = ENDPOINT_VARIABLES.iter().find(|(p, _)| *p == name).map(|(_, v)| *v);
        let from_env = variable.and_then(|v| {
            settings.provider_env.vars.get(v).filter(|e| !e.is_empty()).map(|e| (v, e))
        });
        if let (Some((variable, endpoint)), false) =
            (from_env, env.settings.iter().any(|(k, _)| k == "endpoint"))
        {
            env.settings
                .insert(0, ("endpoint".to_owned(), format!("{endpoint} (from {variable})")));
        }
        if !env.settings.is_empty() {
            out.push(env);
        }
    }
    out
}
