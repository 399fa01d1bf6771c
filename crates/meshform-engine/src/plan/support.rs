//! Planning helpers that need no planner state: diagnostics for planning failures, re-marking
//! sensitive values on provider results, `ignore_changes`, and the `--target`/`--exclude` closure.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use meshform_config::model::{Config, ProviderDef, ResourceDef};
use meshform_core::{Diagnostic, Diagnostics, InstanceAddr, PathStep, ResourceAddr, Schema, Value};
use meshform_provider::ProviderError;
use meshform_state::State;

use super::walk::PlanOptions;
use super::{PlanFailure, PlanMode};
use crate::graph::{ConfigGraph, Node, ResourceDependencies};

pub(crate) fn unknown_repetition(
    r: &ResourceDef,
    arg: &str,
    span: meshform_core::Span,
) -> Diagnostic {
    Diagnostic::error(
        "meshform::plan::unknown_repetition",
        format!("{}: the {arg} value depends on values known only after apply", r.addr),
    )
    .with_span(span, format!("{arg} is not known until apply"))
    .with_help(format!(
        "meshform must know how many instances to plan: compute {arg} from variables or locals, or first apply the resources it depends on with --target"
    ))
}

pub(crate) fn prevent_destroy_diag(
    addr: &InstanceAddr,
    span: &meshform_core::Span,
    what: &str,
) -> Diagnostic {
    Diagnostic::error(
        "meshform::plan::prevent_destroy",
        format!("{addr}: the plan would {what} it, but it has lifecycle.prevent_destroy"),
    )
    .with_span(span.clone(), "destruction prevented here")
    .with_help("if destroying it is intended, set prevent_destroy = false first; otherwise change the configuration so that it is kept")
}

pub(crate) fn provider_plan_error(
    r: &ResourceDef,
    addr: &InstanceAddr,
    e: &ProviderError,
) -> Diagnostic {
    let span = e
        .attribute
        .as_ref()
        .and_then(|p| match p.first() {
            Some(PathStep::Key(k)) => r.body.attrs.get(k).map(|a| a.expr.span.clone()),
            _ => None,
        })
        .unwrap_or_else(|| r.span.clone());
    Diagnostic::error("meshform::plan::provider_rejected", format!("{addr}: {e}"))
        .with_span(span, "rejected by the provider")
        .with_help("change the configuration so that the provider accepts it")
}

/// A provider block refused at one of its arguments when configured (a malformed `role_arn`, a
/// profile that does not exist): one diagnostic at that argument — nested blocks followed along the
/// error's path — else at the block.
pub(crate) fn provider_config_error(
    key: &str,
    def: Option<&ProviderDef>,
    e: &ProviderError,
) -> Diagnostic {
    let d = Diagnostic::error(
        "meshform::plan::provider_config",
        format!("provider \"{key}\": cannot configure it: {e}"),
    )
    .with_help(
        "change the provider block (or the environment it reads) so that the provider accepts it",
    );
    let Some(def) = def else { return d };
    let mut body = &def.body;
    let mut span = def.span.clone();
    for step in e.attribute.iter().flatten() {
        let PathStep::Key(k) = step else { continue };
        if let Some(a) = body.attrs.get(k) {
            span = a.expr.span.clone();
            break;
        }
        match body.blocks.iter().find(|b| &b.kind == k) {
            Some(b) => (span, body) = (b.span.clone(), &b.body),
            None => break,
        }
    }
    d.with_span(span, "rejected by the provider")
}

/// A data source that could not be read: a configuration error on the argument the provider names
/// (an unknown id, a value it refuses), or else — unreachable, or nothing to point at — an instance
/// failure of the plan.
pub(crate) fn data_read_failed(
    r: &ResourceDef,
    addr: &InstanceAddr,
    provider: &str,
    e: &ProviderError,
    diags: &mut Diagnostics,
    failures: &mut Vec<PlanFailure>,
) {
    if e.attribute.is_some() && !e.retryable() {
        diags.push(provider_plan_error(r, addr, e));
    } else {
        let (address, provider, message) = (addr.to_string(), provider.to_owned(), e.to_string());
        failures.push(PlanFailure { address, provider, message });
    }
}

pub(crate) fn problem_diag(
    r: &ResourceDef,
    addr: &InstanceAddr,
    p: meshform_provider::AttributeProblem,
) -> Diagnostic {
    let span = match p.path.first() {
        Some(PathStep::Key(k)) => r.body.attrs.get(k).map(|a| a.expr.span.clone()),
        _ => None,
    }
    .unwrap_or_else(|| r.span.clone());
    let d = if p.is_error {
        Diagnostic::error("meshform::config::invalid_argument", format!("{addr}: {}", p.message))
    } else {
        Diagnostic::warning("meshform::config::argument_warning", format!("{addr}: {}", p.message))
    };
    d.with_span(span, "here")
}

