//! How apply schedules operations: bounded parallelism, each operation starting as soon as its own
//! dependencies are done, and cancellation.

use std::time::Duration;

use meshform_engine::apply::{operation_dependencies, ApplyOptions, Operation};
use meshform_engine::plan::walk::PlanOptions;
use meshform_state::InstanceStatus;
use tokio::sync::watch;

use crate::fake::{Hold, OpKind};
use crate::harness::{assert_success, state_addrs, Harness};

fn independent(n: usize) -> String {
    (0..n)
        .map(|i| format!("resource \"test_thing\" \"x{i}\" {{\n  name = \"x{i}\"\n}}\n"))
        .collect()
}

fn with_parallelism(n: usize) -> PlanOptions {
    PlanOptions { parallelism: n, ..PlanOptions::default() }
}

#[tokio::test]
async fn parallelism_bounds_the_operations_in_flight() {
    let h = Harness::new(&independent(10));
    h.cloud.delay_all(Duration::from_millis(20));
    for i in 0..10 {
        h.cloud.hold(&format!("x{i}"), Hold::UntilInFlight(2));
    }
    let a = h.apply_opts(&with_parallelism(2)).await;
    assert_success(&a.outcome);
    assert_eq!(h.cloud.ops_of(OpKind::Create).len(), 10);
    assert_eq!(h.cloud.max_in_flight(), 2, "parallelism 2 must allow 2 at once, never more");
}

#[tokio::test]
async fn independent_operations_overlap_up_to_parallelism() {
    let h = Harness::new(&independent(10));
    for i in 0..10 {
        h.cloud.hold(&format!("x{i}"), Hold::UntilInFlight(10));
    }
    let a = h.apply_opts(&with_parallelism(10)).await;
    assert_success(&a.outcome);
    assert_eq!(h.cloud.max_in_flight(), 10);
    assert_eq!(h.cloud.names().len(), 10);
}

/// `slow` and `b` are independent; `c` depends on `b` only. A level-by-level executor would start `c`
/// only after `slow` (same level as `b`) finished; `slow` waits until `c` has started.
#[tokio::test]
async fn an_operation_starts_when_its_own_dependencies_finish() {
    let h = Harness::new(
        r#"
resource "test_thing" "slow" { name = "slow" }
resource "test_thing" "b" { name = "b" }
resource "test_thing" "c" {
  name       = "c"
  depends_on = [test_thing.b]
}
"#,
    );
    h.cloud.hold("slow", Hold::UntilStarted("c".into()));
    h.apply_ok().await;
    let slow = h.cloud.op(OpKind::Create, "slow");
    let b = h.cloud.op(OpKind::Create, "b");
    let c = h.cloud.op(OpKind::Create, "c");
    assert!(c.start > b.end(), "c must wait for b");
    assert!(c.start < slow.end(), "c must not wait for slow, which it does not depend on");
}

const TWO_CHAINS: &str = r#"
resource "test_thing" "a1" { name = "a1" }
resource "test_thing" "a2" { name = "a2" }
resource "test_thing" "b1" {
  name  = "b1"
  value = test_thing.a1.id
}
resource "test_thing" "b2" {
  name  = "b2"
  value = test_thing.a2.id
}
"#;

#[tokio::test]
async fn cancellation_waits_for_operations_in_flight_and_starts_nothing_new() {
    let h = Harness::new(TWO_CHAINS);
    for n in ["a1", "a2"] {
        h.cloud.hold(n, Hold::UntilInFlight(2));
        h.cloud.delay(n, Duration::from_millis(100));
    }
    let (tx, rx) = watch::channel(false);
    let (opts, apply) = (PlanOptions::default(), ApplyOptions::default());
    let run = h.apply_with(&opts, &apply, rx);
    let cancel = async {
        h.cloud.wait_in_flight(2).await;
        tx.send(true).expect("send cancel");
    };
    let (a, ()) = tokio::join!(run, cancel);

    assert!(a.outcome.interrupted, "the outcome must say the run was interrupted");
    assert!(!a.outcome.diags.has_errors(), "{:?}", a.outcome.diags);
    assert_eq!(h.cloud.in_flight(), 0);
    assert_eq!(h.cloud.names(), ["a1", "a2"], "b1 and b2 must not be started");
    let state = h.state();
    assert_eq!(state_addrs(&state), ["test_thing.a1", "test_thing.a2"]);
    assert!(state.instances().all(|(_, _, i)| i.status == InstanceStatus::Ready));
    assert!(state.pending.is_empty(), "finished creates leave no pending entry");

    // The next run carries on where this one stopped.
    h.cloud.clear_faults();
    let plan = h.apply_ok().await;
    assert_eq!(plan.summary(), (2, 0, 0));
    assert_eq!(h.cloud.names(), ["a1", "a2", "b1", "b2"]);
}

