//! The apply executor: carries out a plan in dependency order, starting each operation as soon as what
//! it depends on has finished, at most `parallelism` at once, and saving state after every operation.
//!
//! Steps are per instance (create, update, read) and per deletion; configuration nodes (locals,
//! outputs, resources as a whole) are barriers that re-evaluate with the values applied so far. A
//! failed step skips everything that depends on it; independent branches go on. Cancellation stops
//! scheduling and waits for the operations in flight. A staged rollout adds a gate after each batch
//! ([`rollout`]) that runs the batch's checks; a failed gate skips the batches after it.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures::stream::{FuturesUnordered, StreamExt};
use meshform_config::eval::{Evaluator, Overlay};
use meshform_config::model::{Config, Repetition};
use meshform_core::{Diagnostic, Diagnostics, InstanceAddr, InstanceKey, Value};
use meshform_provider::{Progress, Registry};
use meshform_state::{InstanceState, OutputState, StateChange, StateError};
use tokio::sync::{watch, Semaphore, SemaphorePermit};

use crate::body::eval_body;
use crate::graph::{ConfigGraph, Node};
use crate::plan::walk::{provider_state_key, PlanContext};
use crate::plan::{Action, Plan, PlanMode, ResourceChange, Rollout};
use crate::reporter::Reporter;
use crate::scope::evaluate_node;
use crate::verify::{run_check, CheckResult};

mod operation;
mod rollout;
mod steps;
mod writer;

use operation::*;
use rollout::{batch_ref, Gate};
pub use steps::Operation;
use steps::*;
pub use writer::StateWriter;

/// The operations applying `plan` runs and, for each, the operations it waits for (directly or
/// through configuration steps), exactly as the executor orders them: for tools that study a run,
/// such as the critical-path benchmark. `state` is the state the plan was made against.
pub fn operation_dependencies(
    graph: &ConfigGraph,
    plan: &Plan,
    state: &meshform_state::State,
) -> Result<Vec<(Operation, Vec<Operation>)>, Diagnostic> {
    let mut steps = build_steps(graph, plan, state);
    let gates = rollout::stage(&mut steps, plan, graph)?;
    Ok(steps::operation_dependencies(&steps, |g| (gates[g].rollout, gates[g].batch)))
}

/// How to apply.
#[derive(Clone, Debug)]
pub struct ApplyOptions {
    pub parallelism: usize,
    /// How often a long operation reports that it is still running.
    pub progress_interval: Duration,
}

impl Default for ApplyOptions {
    fn default() -> ApplyOptions {
        ApplyOptions { parallelism: 10, progress_interval: Duration::from_secs(10) }
    }
}

/// What an apply did.
#[derive(Debug, Default)]
pub struct ApplyOutcome {
    /// Objects `import` blocks brought under management (recorded before the first operation).
    pub imported: usize,
    pub added: usize,
    pub changed: usize,
    pub destroyed: usize,
    /// Errors of failed operations (each names its resource).
    pub diags: Diagnostics,
    /// Addresses not attempted because something they depend on failed.
    pub skipped: Vec<String>,
    /// The run was interrupted before every step was scheduled.
    pub interrupted: bool,
}

/// Collects a provider's status messages for the progress ticker.
#[derive(Default)]
struct StatusCell(Mutex<Option<String>>);

impl Progress for StatusCell {
    fn status(&self, message: &str) {
        *meshform_core::sync::lock(&self.0) = Some(message.to_owned());
    }
}

type OpFuture<'a> = Pin<Box<dyn Future<Output = Result<Option<Value>, Diagnostic>> + 'a>>;

type StepFuture<'a> =
    Pin<Box<dyn Future<Output = (usize, Result<Option<Value>, Diagnostic>)> + 'a>>;

/// Everything the executor reads.
pub struct Executor<'a> {
    pub config: &'a Config,
    /// The providers, for those configured only during apply.
    pub registry: &'a Registry,
    pub graph: &'a ConfigGraph,
    pub plan: &'a Plan,
    pub ctx: PlanContext,
    pub writer: &'a StateWriter,
    pub opts: &'a ApplyOptions,
    pub reporter: &'a dyn Reporter,
    pub cancel: watch::Receiver<bool>,
}

