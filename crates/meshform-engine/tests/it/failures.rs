//! Failures: a failed create, update or delete, a create that fails after making the object, a run
//! that died between a create and saving its result, and a refresh that fails.

use std::time::Duration;

use meshform_engine::plan::walk::PlanOptions;
use meshform_engine::plan::ChangeReason;
use meshform_engine::{Action, PlanMode};
use meshform_state::{InstanceStatus, PendingCreate, State};

use crate::fake::OpKind;
use crate::harness::{action, change, state_addrs, summary, Harness};

/// `a` fails; `b` references it and `d` depends on `b`; `c` and `e` (after `c`) are independent.
const BRANCHES: &str = r#"
resource "test_thing" "a" { name = "a" }
resource "test_thing" "b" {
  name  = "b"
  value = test_thing.a.id
}
resource "test_thing" "d" {
  name       = "d"
  depends_on = [test_thing.b]
}
resource "test_thing" "c" { name = "c" }
resource "test_thing" "e" {
  name       = "e"
  depends_on = [test_thing.c]
}
"#;

#[tokio::test]
async fn a_failed_create_skips_its_dependents_and_the_rest_completes() {
    let h = Harness::new(BRANCHES);
    h.cloud.fail(OpKind::Create, "a");
    h.cloud.delay("c", Duration::from_millis(30));
    let a = h.apply().await;

    let errors: Vec<String> = a.outcome.diags.iter().map(ToString::to_string).collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].starts_with("test_thing.a: create failed"), "{}", errors[0]);
    assert_eq!(a.outcome.skipped, ["test_thing.b", "test_thing.d"]);
    assert_eq!(h.cloud.names(), ["c", "e"]);
    let state = h.state();
    assert_eq!(state_addrs(&state), ["test_thing.c", "test_thing.e"]);
    assert!(state.pending.is_empty(), "a failed create of nothing leaves no pending entry");

    // The next plan retries what failed and what was skipped.
    let plan = h.plan_default().await;
    assert_eq!(
        summary(&plan),
        [
            ("test_thing.a".to_owned(), Action::Create),
            ("test_thing.b".to_owned(), Action::Create),
            ("test_thing.c".to_owned(), Action::NoOp),
            ("test_thing.d".to_owned(), Action::Create),
            ("test_thing.e".to_owned(), Action::NoOp),
        ]
    );
    h.cloud.clear_faults();
    h.apply_ok().await;
    assert_eq!(h.cloud.names(), ["a", "b", "c", "d", "e"]);
    assert_eq!(h.cloud.get("b").map(|(_, o)| o.value), Some(Some(h.cloud.id_of("a"))));
}

#[tokio::test]
async fn a_create_that_fails_after_making_the_object_taints_it() {
    let h = Harness::new(r#"resource "test_thing" "a" { name = "a" }"#);
    h.cloud.fail_after_create("a");
    let a = h.apply().await;
    assert!(a.outcome.diags.has_errors());
    let broken = h.cloud.id_of("a");
    let state = h.state();
    let (_, inst) = state.instance(&"test_thing.a".parse().unwrap()).expect("a is in state");
    assert_eq!(inst.status, InstanceStatus::Tainted);
    assert_eq!(inst.value().get("id").and_then(|v| v.as_str()), Some(broken.as_str()));
    assert!(state.pending.is_empty());

    h.cloud.clear_faults();
    let plan = h.plan_default().await;
    let c = change(&plan, "test_thing.a");
    assert_eq!(c.action, Action::DeleteThenCreate);
    assert_eq!(c.reason, Some(ChangeReason::Tainted));

    h.apply_ok().await;
    let (id, _) = h.cloud.get("a").expect("one object named a");
    assert_ne!(id, broken, "the tainted object was replaced");
    let state = h.state();
    let (_, inst) = state.instance(&"test_thing.a".parse().unwrap()).expect("a is in state");
    assert_eq!(inst.status, InstanceStatus::Ready);
    assert!(!h.plan_default().await.has_changes());
}

fn pending(address: &str, name: &str, value: &str) -> PendingCreate {
    PendingCreate {
        address: address.into(),
        provider: "provider.test".into(),
        attributes: serde_json::json!({ "name": name, "value": value, "id": null }),
        sensitive_attributes: Vec::new(),
        started: "2024-05-01T10:00:00Z".into(),
    }
}

/// The previous run recorded the intent to create `a`, the provider made it, and the run died before
/// saving the result.
#[tokio::test]
async fn an_interrupted_create_is_adopted_not_duplicated() {
    let h = Harness::new(
        r#"resource "test_thing" "a" {
  name  = "a"
  value = "v"
}"#,
    );
    let mut state = State::new();
    state.pending.push(pending("test_thing.a", "a", "v"));
    h.write_state(&mut state);
    let id = h.cloud.insert_outside("a", Some("v"));

    let plan = h.plan_default().await;
    assert_eq!(plan.adoptions.len(), 1);
    assert_eq!(plan.adoptions[0].addr.to_string(), "test_thing.a");
    assert_eq!(action(&plan, "test_thing.a"), Some(Action::NoOp));

    h.apply_ok().await;
    assert!(h.cloud.ops_of(OpKind::Create).is_empty(), "{:?}", h.cloud.ops());
    assert_eq!(h.cloud.names(), ["a"]);
    let state = h.state();
    assert!(state.pending.is_empty());
    let (_, inst) = state.instance(&"test_thing.a".parse().unwrap()).expect("a adopted");
    assert_eq!(inst.value().get("id").and_then(|v| v.as_str()), Some(id.as_str()));
    assert!(!h.plan_default().await.has_changes());
}

