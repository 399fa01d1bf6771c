//! The apply step graph: one step per configuration node, per create/update/read and per deletion,
//! with the edges that order them (dependencies first, dependents deleted first, create-before-destroy).

use std::collections::{BTreeMap, BTreeSet};

use meshform_state::State;

use meshform_core::ResourceAddr;

use crate::graph::{ConfigGraph, Node};
use crate::plan::{Action, Plan};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum StepKind {
    /// A deletion (of a deleted or replaced instance), by change index.
    Delete(usize),
    /// A create, update or read, by change index.
    Instance(usize),
    /// A configuration node, by position in the graph order.
    Config(usize),
    /// The checks after a batch of a staged rollout, by gate index (`rollout::stage`).
    Gate(usize),
}

pub(super) struct Steps {
    pub(super) kinds: Vec<StepKind>,
    pub(super) deps: Vec<BTreeSet<usize>>,
    pub(super) dependents: Vec<BTreeSet<usize>>,
}

pub(super) fn build_steps(graph: &ConfigGraph, plan: &Plan, state: &State) -> Steps {
    let mut kinds = Vec::new();
    let mut config_step = BTreeMap::new();
    for (i, n) in graph.order.iter().enumerate() {
        config_step.insert(n.clone(), kinds.len());
        kinds.push(StepKind::Config(i));
    }
    let mut inst_step = BTreeMap::new();
    let mut del_step = BTreeMap::new();
    for (i, c) in plan.changes.iter().enumerate() {
        if matches!(c.action, Action::Create | Action::Update | Action::Read)
            || c.action.is_replace()
        {
            inst_step.insert(i, kinds.len());
            kinds.push(StepKind::Instance(i));
        }
        if c.action.deletes() {
            del_step.insert(i, kinds.len());
            kinds.push(StepKind::Delete(i));
        }
    }
    let mut deps = vec![BTreeSet::new(); kinds.len()];
    for (n, &s) in &config_step {
        for d in graph.dependencies(n) {
            if let Some(&ds) = config_step.get(d) {
                deps[s].insert(ds);
            }
        }
    }
    for (&i, &s) in &inst_step {
        let c = &plan.changes[i];
        let node = Node::Resource(c.addr.resource.clone());
        for d in graph.dependencies(&node) {
            if let Some(&ds) = config_step.get(d) {
                deps[s].insert(ds);
            }
        }
        if let Some(&rs) = config_step.get(&node) {
            deps[rs].insert(s);
        }
        if c.action == Action::DeleteThenCreate {
            deps[s].insert(del_step[&i]);
        }
    }
    // Edges into deletes that only order them (dependents deleted first, dependents moving off first)
    // are added last, each only when it closes no cycle: the first list before the second.
    let mut delete_after: Vec<(usize, usize)> = Vec::new();
    let mut move_off_first: Vec<(usize, usize)> = Vec::new();
    // Indexes by resource address, so that ordering n deletes costs about n, not n².
    let mut deleted_dependents: BTreeMap<&ResourceAddr, Vec<(usize, usize)>> = BTreeMap::new();
    for (&j, &sj) in &del_step {
        for d in &plan.changes[j].dependencies {
            deleted_dependents.entry(d).or_default().push((j, sj));
        }
    }
    let mut changing_dependents: BTreeMap<&str, Vec<(usize, usize)>> = BTreeMap::new();
    for (&j, &sj) in &inst_step {
        let y = &plan.changes[j];
        if y.action == Action::DeleteThenCreate {
            continue;
        }
        if let Some((_, inst)) = state.instance(&y.addr) {
            for d in &inst.dependencies {
                changing_dependents.entry(d.as_str()).or_default().push((j, sj));
            }
        }
    }
    for (&i, &s) in &del_step {
        let x = &plan.changes[i];
        // Dependents are deleted first.
        for &(j, sj) in deleted_dependents.get(&x.addr.resource).into_iter().flatten() {
            if i != j {
                delete_after.push((s, sj));
            }
        }
        if x.action == Action::CreateThenDelete {
            deps[s].insert(inst_step[&i]);
        }
        // Whatever depended on it (per the last apply) and is still changing moves off it first.
        let resource = x.addr.resource.to_string();
        for &(j, sj) in changing_dependents.get(resource.as_str()).into_iter().flatten() {
            if i != j {
                move_off_first.push((s, sj));
            }
        }
    }
    // Break any cycle by dropping edges into deletes (deletion order becomes best-effort): e.g. a
    // dependent that must be updated with the new id of a delete-then-create replacement cannot move
    // off the old object first.
    for (s, d) in delete_after.into_iter().chain(move_off_first) {
        if !depends_on(&deps, d, s) {
            deps[s].insert(d);
        }
    }
    let mut dependents = vec![BTreeSet::new(); kinds.len()];
    for (s, ds) in deps.iter().enumerate() {
        for &d in ds {
            dependents[d].insert(s);
        }
    }
    Steps { kinds, deps, dependents }
}

