//! Expression evaluation over hcl-edit syntax trees, with unknown and sensitive values and spans on
//! every error.
//!
//! hcl-rs's own evaluator has neither unknown values nor source positions, so meshform evaluates the
//! hcl-edit tree itself. Rules: an operation on an unknown value gives an unknown value (except where
//! the result does not depend on it, as in `false && x`); an operation on a sensitive value gives a
//! sensitive value.
//!
//! Templates live in `template`, function calls (and `try`, `can`, `templatefile`) in `call`.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use hcl::edit::expr::{
    BinaryOperator, Expression, ForExpr, ObjectKey, TraversalOperator, UnaryOperator,
};
use meshform_core::{Diagnostic, Number, SourceFile, Span, Value};

use crate::suggest::did_you_mean;

mod call;
mod template;

/// Root names that are not resource types.
pub const RESERVED_ROOTS: &[&str] =
    &["var", "local", "data", "count", "each", "path", "self", "module", "meshform", "terraform"];

/// Where root names (`var`, `local`, `local_file`, `each`, …) are looked up.
pub trait Scope {
    fn root(&self, name: &str) -> Option<&Value>;
    /// The names available, for "did you mean".
    fn root_names(&self) -> Vec<String>;
}

/// A scope with no names: for constants.
#[derive(Debug, Default)]
pub struct EmptyScope;

impl Scope for EmptyScope {
    fn root(&self, _: &str) -> Option<&Value> {
        None
    }
    fn root_names(&self) -> Vec<String> {
        Vec::new()
    }
}

/// A scope backed by a map of root values.
#[derive(Debug, Default, Clone)]
pub struct MapScope(pub BTreeMap<String, Value>);

impl Scope for MapScope {
    fn root(&self, name: &str) -> Option<&Value> {
        self.0.get(name)
    }
    fn root_names(&self) -> Vec<String> {
        self.0.keys().cloned().collect()
    }
}

/// A scope that adds a few names (`each`, `count`) over another.
pub struct Overlay<'a> {
    pub base: &'a dyn Scope,
    pub extra: &'a BTreeMap<String, Value>,
}

impl Scope for Overlay<'_> {
    fn root(&self, name: &str) -> Option<&Value> {
        self.extra.get(name).or_else(|| self.base.root(name))
    }
    fn root_names(&self) -> Vec<String> {
        let mut n = self.base.root_names();
        n.extend(self.extra.keys().cloned());
        n
    }
}

/// Local names bound by for-expressions and template `for` directives.
struct Frame<'p> {
    names: Vec<(String, Value)>,
    parent: Option<&'p Frame<'p>>,
}

impl Frame<'_> {
    fn get(&self, name: &str) -> Option<&Value> {
        self.names
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
            .or_else(|| self.parent.and_then(|p| p.get(name)))
    }
}

type EvalResult = Result<Value, Diagnostic>;

/// What a template produces while it is evaluated: the text, and whether any part was sensitive or
/// unknown.
#[derive(Default)]
struct TemplateAcc {
    text: String,
    marked: bool,
    unknown: bool,
}

/// Evaluates expressions of one file against a scope.
pub struct Evaluator<'a> {
    scope: &'a dyn Scope,
    file: &'a Arc<SourceFile>,
    base_dir: &'a Path,
}

const MAX_DEPTH: usize = 200;

impl<'a> Evaluator<'a> {
    pub fn new(scope: &'a dyn Scope, file: &'a Arc<SourceFile>, base_dir: &'a Path) -> Self {
        Evaluator { scope, file, base_dir }
    }

    /// Evaluates an expression.
    pub fn eval(&self, e: &Expression) -> EvalResult {
        self.eval_in(e, &Frame { names: Vec::new(), parent: None }, 0)
    }

    fn span(&self, node: &impl hcl::edit::Span) -> Span {
        Span::new(self.file, node.span().unwrap_or(0..0))
    }

