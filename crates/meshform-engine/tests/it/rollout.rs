//! Staged rollouts: batches in `order`, same-key dependents in their key's batch, checks after each
//! batch, a failed check stopping the later batches, cancellation between batches, and the
//! configuration errors a rollout can have.

use std::time::Duration;

use meshform_core::InstanceKey;
use meshform_engine::apply::ApplyOptions;
use meshform_engine::plan::walk::PlanOptions;
use meshform_engine::{ops, Action};
use tokio::sync::watch;

use crate::fake::OpKind;
use crate::harness::{action, diag, pattern, Harness};

/// Three "meshes" updated together when `v` changes; an app per key reading its own mesh; a check
/// reading the `health` object, which the tests set to anything but "ok" to make it fail.
fn config(v: &str) -> String {
    format!(
        r#"
variable "v" {{
  default = "{v}"
}}
locals {{
  keys = toset(["c1", "c2", "c3"])
}}
resource "test_thing" "m" {{
  for_each = local.keys
  name     = "m-${{each.key}}"
  value    = var.v
  lifecycle {{
    rollout {{
      batch_size = 1
      order      = ["c2"]
      checks     = [check.healthy]
    }}
  }}
}}
resource "test_thing" "app" {{
  for_each = local.keys
  name     = "app-${{each.key}}"
  value    = "${{test_thing.m[each.key].value}}-app"
}}
check "healthy" {{
  data "test_data" "health" {{
    name = "health"
  }}
  assert {{
    condition     = data.test_data.health.value == "ok"
    error_message = "health is ${{data.test_data.health.value}}"
  }}
}}
"#
    )
}

fn key(s: &str) -> InstanceKey {
    InstanceKey::Str(s.to_owned())
}

async fn deployed() -> Harness {
    let h = Harness::new(&config("1"));
    h.cloud.insert_outside("health", Some("ok"));
    let first = h.apply_ok().await;
    assert!(first.rollouts.is_empty(), "creates are not batched: {:?}", first.rollouts);
    h.set_config(&config("2"));
    h.cloud.clear_log();
    h
}

fn value_of(h: &Harness, name: &str) -> Option<String> {
    h.cloud.get(name).and_then(|(_, o)| o.value)
}

#[tokio::test]
async fn batches_follow_order_and_keys_and_carry_their_same_key_dependents() {
    let h = deployed().await;
    let plan = h.plan_default().await;
    assert_eq!(plan.rollouts.len(), 1);
    let r = &plan.rollouts[0];
    assert_eq!(r.resource.to_string(), "test_thing.m");
    assert_eq!(r.summary(), "3 batches (c2, then c1, then c3), gated by check.healthy");
    let batches: Vec<Vec<String>> =
        r.batches.iter().map(|b| b.instances.iter().map(ToString::to_string).collect()).collect();
    assert_eq!(
        batches,
        [
            ["test_thing.app[\"c2\"]", "test_thing.m[\"c2\"]"],
            ["test_thing.app[\"c1\"]", "test_thing.m[\"c1\"]"],
            ["test_thing.app[\"c3\"]", "test_thing.m[\"c3\"]"],
        ]
    );
    assert_eq!(r.batches[0].keys, [key("c2")]);
    // Planning again gives the same rollout.
    assert_eq!(h.plan_default().await.rollouts, plan.rollouts);

    h.apply_ok().await;
    let op = |name: &str| h.cloud.op(OpKind::Update, name);
    // Each batch, app included, finishes before the next batch's mesh starts.
    assert!(op("m-c2").end() < op("app-c2").start);
    assert!(op("app-c2").end() < op("m-c1").start, "{:?}", h.cloud.ops());
    assert!(op("app-c1").end() < op("m-c3").start, "{:?}", h.cloud.ops());
    for k in ["c1", "c2", "c3"] {
        assert_eq!(value_of(&h, &format!("m-{k}")).as_deref(), Some("2"));
        assert_eq!(value_of(&h, &format!("app-{k}")).as_deref(), Some("2-app"));
    }
    let again = h.plan_default().await;
    assert!(!again.has_changes() && again.rollouts.is_empty());
}

