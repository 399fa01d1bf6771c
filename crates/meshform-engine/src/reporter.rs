//! How the engine reports progress: a trait the CLI implements (the engine never prints).

use std::time::Duration;

use meshform_core::{Diagnostic, InstanceAddr, ResourceAddr, Value};

use crate::plan::Action;
use crate::verify::CheckResult;

/// Where a staged rollout is: its resource, the batch (1-based) of how many, and the batch's keys.
#[derive(Clone, Copy, Debug)]
pub struct BatchRef<'a> {
    pub resource: &'a ResourceAddr,
    pub batch: usize,
    pub total: usize,
    pub label: &'a str,
}

/// Receives progress events of refresh and apply. Every method has a no-op default.
pub trait Reporter: Send + Sync {
    /// An object's state is being refreshed.
    fn refreshing(&self, _addr: &InstanceAddr, _id: Option<&str>) {}
    /// An operation started.
    fn apply_start(&self, _addr: &InstanceAddr, _action: Action) {}
    /// An operation is still running (called every few seconds), with the provider's latest status.
    fn apply_progress(
        &self,
        _addr: &InstanceAddr,
        _action: Action,
        _elapsed: Duration,
        _status: Option<&str>,
    ) {
    }
    /// An operation finished.
    fn apply_complete(
        &self,
        _addr: &InstanceAddr,
        _action: Action,
        _elapsed: Duration,
        _id: Option<&str>,
    ) {
    }
    /// An operation failed; the error is also returned as a diagnostic.
    fn apply_errored(&self, _addr: &InstanceAddr, _action: Action, _elapsed: Duration) {}
    /// A batch of a staged rollout starts (its changes may start now).
    fn rollout_batch_start(&self, _batch: BatchRef<'_>) {}
    /// A batch's changes are done; its checks are running.
    fn rollout_checks_start(&self, _batch: BatchRef<'_>, _checks: &[String]) {}
    /// A batch's checks ran (`passed` when every one did; a failure stops the batches after it).
    fn rollout_checks_done(&self, _batch: BatchRef<'_>, _results: &[CheckResult], _passed: bool) {}
    /// A warning or error found while working (also returned at the end).
    fn diagnostic(&self, _d: &Diagnostic) {}
}

/// A reporter that discards everything.
#[derive(Debug, Default)]
pub struct SilentReporter;

impl Reporter for SilentReporter {}

/// An object's `id` as progress lines show it (`[id=…]`): `(sensitive value)` when it is marked
/// sensitive (an id made from a secret).
pub fn shown_id(v: &Value) -> Option<&str> {
    let id = v.get("id")?;
    if id.is_sensitive() {
        return Some(meshform_core::REDACTED);
    }
    id.as_str()
}