#[tokio::test]
async fn an_interrupted_create_that_made_nothing_is_created_once() {
    let h = Harness::new(
        r#"resource "test_thing" "a" {
  name  = "a"
  value = "v"
}"#,
    );
    let mut state = State::new();
    state.pending.push(pending("test_thing.a", "a", "v"));
    h.write_state(&mut state);

    let plan = h.plan_default().await;
    assert_eq!(plan.abandoned, ["test_thing.a"]);
    assert_eq!(action(&plan, "test_thing.a"), Some(Action::Create));
    h.apply_ok().await;
    assert_eq!(h.cloud.ops_of(OpKind::Create).len(), 1);
    assert_eq!(h.cloud.names(), ["a"]);
    let state = h.state();
    assert!(state.pending.is_empty());
    assert_eq!(state_addrs(&state), ["test_thing.a"]);
    assert!(!h.plan_default().await.has_changes());
}

/// The interrupted create was of a resource since removed from the configuration: the object is
/// found and destroyed.
#[tokio::test]
async fn an_interrupted_create_of_a_removed_resource_is_destroyed() {
    let h = Harness::new(r#"resource "test_thing" "keep" { name = "keep" }"#);
    let mut state = State::new();
    state.pending.push(pending("test_thing.gone", "gone", "v"));
    h.write_state(&mut state);
    h.cloud.insert_outside("gone", Some("v"));

    let plan = h.plan_default().await;
    let c = change(&plan, "test_thing.gone");
    assert_eq!(c.action, Action::Delete);
    assert_eq!(c.reason, Some(ChangeReason::NotInConfig));
    h.apply_ok().await;
    assert_eq!(h.cloud.names(), ["keep"]);
    let state = h.state();
    assert!(state.pending.is_empty());
    assert_eq!(state_addrs(&state), ["test_thing.keep"]);
}

#[tokio::test]
async fn a_refresh_failure_skips_only_what_depends_on_it() {
    let h = Harness::new(
        r#"
resource "test_thing" "a" { name = "a" }
resource "test_thing" "b" {
  name  = "b"
  value = test_thing.a.id
}
resource "test_thing" "c" {
  name  = "c"
  value = "one"
}
"#,
    );
    h.apply_ok().await;
    h.set_config(
        r#"
resource "test_thing" "a" { name = "a" }
resource "test_thing" "b" {
  name  = "b"
  value = test_thing.a.id
}
resource "test_thing" "c" {
  name  = "c"
  value = "two"
}
"#,
    );
    h.cloud.fail_read("a");
    let plan = h.plan_default().await;
    assert!(!plan.complete());
    assert_eq!(plan.failures.len(), 1, "{:?}", plan.failures);
    assert_eq!(plan.failures[0].address, "test_thing.a");
    assert_eq!(plan.failures[0].provider, "test");
    assert!(plan.failures[0].message.contains("reading a failed"), "{}", plan.failures[0].message);
    assert_eq!(plan.skipped.len(), 1, "{:?}", plan.skipped);
    assert!(plan.skipped[0].starts_with("test_thing.b "), "{:?}", plan.skipped);
    assert_eq!(action(&plan, "test_thing.c"), Some(Action::Update));
    assert_eq!(action(&plan, "test_thing.a"), None);
    assert_eq!(action(&plan, "test_thing.b"), None);
}

/// The run dies (its future is dropped, as a killed process stops at any `.await`) after the cloud
/// made `a` and before the answer came back: the pending entry the engine recorded lets the next run
/// adopt `a` instead of creating it again.
#[tokio::test]
async fn a_run_killed_during_a_create_is_recovered_without_a_duplicate() {
    let h = Harness::new(
        r#"
resource "test_thing" "a" { name = "a" }
resource "test_thing" "b" {
  name  = "b"
  value = test_thing.a.id
}
"#,
    );
    h.cloud.respond_slowly("a", Duration::from_secs(30));
    let made = async {
        while h.cloud.get("a").is_none() {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    };
    tokio::select! {
        _ = h.apply() => panic!("the run should still be waiting for the answer"),
        () = made => {}
    }
    let id = h.cloud.id_of("a");
    let state = h.state();
    assert_eq!(state.pending.len(), 1, "the intent was recorded before the call");
    assert_eq!(state.pending[0].address, "test_thing.a");
    assert!(state_addrs(&state).is_empty());

    h.cloud.clear_faults();
    h.cloud.clear_log();
    let plan = h.plan_default().await;
    assert_eq!(plan.adoptions.len(), 1);
    assert_eq!(action(&plan, "test_thing.b"), Some(Action::Create));
    h.apply_ok().await;
    assert_eq!(h.cloud.names(), ["a", "b"]);
    assert_eq!(h.cloud.id_of("a"), id, "a was adopted, not made again");
    assert_eq!(h.cloud.ops_of(OpKind::Create).len(), 1, "{:?}", h.cloud.ops());
    assert_eq!(h.cloud.get("b").and_then(|(_, o)| o.value), Some(id));
    assert!(h.state().pending.is_empty());
    assert!(!h.plan_default().await.has_changes());
}

#[tokio::test]
async fn a_failed_update_keeps_the_previous_value_and_is_retried() {
    let config = |v: &str| {
        format!("resource \"test_thing\" \"a\" {{\n  name  = \"a\"\n  value = \"{v}\"\n}}\n")
    };
    let h = Harness::new(&config("one"));
    h.apply_ok().await;
    h.set_config(&config("two"));
    h.cloud.fail(OpKind::Update, "a");
    let a = h.apply().await;
    let errors: Vec<String> = a.outcome.diags.iter().map(ToString::to_string).collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].starts_with("test_thing.a: update failed"), "{}", errors[0]);
    let state = h.state();
    let (_, inst) = state.instance(&"test_thing.a".parse().unwrap()).expect("a in state");
    assert_eq!(inst.value().get("value").and_then(|v| v.as_str()), Some("one"));

    h.cloud.clear_faults();
    let plan = h.plan_default().await;
    assert_eq!(action(&plan, "test_thing.a"), Some(Action::Update));
    h.apply_ok().await;
    assert_eq!(h.cloud.get("a").and_then(|(_, o)| o.value).as_deref(), Some("two"));
}

