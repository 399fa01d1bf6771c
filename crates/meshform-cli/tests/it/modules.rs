//! Modules through the binary: a `for_each` module call planned, applied and shown with module
//! addresses in text, `show --json` (Terraform's `module_address`), the state (`module`), `state
//! list module.…`, `--target module.…`, `graph` (one cluster per module instance), and a missing
//! source reported at `main.hcl`; a resource moved into a module with a `moved` block, and one
//! renamed by the module's author with a `moved` block inside the module; an `import`
//! block planned, shown and applied, and one with `for_each`; a `removed` block forgetting without
//! destroying.

use crate::harness::{assert_valid, schema, Workdir};

const ROOT: &str = r#"
module "site" {
  source   = "./modules/site"
  for_each = toset(["eu", "us"])
  region   = each.key
}

output "files" {
  value = { for k, s in module.site : k => s.file }
}
"#;

const SITE: &str = r#"
variable "region" {
  type = string
}

resource "local_file" "index" {
  filename = "out/${var.region}/index.txt"
  content  = "served from ${var.region} by ${basename(path.module)}"
}

output "file" {
  value = local_file.index.filename
}
"#;

fn workdir() -> Workdir {
    let w = Workdir::with_main(ROOT);
    w.write("modules/site/main.hcl", SITE);
    w
}

