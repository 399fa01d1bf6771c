//! Replacement (force_new, create_before_destroy, prevent_destroy) and `--target` / `--exclude` /
//! `--replace`.

use meshform_core::PathStep;
use meshform_engine::plan::walk::PlanOptions;
use meshform_engine::plan::ChangeReason;
use meshform_engine::{Action, PlanMode};

use crate::fake::OpKind;
use crate::harness::{action, assert_success, change, diag, pattern, summary, Harness};

fn thing(name: &str, lifecycle: &str) -> String {
    format!(
        r#"
resource "test_thing" "a" {{
  name = "{name}"
{lifecycle}
}}
resource "test_thing" "b" {{
  name  = "b"
  value = test_thing.a.id
}}
"#
    )
}

const CBD: &str = "  lifecycle {\n    create_before_destroy = true\n  }";

#[tokio::test]
async fn changing_a_force_new_attribute_deletes_then_creates() {
    let h = Harness::new(&thing("a1", ""));
    h.apply_ok().await;
    let old = h.cloud.id_of("a1");
    h.cloud.clear_log();
    h.set_config(&thing("a2", ""));

    let plan = h.plan_default().await;
    let c = change(&plan, "test_thing.a");
    assert_eq!(c.action, Action::DeleteThenCreate);
    assert_eq!(c.replace_paths, [vec![PathStep::Key("name".into())]]);
    assert_eq!(c.reason, Some(ChangeReason::CannotUpdate));
    assert_eq!(action(&plan, "test_thing.b"), Some(Action::Update), "b refers to a's new id");

    h.apply_ok().await;
    let delete = h.cloud.op(OpKind::Delete, "a1");
    let create = h.cloud.op(OpKind::Create, "a2");
    assert!(delete.end() < create.start, "the old object goes first");
    assert_eq!(delete.id, old);
    assert_eq!(h.cloud.names(), ["a2", "b"]);
    let new = h.cloud.id_of("a2");
    assert_eq!(h.cloud.get("b").and_then(|(_, o)| o.value), Some(new), "b follows the new a");
    assert!(!h.plan_default().await.has_changes());
}

#[tokio::test]
async fn create_before_destroy_creates_the_new_object_first() {
    let h = Harness::new(&thing("a1", CBD));
    h.apply_ok().await;
    h.cloud.clear_log();
    h.set_config(&thing("a2", CBD));

    let plan = h.plan_default().await;
    let c = change(&plan, "test_thing.a");
    assert_eq!(c.action, Action::CreateThenDelete);
    assert_eq!(c.replace_paths, [vec![PathStep::Key("name".into())]]);

    h.apply_ok().await;
    let create = h.cloud.op(OpKind::Create, "a2");
    let delete = h.cloud.op(OpKind::Delete, "a1");
    assert!(create.end() < delete.start, "the new object exists before the old one is deleted");
    let update_b = h.cloud.op(OpKind::Update, "b");
    assert!(update_b.end() < delete.start, "b moves to the new a before the old a goes");
    assert_eq!(h.cloud.names(), ["a2", "b"]);
    let state = h.state();
    let (_, inst) = state.instance(&"test_thing.a".parse().unwrap()).expect("a in state");
    assert_eq!(inst.value().get("name").and_then(|v| v.as_str()), Some("a2"));
    assert!(!h.plan_default().await.has_changes());
}