#[tokio::test]
async fn a_failed_check_stops_the_later_batches_and_the_next_plan_shows_what_is_left() {
    let h = deployed().await;
    h.cloud.set_value_outside("health", Some("degraded"));
    let a = h.apply().await;
    let d = diag(&a.outcome.diags, "meshform::apply::rollout_check_failed");
    let msg = d.to_string();
    assert!(
        msg.contains("rollout of test_thing.m stopped after batch 1 of 3 (c2)")
            && msg.contains("check.healthy failed: health is degraded"),
        "{msg}"
    );
    assert!(help(d).contains("the later batches (c1, then c3) were not changed"), "{}", help(d));
    assert_eq!(value_of(&h, "m-c2").as_deref(), Some("2"));
    assert_eq!(value_of(&h, "app-c2").as_deref(), Some("2-app"));
    for k in ["c1", "c3"] {
        assert_eq!(value_of(&h, &format!("m-{k}")).as_deref(), Some("1"), "m-{k} was not touched");
        assert_eq!(value_of(&h, &format!("app-{k}")).as_deref(), Some("1-app"));
    }
    assert_eq!(
        a.outcome.skipped,
        [
            "test_thing.app[\"c1\"]",
            "test_thing.app[\"c3\"]",
            "test_thing.m[\"c1\"]",
            "test_thing.m[\"c3\"]"
        ]
    );

    let plan = h.plan_default().await;
    let changing: Vec<String> = plan.actionable().map(|c| c.addr.to_string()).collect();
    assert_eq!(
        changing,
        [
            "test_thing.app[\"c1\"]",
            "test_thing.app[\"c3\"]",
            "test_thing.m[\"c1\"]",
            "test_thing.m[\"c3\"]"
        ]
    );
    assert_eq!(plan.rollouts[0].summary(), "2 batches (c1, then c3), gated by check.healthy");

    h.cloud.set_value_outside("health", Some("ok"));
    h.apply_ok().await;
    assert_eq!(value_of(&h, "m-c3").as_deref(), Some("2"));
}

#[tokio::test]
async fn a_cancel_during_a_batch_finishes_it_and_starts_no_other() {
    let h = deployed().await;
    h.cloud.delay("m-c2", Duration::from_millis(200));
    let (tx, rx) = watch::channel(false);
    let (plan_opts, apply_opts) = (PlanOptions::default(), ApplyOptions::default());
    let run = h.apply_with(&plan_opts, &apply_opts, rx);
    let cancel = async {
        h.cloud.wait_in_flight(1).await;
        tx.send(true).expect("send cancel");
    };
    let (a, ()) = tokio::join!(run, cancel);
    assert!(a.outcome.interrupted);
    assert_eq!(value_of(&h, "m-c2").as_deref(), Some("2"), "the batch in flight finished");
    for name in ["m-c1", "m-c3"] {
        assert_eq!(value_of(&h, name).as_deref(), Some("1"), "{name} was not started");
    }
    let plan = h.plan_default().await;
    assert_eq!(action(&plan, "test_thing.m[\"c2\"]"), Some(Action::NoOp));
    assert_eq!(action(&plan, "test_thing.m[\"c1\"]"), Some(Action::Update));
}

#[tokio::test]
async fn one_changing_instance_is_not_a_rollout() {
    let h = deployed().await;
    h.set_config(
        &config("1").replace("value    = var.v", "value    = each.key == \"c3\" ? \"9\" : var.v"),
    );
    let plan = h.plan_default().await;
    assert_eq!(action(&plan, "test_thing.m[\"c3\"]"), Some(Action::Update));
    assert!(plan.rollouts.is_empty());
}

#[tokio::test]
async fn rollout_mistakes_are_reported_where_they_are_written() {
    let bad = config("1")
        .replace("order      = [\"c2\"]", "order      = [\"c9\"]")
        .replace("checks     = [check.healthy]", "checks     = [check.helthy]");
    let h = Harness::new(&bad);
    let d = ops::validate(&h.ws);
    let unknown_check = diag(&d, "meshform::config::unknown_check");
    assert!(unknown_check.to_string().contains("names check.helthy, which is not declared"));
    assert_eq!(help(unknown_check), "did you mean check.healthy?");
    assert_eq!(span_text(unknown_check), "check.helthy");
    let h = Harness::new(&config("1").replace("order      = [\"c2\"]", "order      = [\"c9\"]"));
    let d = ops::validate(&h.ws);
    let k = diag(&d, "meshform::config::rollout_unknown_key");
    assert!(k
        .to_string()
        .contains("rollout order names \"c9\", which is not an instance of test_thing.m"));
    assert_eq!(help(k), "the instances of test_thing.m are \"c1\", \"c2\", \"c3\"");
    assert_eq!(span_text(k), "\"c9\"");
    // Planning says the same (there the keys are always known).
    let d = h.plan_err(&PlanOptions::default()).await;
    assert_eq!(span_text(diag(&d, "meshform::config::rollout_unknown_key")), "\"c9\"");

    let h = Harness::new(&config("1").replace("batch_size = 1", "batch_size = 0"));
    let d = ops::validate(&h.ws);
    let b = diag(&d, "meshform::config::invalid_rollout");
    assert!(b.to_string().contains("batch_size must be at least 1"));
    assert_eq!(span_text(b), "0");

    let single = r#"
resource "test_thing" "one" {
  name = "one"
  lifecycle {
    rollout {
      batch_size = 1
    }
  }
}
"#;
    let h = Harness::new(single);
    let d = ops::validate(&h.ws);
    let s = diag(&d, "meshform::config::rollout_without_instances");
    assert!(s.to_string().contains("test_thing.one has a rollout but only one instance"));
    assert_eq!(span_text(s), "rollout");
}