#[test]
fn a_module_called_per_region_is_planned_applied_and_addressed() {
    let w = workdir();
    w.ok(&["plan", "--out", "plan.bin"])
        .stdout_has("# module.site[\"eu\"].local_file.index will be created")
        .stdout_has("# module.site[\"us\"].local_file.index will be created");
    let doc: serde_json::Value =
        serde_json::from_str(&w.ok(&["show", "--json", "plan.bin"]).stdout).expect("one document");
    assert_valid(&schema("plan.schema.json"), &doc);
    let modules: Vec<&str> = doc["resource_changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["module_address"].as_str().unwrap_or("(root)"))
        .collect();
    assert_eq!(modules, ["module.site[\"eu\"]", "module.site[\"us\"]"]);

    w.ok(&["apply", "plan.bin"]);
    assert_eq!(w.read("out/eu/index.txt"), "served from eu by site");
    let listed = w.ok(&["state", "list"]).stdout;
    assert_eq!(
        listed.lines().collect::<Vec<_>>(),
        ["module.site[\"eu\"].local_file.index", "module.site[\"us\"].local_file.index"]
    );
    let state: serde_json::Value =
        serde_json::from_str(&w.ok(&["state", "pull"]).stdout).expect("state JSON");
    assert_valid(&schema("state.schema.json"), &state);
    assert_eq!(state["resources"][0]["module"], "module.site[\"eu\"]");
    w.ok(&["output", "--json"]).stdout_has("out/us/index.txt");
    let listed = w.ok(&["state", "list", "module.site[\"us\"]"]).stdout;
    assert_eq!(listed.trim(), "module.site[\"us\"].local_file.index");

    // A change in one instance, targeted by module: only that instance is planned.
    w.write("modules/site/main.hcl", &SITE.replace("served from", "now served from"));
    let run = w.ok(&["plan", "--target", "module.site[\"us\"]"]);
    let run = run.stderr_has("Warning: resource targeting is in effect");
    let text = run.stdout;
    assert!(
        text.contains("# module.site[\"us\"].local_file.index will be updated in-place"),
        "{text}"
    );
    assert!(!text.contains("module.site[\"eu\"]"), "{text}");

    let replace = w.ok(&["plan", "--replace", "module.site[\"eu\"].local_file.index"]).stdout;
    assert!(
        replace.contains("# module.site[\"eu\"].local_file.index will be replaced, as requested"),
        "{replace}"
    );
    let shown = w.ok(&["state", "show", "module.site[\"us\"].local_file.index"]).stdout;
    assert!(shown.contains("out/us/index.txt"), "{shown}");

    let dot = w.ok(&["graph"]).stdout;
    assert!(dot.contains("subgraph \"cluster_"), "{dot}");
    assert!(dot.contains("label = \"module.site[\\\"eu\\\"]\";"), "{dot}");
    let mermaid = w.ok(&["graph", "--format", "mermaid"]).stdout;
    assert!(mermaid.contains("[\"module.site[#quot;us#quot;]\"]"), "{mermaid}");
}

#[test]
fn a_missing_module_source_is_reported_where_it_is_written() {
    let w = Workdir::with_main("module \"net\" {\n  source = \"./modules/net\"\n}\n");
    w.run(&["validate"])
        .code(1)
        .stderr_has("main.hcl:2:12")
        .stderr_has("module \"net\": source directory")
        .stderr_has("does not exist");
}

#[test]
fn moving_a_resource_into_a_module_shows_the_move_and_destroys_nothing() {
    let w = Workdir::with_main(
        "resource \"local_file\" \"index\" {\n  filename = \"out/eu/index.txt\"\n  content  = \"served from eu by site\"\n}\n",
    );
    w.ok(&["apply", "--auto-approve"]);
    w.write("modules/site/main.hcl", SITE);
    w.write(
        "main.hcl",
        "module \"site\" {\n  source = \"./modules/site\"\n  region = \"eu\"\n}\n\nmoved {\n  from = local_file.index\n  to   = module.site.local_file.index\n}\n",
    );
    let plan = w.ok(&["plan", "--out", "plan.bin"]).stdout;
    assert!(
        plan.contains("# local_file.index has moved to module.site.local_file.index"),
        "{plan}"
    );
    assert!(plan.contains("Plan: 0 to add, 0 to change, 0 to destroy."), "{plan}");
    let doc: serde_json::Value =
        serde_json::from_str(&w.ok(&["show", "--json", "plan.bin"]).stdout).expect("one document");
    assert_valid(&schema("plan.schema.json"), &doc);
    assert_eq!(doc["resource_changes"][0]["previous_address"], "local_file.index");
    assert_eq!(doc["resource_changes"][0]["change"]["actions"], serde_json::json!(["no-op"]));
    w.ok(&["apply", "plan.bin"]).stdout_has("0 added, 0 changed, 0 destroyed");
    let listed = w.ok(&["state", "list"]).stdout;
    assert_eq!(listed.trim(), "module.site.local_file.index");
    assert_eq!(w.read("out/eu/index.txt"), "served from eu by site");
    w.ok(&["plan"]).stdout_has("No changes.");
}

/// A module's author renames a resource and says so in the module: every instance of every call
/// keeps its object; a loop between the module's statements is reported where they are written.
#[test]
fn a_moved_block_inside_a_module_renames_in_every_instance() {
    let w = workdir();
    w.ok(&["apply", "--auto-approve"]);
    w.write(
        "modules/site/main.hcl",
        &format!(
            "{}\nmoved {{\n  from = local_file.index\n  to   = local_file.home\n}}\n",
            SITE.replace("\"index\"", "\"home\"")
                .replace("local_file.index.filename", "local_file.home.filename")
        ),
    );
    let plan = w.ok(&["plan"]).stdout;
    for k in ["eu", "us"] {
        let line = format!(
            "# module.site[\"{k}\"].local_file.index has moved to module.site[\"{k}\"].local_file.home"
        );
        assert!(plan.contains(&line), "{line} in\n{plan}");
    }
    assert!(plan.contains("Plan: 0 to add, 0 to change, 0 to destroy."), "{plan}");
    w.ok(&["apply", "--auto-approve"]).stdout_has("0 added, 0 changed, 0 destroyed");
    let listed = w.ok(&["state", "list"]).stdout;
    assert_eq!(
        listed.lines().collect::<Vec<_>>(),
        ["module.site[\"eu\"].local_file.home", "module.site[\"us\"].local_file.home"]
    );
    assert_eq!(w.read("out/us/index.txt"), "served from us by site");

    // Statements leading back to where they started, inside the module.
    w.write(
        "modules/site/moves.hcl",
        "moved {\n  from = local_file.home\n  to   = local_file.x\n}\n\nmoved {\n  from = local_file.x\n  to   = local_file.home\n}\n",
    );
    let run = w.run(&["plan"]).code(1).stderr_has("moves.hcl:1:1");
    // One report for the module's statements, not one per instance (eu, us).
    let loops = run.stderr.matches("cyclic dependency in move statements").count();
    assert_eq!(loops, 1, "{}", run.stderr);
}

#[test]
fn an_import_block_is_planned_shown_and_applied() {
    let w = Workdir::with_main(
        "import {\n  to = local_file.motd\n  id = \"out/motd.txt\"\n}\n\nresource \"local_file\" \"motd\" {\n  filename = \"out/motd.txt\"\n  content  = \"hello\"\n}\n",
    );
    w.write("out/motd.txt", "hello");
    let plan = w.ok(&["plan", "--out", "plan.bin"]).stdout;
    assert!(plan.contains("# local_file.motd will be imported"), "{plan}");
    assert!(plan.contains("Plan: 1 to import, 0 to add, 0 to change, 0 to destroy."), "{plan}");
    let doc: serde_json::Value =
        serde_json::from_str(&w.ok(&["show", "--json", "plan.bin"]).stdout).expect("one document");
    assert_valid(&schema("plan.schema.json"), &doc);
    assert_eq!(doc["resource_changes"][0]["change"]["importing"]["id"], "out/motd.txt");
    w.ok(&["apply", "plan.bin"]);
    assert_eq!(w.ok(&["state", "list"]).stdout.trim(), "local_file.motd");
    w.ok(&["plan"]).stdout_has("No changes.");
}

/// `import` with `for_each` (Terraform 1.7): one import per element, keyed by `each.key`; an
/// element whose instance the configuration does not declare is an error at the block.
#[test]
fn an_import_block_with_for_each_imports_every_element() {
    let config = |keys: &str| {
        format!(
            r#"variable "files" {{
  type    = map(string)
  default = {{ a = "out/a.txt", b = "out/b.txt" }}
}}

import {{
  for_each = var.files
  to       = local_file.f[each.key]
  id       = each.value
}}

resource "local_file" "f" {{
  for_each = {keys}
  filename = each.value
  content  = "hello"
}}
"#
        )
    };
    let w = Workdir::with_main(&config("{ a = \"out/a.txt\" }"));
    w.write("out/a.txt", "hello");
    w.write("out/b.txt", "hello");
    w.run(&["plan"])
        .code(1)
        .stderr_has("configuration for import target local_file.f[\"b\"] does not exist")
        .stderr_has("main.hcl:8:14");

    w.write("main.hcl", &config("var.files"));
    let plan = w.ok(&["plan", "--out", "plan.bin"]).stdout;
    assert!(plan.contains("# local_file.f[\"a\"] will be imported"), "{plan}");
    assert!(plan.contains("# local_file.f[\"b\"] will be imported"), "{plan}");
    assert!(plan.contains("Plan: 2 to import, 0 to add, 0 to change, 0 to destroy."), "{plan}");
    w.ok(&["apply", "plan.bin"])
        .stdout_has("Apply complete! Resources: 2 imported, 0 added, 0 changed, 0 destroyed.");
    let listed = w.ok(&["state", "list"]).stdout;
    assert_eq!(listed.lines().collect::<Vec<_>>(), ["local_file.f[\"a\"]", "local_file.f[\"b\"]"]);
    w.ok(&["plan"]).stdout_has("No changes.");

    // `to` without an index from each element would import every element into one address.
    w.write("main.hcl", &config("var.files").replace("local_file.f[each.key]", "local_file.f"));
    w.run(&["validate"])
        .code(1)
        .stderr_has("import with for_each into local_file.f, which has no index");
}

