//! Planning through an outage: refresh failures belong to instances. An instance that could not be
//! refreshed keeps its last known state; what reads it is held back, per instance and with the cause,
//! and what is only ordered after it is held back only when it has a change that could not be planned.
//!
//! Whether an instance reads an unavailable one is decided by evaluating its configuration twice: with
//! the last known values (what is planned), and with every unavailable instance unknown (the *probe*
//! values, kept beside the walk's values from the first unavailability on). A difference means the
//! configuration depends on a value that could not be refreshed.

use std::collections::BTreeMap;

use meshform_config::eval::{Overlay, Scope};
use meshform_config::model::ResourceDef;
use meshform_core::{Diagnostics, InstanceAddr, InstanceKey, ResourceAddr, Schema, Value};

use super::{Action, ChangeReason, PlanFailure, Planner, ResourceChange};
use crate::body::eval_body;
use crate::graph::Node;
use crate::plan::support::{apply_ignore_changes, unknown_computed};
use crate::scope::evaluate_node;

/// An instance that could not be planned in this run.
#[derive(Clone, Debug)]
pub(crate) struct Unavailable {
    /// Whether its last known state exists: a new object that could not be planned is unknown in the
    /// walk's values and the probe's alike, so the probe cannot tell who reads it.
    pub known: bool,
    /// Whether its configuration asks for a change that could not be planned: what is ordered after
    /// it must wait too.
    pub pending_change: bool,
}

