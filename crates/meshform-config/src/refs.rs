//! Finding the references an expression makes (`var.x`, `local.y`, `T.N`, `data.T.N`), with spans, for
//! the dependency graph.

use hcl::edit::expr::{Expression, ObjectKey, TraversalOperator};
use hcl::edit::template::{Directive, Element, Template};
use hcl::edit::Span as _;
use meshform_core::{InstanceKey, ResourceAddr, SourceFile, Span};
use std::sync::Arc;

/// What a reference points at.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Target {
    Var(String),
    Local(String),
    Resource(ResourceAddr),
    /// A resource by its absolute address (`depends_on` after module expansion), not resolved
    /// in the referring module.
    Absolute(ResourceAddr),
    /// `module.NAME` (the whole call), `module.NAME.OUTPUT`, or `module.NAME[KEY].OUTPUT` (with
    /// the key when it is a literal).
    Module(String, Option<InstanceKey>, Option<String>),
    Count,
    Each,
    Path,
    /// `self`, `module`, … or a malformed reference such as a bare `var`.
    Other(String),
}

/// A reference found in an expression.
#[derive(Clone, Debug)]
pub struct Reference {
    pub target: Target,
    pub span: Span,
}

/// Every reference in `e`, skipping names bound by for-expressions and template `for` directives.
pub fn references(e: &Expression, file: &Arc<SourceFile>) -> Vec<Reference> {
    let mut c = Collector { file, bound: Vec::new(), out: Vec::new() };
    c.expr(e);
    c.out
}

struct Collector<'a> {
    file: &'a Arc<SourceFile>,
    bound: Vec<String>,
    out: Vec<Reference>,
}

