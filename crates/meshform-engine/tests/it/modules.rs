//! Modules: local sources, inputs and outputs across the boundary, `count`/`for_each` on calls,
//! nested modules, `path.module`, `providers`, `depends_on`, module addresses in plans and state,
//! `--target module.…`, and the errors a user can make calling one.

use meshform_core::{ModulePattern, Selector};
use meshform_engine::plan::walk::PlanOptions;
use meshform_engine::Action;

use crate::harness::{diag, show, state_addrs, summary, Harness};

/// A module `modules/pair` holding two things named after its input; its output joins their ids.
fn with_pair_module(h: &Harness) {
    let dir = h.path().join("modules/pair");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("main.hcl"),
        r#"
variable "prefix" {
  type = string
}

variable "suffix" {
  type    = string
  default = "x"
}

locals {
  names = ["${var.prefix}-a-${var.suffix}", "${var.prefix}-b-${var.suffix}"]
}

resource "test_thing" "t" {
  count = 2
  name  = local.names[count.index]
  value = basename(path.module)
}

output "ids" {
  value = join(",", test_thing.t[*].id)
}

output "first_name" {
  value = test_thing.t[0].name
}
"#,
    )
    .unwrap();
}

const ROOT: &str = r#"
variable "envs" {
  type    = set(string)
  default = ["prod", "stage"]
}

module "pair" {
  source   = "./modules/pair"
  for_each = var.envs
  prefix   = each.key
}

module "single" {
  source = "./modules/pair"
  prefix = "one"
  suffix = module.pair["prod"].first_name
}

resource "test_thing" "root" {
  name  = "root"
  value = module.single.ids
}

output "all" {
  value = { for k, m in module.pair : k => m.ids }
}
"#;

#[tokio::test]
async fn module_instances_plan_apply_and_feed_each_other() {
    let h = Harness::new(ROOT);
    with_pair_module(&h);
    let plan = h.apply_ok().await;
    let created: Vec<String> = summary(&plan).into_iter().map(|(a, _)| a).collect();
    assert_eq!(
        created,
        [
            "test_thing.root",
            "module.pair[\"prod\"].test_thing.t[0]",
            "module.pair[\"prod\"].test_thing.t[1]",
            "module.pair[\"stage\"].test_thing.t[0]",
            "module.pair[\"stage\"].test_thing.t[1]",
            "module.single.test_thing.t[0]",
            "module.single.test_thing.t[1]",
        ]
    );
    // The input crossed the boundary; the nested call saw another instance's output.
    let mut names = h.cloud.names();
    names.sort();
    assert_eq!(
        names,
        [
            "one-a-prod-a-x",
            "one-b-prod-a-x",
            "prod-a-x",
            "prod-b-x",
            "root",
            "stage-a-x",
            "stage-b-x"
        ]
    );
    // path.module is the module's directory; the root saw the module's output once applied.
    assert_eq!(h.cloud.get("prod-a-x").unwrap().1.value.as_deref(), Some("pair"));
    let ids = format!("{},{}", h.cloud.id_of("one-a-prod-a-x"), h.cloud.id_of("one-b-prod-a-x"));
    assert_eq!(h.cloud.get("root").unwrap().1.value.as_deref(), Some(ids.as_str()));
    // The state holds module addresses; a second plan changes nothing.
    let state = h.state();
    assert!(state_addrs(&state).contains(&"module.pair[\"stage\"].test_thing.t[1]".to_owned()));
    let json = serde_json::to_value(&state).unwrap();
    let modules: Vec<&str> =
        json["resources"].as_array().unwrap().iter().filter_map(|r| r["module"].as_str()).collect();
    assert!(modules.contains(&"module.pair[\"prod\"]"), "{modules:?}");
    let again = h.plan_default().await;
    assert!(again.actionable().next().is_none(), "{:?}", summary(&again));
}

