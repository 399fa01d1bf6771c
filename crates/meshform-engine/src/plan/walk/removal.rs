//! What goes away: instances no longer configured (or everything, in a destroy plan), deposed
//! objects, and output values.

use meshform_config::eval::Evaluator;
use meshform_config::model::ResourceDef;
use meshform_core::{Diagnostic, InstanceAddr, Mode, ResourceAddr, Schema, Value};

use super::super::support::prevent_destroy_diag;
use super::super::{Action, ChangeReason, OutputChange, PlanFailure, PlanMode, ResourceChange};
use super::{provider_key_from_state, Planner};
use crate::graph::Node;

impl Planner<'_> {
    pub(super) async fn plan_delete(
        &mut self,
        addr: &InstanceAddr,
        key: &str,
        schema: &Schema,
        reason: ChangeReason,
        def: Option<&ResourceDef>,
    ) {
        let prior = match self.prior(addr, schema).await {
            Ok(p) => p,
            Err(e) => {
                self.plan.failures.push(PlanFailure {
                    address: addr.to_string(),
                    provider: key.to_owned(),
                    message: e.to_string(),
                });
                return;
            }
        };
        let Some((before, _)) = prior else { return };
        if let Some(span) = def.and_then(|d| d.lifecycle.prevent_destroy.as_ref()) {
            self.diags.push(prevent_destroy_diag(addr, span, "destroy"));
            return;
        }
        let mut deps: Vec<ResourceAddr> = self
            .state
            .instance(addr)
            .map(|(_, i)| {
                i.dependencies
                    .iter()
                    .filter_map(|d| d.parse::<InstanceAddr>().ok())
                    .map(|a| a.resource)
                    .collect()
            })
            .unwrap_or_default();
        // Still configured (a destroy plan): the configuration's dependencies count too, since the
        // state may not record them (an imported object, an older pushed state).
        if def.is_some() {
            let node = Node::Resource(addr.resource.clone());
            for d in self.graph.resource_dependencies(&node) {
                if !deps.contains(&d) {
                    deps.push(d);
                }
            }
        }
        self.plan.changes.push(ResourceChange {
            addr: addr.clone(),
            provider: key.to_owned(),
            action: Action::Delete,
            before: Some(before),
            after: None,
            replace_paths: Vec::new(),
            reason: Some(reason),
            dependencies: deps,
            create_before_destroy: false,
            deposed: false,
        });
    }

    /// Instances whose resource is gone from the configuration (or everything, in destroy mode).
    pub(super) async fn plan_orphans(&mut self) {
        let destroy = self.opts.mode == PlanMode::Destroy;
        let mut orphans: Vec<(InstanceAddr, String)> = self
            .state
            .instances()
            .filter(|(a, r, _)| {
                r.mode == Mode::Managed
                    && (destroy || !self.config.resources.contains_key(&a.resource))
            })
            .filter(|(a, _, _)| self.is_allowed(&a.resource) && self.instance_selected(a))
            .map(|(a, r, i)| (a, provider_key_from_state(r.provider_of(i)).to_owned()))
            .collect();
        // Pending creates of removed resources: adopt them so they get destroyed.
        for p in &self.state.pending {
            if let Ok(a) = p.address.parse::<InstanceAddr>() {
                if (destroy || !self.config.resources.contains_key(&a.resource))
                    && self.state.instance(&a).is_none()
                    && self.is_allowed(&a.resource)
                    && self.instance_selected(&a)
                {
                    orphans.push((a, provider_key_from_state(&p.provider).to_owned()));
                }
            }
        }
        orphans.sort();
        orphans.dedup();
        // `removed { … lifecycle { destroy = false } }`: forgotten, not destroyed.
        if !destroy && !self.config.removed.is_empty() {
            let (forget, keep): (Vec<_>, Vec<_>) = orphans
                .into_iter()
                .partition(|(a, _)| crate::plan::removed::forgets(self.config, a));
            orphans = keep;
            for (addr, provider) in forget {
                if let Some((_, inst)) = self.state.instance(&addr) {
                    let before = inst.value();
                    self.plan.forgotten.push(super::super::Forget { addr, provider, before });
                }
            }
        }
        // What the walk already planned (a set: looking each orphan up in the list would cost the
        // length of the plan per orphan).
        let planned: std::collections::HashSet<InstanceAddr> = if destroy {
            self.plan.changes.iter().map(|c| c.addr.clone()).collect()
        } else {
            std::collections::HashSet::new()
        };
        for (addr, key) in orphans {
            if self.failed.contains(&Node::Provider(key.clone()))
                || !self.ctx.providers.contains_key(&key)
            {
                if !self.plan.failures.iter().any(|f| f.provider == key) {
                    self.plan.failures.push(PlanFailure {
                        address: addr.to_string(),
                        provider: key.clone(),
                        message: format!("provider {key} is not available"),
                    });
                }
                continue;
            }
            let Some(schema) = self.ctx.resource_schema(&addr.resource).cloned() else {
                self.plan.failures.push(PlanFailure {
                    address: addr.to_string(),
                    provider: key.clone(),
                    message: format!("provider {key} has no resource type {}", addr.resource.ty),
                });
                continue;
            };
            let def = self.config.resources.get(&addr.resource);
            let reason =
                if destroy { ChangeReason::DestroyMode } else { ChangeReason::NotInConfig };
            if planned.contains(&addr) {
                continue;
            }
            self.plan_delete(&addr, &key, &schema, reason, def).await;
        }
    }

    /// Objects deposed by an interrupted create-before-destroy replacement are destroyed.
    pub(super) fn plan_deposed(&mut self) {
        for d in &self.state.deposed {
            let Ok(addr) = d.address.parse::<InstanceAddr>() else { continue };
            if !self.is_allowed(&addr.resource) {
                continue;
            }
            let key = provider_key_from_state(&d.provider).to_owned();
            if !self.ctx.providers.contains_key(&key) {
                self.plan.failures.push(PlanFailure {
                    address: format!("{} (deposed)", d.address),
                    provider: key.clone(),
                    message: format!("provider {key} is not available"),
                });
                continue;
            }
            self.plan.changes.push(ResourceChange {
                addr,
                provider: key,
                action: Action::Delete,
                before: Some(d.value()),
                after: None,
                replace_paths: Vec::new(),
                reason: Some(ChangeReason::Deposed),
                dependencies: Vec::new(),
                create_before_destroy: false,
                deposed: true,
            });
        }
    }

    pub(super) fn plan_output(&mut self, name: &str) {
        let o = &self.config.outputs[name];
        let after = if self.opts.mode == PlanMode::Destroy {
            None
        } else {
            match Evaluator::new(&self.ctx.values, &o.value.span.file, &self.config.dir)
                .eval(&o.value.node)
            {
                Ok(v) => {
                    if v.contains_sensitive() && !o.sensitive {
                        self.diags.push(
                            Diagnostic::error("meshform::config::sensitive_output", format!("output \"{name}\" contains sensitive values"))
                                .with_span(o.value.span.clone(), "sensitive value")
                                .with_help("add `sensitive = true` to the output block to confirm it may hold secrets"),
                        );
                    }
                    Some(v.with_mark(o.sensitive))
                }
                Err(d) => {
                    self.diags.push(d);
                    return;
                }
            }
        };
        let before =
            self.state.outputs.get(name).map(|s| Value::from_json(&s.value).with_mark(s.sensitive));
        self.plan.outputs.push(OutputChange {
            name: name.to_owned(),
            before,
            after,
            sensitive: o.sensitive,
        });
    }

    pub(super) fn plan_removed_outputs(&mut self) {
        for (name, s) in &self.state.outputs {
            if !self.config.outputs.contains_key(name) || self.opts.mode == PlanMode::Destroy {
                if self.plan.outputs.iter().any(|o| &o.name == name) {
                    continue;
                }
                self.plan.outputs.push(OutputChange {
                    name: name.clone(),
                    before: Some(Value::from_json(&s.value).with_mark(s.sensitive)),
                    after: None,
                    sensitive: s.sensitive,
                });
            }
        }
    }
}