/// The old object is deleted only after its replacement exists: when the create fails, the old
/// object stays in service at its address and the next run retries the same replacement.
#[tokio::test]
async fn a_failed_create_before_destroy_keeps_the_old_object() {
    let h = Harness::new(&thing("a1", CBD));
    h.apply_ok().await;
    let old = h.cloud.id_of("a1");
    h.set_config(&thing("a2", CBD));
    h.cloud.fail(OpKind::Create, "a2");
    let a = h.apply().await;
    assert!(a.outcome.diags.has_errors());
    assert_eq!(h.cloud.names(), ["a1", "b"]);
    let state = h.state();
    let (_, inst) = state.instance(&"test_thing.a".parse().unwrap()).expect("a is still in state");
    assert_eq!(inst.value().get("id").and_then(|v| v.as_str()), Some(old.as_str()));
    assert!(state.deposed.is_empty(), "{:?}", state.deposed);

    h.cloud.clear_faults();
    h.cloud.clear_log();
    let plan = h.plan_default().await;
    assert_eq!(change(&plan, "test_thing.a").action, Action::CreateThenDelete);
    h.apply_ok().await;
    let create = h.cloud.op(OpKind::Create, "a2");
    let delete = h.cloud.op(OpKind::Delete, "a1");
    assert!(create.end() < delete.start, "the old object outlives the creation of the new one");
    assert_eq!(h.cloud.names(), ["a2", "b"]);
}

/// A run that created the replacement but could not delete the old object leaves it deposed; the next
/// plan destroys it.
#[tokio::test]
async fn a_deposed_object_is_destroyed_by_the_next_run() {
    let h = Harness::new(&thing("a1", CBD));
    h.apply_ok().await;
    h.set_config(&thing("a2", CBD));
    h.cloud.fail(OpKind::Delete, "a1");
    let a = h.apply().await;
    assert!(a
        .outcome
        .diags
        .iter()
        .any(|d| d.to_string().starts_with("test_thing.a: delete failed")));
    assert_eq!(h.cloud.names(), ["a1", "a2", "b"]);
    assert_eq!(h.state().deposed.len(), 1);

    h.cloud.clear_faults();
    let plan = h.plan_default().await;
    let deposed: Vec<_> = plan.changes.iter().filter(|c| c.deposed).collect();
    assert_eq!(deposed.len(), 1);
    assert_eq!(deposed[0].action, Action::Delete);
    assert_eq!(deposed[0].reason, Some(ChangeReason::Deposed));
    h.apply_ok().await;
    assert_eq!(h.cloud.names(), ["a2", "b"]);
    assert!(h.state().deposed.is_empty());
    assert!(!h.plan_default().await.has_changes());
}

#[tokio::test]
async fn prevent_destroy_fails_the_plan_at_the_lifecycle_attribute() {
    let lifecycle = "  lifecycle {\n    prevent_destroy = true\n  }";
    let h = Harness::new(&thing("a1", lifecycle));
    h.apply_ok().await;
    h.set_config(&thing("a2", lifecycle));

    let d = h.plan_err(&PlanOptions::default()).await;
    let d = diag(&d, "meshform::plan::prevent_destroy");
    assert!(d.summary.starts_with("test_thing.a: "), "{}", d.summary);
    let span = d.span.as_ref().expect("a span");
    assert_eq!(span.text(), "prevent_destroy");
    assert_eq!(span.location(), "main.hcl:5:5");

    // Destroying it is refused the same way; nothing was touched.
    h.set_config(&thing("a1", lifecycle));
    let d = h.plan_err(&PlanOptions { mode: PlanMode::Destroy, ..PlanOptions::default() }).await;
    assert_eq!(
        diag(&d, "meshform::plan::prevent_destroy").span.as_ref().map(|s| s.text()),
        Some("prevent_destroy")
    );
    assert!(h.cloud.ops_of(OpKind::Delete).is_empty());
    assert_eq!(h.cloud.names(), ["a1", "b"]);
}

/// `a` ← `b` (by reference) ← `d` (by `depends_on`); `c` is independent.
const CHAIN: &str = r#"
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
"#;

fn targets(list: &[&str]) -> PlanOptions {
    PlanOptions { targets: list.iter().map(|s| pattern(s)).collect(), ..PlanOptions::default() }
}

#[tokio::test]
async fn target_limits_the_plan_to_the_resource_and_everything_it_depends_on() {
    let h = Harness::new(CHAIN);
    let a = h.apply_opts(&targets(&["test_thing.d"])).await;
    assert_success(&a.outcome);
    assert_eq!(
        summary(&a.plan),
        [
            ("test_thing.a".to_owned(), Action::Create),
            ("test_thing.b".to_owned(), Action::Create),
            ("test_thing.d".to_owned(), Action::Create),
        ]
    );
    assert_eq!(h.cloud.names(), ["a", "b", "d"]);
    let plan = h.plan_default().await;
    assert_eq!(action(&plan, "test_thing.c"), Some(Action::Create));
    assert_eq!(plan.summary(), (1, 0, 0));
}