#[test]
fn a_removed_block_forgets_without_destroying() {
    let w = Workdir::with_main(
        "resource \"local_file\" \"keep\" {\n  filename = \"out/keep.txt\"\n  content  = \"k\"\n}\n",
    );
    w.ok(&["apply", "--auto-approve"]);
    w.write(
        "main.hcl",
        "removed {\n  from = local_file.keep\n  lifecycle {\n    destroy = false\n  }\n}\n",
    );
    let plan = w.ok(&["plan", "--out", "plan.bin"]).stdout;
    assert!(
        plan.contains(
            "# local_file.keep will no longer be managed by meshform, but will not be destroyed"
        ),
        "{plan}"
    );
    assert!(plan.contains("Plan: 0 to add, 0 to change, 0 to destroy, 1 to forget."), "{plan}");
    let doc: serde_json::Value =
        serde_json::from_str(&w.ok(&["show", "--json", "plan.bin"]).stdout).expect("one document");
    assert_valid(&schema("plan.schema.json"), &doc);
    assert_eq!(doc["resource_changes"][0]["change"]["actions"], serde_json::json!(["forget"]));
    w.ok(&["apply", "plan.bin"]);
    assert_eq!(w.ok(&["state", "list"]).stdout.trim(), "");
    assert_eq!(w.read("out/keep.txt"), "k", "the file stays");
}

/// A `removed` block inside a module forgets the resource it names in every instance of the
/// module, and only there.
#[test]
fn a_removed_block_inside_a_module_forgets_in_every_instance() {
    let w = workdir();
    w.ok(&["apply", "--auto-approve"]);
    w.write(
        "modules/site/main.hcl",
        "variable \"region\" {\n  type = string\n}\n\noutput \"file\" {\n  value = \"gone\"\n}\n\nremoved {\n  from = local_file.index\n  lifecycle {\n    destroy = false\n  }\n}\n",
    );
    let plan = w.ok(&["plan"]).stdout;
    for k in ["eu", "us"] {
        let line = format!("# module.site[\"{k}\"].local_file.index will no longer be managed by meshform, but will not be destroyed");
        assert!(plan.contains(&line), "{line} in\n{plan}");
    }
    assert!(plan.contains("0 to destroy, 2 to forget."), "{plan}");
    w.ok(&["apply", "--auto-approve"]);
    assert_eq!(w.ok(&["state", "list"]).stdout.trim(), "");
    assert_eq!(w.read("out/eu/index.txt"), "served from eu by site", "the files stay");
}