impl<'a> Executor<'a> {
    /// Applies the plan.
    pub async fn run(mut self) -> ApplyOutcome {
        let mut out = ApplyOutcome::default();
        if let Err(e) = self.record_bookkeeping() {
            out.diags.push(state_error(&e));
            return out;
        }
        out.imported = self.plan.imports.len();
        if self.plan.mode == PlanMode::RefreshOnly {
            if let Err(e) = self.apply_refresh_only() {
                out.diags.push(state_error(&e));
            }
            return out;
        }
        let mut steps = build_steps(self.graph, self.plan, &self.writer.snapshot());
        let gates = match rollout::stage(&mut steps, self.plan, self.graph) {
            Ok(g) => g,
            Err(d) => {
                out.diags.push(d);
                return out;
            }
        };
        for g in gates.iter().filter(|g| g.batch == 0) {
            self.report_batch_start(g.rollout(self.plan), 0);
        }
        let n = steps.kinds.len();
        let mut remaining: Vec<usize> = steps.deps.iter().map(BTreeSet::len).collect();
        let mut ready: BTreeSet<(StepKind, usize)> =
            (0..n).filter(|&s| remaining[s] == 0).map(|s| (steps.kinds[s], s)).collect();
        let mut done = vec![false; n];
        let semaphore = Semaphore::new(self.opts.parallelism.max(1));
        let mut in_flight: FuturesUnordered<StepFuture<'_>> = FuturesUnordered::new();
        let mut cancelled = *self.cancel.borrow();
        let mut cancel_closed = false;
        let mut fatal = false;
        let plan = self.plan;
        loop {
            // An operation is started only once it holds a parallelism slot, so that nothing waits
            // for one and starts after a cancellation; configuration steps need none.
            while let Some(item) = if cancelled || fatal {
                None
            } else {
                next_startable(&ready, semaphore.available_permits() > 0)
            } {
                ready.remove(&item);
                let s = item.1;
                match steps.kinds[s] {
                    StepKind::Config(i) => {
                        let node = self.graph.order[i].clone();
                        if let Node::Provider(key) = &node {
                            if let Err(d) = self.configure_deferred(key).await {
                                out.diags.push(d);
                                self.fail(&steps, s, &mut done, &mut out);
                                continue;
                            }
                        }
                        self.config_step(&node, &mut out);
                        done[s] = true;
                        release(&steps, s, &mut remaining, &mut ready, &done);
                    }
                    StepKind::Instance(i) => match self.prepare_instance(&plan.changes[i]) {
                        Ok(fut) => {
                            let permit = semaphore.try_acquire().ok();
                            in_flight.push(Box::pin(step_with_permit(permit, s, fut)));
                        }
                        Err(d) => {
                            out.diags.push(d);
                            self.fail(&steps, s, &mut done, &mut out);
                        }
                    },
                    StepKind::Delete(i) => {
                        let fut = self.delete_future(&plan.changes[i]);
                        let permit = semaphore.try_acquire().ok();
                        in_flight.push(Box::pin(step_with_permit(permit, s, fut)));
                    }
                    StepKind::Gate(g) => {
                        let fut = self.gate_future(gates[g]);
                        in_flight.push(Box::pin(step_with_permit(None, s, fut)));
                    }
                }
            }
            if in_flight.is_empty() {
                break;
            }
            let next = tokio::select! {
                r = in_flight.next() => r,
                r = self.cancel.changed(), if !cancelled && !cancel_closed => {
                    // A dropped sender can never cancel; only `true` cancels.
                    match r {
                        Ok(()) => cancelled = *self.cancel.borrow(),
                        Err(_) => cancel_closed = true,
                    }
                    continue;
                }
            };
            let Some((s, result)) = next else { break };
            match result {
                Ok(value) => {
                    if let StepKind::Gate(g) = steps.kinds[s] {
                        let (r, next) = (gates[g].rollout(plan), gates[g].batch + 1);
                        if next < r.batches.len() && !cancelled {
                            self.report_batch_start(r, next);
                        }
                    }
                    self.finish(&steps.kinds[s], value, &mut out);
                    done[s] = true;
                    release(&steps, s, &mut remaining, &mut ready, &done);
                }
                Err(d) => {
                    if d.code == "meshform::apply::state_write" {
                        fatal = true;
                    }
                    out.diags.push(d);
                    self.fail(&steps, s, &mut done, &mut out);
                }
            }
        }
        out.interrupted = cancelled && done.iter().any(|d| !d);
        if !cancelled && !fatal && done.iter().any(|d| !d) {
            // Unreachable while the steps form a DAG (build_steps drops edges that would close a
            // cycle); never report success for operations that were not attempted.
            let stuck: Vec<String> = (0..n)
                .filter(|&s| !done[s])
                .filter_map(|s| match steps.kinds[s] {
                    StepKind::Instance(i) | StepKind::Delete(i) => {
                        Some(plan.changes[i].addr.to_string())
                    }
                    StepKind::Config(_) | StepKind::Gate(_) => None,
                })
                .collect();
            out.diags.push(
                Diagnostic::error(
                    "meshform::apply::unordered",
                    format!(
                        "these operations could not be ordered and were not attempted: {}",
                        stuck.join(", ")
                    ),
                )
                .with_help("this is a bug in meshform; please report it with the plan"),
            );
        }
        if let Err(e) = self.save_outputs() {
            out.diags.push(state_error(&e));
        }
        out.skipped.sort();
        out.skipped.dedup();
        out
    }

