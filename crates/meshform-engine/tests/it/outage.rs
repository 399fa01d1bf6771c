//! Planning through an outage: refresh failures belong to instances; what reads an unreachable
//! instance waits, what is only ordered after it does not, unless it has a change to wait for.

use meshform_engine::Action;

use crate::harness::{action, Harness};

/// Two meshes, each with a member hanging off it, and an app that only waits for the members.
const TOPOLOGY: &str = r#"
locals {
  clusters = { one = "a", two = "b" }
}
resource "test_thing" "mesh" {
  for_each = local.clusters
  name     = "mesh-${each.key}"
  value    = each.value
}
resource "test_thing" "member" {
  for_each = local.clusters
  name     = "member-${each.key}"
  value    = test_thing.mesh[each.key].id
}
resource "test_thing" "app" {
  name       = "app"
  value      = "v1"
  depends_on = [test_thing.member]
}
"#;

#[tokio::test]
async fn one_unreachable_instance_holds_back_only_what_reads_it() {
    let h = Harness::new(TOPOLOGY);
    h.apply_ok().await;
    // mesh-one's control plane goes away; the app is changed in the healthy cluster.
    h.cloud.fail_read("mesh-one");
    h.cloud.fail_read("member-one");
    h.set_config(&TOPOLOGY.replace(r#"value      = "v1""#, r#"value      = "v2""#));
    let plan = h.plan_default().await;
    assert!(!plan.complete());
    let failed: Vec<&str> = plan.failures.iter().map(|f| f.address.as_str()).collect();
    assert_eq!(failed, ["test_thing.mesh[\"one\"]"], "{:?}", plan.failures);
    assert_eq!(
        plan.skipped,
        ["test_thing.member[\"one\"] (reads test_thing.mesh[\"one\"], which could not be planned)"]
    );
    // The healthy side is planned: its sibling, its member, and the app ordered after both members.
    assert_eq!(action(&plan, "test_thing.mesh[\"two\"]"), Some(Action::NoOp));
    assert_eq!(action(&plan, "test_thing.member[\"two\"]"), Some(Action::NoOp));
    assert_eq!(action(&plan, "test_thing.app"), Some(Action::Update));
    assert_eq!(action(&plan, "test_thing.mesh[\"one\"]"), None);
    assert_eq!(action(&plan, "test_thing.member[\"one\"]"), None);
}

#[tokio::test]
async fn what_is_ordered_after_an_unreachable_change_waits_for_it() {
    let h = Harness::new(TOPOLOGY);
    h.apply_ok().await;
    h.cloud.fail_read("member-one");
    // member-one's configuration changes while it cannot be reached: the app must wait for it.
    let changed = TOPOLOGY
        .replace(
            r#"  value    = test_thing.mesh[each.key].id"#,
            r#"  value    = "${test_thing.mesh[each.key].id}-v2""#,
        )
        .replace(r#"value      = "v1""#, r#"value      = "v2""#);
    h.set_config(&changed);
    let plan = h.plan_default().await;
    assert_eq!(plan.failures.len(), 1, "{:?}", plan.failures);
    assert_eq!(plan.failures[0].address, "test_thing.member[\"one\"]");
    assert_eq!(action(&plan, "test_thing.member[\"two\"]"), Some(Action::Update));
    assert_eq!(action(&plan, "test_thing.app"), None);
    assert_eq!(
        plan.skipped,
        ["test_thing.app (is ordered after test_thing.member[\"one\"], whose change could not be planned)"]
    );
}

#[tokio::test]
async fn reading_through_a_local_is_reading() {
    let h = Harness::new(
        r#"
resource "test_thing" "mesh" {
  for_each = { one = "a", two = "b" }
  name     = "mesh-${each.key}"
}
locals {
  ids = [for m in test_thing.mesh : m.id]
}
resource "test_thing" "report" {
  name  = "report"
  value = join(",", local.ids)
}
resource "test_thing" "other" {
  name  = "other"
  value = "x"
}
"#,
    );
    h.apply_ok().await;
    h.cloud.fail_read("mesh-two");
    let plan = h.plan_default().await;
    assert_eq!(plan.skipped.len(), 1, "{:?}", plan.skipped);
    assert!(plan.skipped[0].starts_with("test_thing.report (reads "), "{:?}", plan.skipped);
    assert_eq!(action(&plan, "test_thing.other"), Some(Action::NoOp));
    assert_eq!(action(&plan, "test_thing.mesh[\"one\"]"), Some(Action::NoOp));
}

/// A provider configured from what the same apply creates (a mesh's own API, reached through the
/// mesh's kubeconfig) plans its objects as creations and is configured during apply.
#[tokio::test]
async fn a_provider_known_only_after_apply_is_configured_during_apply() {
    let h = Harness::new(
        r#"
resource "test_thing" "mesh" { name = "mesh" }
provider "test" {
  alias    = "inner"
  endpoint = test_thing.mesh.id
}
resource "test_thing" "rule" {
  provider = test.inner
  name     = "rule"
  value    = "outlier-detection"
}
"#,
    );
    let plan = h.plan_default().await;
    assert!(plan.complete(), "{:?} {:?}", plan.failures, plan.skipped);
    assert_eq!(action(&plan, "test_thing.mesh"), Some(Action::Create));
    assert_eq!(action(&plan, "test_thing.rule"), Some(Action::Create));
    assert!(h.cloud.lock().endpoints.is_empty(), "not configured while planning");
    h.apply_ok().await;
    let (mesh_id, _) = h.cloud.get("mesh").expect("the mesh exists");
    assert!(h.cloud.get("rule").is_some(), "created through the provider configured during apply");
    assert_eq!(h.cloud.lock().endpoints, [mesh_id]);
    // Known now: the next plan configures it while planning and refreshes its objects.
    let plan = h.plan_default().await;
    assert!(plan.complete());
    assert_eq!(action(&plan, "test_thing.rule"), Some(Action::NoOp));
    assert!(h.cloud.lock().reads.iter().any(|r| r == "rule"), "refreshed normally");
}

/// A check whose data source cannot reach what it reads is unreachable, not failed; the others run.
#[tokio::test]
async fn verify_reports_a_check_it_cannot_reach_as_unreachable() {
    let probe = |check: &str, name: &str| {
        format!(
            r#"
check "{check}" {{
  data "test_data" "probe" {{ name = "{name}" }}
  assert {{
    condition     = data.test_data.probe.id != ""
    error_message = "{name} has no id"
  }}
}}
"#
        )
    };
    let mut config = String::from(
        "resource \"test_thing\" \"east\" { name = \"east\" }\nresource \"test_thing\" \"west\" { name = \"west\" }\n",
    );
    config.push_str(&probe("east_up", "east"));
    config.push_str(&probe("west_up", "west"));
    config.push_str(&probe("ghost_up", "ghost"));
    let h = Harness::new(&config);
    h.apply_ok().await;
    h.cloud.fail_read("east");
    let verify = |names: Vec<String>| {
        let parsed = meshform_engine::ops::parse(h.path());
        let ws = &h.ws;
        async move {
            meshform_engine::verify::verify(
                ws,
                parsed,
                &Default::default(),
                &names,
                &meshform_engine::SilentReporter,
            )
            .await
            .expect("verify runs")
        }
    };
    let report = verify(Vec::new()).await;
    let by_name = |n: &str| report.checks.iter().find(|c| c.name == n).expect("check").clone();
    let east = by_name("east_up");
    assert!(!east.passed && east.unreachable, "{east:?}");
    assert!(east.failures[0].contains("the region of east is down"), "{:?}", east.failures);
    assert!(by_name("west_up").passed);
    // A check that really fails (what it reads does not exist) is not excused as unreachable.
    let ghost = by_name("ghost_up");
    assert!(!ghost.passed && !ghost.unreachable, "{ghost:?}");
    assert!(!report.passed() && !report.passed_where_reachable());
    let report = verify(vec!["east_up".into(), "west_up".into()]).await;
    assert!(!report.passed(), "an unreachable check is not a pass");
    assert!(report.passed_where_reachable());
}

/// `depends_on` may name one instance: only that instance's change is waited for.
#[tokio::test]
async fn depends_on_one_instance_waits_only_for_that_instance() {
    let h = Harness::new(TOPOLOGY);
    h.apply_ok().await;
    h.cloud.fail_read("member-one");
    let changed = TOPOLOGY
        .replace(
            r#"  value    = test_thing.mesh[each.key].id"#,
            r#"  value    = "${test_thing.mesh[each.key].id}-v2""#,
        )
        .replace(r#"value      = "v1""#, r#"value      = "v2""#)
        .replace("depends_on = [test_thing.member]", r#"depends_on = [test_thing.member["two"]]"#);
    h.set_config(&changed);
    let plan = h.plan_default().await;
    assert_eq!(plan.failures.len(), 1, "{:?}", plan.failures);
    assert!(plan.skipped.is_empty(), "{:?}", plan.skipped);
    assert_eq!(action(&plan, "test_thing.app"), Some(Action::Update));

    // An index must be a literal key: an expression is refused, saying how to write it.
    h.set_config(&TOPOLOGY.replace(
        "depends_on = [test_thing.member]",
        "depends_on = [test_thing.member[local.clusters.one]]",
    ));
    let diags = h.plan_err(&Default::default()).await;
    let text = format!("{diags:?}");
    assert!(text.contains("depends_on entries must be resource references"), "{text}");
}

/// A new object that cannot be planned has no last known state: what reads it waits, rather than
/// being planned against a value nothing will ever set.
#[tokio::test]
async fn what_reads_a_new_object_that_could_not_be_planned_waits() {
    let h = Harness::new(
        r#"
resource "test_thing" "mesh" { name = "mesh-new" }
resource "test_thing" "rule" {
  name  = "rule"
  value = test_thing.mesh.id
}
resource "test_thing" "other" { name = "other" }
"#,
    );
    h.cloud.fail_read("mesh-new");
    let plan = h.plan_default().await;
    assert_eq!(plan.failures.len(), 1, "{:?}", plan.failures);
    assert_eq!(plan.failures[0].address, "test_thing.mesh");
    assert_eq!(
        plan.skipped,
        ["test_thing.rule (depends on test_thing.mesh, which could not be planned)"]
    );
    assert_eq!(action(&plan, "test_thing.rule"), None);
    assert_eq!(action(&plan, "test_thing.other"), Some(Action::Create));
}

/// An attribute `ignore_changes` leaves out is no change to wait for.
#[tokio::test]
async fn an_ignored_change_of_an_unreachable_instance_holds_nothing_back() {
    let with_ignore = TOPOLOGY.replace(
        "  value    = test_thing.mesh[each.key].id\n}",
        "  value    = test_thing.mesh[each.key].id\n  lifecycle {\n    ignore_changes = [value]\n  }\n}",
    );
    assert_ne!(with_ignore, TOPOLOGY);
    let h = Harness::new(&with_ignore);
    h.apply_ok().await;
    h.cloud.fail_read("member-one");
    h.set_config(
        &with_ignore
            .replace(
                "  value    = test_thing.mesh[each.key].id\n",
                "  value    = \"${test_thing.mesh[each.key].id}-v2\"\n",
            )
            .replace(r#"value      = "v1""#, r#"value      = "v2""#),
    );
    let plan = h.plan_default().await;
    assert_eq!(plan.failures.len(), 1, "{:?}", plan.failures);
    assert!(plan.skipped.is_empty(), "{:?}", plan.skipped);
    assert_eq!(action(&plan, "test_thing.app"), Some(Action::Update));
}
