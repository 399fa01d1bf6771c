//! One instance's operation against its provider: create (recording its intent first), update,
//! read, with progress while it runs, and the state written after it.

use super::{StateWriter, StatusCell};
use crate::plan::walk::{provider_state_key, remark};
use crate::plan::{Action, ResourceChange};
use crate::reporter::Reporter;
use meshform_core::{Diagnostic, InstanceAddr, Value};
use meshform_provider::{ConfiguredProvider, ProviderError};
use meshform_state::{DeposedObject, InstanceState, InstanceStatus, PendingCreate, StateError};
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
            writer
                .update(|s| {
                    let mut inst = s
                        .instance(&c.addr)
                        .map(|(_, i)| i.clone())
                        .unwrap_or_else(|| InstanceState::new(c.addr.key.clone()));
                    inst.set_value(&v);
                    inst.dependencies = deps.clone();
                    s.set_instance(&c.addr, &pkey, inst);
                })
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
            let mut replaced: Option<InstanceState> = None;
            writer
                .update(|s| {
                    // The object being replaced moves to `deposed` in the same write, so that it can
                    // always be found (and destroyed) whatever happens from here on.
                    if c.action == Action::CreateThenDelete {
                        if let Some(old) = s.remove_instance(&c.addr) {
                            s.deposed.push(DeposedObject::from_instance(
                                c.addr.to_string(),
                                pkey.clone(),
                                &old,
                            ));
                            replaced = Some(old);
                        }
                    }
                    s.pending.retain(|p| p.address != c.addr.to_string());
                    s.pending.push(PendingCreate::new(
                        c.addr.to_string(),
                        pkey.clone(),
                        &marked_planned,
                    ));
                })
                .map_err(StepError::State)?;
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
                    writer
                        .update(|s| {
                            let mut inst = InstanceState::new(c.addr.key.clone());
                            inst.set_value(&v);
                            inst.dependencies = deps.clone();
                            inst.create_before_destroy = c.create_before_destroy;
                            s.set_instance(&c.addr, &pkey, inst);
                            s.pending.retain(|p| p.address != c.addr.to_string());
                        })
                        .map_err(StepError::State)?;
                    Ok(v)
                }
                Err(e) => {
                    // The object may exist half-made: keep it, tainted, so the next plan replaces it.
                    let found = provider.lookup(ty, &planned).await.ok().flatten();
                    // What the state says about the half-made object must be saved: if it cannot be,
                    // that failure (fatal: the run stops) is the one to report.
                    writer
                        .update(|s| {
                            if let Some(v) = &found {
                                let mut inst = InstanceState::new(c.addr.key.clone());
                                inst.set_value(&remark(v.clone(), proposed, schema));
                                inst.status = InstanceStatus::Tainted;
                                inst.dependencies = deps.clone();
                                s.set_instance(&c.addr, &pkey, inst);
                                s.pending.retain(|p| p.address != c.addr.to_string());
                            } else {
                                if !e.retryable() {
                                    s.pending.retain(|p| p.address != c.addr.to_string());
                                }
                                // Nothing was made: the object being replaced stays in service at its
                                // address (the next plan replaces it again) instead of being destroyed.
                                if let Some(old) = replaced {
                                    let address = c.addr.to_string();
                                    if let Some(i) =
                                        s.deposed.iter().rposition(|d| d.address == address)
                                    {
                                        s.deposed.remove(i);
                                    }
                                    s.set_instance(&c.addr, &pkey, old);
                                }
                            }
                        })
                        .map_err(StepError::State)?;
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