    /// Adopted objects and abandoned pending creates found by the plan, objects `removed` blocks
    /// forget, and objects it found deleted
    /// outside meshform: those leave the state (a planned create records them again), or a destroy
    /// after they vanished, or a killed destroy, would leave them in state forever.
    fn record_bookkeeping(&self) -> Result<(), StateError> {
        let gone: Vec<&InstanceAddr> =
            self.plan.drift.iter().filter(|d| d.after.is_none()).map(|d| &d.addr).collect();
        if self.plan.adoptions.is_empty()
            && self.plan.abandoned.is_empty()
            && gone.is_empty()
            && self.plan.forgotten.is_empty()
            && self.plan.imports.is_empty()
        {
            return Ok(());
        }
        self.writer.update(|s| {
            for addr in &gone {
                s.remove_instance(addr);
            }
            // `removed { lifecycle { destroy = false } }`: the object stays; meshform lets go.
            for f in &self.plan.forgotten {
                s.remove_instance(&f.addr);
            }
            // `import` blocks: the object as read; a planned change then applies to it.
            for i in &self.plan.imports {
                let mut inst = InstanceState::new(i.addr.key.clone());
                inst.set_value(&i.value);
                s.set_instance(&i.addr, &provider_state_key(&i.provider), inst);
            }
            for a in &self.plan.adoptions {
                let mut inst = InstanceState::new(a.addr.key.clone());
                inst.set_value(&a.value);
                s.set_instance(&a.addr, &provider_state_key(&a.provider), inst);
                s.pending.retain(|p| p.address != a.addr.to_string());
            }
            s.pending.retain(|p| !self.plan.abandoned.contains(&p.address));
        })
    }

    fn apply_refresh_only(&self) -> Result<(), StateError> {
        self.writer.update(|s| {
            for d in &self.plan.drift {
                match &d.after {
                    Some(v) => {
                        if let Some((_, inst)) = s.instance(&d.addr) {
                            let mut inst = inst.clone();
                            inst.set_value(v);
                            s.set_instance(&d.addr, &provider_state_key(&d.provider), inst);
                        }
                    }
                    None => {
                        s.remove_instance(&d.addr);
                    }
                }
            }
        })
    }