/// Whether step `from` waits, directly or transitively, for step `to`.
pub(super) fn depends_on(deps: &[BTreeSet<usize>], from: usize, to: usize) -> bool {
    let mut seen = vec![false; deps.len()];
    let mut stack = vec![from];
    while let Some(s) = stack.pop() {
        if s == to {
            return true;
        }
        if !std::mem::replace(&mut seen[s], true) {
            stack.extend(deps[s].iter().copied());
        }
    }
    false
}

/// The first ready step that can start now: any (in step order) while an operation slot is free,
/// else the first configuration step or rollout gate, which need none. Found in O(log n): the
/// kinds that need no slot sort after the operations.
pub(super) fn next_startable(
    ready: &BTreeSet<(StepKind, usize)>,
    slot_free: bool,
) -> Option<(StepKind, usize)> {
    if slot_free {
        ready.first().copied()
    } else {
        ready.range((StepKind::Config(0), 0)..).next().copied()
    }
}

pub(super) fn release(
    steps: &Steps,
    s: usize,
    remaining: &mut [usize],
    ready: &mut BTreeSet<(StepKind, usize)>,
    done: &[bool],
) {
    for &d in &steps.dependents[s] {
        remaining[d] = remaining[d].saturating_sub(1);
        if remaining[d] == 0 && !done[d] {
            ready.insert((steps.kinds[d], d));
        }
    }
}

/// One thing the executor runs that takes time: an operation on an instance or a rollout gate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Operation {
    /// The create, update or read of `plan.changes[change]`.
    Apply { change: usize },
    /// The deletion of `plan.changes[change]` (a deleted, replaced or deposed object).
    Delete { change: usize },
    /// The checks after batch `batch` (0-based) of `plan.rollouts[rollout]`.
    Gate { rollout: usize, batch: usize },
}

/// The operations of an apply and, for each, the operations it waits for: the executor's step
/// graph with the configuration steps between operations (locals, providers, resources as a
/// whole) passed through, so that an edge means "may start only once that one has finished".
pub(super) fn operation_dependencies(
    steps: &Steps,
    gate_of: impl Fn(usize) -> (usize, usize),
) -> Vec<(Operation, Vec<Operation>)> {
    let op = |s: usize| match steps.kinds[s] {
        StepKind::Instance(change) => Some(Operation::Apply { change }),
        StepKind::Delete(change) => Some(Operation::Delete { change }),
        StepKind::Gate(g) => {
            let (rollout, batch) = gate_of(g);
            Some(Operation::Gate { rollout, batch })
        }
        StepKind::Config(_) => None,
    };
    // The operations each configuration step leads back to, found once per step (children first).
    let mut through: Vec<Option<BTreeSet<usize>>> = vec![None; steps.kinds.len()];
    let mut out = Vec::new();
    for s in 0..steps.kinds.len() {
        let Some(me) = op(s) else { continue };
        let mut waits = BTreeSet::new();
        for &d in &steps.deps[s] {
            if op(d).is_some() {
                waits.insert(d);
            } else {
                waits.extend(operations_behind(steps, d, &op, &mut through).iter().copied());
            }
        }
        let mut waits: Vec<Operation> = waits.into_iter().filter_map(op).collect();
        waits.sort();
        out.push((me, waits));
    }
    out
}

/// The operations configuration step `s` waits for, directly or through other configuration steps.
fn operations_behind<'m>(
    steps: &Steps,
    s: usize,
    op: &impl Fn(usize) -> Option<Operation>,
    memo: &'m mut [Option<BTreeSet<usize>>],
) -> &'m BTreeSet<usize> {
    let mut stack = vec![(s, false)];
    while let Some((t, expanded)) = stack.pop() {
        if memo[t].is_some() {
            continue;
        }
        let configs: Vec<usize> =
            steps.deps[t].iter().copied().filter(|&d| op(d).is_none()).collect();
        if !expanded {
            stack.push((t, true));
            stack.extend(configs.iter().filter(|&&d| memo[d].is_none()).map(|&d| (d, false)));
            continue;
        }
        let mut set: BTreeSet<usize> =
            steps.deps[t].iter().copied().filter(|&d| op(d).is_some()).collect();
        for d in configs {
            if let Some(behind) = &memo[d] {
                set.extend(behind.iter().copied());
            }
        }
        memo[t] = Some(set);
    }
    static NONE: BTreeSet<usize> = BTreeSet::new();
    memo[s].as_ref().unwrap_or(&NONE)
}