impl Collector<'_> {
    fn push(&mut self, target: Target, span: Option<std::ops::Range<usize>>) {
        self.out.push(Reference { target, span: Span::new(self.file, span.unwrap_or(0..0)) });
    }

    fn root(
        &mut self,
        name: &str,
        ops: &[hcl::edit::Decorated<TraversalOperator>],
        whole: Option<std::ops::Range<usize>>,
    ) {
        if self.bound.iter().any(|b| b == name) {
            return;
        }
        let attr = |i: usize| -> Option<&str> {
            match ops.get(i).map(|o| o.value()) {
                Some(TraversalOperator::GetAttr(a)) => Some(a.as_str()),
                _ => None,
            }
        };
        // The span covers the root and the attributes that name the target.
        let span_to = |n: usize| -> Option<std::ops::Range<usize>> {
            let start = whole.as_ref()?.start;
            let end = ops
                .get(n.saturating_sub(1))
                .and_then(|o| o.span())
                .map(|s| s.end)
                .or(whole.as_ref().map(|w| w.end))?;
            Some(start..end)
        };
        let target = match name {
            "var" => match attr(0) {
                Some(a) => (Target::Var(a.to_owned()), span_to(1)),
                None => (Target::Other("var".into()), whole.clone()),
            },
            "local" => match attr(0) {
                Some(a) => (Target::Local(a.to_owned()), span_to(1)),
                None => (Target::Other("local".into()), whole.clone()),
            },
            "data" => match (attr(0), attr(1)) {
                (Some(t), Some(n)) => (Target::Resource(ResourceAddr::data(t, n)), span_to(2)),
                _ => (Target::Other("data".into()), whole.clone()),
            },
            "module" => match attr(0) {
                Some(call) => {
                    // `module.NAME.OUTPUT`, or `module.NAME[KEY].OUTPUT` for one instance.
                    let keyed = matches!(
                        ops.get(1).map(|o| o.value()),
                        Some(TraversalOperator::Index(_) | TraversalOperator::LegacyIndex(_))
                    );
                    let at = if keyed { 2 } else { 1 };
                    let key = match ops.get(1).map(|o| o.value()) {
                        Some(TraversalOperator::Index(Expression::String(s))) => {
                            Some(InstanceKey::Str(s.value().clone()))
                        }
                        Some(TraversalOperator::Index(Expression::Number(n))) => {
                            n.value().as_i64().map(InstanceKey::Int)
                        }
                        Some(TraversalOperator::LegacyIndex(i)) => {
                            i64::try_from(*i.value()).ok().map(InstanceKey::Int)
                        }
                        _ => None,
                    };
                    let output = attr(at).map(str::to_owned);
                    let span = if output.is_some() { span_to(at + 1) } else { span_to(at) };
                    (Target::Module(call.to_owned(), key, output), span)
                }
                None => (Target::Other("module".into()), whole.clone()),
            },
            "count" => (Target::Count, whole.clone()),
            "each" => (Target::Each, whole.clone()),
            "path" => (Target::Path, whole.clone()),
            other if crate::eval::RESERVED_ROOTS.contains(&other) => {
                (Target::Other(other.to_owned()), whole.clone())
            }
            ty => match attr(0) {
                Some(n) => (Target::Resource(ResourceAddr::managed(ty, n)), span_to(1)),
                None => (Target::Other(ty.to_owned()), whole.clone()),
            },
        };
        self.push(target.0, target.1);
    }

    fn expr(&mut self, e: &Expression) {
        match e {
            Expression::Null(_)
            | Expression::Bool(_)
            | Expression::Number(_)
            | Expression::String(_) => {}
            Expression::Array(items) => items.iter().for_each(|i| self.expr(i)),
            Expression::Object(obj) => {
                for (k, v) in obj.iter() {
                    if let ObjectKey::Expression(ke) = k {
                        // A bare identifier key is a literal even when written as an expression.
                        if !matches!(ke, Expression::Variable(_)) {
                            self.expr(ke);
                        }
                    }
                    self.expr(v.expr());
                }
            }
            Expression::StringTemplate(t) => self.template(t),
            Expression::HeredocTemplate(h) => self.template(&h.template),
            Expression::Parenthesis(p) => self.expr(p.inner()),
            Expression::Variable(v) => self.root(v.as_str(), &[], e.span()),
            Expression::Conditional(c) => {
                self.expr(&c.cond_expr);
                self.expr(&c.true_expr);
                self.expr(&c.false_expr);
            }
            Expression::FuncCall(f) => f.args.iter().for_each(|a| self.expr(a)),
            Expression::Traversal(t) => {
                match &t.expr {
                    Expression::Variable(v) => self.root(v.as_str(), &t.operators, e.span()),
                    other => self.expr(other),
                }
                for op in &t.operators {
                    if let TraversalOperator::Index(ie) = op.value() {
                        self.expr(ie);
                    }
                }
            }
            Expression::UnaryOp(op) => self.expr(&op.expr),
            Expression::BinaryOp(op) => {
                self.expr(&op.lhs_expr);
                self.expr(&op.rhs_expr);
            }
            Expression::ForExpr(f) => {
                self.expr(&f.intro.collection_expr);
                let n = self.bound.len();
                self.bound.push(f.intro.value_var.as_str().to_owned());
                if let Some(k) = &f.intro.key_var {
                    self.bound.push(k.as_str().to_owned());
                }
                if let Some(k) = &f.key_expr {
                    self.expr(k);
                }
                self.expr(&f.value_expr);
                if let Some(c) = &f.cond {
                    self.expr(&c.expr);
                }
                self.bound.truncate(n);
            }
        }
    }

    fn template(&mut self, t: &Template) {
        for el in t.iter() {
            match el {
                Element::Literal(_) => {}
                Element::Interpolation(i) => self.expr(&i.expr),
                Element::Directive(dir) => match dir.as_ref() {
                    Directive::If(d) => {
                        self.expr(&d.if_expr.cond_expr);
                        self.template(&d.if_expr.template);
                        if let Some(e) = &d.else_expr {
                            self.template(&e.template);
                        }
                    }
                    Directive::For(d) => {
                        self.expr(&d.for_expr.collection_expr);
                        let n = self.bound.len();
                        self.bound.push(d.for_expr.value_var.as_str().to_owned());
                        if let Some(k) = &d.for_expr.key_var {
                            self.bound.push(k.as_str().to_owned());
                        }
                        self.template(&d.for_expr.template);
                        self.bound.truncate(n);
                    }
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refs(src: &str) -> Vec<(Target, String)> {
        let f = SourceFile::new("t.hcl", format!("x = {src}\n"));
        let body = hcl::edit::parser::parse_body(&f.text).unwrap();
        let attr = body.get_attribute("x").unwrap();
        references(&attr.value, &f)
            .into_iter()
            .map(|r| (r.target, r.span.text().to_owned()))
            .collect()
    }

    #[test]
    fn finds_references_with_spans() {
        let r = refs("\"${var.a}-${local_file.b.id}\"");
        assert_eq!(r[0], (Target::Var("a".into()), "var.a".into()));
        assert_eq!(
            r[1],
            (Target::Resource(ResourceAddr::managed("local_file", "b")), "local_file.b".into())
        );
        let r = refs("[for k, v in data.x.y.list : v if k != local.z]");
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].0, Target::Resource(ResourceAddr::data("x", "y")));
        assert_eq!(r[1].0, Target::Local("z".into()));
        let r = refs("local_file.a[count.index].id");
        assert_eq!(r[0].1, "local_file.a");
        assert_eq!(r[1].0, Target::Count);
    }
}
