//! Values known only after apply, dependency cycles, and data sources.

use meshform_core::Value;
use meshform_engine::plan::walk::PlanOptions;
use meshform_engine::plan::ChangeReason;
use meshform_engine::Action;

use crate::harness::{change, diag, Harness};

#[tokio::test]
async fn a_count_from_a_computed_id_fails_at_the_count_expression() {
    let h = Harness::new(
        r#"
resource "test_thing" "a" { name = "a" }
resource "test_thing" "b" {
  count = test_thing.a.id == "" ? 0 : 1
  name  = "b"
}
"#,
    );
    let d = h.plan_err(&PlanOptions::default()).await;
    let d = diag(&d, "meshform::plan::unknown_repetition");
    assert!(d.summary.starts_with("test_thing.b: the count value"), "{}", d.summary);
    let span = d.span.as_ref().expect("a span");
    assert_eq!(span.text(), r#"test_thing.a.id == "" ? 0 : 1"#);
    assert_eq!(span.location(), "main.hcl:4:11");
    assert!(d.label.as_deref().is_some_and(|l| l.contains("count")), "{:?}", d.label);
    assert!(h.cloud.names().is_empty());
}

#[tokio::test]
async fn an_attribute_from_a_computed_id_is_unknown_in_the_plan_and_filled_at_apply() {
    let h = Harness::new(
        r#"
resource "test_thing" "a" { name = "a" }
resource "test_thing" "b" {
  name  = "b"
  value = "from-${test_thing.a.id}"
}
"#,
    );
    let plan = h.plan_default().await;
    let b = change(&plan, "test_thing.b");
    assert_eq!(b.action, Action::Create);
    let after = b.after.as_ref().expect("planned value");
    assert!(after.get("value").is_some_and(Value::is_unknown), "{after:?}");
    assert!(after.get("id").is_some_and(Value::is_unknown));
    assert_eq!(after.get("name").and_then(Value::as_str), Some("b"));

    h.apply_ok().await;
    let a_id = h.cloud.id_of("a");
    let want = format!("from-{a_id}");
    assert_eq!(h.cloud.get("b").and_then(|(_, o)| o.value), Some(want.clone()));
    let state = h.state();
    let (_, inst) = state.instance(&"test_thing.b".parse().unwrap()).expect("b in state");
    assert_eq!(inst.value().get("value").and_then(Value::as_str), Some(want.as_str()));
    assert!(!h.plan_default().await.has_changes());
}

#[tokio::test]
async fn a_cycle_is_reported_with_its_path() {
    let h = Harness::new(
        r#"
resource "test_thing" "a" {
  name  = "a"
  value = test_thing.b.id
}
resource "test_thing" "b" {
  name  = "b"
  value = test_thing.a.id
}
"#,
    );
    let d = h.plan_err(&PlanOptions::default()).await;
    let d = diag(&d, "meshform::config::cycle");
    assert_eq!(d.summary, "dependency cycle: test_thing.a -> test_thing.b -> test_thing.a");
    let span = d.span.as_ref().expect("the reference that closes the cycle");
    assert_eq!(span.location(), "main.hcl:4:11");
}

#[tokio::test]
async fn a_data_source_reads_existing_objects_while_planning() {
    let h = Harness::new(
        r#"
data "test_data" "ext" { name = "external" }
resource "test_thing" "a" {
  name  = "a"
  value = data.test_data.ext.value
}
"#,
    );
    h.cloud.insert_outside("external", Some("hello"));
    let plan = h.plan_default().await;
    let a = change(&plan, "test_thing.a");
    assert_eq!(
        a.after.as_ref().and_then(|v| v.get("value")).and_then(Value::as_str),
        Some("hello")
    );
    h.apply_ok().await;
    assert_eq!(h.cloud.get("a").and_then(|(_, o)| o.value).as_deref(), Some("hello"));
}

#[tokio::test]
async fn a_data_source_depending_on_a_new_resource_is_read_at_apply() {
    let h = Harness::new(
        r#"
resource "test_thing" "a" {
  name  = "a"
  value = "payload"
}
data "test_data" "a" {
  name       = "a"
  depends_on = [test_thing.a]
}
resource "test_thing" "copy" {
  name  = "copy"
  value = data.test_data.a.value
}
"#,
    );
    let plan = h.plan_default().await;
    let d = change(&plan, "data.test_data.a");
    assert_eq!(d.action, Action::Read);
    assert_eq!(d.reason, Some(ChangeReason::ReadAfterApply));
    h.apply_ok().await;
    assert_eq!(h.cloud.get("copy").and_then(|(_, o)| o.value).as_deref(), Some("payload"));
    let again = h.plan_default().await;
    assert!(!again.has_changes(), "{:?}", again.changes);
}

#[tokio::test]
async fn an_output_of_a_computed_id_is_saved_after_apply_and_removed_by_destroy() {
    let h = Harness::new(
        r#"
resource "test_thing" "a" { name = "a" }
output "a_id" { value = test_thing.a.id }
"#,
    );
    let plan = h.plan_default().await;
    let o = plan.outputs.iter().find(|o| o.name == "a_id").expect("output planned");
    assert!(o.after.as_ref().is_some_and(Value::is_unknown), "{:?}", o.after);
    h.apply_ok().await;
    let id = h.cloud.id_of("a");
    assert_eq!(h.state().outputs["a_id"].value, serde_json::json!(id));
    h.destroy_ok().await;
    let state = h.state();
    assert!(state.outputs.is_empty() && state.is_empty(), "{state:?}");
}
