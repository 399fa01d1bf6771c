//! Meta-arguments and the blocks that carry them: `lifecycle` (with its `rollout`), `depends_on`,
//! `provider = NAME.ALIAS`, and `check` blocks with their scoped data sources and asserts.

use hcl::edit::expr::{Expression, TraversalOperator};
use hcl::edit::structure::{Block, Structure};
use meshform_core::{Diagnostic, Diagnostics, InstanceKey, ResourceAddr, Span};

use super::Lowerer;
use crate::eval;
use crate::model::*;

impl Lowerer {
    pub(super) fn lower_check(&mut self, name: String, span: Span, b: &Block) -> CheckDef {
        let mut check = CheckDef {
            name,
            span: span.clone(),
            data: Vec::new(),
            asserts: Vec::new(),
            enabled: None,
        };
        for s in b.body.iter() {
            match s {
                Structure::Attribute(a) if a.key.as_str() == "enabled" => {
                    check.enabled = Some(Expr { node: a.value.clone(), span: self.span(&a.value) });
                }
                Structure::Attribute(a) => {
                    let span = self.span(&a.key);
                    self.unexpected(
                        "argument",
                        a.key.as_str(),
                        span,
                        &["enabled", "data", "assert"],
                    );
                }
                Structure::Block(inner) if inner.ident.as_str() == "data" => {
                    let Some(l) = self.labels(inner, 2, "data \"TYPE\" \"NAME\" { … }") else {
                        continue;
                    };
                    let header = self.span(&inner.ident);
                    let type_span = inner
                        .labels
                        .first()
                        .map(|x| self.span(x))
                        .unwrap_or_else(|| header.clone());
                    let mut body = self.lower_body(&inner.body, self.span(inner));
                    let provider = body.attrs.remove("provider").and_then(|p| {
                        match provider_instance_ref(&p.expr.node) {
                            Some((k, None)) => Some((k, p.expr.span.clone())),
                            // One instance of a provider with for_each, by a literal key.
                            Some((k, Some(Expression::String(key)))) => Some((
                                format!("{k}{}", InstanceKey::Str(key.value().clone())),
                                p.expr.span.clone(),
                            )),
                            Some((_, Some(_))) => {
                                self.err(
                                    "meshform::config::invalid_provider_ref",
                                    "a check's data source selects a provider instance by a literal key",
                                    p.expr.span.clone(),
                                    "not a literal key",
                                    "write provider = NAME.ALIAS[\"key\"]",
                                );
                                None
                            }
                            None => {
                                self.err(
                                "meshform::config::invalid_provider_ref",
                                "provider must be a provider reference",
                                p.expr.span.clone(),
                                "not a provider reference",
                                "write `provider = NAME` or `provider = NAME.ALIAS` (no quotes)",
                            );
                                None
                            }
                        }
                    });
                    let addr = ResourceAddr::data(&l[0], &l[1]);
                    if check.data.iter().any(|d| d.addr == addr) {
                        self.err(
                            "meshform::config::duplicate",
                            format!(
                                "duplicate data \"{}\" \"{}\" in check \"{}\"",
                                l[0], l[1], check.name
                            ),
                            header.clone(),
                            "declared again here",
                            "rename one of them",
                        );
                        continue;
                    }
                    check.data.push(CheckData { addr, span: header, type_span, provider, body });
                }
                Structure::Block(inner) if inner.ident.as_str() == "assert" => {
                    let span = self.span(&inner.ident);
                    let mut body = self.lower_body(&inner.body, self.span(inner));
                    let cond = body.attrs.remove("condition");
                    let msg = body.attrs.remove("error_message");
                    for (k, a) in body.attrs {
                        self.unexpected(
                            "argument",
                            &k,
                            a.name_span,
                            &["condition", "error_message"],
                        );
                    }
                    match (cond, msg) {
                        (Some(c), Some(m)) => check.asserts.push(Assert {
                            condition: c.expr,
                            error_message: m.expr,
                            span,
                        }),
                        _ => self.err(
                            "meshform::config::missing_argument",
                            "an assert block needs both condition and error_message",
                            span,
                            "incomplete assert",
                            "add `condition = <bool expression>` and `error_message = \"…\"`",
                        ),
                    }
                }
                Structure::Block(inner) => {
                    let span = self.span(&inner.ident);
                    self.unexpected("block", inner.ident.as_str(), span, &["data", "assert"]);
                }
            }
        }
        if check.asserts.is_empty() {
            self.err(
                "meshform::config::missing_argument",
                format!("check \"{}\" has no assert block", check.name),
                span,
                "nothing to check",
                "add assert { condition = …  error_message = \"…\" }",
            );
        }
        check
    }