#[tokio::test]
async fn removing_a_for_each_key_destroys_that_instance_only() {
    let h = Harness::new(ROOT);
    with_pair_module(&h);
    h.apply_ok().await;
    h.set_config(&ROOT.replace(r#"default = ["prod", "stage"]"#, r#"default = ["prod"]"#));
    let plan = h.plan_default().await;
    let changed: Vec<(String, Action)> =
        summary(&plan).into_iter().filter(|(_, a)| *a != Action::NoOp).collect();
    assert_eq!(
        changed,
        [
            ("module.pair[\"stage\"].test_thing.t[0]".to_owned(), Action::Delete),
            ("module.pair[\"stage\"].test_thing.t[1]".to_owned(), Action::Delete),
        ]
    );
}

#[tokio::test]
async fn a_module_target_plans_only_what_is_inside_and_what_it_needs() {
    let h = Harness::new(ROOT);
    with_pair_module(&h);
    let opts = PlanOptions {
        module_targets: vec![ModulePattern(vec![("single".into(), None)])],
        ..PlanOptions::default()
    };
    let plan = h.plan_ok(&opts).await;
    let planned: Vec<String> = summary(&plan).into_iter().map(|(a, _)| a).collect();
    // module.single reads module.pair["prod"]'s output: that instance comes along.
    assert_eq!(
        planned,
        [
            "module.pair[\"prod\"].test_thing.t[0]",
            "module.pair[\"prod\"].test_thing.t[1]",
            "module.single.test_thing.t[0]",
            "module.single.test_thing.t[1]",
        ]
    );
    let Ok(Selector::Module(m)) = "module.nothing".parse::<Selector>() else { panic!() };
    let d = h.plan_err(&PlanOptions { module_targets: vec![m], ..PlanOptions::default() }).await;
    assert!(show(&d).contains("--target module.nothing: no such module instance"), "{}", show(&d));
}

#[tokio::test]
async fn calling_a_module_wrongly_is_reported_at_the_call() {
    let h = Harness::new(
        r#"
module "pair" {
  source  = "./modules/pair"
  prefx   = "p"
}

module "gone" {
  source = "./modules/nowhere"
}

module "remote" {
  source = "git::https://example.com/x.git"
}

output "o" {
  value = module.pair.nope
}
"#,
    );
    with_pair_module(&h);
    let d = h.plan_err(&PlanOptions::default()).await;
    let text = show(&d);
    let unsupported = diag(&d, "meshform::config::module_argument");
    assert!(unsupported.summary.contains("no input variable \"prefx\""), "{text}");
    assert_eq!(unsupported.help.as_deref(), Some("did you mean `prefix`?"), "{text}");
    let missing = diag(&d, "meshform::config::module_missing_argument");
    assert!(missing.summary.contains("missing required argument \"prefix\""), "{text}");
    let gone = diag(&d, "meshform::config::module_not_found");
    let at = gone.span.as_ref().map(|s| s.location()).unwrap_or_default();
    assert!(at.starts_with("main.hcl:8:"), "{at}: {text}");
    assert!(diag(&d, "meshform::config::module_source").summary.contains("not a local path"));
    let output = diag(&d, "meshform::config::unknown_reference");
    assert!(output.summary.contains("output value of module.pair"), "{text}");
}

#[tokio::test]
async fn errors_inside_a_module_point_into_its_file() {
    let h = Harness::new("module \"m\" {\n  source = \"./modules/bad\"\n}\n");
    let dir = h.path().join("modules/bad");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("main.hcl"),
        "resource \"test_thing\" \"t\" {\n  name = local.nope\n}\n",
    )
    .unwrap();
    let d = h.plan_err(&PlanOptions::default()).await;
    let unknown = diag(&d, "meshform::config::unknown_reference");
    assert_eq!(
        unknown.span.as_ref().map(|s| s.location()).as_deref(),
        Some("modules/bad/main.hcl:2:10"),
        "{}",
        show(&d)
    );
}

#[tokio::test]
async fn a_module_calling_itself_is_a_cycle() {
    let h = Harness::new("module \"a\" {\n  source = \"./modules/a\"\n}\n");
    let dir = h.path().join("modules/a");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("main.hcl"), "module \"again\" {\n  source = \"../a\"\n}\n").unwrap();
    let d = h.plan_err(&PlanOptions::default()).await;
    let cycle = diag(&d, "meshform::config::module_cycle");
    assert_eq!(
        cycle.span.as_ref().map(|s| s.location()).as_deref(),
        Some("modules/a/main.hcl:2:12"),
        "{}",
        show(&d)
    );
}

#[tokio::test]
async fn a_sensitive_value_leaving_a_module_must_be_marked() {
    let h = Harness::new(
        "variable \"secret\" {\n  type = string\n  default = \"s\"\n  sensitive = true\n}\nmodule \"m\" {\n  source = \"./modules/m\"\n  secret = var.secret\n}\n",
    );
    let dir = h.path().join("modules/m");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("main.hcl"),
        "variable \"secret\" {\n  type = string\n}\noutput \"leak\" {\n  value = var.secret\n}\n",
    )
    .unwrap();
    let d = h.plan_err(&PlanOptions::default()).await;
    let leak = diag(&d, "meshform::config::sensitive_output");
    assert_eq!(
        leak.span.as_ref().map(|s| s.location()).as_deref(),
        Some("modules/m/main.hcl:5:11"),
        "{}",
        show(&d)
    );
}

