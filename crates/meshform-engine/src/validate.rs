//! Static validation: configuration against provider schemas, without network or provider calls.

use meshform_config::eval::Scope;
use meshform_config::model::Config;
use meshform_config::suggest::did_you_mean;
use meshform_core::{Diagnostic, Diagnostics, Mode, Value};
use meshform_provider::Registry;

use crate::body::{check_body, eval_body};

/// Every name is unknown: what validation knows of variables and other resources. Constant
/// expressions still evaluate, so a literal of the wrong type is reported before planning.
struct UnknownScope;

static UNKNOWN: Value = Value::Unknown;

impl Scope for UnknownScope {
    fn root(&self, _: &str) -> Option<&Value> {
        Some(&UNKNOWN)
    }
    fn root_names(&self) -> Vec<String> {
        Vec::new()
    }
}

/// Checks every provider block and resource body against the registered providers' schemas, and the
/// values of resource arguments against their types as far as they are known without a plan.
pub fn check_schemas(config: &Config, registry: &Registry) -> Diagnostics {
    let mut diags = Diagnostics::default();
    let providers: Vec<&str> = registry.names().collect();
    for (key, p) in &config.providers {
        match registry.get(&p.name) {
            Some(prov) => {
                check_body(&p.body, &prov.schema().provider, &format!("provider.{key}"), &mut diags)
            }
            None => diags.push(unknown_provider(&p.name, p.span.clone(), &providers)),
        }
    }
    for (addr, r) in &config.resources {
        let name = crate::provider_name(&addr.ty);
        let Some(prov) = registry.get(name) else {
            diags.push(unknown_provider(name, r.type_span.clone(), &providers));
            continue;
        };
        let schema = prov.schema();
        let (types, what) = match addr.mode {
            Mode::Managed => (&schema.resources, "resource type"),
            Mode::Data => (&schema.data_sources, "data source"),
        };
        match types.get(&addr.ty) {
            Some(s) => {
                check_body(&r.body, s, &addr.to_string(), &mut diags);
                eval_body(&r.body, s, &UnknownScope, &config.dir, &mut diags);
            }
            None => {
                let mut d = Diagnostic::error(
                    "meshform::config::unknown_resource_type",
                    format!("provider \"{name}\" has no {what} \"{}\"", addr.ty),
                )
                .with_span(r.type_span.clone(), format!("unknown {what}"));
                d = match did_you_mean(&addr.ty, types.keys().map(String::as_str)) {
                    Some(s) => d.with_help(format!("did you mean `{s}`?")),
                    None => d.with_help(format!(
                        "{what}s of \"{name}\": {}",
                        types.keys().cloned().collect::<Vec<_>>().join(", ")
                    )),
                };
                diags.push(d);
            }
        }
    }
    diags
}

fn unknown_provider(name: &str, span: meshform_core::Span, known: &[&str]) -> Diagnostic {
    let d = Diagnostic::error(
        "meshform::config::unknown_provider",
        format!("unknown provider \"{name}\""),
    )
    .with_span(span, "no such provider");
    match did_you_mean(name, known.iter().copied()) {
        Some(s) => d.with_help(format!("did you mean `{s}`?")),
        None => d.with_help(format!("this meshform knows the providers: {}", known.join(", "))),
    }
}
