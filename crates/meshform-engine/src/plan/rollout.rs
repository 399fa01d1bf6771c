//! Staged rollouts (`lifecycle { rollout { … } }`): which planned changes apply in which batch.
//!
//! The rule, computed once per plan and carried by it:
//!
//! - A rollout applies when the plan updates or replaces **more than one** instance of its resource.
//!   Creates and deletes of its instances are not batched.
//! - Those instances are sorted by `order` first (keys it names, in its order), then by key order,
//!   and cut into batches of `batch_size`.
//! - A *failure domain* is an instance key. Every change (create, update, replace or read) of another
//!   resource that depends on the rollout's resource and has the **same key** as a batched instance (`app.x["cluster-2"]` after `mesh.m["cluster-2"]`)
//!   goes in that instance's batch — when it depends on the resource only through resources that
//!   join too, and names them only with its own key (`[each.key]`, `[count.index]`; a `depends_on`
//!   entry naming the rollout's resource names the instance of its key).
//!   A dependent resource that has a rollout of its own keeps it, and an instance belongs to at most
//!   one rollout (the first by resource address).
//! - Everything else is ordered by dependencies alone: changes that depend on the rollout's resource
//!   as a whole wait for every batch.
//!
//! The apply runs the named checks after each batch; a failed check stops the batches after it.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use meshform_config::model::{BlockBody, Config, Expr, Repetition, ResourceDef, RolloutDef};
use meshform_config::refs::{references, Target};
use meshform_core::{Diagnostic, Diagnostics, InstanceAddr, InstanceKey, ResourceAddr};

use super::{Action, Plan, PlanMode, ResourceChange};
use crate::graph::{ConfigGraph, Node};

/// The batches of one resource's staged rollout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rollout {
    /// The resource whose `lifecycle` has the rollout.
    pub resource: ResourceAddr,
    /// The check blocks run after each batch, by name.
    pub checks: Vec<String>,
    pub batches: Vec<RolloutBatch>,
}

/// One batch: the rollout resource's instance keys, and every planned change that runs in it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RolloutBatch {
    pub keys: Vec<InstanceKey>,
    /// The rollout resource's instances and their same-key dependents, sorted.
    pub instances: Vec<InstanceAddr>,
}

impl Rollout {
    /// `2 batches (cluster-2, then cluster-1), gated by check.a, check.b`.
    pub fn summary(&self) -> String {
        let n = self.batches.len();
        let order: Vec<String> = self.batches.iter().map(RolloutBatch::label).collect();
        let mut s =
            format!("{n} batch{} ({})", if n == 1 { "" } else { "es" }, order.join(", then "));
        if !self.checks.is_empty() {
            let checks: Vec<String> = self.checks.iter().map(|c| format!("check.{c}")).collect();
            s.push_str(&format!(", gated by {}", checks.join(", ")));
        }
        s
    }
}

impl RolloutBatch {
    /// The keys of the batch as written in `order`: `cluster-2`, `cluster-2 and cluster-3`.
    pub fn label(&self) -> String {
        let keys: Vec<String> = self.keys.iter().map(key_text).collect();
        keys.join(" and ")
    }
}

/// An instance key as a user writes it in `order`: `cluster-2`, `0`.
pub fn key_text(k: &InstanceKey) -> String {
    match k {
        InstanceKey::None => String::new(),
        InstanceKey::Int(i) => i.to_string(),
        InstanceKey::Str(s) => s.clone(),
    }
}

/// An error for each key of `order` that is not among `keys` (the resource's instances).
pub fn unknown_order_keys(
    addr: &ResourceAddr,
    def: &RolloutDef,
    keys: &BTreeSet<InstanceKey>,
) -> Diagnostics {
    let mut diags = Diagnostics::default();
    for (k, span) in &def.order {
        if keys.contains(k) {
            continue;
        }
        let known: Vec<String> = keys.iter().map(|k| format!("{:?}", key_text(k))).collect();
        diags.push(
            Diagnostic::error(
                "meshform::config::rollout_unknown_key",
                format!(
                    "rollout order names {:?}, which is not an instance of {addr}",
                    key_text(k)
                ),
            )
            .with_span(span.clone(), "no such instance key")
            .with_help(if known.is_empty() {
                format!("{addr} has no instances")
            } else {
                format!("the instances of {addr} are {}", known.join(", "))
            }),
        );
    }
    diags
}

/// Sets the plan's rollouts (none for destroy and refresh-only plans), with an error for each
/// `order` key that is not an instance. `whole`: every instance was in the run (no `-target` or
/// `-exclude`), so that a missing key is a mistake rather than an instance left out.
pub fn attach(
    config: &Config,
    graph: &ConfigGraph,
    whole: bool,
    plan: &mut Plan,
    diags: &mut Diagnostics,
) {
    plan.rollouts = compute(config, graph, whole, plan, diags);
}