    pub(super) fn lower_lifecycle(&mut self, n: NestedBlockDef) -> Lifecycle {
        let mut l = Lifecycle::default();
        const ALLOWED: &[&str] =
            &["create_before_destroy", "prevent_destroy", "ignore_changes", "rollout"];
        for (k, a) in n.body.attrs {
            match k.as_str() {
                "create_before_destroy" => {
                    l.create_before_destroy = self.const_bool(&a.expr).unwrap_or(false)
                }
                "prevent_destroy" => {
                    if self.const_bool(&a.expr).unwrap_or(false) {
                        l.prevent_destroy = Some(a.name_span.clone());
                    }
                }
                "ignore_changes" => match &a.expr.node {
                    Expression::Variable(v) if v.as_str() == "all" => l.ignore_all_changes = true,
                    Expression::Array(items) => {
                        for item in items.iter() {
                            let span = self.span(item);
                            match attr_path(item) {
                                Some(p) => l.ignore_changes.push((p, span)),
                                None => self.err(
                                    "meshform::config::invalid_ignore_changes",
                                    "ignore_changes entries must be attribute names",
                                    span,
                                    "not an attribute name",
                                    "write ignore_changes = [content, tags] or ignore_changes = all",
                                ),
                            }
                        }
                    }
                    _ => self.err(
                        "meshform::config::invalid_ignore_changes",
                        "ignore_changes must be a list of attribute names or `all`",
                        a.expr.span.clone(),
                        "not a list",
                        "write ignore_changes = [content] or ignore_changes = all",
                    ),
                },
                other => self.unexpected("argument", other, a.name_span, ALLOWED),
            }
        }
        for b in n.body.blocks {
            if b.kind != "rollout" {
                self.unexpected("block", &b.kind, b.span, ALLOWED);
            } else if let Some(first) = &l.rollout {
                let first = first.span.clone();
                self.duplicate("block", "rollout", b.span, &first);
            } else {
                l.rollout = Some(self.lower_rollout(b));
            }
        }
        l
    }

