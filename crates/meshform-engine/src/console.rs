//! `meshform console`: expressions evaluated against the configuration and the current state, as
//! `terraform console` does. Variables take their values as a plan would (an unset one is
//! unknown), locals are evaluated in graph order, resources and data sources read their values
//! from the state (a resource of the configuration with nothing in state is unknown), with their
//! sensitive marks. No provider is contacted and the state is never written.

use std::sync::Arc;

use hcl::edit::expr::Expression;
use meshform_config::eval::Evaluator;
use meshform_config::vars::{resolve_variables, VarInputs};
use meshform_core::{Diagnostic, Diagnostics, SourceFile, Value};
use meshform_state::StateError;

use crate::graph::Node;
use crate::ops::{self, Parsed, Workspace};
use crate::plan::walk::remark;
use crate::scope::{evaluate_node, Values};

/// Why a console session could not start.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    #[error("the configuration has errors")]
    Diagnostics(Diagnostics),
    #[error(transparent)]
    State(#[from] StateError),
}

/// An open console: the values expressions see.
pub struct Console {
    values: Values,
    dir: std::path::PathBuf,
}

/// Opens a console on the workspace's configuration (already parsed) and state. The diagnostics
/// returned beside it are warnings (a local that failed to evaluate is unknown).
pub fn open(
    ws: &Workspace,
    parsed: Parsed,
    vars: &VarInputs,
) -> Result<(Console, Diagnostics), ConsoleError> {
    let (loaded, mut diags) = ops::load_parsed(ws, parsed);
    let Some(loaded) = loaded else { return Err(ConsoleError::Diagnostics(diags)) };
    let (var_values, var_diags) = resolve_variables(&loaded.config, vars);
    // As Terraform's console: a variable without a value is unknown rather than an error.
    let others = Diagnostics(
        var_diags.0.into_iter().filter(|d| d.code != "meshform::vars::missing").collect(),
    );
    if others.has_errors() {
        return Err(ConsoleError::Diagnostics(others));
    }
    diags.extend(others);
    let state = ws.store.read()?.unwrap_or_default();
    let config = &loaded.config;
    let mut values = Values::for_config(config);
    let root = meshform_core::ModulePath::root();
    for name in config.variables.keys() {
        values.set_var(&root, name, var_values.get(name).cloned().unwrap_or(Value::Unknown));
    }
    for addr in config.resources.keys() {
        if state.resource(addr).is_none() {
            values.set_resource(addr, Value::Unknown);
        }
    }
    let schemas: std::collections::BTreeMap<String, _> = ws
        .registry
        .names()
        .filter_map(|n| ws.registry.get(n).map(|p| (n.to_owned(), p.schema())))
        .collect();
    for rs in &state.resources {
        let addr = rs.addr();
        let schema =
            schemas.get(meshform_core::implied_provider(&addr.ty)).and_then(|s| match addr.mode {
                meshform_core::Mode::Managed => s.resources.get(&addr.ty),
                meshform_core::Mode::Data => s.data_sources.get(&addr.ty),
            });
        for inst in &rs.instances {
            let v = inst.value();
            let v = match schema {
                Some(schema) => remark(v.clone(), &v, schema),
                None => v,
            };
            values.set_instance(&addr, &inst.index_key, v);
        }
    }
    for node in &loaded.graph.order {
        if !matches!(node, Node::Local(..) | Node::Var(..) | Node::Output(..)) {
            continue;
        }
        for d in evaluate_node(config, &mut values, node) {
            diags.push(Diagnostic { severity: meshform_core::Severity::Warning, ..d });
        }
    }
    Ok((Console { values, dir: config.dir.clone() }, diags))
}

impl Console {
    /// Evaluates one expression; the error says what is wrong with it.
    pub fn eval(&self, text: &str) -> Result<Value, Diagnostic> {
        let file = SourceFile::new(meshform_config::functions::CONSOLE_SOURCE, text);
        let expr: Expression = text.trim().parse().map_err(|e: hcl::edit::parser::Error| {
            Diagnostic::error(
                "meshform::console::syntax",
                format!("not an expression: {}", e.message()),
            )
            .with_help("write one expression per line, e.g. var.region or local.names[0]")
        })?;
        Evaluator::new(&self.values, &Arc::clone(&file), &self.dir).eval(&expr)
    }
}
