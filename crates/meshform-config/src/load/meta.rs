//! Meta-arguments and the blocks that carry them: `lifecycle`, `depends_on`, `provider = NAME.ALIAS`,
//! and `check` blocks with their scoped data sources and asserts.

use hcl::edit::expr::{Expression, TraversalOperator};
use hcl::edit::structure::{Block, Structure};
use meshform_core::{InstanceKey, ResourceAddr, Span};

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
                        match provider_ref(&p.expr.node) {
                            Some(k) => Some((k, p.expr.span.clone())),
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
        const ALLOWED: &[&str] = &["create_before_destroy", "prevent_destroy", "ignore_changes"];
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
            self.unexpected("block", &b.kind, b.span, ALLOWED);
        }
        l
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
            match depends_on_ref(item) {
                Some((addr, key)) => out.push(DependsOn { addr, key, span }),
                None => self.err(
                    "meshform::config::invalid_depends_on",
                    "depends_on entries must be resource references",
                    span,
                    "not a resource reference",
                    "write TYPE.NAME, data.TYPE.NAME, or one instance as TYPE.NAME[\"key\"] or TYPE.NAME[0], without quotes around the reference",
                ),
            }
        }
        out
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
