//! Static validation: configuration against provider schemas, without network or provider calls.

use std::collections::{BTreeMap, BTreeSet};

use meshform_config::eval::{EmptyScope, Evaluator, Overlay};
use meshform_config::model::{Config, Repetition};
use meshform_config::suggest::did_you_mean;
use meshform_core::{Diagnostic, Diagnostics, InstanceKey, Mode, ProviderSchema, Value};
use meshform_provider::Registry;

use crate::body::{check_body, eval_body};
use crate::graph::{ConfigGraph, Node};
use crate::plan::rollout::unknown_order_keys;
use crate::scope::{evaluate_node, Values};

/// Checks every provider block and resource body against the registered providers' schemas.
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
    // A provider builds its schema on every call: build each once, not once per resource.
    let mut schemas: BTreeMap<&str, ProviderSchema> = BTreeMap::new();
    for (addr, r) in &config.resources {
        let name = meshform_core::implied_provider(&addr.ty);
        let Some(prov) = registry.get(name) else {
            diags.push(unknown_provider(name, r.type_span.clone(), &providers));
            continue;
        };
        let schema = schemas.entry(name).or_insert_with(|| prov.schema());
        let (types, what) = match addr.mode {
            Mode::Managed => (&schema.resources, "resource type"),
            Mode::Data => (&schema.data_sources, "data source"),
        };
        match types.get(&addr.ty) {
            Some(s) => check_body(&r.body, s, &addr.to_string(), &mut diags),
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
    for (name, c) in &config.checks {
        for d in &c.data {
            let pname = meshform_core::implied_provider(&d.addr.ty);
            let Some(prov) = registry.get(pname) else {
                diags.push(unknown_provider(pname, d.type_span.clone(), &providers));
                continue;
            };
            match prov.schema().data_sources.get(&d.addr.ty) {
                Some(s) => check_body(&d.body, s, &format!("check.{name}.{}", d.addr), &mut diags),
                None => diags.push(
                    Diagnostic::error(
                        "meshform::config::unknown_resource_type",
                        format!("provider \"{pname}\" has no data source \"{}\"", d.addr.ty),
                    )
                    .with_span(d.type_span.clone(), "unknown data source")
                    .with_help(
                        "checks read data sources of the configured providers: data \"TYPE\" \"NAME\" { … }",
                    ),
                ),
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

/// Evaluates every expression once with unknown inputs (variables without defaults, resource
/// attributes, `each`, `count`), so that type errors and bad references inside expressions surface in
/// `validate` without any provider call.
pub fn check_values(config: &Config, graph: &ConfigGraph, registry: &Registry) -> Diagnostics {
    let mut diags = Diagnostics::default();
    let mut values = Values::for_config(config);
    let mut schemas: BTreeMap<&str, ProviderSchema> = BTreeMap::new();
    let root = meshform_core::ModulePath::root();
    for node in &graph.order {
        match node {
            Node::Var(m, name) if m.is_root() => {
                let v = &config.variables[name];
                let value = v
                    .default
                    .as_ref()
                    .and_then(|d| {
                        Evaluator::new(&EmptyScope, &d.span.file, &config.dir).eval(&d.node).ok()
                    })
                    .and_then(|x| v.ty.convert(&x).ok())
                    .unwrap_or(Value::Unknown);
                values.set_var(&root, name, value.with_mark(v.sensitive));
            }
            Node::Var(..) | Node::Local(..) => {
                diags.extend(evaluate_node(config, &mut values, node));
            }
            Node::Provider(key) => {
                let name = key.split('.').next().unwrap_or(key);
                if let (Some(def), Some(p)) = (config.providers.get(key), registry.get(name)) {
                    let each = def.each();
                    let scope = Overlay { base: &values, extra: &each };
                    eval_body(&def.body, &p.schema().provider, &scope, &config.dir, &mut diags);
                }
            }
            Node::Resource(addr) => {
                let r = &config.resources[addr];
                let name = meshform_core::implied_provider(&addr.ty);
                let schema = registry.get(name).and_then(|p| {
                    let s = schemas.entry(name).or_insert_with(|| p.schema());
                    match addr.mode {
                        Mode::Managed => s.resources.get(&addr.ty).cloned(),
                        Mode::Data => s.data_sources.get(&addr.ty).cloned(),
                    }
                });
                let mut overlay = BTreeMap::new();
                match &r.repetition {
                    Repetition::Single => {}
                    Repetition::Count(e) | Repetition::ForEach(e) => {
                        let scope = values.scope(&addr.module);
                        match Evaluator::new(scope, &e.span.file, &config.dir).eval(&e.node) {
                            Err(d) => diags.push(d),
                            Ok(v) => {
                                if let (Some(def), Some(keys)) =
                                    (&r.lifecycle.rollout, known_keys(&r.repetition, &v))
                                {
                                    diags.extend(unknown_order_keys(addr, def, &keys));
                                }
                            }
                        }
                        overlay.insert("count".to_owned(), Value::map([("index", Value::Unknown)]));
                        overlay.insert(
                            "each".to_owned(),
                            Value::map([("key", Value::Unknown), ("value", Value::Unknown)]),
                        );
                    }
                }
                let mut shape = Value::Unknown;
                if let Some(schema) = schema {
                    let scope = Overlay { base: values.scope(&addr.module), extra: &overlay };
                    eval_body(&r.body, &schema, &scope, &config.dir, &mut diags);
                    // A single instance gets its attribute names, so that a reference to an attribute
                    // the type does not have is caught here.
                    if matches!(r.repetition, Repetition::Single) {
                        let names = schema.attributes.keys().chain(schema.blocks.keys());
                        shape = Value::Map(names.map(|k| (k.clone(), Value::Unknown)).collect());
                    }
                }
                values.set_resource(addr, shape);
            }
            Node::Output(m, name) if m.is_root() => {
                let o = &config.outputs[name];
                if let Err(d) =
                    Evaluator::new(&values, &o.value.span.file, &config.dir).eval(&o.value.node)
                {
                    diags.push(d);
                }
            }
            Node::Output(..) => diags.extend(evaluate_node(config, &mut values, node)),
            Node::Check(_) => {}
        }
    }
    diags
}

/// The instance keys a `count` or `for_each` value gives, when it is fully known.
fn known_keys(rep: &Repetition, v: &Value) -> Option<BTreeSet<InstanceKey>> {
    if v.contains_unknown() {
        return None;
    }
    match (rep, v.unmarked()) {
        (Repetition::Count(_), x) => {
            let n = x.as_number()?.as_i64().filter(|n| *n >= 0)?;
            Some((0..n).map(InstanceKey::Int).collect())
        }
        (Repetition::ForEach(_), Value::Map(m)) => {
            Some(m.keys().map(|k| InstanceKey::Str(k.clone())).collect())
        }
        (Repetition::ForEach(_), Value::List(l)) => {
            l.iter().map(|x| x.as_str().map(|s| InstanceKey::Str(s.to_owned()))).collect()
        }
        _ => None,
    }
}
