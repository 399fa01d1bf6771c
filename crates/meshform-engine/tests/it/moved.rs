//! `moved`, `removed` and `import` blocks: renames, chains, moves into a module, forgetting and
//! importing, the refusals (a loop, a source still declared, an import that cannot work) and the
//! warning (a destination already taken); a move plans no destroy and apply keeps the object.

use meshform_engine::plan::walk::PlanOptions;
use meshform_engine::Action;

use crate::fake::OpKind;
use crate::harness::{assert_success, diag, show, state_addrs, summary, Harness};

const BEFORE: &str = r#"
resource "test_thing" "a" {
  name = "a"
}

resource "test_thing" "n" {
  count = 2
  name  = "n${count.index}"
}
"#;

fn moved_pairs(plan: &meshform_engine::Plan) -> Vec<(String, String)> {
    plan.moves.iter().map(|m| (m.from.to_string(), m.to.to_string())).collect()
}

#[tokio::test]
async fn a_renamed_resource_moves_without_destroy() {
    let h = Harness::new(BEFORE);
    h.apply_ok().await;
    h.cloud.clear_log();
    h.set_config(&format!(
        "{}\nmoved {{\n  from = test_thing.a\n  to   = test_thing.b\n}}\n",
        BEFORE.replace("\"test_thing\" \"a\"", "\"test_thing\" \"b\"")
    ));
    let plan = h.plan_default().await;
    assert_eq!(moved_pairs(&plan), [("test_thing.a".to_owned(), "test_thing.b".to_owned())]);
    assert_eq!(summary(&plan).iter().filter(|(_, a)| *a != Action::NoOp).count(), 0);
    assert!(plan.has_changes(), "a move alone still needs an apply to be saved");
    let applied = h.apply().await;
    assert_success(&applied.outcome);
    assert!(h.cloud.ops().is_empty(), "{:?}", h.cloud.ops());
    assert_eq!(state_addrs(&h.state()), ["test_thing.b", "test_thing.n[0]", "test_thing.n[1]"]);
    // The block may stay: nothing is left at the old address.
    let again = h.plan_default().await;
    assert!(!again.has_changes(), "{:?}", summary(&again));
}

#[tokio::test]
async fn resources_move_into_a_module_and_chains_are_followed() {
    let h = Harness::new(BEFORE);
    h.apply_ok().await;
    h.cloud.clear_log();
    let module = h.path().join("modules/n");
    std::fs::create_dir_all(&module).unwrap();
    std::fs::write(
        module.join("main.hcl"),
        "resource \"test_thing\" \"n\" {\n  count = 2\n  name  = \"n${count.index}\"\n}\n",
    )
    .unwrap();
    h.set_config(
        r#"
resource "test_thing" "c" {
  name = "a"
}

module "m" {
  source = "./modules/n"
}

moved {
  from = test_thing.a
  to   = test_thing.b
}

moved {
  from = test_thing.b
  to   = test_thing.c
}

moved {
  from = test_thing.n
  to   = module.m.test_thing.n
}
"#,
    );
    let plan = h.plan_default().await;
    assert_eq!(
        moved_pairs(&plan),
        [
            ("test_thing.a".to_owned(), "test_thing.c".to_owned()),
            ("test_thing.n[0]".to_owned(), "module.m.test_thing.n[0]".to_owned()),
            ("test_thing.n[1]".to_owned(), "module.m.test_thing.n[1]".to_owned()),
        ]
    );
    let applied = h.apply().await;
    assert_success(&applied.outcome);
    assert!(h.cloud.ops_of(OpKind::Delete).is_empty() && h.cloud.ops_of(OpKind::Create).is_empty());
    assert_eq!(
        state_addrs(&h.state()),
        ["test_thing.c", "module.m.test_thing.n[0]", "module.m.test_thing.n[1]"]
    );
}

