//! Staged rollouts in the step graph: one gate step after each batch, which runs the batch's checks;
//! every step of the next batch waits for it, so a failed gate skips the batches after it.
//!
//! A batch's dependents (same key, see [`crate::plan::rollout`]) wait for their own key's instances
//! rather than for the whole resource: their edge to a batched resource's configuration step is
//! replaced by edges to the steps of that resource's instance with the same key (and to what the
//! resource itself waits for). Ordering edges from a batch to a later batch's steps (deletes ordered
//! after dependents) are dropped: the later batch may never run.

use std::collections::{BTreeMap, BTreeSet};

use meshform_core::{Diagnostic, InstanceAddr, InstanceKey, ResourceAddr};

use super::steps::{StepKind, Steps};
use crate::graph::{ConfigGraph, Node};
use crate::plan::{Plan, Rollout};
use crate::reporter::BatchRef;
use crate::scope::Values;

/// A gate: after batch `batch` (0-based) of `plan.rollouts[rollout]`.
#[derive(Clone, Copy, Debug)]
pub(super) struct Gate {
    pub rollout: usize,
    pub batch: usize,
}

impl Gate {
    pub fn rollout<'p>(&self, plan: &'p Plan) -> &'p Rollout {
        &plan.rollouts[self.rollout]
    }

    /// Gives the instances of the later batches, which have not been changed, their prior values in
    /// `values` (which hold the planned ones), so that the checks see what is deployed.
    pub fn as_deployed(&self, plan: &Plan, values: &mut Values) {
        let r = self.rollout(plan);
        for a in r.batches[self.batch + 1..].iter().flat_map(|b| &b.instances) {
            let change = plan.changes.iter().find(|c| &c.addr == a && !c.deposed);
            if let Some(before) = change.and_then(|c| c.before.clone()) {
                values.set_instance(&a.resource, &a.key, before);
            }
        }
    }
}

/// Where a batch is, for the reporter (`label` from [`crate::plan::RolloutBatch::label`]).
pub(super) fn batch_ref<'r>(r: &'r Rollout, batch: usize, label: &'r str) -> BatchRef<'r> {
    BatchRef { resource: &r.resource, batch: batch + 1, total: r.batches.len(), label }
}

