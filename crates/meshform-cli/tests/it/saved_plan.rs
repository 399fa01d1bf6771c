//! Saved plans: `plan --out FILE`, `show FILE`, `apply FILE`; refusals that name what changed; an
//! unrelated state write that does not make a plan stale; damaged files; no secret in the file.

use crate::harness::Workdir;

const TOKEN: &str = "s3cr3t-t0ken-value";

const MAIN: &str = r#"
variable "greeting" {
  type    = string
  default = "hello"
}

variable "farewell" {
  type    = string
  default = "bye"
}

variable "token" {
  type      = string
  sensitive = true
}

resource "local_file" "a" {
  filename = "out/a.txt"
  content  = var.greeting
}

resource "local_file" "b" {
  filename = "out/b.txt"
  content  = var.farewell
}

resource "local_file" "secret" {
  filename = "out/secret.txt"
  content  = var.token
}
"#;

/// A directory with everything applied once, the token given through the environment.
fn applied() -> Workdir {
    let mut w = Workdir::with_main(MAIN);
    w.env.push(("MESHFORM_VAR_token".into(), TOKEN.into()));
    w.ok(&["apply", "--auto-approve"]);
    assert_eq!(w.read("out/a.txt"), "hello");
    w
}

#[test]
fn a_saved_plan_is_shown_as_planned_and_applied_exactly_once() {
    let w = applied();
    let planned = w.ok(&["plan", "--out", "plan.bin", "--var", "greeting=hi"]);
    assert!(planned.stdout.contains("Saved the plan to: plan.bin"), "{}", planned.stdout);
    assert!(planned.stdout.contains("meshform apply plan.bin"), "{}", planned.stdout);

    // `show FILE` renders it exactly as `plan` did, without contacting anything.
    let shown = w.ok(&["show", "plan.bin"]).stdout;
    let plan_text = planned.stdout.split("─────").next().unwrap().trim();
    assert_eq!(shown.trim(), plan_text);
    assert!(shown.contains("# local_file.a will be updated in-place"), "{shown}");
    assert!(shown.contains("Plan: 0 to add, 1 to change, 0 to destroy."), "{shown}");

    // No secret in the file, nor in what is shown of it.
    let bytes = std::fs::read(w.join("plan.bin")).unwrap();
    assert!(!String::from_utf8_lossy(&bytes).contains(TOKEN), "the plan file holds the token");
    assert!(!w.ok(&["show", "--json", "plan.bin"]).stdout.contains(TOKEN));
    assert!(!w.ok(&["show", "--markdown", "plan.bin"]).stdout.contains(TOKEN));

    // Applied without --var greeting (the plan remembers non-sensitive values) and without a prompt;
    // the sensitive token must be given again, and is (through the environment).
    let run = w.ok(&["apply", "plan.bin"]);
    assert!(
        run.stdout.contains("Apply complete! Resources: 0 added, 1 changed, 0 destroyed."),
        "{}",
        run.stdout
    );
    assert_eq!(w.read("out/a.txt"), "hi");

    // Applying it again would change local_file.a a second time: refused, naming why.
    w.run(&["apply", "plan.bin"])
        .code(1)
        .stderr_has("is stale")
        .stderr_has("the state of local_file.a was changed by another run");
}

#[test]
fn a_state_write_to_other_resources_does_not_make_a_plan_stale() {
    let w = applied();
    // Two pipelines plan changes to different resources from the same state...
    w.ok(&["plan", "--target", "local_file.a", "--var", "greeting=hi", "--out", "a.bin"]);
    w.ok(&["plan", "--target", "local_file.b", "--var", "farewell=ciao", "--out", "b.bin"]);
    let serial = w.state_json()["serial"].as_u64().unwrap();
    // ...one applies (the state's serial moves: Terraform would now call the other plan stale)...
    w.ok(&["apply", "b.bin"]);
    assert!(w.state_json()["serial"].as_u64().unwrap() > serial);
    assert_eq!(w.read("out/b.txt"), "ciao");
    // ...and the other still applies, because nothing it touches changed.
    w.ok(&["apply", "a.bin"]).stdout_has("1 changed");
    assert_eq!(w.read("out/a.txt"), "hi");
}

