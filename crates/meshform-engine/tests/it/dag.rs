//! Property tests over random resource graphs, against an oracle built from the generated edges: plans
//! are deterministic, apply order respects every edge, a plan after apply is empty, destroy leaves
//! nothing and deletes in reverse dependency order, and a second apply that replaces and removes
//! resources converges.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::time::Duration;

use meshform_engine::plan::walk::PlanOptions;
use meshform_engine::{Action, Plan, PlanMode};
use proptest::prelude::*;

use crate::fake::{Cloud, Op, OpKind};
use crate::harness::{assert_success, summary, Harness};

#[derive(Clone, Debug)]
enum Rep {
    Single,
    Count(usize),
    ForEach(Vec<&'static str>),
}

/// One `test_thing` resource `rI`.
#[derive(Clone, Debug)]
struct Node {
    rep: Rep,
    /// The earlier resources it depends on: `true` by reference (`value = test_thing.rJ.id`), `false`
    /// by `depends_on`.
    deps: BTreeMap<usize, bool>,
    /// How long each of its operations takes.
    delay_ms: u64,
    /// The suffix of its name (changing it forces a replacement).
    suffix: &'static str,
    /// Appended to a literal `value` (changing it is an in-place update).
    tag: &'static str,
    create_before_destroy: bool,
}

impl Node {
    /// The `name` of every instance.
    fn names(&self, i: usize) -> Vec<String> {
        let base = format!("r{i}{}", self.suffix);
        match &self.rep {
            Rep::Single => vec![base],
            Rep::Count(n) => (0..*n).map(|k| format!("{base}-{k}")).collect(),
            Rep::ForEach(keys) => keys.iter().map(|k| format!("{base}-{k}")).collect(),
        }
    }

    /// The name of the instance other resources refer to.
    fn first_name(&self, i: usize) -> String {
        self.names(i).remove(0)
    }

