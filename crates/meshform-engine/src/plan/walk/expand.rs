//! Expanding a resource into its instances: `count` and `for_each`, which must be known at plan time.

use std::collections::{BTreeMap, BTreeSet};

use meshform_config::eval::Evaluator;
use meshform_config::model::{Repetition, ResourceDef};
use meshform_core::{Diagnostic, InstanceKey, Value};

use super::super::support::unknown_repetition;
use super::Planner;

impl Planner<'_> {
    pub(super) fn instance_keys(
        &mut self,
        r: &ResourceDef,
    ) -> Option<Vec<(InstanceKey, BTreeMap<String, Value>)>> {
        match &r.repetition {
            Repetition::Single => Some(vec![(InstanceKey::None, BTreeMap::new())]),
            Repetition::Count(e) => {
                let v =
                    Evaluator::new(&self.ctx.values, &e.span.file, &self.config.dir).eval(&e.node);
                let v = match v {
                    Ok(v) => v,
                    Err(d) => {
                        self.diags.push(d);
                        return None;
                    }
                };
                if v.contains_unknown() {
                    self.diags.push(unknown_repetition(r, "count", e.span.clone()));
                    return None;
                }
                match v.as_number() {
                    Some(n) if n >= 0.0 && n.fract() == 0.0 && n <= 100_000.0 => Some(
                        (0..n as i64)
                            .map(|i| {
                                (
                                    InstanceKey::Int(i),
                                    BTreeMap::from([(
                                        "count".to_owned(),
                                        Value::map([("index", Value::number(i as f64))]),
                                    )]),
                                )
                            })
                            .collect(),
                    ),
                    _ => {
                        self.diags.push(
                            Diagnostic::error(
                                "meshform::config::invalid_count",
                                format!(
                                    "{}: count must be a whole number from 0 to 100000, got {v}",
                                    r.addr
                                ),
                            )
                            .with_span(e.span.clone(), "invalid count")
                            .with_help("use a number such as 2, or length(var.list)"),
                        );
                        None
                    }
                }
            }
            Repetition::ForEach(e) => {
                let v =
                    Evaluator::new(&self.ctx.values, &e.span.file, &self.config.dir).eval(&e.node);
                let v = match v {
                    Ok(v) => v,
                    Err(d) => {
                        self.diags.push(d);
                        return None;
                    }
                };
                let invalid = |msg: String| {
                    Diagnostic::error("meshform::config::invalid_for_each", format!("{}: {msg}", r.addr))
                        .with_span(e.span.clone(), "invalid for_each")
                        .with_help("for_each takes a map, or a set of strings: for_each = toset([\"a\", \"b\"])")
                };
                if v.is_sensitive() {
                    self.diags.push(invalid(
                        "for_each cannot use a sensitive value: its keys would appear in addresses"
                            .into(),
                    ));
                    return None;
                }
                match v {
                    Value::Unknown => {
                        self.diags.push(unknown_repetition(r, "for_each", e.span.clone()));
                        None
                    }
                    Value::Map(m) => {
                        if m.keys().any(|k| k.is_empty()) {
                            self.diags.push(invalid("for_each keys must not be empty".into()));
                            return None;
                        }
                        Some(
                            m.into_iter()
                                .map(|(k, v)| {
                                    let each = Value::map([
                                        ("key", Value::string(k.clone())),
                                        ("value", v),
                                    ]);
                                    (
                                        InstanceKey::Str(k),
                                        BTreeMap::from([("each".to_owned(), each)]),
                                    )
                                })
                                .collect(),
                        )
                    }
                    Value::List(items) => {
                        let mut keys = BTreeSet::new();
                        for item in &items {
                            match item {
                                Value::String(s) => {
                                    keys.insert(s.clone());
                                }
                                Value::Unknown => {
                                    self.diags.push(unknown_repetition(
                                        r,
                                        "for_each",
                                        e.span.clone(),
                                    ));
                                    return None;
                                }
                                other => {
                                    self.diags.push(invalid(format!(
                                        "a set of strings is required, but it contains {}",
                                        other.kind()
                                    )));
                                    return None;
                                }
                            }
                        }
                        Some(
                            keys.into_iter()
                                .map(|k| {
                                    let each = Value::map([
                                        ("key", Value::string(k.clone())),
                                        ("value", Value::string(k.clone())),
                                    ]);
                                    (
                                        InstanceKey::Str(k),
                                        BTreeMap::from([("each".to_owned(), each)]),
                                    )
                                })
                                .collect(),
                        )
                    }
                    Value::Null => {
                        self.diags.push(invalid("for_each must not be null".into()));
                        None
                    }
                    other => {
                        self.diags.push(invalid(format!(
                            "a map or a set of strings is required, got {}",
                            other.kind()
                        )));
                        None
                    }
                }
            }
        }
    }
}
