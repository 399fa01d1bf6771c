//! `import` blocks: which instances a plan imports (their `to` not yet in the state) and with which
//! id, evaluated before planning; the import itself happens while planning the instance
//! (`walk::instance`), and apply records the imported object before its first operation.

use std::collections::BTreeMap;

use meshform_config::eval::{Evaluator, Overlay, Scope};
use meshform_config::model::{Config, Expr, ImportDef};
use meshform_config::modules::root_static_scope;
use meshform_config::repetition::{for_each_instances, Instance, RepetitionError};
use meshform_core::{Diagnostic, Diagnostics, InstanceAddr, InstanceKey, Value};
use meshform_state::State;

/// The instances to import and their ids. An instance already in the state is left out (the block
/// may stay in the configuration).
pub fn import_ids(
    config: &Config,
    vars: &BTreeMap<String, Value>,
    state: &State,
    diags: &mut Diagnostics,
) -> BTreeMap<InstanceAddr, String> {
    let mut out = BTreeMap::new();
    if config.imports.is_empty() {
        return out;
    }
    let scope = root_static_scope(config, vars);
    for i in &config.imports {
        let (to, to_span) = &i.to;
        if !config.resources.contains_key(&to.resource) {
            diags.push(
                Diagnostic::error(
                    "meshform::config::import_target",
                    format!("configuration for import target {} does not exist", to.resource),
                )
                .with_span(to_span.clone(), "no such resource block")
                .with_help(format!(
                    "add a `resource \"{}\" \"{}\"` block describing the object, then plan again",
                    to.resource.ty, to.resource.name
                )),
            );
            continue;
        }
        let elements = match (&i.for_each, &i.to_key) {
            (Some(fe), Some(key)) => match each_element(config, &scope, fe) {
                Ok(elements) => elements
                    .into_iter()
                    .filter_map(|(_, each)| {
                        let at = Overlay { base: &scope, extra: &each };
                        match import_key(config, &at, key) {
                            Ok(k) => Some((to.resource.instance(k), each)),
                            Err(d) => {
                                diags.push(d);
                                None
                            }
                        }
                    })
                    .collect(),
                Err(d) => {
                    diags.push(d);
                    continue;
                }
            },
            _ => vec![(to.clone(), BTreeMap::new())],
        };
        for (addr, each) in elements {
            if state.instance(&addr).is_some() {
                continue;
            }
            let at = Overlay { base: &scope, extra: &each };
            match import_id(config, &at, i) {
                Ok(id) => {
                    if out.insert(addr.clone(), id).is_some() {
                        diags.push(
                            Diagnostic::error(
                                "meshform::config::import_duplicate",
                                format!("{addr} is imported twice"),
                            )
                            .with_span(i.span.clone(), "imports it again")
                            .with_help("import each instance once: give every element of for_each its own key in `to`"),
                        );
                    }
                }
                Err(d) => diags.push(d),
            }
        }
    }
    out
}

/// The elements of an import's `for_each`: known before planning (variables, locals).
fn each_element(
    config: &Config,
    scope: &dyn Scope,
    for_each: &Expr,
) -> Result<Vec<Instance>, Diagnostic> {
    let v = Evaluator::new(scope, &for_each.span.file, &config.dir).eval(&for_each.node)?;
    for_each_instances(&v).map_err(|e| {
        let why = match e {
            RepetitionError::Unknown => "it is not known before planning".to_owned(),
            RepetitionError::Invalid(m) => m,
        };
        Diagnostic::error(
            "meshform::config::import_for_each",
            format!("invalid import for_each: {why}"),
        )
        .with_span(for_each.span.clone(), "for_each")
        .with_help(
            "for_each is a map or a set of strings known before planning (variables and locals)",
        )
    })
}

/// The key `to` ends with for one element: a string (a `for_each` resource's key) or a whole
/// number (a `count` index), known before planning.
fn import_key(config: &Config, scope: &dyn Scope, key: &Expr) -> Result<InstanceKey, Diagnostic> {
    let invalid = |why: &str| {
        Diagnostic::error("meshform::config::import_key", format!("invalid import address key: {why}"))
            .with_span(key.span.clone(), "instance key")
            .with_help("the index in `to` names one instance: a string (each.key) or a whole number, known before planning")
    };
    match Evaluator::new(scope, &key.span.file, &config.dir).eval(&key.node)? {
        v if v.contains_unknown() => Err(invalid("it is not known before planning")),
        v if v.is_sensitive() => Err(invalid("it is sensitive")),
        Value::String(s) => Ok(InstanceKey::Str(s)),
        Value::Number(n) => match n.as_i64() {
            Some(i) if i >= 0 => Ok(InstanceKey::Int(i)),
            _ => Err(invalid(&format!("{n} is not a count index"))),
        },
        v => Err(invalid(&format!("a string or a number is required, got {}", v.kind()))),
    }
}

/// An import's id for one element (or the only one): a non-empty string known before planning.
fn import_id(config: &Config, scope: &dyn Scope, i: &ImportDef) -> Result<String, Diagnostic> {
    let invalid = |why: &str| {
        Diagnostic::error("meshform::config::import_id", format!("invalid import id: {why}"))
            .with_span(i.id.span.clone(), "import id")
            .with_help("id is a non-empty string known before planning (a literal, a variable, a local or each.value): the object's import id, as its resource type documents it")
    };
    match Evaluator::new(scope, &i.id.span.file, &config.dir).eval(&i.id.node)? {
        v if v.contains_unknown() => Err(invalid("it is not known before planning")),
        Value::String(s) if !s.is_empty() => Ok(s),
        Value::String(_) => Err(invalid("it is empty")),
        v if v.is_sensitive() => Err(invalid("it is sensitive")),
        v => Err(invalid(&format!("a string is required, got {}", v.kind()))),
    }
}