    /// `rollout { batch_size  order  checks }` inside `lifecycle`.
    fn lower_rollout(&mut self, b: NestedBlockDef) -> RolloutDef {
        const ALLOWED: &[&str] = &["batch_size", "order", "checks"];
        let mut r = RolloutDef {
            span: b.span,
            batch_size: (1, None),
            order: Vec::new(),
            checks: Vec::new(),
            order_expr: None,
            checks_expr: None,
        };
        for (k, a) in b.body.attrs {
            match k.as_str() {
                "batch_size" => {
                    let span = a.expr.span.clone();
                    match self.const_value(&a.expr) {
                        Some(v) => match v.as_number().filter(|n| n.is_integer()) {
                            Some(n) if n.as_i64().is_some_and(|n| n >= 1) => {
                                r.batch_size = (n.as_i64().unwrap_or(1), Some(span))
                            }
                            Some(_) => self.err(
                                "meshform::config::invalid_rollout",
                                "batch_size must be at least 1",
                                span,
                                "fewer than one instance per batch",
                                "write batch_size = 1 to change one instance at a time",
                            ),
                            None => self.err(
                                "meshform::config::invalid_rollout",
                                format!("batch_size must be a whole number, got {}", v.kind()),
                                span,
                                "not a whole number",
                                "write batch_size = 1 to change one instance at a time",
                            ),
                        },
                        None => self.err(
                            "meshform::config::invalid_rollout",
                            "batch_size must be a constant number",
                            span,
                            "not a constant",
                            "write a number such as batch_size = 1",
                        ),
                    }
                }
                "order" => {
                    let Expression::Array(items) = &a.expr.node else {
                        if computed(&a.expr.node) {
                            // An expression (a module's variable): evaluated at expansion.
                            r.order_expr = Some(a.expr);
                            continue;
                        }
                        self.err(
                            "meshform::config::invalid_rollout",
                            "order must be a list of instance keys",
                            a.expr.span.clone(),
                            "not a list",
                            "write order = [\"cluster-2\", \"cluster-1\"] (for_each keys) or order = [1, 0] (count indexes)",
                        );
                        continue;
                    };
                    for item in items.iter() {
                        let span = self.span(item);
                        let key = match item {
                            Expression::String(s) => Some(InstanceKey::Str(s.value().clone())),
                            Expression::Number(n) => n
                                .value()
                                .as_u64()
                                .and_then(|i| i64::try_from(i).ok())
                                .map(InstanceKey::Int),
                            _ => None,
                        };
                        match key {
                            Some(k) if r.order.iter().any(|(o, _)| o == &k) => self.err(
                                "meshform::config::invalid_rollout",
                                format!("order names {} twice", k.to_string().trim_matches(['[', ']'])),
                                span,
                                "named again here",
                                "name each instance key once",
                            ),
                            Some(k) => r.order.push((k, span)),
                            None => self.err(
                                "meshform::config::invalid_rollout",
                                "order entries must be instance keys",
                                span,
                                "not a quoted key or an index",
                                "write for_each keys as strings (\"cluster-2\") or count indexes as numbers (0)",
                            ),
                        }
                    }
                }
                "checks" => {
                    let Expression::Array(items) = &a.expr.node else {
                        if computed(&a.expr.node) {
                            // An expression (a module's variable of check names): evaluated at
                            // expansion.
                            r.checks_expr = Some(a.expr);
                            continue;
                        }
                        self.err(
                            "meshform::config::invalid_rollout",
                            "checks must be a list of check references",
                            a.expr.span.clone(),
                            "not a list",
                            "write checks = [check.NAME, …] naming check blocks",
                        );
                        continue;
                    };
                    for item in items.iter() {
                        let span = self.span(item);
                        match check_ref(item) {
                            Some(name) if r.checks.iter().any(|(c, _)| c == &name) => self.err(
                                "meshform::config::invalid_rollout",
                                format!("checks names check.{name} twice"),
                                span,
                                "named again here",
                                "name each check once",
                            ),
                            Some(name) => r.checks.push((name, span)),
                            None => self.err(
                                "meshform::config::invalid_rollout",
                                "checks entries must be check references",
                                span,
                                "not check.NAME",
                                "write check.NAME (no quotes) naming a check block",
                            ),
                        }
                    }
                }
                other => self.unexpected("argument", other, a.name_span, ALLOWED),
            }
        }
        for inner in b.body.blocks {
            self.unexpected("block", &inner.kind, inner.span, ALLOWED);
        }
        r
    }

    pub(super) fn depends_on(&mut self, e: &Expr) -> Vec<DependsOn> {
        let mut out = Vec::new();
        let Expression::Array(items) = &e.node else {
            self.err(
                "meshform::config::invalid_depends_on",
                "depends_on must be a list of resource references",
                e.span.clone(),
                "not a list",
                "write depends_on = [local_file.a, data.local_file.b]",
            );
            return out;
        };
        for item in items.iter() {
            let span = self.span(item);
            if let Some(call) = module_ref(item) {
                let addr = ResourceAddr::managed("module", &call);
                out.push(DependsOn { addr, key: None, span, module: Some(call) });
                continue;
            }
            match depends_on_ref(item) {
                Some((addr, key)) => out.push(DependsOn { addr, key, span, module: None }),
                None => self.err(
                    "meshform::config::invalid_depends_on",
                    "depends_on entries must be resource references",
                    span,
                    "not a resource reference",
                    "write TYPE.NAME, data.TYPE.NAME, module.NAME, or one instance as TYPE.NAME[\"key\"] or TYPE.NAME[0], without quotes around the reference",
                ),
            }
        }
        out
    }
}