/// Destroying: when a dependent's delete fails, what it depends on is kept (it may still be in use).
#[tokio::test]
async fn a_failed_delete_keeps_what_it_depends_on() {
    let h = Harness::new(
        r#"
resource "test_thing" "a" { name = "a" }
resource "test_thing" "b" {
  name  = "b"
  value = test_thing.a.id
}
resource "test_thing" "c" { name = "c" }
"#,
    );
    h.apply_ok().await;
    h.cloud.fail(OpKind::Delete, "b");
    let destroy = PlanOptions { mode: PlanMode::Destroy, ..PlanOptions::default() };
    let a = h.apply_opts(&destroy).await;
    let errors: Vec<String> = a.outcome.diags.iter().map(ToString::to_string).collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].starts_with("test_thing.b: delete failed"), "{}", errors[0]);
    assert_eq!(a.outcome.skipped, ["test_thing.a"]);
    assert_eq!(h.cloud.names(), ["a", "b"]);
    assert_eq!(state_addrs(&h.state()), ["test_thing.a", "test_thing.b"]);

    h.cloud.clear_faults();
    h.destroy_ok().await;
    assert!(h.cloud.names().is_empty());
    assert!(h.state().is_empty());
}

/// A store that accepts `allowed` more writes, then refuses every one.
struct FailingWrites {
    inner: std::sync::Arc<dyn meshform_state::StateStore>,
    allowed: std::sync::atomic::AtomicUsize,
}