#[tokio::test]
async fn exclude_leaves_out_the_resource_and_everything_that_depends_on_it() {
    let h = Harness::new(CHAIN);
    let opts = PlanOptions { excludes: vec![pattern("test_thing.a")], ..PlanOptions::default() };
    let a = h.apply_opts(&opts).await;
    assert_success(&a.outcome);
    assert_eq!(summary(&a.plan), [("test_thing.c".to_owned(), Action::Create)]);
    assert_eq!(h.cloud.names(), ["c"]);
}

/// Destroying a target destroys what depends on it (which could not work without it), not what it
/// depends on.
#[tokio::test]
async fn destroy_with_a_target_destroys_its_dependents_not_its_dependencies() {
    let h = Harness::new(CHAIN);
    h.apply_ok().await;
    let destroy = |t: &str| PlanOptions { mode: PlanMode::Destroy, ..targets(&[t]) };

    let a = h.apply_opts(&destroy("test_thing.b")).await;
    assert_success(&a.outcome);
    assert_eq!(
        summary(&a.plan),
        [("test_thing.b".to_owned(), Action::Delete), ("test_thing.d".to_owned(), Action::Delete)]
    );
    assert_eq!(h.cloud.names(), ["a", "c"]);

    h.apply_ok().await;
    let a = h.apply_opts(&destroy("test_thing.a")).await;
    assert_success(&a.outcome);
    assert_eq!(a.plan.summary(), (0, 0, 3));
    assert_eq!(h.cloud.names(), ["c"]);
}

#[tokio::test]
async fn replace_forces_the_replacement_of_the_named_instance_only() {
    let h = Harness::new(
        r#"
resource "test_thing" "n" {
  count = 3
  name  = "n-${count.index}"
}
"#,
    );
    h.apply_ok().await;
    let ids: Vec<String> = (0..3).map(|i| h.cloud.id_of(&format!("n-{i}"))).collect();
    let opts = PlanOptions { replace: vec![pattern("test_thing.n[1]")], ..PlanOptions::default() };
    let a = h.apply_opts(&opts).await;
    assert_eq!(
        a.plan
            .changes
            .iter()
            .map(|c| (c.addr.to_string(), c.action, c.reason.clone()))
            .collect::<Vec<_>>(),
        [
            ("test_thing.n[0]".to_owned(), Action::NoOp, None),
            (
                "test_thing.n[1]".to_owned(),
                Action::DeleteThenCreate,
                Some(ChangeReason::ReplaceRequested)
            ),
            ("test_thing.n[2]".to_owned(), Action::NoOp, None),
        ]
    );
    assert_eq!(h.cloud.id_of("n-0"), ids[0]);
    assert_ne!(h.cloud.id_of("n-1"), ids[1]);
    assert_eq!(h.cloud.id_of("n-2"), ids[2]);
}

/// `--target test_thing.n[1]` names one instance: only that one is planned.
#[tokio::test]
async fn target_of_one_instance_plans_only_that_instance() {
    let h = Harness::new(
        r#"
resource "test_thing" "n" {
  count = 3
  name  = "n-${count.index}"
}
"#,
    );
    let a = h.apply_opts(&targets(&["test_thing.n[1]"])).await;
    assert_success(&a.outcome);
    assert_eq!(summary(&a.plan), [("test_thing.n[1]".to_owned(), Action::Create)]);
    assert_eq!(h.cloud.names(), ["n-1"]);
}

#[tokio::test]
async fn an_unknown_target_is_an_error() {
    let h = Harness::new(CHAIN);
    let d = h.plan_err(&targets(&["test_thing.zzz"])).await;
    assert!(diag(&d, "meshform::cli::unknown_target").summary.contains("test_thing.zzz"));
}