/// Re-applies sensitive marks to a provider's result: the schema's sensitive attributes, and wherever
/// the reference value (the configuration or the prior state) was sensitive.
///
/// And a provider that echoes a sensitive input into another attribute (an `id` made from a path
/// holding a secret, a YAML rendering of a manifest with a password in it) does not reveal it: a
/// string of the result containing a sensitive string of the reference (of at least
/// [`MIN_ECHOED_SECRET`] bytes) is sensitive too.
pub fn remark(mut v: Value, reference: &Value, schema: &Schema) -> Value {
    for p in reference.sensitive_paths() {
        v.mark_at(&p);
    }
    let mut secrets = Vec::new();
    sensitive_strings(reference, false, &mut secrets);
    if !secrets.is_empty() {
        mark_echoes(&mut v, &secrets);
    }
    if let Value::Map(m) = &mut v {
        for (k, attr) in &schema.attributes {
            if attr.sensitive {
                if let Some(x) = m.get_mut(k) {
                    let inner = std::mem::take(x);
                    *x = inner.sensitive();
                }
            }
        }
    }
    v
}

/// A provider's error with every sensitive string of `reference` (the configuration it was given)
/// replaced by `(sensitive value)`: a message quoting what it rejected (a YAML parser's snippet of a
/// manifest holding a password) does not reveal it.
pub(crate) fn hide_echoes(mut e: ProviderError, reference: &Value) -> ProviderError {
    let mut secrets = Vec::new();
    sensitive_strings(reference, false, &mut secrets);
    for s in secrets {
        if e.message.contains(s.as_str()) {
            e.message = e.message.replace(s.as_str(), meshform_core::REDACTED);
        }
    }
    e
}

/// The shortest sensitive string whose echo in a provider's result is marked: shorter ones (`"1"`,
/// `"true"`) would mark unrelated text.
pub const MIN_ECHOED_SECRET: usize = 6;

/// The strings inside sensitive parts of `v`.
fn sensitive_strings(v: &Value, inside: bool, out: &mut Vec<String>) {
    match v {
        Value::Sensitive(x) => sensitive_strings(x, true, out),
        Value::String(s) if inside && s.len() >= MIN_ECHOED_SECRET => out.push(s.clone()),
        Value::List(items) => items.iter().for_each(|x| sensitive_strings(x, inside, out)),
        Value::Map(m) => m.values().for_each(|x| sensitive_strings(x, inside, out)),
        _ => {}
    }
}

/// Marks the unmarked strings of `v` that contain one of `secrets`.
fn mark_echoes(v: &mut Value, secrets: &[String]) {
    match v {
        Value::String(s) if secrets.iter().any(|x| s.contains(x.as_str())) => {
            let inner = std::mem::take(v);
            *v = inner.sensitive();
        }
        Value::List(items) => items.iter_mut().for_each(|x| mark_echoes(x, secrets)),
        Value::Map(m) => m.values_mut().for_each(|x| mark_echoes(x, secrets)),
        _ => {}
    }
}

/// A data source's value before it is read: its configuration with computed attributes unknown.
pub(crate) fn unknown_computed(config: &Value, schema: &Schema) -> Value {
    let mut v = config.clone();
    if let Value::Map(m) = &mut v {
        for (k, a) in &schema.attributes {
            if a.computed && m.get(k).is_none_or(Value::is_null) {
                m.insert(k.clone(), Value::Unknown);
            }
        }
    }
    v
}

/// Replaces ignored attributes of the proposed value with the prior value's.
pub(crate) fn apply_ignore_changes(
    mut proposed: Value,
    prior: &Value,
    r: &ResourceDef,
    schema: &Schema,
) -> Value {
    let Value::Map(m) = &mut proposed else { return proposed };
    if r.lifecycle.ignore_all_changes {
        for (k, a) in &schema.attributes {
            if a.settable() {
                if let Some(p) = prior.get(k) {
                    m.insert(k.clone(), p.clone());
                }
            }
        }
        return proposed;
    }
    for (path, _) in &r.lifecycle.ignore_changes {
        let steps: Vec<&str> = path.split('.').collect();
        let Some((first, rest)) = steps.split_first() else { continue };
        let mut cur = prior.get(first);
        for k in rest {
            cur = cur.and_then(|c| c.get(k));
        }
        let Some(pv) = cur.cloned() else { continue };
        set_path(m, &steps, pv);
    }
    proposed
}

