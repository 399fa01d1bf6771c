//! Expanding a resource into its instances: `count` and `for_each`, which must be known at plan time
//! (the rule itself is `meshform_config::repetition`'s, shared with module calls).

use std::collections::BTreeMap;

use meshform_config::eval::Evaluator;
use meshform_config::model::{Repetition, ResourceDef};
use meshform_config::repetition::{count_instances, for_each_instances, RepetitionError};
use meshform_core::{Diagnostic, InstanceKey, Value};

use super::super::support::unknown_repetition;
use super::Planner;

impl Planner<'_> {
    pub(super) fn instance_keys(
        &mut self,
        r: &ResourceDef,
    ) -> Option<Vec<(InstanceKey, BTreeMap<String, Value>)>> {
        let (e, arg) = match &r.repetition {
            Repetition::Single => return Some(vec![(InstanceKey::None, BTreeMap::new())]),
            Repetition::Count(e) => (e, "count"),
            Repetition::ForEach(e) => (e, "for_each"),
        };
        let scope = self.ctx.values.scope(&r.addr.module);
        let v = match Evaluator::new(scope, &e.span.file, &self.config.dir).eval(&e.node) {
            Ok(v) => v,
            Err(d) => {
                self.diags.push(d);
                return None;
            }
        };
        let result = if arg == "count" { count_instances(&v) } else { for_each_instances(&v) };
        match result {
            Ok(instances) => Some(instances),
            Err(RepetitionError::Unknown) => {
                self.diags.push(unknown_repetition(r, arg, e.span.clone()));
                None
            }
            Err(RepetitionError::Invalid(msg)) => {
                let d = if arg == "count" {
                    Diagnostic::error(
                        "meshform::config::invalid_count",
                        format!("{}: {msg}", r.addr),
                    )
                    .with_span(e.span.clone(), "invalid count")
                    .with_help("use a number such as 2, or length(var.list)")
                } else {
                    Diagnostic::error(
                        "meshform::config::invalid_for_each",
                        format!("{}: {msg}", r.addr),
                    )
                    .with_span(e.span.clone(), "invalid for_each")
                    .with_help(
                        "for_each takes a map, or a set of strings: for_each = toset([\"a\", \"b\"])",
                    )
                };
                self.diags.push(d);
                None
            }
        }
    }
}