    fn ref_expr(&self, i: usize) -> String {
        match &self.rep {
            Rep::Single => format!("test_thing.r{i}.id"),
            Rep::Count(_) => format!("test_thing.r{i}[0].id"),
            Rep::ForEach(keys) => format!("test_thing.r{i}[\"{}\"].id", keys[0]),
        }
    }
}

fn node(i: usize) -> BoxedStrategy<Node> {
    let rep = prop_oneof![
        3 => Just(Rep::Single),
        1 => (1usize..=3).prop_map(Rep::Count),
        1 => proptest::sample::subsequence(vec!["a", "b", "c"], 1..=3).prop_map(Rep::ForEach),
    ];
    let deps = if i == 0 {
        Just(BTreeMap::new()).boxed()
    } else {
        proptest::collection::btree_map(0..i, any::<bool>(), 0..=i.min(3)).boxed()
    };
    (rep, deps, 0u64..3)
        .prop_map(|(rep, deps, delay_ms)| Node {
            rep,
            deps,
            delay_ms,
            suffix: "",
            tag: "",
            create_before_destroy: false,
        })
        .boxed()
}

fn dag() -> impl Strategy<Value = Vec<Node>> {
    (2usize..=30).prop_flat_map(|n| (0..n).map(node).collect::<Vec<_>>())
}

fn render(nodes: &[Node]) -> String {
    let mut s = String::new();
    for (i, n) in nodes.iter().enumerate() {
        let _ = writeln!(s, "resource \"test_thing\" \"r{i}\" {{");
        let base = format!("r{i}{}", n.suffix);
        match &n.rep {
            Rep::Single => {
                let _ = writeln!(s, "  name = \"{base}\"");
            }
            Rep::Count(c) => {
                let _ = writeln!(s, "  count = {c}\n  name = \"{base}-${{count.index}}\"");
            }
            Rep::ForEach(keys) => {
                let _ = writeln!(s, "  for_each = {{");
                for k in keys {
                    let _ = writeln!(s, "    {k} = \"{k}\"");
                }
                let _ = writeln!(s, "  }}\n  name = \"{base}-${{each.key}}\"");
            }
        }
        let refs: Vec<String> = n
            .deps
            .iter()
            .filter(|(_, by_ref)| **by_ref)
            .map(|(j, _)| format!("${{{}}}", nodes[*j].ref_expr(*j)))
            .collect();
        if refs.is_empty() {
            let _ = writeln!(s, "  value = \"v{i}{}\"", n.tag);
        } else {
            let _ = writeln!(s, "  value = \"{}\"", refs.join("+"));
        }
        let after: Vec<String> = n
            .deps
            .iter()
            .filter(|(_, by_ref)| !**by_ref)
            .map(|(j, _)| format!("test_thing.r{j}"))
            .collect();
        if !after.is_empty() {
            let _ = writeln!(s, "  depends_on = [{}]", after.join(", "));
        }
        if n.create_before_destroy {
            let _ = writeln!(s, "  lifecycle {{\n    create_before_destroy = true\n  }}");
        }
        let _ = writeln!(s, "}}");
    }
    s
}

/// The resource index an object name belongs to (`r12x-a` → 12).
fn owner(name: &str) -> usize {
    let digits: String = name[1..].chars().take_while(char::is_ascii_digit).collect();
    digits.parse().unwrap_or_else(|_| panic!("unexpected name {name}"))
}

fn by_owner(ops: &[Op]) -> BTreeMap<usize, Vec<&Op>> {
    let mut m: BTreeMap<usize, Vec<&Op>> = BTreeMap::new();
    for o in ops {
        m.entry(owner(&o.name)).or_default().push(o);
    }
    m
}

/// Every create of a resource starts after every create of everything it depends on has ended.
fn assert_creates_follow_edges(nodes: &[Node], cloud: &Cloud) {
    let creates = cloud.ops_of(OpKind::Create);
    let by = by_owner(&creates);
    for (i, n) in nodes.iter().enumerate() {
        for j in n.deps.keys() {
            for ci in by.get(&i).into_iter().flatten() {
                for cj in by.get(j).into_iter().flatten() {
                    assert!(
                        ci.start > cj.end(),
                        "{} was created (tick {}) before its dependency {} finished (tick {})",
                        ci.name,
                        ci.start,
                        cj.name,
                        cj.end()
                    );
                }
            }
        }
    }
}

/// Every delete of a resource ends before any delete of what it depends on starts.
fn assert_deletes_reverse_edges(nodes: &[Node], cloud: &Cloud) {
    let deletes = cloud.ops_of(OpKind::Delete);
    let by = by_owner(&deletes);
    for (i, n) in nodes.iter().enumerate() {
        for j in n.deps.keys() {
            for di in by.get(&i).into_iter().flatten() {
                for dj in by.get(j).into_iter().flatten() {
                    assert!(
                        di.end() < dj.start,
                        "{} (a dependency) was deleted (tick {}) before its dependent {} was gone (tick {})",
                        dj.name,
                        dj.start,
                        di.name,
                        di.end()
                    );
                }
            }
        }
    }
}

/// The cloud holds exactly the objects the configuration describes, once each, and every referencing
/// value holds the ids of what it refers to.
fn assert_cloud_matches(nodes: &[Node], cloud: &Cloud) {
    let mut want: Vec<String> = nodes.iter().enumerate().flat_map(|(i, n)| n.names(i)).collect();
    want.sort();
    assert_eq!(cloud.names(), want);
    for (i, n) in nodes.iter().enumerate() {
        let ids: Vec<String> = n
            .deps
            .iter()
            .filter(|(_, by_ref)| **by_ref)
            .map(|(j, _)| cloud.id_of(&nodes[*j].first_name(*j)))
            .collect();
        let expected = if ids.is_empty() { format!("v{i}{}", n.tag) } else { ids.join("+") };
        for name in n.names(i) {
            let (_, o) = cloud.get(&name).unwrap_or_else(|| panic!("{name} is missing"));
            assert_eq!(o.value.as_deref(), Some(expected.as_str()), "value of {name}");
        }
    }
}

fn set_delays(nodes: &[Node], cloud: &Cloud) {
    for (i, n) in nodes.iter().enumerate() {
        for name in n.names(i) {
            cloud.delay(&name, Duration::from_millis(n.delay_ms));
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn apply_then_destroy_respects_every_edge(nodes in dag()) {
        runtime().block_on(async {
            let h = Harness::new(&render(&nodes));
            set_delays(&nodes, &h.cloud);
            // Without a state file each plan starts a fresh lineage; everything else is the same.
            let first = Plan { lineage: String::new(), ..h.plan_default().await };
            let second = Plan { lineage: String::new(), ..h.plan_default().await };
            assert!(format!("{first:?}") == format!("{second:?}"), "plans are not deterministic");

            let plan = h.apply_ok().await;
            assert!(plan.changes.iter().all(|c| c.action == Action::Create), "{:?}", summary(&plan));
            assert_creates_follow_edges(&nodes, &h.cloud);
            assert_cloud_matches(&nodes, &h.cloud);
            assert!(h.state().pending.is_empty());

            let again = h.plan_default().await;
            assert!(!again.has_changes(), "plan after apply: {:?}", summary(&again));

            h.cloud.clear_log();
            let plan = h.destroy_ok().await;
            assert!(plan.changes.iter().all(|c| c.action == Action::Delete), "{:?}", summary(&plan));
            assert_deletes_reverse_edges(&nodes, &h.cloud);
            let state = h.state();
            assert!(state.resources.is_empty() && state.pending.is_empty(), "{state:?}");
            assert_eq!(h.cloud.names(), Vec::<String>::new());
        });
    }

    /// A second configuration renames some resources (forcing replacements, some create-before-destroy),
    /// changes some values and drops the last few resources: the apply converges in one run.
    #[test]
    fn replacing_and_removing_converges(
        nodes in dag(),
        changes in proptest::collection::vec((0u8..4, any::<bool>()), 30),
        keep in 0.5f64..=1.0,
    ) {
        runtime().block_on(async {
            let h = Harness::new(&render(&nodes));
            set_delays(&nodes, &h.cloud);
            h.apply_ok().await;

            let keep = ((nodes.len() as f64 * keep).ceil() as usize).clamp(1, nodes.len());
            let mut next: Vec<Node> = nodes[..keep].to_vec();
            for (n, (how, cbd)) in next.iter_mut().zip(&changes) {
                match how {
                    0 => {
                        n.suffix = "x";
                        n.create_before_destroy = *cbd;
                    }
                    1 => n.tag = "u",
                    _ => {}
                }
            }
            h.set_config(&render(&next));
            h.cloud.clear_log();
            let a = h.apply().await;
            assert_success(&a.outcome);
            assert_creates_follow_edges(&next, &h.cloud);
            assert_cloud_matches(&next, &h.cloud);
            let state = h.state();
            assert!(state.pending.is_empty());
            let names: BTreeSet<String> =
                next.iter().enumerate().flat_map(|(i, n)| n.names(i)).collect();
            assert_eq!(state.instances().count(), names.len());

            let again = h.plan_default().await;
            assert!(!again.has_changes(), "plan after apply: {:?}", summary(&again));
            let plan = h.plan_ok(&PlanOptions { mode: PlanMode::Destroy, ..PlanOptions::default() }).await;
            assert_eq!(plan.changes.len(), names.len());
        });
    }
}
