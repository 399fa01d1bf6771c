//! Checking resource and provider bodies against provider schemas, and evaluating them into values.

use std::collections::BTreeMap;
use std::path::Path;

use meshform_config::eval::{Evaluator, Scope};
use meshform_config::model::BlockBody;
use meshform_config::suggest::did_you_mean;
use meshform_core::schema::{BlockNesting, Schema};
use meshform_core::{Diagnostic, Diagnostics, Value};

/// Reports unknown attributes and blocks, computed-only attributes set in configuration, missing
/// required attributes and wrong block counts. `what` names the block (`TYPE.NAME`).
pub fn check_body(body: &BlockBody, schema: &Schema, what: &str, diags: &mut Diagnostics) {
    for (name, a) in &body.attrs {
        match schema.attributes.get(name) {
            Some(attr) if !attr.settable() => diags.push(
                Diagnostic::error(
                    "meshform::config::computed_attribute",
                    format!("{what}: \"{name}\" is computed by the provider and cannot be set"),
                )
                .with_span(a.name_span.clone(), "read-only attribute")
                .with_help(format!("remove it; read it elsewhere as {what}.{name}")),
            ),
            Some(_) => {}
            None => {
                let mut d = Diagnostic::error(
                    "meshform::config::unsupported_argument",
                    format!("{what}: unsupported argument \"{name}\""),
                )
                .with_span(a.name_span.clone(), "not in the schema");
                d = if schema.blocks.contains_key(name) {
                    d.with_help(format!("\"{name}\" is a block: write {name} {{ … }}"))
                } else {
                    match did_you_mean(name, schema.names()) {
                        Some(s) => d.with_help(format!("did you mean `{s}`?")),
                        None => d.with_help(format!("arguments here: {}", settable(schema))),
                    }
                };
                diags.push(d);
            }
        }
    }
    for (name, attr) in &schema.attributes {
        if attr.required && !body.attrs.contains_key(name) {
            diags.push(
                Diagnostic::error(
                    "meshform::config::missing_argument",
                    format!("{what}: missing required argument \"{name}\""),
                )
                .with_span(body.span.clone(), format!("\"{name}\" is required"))
                .with_help(format!("add `{name} = …` ({}): {}", attr.ty, attr.description)),
            );
        }
    }
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for b in &body.blocks {
        match schema.blocks.get(&b.kind) {
            Some(nb) => {
                *counts.entry(b.kind.as_str()).or_default() += 1;
                check_body(&b.body, &nb.schema, &format!("{what}.{}", b.kind), diags);
            }
            None => {
                let mut d = Diagnostic::error(
                    "meshform::config::unsupported_block",
                    format!("{what}: unsupported block \"{}\"", b.kind),
                )
                .with_span(b.span.clone(), "not in the schema");
                d = if schema.attributes.contains_key(&b.kind) {
                    d.with_help(format!("\"{}\" is an argument: write {} = …", b.kind, b.kind))
                } else {
                    match did_you_mean(&b.kind, schema.names()) {
                        Some(s) => d.with_help(format!("did you mean `{s}`?")),
                        None => d.with_help(format!("arguments here: {}", settable(schema))),
                    }
                };
                diags.push(d);
            }
        }
    }
    for (name, nb) in &schema.blocks {
        let n = counts.get(name.as_str()).copied().unwrap_or(0);
        let max = match nb.nesting {
            BlockNesting::Single => Some(1),
            BlockNesting::List => nb.max_items,
        };
        if n < nb.min_items || max.is_some_and(|m| n > m) {
            let span = body
                .blocks
                .iter()
                .filter(|b| &b.kind == name)
                .nth(max.unwrap_or(0))
                .map(|b| b.span.clone())
                .unwrap_or_else(|| body.span.clone());
            diags.push(
                Diagnostic::error(
                    "meshform::config::block_count",
                    format!(
                        "{what}: {n} \"{name}\" block(s), expected {}{}",
                        nb.min_items,
                        max.map(|m| format!(" to {m}")).unwrap_or_else(|| " or more".into())
                    ),
                )
                .with_span(span, "wrong number of blocks")
                .with_help(format!(
                    "write between {} and {} {name} blocks",
                    nb.min_items,
                    max.map(|m| m.to_string()).unwrap_or("any number of".into())
                )),
            );
        }
    }
}

fn settable(schema: &Schema) -> String {
    let names: Vec<&str> = schema
        .attributes
        .iter()
        .filter(|(_, a)| a.settable())
        .map(|(n, _)| n.as_str())
        .chain(schema.blocks.keys().map(String::as_str))
        .collect();
    names.join(", ")
}

/// Evaluates a body into an object with one entry per schema attribute (null when unset) and per
/// nested block type. Values are converted to their declared types; schema-sensitive attributes are
/// marked sensitive. Errors are pushed to `diags`; the failing attribute becomes unknown.
pub fn eval_body(
    body: &BlockBody,
    schema: &Schema,
    scope: &dyn Scope,
    dir: &Path,
    diags: &mut Diagnostics,
) -> Value {
    let mut out = BTreeMap::new();
    for (name, attr) in &schema.attributes {
        let v = match body.attrs.get(name) {
            Some(a) if attr.settable() => {
                let ev = Evaluator::new(scope, &a.expr.span.file, dir);
                match ev.eval(&a.expr.node) {
                    Ok(v) => match attr.ty.convert(&v) {
                        Ok(v) => v,
                        Err(e) => {
                            diags.push(
                                Diagnostic::error(
                                    "meshform::config::type_mismatch",
                                    format!("invalid value for \"{name}\": {e}"),
                                )
                                .with_span(a.expr.span.clone(), format!("expected {}", attr.ty))
                                .with_help(format!(
                                    "\"{name}\" takes {}: {}",
                                    attr.ty, attr.description
                                )),
                            );
                            Value::Unknown
                        }
                    },
                    Err(d) => {
                        diags.push(d);
                        Value::Unknown
                    }
                }
            }
            _ => Value::Null,
        };
        out.insert(name.clone(), v.with_mark(attr.sensitive));
    }
    for (name, nb) in &schema.blocks {
        let items: Vec<Value> = body
            .blocks
            .iter()
            .filter(|b| &b.kind == name)
            .map(|b| eval_body(&b.body, &nb.schema, scope, dir, diags))
            .collect();
        let v = match nb.nesting {
            BlockNesting::Single => items.into_iter().next().unwrap_or(Value::Null),
            BlockNesting::List => Value::List(items),
        };
        out.insert(name.clone(), v);
    }
    Value::Map(out)
}