    /// Configures a provider whose configuration was known only after apply, now that what it reads
    /// has been applied (nothing for the others, configured while planning).
    async fn configure_deferred(&mut self, key: &str) -> Result<(), Diagnostic> {
        if !self.ctx.deferred_providers.contains(key) || self.ctx.providers.contains_key(key) {
            return Ok(());
        }
        let name = key.split('.').next().unwrap_or(key);
        let (Some(def), Some(provider), Some(schema)) = (
            self.config.providers.get(key),
            self.registry.get(name),
            self.ctx.schemas.get(name).map(|s| s.provider.clone()),
        ) else {
            return Err(Diagnostic::error(
                "meshform::apply::no_provider",
                format!("provider {key} cannot be configured: it is not in the configuration"),
            ));
        };
        let mut diags = Diagnostics::default();
        let each = def.each();
        let scope = Overlay { base: &self.ctx.values, extra: &each };
        let value = eval_body(&def.body, &schema, &scope, &self.config.dir, &mut diags);
        if let Some(d) = diags.into_iter().find(|d| d.is_error()) {
            return Err(d);
        }
        if value.contains_unknown() {
            return Err(Diagnostic::error(
                "meshform::apply::provider_config_unknown",
                format!("provider {key}: its configuration is still unknown after what it reads was applied"),
            )
            .with_span(def.span.clone(), "configured here")
            .with_help("configure it from attributes the resources it reads set when they are created"));
        }
        let configured = provider.configure(&value.into_unmarked_deep()).await.map_err(|e| {
            Diagnostic::error(
                "meshform::apply::provider_configure",
                format!("provider {key}: cannot configure it: {e}"),
            )
            .with_span(def.span.clone(), "configured here")
        })?;
        self.ctx.providers.insert(key.to_owned(), configured);
        Ok(())
    }

    fn config_step(&mut self, node: &Node, out: &mut ApplyOutcome) {
        out.diags.extend(evaluate_node(self.config, &mut self.ctx.values, node));
    }

    /// Re-evaluates an instance's configuration with the values applied so far and builds its operation.
    fn prepare_instance(&self, c: &'a ResourceChange) -> Result<OpFuture<'a>, Diagnostic> {
        let r = self.config.resources.get(&c.addr.resource).ok_or_else(|| {
            Diagnostic::error(
                "meshform::apply::not_in_config",
                format!("{}: no longer in the configuration", c.addr),
            )
            .with_help("plan again")
        })?;
        let schema = self.ctx.resource_schema(&c.addr.resource).cloned().ok_or_else(|| {
            Diagnostic::error(
                "meshform::apply::no_schema",
                format!("{}: unknown resource type", c.addr),
            )
        })?;
        let provider = self.ctx.providers.get(&c.provider).cloned().ok_or_else(|| {
            Diagnostic::error(
                "meshform::apply::no_provider",
                format!("{}: provider {} is not configured", c.addr, c.provider),
            )
        })?;
        let overlay = self.instance_overlay(&r.repetition, &c.addr.resource.module, &c.addr.key);
        let scope =
            Overlay { base: self.ctx.values.scope(&c.addr.resource.module), extra: &overlay };
        let mut diags = Diagnostics::default();
        let proposed = eval_body(&r.body, &schema, &scope, &self.config.dir, &mut diags);
        if let Some(d) = diags.into_iter().find(|d| d.is_error()) {
            return Err(d);
        }
        if proposed.contains_unknown() && c.action != Action::Read {
            return Err(Diagnostic::error(
                "meshform::apply::still_unknown",
                format!("{}: some arguments are still unknown after the resources they depend on were applied", c.addr),
            )
            .with_span(r.span.clone(), "in this resource")
            .with_help("this is a provider bug: a computed value was not set after apply; please report it"));
        }
        let writer = self.writer;
        let reporter = self.reporter;
        let interval = self.opts.progress_interval;
        let span = r.span.clone();
        Ok(Box::pin(async move {
            let started = Instant::now();
            reporter.apply_start(&c.addr, c.action);
            let status = StatusCell::default();
            let result = run_instance(
                c, &proposed, &*provider, &schema, writer, &status, reporter, interval,
            )
            .await;
            let elapsed = started.elapsed();
            match result {
                Ok(v) => {
                    reporter.apply_complete(
                        &c.addr,
                        c.action,
                        elapsed,
                        crate::reporter::shown_id(&v),
                    );
                    Ok(Some(v))
                }
                Err(StepError::State(e)) => {
                    reporter.apply_errored(&c.addr, c.action, elapsed);
                    Err(state_error(&e))
                }
                Err(StepError::Provider(verb, e)) => {
                    reporter.apply_errored(&c.addr, c.action, elapsed);
                    let e = crate::plan::walk::hide_echoes(e, &proposed);
                    Err(provider_failure(&c.addr, verb, &e).with_span(span, "in this resource"))
                }
            }
        }))
    }

    fn delete_future(
        &self,
        c: &'a ResourceChange,
    ) -> Pin<Box<dyn Future<Output = Result<Option<Value>, Diagnostic>> + 'a>> {
        let provider = self.ctx.providers.get(&c.provider).cloned();
        let writer = self.writer;
        let reporter = self.reporter;
        let interval = self.opts.progress_interval;
        Box::pin(async move {
            let Some(provider) = provider else {
                return Err(Diagnostic::error(
                    "meshform::apply::no_provider",
                    format!("{}: provider {} is not configured", c.addr, c.provider),
                ));
            };
            let before = c.before.clone().unwrap_or(Value::Null).into_unmarked_deep();
            let started = Instant::now();
            reporter.apply_start(&c.addr, Action::Delete);
            let status = StatusCell::default();
            let r = with_progress(
                provider.delete(&c.addr.resource.ty, &before, &status),
                &c.addr,
                Action::Delete,
                &status,
                reporter,
                interval,
            )
            .await;
            let elapsed = started.elapsed();
            if let Err(e) = r {
                reporter.apply_errored(&c.addr, Action::Delete, elapsed);
                return Err(provider_failure(&c.addr, "delete", &e));
            }
            // A deposed object (or the old half of a create-before-destroy replacement) is recorded
            // in `deposed`, not at the address, which the replacement now holds.
            let deposed = c.deposed || c.action == Action::CreateThenDelete;
            let address = c.addr.to_string();
            let change = if deposed {
                StateChange::RemoveDeposed { address, newest: false }
            } else {
                StateChange::RemoveInstance { address }
            };
            if let Err(e) = writer.commit(vec![change]).await {
                return Err(state_error(&e));
            }
            reporter.apply_complete(&c.addr, Action::Delete, elapsed, None);
            Ok(None)
        })
    }

