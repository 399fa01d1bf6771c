//! Provider blocks with `for_each` (as OpenTofu 1.9): one configured instance per key, chosen per
//! resource instance with `provider = NAME.ALIAS[each.key]` or passed to a module per module
//! instance; the state records the instance; removing a key whose objects remain is an error, and
//! the mistakes a user can make are reported at the reference.

use meshform_engine::plan::walk::PlanOptions;

use crate::harness::{diag, show, summary, Harness};

const CONFIG: &str = r#"
variable "sites" {
  type    = set(string)
  default = ["eu", "us"]
}

provider "test" {
  alias    = "by_site"
  for_each = var.sites
  endpoint = "https://${each.key}.example"
}

resource "test_thing" "t" {
  for_each = var.sites
  provider = test.by_site[each.key]
  name     = "t-${each.key}"
}
"#;

#[tokio::test]
async fn each_instance_uses_the_provider_instance_of_its_key() {
    let h = Harness::new(CONFIG);
    let plan = h.apply_ok().await;
    let providers: Vec<(String, String)> =
        plan.changes.iter().map(|c| (c.addr.to_string(), c.provider.clone())).collect();
    assert_eq!(
        providers,
        [
            ("test_thing.t[\"eu\"]".to_owned(), "test.by_site[\"eu\"]".to_owned()),
            ("test_thing.t[\"us\"]".to_owned(), "test.by_site[\"us\"]".to_owned()),
        ]
    );
    let mut endpoints = h.cloud.lock().endpoints.clone();
    endpoints.sort();
    endpoints.dedup();
    assert_eq!(endpoints, ["https://eu.example", "https://us.example"]);
    // The state says which instance manages which object.
    let state = h.state();
    let r = state.resources.first().expect("a resource");
    let recorded: Vec<&str> = r.instances.iter().map(|i| r.provider_of(i)).collect();
    assert_eq!(recorded, ["provider.test.by_site[\"eu\"]", "provider.test.by_site[\"us\"]"]);
    assert!(h.plan_default().await.actionable().next().is_none());
}

#[tokio::test]
async fn removing_a_key_whose_objects_remain_is_an_error_not_an_orphan() {
    let h = Harness::new(CONFIG);
    h.apply_ok().await;
    h.set_config(&CONFIG.replace(r#"default = ["eu", "us"]"#, r#"default = ["eu"]"#));
    let d = h.plan_err(&PlanOptions::default()).await;
    let gone = diag(&d, "meshform::plan::provider_instance_gone");
    assert!(
        gone.summary
            .contains("test.by_site[\"us\"] is not present, but it manages test_thing.t[\"us\"]"),
        "{}",
        show(&d)
    );
    assert!(gone.help.as_deref().unwrap_or("").contains("add [\"us\"] back"), "{}", show(&d));
    // The documented way: leave the key out of the resources first, then remove it.
    let two_steps = CONFIG.replace(
        "  for_each = var.sites\n  provider",
        "  for_each = setsubtract(var.sites, [\"us\"])\n  provider",
    );
    h.set_config(&two_steps);
    let plan = h.apply_ok().await;
    assert_eq!(
        summary(&plan).iter().filter(|(_, a)| *a == meshform_engine::Action::Delete).count(),
        1
    );
    h.set_config(&CONFIG.replace(r#"default = ["eu", "us"]"#, r#"default = ["eu"]"#));
    assert!(h.plan_default().await.actionable().next().is_none());
}

#[tokio::test]
async fn a_module_instance_gets_the_provider_instance_of_its_key() {
    let h = Harness::new(
        r#"
provider "test" {
  alias    = "by_site"
  for_each = toset(["eu", "us"])
  endpoint = each.key
}

module "site" {
  source    = "./modules/site"
  for_each  = toset(["eu", "us"])
  providers = { test = test.by_site[each.key] }
}
"#,
    );
    let dir = h.path().join("modules/site");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("main.hcl"),
        "resource \"test_thing\" \"t\" {\n  name = path.module\n}\n",
    )
    .unwrap();
    let d = h.plan(&PlanOptions::default()).await;
    let plan = match d {
        Ok(p) => p.plan,
        Err(e) => panic!("{}", crate::harness::describe_error(&e)),
    };
    let providers: Vec<(String, String)> =
        plan.changes.iter().map(|c| (c.addr.to_string(), c.provider.clone())).collect();
    assert_eq!(
        providers,
        [
            ("module.site[\"eu\"].test_thing.t".to_owned(), "test.by_site[\"eu\"]".to_owned()),
            ("module.site[\"us\"].test_thing.t".to_owned(), "test.by_site[\"us\"]".to_owned()),
        ]
    );
}

#[tokio::test]
async fn provider_for_each_mistakes_are_reported_where_they_are_written() {
    let h = Harness::new(
        r#"
provider "test" {
  for_each = toset(["a"])
}

provider "test" {
  alias    = "by"
  for_each = toset(["a"])
}

resource "test_thing" "whole" {
  provider = test.by
  name     = "w"
}

resource "test_thing" "missing" {
  for_each = toset(["a", "b"])
  provider = test.by[each.key]
  name     = each.key
}
"#,
    );
    let d = h.plan_err(&PlanOptions::default()).await;
    let text = show(&d);
    assert!(
        text.contains(
            "main.hcl:3:3 [meshform::config::provider_for_each] alias required when using for_each"
        ),
        "{text}"
    );
    assert!(text.contains("main.hcl:12:14 [meshform::config::unknown_provider] test_thing.whole: provider \"test.by\" has for_each"), "{text}");
    h.set_config(
        "provider \"test\" {\n  alias    = \"by\"\n  for_each = toset([\"a\"])\n}\nresource \"test_thing\" \"missing\" {\n  for_each = toset([\"a\", \"b\"])\n  provider = test.by[each.key]\n  name     = each.key\n}\n",
    );
    let d = h.plan_err(&PlanOptions::default()).await;
    let e = diag(&d, "meshform::config::provider_instance_key");
    assert!(e.summary.contains("provider test.by has no instance [\"b\"]"), "{}", show(&d));
}

#[tokio::test]
async fn provider_instances_read_what_the_same_apply_creates() {
    // Each instance is configured from a resource created in this apply: configured during apply.
    let h = Harness::new(
        r#"
resource "test_thing" "endpoint" {
  for_each = toset(["eu", "us"])
  name     = "endpoint-${each.key}"
}

provider "test" {
  alias    = "by_site"
  for_each = toset(["eu", "us"])
  endpoint = test_thing.endpoint[each.key].id
}

resource "test_thing" "t" {
  for_each = toset(["eu", "us"])
  provider = test.by_site[each.key]
  name     = "t-${each.key}"
}
"#,
    );
    h.apply_ok().await;
    let mut endpoints = h.cloud.lock().endpoints.clone();
    endpoints.sort();
    endpoints.dedup();
    let mut ids = vec![h.cloud.id_of("endpoint-eu"), h.cloud.id_of("endpoint-us")];
    ids.sort();
    assert_eq!(endpoints, ids);
    assert!(h.cloud.names().contains(&"t-us".to_owned()));
    assert!(h.plan_default().await.actionable().next().is_none());
}