impl Planner<'_> {
    /// Records that `addr` could not be planned; what reads it from now on sees it unknown in the
    /// probe values.
    pub(super) fn mark_unavailable(&mut self, addr: &InstanceAddr, why: Unavailable) {
        let probe = self.probe.get_or_insert_with(|| self.ctx.values.clone());
        probe.set_instance(&addr.resource, &addr.key, Value::Unknown);
        self.unavailable.insert(addr.clone(), why);
    }

    /// An instance whose refresh or provider plan failed with a transient error (an unreachable
    /// control plane or API server): the failure is reported, the instance keeps `last` (its last
    /// known state, or unknown when it does not exist yet), and the walk goes on.
    pub(super) fn instance_failed(
        &mut self,
        addr: &InstanceAddr,
        provider: &str,
        message: String,
        last: Option<Value>,
        pending_change: bool,
    ) -> Value {
        self.plan.failures.push(PlanFailure {
            address: addr.to_string(),
            provider: provider.to_owned(),
            message,
        });
        self.mark_unavailable(addr, Unavailable { known: last.is_some(), pending_change });
        last.unwrap_or(Value::Unknown)
    }

    /// An instance whose provider is configured only during apply: a new object is planned as a
    /// creation (what the provider would compute unknown); a data source is read during apply; an
    /// object that exists already cannot be refreshed or planned until the provider's configuration
    /// is known, so it keeps its last known state and the plan says so.
    pub(super) fn plan_unconfigured(
        &mut self,
        addr: &InstanceAddr,
        provider: &str,
        proposed: &Value,
        deps: &[ResourceAddr],
        schema: &Schema,
    ) -> Value {
        let last = self.state.instance(addr).map(|(_, i)| i.value());
        if addr.resource.mode == meshform_core::Mode::Managed && last.is_some() {
            let message = format!(
                "its provider {provider} is configured from values known only after apply: it is \
                 refreshed and planned once they are known (apply, then plan again)"
            );
            return self.instance_failed(addr, provider, message, last, true);
        }
        let after = unknown_computed(proposed, schema);
        let data = addr.resource.mode == meshform_core::Mode::Data;
        self.plan.changes.push(ResourceChange {
            addr: addr.clone(),
            provider: provider.to_owned(),
            action: if data { Action::Read } else { Action::Create },
            before: None,
            after: Some(after.clone()),
            replace_paths: Vec::new(),
            reason: data.then_some(ChangeReason::ReadAfterApply),
            dependencies: deps.to_vec(),
            create_before_destroy: false,
            deposed: false,
        });
        if !data {
            self.changed.insert(addr.resource.clone());
        }
        after
    }

    /// Sets a whole resource's value in the walk's values and, during an outage, in the probe values
    /// (keeping its unavailable instances unknown there).
    pub(super) fn set_resource_value(&mut self, addr: &ResourceAddr, value: Value) {
        if let Some(probe) = &mut self.probe {
            probe.set_resource(addr, value.clone());
            for u in self.unavailable.keys().filter(|u| &u.resource == addr) {
                probe.set_instance(addr, &u.key, Value::Unknown);
            }
        }
        self.ctx.values.set_resource(addr, value);
    }

    /// Sets one instance's value in the walk's values and in the probe values.
    pub(super) fn set_instance_value(
        &mut self,
        addr: &ResourceAddr,
        key: &InstanceKey,
        value: Value,
    ) {
        if let Some(probe) = &mut self.probe {
            probe.set_instance(addr, key, value.clone());
        }
        self.ctx.values.set_instance(addr, key, value);
    }

    /// Evaluates a local, module variable or module output; during an outage its probe value is
    /// evaluated from the probe values too.
    pub(super) fn evaluate(&mut self, node: &Node) {
        if let Some(probe) = &mut self.probe {
            let _ = evaluate_node(self.config, probe, node);
        }
        let diags = evaluate_node(self.config, &mut self.ctx.values, node);
        self.diags.extend(diags);
    }

    /// Why the instance `addr` of `r`, whose configuration evaluates to `proposed`, cannot be planned
    /// now: it reads an unavailable instance, or its `depends_on` orders it after one with a change
    /// that could not be planned (a reference alone is a need for values, which the probe decides;
    /// `depends_on` naming one instance waits only for that one). `None`: plan it.
    pub(super) fn held_back(
        &self,
        addr: &InstanceAddr,
        r: &ResourceDef,
        each: &BTreeMap<String, Value>,
        schema: &Schema,
        proposed: &Value,
        deps: &[ResourceAddr],
    ) -> Option<String> {
        let probe = self.probe.as_ref()?;
        // Only what this resource depends on (through references, locals or depends_on) can matter;
        // everything else is planned without a second evaluation.
        let hit: Vec<(&InstanceAddr, &Unavailable)> = self
            .unavailable
            .iter()
            .filter(|(u, _)| *u != addr && deps.contains(&u.resource))
            .collect();
        let (first, _) = hit.first()?;
        if let Some((u, _)) = hit.iter().find(|(_, why)| !why.known) {
            return Some(format!("depends on {u}, which could not be planned"));
        }
        let scope = Overlay { base: probe.scope(&r.addr.module) as &dyn Scope, extra: each };
        let probed =
            eval_body(&r.body, schema, &scope, &self.config.dir, &mut Diagnostics::default());
        if !probed.same_as(proposed) {
            return Some(format!("reads {first}, which could not be planned"));
        }
        let ordered_after = |u: &InstanceAddr| {
            r.depends_on
                .iter()
                .any(|d| d.addr == u.resource && d.key.as_ref().is_none_or(|k| *k == u.key))
        };
        hit.iter()
            .find(|(u, why)| why.pending_change && ordered_after(u))
            .map(|(u, _)| format!("is ordered after {u}, whose change could not be planned"))
    }
}

/// Whether `proposed` asks for a change to `prior` in an attribute the configuration sets (computed
/// attributes left unset do not count): what would be planned if the object could be refreshed.
pub(super) fn config_changed(
    r: &ResourceDef,
    schema: &Schema,
    prior: Option<&Value>,
    proposed: &Value,
) -> bool {
    let Some(prior) = prior else { return true };
    // What lifecycle.ignore_changes leaves out is no change to wait for.
    let proposed = &apply_ignore_changes(proposed.clone(), prior, r, schema);
    schema.attributes.iter().filter(|(_, a)| a.settable()).any(|(name, a)| {
        let now = proposed.get(name).cloned().unwrap_or(Value::Null);
        let was = prior.get(name).cloned().unwrap_or(Value::Null);
        let unset_computed = a.computed && now.is_null();
        !unset_computed && !now.same_as(&was)
    }) || schema.blocks.keys().any(|name| {
        let now = proposed.get(name).cloned().unwrap_or(Value::Null);
        !now.same_as(prior.get(name).unwrap_or(&Value::Null))
    })
}
