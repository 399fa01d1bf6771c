//! Which environment a plan acts on: each provider instance's settings that say where it works (an
//! endpoint, a region, a kubeconfig…), evaluated, for the lines `plan` and `apply` show first. A
//! configuration that selects the sandbox does so explicitly, and these lines say so.

use meshform_config::eval::Evaluator;

use crate::ops::Planned;

/// The environment settings of one provider instance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProviderEnvironment {
    /// The provider instance's key (`kubernetes.cluster_1`).
    pub provider: String,
    /// Each setting shown and its value, in the order the caller named them.
    pub settings: Vec<(String, String)>,
}

/// For each provider instance of the configuration, in key order, the settings among `names` that
/// are configured and evaluate to a string that is not sensitive; instances with none are left out.
///
/// Which settings name an environment is the caller's choice (the binary knows its providers): the
/// engine names no provider and none of their settings.
pub fn provider_environments(planned: &Planned, names: &[&str]) -> Vec<ProviderEnvironment> {
    let config = &planned.loaded.config;
    let mut out = Vec::new();
    for (key, p) in &config.providers {
        let mut settings = Vec::new();
        for name in names {
            let Some(a) = p.body.attrs.get(*name) else { continue };
            let Ok(v) = Evaluator::new(&planned.ctx.values, &a.expr.span.file, &config.dir)
                .eval(&a.expr.node)
            else {
                continue;
            };
            if let (Some(text), false) = (v.as_str(), v.is_sensitive()) {
                settings.push(((*name).to_owned(), text.to_owned()));
            }
        }
        if !settings.is_empty() {
            out.push(ProviderEnvironment { provider: key.clone(), settings });
        }
    }
    out
}