fn compute(
    config: &Config,
    graph: &ConfigGraph,
    whole: bool,
    plan: &Plan,
    diags: &mut Diagnostics,
) -> Vec<Rollout> {
    let mut out = Vec::new();
    if plan.mode != PlanMode::Normal {
        return out;
    }
    let changes = &plan.changes;
    let mut assigned: BTreeSet<InstanceAddr> = BTreeSet::new();
    for (addr, r) in &config.resources {
        let Some(def) = &r.lifecycle.rollout else { continue };
        let mine: Vec<&ResourceChange> =
            changes.iter().filter(|c| &c.addr.resource == addr && !c.deposed).collect();
        let keys: BTreeSet<InstanceKey> = mine
            .iter()
            .filter(|c| c.action != Action::Delete)
            .map(|c| c.addr.key.clone())
            .collect();
        // Only a whole plan knows every instance (one that failed to plan, or that -target left
        // out, has no change).
        if whole && !keys.is_empty() && plan.complete() && !diags.has_errors() {
            diags.extend(unknown_order_keys(addr, def, &keys));
        }
        let mut changing: Vec<InstanceKey> = mine
            .iter()
            .filter(|c| c.action == Action::Update || c.action.is_replace())
            .map(|c| c.addr.key.clone())
            .filter(|k| {
                !assigned.contains(&InstanceAddr { resource: addr.clone(), key: k.clone() })
            })
            .collect();
        if changing.len() < 2 {
            continue;
        }
        let rank =
            |k: &InstanceKey| def.order.iter().position(|(o, _)| o == k).unwrap_or(usize::MAX);
        changing.sort_by(|a, b| (rank(a), a).cmp(&(rank(b), b)));
        let size = usize::try_from(def.batch_size.0).unwrap_or(1).max(1);
        let mut batches: Vec<RolloutBatch> = changing
            .chunks(size)
            .map(|keys| RolloutBatch {
                keys: keys.to_vec(),
                instances: keys
                    .iter()
                    .map(|k| InstanceAddr { resource: addr.clone(), key: k.clone() })
                    .collect(),
            })
            .collect();
        let batch_of: BTreeMap<InstanceKey, usize> = batches
            .iter()
            .enumerate()
            .flat_map(|(i, b)| b.keys.iter().map(move |k| (k.clone(), i)))
            .collect();
        let dependents = same_key_dependents(config, graph, addr);
        for c in changes {
            let joins = dependents.contains(&c.addr.resource)
                && depends_on_own_key(config, &c.addr, addr)
                && !c.deposed
                && c.action != Action::NoOp
                && c.action != Action::Delete
                && config
                    .resources
                    .get(&c.addr.resource)
                    .is_none_or(|d| d.lifecycle.rollout.is_none())
                && !assigned.contains(&c.addr);
            if let (true, Some(&i)) = (joins, batch_of.get(&c.addr.key)) {
                batches[i].instances.push(c.addr.clone());
            }
        }
        for b in &mut batches {
            b.instances.sort();
            assigned.extend(b.instances.iter().cloned());
        }
        out.push(Rollout {
            resource: addr.clone(),
            checks: def.checks.iter().map(|(c, _)| c.clone()).collect(),
            batches,
        });
    }
    out
}

/// The resources whose instances join their key's batch: those that depend on `addr` only through
/// resources that join too (not through a local, an output or a provider configured from it), and
/// whose every reference to those resources names their own key (`[each.key]`, `[count.index]`), as
/// does a `depends_on` entry naming the rollout's resource.
fn same_key_dependents(
    config: &Config,
    graph: &ConfigGraph,
    addr: &ResourceAddr,
) -> BTreeSet<ResourceAddr> {
    let target = Node::Resource(addr.clone());
    let mut reaches: HashMap<&Node, bool> = HashMap::new();
    let mut joined: BTreeSet<ResourceAddr> = BTreeSet::from([addr.clone()]);
    // The order lists dependencies first, so one pass decides every node.
    for n in &graph.order {
        let deps = graph.dependencies(n);
        let via: Vec<&Node> =
            deps.into_iter().filter(|d| *d == &target || reaches.get(d) == Some(&true)).collect();
        reaches.insert(n, !via.is_empty());
        let (Node::Resource(d), false) = (n, via.is_empty()) else { continue };
        let Some(def) = config.resources.get(d) else { continue };
        let through_joined =
            via.iter().all(|v| matches!(v, Node::Resource(x) if joined.contains(x)));
        if through_joined && own_key_only(def, &joined) {
            joined.insert(d.clone());
        }
    }
    joined.remove(addr);
    joined
}

/// Whether every reference `def` makes to one of `joined` is indexed by its own instance key.
fn own_key_only(def: &ResourceDef, joined: &BTreeSet<ResourceAddr>) -> bool {
    let mut exprs: Vec<&Expr> = Vec::new();
    if let Repetition::Count(e) | Repetition::ForEach(e) = &def.repetition {
        exprs.push(e);
    }
    collect_exprs(&def.body, &mut exprs);
    let by_key = |rest: &str| {
        let Some(inner) = rest.strip_prefix('[').and_then(|r| r.split_once(']')) else {
            return false;
        };
        matches!(
            (inner.0.trim(), &def.repetition),
            ("each.key", Repetition::ForEach(_)) | ("count.index", Repetition::Count(_))
        )
    };
    let refs_ok = exprs.iter().all(|e| {
        references(&e.node, &e.span.file).iter().all(|r| match &r.target {
            Target::Resource(a) if joined.contains(a) => {
                by_key(&r.span.file.text[r.span.range.end..])
            }
            _ => true,
        })
    });
    // `depends_on` naming a joined resource must name one instance; which one is checked per
    // instance by the caller (only the instance of its own key can be meant).
    refs_ok && def.depends_on.iter().all(|d| !joined.contains(&d.addr) || d.key.is_some())
}

fn collect_exprs<'b>(body: &'b BlockBody, out: &mut Vec<&'b Expr>) {
    out.extend(body.attrs.values().map(|a| &a.expr));
    for b in &body.blocks {
        collect_exprs(&b.body, out);
    }
}

/// Whether an instance's `depends_on` entries naming `rollout` name its own key.
fn depends_on_own_key(config: &Config, inst: &InstanceAddr, rollout: &ResourceAddr) -> bool {
    config.resources.get(&inst.resource).is_none_or(|d| {
        d.depends_on
            .iter()
            .filter(|x| &x.addr == rollout)
            .all(|x| x.key.as_ref() == Some(&inst.key))
    })
}