fn help(d: &meshform_core::Diagnostic) -> &str {
    d.help.as_deref().unwrap_or("")
}

fn span_text(d: &meshform_core::Diagnostic) -> String {
    let span = d.span.as_ref().expect("the diagnostic has a span");
    span.file.text[span.range.clone()].to_owned()
}

#[tokio::test]
async fn replacements_are_batched_too_each_deleted_and_recreated_before_the_next_batch() {
    let h = deployed().await;
    // `name` cannot change in place: every mesh is replaced (delete, then create).
    h.set_config(
        &config("1").replace("name     = \"m-${each.key}\"", "name     = \"n-${each.key}\""),
    );
    let plan = h.plan_default().await;
    assert_eq!(action(&plan, "test_thing.m[\"c1\"]"), Some(Action::DeleteThenCreate));
    assert_eq!(
        plan.rollouts[0].summary(),
        "3 batches (c2, then c1, then c3), gated by check.healthy"
    );
    h.apply_ok().await;
    let (del, create) =
        (|n: &str| h.cloud.op(OpKind::Delete, n), |n: &str| h.cloud.op(OpKind::Create, n));
    assert!(create("n-c2").end() < del("m-c1").start, "{:?}", h.cloud.ops());
    assert!(create("n-c1").end() < del("m-c3").start, "{:?}", h.cloud.ops());
    assert_eq!(h.cloud.names(), ["app-c1", "app-c2", "app-c3", "health", "n-c1", "n-c2", "n-c3"]);
}

#[tokio::test]
async fn a_dependent_reading_every_instance_waits_for_every_batch() {
    let extra = r#"
resource "test_thing" "summary" {
  for_each = local.keys
  name     = "sum-${each.key}"
  value    = join(",", [for m in test_thing.m : m.value])
}
"#;
    let h = Harness::new(&(config("1") + extra));
    h.cloud.insert_outside("health", Some("ok"));
    h.apply_ok().await;
    h.set_config(&(config("2") + extra));
    h.cloud.clear_log();
    let plan = h.plan_default().await;
    let batched: Vec<String> = plan.rollouts[0]
        .batches
        .iter()
        .flat_map(|b| &b.instances)
        .map(ToString::to_string)
        .collect();
    assert!(!batched.iter().any(|a| a.starts_with("test_thing.summary")), "{batched:?}");
    assert_eq!(batched.len(), 6, "meshes and apps: {batched:?}");
    h.apply_ok().await;
    let last_mesh = h.cloud.op(OpKind::Update, "m-c3").end();
    for k in ["c1", "c2", "c3"] {
        assert!(h.cloud.op(OpKind::Update, &format!("sum-{k}")).start > last_mesh);
        assert_eq!(value_of(&h, &format!("sum-{k}")).as_deref(), Some("2,2,2"));
    }
}

#[tokio::test]
async fn a_targeted_plan_does_not_take_the_keys_it_leaves_out_for_mistakes() {
    let h = deployed().await;
    let opts =
        PlanOptions { targets: vec![pattern("test_thing.m[\"c1\"]")], ..PlanOptions::default() };
    // `order` names c2, which this run does not plan.
    let plan = h.plan_ok(&opts).await;
    assert_eq!(action(&plan, "test_thing.m[\"c1\"]"), Some(Action::Update));
    assert!(plan.rollouts.is_empty(), "one instance changes: {:?}", plan.rollouts);
}
