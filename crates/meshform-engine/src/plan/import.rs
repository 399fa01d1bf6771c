//! `import` blocks: which instances a plan imports (their `to` not yet in the state) and with which
//! id, evaluated before planning; the import itself happens while planning the instance
//! (`walk::instance`), and apply records the imported object before its first operation.

use std::collections::BTreeMap;

use meshform_config::eval::Evaluator;
use meshform_config::model::Config;
use meshform_config::modules::root_static_scope;
use meshform_core::{Diagnostic, Diagnostics, InstanceAddr, Value};
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
                    format!("configuration for import target {to} does not exist"),
                )
                .with_span(to_span.clone(), "no such resource block")
                .with_help(format!(
                    "add a `resource \"{}\" \"{}\"` block describing the object, then plan again",
                    to.resource.ty, to.resource.name
                )),
            );
            continue;
        }
        if state.instance(to).is_some() {
            continue;
        }
        let invalid = |why: &str| {
            Diagnostic::error("meshform::config::import_id", format!("invalid import id: {why}"))
                .with_span(i.id.span.clone(), "import id")
                .with_help("id is a non-empty string known before planning (a literal, a variable or a local): the object's import id, as its resource type documents it")
        };
        match Evaluator::new(&scope, &i.id.span.file, &config.dir).eval(&i.id.node) {
            Ok(v) if v.contains_unknown() => diags.push(invalid("it is not known before planning")),
            Ok(Value::String(s)) if !s.is_empty() => {
                out.insert(to.clone(), s);
            }
            Ok(Value::String(_)) => diags.push(invalid("it is empty")),
            Ok(v) if v.is_sensitive() => diags.push(invalid("it is sensitive")),
            Ok(v) => diags.push(invalid(&format!("a string is required, got {}", v.kind()))),
            Err(d) => diags.push(d),
        }
    }
    out
}