#[test]
fn refusals_name_what_changed() {
    // The configuration.
    let w = applied();
    w.ok(&["plan", "--var", "greeting=hi", "--out", "plan.bin"]);
    w.write("main.hcl", &format!("{MAIN}\n# a comment\n"));
    w.run(&["apply", "plan.bin"])
        .code(1)
        .stderr_has("the configuration changed since the plan was made: main.hcl modified");
    w.write("extra.hcl", "");
    w.write("main.hcl", MAIN);
    w.run(&["apply", "plan.bin"]).code(1).stderr_has("extra.hcl added");
    std::fs::remove_file(w.join("extra.hcl")).unwrap();

    // A variable, sensitive or not.
    let run = w.cmd(&["apply", "plan.bin"]).env("MESHFORM_VAR_token", "another").output().unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("variable \"token\" (sensitive) has a different value"), "{stderr}");
    assert!(!stderr.contains("another") && !stderr.contains(TOKEN), "{stderr}");
    w.run(&["apply", "plan.bin", "--var", "greeting=hey"])
        .code(1)
        .stderr_has("variable \"greeting\" has a different value");

    // The state lineage (another state was pushed in its place).
    let mut foreign = w.state_json();
    foreign["lineage"] = "00000000-0000-4000-8000-000000000000".into();
    w.write("foreign.json", &foreign.to_string());
    let kept = w.read("meshform.state.json");
    w.ok(&["state", "push", "--force", "foreign.json"]);
    w.run(&["apply", "plan.bin"])
        .code(1)
        .stderr_has("lineage 00000000-0000-4000-8000-000000000000");
    w.write("meshform.state.json", &kept);

    // Infrastructure changed outside meshform since the plan, so applying it would do something else.
    std::fs::remove_file(w.join("out/b.txt")).unwrap();
    w.run(&["apply", "plan.bin"])
        .code(1)
        .stderr_has("planning again gives a different plan")
        .stderr_has("local_file.b: now needs create, which the plan does not include");
    assert_eq!(w.read("out/a.txt"), "hello", "nothing was applied");
}

#[test]
fn damaged_and_foreign_files_are_rejected() {
    let w = applied();
    w.ok(&["plan", "--var", "greeting=hi", "--out", "plan.bin"]);
    let bytes = std::fs::read(w.join("plan.bin")).unwrap();

    std::fs::write(w.join("truncated.bin"), &bytes[..bytes.len() / 2]).unwrap();
    w.run(&["apply", "truncated.bin"]).code(1).stderr_has("damaged").stderr_has("checksum");
    w.run(&["show", "truncated.bin"]).code(1).stderr_has("damaged");
    std::fs::write(w.join("header.bin"), &bytes[..10]).unwrap();
    w.run(&["show", "header.bin"]).code(1).stderr_has("damaged");

    let text = String::from_utf8(bytes.clone()).unwrap();
    std::fs::write(w.join("edited.bin"), text.replace("out/a.txt", "out/x.txt")).unwrap();
    w.run(&["apply", "edited.bin"]).code(1).stderr_has("checksum does not match");

    std::fs::write(w.join("future.bin"), text.replacen("meshform-plan 1", "meshform-plan 9", 1))
        .unwrap();
    w.run(&["apply", "future.bin"]).code(1).stderr_has("plan format 9");

    w.write("not-a-plan.bin", "{\"version\": 1}\n");
    w.run(&["show", "not-a-plan.bin"]).code(1).stderr_has("not a meshform plan file");
    assert_eq!(w.read("out/a.txt"), "hello", "nothing was applied");
}

#[test]
fn planning_flags_are_saved_and_cannot_be_overridden() {
    let w = applied();
    w.ok(&["plan", "--replace", "local_file.b", "--refresh=false", "--out", "replace.bin"]);
    w.run(&["apply", "replace.bin", "--target", "local_file.a"])
        .code(1)
        .stderr_has("--target cannot be combined with a saved plan");
    let shown = w.ok(&["show", "replace.bin"]).stdout;
    assert!(shown.contains("local_file.b will be replaced, as requested"), "{shown}");
    w.ok(&["apply", "replace.bin"]).stdout_has("1 added, 0 changed, 1 destroyed");

    w.ok(&["plan", "--destroy", "--exclude", "local_file.secret", "--out", "destroy.bin"]);
    w.ok(&["apply", "destroy.bin"]).stdout_has("Destroy complete! Resources: 2 destroyed.");
    assert!(!w.exists("out/a.txt") && w.exists("out/secret.txt"));

    // A plan without changes applies as a no-op.
    w.ok(&["plan", "--target", "local_file.secret", "--out", "nothing.bin"]);
    w.ok(&["apply", "nothing.bin"]).stdout_has("No changes.");
}

#[test]
fn plan_files_are_deterministic() {
    let w = applied();
    w.ok(&["plan", "--var", "greeting=hi", "--out", "one.bin"]);
    w.ok(&["plan", "--var", "greeting=hi", "--out", "two.bin"]);
    assert_eq!(
        std::fs::read(w.join("one.bin")).unwrap(),
        std::fs::read(w.join("two.bin")).unwrap()
    );
}