    /// The `count`/`each` names an instance's expressions see; `for_each` is re-evaluated so that
    /// `each.value` reflects values applied so far.
    fn instance_overlay(
        &self,
        rep: &Repetition,
        module: &meshform_core::ModulePath,
        key: &InstanceKey,
    ) -> BTreeMap<String, Value> {
        match (rep, key) {
            (Repetition::Count(_), InstanceKey::Int(i)) => {
                BTreeMap::from([("count".to_owned(), Value::map([("index", Value::number(*i))]))])
            }
            (Repetition::ForEach(e), InstanceKey::Str(k)) => {
                let scope = self.ctx.values.scope(module);
                let all = Evaluator::new(scope, &e.span.file, &self.config.dir).eval(&e.node);
                let value = match all.ok().as_ref().map(Value::unmarked) {
                    Some(Value::Map(m)) => m.get(k).cloned().unwrap_or(Value::Unknown),
                    _ => Value::string(k.clone()),
                };
                BTreeMap::from([(
                    "each".to_owned(),
                    Value::map([("key", Value::string(k.clone())), ("value", value)]),
                )])
            }
            _ => BTreeMap::new(),
        }
    }

    fn finish(&mut self, kind: &StepKind, value: Option<Value>, out: &mut ApplyOutcome) {
        match *kind {
            StepKind::Instance(i) => {
                let c = &self.plan.changes[i];
                if let Some(v) = value {
                    self.ctx.values.set_instance(&c.addr.resource, &c.addr.key, v);
                }
                match c.action {
                    Action::Create => out.added += 1,
                    Action::Update => out.changed += 1,
                    Action::DeleteThenCreate | Action::CreateThenDelete => out.added += 1,
                    _ => {}
                }
            }
            StepKind::Delete(_) => out.destroyed += 1,
            StepKind::Config(_) | StepKind::Gate(_) => {}
        }
    }