#[tokio::test]
async fn a_module_for_each_over_a_resource_is_refused_before_planning() {
    let h = Harness::new(
        "resource \"test_thing\" \"k\" {\n  name = \"k\"\n}\nmodule \"m\" {\n  source   = \"./modules/pair\"\n  for_each = toset([test_thing.k.id])\n  prefix   = each.key\n}\n",
    );
    with_pair_module(&h);
    let d = h.plan_err(&PlanOptions::default()).await;
    let e = diag(&d, "meshform::config::module_repetition_unknown");
    assert!(e.summary.contains("for_each must be known before planning"), "{}", show(&d));
}

#[tokio::test]
async fn a_reference_cycle_through_a_module_is_reported_with_its_path() {
    let h = Harness::new(
        "locals {\n  a = module.m.out\n}\nmodule \"m\" {\n  source = \"./modules/m\"\n  x      = local.a\n}\n",
    );
    let dir = h.path().join("modules/m");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("main.hcl"),
        "variable \"x\" {\n  type = string\n}\noutput \"out\" {\n  value = var.x\n}\n",
    )
    .unwrap();
    let d = h.plan_err(&PlanOptions::default()).await;
    let cycle = diag(&d, "meshform::config::cycle");
    assert!(
        cycle
            .summary
            .contains("module.m.var.x -> module.m.output.out -> local.a -> module.m.var.x"),
        "{}",
        show(&d)
    );
    assert_eq!(
        cycle.span.as_ref().map(|s| s.location()).as_deref(),
        Some("main.hcl:6:12"),
        "{}",
        show(&d)
    );
}

/// `order` from a variable and `checks` computed from one (a for expression): both are evaluated at
/// expansion, by the same rule.
#[tokio::test]
async fn a_rollout_inside_a_module_takes_its_order_and_checks_from_the_module_inputs() {
    let module = |v: &str| {
        format!(
            "variable \"order\" {{\n  type = list(string)\n}}\nvariable \"checks\" {{\n  type = list(string)\n}}\nresource \"test_thing\" \"m\" {{\n  for_each = toset([\"c1\", \"c2\", \"c3\"])\n  name     = \"m-${{each.key}}\"\n  value    = \"{v}\"\n  lifecycle {{\n    rollout {{\n      batch_size = 1\n      order      = var.order\n      checks     = [for c in var.checks : c]\n    }}\n  }}\n}}\n"
        )
    };
    let root = "variable \"order\" {\n  type    = list(string)\n  default = [\"c3\", \"c1\"]\n}\nmodule \"mm\" {\n  source = \"./modules/mm\"\n  order  = var.order\n  checks = [\"healthy\"]\n}\ncheck \"healthy\" {\n  assert {\n    condition     = true\n    error_message = \"never\"\n  }\n}\n";
    let h = Harness::new(root);
    let dir = h.path().join("modules/mm");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("main.hcl"), module("1")).unwrap();
    h.apply_ok().await;
    std::fs::write(dir.join("main.hcl"), module("2")).unwrap();
    let plan = h.plan_default().await;
    let [rollout] = plan.rollouts.as_slice() else { panic!("{:?}", plan.rollouts) };
    assert_eq!(rollout.resource.to_string(), "module.mm.test_thing.m");
    assert_eq!(rollout.checks, ["healthy"]);
    let keys: Vec<String> =
        rollout.batches.iter().flat_map(|b| b.keys.iter().map(|k| k.to_string())).collect();
    assert_eq!(keys, ["[\"c3\"]", "[\"c1\"]", "[\"c2\"]"]);
    // A check the root does not have is reported at the module's argument.
    h.set_config(&root.replace("[\"healthy\"]", "[\"helthy\"]"));
    let d = h.plan_err(&PlanOptions::default()).await;
    assert!(show(&d).contains("helthy"), "{}", show(&d));
}

#[tokio::test]
async fn an_excluded_module_is_left_out_and_validate_needs_no_variables() {
    let h = Harness::new(&ROOT.replace("default = [\"prod\", \"stage\"]\n", ""));
    with_pair_module(&h);
    // validate: the module's for_each waits for a variable that has no value; checked as one
    // instance, without an error.
    let d = meshform_engine::ops::validate(&h.ws);
    assert!(!d.has_errors(), "{}", show(&d));
    let h = Harness::new(ROOT);
    with_pair_module(&h);
    let opts = PlanOptions {
        module_excludes: vec![ModulePattern(vec![(
            "pair".into(),
            Some(meshform_core::InstanceKey::Str("stage".into())),
        )])],
        ..PlanOptions::default()
    };
    let plan = h.plan_ok(&opts).await;
    let planned: Vec<String> = summary(&plan).into_iter().map(|(a, _)| a).collect();
    assert!(planned.iter().all(|a| !a.starts_with("module.pair[\"stage\"]")), "{planned:?}");
    assert!(planned.contains(&"module.pair[\"prod\"].test_thing.t[0]".to_owned()), "{planned:?}");
}