impl meshform_state::StateStore for FailingWrites {
    fn describe(&self) -> String {
        self.inner.describe()
    }
    fn read(&self) -> Result<Option<State>, meshform_state::StateError> {
        self.inner.read()
    }
    fn write(&self, state: &mut State) -> Result<(), meshform_state::StateError> {
        use std::sync::atomic::Ordering::SeqCst;
        if self.allowed.fetch_update(SeqCst, SeqCst, |n| n.checked_sub(1)).is_err() {
            return Err(meshform_state::StateError::Io {
                path: "state".into(),
                source: std::io::Error::other("disk full"),
            });
        }
        self.inner.write(state)
    }
    fn lock(
        &self,
        info: meshform_state::LockInfo,
        timeout: Duration,
    ) -> Result<Box<dyn meshform_state::StateLock>, meshform_state::StateError> {
        self.inner.lock(info, timeout)
    }
    fn force_unlock(&self, id: &str) -> Result<(), meshform_state::StateError> {
        self.inner.force_unlock(id)
    }
}

#[tokio::test]
async fn a_state_write_that_fails_after_a_failed_create_is_reported_not_ignored() {
    let mut h = Harness::new(r#"resource "test_thing" "a" { name = "a" }"#);
    h.cloud.fail(OpKind::Create, "a");
    let inner = std::sync::Arc::clone(&h.ws.store);
    // The pending record before the call is saved; recording the failure is not.
    h.ws.store = std::sync::Arc::new(FailingWrites { inner, allowed: 1.into() });
    let a = h.apply().await;
    let errors: Vec<String> = a.outcome.diags.iter().map(ToString::to_string).collect();
    // The step's error is the failed write (fatal: nothing else starts), not the create's.
    assert!(!errors.is_empty());
    assert!(errors.iter().all(|e| e.contains("saving state failed: ")), "{errors:?}");
    assert!(errors[0].contains("disk full"), "{errors:?}");
}

/// A run killed while one create hangs, after the others completed: their results were appended
/// to the state's journal (the snapshot file alone does not have them), the next reader replays
/// them, and the next apply adopts the one in flight and makes nothing twice.
#[tokio::test]
async fn a_killed_runs_journalled_creates_are_kept_and_not_made_again() {
    let h = Harness::new(
        r#"
resource "test_thing" "f" {
  count = 30
  name  = "f${count.index}"
}
"#,
    );
    h.cloud.respond_slowly("f7", Duration::from_secs(30));
    let others_saved = async {
        loop {
            let s = h.state();
            if state_addrs(&s).len() == 29 && h.cloud.names().len() == 30 {
                return s;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    let state = tokio::select! {
        _ = h.apply() => panic!("the run should still be waiting for f7"),
        s = others_saved => s,
    };
    assert_eq!(state.pending.len(), 1, "f7's intent was recorded before its call");
    assert_eq!(state.pending[0].address, "test_thing.f[7]");
    let snapshot = std::fs::read(h.path().join("meshform.state.json")).expect("snapshot");
    let snapshot = meshform_state::decode_state(std::path::Path::new("s"), &snapshot).expect("ok");
    assert!(
        state_addrs(&snapshot).len() < 29,
        "the completed creates were journalled, not each written whole: {:?}",
        state_addrs(&snapshot)
    );

    h.cloud.clear_faults();
    let plan = h.plan_default().await;
    assert_eq!(plan.adoptions.len(), 1, "f7 is adopted");
    assert!(plan.changes.iter().all(|c| c.action != Action::Create), "{:?}", summary(&plan));
    h.apply_ok().await;
    assert_eq!(h.cloud.ops_of(OpKind::Create).len(), 30, "nothing was made twice");
    let after = h.state();
    assert_eq!(state_addrs(&after).len(), 30);
    assert!(after.pending.is_empty());
    assert!(!h.plan_default().await.has_changes());
}
