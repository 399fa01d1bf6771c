//! Changes made outside meshform (drift), `ignore_changes`, and instances that left the configuration.

use meshform_core::Value;
use meshform_engine::plan::ChangeReason;
use meshform_engine::Action;

use crate::fake::OpKind;
use crate::harness::{action, change, state_addrs, summary, Harness};

const ONE: &str = r#"
resource "test_thing" "a" {
  name  = "a"
  value = "x"
}
"#;

fn value_of(v: &Option<Value>) -> Option<String> {
    v.as_ref().and_then(|v| v.get("value")).and_then(Value::as_str).map(str::to_owned)
}

#[tokio::test]
async fn an_object_changed_outside_is_shown_as_drift_and_updated_back() {
    let h = Harness::new(ONE);
    h.apply_ok().await;
    h.cloud.set_value_outside("a", Some("changed"));

    let plan = h.plan_default().await;
    assert_eq!(plan.drift.len(), 1);
    let d = &plan.drift[0];
    assert_eq!(d.addr.to_string(), "test_thing.a");
    assert_eq!(value_of(&Some(d.before.clone())).as_deref(), Some("x"));
    assert_eq!(value_of(&d.after).as_deref(), Some("changed"));
    let c = change(&plan, "test_thing.a");
    assert_eq!(c.action, Action::Update);
    assert_eq!(value_of(&c.before).as_deref(), Some("changed"));
    assert_eq!(value_of(&c.after).as_deref(), Some("x"));

    h.apply_ok().await;
    assert_eq!(h.cloud.get("a").and_then(|(_, o)| o.value).as_deref(), Some("x"));
    assert_eq!(h.cloud.ops_of(OpKind::Update).len(), 1);
    let again = h.plan_default().await;
    assert!(again.drift.is_empty() && !again.has_changes(), "{:?}", summary(&again));
}

#[tokio::test]
async fn an_object_deleted_outside_is_shown_as_drift_and_created_again() {
    let h = Harness::new(ONE);
    h.apply_ok().await;
    let old = h.cloud.id_of("a");
    h.cloud.delete_outside("a");

    let plan = h.plan_default().await;
    assert_eq!(plan.drift.len(), 1);
    assert_eq!(plan.drift[0].addr.to_string(), "test_thing.a");
    assert!(plan.drift[0].after.is_none(), "drift shows the deletion");
    assert_eq!(action(&plan, "test_thing.a"), Some(Action::Create));

    h.apply_ok().await;
    assert_eq!(h.cloud.names(), ["a"]);
    assert_ne!(h.cloud.id_of("a"), old);
    assert!(h.cloud.ops_of(OpKind::Delete).is_empty(), "nothing to delete: it was already gone");
    assert!(!h.plan_default().await.has_changes());
}

#[tokio::test]
async fn ignore_changes_keeps_a_drifted_attribute() {
    let config = |value: &str| {
        format!(
            r#"
resource "test_thing" "a" {{
  name  = "a"
  value = "{value}"
  lifecycle {{
    ignore_changes = [value]
  }}
}}
"#
        )
    };
    let h = Harness::new(&config("x"));
    h.apply_ok().await;
    h.cloud.set_value_outside("a", Some("changed"));

    let plan = h.plan_default().await;
    assert_eq!(plan.drift.len(), 1, "the drift is still reported");
    assert_eq!(action(&plan, "test_thing.a"), Some(Action::NoOp));

    // A configuration change of an ignored attribute is ignored too.
    h.set_config(&config("y"));
    let plan = h.plan_default().await;
    assert_eq!(action(&plan, "test_thing.a"), Some(Action::NoOp));
    h.apply_ok().await;
    assert!(h.cloud.ops_of(OpKind::Update).is_empty());
    assert_eq!(h.cloud.get("a").and_then(|(_, o)| o.value).as_deref(), Some("changed"));
}

#[tokio::test]
async fn orphaned_instances_are_destroyed_with_the_reason() {
    let h = Harness::new(
        r#"
resource "test_thing" "keep" { name = "keep" }
resource "test_thing" "gone" { name = "gone" }
resource "test_thing" "n" {
  count = 3
  name  = "n-${count.index}"
}
resource "test_thing" "m" {
  for_each = {
    a = "1"
    b = "2"
  }
  name  = "m-${each.key}"
  value = each.value
}
"#,
    );
    h.apply_ok().await;
    assert_eq!(h.cloud.names(), ["gone", "keep", "m-a", "m-b", "n-0", "n-1", "n-2"]);
    h.set_config(
        r#"
resource "test_thing" "keep" { name = "keep" }
resource "test_thing" "n" {
  count = 2
  name  = "n-${count.index}"
}
resource "test_thing" "m" {
  for_each = {
    a = "1"
  }
  name  = "m-${each.key}"
  value = each.value
}
"#,
    );
    let plan = h.plan_default().await;
    let deletes: Vec<(String, Option<ChangeReason>)> = plan
        .changes
        .iter()
        .filter(|c| c.action == Action::Delete)
        .map(|c| (c.addr.to_string(), c.reason.clone()))
        .collect();
    assert_eq!(
        deletes,
        [
            ("test_thing.gone".to_owned(), Some(ChangeReason::NotInConfig)),
            ("test_thing.m[\"b\"]".to_owned(), Some(ChangeReason::EachKeyGone)),
            ("test_thing.n[2]".to_owned(), Some(ChangeReason::CountIndexGone)),
        ]
    );
    assert_eq!(plan.summary(), (0, 0, 3));

    h.apply_ok().await;
    assert_eq!(h.cloud.names(), ["keep", "m-a", "n-0", "n-1"]);
    assert_eq!(
        state_addrs(&h.state()),
        ["test_thing.keep", "test_thing.m[\"a\"]", "test_thing.n[0]", "test_thing.n[1]"]
    );
    assert!(!h.plan_default().await.has_changes());
}
