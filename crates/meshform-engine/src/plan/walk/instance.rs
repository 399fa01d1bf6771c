//! Planning one instance: reading a data source, and a managed instance's create, update or
//! replacement as its provider plans it.

use std::sync::Arc;

use meshform_config::model::ResourceDef;
use meshform_core::{InstanceAddr, PathStep, ResourceAddr, Schema, Value};
use meshform_provider::{ConfiguredProvider, ErrorKind, ProviderError};

use super::super::support::{
    apply_ignore_changes, data_read_failed, hide_echoes, prevent_destroy_diag, problem_diag,
    provider_plan_error, unknown_computed,
};
use super::{config_changed, remark, Planner};
use crate::plan::{Action, ChangeReason, PlanMode, ResourceChange};

impl Planner<'_> {
    /// An `import` block's object: read by its id, recorded in the plan, planned from as if it
    /// were in the state. An id that finds nothing is an error.
    pub(super) async fn import_prior(
        &mut self,
        addr: &InstanceAddr,
        key: &str,
        provider: &Arc<dyn ConfiguredProvider>,
        id: &str,
        schema: &Schema,
    ) -> Result<Option<(Value, bool)>, ProviderError> {
        let permit = self.semaphore.acquire().await;
        let found = provider.import(&addr.resource.ty, id).await;
        drop(permit);
        let stop =
            |message: String| ProviderError::new(ErrorKind::NotFound, "ImportFailed", message);
        match found {
            Ok(Some(v)) => {
                let value = remark(v, &Value::Null, schema);
                self.plan.imports.push(crate::plan::Import {
                    addr: addr.clone(),
                    id: id.to_owned(),
                    provider: key.to_owned(),
                    value: value.clone(),
                });
                Ok(Some((value, false)))
            }
            Ok(None) => {
                self.diags.push(
                    meshform_core::Diagnostic::error(
                        "meshform::plan::import_not_found",
                        format!("{addr}: cannot import non-existent remote object (id {id:?})"),
                    )
                    .with_help("check the import block's id: each resource type's documentation says what its import id is (a file's path, a mesh id, …)"),
                );
                Err(stop(format!("no object with id {id:?}")))
            }
            Err(e) => {
                self.diags.push(meshform_core::Diagnostic::error(
                    "meshform::plan::import_failed",
                    format!("{addr}: import of {id:?} failed: {e}"),
                ));
                Err(stop(e.to_string()))
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) async fn plan_data(
        &mut self,
        addr: &InstanceAddr,
        r: &ResourceDef,
        key: &str,
        provider: &Arc<dyn ConfiguredProvider>,
        config: &Value,
        deps: &[ResourceAddr],
        schema: &Schema,
    ) -> Option<Value> {
        let deferred = config.contains_unknown() || deps.iter().any(|d| self.changed.contains(d));
        if deferred {
            let after = unknown_computed(config, schema);
            if self.opts.mode != PlanMode::Destroy {
                self.plan.changes.push(ResourceChange {
                    addr: addr.clone(),
                    provider: key.to_owned(),
                    action: Action::Read,
                    before: None,
                    after: Some(after.clone()),
                    replace_paths: Vec::new(),
                    reason: Some(ChangeReason::ReadAfterApply),
                    dependencies: deps.to_vec(),
                    create_before_destroy: false,
                    deposed: false,
                });
            }
            return Some(after);
        }
        let permit = self.semaphore.acquire().await;
        let result = provider
            .read_data(&addr.resource.ty, &config.clone().into_unmarked_deep())
            .await
            .map_err(|e| hide_echoes(e, config));
        drop(permit);
        match result {
            Ok(v) => Some(remark(v, config, schema)),
            Err(e) => {
                data_read_failed(r, addr, key, &e, &mut self.diags, &mut self.plan.failures);
                None
            }
        }
    }

    /// Asks the provider to plan a new object (a create, or the create half of a replacement).
    pub(super) async fn plan_create(
        &mut self,
        provider: &Arc<dyn ConfiguredProvider>,
        r: &ResourceDef,
        addr: &InstanceAddr,
        proposed: &Value,
        schema: &Schema,
    ) -> Option<Value> {
        let raw = proposed.clone().into_unmarked_deep();
        match provider
            .plan(&addr.resource.ty, None, &raw)
            .await
            .map_err(|e| hide_echoes(e, proposed))
        {
            Ok(p) => {
                for w in p.warnings {
                    self.diags.push(problem_diag(r, addr, w));
                }
                Some(remark(p.planned, proposed, schema))
            }
            // An unreachable remote side is an instance failure, not a configuration error.
            Err(e) if e.retryable() => {
                let message = format!("could not be planned: {e}");
                Some(self.instance_failed(addr, &r.provider_key(), message, None, true))
            }
            Err(e) => {
                self.diags.push(provider_plan_error(r, addr, &e));
                None
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) async fn plan_managed(
        &mut self,
        addr: &InstanceAddr,
        r: &ResourceDef,
        key: &str,
        provider: &Arc<dyn ConfiguredProvider>,
        prior: Option<(Value, bool)>,
        proposed: Value,
        deps: &[ResourceAddr],
        schema: &Schema,
    ) -> Option<Value> {
        let cbd = r.lifecycle.create_before_destroy;
        let mut change = ResourceChange {
            addr: addr.clone(),
            provider: key.to_owned(),
            action: Action::NoOp,
            before: prior.as_ref().map(|(v, _)| v.clone()),
            after: None,
            replace_paths: Vec::new(),
            reason: None,
            dependencies: deps.to_vec(),
            create_before_destroy: cbd,
            deposed: false,
        };
        match self.opts.mode {
            // Destroy plans never reach here: plan_resource only evaluates values in that mode.
            PlanMode::Destroy => return prior.map(|(v, _)| v),
            PlanMode::RefreshOnly => {
                let v = prior.map(|(v, _)| v);
                change.after = v.clone();
                self.plan.changes.push(change);
                // Not created yet: unknown (as in a normal plan), not null, so that what refers to it
                // still evaluates.
                return Some(v.unwrap_or(Value::Unknown));
            }
            PlanMode::Normal => {}
        }
        let replace_requested = self.opts.replace.iter().any(|p| p.matches(addr));
        match prior {
            None => {
                let after = self.plan_create(provider, r, addr, &proposed, schema).await?;
                change.action = Action::Create;
                change.after = Some(after.clone());
                self.changed.insert(addr.resource.clone());
                self.plan.changes.push(change);
                Some(after)
            }
            Some((prior_v, tainted)) => {
                let proposed = apply_ignore_changes(proposed, &prior_v, r, schema);
                let resp = match provider
                    .plan(
                        &addr.resource.ty,
                        Some(&prior_v.clone().into_unmarked_deep()),
                        &proposed.clone().into_unmarked_deep(),
                    )
                    .await
                    .map_err(|e| hide_echoes(e, &proposed))
                {
                    Ok(p) => p,
                    Err(e) if e.retryable() => {
                        let pending = config_changed(r, schema, Some(&prior_v), &proposed);
                        let message = format!("could not be planned: {e}");
                        return Some(self.instance_failed(
                            addr,
                            key,
                            message,
                            Some(prior_v),
                            pending,
                        ));
                    }
                    Err(e) => {
                        self.diags.push(provider_plan_error(r, addr, &e));
                        return None;
                    }
                };
                for w in &resp.warnings {
                    self.diags.push(problem_diag(r, addr, w.clone()));
                }
                let planned = remark(resp.planned, &proposed, schema);
                let forced: Vec<Vec<PathStep>> = resp.requires_replace;
                let reason = if tainted {
                    Some(ChangeReason::Tainted)
                } else if replace_requested {
                    Some(ChangeReason::ReplaceRequested)
                } else if let (false, Some(why)) = (forced.is_empty(), resp.replace_reason) {
                    Some(ChangeReason::Provider(why))
                } else if !forced.is_empty() {
                    Some(ChangeReason::CannotUpdate)
                } else {
                    None
                };
                if let Some(reason) = reason {
                    if let Some(span) = &r.lifecycle.prevent_destroy {
                        self.diags.push(prevent_destroy_diag(addr, span, "replace"));
                        return None;
                    }
                    let after = self.plan_create(provider, r, addr, &proposed, schema).await?;
                    change.action =
                        if cbd { Action::CreateThenDelete } else { Action::DeleteThenCreate };
                    change.after = Some(after.clone());
                    change.replace_paths = forced;
                    change.reason = Some(reason);
                    self.changed.insert(addr.resource.clone());
                    self.plan.changes.push(change);
                    return Some(after);
                }
                change.action =
                    if planned.same_as(&prior_v) { Action::NoOp } else { Action::Update };
                if change.action == Action::Update {
                    self.changed.insert(addr.resource.clone());
                }
                change.after = Some(planned.clone());
                self.plan.changes.push(change);
                Some(planned)
            }
        }
    }
}