pub(crate) fn set_path(m: &mut BTreeMap<String, Value>, steps: &[&str], v: Value) {
    match steps {
        [] => {}
        [last] => {
            m.insert((*last).to_owned(), v);
        }
        [first, rest @ ..] => {
            if let Some(Value::Map(inner)) = m.get_mut(*first) {
                set_path(inner, rest, v);
            }
        }
    }
}

/// What a `--target`/`--exclude` run may touch.
pub(crate) struct Allowed {
    pub(crate) resources: BTreeSet<ResourceAddr>,
    /// Allowed resources every instance of which is in the run, even if a target names only some.
    pub(crate) whole: BTreeSet<ResourceAddr>,
}

/// The resources a `--target`/`--exclude` run may touch (`None`: all): each target with everything it
/// depends on, transitively (in a destroy plan: with everything that depends on it, which cannot
/// outlive it), minus each excluded resource and everything that depends on it, transitively.
pub(crate) fn allowed_resources(
    config: &Config,
    graph: &ConfigGraph,
    state: &State,
    opts: &PlanOptions,
    remembered: &mut ResourceDependencies,
) -> Option<Allowed> {
    if opts.targets.is_empty() && opts.excludes.is_empty() {
        return None;
    }
    let mut all: BTreeSet<ResourceAddr> = config.resources.keys().cloned().collect();
    all.extend(state.resources.iter().map(|r| r.addr()));
    // Direct dependencies: per the configuration, or as last applied for resources only in state.
    let deps: BTreeMap<ResourceAddr, BTreeSet<ResourceAddr>> = all
        .iter()
        .map(|a| {
            let d = if config.resources.contains_key(a) {
                remembered.of(graph, &Node::Resource(a.clone()))
            } else {
                state
                    .resource(a)
                    .into_iter()
                    .flat_map(|r| &r.instances)
                    .flat_map(|i| &i.dependencies)
                    .filter_map(|d| d.parse::<InstanceAddr>().ok())
                    .map(|i| i.resource)
                    .collect()
            };
            (a.clone(), d)
        })
        .collect();
    let upstream = |a: &ResourceAddr| closure(a, |x| deps.get(x).into_iter().flatten().collect());
    let downstream = |a: &ResourceAddr| {
        closure(a, |x| deps.iter().filter(|(_, d)| d.contains(x)).map(|(k, _)| k).collect())
    };
    let mut resources = if opts.targets.is_empty() { all.clone() } else { BTreeSet::new() };
    let mut whole = BTreeSet::new();
    for t in opts.targets.iter().filter(|t| all.contains(&t.resource)) {
        let reached = if opts.mode == PlanMode::Destroy {
            downstream(&t.resource)
        } else {
            upstream(&t.resource)
        };
        whole.extend(reached.iter().filter(|a| **a != t.resource || t.key.is_none()).cloned());
        resources.extend(reached);
    }
    for e in &opts.excludes {
        for a in downstream(&e.resource) {
            resources.remove(&a);
        }
    }
    Some(Allowed { resources, whole })
}

/// `start` and everything reachable from it through `next`.
pub(crate) fn closure<'a>(
    start: &'a ResourceAddr,
    next: impl Fn(&ResourceAddr) -> Vec<&'a ResourceAddr>,
) -> BTreeSet<ResourceAddr> {
    let mut seen = BTreeSet::new();
    let mut stack = vec![start];
    while let Some(a) = stack.pop() {
        if seen.insert(a.clone()) {
            stack.extend(next(a));
        }
    }
    seen
}

/// The directory expressions resolve relative paths against.
pub fn base_dir(config: &Config) -> &Path {
    &config.dir
}

#[cfg(test)]
mod tests {
    use meshform_provider::ErrorKind;

    use super::*;

    /// What a provider echoes of a sensitive input is sensitive in its result and hidden in its
    /// errors; short sensitive strings do not mark unrelated text.
    #[test]
    fn echoes_of_sensitive_inputs_are_hidden() {
        let reference = Value::map([
            ("filename", Value::string("out/hunter2-secret/f").sensitive()),
            ("token", Value::string("hunter2-secret").sensitive()),
            ("flag", Value::string("on").sensitive()),
        ]);
        let result =
            Value::map([("id", Value::string("id:hunter2-secret")), ("mode", Value::string("on"))]);
        let v = remark(result, &reference, &Schema::new("t"));
        assert!(v.get("id").is_some_and(Value::is_sensitive));
        assert!(v.get("mode").is_some_and(|m| !m.is_sensitive()), "too short to tell");
        let e = ProviderError::new(
            ErrorKind::InvalidArgument,
            "Bad",
            "line 6: password: hunter2-secret: [x",
        );
        let e = hide_echoes(e, &reference);
        assert_eq!(e.message, "line 6: password: (sensitive value): [x");
    }
}
