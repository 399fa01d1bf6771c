//! One instance's operation against its provider: create (recording its intent first), update,
//! read, with progress while it runs, and its changes to the state committed after it.

use super::{StateWriter, StatusCell};
use crate::plan::walk::{provider_state_key, remark};
use crate::plan::{Action, ResourceChange};
use crate::reporter::Reporter;
use meshform_core::{Diagnostic, InstanceAddr, Value};
use meshform_provider::{ConfiguredProvider, ProviderError};
use meshform_state::{
    DeposedObject, InstanceState, InstanceStatus, PendingCreate, StateChange, StateError,
};
use std::future::Future;
use std::time::{Duration, Instant};

pub(super) enum StepError {
    Provider(&'static str, ProviderError),
    State(StateError),
}

#[allow(clippy::too_many_arguments)]
pub(super) async fn run_instance(
    c: &ResourceChange,
    proposed: &Value,
    provider: &dyn ConfiguredProvider,
    schema: &meshform_core::Schema,
    writer: &StateWriter,
    status: &StatusCell,
    reporter: &dyn Reporter,
    interval: Duration,
) -> Result<Value, StepError> {
    let ty = &c.addr.resource.ty;
    let raw = proposed.clone().into_unmarked_deep();
    let pkey = provider_state_key(&c.provider);
    let deps: Vec<String> = c.dependencies.iter().map(|d| d.to_string()).collect();
    let address = c.addr.to_string();
    match c.action {
        Action::Read => {
            let v =
                provider.read_data(ty, &raw).await.map_err(|e| StepError::Provider("read", e))?;
            Ok(remark(v, proposed, schema))
        }
        Action::Update => {
            let prior = c.before.clone().unwrap_or(Value::Null).into_unmarked_deep();
            let planned = provider
                .plan(ty, Some(&prior), &raw)
                .await
                .map_err(|e| StepError::Provider("plan", e))?
                .planned;
            let v = with_progress(
                provider.update(ty, &prior, &planned, status),
                &c.addr,
                c.action,
                status,
                reporter,
                interval,
            )
            .await
            .map_err(|e| StepError::Provider("update", e))?;
            let v = remark(v, proposed, schema);
            let mut inst = writer
                .with_state(|s| s.instance(&c.addr).map(|(_, i)| i.clone()))
                .unwrap_or_else(|| InstanceState::new(c.addr.key.clone()));
            inst.set_value(&v);
            inst.dependencies = deps;
            writer
                .commit(vec![StateChange::SetInstance { address, provider: pkey, instance: inst }])
                .await
                .map_err(StepError::State)?;
            Ok(v)
        }
        _ => {
            let planned = provider
                .plan(ty, None, &raw)
                .await
                .map_err(|e| StepError::Provider("plan", e))?
                .planned;
            let marked_planned = remark(planned.clone(), proposed, schema);
            // Record the intent before the call: a crash from here on leaves a way to find the object.
            // The object being replaced moves to `deposed` in the same entry, so that it can always
            // be found (and destroyed) whatever happens from here on.
            let mut changes = Vec::with_capacity(3);
            let replaced = if c.action == Action::CreateThenDelete {
                writer.with_state(|s| s.instance(&c.addr).map(|(_, i)| i.clone()))
            } else {
                None
            };
            if let Some(old) = &replaced {
                changes.push(StateChange::RemoveInstance { address: address.clone() });
                changes.push(StateChange::AddDeposed {
                    deposed: DeposedObject::from_instance(address.clone(), pkey.clone(), old),
                });
            }
            changes.push(StateChange::AddPending {
                pending: PendingCreate::new(address.clone(), pkey.clone(), &marked_planned),
            });
            writer.commit(changes).await.map_err(StepError::State)?;
            let result = with_progress(
                provider.create(ty, &planned, status),
                &c.addr,
                c.action,
                status,
                reporter,
                interval,
            )
            .await;
            match result {
                Ok(v) => {
                    let v = remark(v, proposed, schema);
                    let mut inst = InstanceState::new(c.addr.key.clone());
                    inst.set_value(&v);
                    inst.dependencies = deps;
                    inst.create_before_destroy = c.create_before_destroy;
                    writer
                        .commit(vec![
                            StateChange::SetInstance {
                                address: address.clone(),
                                provider: pkey,
                                instance: inst,
                            },
                            StateChange::RemovePending { address },
                        ])
                        .await
                        .map_err(StepError::State)?;
                    Ok(v)
                }
                Err(e) => {
                    // The object may exist half-made: keep it, tainted, so the next plan replaces it.
                    let found = provider.lookup(ty, &planned).await.ok().flatten();
                    let mut changes = Vec::new();
                    if let Some(v) = &found {
                        let mut inst = InstanceState::new(c.addr.key.clone());
                        inst.set_value(&remark(v.clone(), proposed, schema));
                        inst.status = InstanceStatus::Tainted;
                        inst.dependencies = deps;
                        changes.push(StateChange::SetInstance {
                            address: address.clone(),
                            provider: pkey,
                            instance: inst,
                        });
                        changes.push(StateChange::RemovePending { address });
                    } else {
                        if !e.retryable() {
                            changes.push(StateChange::RemovePending { address: address.clone() });
                        }
                        // Nothing was made: the object being replaced stays in service at its
                        // address (the next plan replaces it again) instead of being destroyed.
                        if let Some(old) = replaced {
                            changes.push(StateChange::RemoveDeposed {
                                address: address.clone(),
                                newest: true,
                            });
                            changes.push(StateChange::SetInstance {
                                address,
                                provider: pkey,
                                instance: old,
                            });
                        }
                    }
                    // What the state says about the half-made object must be saved: if it cannot
                    // be, that failure (fatal: the run stops) is the one to report.
                    if !changes.is_empty() {
                        writer.commit(changes).await.map_err(StepError::State)?;
                    }
                    Err(StepError::Provider("create", e))
                }
            }
        }
    }
}

pub(super) async fn with_progress<T>(
    fut: impl Future<Output = T>,
    addr: &InstanceAddr,
    action: Action,
    status: &StatusCell,
    reporter: &dyn Reporter,
    interval: Duration,
) -> T {
    let start = Instant::now();
    tokio::pin!(fut);
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    loop {
        tokio::select! {
            r = &mut fut => return r,
            _ = tick.tick() => {
                let msg = meshform_core::sync::lock(&status.0).clone();
                reporter.apply_progress(addr, action, start.elapsed(), msg.as_deref());
            }
        }
    }
}

pub(super) fn provider_failure(addr: &InstanceAddr, verb: &str, e: &ProviderError) -> Diagnostic {
    let help = if e.retryable() {
        "the provider says retrying may help: run apply again"
    } else {
        "fix the cause, then run apply again; what was already applied is saved in state"
    };
    Diagnostic::error("meshform::apply::failed", format!("{verb} failed: {e}"))
        .with_subject(addr.to_string())
        .with_help(help)
}

pub(super) fn state_error(e: &StateError) -> Diagnostic {
    Diagnostic::error("meshform::apply::state_write", format!("saving state failed: {e}"))
        .with_help("no further operations were started; fix the cause (disk space, permissions) and run apply again")
}