/// Adds the gates of the plan's rollouts to `steps`; an error when the result cannot be ordered.
pub(super) fn stage(
    steps: &mut Steps,
    plan: &Plan,
    graph: &ConfigGraph,
) -> Result<Vec<Gate>, Diagnostic> {
    let mut gates = Vec::new();
    if plan.rollouts.is_empty() {
        return Ok(gates);
    }
    // The steps of each instance (its create/update/read, its delete).
    let mut of_addr: BTreeMap<&InstanceAddr, Vec<usize>> = BTreeMap::new();
    for (s, k) in steps.kinds.iter().enumerate() {
        if let StepKind::Instance(i) | StepKind::Delete(i) = *k {
            if !plan.changes[i].deposed {
                of_addr.entry(&plan.changes[i].addr).or_default().push(s);
            }
        }
    }
    let config_step: BTreeMap<&ResourceAddr, usize> = steps
        .kinds
        .iter()
        .enumerate()
        .filter_map(|(s, k)| match *k {
            StepKind::Config(i) => match &graph.order[i] {
                Node::Resource(a) => Some((a, s)),
                _ => None,
            },
            _ => None,
        })
        .collect();
    for (ri, r) in plan.rollouts.iter().enumerate() {
        let batched: BTreeSet<&ResourceAddr> =
            r.batches.iter().flat_map(|b| b.instances.iter().map(|a| &a.resource)).collect();
        let members: Vec<BTreeSet<usize>> = r
            .batches
            .iter()
            .map(|b| {
                b.instances
                    .iter()
                    .flat_map(|a| of_addr.get(a).into_iter().flatten().copied())
                    .collect()
            })
            .collect();
        // Same-key dependents wait for their key, not for the whole batched resource.
        for b in &r.batches {
            for a in &b.instances {
                for &s in of_addr.get(a).into_iter().flatten() {
                    let deps: Vec<usize> = steps.deps[s].iter().copied().collect();
                    let mut new = BTreeSet::new();
                    for d in deps {
                        expand(steps, d, &a.key, &batched, &config_step, &of_addr, &mut new);
                    }
                    new.remove(&s);
                    steps.deps[s] = new;
                }
            }
        }
        // Nothing of a batch waits for a later batch.
        for (k, m) in members.iter().enumerate() {
            let later: BTreeSet<usize> = members[k + 1..].iter().flatten().copied().collect();
            for &s in m {
                steps.deps[s].retain(|d| !later.contains(d));
            }
        }
        for (k, m) in members.iter().enumerate() {
            let g = steps.kinds.len();
            steps.kinds.push(StepKind::Gate(gates.len()));
            steps.deps.push(m.clone());
            gates.push(Gate { rollout: ri, batch: k });
            if let Some(next) = members.get(k + 1) {
                for &s in next {
                    steps.deps[s].insert(g);
                }
            }
        }
    }
    steps.dependents = vec![BTreeSet::new(); steps.kinds.len()];
    for (s, ds) in steps.deps.iter().enumerate() {
        for &d in ds {
            steps.dependents[d].insert(s);
        }
    }
    if let Some(stuck) = unordered(steps) {
        let names: Vec<String> = stuck
            .into_iter()
            .filter_map(|s| match steps.kinds[s] {
                StepKind::Instance(i) | StepKind::Delete(i) => {
                    Some(plan.changes[i].addr.to_string())
                }
                _ => None,
            })
            .collect();
        return Err(Diagnostic::error(
            "meshform::apply::rollout_unordered",
            format!(
                "the rollout's batches cannot be ordered with these changes: {}",
                names.join(", ")
            ),
        )
        .with_help(
            "a change of one batch depends on a change of a later batch; apply the changes of the dependency first (e.g. with -target), then the rollout",
        ));
    }
    Ok(gates)
}

/// The steps `d` stands for as a dependency of an instance with key `key`: a batched resource's
/// configuration step becomes its same-key instance's steps plus what the resource waits for.
fn expand(
    steps: &Steps,
    d: usize,
    key: &InstanceKey,
    batched: &BTreeSet<&ResourceAddr>,
    config_step: &BTreeMap<&ResourceAddr, usize>,
    of_addr: &BTreeMap<&InstanceAddr, Vec<usize>>,
    out: &mut BTreeSet<usize>,
) {
    let resource = batched.iter().find(|a| config_step.get(**a) == Some(&d));
    let Some(&resource) = resource else {
        out.insert(d);
        return;
    };
    let inst = InstanceAddr { resource: resource.clone(), key: key.clone() };
    let own: BTreeSet<usize> = of_addr
        .iter()
        .filter(|(a, _)| &a.resource == resource)
        .flat_map(|(_, s)| s.iter().copied())
        .collect();
    out.extend(of_addr.get(&inst).into_iter().flatten().copied());
    for &e in &steps.deps[d] {
        if !own.contains(&e) {
            expand(steps, e, key, batched, config_step, of_addr, out);
        }
    }
}

/// The steps on a cycle or behind one, if any (Kahn's algorithm).
fn unordered(steps: &Steps) -> Option<Vec<usize>> {
    let mut remaining: Vec<usize> = steps.deps.iter().map(BTreeSet::len).collect();
    let mut ready: Vec<usize> = (0..remaining.len()).filter(|&s| remaining[s] == 0).collect();
    let mut seen = 0;
    while let Some(s) = ready.pop() {
        seen += 1;
        for &d in &steps.dependents[s] {
            remaining[d] -= 1;
            if remaining[d] == 0 {
                ready.push(d);
            }
        }
    }
    (seen < remaining.len()).then(|| (0..remaining.len()).filter(|&s| remaining[s] > 0).collect())
}