    /// Marks a step failed and skips everything that depends on it.
    fn fail(&self, steps: &Steps, s: usize, done: &mut [bool], out: &mut ApplyOutcome) {
        done[s] = true;
        let mut stack: Vec<usize> = steps.dependents[s].iter().copied().collect();
        while let Some(d) = stack.pop() {
            if done[d] {
                continue;
            }
            done[d] = true;
            // Only operations are listed: a resource's configuration step follows its own
            // instances, so listing it would name the failed resource itself as not attempted.
            if let StepKind::Instance(i) | StepKind::Delete(i) = steps.kinds[d] {
                out.skipped.push(self.plan.changes[i].addr.to_string());
            }
            stack.extend(steps.dependents[d].iter().copied());
        }
    }

    fn report_batch_start(&self, r: &Rollout, batch: usize) {
        let label = r.batches[batch].label();
        self.reporter.rollout_batch_start(batch_ref(r, batch, &label));
    }

    /// Runs the checks after a rollout batch, as `meshform verify` runs them, against the values
    /// applied so far (the later batches' instances as they were); an error naming the batch and
    /// each failed check when one fails.
    fn gate_future(&self, gate: Gate) -> OpFuture<'a> {
        let r: &'a Rollout = gate.rollout(self.plan);
        let mut ctx = self.ctx.clone();
        gate.as_deployed(self.plan, &mut ctx.values);
        let config = self.config;
        let reporter = self.reporter;
        Box::pin(async move {
            let label = r.batches[gate.batch].label();
            let at = batch_ref(r, gate.batch, &label);
            reporter.rollout_checks_start(at, &r.checks);
            let mut results = Vec::new();
            for name in &r.checks {
                results.push(match config.checks.get(name) {
                    Some(check) => run_check(config, &ctx, name, check).await,
                    None => CheckResult {
                        name: name.clone(),
                        passed: false,
                        skipped: false,
                        unreachable: false,
                        failures: vec!["no such check in the configuration".into()],
                        data: Vec::new(),
                    },
                });
            }
            let passed = results.iter().all(|c| c.passed);
            reporter.rollout_checks_done(at, &results, passed);
            if passed {
                return Ok(None);
            }
            let failed: Vec<String> = results
                .iter()
                .filter(|c| !c.passed)
                .map(|c| format!("check.{} failed: {}", c.name, c.failures.join("; ")))
                .collect();
            let later: Vec<String> =
                r.batches[gate.batch + 1..].iter().map(|b| b.label()).collect();
            Err(Diagnostic::error(
                "meshform::apply::rollout_check_failed",
                format!(
                    "rollout of {} stopped after batch {} of {} ({label}): {}",
                    r.resource,
                    gate.batch + 1,
                    r.batches.len(),
                    failed.join("; ")
                ),
            )
            .with_help(if later.is_empty() {
                "every batch was applied, but the checks fail: find the cause with `meshform verify`"
                    .to_owned()
            } else {
                format!(
                    "the later batches ({}) were not changed; find the cause with `meshform verify`, fix it, and apply again: the next plan shows what is left",
                    later.join(", then ")
                )
            }))
        })
    }

    fn save_outputs(&self) -> Result<(), StateError> {
        let mut outputs = BTreeMap::new();
        if self.plan.mode != PlanMode::Destroy {
            for (name, o) in &self.config.outputs {
                let Ok(v) = Evaluator::new(&self.ctx.values, &o.value.span.file, &self.config.dir)
                    .eval(&o.value.node)
                else {
                    continue;
                };
                if v.contains_unknown() {
                    continue;
                }
                let sensitive = o.sensitive || v.contains_sensitive();
                outputs.insert(name.clone(), OutputState::new(&v, sensitive));
            }
        }
        self.writer.update(|s| s.outputs = outputs)
    }
}

/// Runs a step holding its parallelism slot (taken by the scheduler; `None` only if the semaphore
/// was closed, which never happens).
async fn step_with_permit<'f>(
    permit: Option<SemaphorePermit<'f>>,
    s: usize,
    fut: Pin<Box<dyn Future<Output = Result<Option<Value>, Diagnostic>> + 'f>>,
) -> (usize, Result<Option<Value>, Diagnostic>) {
    let _permit = permit;
    (s, fut.await)
}
