//! `moved { from = …  to = … }` blocks: reading the two addresses and the rules that need no
//! state (both resources or both modules, same type, managed resources only, not the same).

use hcl::edit::structure::Block;
use meshform_core::{Mode, Selector, Span};

use super::Lowerer;
use crate::model::{AttrDef, MovedDef};

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
        let from = self.moved_endpoint(body.attrs.remove("from"), "from", &span)?;
        let to = self.moved_endpoint(body.attrs.remove("to"), "to", &span)?;
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

    /// An address written as a reference (`module.a["k"].TYPE.NAME`, no quotes).
    fn moved_endpoint(
        &mut self,
        attr: Option<AttrDef>,
        which: &str,
        block: &Span,
    ) -> Option<(Selector, Span)> {
        let Some(a) = attr else {
            self.err(
                "meshform::config::moved",
                format!("moved has no {which}"),
                block.clone(),
                "argument missing",
                "write moved { from = OLD_ADDRESS  to = NEW_ADDRESS }",
            );
            return None;
        };
        let text: String = a.expr.span.text().chars().filter(|c| !c.is_whitespace()).collect();
        match text.parse::<Selector>() {
            Ok(s) => Some((s, a.expr.span)),
            Err(e) => {
                self.err(
                    "meshform::config::moved",
                    format!("moved {which}: {e}"),
                    a.expr.span,
                    "not a resource or module address",
                    "write the address as a reference, without quotes: TYPE.NAME, TYPE.NAME[\"key\"], module.NAME, module.NAME.TYPE.NAME",
                );
                None
            }
        }
    }
}