#[tokio::test]
async fn a_loop_of_moves_and_a_source_still_declared_are_refused() {
    let h = Harness::new(
        "resource \"test_thing\" \"a\" {\n  name = \"a\"\n}\nmoved {\n  from = test_thing.x\n  to   = test_thing.y\n}\nmoved {\n  from = test_thing.y\n  to   = test_thing.x\n}\n",
    );
    let d = h.plan_err(&PlanOptions::default()).await;
    let cycle = diag(&d, "meshform::config::moved_cycle");
    assert!(
        cycle.detail.as_deref().unwrap_or("").contains("main.hcl:4:1: test_thing.x → test_thing.y"),
        "{}",
        show(&d)
    );

    h.set_config(
        "resource \"test_thing\" \"a\" {\n  name = \"a\"\n}\nresource \"test_thing\" \"b\" {\n  name = \"b\"\n}\nmoved {\n  from = test_thing.a\n  to   = test_thing.b\n}\n",
    );
    let d = h.plan_err(&PlanOptions::default()).await;
    let still = diag(&d, "meshform::config::moved_still_declared");
    assert!(
        still.summary.contains("test_thing.a is still declared at main.hcl:1:1"),
        "{}",
        show(&d)
    );
}

#[tokio::test]
async fn a_move_onto_an_existing_object_is_left_undone_with_a_warning() {
    let h = Harness::new(
        BEFORE
            .replace(
                "\"n${count.index}\"",
                "\"n${count.index}\"\n}\nresource \"test_thing\" \"b\" {\n  name = \"b\"",
            )
            .as_str(),
    );
    h.apply_ok().await;
    h.set_config(
        "resource \"test_thing\" \"b\" {\n  name = \"b\"\n}\nmoved {\n  from = test_thing.a\n  to   = test_thing.b\n}\n",
    );
    let planned = h.plan(&PlanOptions::default()).await.expect("plans");
    let w = diag(&planned.diags, "meshform::plan::unresolved_move");
    assert!(
        w.summary.contains("test_thing.a could not move to test_thing.b"),
        "{}",
        show(&planned.diags)
    );
    let deleted: Vec<String> = summary(&planned.plan)
        .into_iter()
        .filter(|(_, a)| *a == Action::Delete)
        .map(|(a, _)| a)
        .collect();
    assert_eq!(deleted, ["test_thing.a", "test_thing.n[0]", "test_thing.n[1]"]);
}

#[tokio::test]
async fn wrong_moved_blocks_are_reported_at_their_addresses() {
    let h = Harness::new(
        "moved {\n  from = test_thing.a\n  to   = module.m\n}\nmoved {\n  from = test_thing.a\n  to   = other_thing.a\n}\nmoved {\n  from = \"test_thing.a\"\n  to   = test_thing.b\n}\n",
    );
    let d = h.plan_err(&PlanOptions::default()).await;
    let text = show(&d);
    assert!(
        text.contains("main.hcl:3:10 [meshform::config::moved] invalid \"moved\" addresses"),
        "{text}"
    );
    assert!(
        text.contains(
            "main.hcl:7:10 [meshform::config::moved] cannot move test_thing.a to other_thing.a"
        ),
        "{text}"
    );
    assert!(text.contains("main.hcl:10:10 [meshform::config::moved] moved from"), "{text}");
}

#[tokio::test]
async fn a_removed_block_with_destroy_false_forgets_without_destroying() {
    let h = Harness::new(BEFORE);
    h.apply_ok().await;
    h.cloud.clear_log();
    h.set_config(
        "resource \"test_thing\" \"a\" {\n  name = \"a\"\n}\nremoved {\n  from = test_thing.n\n  lifecycle {\n    destroy = false\n  }\n}\n",
    );
    let plan = h.plan_default().await;
    let forgotten: Vec<String> = plan.forgotten.iter().map(|f| f.addr.to_string()).collect();
    assert_eq!(forgotten, ["test_thing.n[0]", "test_thing.n[1]"]);
    assert!(summary(&plan).iter().all(|(_, a)| *a == Action::NoOp), "{:?}", summary(&plan));
    let applied = h.apply().await;
    assert_success(&applied.outcome);
    assert!(h.cloud.ops().is_empty(), "nothing destroyed: {:?}", h.cloud.ops());
    assert!(h.cloud.names().contains(&"n0".to_owned()));
    assert_eq!(state_addrs(&h.state()), ["test_thing.a"]);

    // destroy = true (the default) is a normal destroy; a removed block naming what is still
    // configured, or one instance, is refused.
    h.set_config("removed {\n  from = test_thing.a\n}\n");
    let plan = h.plan_default().await;
    assert_eq!(summary(&plan), [("test_thing.a".to_owned(), Action::Delete)]);
    h.set_config(
        "resource \"test_thing\" \"a\" {\n  name = \"a\"\n}\nremoved {\n  from = test_thing.a\n}\n",
    );
    let text = show(&h.plan_err(&PlanOptions::default()).await);
    assert!(text.contains("main.hcl:5:10 [meshform::config::removed_still_declared] removed test_thing.a is still declared at main.hcl:1:1"), "{text}");
    h.set_config("removed {\n  from = test_thing.b[0]\n}\n");
    let text = show(&h.plan_err(&PlanOptions::default()).await);
    assert!(
        text.contains(
            "main.hcl:2:10 [meshform::config::removed] instance keys are not allowed in removed"
        ),
        "{text}"
    );
}

