//! `moved { from = …  to = … }`, `removed { from = …  lifecycle { destroy = … } }` and
//! `import { to = …  id = …  for_each = … }` blocks:
//! reading their addresses and the rules that need no state (for `moved`: both resources or both
//! modules, same type, managed resources only, not the same; for `removed`: a managed resource or
//! a module call, without instance keys).

use hcl::edit::expr::{Expression, TraversalOperator};
use hcl::edit::structure::Block;
use meshform_core::{Mode, Selector, Span};

use super::Lowerer;
use crate::model::{AttrDef, Expr, ImportDef, MovedDef, RemovedDef};

impl Lowerer {
    pub(super) fn lower_moved(&mut self, span: Span, b: &Block) -> Option<MovedDef> {
        let mut body = self.lower_body(&b.body, self.span(b));
        for n in &body.blocks {
            self.err(
                "meshform::config::moved",
                format!("unexpected block \"{}\" in moved", n.kind),
                n.span.clone(),
                "moved takes from and to only",
                "write moved { from = OLD_ADDRESS  to = NEW_ADDRESS }",
            );
        }
        let from = self.endpoint("moved", body.attrs.remove("from"), "from", &span)?;
        let to = self.endpoint("moved", body.attrs.remove("to"), "to", &span)?;
        for (name, a) in body.attrs {
            self.err(
                "meshform::config::moved",
                format!("unsupported argument \"{name}\" in moved"),
                a.name_span,
                "not a moved argument",
                "moved takes from and to only",
            );
        }
        let invalid = |this: &mut Lowerer, summary: String, at: &Span, help: &str| {
            this.err("meshform::config::moved", summary, at.clone(), "invalid move", help);
        };
        match (&from.0, &to.0) {
            (Selector::Resource(f), Selector::Resource(t)) => {
                if f.resource.mode == Mode::Data || t.resource.mode == Mode::Data {
                    invalid(
                        self,
                        "a moved block cannot name a data source".into(),
                        &from.1,
                        "data sources hold nothing to keep: rename them freely",
                    );
                    return None;
                }
                if f.resource.ty != t.resource.ty {
                    invalid(
                        self,
                        format!("cannot move {} to {}: the resource types differ", from.0, to.0),
                        &to.1,
                        "a moved block renames a resource of one type; another type is another object (import it instead)",
                    );
                    return None;
                }
            }
            (Selector::Module(_), Selector::Module(_)) => {}
            _ => {
                invalid(
                    self,
                    "invalid \"moved\" addresses: from and to must both be resources or both be modules".into(),
                    &to.1,
                    "move a resource to a resource (module.x.TYPE.NAME is a resource inside a module), or a module call to a module call",
                );
                return None;
            }
        }
        if from.0 == to.0 {
            invalid(
                self,
                format!("redundant move: from and to are both {}", from.0),
                &to.1,
                "remove the moved block, or correct one of the addresses",
            );
            return None;
        }
        Some(MovedDef { span, from, to })
    }

    pub(super) fn lower_removed(&mut self, span: Span, b: &Block) -> Option<RemovedDef> {
        let mut body = self.lower_body(&b.body, self.span(b));
        let from = self.endpoint("removed", body.attrs.remove("from"), "from", &span)?;
        for (name, a) in body.attrs {
            self.err(
                "meshform::config::removed",
                format!("unsupported argument \"{name}\" in removed"),
                a.name_span,
                "not a removed argument",
                "removed takes from and a lifecycle { destroy = … } block",
            );
        }
        let mut destroy = true;
        for n in body.blocks {
            if n.kind != "lifecycle" {
                self.err(
                    "meshform::config::removed",
                    format!("unexpected block \"{}\" in removed", n.kind),
                    n.span,
                    "removed takes a lifecycle block only",
                    "write lifecycle { destroy = false } to forget without destroying",
                );
                continue;
            }
            for (name, a) in n.body.attrs {
                match (name.as_str(), &a.expr.node) {
                    ("destroy", hcl::edit::expr::Expression::Bool(v)) => destroy = *v.value(),
                    _ => self.err(
                        "meshform::config::removed",
                        format!("invalid lifecycle argument \"{name}\" in removed"),
                        a.name_span,
                        "not destroy = true|false",
                        "write lifecycle { destroy = false } (a literal bool)",
                    ),
                }
            }
        }
        let keyed = match &from.0 {
            Selector::Resource(p) => p.key.is_some(),
            Selector::Module(m) => m.0.iter().any(|(_, k)| k.is_some()),
        };
        if keyed {
            self.err(
                "meshform::config::removed",
                "instance keys are not allowed in removed",
                from.1.clone(),
                "names one instance",
                "name the whole resource or module call (no [key]): every instance recorded is removed",
            );
            return None;
        }
        if matches!(&from.0, Selector::Resource(p) if p.resource.mode == Mode::Data) {
            self.err(
                "meshform::config::removed",
                "a removed block cannot name a data source",
                from.1.clone(),
                "data source",
                "data sources are not kept in a way that needs removing: delete the block",
            );
            return None;
        }
        Some(RemovedDef { span, from, destroy })
    }

