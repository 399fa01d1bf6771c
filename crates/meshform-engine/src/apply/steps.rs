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