/// Operations waiting for a parallelism slot when the cancel arrives have not started: they must not
/// start afterwards.
#[tokio::test]
async fn cancellation_does_not_start_operations_queued_for_a_slot() {
    let h = Harness::new(&independent(3));
    h.cloud.delay_all(Duration::from_millis(100));
    let (tx, rx) = watch::channel(false);
    let opts = with_parallelism(1);
    let apply = ApplyOptions { parallelism: 1, ..ApplyOptions::default() };
    let run = h.apply_with(&opts, &apply, rx);
    let cancel = async {
        h.cloud.wait_in_flight(1).await;
        tx.send(true).expect("send cancel");
    };
    let (a, ()) = tokio::join!(run, cancel);
    assert!(a.outcome.interrupted);
    assert_eq!(h.cloud.ops_of(OpKind::Create).len(), 1, "{:?}", h.cloud.ops());
    assert_eq!(state_addrs(&h.state()).len(), 1);
}

/// A caller that drops its cancel sender has not asked to cancel.
#[tokio::test]
async fn a_run_whose_cancel_sender_is_gone_is_not_cancelled() {
    let h = Harness::new(&independent(3));
    h.cloud.delay_all(Duration::from_millis(20));
    let rx = watch::channel(false).1;
    let a = h.apply_with(&PlanOptions::default(), &ApplyOptions::default(), rx).await;
    assert_success(&a.outcome);
    assert_eq!(h.cloud.names(), ["x0", "x1", "x2"]);
}

/// The operations' dependencies as the executor orders them (what the runbook's critical-path
/// benchmark measures against): through locals and whole resources (so an operation may also list
/// what another it waits for waits for), one entry per operation, none between independent ones.
#[tokio::test]
async fn operation_dependencies_pass_through_configuration_steps() {
    let h = Harness::new(
        r#"
resource "test_thing" "a" {
  count = 2
  name  = "a${count.index}"
}
locals {
  joined = join(",", test_thing.a[*].id)
}
resource "test_thing" "b" {
  name  = "b"
  value = local.joined
}
resource "test_thing" "c" { name = "c" }
resource "test_thing" "d" {
  name       = "d"
  depends_on = [test_thing.b]
}
"#,
    );
    let planned = match h.plan(&PlanOptions::default()).await {
        Ok(p) => p,
        Err(e) => panic!("plan failed: {}", crate::harness::describe_error(&e)),
    };
    let plan = &planned.plan;
    let deps = operation_dependencies(&planned.loaded.graph, plan, &planned.state)
        .expect("the operations can be ordered");
    let name = |op: &Operation| match op {
        Operation::Apply { change } => plan.changes[*change].addr.to_string(),
        other => panic!("only creates in this plan, got {other:?}"),
    };
    let mut seen: Vec<(String, Vec<String>)> =
        deps.iter().map(|(op, waits)| (name(op), waits.iter().map(name).collect())).collect();
    seen.sort();
    let expected = [
        ("test_thing.a[0]", vec![]),
        ("test_thing.a[1]", vec![]),
        ("test_thing.b", vec!["test_thing.a[0]", "test_thing.a[1]"]),
        ("test_thing.c", vec![]),
        // Through `test_thing.b` as a whole, which also waits for what b reads.
        ("test_thing.d", vec!["test_thing.a[0]", "test_thing.a[1]", "test_thing.b"]),
    ];
    let expected: Vec<(String, Vec<String>)> = expected
        .iter()
        .map(|(op, waits)| (op.to_string(), waits.iter().map(|w| w.to_string()).collect()))
        .collect();
    assert_eq!(seen, expected);
}