    pub(super) fn lower_import(&mut self, span: Span, b: &Block) -> Option<ImportDef> {
        let mut body = self.lower_body(&b.body, self.span(b));
        let for_each = body.attrs.remove("for_each").map(|a| a.expr);
        let mut to_attr = body.attrs.remove("to");
        // With for_each, `to` ends with an index computed per element: kept as an expression.
        let to_key = match (&for_each, &mut to_attr) {
            (Some(_), Some(a)) => self.split_import_index(a),
            _ => None,
        };
        let to = self.endpoint("import", to_attr, "to", &span);
        let id = body.attrs.remove("id");
        for (name, a) in body.attrs {
            let help = if name == "provider" {
                "import takes to, id and for_each here: the provider is the resource's (import provider is not supported yet)"
            } else {
                "import takes to, id and for_each"
            };
            self.err(
                "meshform::config::import",
                format!("unsupported argument \"{name}\" in import"),
                a.name_span,
                "not an import argument",
                help,
            );
        }
        let Some(id) = id else {
            self.err(
                "meshform::config::import",
                "import has no id",
                span,
                "id missing",
                "write id = \"…\": the object's import id (each resource type's documentation says what it is)",
            );
            return None;
        };
        let (to, to_span) = to?;
        let addr = match &to {
            Selector::Resource(p) if p.resource.mode == Mode::Managed => {
                if let (Some(fe), Some(_)) = (&for_each, &p.key) {
                    self.err(
                        "meshform::config::import",
                        format!("import with for_each into the one instance {to}"),
                        fe.span.clone(),
                        "every element would import into the same address",
                        "end `to` with an index from each element: to = TYPE.NAME[each.key]",
                    );
                    return None;
                }
                p.resource.instance(p.key.clone().unwrap_or(meshform_core::InstanceKey::None))
            }
            _ => {
                self.err(
                    "meshform::config::import",
                    format!("invalid import address {to}"),
                    to_span,
                    "not a managed resource instance",
                    "import into a managed resource instance: TYPE.NAME, TYPE.NAME[\"key\"] or module.NAME.TYPE.NAME",
                );
                return None;
            }
        };
        if let (Some(fe), None) = (&for_each, &to_key) {
            self.err(
                "meshform::config::import",
                format!("import with for_each into {addr}, which has no index"),
                fe.span.clone(),
                "every element would import into the same address",
                "end `to` with an index from each element: to = TYPE.NAME[each.key]",
            );
            return None;
        }
        Some(ImportDef { span, to: (addr, to_span), id: id.expr, for_each, to_key })
    }

    /// `to = TYPE.NAME[EXPR]` with an index that is not a literal: `to` keeps `TYPE.NAME` and the
    /// index is returned, to be evaluated for each element.
    fn split_import_index(&mut self, a: &mut AttrDef) -> Option<Expr> {
        let Expression::Traversal(t) = &a.expr.node else { return None };
        let last = t.operators.last()?;
        let TraversalOperator::Index(index) = last.value() else { return None };
        if matches!(index, Expression::String(_) | Expression::Number(_)) {
            return None;
        }
        let full = a.expr.span.text();
        let op_text = self.span(last).text().to_owned();
        let base = full.trim_end().strip_suffix(op_text.as_str())?.to_owned();
        let key = Expr { node: index.clone(), span: self.span(index) };
        let start = a.expr.span.range.start;
        a.expr.span = Span::new(&a.expr.span.file, start..start + base.len());
        Some(key)
    }

    /// An address written as a reference (`module.a["k"].TYPE.NAME`, no quotes).
    fn endpoint(
        &mut self,
        kind: &str,
        attr: Option<AttrDef>,
        which: &str,
        block: &Span,
    ) -> Option<(Selector, Span)> {
        let code = format!("meshform::config::{kind}");
        let Some(a) = attr else {
            let example = match kind {
                "moved" => "moved { from = OLD_ADDRESS  to = NEW_ADDRESS }",
                "removed" => "removed { from = TYPE.NAME  lifecycle { destroy = false } }",
                _ => "import { to = TYPE.NAME  id = \"…\" }",
            };
            self.err(
                &code,
                format!("{kind} has no {which}"),
                block.clone(),
                "argument missing",
                &format!("write {example}"),
            );
            return None;
        };
        let text: String = a.expr.span.text().chars().filter(|c| !c.is_whitespace()).collect();
        match text.parse::<Selector>() {
            Ok(s) => Some((s, a.expr.span)),
            Err(e) => {
                self.err(
                    &code,
                    format!("{kind} {which}: {e}"),
                    a.expr.span,
                    "not a resource or module address",
                    "write the address as a reference, without quotes: TYPE.NAME, TYPE.NAME[\"key\"], module.NAME, module.NAME.TYPE.NAME",
                );
                None
            }
        }
    }
}