    /// A number literal, exact: hcl-edit keeps only a float, so the digits are read again from the
    /// source (`0.1` is one tenth, `9007199254740993` stays odd).
    fn literal_number(&self, n: &hcl::edit::Formatted<hcl::Number>) -> Number {
        let value = n.value();
        let from_hcl = || match (value.as_i64(), value.as_u64(), value.as_f64()) {
            (Some(i), _, _) => Number::from(i),
            (_, Some(u), _) => Number::from(u),
            (_, _, f) => f.and_then(Number::from_f64).unwrap_or(Number::ZERO),
        };
        let text = hcl::edit::Span::span(n).and_then(|r| self.file.text.get(r));
        match text.map(Number::parse) {
            // The same number as hcl-edit read (the span is this literal's), only exact.
            Some(Ok(exact)) if Some(exact.to_f64()) == value.as_f64() => exact,
            _ => from_hcl(),
        }
    }

    fn error(
        &self,
        node: &impl hcl::edit::Span,
        code: &str,
        summary: impl Into<String>,
        label: &str,
    ) -> Diagnostic {
        Diagnostic::error(code, summary).with_span(self.span(node), label)
    }

    fn eval_in(&self, e: &Expression, frame: &Frame, depth: usize) -> EvalResult {
        if depth > MAX_DEPTH {
            return Err(self.error(
                e,
                "meshform::config::too_deep",
                "expression nested too deeply",
                "here",
            ));
        }
        let d = depth + 1;
        match e {
            Expression::Null(_) => Ok(Value::Null),
            Expression::Bool(b) => Ok(Value::Bool(*b.value())),
            Expression::Number(n) => Ok(Value::Number(self.literal_number(n))),
            Expression::String(s) => Ok(Value::String(s.value().clone())),
            Expression::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items.iter() {
                    out.push(self.eval_in(item, frame, d)?);
                }
                Ok(Value::List(out))
            }
            Expression::Object(obj) => {
                let mut out = BTreeMap::new();
                let mut unknown_key = false;
                // A key made from a sensitive value makes the whole object sensitive: keys carry
                // no marks of their own.
                let mut secret_key = false;
                for (k, v) in obj.iter() {
                    let key = match k {
                        ObjectKey::Ident(i) => i.as_str().to_owned(),
                        ObjectKey::Expression(ke) => {
                            let kv = self.eval_in(ke, frame, d)?;
                            secret_key |= kv.is_sensitive();
                            match kv.unmarked() {
                                Value::String(s) => s.clone(),
                                Value::Number(n) => n.to_string(),
                                Value::Bool(b) => b.to_string(),
                                Value::Unknown => {
                                    unknown_key = true;
                                    continue;
                                }
                                other => {
                                    return Err(self.error(
                                        ke,
                                        "meshform::config::invalid_key",
                                        format!(
                                            "object keys must be strings, got {}",
                                            other.kind()
                                        ),
                                        "invalid key",
                                    ))
                                }
                            }
                        }
                    };
                    out.insert(key, self.eval_in(v.expr(), frame, d)?);
                }
                Ok(if unknown_key { Value::Unknown } else { Value::Map(out) }.with_mark(secret_key))
            }
            Expression::StringTemplate(t) => self.template(t, frame, d),
            Expression::HeredocTemplate(h) => {
                let v = self.template(&h.template, frame, d)?;
                Ok(match (h.indent(), v) {
                    (Some(_), Value::String(s)) => Value::String(template::dedent(&s)),
                    (_, v) => v,
                })
            }
            Expression::Parenthesis(p) => self.eval_in(p.inner(), frame, d),
            Expression::Variable(v) => self.variable(v.as_str(), e, frame),
            Expression::Conditional(c) => {
                let cond = self.eval_in(&c.cond_expr, frame, d)?;
                let (cond_v, marked) = cond.split_mark();
                match cond_v {
                    Value::Unknown => Ok(Value::Unknown),
                    Value::Bool(b) => {
                        let branch = if b { &c.true_expr } else { &c.false_expr };
                        Ok(self.eval_in(branch, frame, d)?.with_mark(marked))
                    }
                    other => Err(self.error(
                        &c.cond_expr,
                        "meshform::config::type_mismatch",
                        format!("the condition must be a bool, got {}", other.kind()),
                        "not a bool",
                    )),
                }
            }
            Expression::FuncCall(call) => self.func_call(call, e, frame, d),
            Expression::Traversal(t) => {
                // `local_file.a.id` borrows the root instead of copying every `local_file`.
                if let Expression::Variable(v) = &t.expr {
                    let root = frame.get(v.as_str()).or_else(|| self.scope.root(v.as_str()));
                    if let (Some(root), true) = (root, d <= MAX_DEPTH) {
                        return self.traverse_borrowed(root, &t.operators, frame, d);
                    }
                }
                let root = self.eval_in(&t.expr, frame, d)?;
                self.traverse(root, &t.operators, frame, d)
            }
            Expression::UnaryOp(op) => {
                let v = self.eval_in(&op.expr, frame, d)?;
                let (v, marked) = v.split_mark();
                let r = match (op.operator.value(), v) {
                    (_, Value::Unknown) => Value::Unknown,
                    (UnaryOperator::Neg, Value::Number(n)) => Value::Number(n.neg()),
                    (UnaryOperator::Not, Value::Bool(b)) => Value::Bool(!b),
                    (UnaryOperator::Neg, other) => {
                        return Err(self.type_error(&op.expr, "a number", &other))
                    }
                    (UnaryOperator::Not, other) => {
                        return Err(self.type_error(&op.expr, "a bool", &other))
                    }
                };
                Ok(r.with_mark(marked))
            }
            Expression::BinaryOp(op) => self.binary(op, frame, d),
            Expression::ForExpr(f) => self.for_expr(f, frame, d),
        }
    }

    fn type_error(&self, node: &impl hcl::edit::Span, want: &str, got: &Value) -> Diagnostic {
        self.error(
            node,
            "meshform::config::type_mismatch",
            format!("{want} is required here, got {}", got.kind()),
            &format!("this is {}", got.kind()),
        )
    }

    fn variable(&self, name: &str, e: &Expression, frame: &Frame) -> EvalResult {
        if let Some(v) = frame.get(name) {
            return Ok(v.clone());
        }
        if let Some(v) = self.scope.root(name) {
            return Ok(v.clone());
        }
        let mut names = self.scope.root_names();
        let mut f = Some(frame);
        while let Some(fr) = f {
            names.extend(fr.names.iter().map(|(n, _)| n.clone()));
            f = fr.parent;
        }
        let mut d = self.error(
            e,
            "meshform::config::unknown_reference",
            format!("unknown name \"{name}\""),
            "not declared",
        );
        d = match did_you_mean(name, names.iter().map(String::as_str)) {
            Some(s) => d.with_help(format!("did you mean `{s}`?")),
            None => match name {
                "count" => d.with_help("count.index is only available in a resource with count"),
                "each" => d.with_help("each.key and each.value are only available in a resource with for_each"),
                _ => d.with_help("declare it, or check the spelling; references look like var.NAME, local.NAME, TYPE.NAME.ATTRIBUTE"),
            },
        };
        Err(d)
    }

    fn traverse(
        &self,
        mut cur: Value,
        ops: &[hcl::edit::Decorated<TraversalOperator>],
        frame: &Frame,
        d: usize,
    ) -> EvalResult {
        for (i, op) in ops.iter().enumerate() {
            let (v, marked) = cur.split_mark();
            if matches!(v, Value::Unknown) {
                return Ok(Value::Unknown.with_mark(marked));
            }
            cur = match op.value() {
                TraversalOperator::GetAttr(name) => match v {
                    Value::Map(mut m) => match m.remove(name.as_str()) {
                        Some(x) => x,
                        None => {
                            let mut diag = self.error(
                                op,
                                "meshform::config::unknown_attribute",
                                format!("this object has no attribute \"{}\"", name.as_str()),
                                "no such attribute",
                            );
                            let suggestion = if marked {
                                None
                            } else {
                                did_you_mean(name.as_str(), m.keys().map(String::as_str))
                            };
                            diag = match suggestion {
                                Some(s) => diag.with_help(format!("did you mean `{s}`?")),
                                // A sensitive object's attribute names are not shown.
                                None if marked => diag.with_help("check the attribute's name (the object is sensitive, so its attributes are not listed)"),
                                None if m.len() <= 20 => diag.with_help(format!(
                                    "available: {}",
                                    m.keys().cloned().collect::<Vec<_>>().join(", ")
                                )),
                                None => diag.with_help("check the attribute's name"),
                            };
                            return Err(diag);
                        }
                    },
                    Value::Null => return Err(self
                        .error(
                            op,
                            "meshform::config::null_attribute",
                            format!("cannot read attribute \"{}\" of a null value", name.as_str()),
                            "the value here is null",
                        )
                        .with_help(
                            "give it a value, or guard the reference: x != null ? x.attr : default",
                        )),
                    Value::List(_) => {
                        return Err(self
                            .error(
                                op,
                                "meshform::config::unknown_attribute",
                                format!("cannot read attribute \"{}\" of a list", name.as_str()),
                                "this is a list",
                            )
                            .with_help("index it first ([0], [\"key\"]) or use a splat ([*])"))
                    }
                    other => return Err(self.type_error(op, "an object", &other)),
                },
                TraversalOperator::Index(ie) => {
                    let key = self.eval_in(ie, frame, d)?;
                    let (key, kmarked) = key.split_mark();
                    if matches!(key, Value::Unknown) {
                        return Ok(Value::Unknown.with_mark(marked || kmarked));
                    }
                    self.index(v, &key, ie, marked || kmarked)?.with_mark(kmarked)
                }
                TraversalOperator::LegacyIndex(n) => {
                    self.index(v, &Value::number(*n.value()), op, marked)?
                }
                TraversalOperator::AttrSplat(_) | TraversalOperator::FullSplat(_) => {
                    let items = match v {
                        Value::Null => Vec::new(),
                        Value::List(items) => items,
                        other => vec![other],
                    };
                    let rest = &ops[i + 1..];
                    let mut out = Vec::with_capacity(items.len());
                    for item in items {
                        // Each element of a sensitive collection is sensitive on its own way on.
                        out.push(self.traverse(item.with_mark(marked), rest, frame, d)?);
                    }
                    return Ok(Value::List(out).with_mark(marked));
                }
            }
            .with_mark(marked);
        }
        Ok(cur)
    }

    /// [`Self::traverse`] for a root the scope holds: attribute and index steps walk by reference and
    /// only the value reached is cloned, so a reference costs the size of what it reads, not of its
    /// root. Splats and failing steps continue in `traverse` from where this stops, with the value
    /// `traverse` would hold there, so results and errors are the same.
    fn traverse_borrowed(
        &self,
        root: &Value,
        ops: &[hcl::edit::Decorated<TraversalOperator>],
        frame: &Frame,
        d: usize,
    ) -> EvalResult {
        let mut cur = root;
        // `traverse` would hold `cur.clone().with_mark(mark)`.
        let mut mark = false;
        for (i, op) in ops.iter().enumerate() {
            // What `split_mark` of that value gives, without the clone.
            let v = cur.unmarked();
            let marked = cur.is_sensitive() || (mark && !matches!(cur, Value::Null));
            if matches!(v, Value::Unknown) {
                return Ok(Value::Unknown.with_mark(marked));
            }
            let next = match op.value() {
                TraversalOperator::GetAttr(name) => match v {
                    Value::Map(m) => m.get(name.as_str()),
                    _ => None,
                },
                TraversalOperator::Index(ie) => {
                    let key = self.eval_in(ie, frame, d)?;
                    let (key, kmarked) = key.split_mark();
                    if matches!(key, Value::Unknown) {
                        return Ok(Value::Unknown.with_mark(marked || kmarked));
                    }
                    match index_borrowed(v, &key) {
                        Some(x) => {
                            cur = x;
                            mark = marked || kmarked;
                            continue;
                        }
                        None => {
                            // The key is evaluated once: finish this step as `traverse` does.
                            let x = self
                                .index(v.clone(), &key, ie, marked || kmarked)?
                                .with_mark(kmarked);
                            return self.traverse(x.with_mark(marked), &ops[i + 1..], frame, d);
                        }
                    }
                }
                TraversalOperator::LegacyIndex(n) => index_borrowed(v, &Value::number(*n.value())),
                TraversalOperator::AttrSplat(_) | TraversalOperator::FullSplat(_) => None,
            };
            match next {
                Some(x) => {
                    cur = x;
                    mark = marked;
                }
                None => return self.traverse(cur.clone().with_mark(mark), &ops[i..], frame, d),
            }
        }
        Ok(cur.clone().with_mark(mark))
    }

    /// `v[key]`. `secret`: the collection or the key is sensitive, so an error names neither the
    /// key nor the keys present.
    fn index(
        &self,
        v: Value,
        key: &Value,
        node: &impl hcl::edit::Span,
        secret: bool,
    ) -> EvalResult {
        const HIDDEN: &str = "the key or the collection is sensitive, so neither is shown";
        match (v, key) {
            (Value::List(mut items), Value::Number(n)) => {
                let len = items.len();
                match n.as_i64() {
                    Some(i) if i >= 0 && (i as usize) < len => Ok(items.swap_remove(i as usize)),
                    _ if secret => Err(self
                        .error(
                            node,
                            "meshform::config::index_out_of_range",
                            format!("index (sensitive value) is out of range for a list of {len} elements"),
                            "invalid index",
                        )
                        .with_help(HIDDEN)),
                    _ => Err(self
                        .error(
                            node,
                            "meshform::config::index_out_of_range",
                            format!("index {n} is out of range for a list of {len} elements"),
                            "invalid index",
                        )
                        .with_help(format!("valid indexes are 0 to {}", len.saturating_sub(1)))),
                }
            }
            (Value::List(items), Value::String(s)) if s.parse::<usize>().is_ok() => self.index(
                Value::List(items),
                &Value::number(s.parse::<u64>().unwrap_or(u64::MAX)),
                node,
                secret,
            ),
            (Value::Map(mut m), k) if matches!(k, Value::String(_) | Value::Number(_)) => {
                let ks = match k {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                match m.remove(&ks) {
                    Some(x) => Ok(x),
                    None if secret => Err(self
                        .error(
                            node,
                            "meshform::config::missing_key",
                            "no element with key (sensitive value)",
                            "key not present",
                        )
                        .with_help(HIDDEN)),
                    None => {
                        let mut diag = self.error(
                            node,
                            "meshform::config::missing_key",
                            format!("no element with key {}", meshform_core::value::quote(&ks)),
                            "key not present",
                        );
                        if let Some(s) = did_you_mean(&ks, m.keys().map(String::as_str)) {
                            diag = diag.with_help(format!("did you mean \"{s}\"?"));
                        } else {
                            diag = diag.with_help(format!(
                                "keys present: {}",
                                m.keys().take(20).cloned().collect::<Vec<_>>().join(", ")
                            ));
                        }
                        Err(diag)
                    }
                }
            }
            (Value::Null, _) => Err(self.error(
                node,
                "meshform::config::null_index",
                "cannot index a null value",
                "the value here is null",
            )),
            (coll, key) => Err(self.error(
                node,
                "meshform::config::invalid_index",
                format!("cannot index {} with {}", coll.kind(), key.kind()),
                "invalid index",
            )),
        }
    }

    fn binary(&self, op: &hcl::edit::expr::BinaryOp, frame: &Frame, d: usize) -> EvalResult {
        use BinaryOperator::*;
        let oper = *op.operator.value();
        let lhs = self.eval_in(&op.lhs_expr, frame, d)?;
        let (l, lm) = lhs.split_mark();
        // Short-circuit logic where the result does not depend on the other side.
        if matches!(oper, And | Or) {
            if let Value::Bool(b) = l {
                if (oper == And && !b) || (oper == Or && b) {
                    return Ok(Value::Bool(b).with_mark(lm));
                }
            }
        }
        let rhs = self.eval_in(&op.rhs_expr, frame, d)?;
        let (r, rm) = rhs.split_mark();
        let marked = lm || rm;
        if matches!(oper, Eq | NotEq) {
            if l.contains_unknown() || r.contains_unknown() {
                return Ok(Value::Unknown.with_mark(marked));
            }
            let eq = l.same_as(&r);
            return Ok(Value::Bool(if oper == Eq { eq } else { !eq }).with_mark(marked));
        }
        if matches!(l, Value::Unknown) || matches!(r, Value::Unknown) {
            return Ok(Value::Unknown.with_mark(marked));
        }
        let result = match oper {
            And | Or => {
                let lb = self.as_bool(&op.lhs_expr, &l)?;
                let rb = self.as_bool(&op.rhs_expr, &r)?;
                Value::Bool(if oper == And { lb && rb } else { lb || rb })
            }
            _ => {
                let a = self.as_number(&op.lhs_expr, &l)?;
                let b = self.as_number(&op.rhs_expr, &r)?;
                match oper {
                    Plus => Value::Number(a.add(&b)),
                    Minus => Value::Number(a.sub(&b)),
                    Mul => Value::Number(a.mul(&b)),
                    Div | Mod => {
                        let r = if oper == Div { a.checked_div(&b) } else { a.checked_rem(&b) };
                        match r {
                            Some(n) => Value::Number(n),
                            None => {
                                return Err(self.error(
                                    &op.rhs_expr,
                                    "meshform::config::division_by_zero",
                                    "division by zero",
                                    "this is zero",
                                ))
                            }
                        }
                    }
                    Less => Value::Bool(a < b),
                    LessEq => Value::Bool(a <= b),
                    Greater => Value::Bool(a > b),
                    GreaterEq => Value::Bool(a >= b),
                    Eq | NotEq | And | Or => Value::Null,
                }
            }
        };
        if let Value::Number(n) = &result {
            if n.too_large() {
                return Err(self
                    .error(
                        op,
                        "meshform::config::number_too_large",
                        "the result of this arithmetic is too large to compute exactly",
                        "too large",
                    )
                    .with_help(format!(
                        "numbers are exact up to {} bits (about 21,000 digits); a configuration needing more is probably squaring in a loop",
                        meshform_core::number::MAX_RESULT_BITS
                    )));
            }
        }
        Ok(result.with_mark(marked))
    }

    fn as_bool(&self, node: &Expression, v: &Value) -> Result<bool, Diagnostic> {
        match v {
            Value::Bool(b) => Ok(*b),
            Value::String(s) if s == "true" || s == "false" => Ok(s == "true"),
            other => Err(self.type_error(node, "a bool", other)),
        }
    }

    fn as_number(&self, node: &Expression, v: &Value) -> Result<Number, Diagnostic> {
        match v {
            Value::Number(n) => Ok(n.clone()),
            Value::String(s) => {
                Number::parse(s.trim()).map_err(|_| self.type_error(node, "a number", v))
            }
            other => Err(self.type_error(node, "a number", other)),
        }
    }

    fn for_expr(&self, f: &ForExpr, frame: &Frame, d: usize) -> EvalResult {
        let coll = self.eval_in(&f.intro.collection_expr, frame, d)?;
        let (coll, mut marked) = coll.split_mark();
        let pairs: Vec<(Value, Value)> = match coll {
            Value::Unknown => return Ok(Value::Unknown.with_mark(marked)),
            Value::List(items) => {
                items.into_iter().enumerate().map(|(i, v)| (Value::number(i), v)).collect()
            }
            Value::Map(m) => m.into_iter().map(|(k, v)| (Value::String(k), v)).collect(),
            other => {
                return Err(self.type_error(&f.intro.collection_expr, "a list or map", &other))
            }
        };
        let mut list = Vec::new();
        let mut map: BTreeMap<String, Value> = BTreeMap::new();
        let mut unknown = false;
        // The elements (and keys) of a sensitive collection are sensitive inside the loop too, so
        // that an error about one does not show it.
        let collection_marked = marked;
        for (k, v) in pairs {
            let mut names =
                vec![(f.intro.value_var.as_str().to_owned(), v.with_mark(collection_marked))];
            if let Some(kv) = &f.intro.key_var {
                names.push((kv.as_str().to_owned(), k.with_mark(collection_marked)));
            }
            let inner = Frame { names, parent: Some(frame) };
            if let Some(cond) = &f.cond {
                let c = self.eval_in(&cond.expr, &inner, d)?;
                match c.unmarked() {
                    Value::Bool(true) => {}
                    Value::Bool(false) => continue,
                    Value::Unknown => {
                        unknown = true;
                        continue;
                    }
                    other => return Err(self.type_error(&cond.expr, "a bool", other)),
                }
            }
            let value = self.eval_in(&f.value_expr, &inner, d)?;
            match &f.key_expr {
                None => list.push(value),
                Some(ke) => {
                    let key = self.eval_in(ke, &inner, d)?;
                    // As in an object: a sensitive key makes the result sensitive.
                    let secret_key = key.is_sensitive();
                    marked |= secret_key;
                    let ks = match key.unmarked() {
                        Value::String(s) => s.clone(),
                        Value::Number(n) => n.to_string(),
                        Value::Bool(b) => b.to_string(),
                        Value::Unknown => {
                            unknown = true;
                            continue;
                        }
                        other => return Err(self.type_error(ke, "a string key", other)),
                    };
                    if f.grouping {
                        match map.entry(ks).or_insert_with(|| Value::List(Vec::new())) {
                            Value::List(items) => items.push(value),
                            _ => unknown = true,
                        }
                    } else if let std::collections::btree_map::Entry::Vacant(slot) =
                        map.entry(ks.clone())
                    {
                        slot.insert(value);
                    } else {
                        return Err(self
                            .error(
                                ke,
                                "meshform::config::duplicate_key",
                                if secret_key {
                                    "duplicate key (sensitive value) in for expression".to_owned()
                                } else {
                                    format!("duplicate key {} in for expression", meshform_core::value::quote(&ks))
                                },
                                "produces a key twice",
                            )
                            .with_help("make the key unique, or add `...` after the value expression to group values by key"));
                    }
                }
            }
        }
        if unknown {
            return Ok(Value::Unknown.with_mark(marked));
        }
        Ok(match f.key_expr {
            None => Value::List(list),
            Some(_) => Value::Map(map),
        }
        .with_mark(marked))
    }
}

/// The element [`Evaluator::index`] would return when it succeeds without conversion, by reference;
/// `None` where it would convert the key or fail.
fn index_borrowed<'v>(v: &'v Value, key: &Value) -> Option<&'v Value> {
    match (v, key) {
        (Value::List(items), Value::Number(n)) => items.get(n.as_usize()?),
        (Value::Map(m), Value::String(s)) => m.get(s),
        (Value::Map(m), Value::Number(_)) => m.get(&key.to_string()),
        _ => None,
    }
}