/// An object the cloud has but the state does not: applied, then forgotten by the state.
async fn unmanaged_object(h: &Harness) -> String {
    h.set_config("resource \"test_thing\" \"a\" {\n  name  = \"a\"\n  value = \"old\"\n}\n");
    h.apply_ok().await;
    let mut state = h.state();
    state.remove_instance(&"test_thing.a".parse().unwrap());
    h.write_state(&mut state);
    h.cloud.clear_log();
    h.cloud.id_of("a")
}

#[tokio::test]
async fn an_import_block_brings_an_existing_object_under_management() {
    let h = Harness::new("");
    let id = unmanaged_object(&h).await;
    h.set_config(&format!(
        "locals {{\n  id = \"{id}\"\n}}\nimport {{\n  to = test_thing.imported\n  id = local.id\n}}\nresource \"test_thing\" \"imported\" {{\n  name  = \"a\"\n  value = \"new\"\n}}\n"
    ));
    let plan = h.plan_default().await;
    let imported: Vec<(String, String)> =
        plan.imports.iter().map(|i| (i.addr.to_string(), i.id.clone())).collect();
    assert_eq!(imported, [("test_thing.imported".to_owned(), id.clone())]);
    assert_eq!(summary(&plan), [("test_thing.imported".to_owned(), Action::Update)]);
    let applied = h.apply().await;
    assert_success(&applied.outcome);
    assert!(h.cloud.ops_of(OpKind::Create).is_empty(), "{:?}", h.cloud.ops());
    assert_eq!(h.cloud.get("a").unwrap().1.value.as_deref(), Some("new"));
    assert_eq!(state_addrs(&h.state()), ["test_thing.imported"]);
    // The block may stay: what is in the state is not imported again.
    let again = h.plan_default().await;
    assert!(again.imports.is_empty() && !again.has_changes(), "{:?}", summary(&again));
}

#[tokio::test]
async fn import_blocks_that_cannot_work_are_refused() {
    let h = Harness::new("");
    unmanaged_object(&h).await;
    h.set_config("import {\n  to = test_thing.x\n  id = \"nope\"\n}\nresource \"test_thing\" \"x\" {\n  name = \"x\"\n}\n");
    let d = h.plan_err(&PlanOptions::default()).await;
    let e = diag(&d, "meshform::plan::import_not_found");
    assert!(
        e.summary.contains("test_thing.x: cannot import non-existent remote object (id \"nope\")"),
        "{}",
        show(&d)
    );
    h.set_config("import {\n  to = test_thing.y\n  id = \"\"\n}\n");
    let text = show(&h.plan_err(&PlanOptions::default()).await);
    assert!(text.contains("main.hcl:2:8 [meshform::config::import_target] configuration for import target test_thing.y does not exist"), "{text}");
    h.set_config("import {\n  to = data.test_data.y\n  id = \"i\"\n}\n");
    let text = show(&h.plan_err(&PlanOptions::default()).await);
    assert!(
        text.contains(
            "main.hcl:2:8 [meshform::config::import] invalid import address data.test_data.y"
        ),
        "{text}"
    );
    h.set_config("resource \"test_thing\" \"z\" {\n  name = \"z\"\n}\nimport {\n  to = test_thing.z\n  id = test_thing.z.id\n}\n");
    let text = show(&h.plan_err(&PlanOptions::default()).await);
    assert!(
        text.contains(
            "[meshform::config::import_id] invalid import id: it is not known before planning"
        ),
        "{text}"
    );
}