/// `check.NAME` as written in a rollout's `checks`.
fn check_ref(e: &Expression) -> Option<String> {
    let Expression::Traversal(t) = e else { return None };
    let Expression::Variable(root) = &t.expr else { return None };
    match (root.as_str(), t.operators.as_slice()) {
        ("check", [op]) => match op.value() {
            TraversalOperator::GetAttr(a) => Some(a.as_str().to_owned()),
            _ => None,
        },
        _ => None,
    }
}

/// What a rollout needs from the rest of the configuration: its resource has instances (`for_each`
/// or `count`) and every check it names exists. (Whether `order` names existing keys is decided
/// where the keys are known: validation with constant `for_each`, and planning.)
/// Whether a rollout's `order` or `checks` is computed (a module's variable, a function call), to be
/// evaluated at expansion, rather than a literal that is not the list it must be.
fn computed(e: &Expression) -> bool {
    !matches!(
        e,
        Expression::Object(_)
            | Expression::String(_)
            | Expression::Number(_)
            | Expression::Bool(_)
            | Expression::Null(_)
    )
}

pub fn check_rollouts(config: &Config) -> Diagnostics {
    let mut diags = Diagnostics::default();
    for r in config.resources.values() {
        let Some(rollout) = &r.lifecycle.rollout else { continue };
        if matches!(r.repetition, Repetition::Single) {
            diags.push(
                Diagnostic::error(
                    "meshform::config::rollout_without_instances",
                    format!("{} has a rollout but only one instance", r.addr),
                )
                .with_span(rollout.span.clone(), "a rollout changes several instances in batches")
                .with_help("give the resource for_each or count, or remove the rollout block"),
            );
        }
        for e in [&rollout.order_expr, &rollout.checks_expr].into_iter().flatten() {
            diags.push(
                Diagnostic::error(
                    "meshform::config::invalid_rollout",
                    format!("{}: a rollout's order and checks are lists written in place", r.addr),
                )
                .with_span(e.span.clone(), "not a list")
                .with_help("write order = [\"cluster-2\", …] and checks = [check.NAME, …]; only inside a module may they come from the module's variables (strings: keys and check names)"),
            );
        }
        for (name, span) in &rollout.checks {
            if config.checks.contains_key(name) {
                continue;
            }
            let help = match crate::suggest::did_you_mean(
                name,
                config.checks.keys().map(String::as_str),
            ) {
                Some(s) => format!("did you mean check.{s}?"),
                None if config.checks.is_empty() => {
                    "the configuration has no check blocks; add check \"NAME\" { … }".to_owned()
                }
                None => format!(
                    "checks: {}",
                    config
                        .checks
                        .keys()
                        .map(|c| format!("check.{c}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
            diags.push(
                Diagnostic::error(
                    "meshform::config::unknown_check",
                    format!("rollout of {} names check.{name}, which is not declared", r.addr),
                )
                .with_span(span.clone(), "no such check block")
                .with_help(help),
            );
        }
    }
    diags
}

/// `NAME.ALIAS[KEY]` as written in `provider = …` or a module's `providers`: the block's key and
/// the key expression; `NAME` and `NAME.ALIAS` have none.
pub(super) fn provider_instance_ref(e: &Expression) -> Option<(String, Option<Expression>)> {
    if let Some(k) = provider_ref(e) {
        return Some((k, None));
    }
    let Expression::Traversal(t) = e else { return None };
    let Expression::Variable(root) = &t.expr else { return None };
    match t.operators.as_slice() {
        [alias, index] => match (alias.value(), index.value()) {
            (TraversalOperator::GetAttr(a), TraversalOperator::Index(k)) => {
                Some((provider_key(root.as_str(), Some(a.as_str())), Some(k.clone())))
            }
            _ => None,
        },
        _ => None,
    }
}

/// `module.NAME` as written in `depends_on`.
fn module_ref(e: &Expression) -> Option<String> {
    let Expression::Traversal(t) = e else { return None };
    let Expression::Variable(root) = &t.expr else { return None };
    match (root.as_str(), t.operators.as_slice()) {
        ("module", [op]) => match op.value() {
            TraversalOperator::GetAttr(a) => Some(a.as_str().to_owned()),
            _ => None,
        },
        _ => None,
    }
}

/// `NAME` or `NAME.ALIAS` as written in `provider = …`.
pub(super) fn provider_ref(e: &Expression) -> Option<String> {
    match e {
        Expression::Variable(v) => Some(v.as_str().to_owned()),
        Expression::Traversal(t) => {
            let Expression::Variable(root) = &t.expr else { return None };
            match t.operators.as_slice() {
                [op] => match op.value() {
                    TraversalOperator::GetAttr(a) => {
                        Some(provider_key(root.as_str(), Some(a.as_str())))
                    }
                    _ => None,
                },
                _ => None,
            }
        }
        _ => None,
    }
}

/// `TYPE.NAME` or `data.TYPE.NAME` as written in `depends_on`, optionally followed by one literal
/// instance key (`["cluster-2"]`, `[0]`).
pub(super) fn depends_on_ref(e: &Expression) -> Option<(ResourceAddr, Option<InstanceKey>)> {
    let Expression::Traversal(t) = e else { return None };
    let (last, attrs) = t.operators.split_last()?;
    let key = match last.value() {
        TraversalOperator::Index(Expression::String(s)) => {
            Some(InstanceKey::Str(s.value().clone()))
        }
        TraversalOperator::Index(Expression::Number(n)) => {
            Some(InstanceKey::Int(n.value().as_u64().and_then(|i| i64::try_from(i).ok())?))
        }
        TraversalOperator::LegacyIndex(i) => {
            Some(InstanceKey::Int(i64::try_from(*i.value()).ok()?))
        }
        _ => None,
    };
    let operators = if key.is_some() { attrs } else { t.operators.as_slice() };
    Some((resource_path(&t.expr, operators)?, key))
}

/// The resource a variable and attribute names (`TYPE.NAME`, `data.TYPE.NAME`) denote.
fn resource_path(
    root: &Expression,
    operators: &[hcl::edit::Decorated<TraversalOperator>],
) -> Option<ResourceAddr> {
    let Expression::Variable(root) = root else { return None };
    let names: Option<Vec<&str>> = operators
        .iter()
        .map(|op| match op.value() {
            TraversalOperator::GetAttr(a) => Some(a.as_str()),
            _ => None,
        })
        .collect();
    match (root.as_str(), names?.as_slice()) {
        ("data", [ty, name]) => Some(ResourceAddr::data(ty, name)),
        (ty, [name]) if !eval::RESERVED_ROOTS.contains(&ty) => {
            Some(ResourceAddr::managed(ty, name))
        }
        _ => None,
    }
}

/// An attribute name (possibly with nested `.key`s) as written in `ignore_changes`.
pub(super) fn attr_path(e: &Expression) -> Option<String> {
    match e {
        Expression::Variable(v) => Some(v.as_str().to_owned()),
        Expression::String(s) => Some(s.value().clone()),
        Expression::Traversal(t) => {
            let mut out = attr_path(&t.expr)?;
            for op in &t.operators {
                match op.value() {
                    TraversalOperator::GetAttr(a) => {
                        out.push('.');
                        out.push_str(a.as_str());
                    }
                    _ => return None,
                }
            }
            Some(out)
        }
        _ => None,
    }
}
