//! The whole life of a configuration of `local_file`s, as a user drives it: validate, plan, apply, drift,
//! replacement, destroy; and the commands that read what was applied (`show`, `output`, `graph`).

use crate::support::Workdir;

const CONFIG: &str = r#"
variable "greeting" {
  type    = string
  default = "hello"
}

resource "local_file" "greeting" {
  filename = "out/greeting.txt"
  content  = "${var.greeting}, world\n"
}

resource "local_file" "private" {
  filename        = "out/private.txt"
  content         = "greeting sha256: ${local_file.greeting.content_sha256}\n"
  file_permission = "0600"
}

output "greeting_file" {
  value = local_file.greeting.filename
}
"#;

#[cfg(unix)]
fn mode(w: &Workdir, rel: &str) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(w.join(rel)).expect("stat").permissions().mode() & 0o7777
}

/// What `local_file.private` holds: the SHA-256 of "hello, world\n" (computed with sha256sum).
const PRIVATE_CONTENT: &str =
    "greeting sha256: 853ff93762a06ddbf722c4ebe9ddd66d8f63ddaea97f521c3ecc20da7c976020\n";

#[track_caller]
fn assert_before(log: &str, first: &str, then: &str) {
    let a = log.find(first).unwrap_or_else(|| panic!("no {first:?} in\n{log}"));
    let b = log.find(then).unwrap_or_else(|| panic!("no {then:?} in\n{log}"));
    assert!(a < b, "{first:?} must come before {then:?}:\n{log}");
}

#[test]
fn validate_plan_apply_drift_replace_destroy() {
    let w = Workdir::with_main(CONFIG);

    w.ok(&["validate"]).stdout_has("Success! The configuration is valid.");

    // A first plan proposes both files and touches nothing.
    w.ok(&["plan"])
        .stdout_has(
            "  # local_file.greeting will be created\n  + resource \"local_file\" \"greeting\" {",
        )
        .stdout_has("  + resource \"local_file\" \"private\" {")
        .stdout_has("+ filename        = \"out/private.txt\"")
        .stdout_has("Plan: 2 to add, 0 to change, 0 to destroy.");
    assert!(!w.exists("out/greeting.txt"), "plan must not create anything");
    w.run(&["plan", "--detailed-exitcode"]).code(2);

    // Apply writes the files, with their content and permissions, dependencies first.
    let apply = w
        .ok(&["apply", "--auto-approve"])
        .stdout_has("Apply complete! Resources: 2 added, 0 changed, 0 destroyed.")
        .stdout_has("greeting_file = \"out/greeting.txt\"");
    assert_before(
        &apply.stderr,
        "local_file.greeting: Creation complete",
        "local_file.private: Creating...",
    );
    assert_eq!(w.read("out/greeting.txt"), "hello, world\n");
    assert_eq!(w.read("out/private.txt"), PRIVATE_CONTENT);
    #[cfg(unix)]
    {
        assert_eq!(mode(&w, "out/greeting.txt"), 0o644);
        assert_eq!(mode(&w, "out/private.txt"), 0o600);
    }

    // Nothing left to do.
    w.ok(&["plan"]).stdout_has("No changes. Your infrastructure matches the configuration.");
    w.run(&["plan", "--detailed-exitcode"]).code(0);

    // Someone edits one file and deletes the other: the plan reports the drift, then restores both.
    w.write("out/greeting.txt", "tampered\n");
    std::fs::remove_file(w.join("out/private.txt")).expect("delete");
    let drift = w.run(&["plan", "--detailed-exitcode"]).code(2);
    let out = &drift.stdout;
    let section = out.find("Objects have changed outside of meshform").expect(out);
    let actions = out.find("meshform will perform the following actions").expect(out);
    assert!(section < actions, "drift comes before the plan:\n{out}");
    let (drift_part, plan_part) = out.split_at(actions);
    assert!(drift_part.contains("# local_file.greeting has been changed"), "{out}");
    assert!(drift_part.contains("          - hello, world\n          + tampered\n"), "{out}");
    assert!(drift_part.contains("# local_file.private has been deleted"), "{out}");
    assert!(plan_part.contains("# local_file.greeting will be updated in-place"), "{out}");
    assert!(plan_part.contains("          - tampered\n          + hello, world\n"), "{out}");
    assert!(plan_part.contains("# local_file.private will be created"), "{out}");
    assert!(plan_part.contains("Plan: 1 to add, 1 to change, 0 to destroy."), "{out}");

    w.ok(&["apply", "--auto-approve"])
        .stdout_has("Apply complete! Resources: 1 added, 1 changed, 0 destroyed.");
    assert_eq!(w.read("out/greeting.txt"), "hello, world\n");
    assert_eq!(w.read("out/private.txt"), PRIVATE_CONTENT);
    w.run(&["plan", "--detailed-exitcode"]).code(0);

    // A new file name cannot be updated in place: the file is replaced.
    w.write("main.hcl", &CONFIG.replace("out/greeting.txt", "out/hello.txt"));
    w.ok(&["plan"])
        .stdout_has(
            "  # local_file.greeting must be replaced\n-/+ resource \"local_file\" \"greeting\" {",
        )
        .stdout_has("~ filename = \"out/greeting.txt\" -> \"out/hello.txt\" # forces replacement")
        .stdout_has("Plan: 1 to add, 0 to change, 1 to destroy.");
    w.ok(&["apply", "--auto-approve"])
        .stdout_has("Apply complete! Resources: 1 added, 0 changed, 1 destroyed.");
    assert!(!w.exists("out/greeting.txt"), "the old file is gone");
    assert_eq!(w.read("out/hello.txt"), "hello, world\n");
    w.run(&["plan", "--detailed-exitcode"]).code(0);

    // Destroy removes every file, dependents first, and empties the state.
    let destroy = w
        .ok(&["destroy", "--auto-approve"])
        .stdout_has("  # local_file.greeting will be destroyed")
        .stdout_has("Destroy complete! Resources: 2 destroyed.");
    assert_before(
        &destroy.stderr,
        "local_file.private: Destruction complete",
        "local_file.greeting: Destroying...",
    );
    let left: Vec<_> = std::fs::read_dir(w.join("out")).expect("out/").collect();
    assert!(left.is_empty(), "files left after destroy: {left:?}");
    let list = w.ok(&["state", "list"]);
    assert_eq!(list.stdout, "", "the state lists nothing after destroy");
    w.ok(&["plan"]).stdout_has("Plan: 2 to add, 0 to change, 0 to destroy.");
}

#[test]
fn show_output_and_graph_read_what_was_applied() {
    let w = Workdir::with_main(CONFIG);
    w.ok(&["show"]).stdout_has("The state is empty.");
    w.run(&["output", "greeting_file"])
        .code(1)
        .stderr_has("no output named \"greeting_file\"")
        .stderr_has("run apply first");
    w.ok(&["apply", "--auto-approve"]);

    w.ok(&["show"])
        .stdout_has("# local_file.greeting:\nresource \"local_file\" \"greeting\" {\n")
        .stdout_has("    filename        = \"out/greeting.txt\"\n")
        .stdout_has("    file_permission = \"0600\"\n")
        .stdout_has("Outputs:\n\ngreeting_file = \"out/greeting.txt\"\n");
    let shown: serde_json::Value =
        serde_json::from_str(&w.ok(&["show", "--json"]).stdout).expect("show --json is JSON");
    let addrs: Vec<&str> = shown["values"]["root_module"]["resources"]
        .as_array()
        .expect("resources")
        .iter()
        .map(|r| r["address"].as_str().expect("address"))
        .collect();
    assert_eq!(addrs, ["local_file.greeting", "local_file.private"]);
    assert_eq!(
        shown["values"]["root_module"]["resources"][0]["values"]["content"],
        "hello, world\n"
    );

    assert_eq!(w.ok(&["output"]).stdout, "greeting_file = \"out/greeting.txt\"\n");
    assert_eq!(w.ok(&["output", "greeting_file"]).stdout, "\"out/greeting.txt\"\n");
    assert_eq!(w.ok(&["output", "greeting_file", "--raw"]).stdout, "out/greeting.txt\n");
    let outputs: serde_json::Value =
        serde_json::from_str(&w.ok(&["output", "--json"]).stdout).expect("output --json is JSON");
    assert_eq!(
        outputs,
        serde_json::json!({"greeting_file": {"sensitive": false, "value": "out/greeting.txt"}})
    );
    w.run(&["output", "greeting_fille"]).code(1).stderr_has("did you mean `greeting_file`?");

    let dot = w.ok(&["graph"]).stdout;
    assert!(dot.starts_with("digraph meshform {"), "{dot}");
    assert!(dot.contains("\"local_file.greeting\" -> \"local_file.private\";"), "{dot}");
    assert!(dot.contains("\"local_file.greeting\" -> \"output.greeting_file\";"), "{dot}");
    assert!(!dot.contains("\"local_file.private\" -> \"local_file.greeting\""), "{dot}");

    let mermaid = w.ok(&["graph", "--format", "mermaid"]).stdout;
    assert!(mermaid.starts_with("flowchart LR\n"), "{mermaid}");
    let id_of = |label: &str| {
        mermaid
            .lines()
            .find(|l| l.contains(&format!("\"{label}\"")))
            .and_then(|l| l.split_whitespace().next())
            .and_then(|l| l.split(['[', '(', '{']).next())
            .unwrap_or_else(|| panic!("no node {label} in\n{mermaid}"))
            .to_owned()
    };
    let (greeting, private) = (id_of("local_file.greeting"), id_of("local_file.private"));
    assert!(mermaid.contains(&format!("  {greeting} --> {private}\n")), "{mermaid}");
}

#[test]
fn state_surgery() {
    let w = Workdir::with_main(CONFIG);
    w.ok(&["apply", "--auto-approve"]);
    assert_eq!(w.state_list(), ["local_file.greeting", "local_file.private"]);
    assert_eq!(w.ok(&["state", "list", "local_file.private"]).stdout, "local_file.private\n");
    w.ok(&["state", "show", "local_file.greeting"])
        .stdout_has("# local_file.greeting:\nresource \"local_file\" \"greeting\" {\n")
        .stdout_has("    content         = \"hello, world\\n\"\n");
    w.run(&["state", "show", "local_file.nope"]).code(1).stderr_has("not in the state");

    // pull prints the stored document.
    let pulled = w.ok(&["state", "pull"]).stdout;
    let doc: serde_json::Value = serde_json::from_str(&pulled).expect("state pull is JSON");
    assert_eq!(doc, w.state_json());
    let serial = doc["serial"].as_u64().expect("serial");
    w.write("pulled.json", &pulled);

    // mv renames in state only; the file stays.
    w.ok(&["state", "mv", "local_file.private", "local_file.secret"])
        .stdout_has("Move \"local_file.private\" to \"local_file.secret\"");
    assert_eq!(w.state_list(), ["local_file.greeting", "local_file.secret"]);
    assert!(w.exists("out/private.txt"));
    w.ok(&["state", "mv", "local_file.secret", "local_file.private"]);

    // push refuses a document older than the stored one…
    let before = w.state_json();
    assert!(before["serial"].as_u64().expect("serial") > serial);
    w.run(&["state", "push", "pulled.json"]).code(1).stderr_has("--force");
    assert_eq!(w.state_json(), before, "a refused push leaves the state untouched");

    // …and one from another history, even when it looks newer…
    let mut foreign = doc.clone();
    foreign["lineage"] = "00000000-0000-4000-8000-000000000000".into();
    foreign["serial"] = (serial + 100).into();
    w.write("foreign.json", &foreign.to_string());
    w.run(&["state", "push", "foreign.json"]).code(1).stderr_has("lineage");
    assert_eq!(w.state_json(), before);

    // …unless forced.
    w.ok(&["state", "push", "--force", "foreign.json"]);
    assert_eq!(w.state_json()["lineage"], "00000000-0000-4000-8000-000000000000");

    // A newer document of the same history is accepted.
    let mut newer = w.state_json();
    newer["serial"] = (newer["serial"].as_u64().expect("serial") + 5).into();
    newer["resources"] = serde_json::json!([newer["resources"][0].clone()]);
    w.write("newer.json", &newer.to_string());
    w.ok(&["state", "push", "newer.json"]);
    assert_eq!(w.state_list(), ["local_file.greeting"]);

    // rm forgets without destroying; import adopts the file again.
    w.ok(&["state", "rm", "local_file.greeting"]).stdout_has("Removed local_file.greeting");
    assert!(w.state_list().is_empty());
    assert!(w.exists("out/greeting.txt"), "rm leaves the object alone");
    w.ok(&["import", "local_file.greeting", "out/greeting.txt"]);
    w.ok(&["import", "local_file.private", "out/private.txt"]);
    w.run(&["plan", "--detailed-exitcode"]).code(0);

    // Imported objects carry no recorded dependencies: destroy still follows the configuration's.
    let destroy = w.ok(&["destroy", "--auto-approve"]);
    assert_before(
        &destroy.stderr,
        "local_file.private: Destruction complete",
        "local_file.greeting: Destroying...",
    );
}

#[test]
fn objects_deleted_outside_meshform_leave_the_state() {
    let w = Workdir::with_main(CONFIG);
    w.ok(&["apply", "--auto-approve"]);

    // A resource removed from the configuration whose file is already gone: nothing to destroy, but
    // the state must not keep it.
    let (before, rest) = CONFIG.split_once("resource \"local_file\" \"private\"").expect("split");
    let (_, output) = rest.split_once("output").expect("the output follows");
    w.write("main.hcl", &format!("{before}output{output}"));
    std::fs::remove_file(w.join("out/private.txt")).expect("delete");
    w.run(&["plan", "--detailed-exitcode"])
        .code(2)
        .stdout_has("# local_file.private has been deleted")
        .stdout_has("No resource changes; the state's bookkeeping will be updated.");
    w.ok(&["apply", "--auto-approve"]);
    assert_eq!(w.state_list(), ["local_file.greeting"]);
    w.run(&["plan", "--detailed-exitcode"]).code(0);

    // Destroying what is already gone empties the state.
    std::fs::remove_file(w.join("out/greeting.txt")).expect("delete");
    w.ok(&["destroy", "--auto-approve"]).stdout_has("Destroy complete! Resources: 0 destroyed.");
    assert!(w.state_list().is_empty());
}

#[test]
fn refresh_only_probes_drift_and_records_it_without_changing_anything() {
    let w = Workdir::with_main(CONFIG);
    // Before anything exists (resources referring to uncreated ones included): no drift.
    w.run(&["plan", "--refresh-only", "--detailed-exitcode"])
        .code(0)
        .stdout_has("No changes. Your infrastructure still matches the configuration.");
    w.ok(&["apply", "--auto-approve"]);
    w.run(&["plan", "--refresh-only", "--detailed-exitcode"]).code(0);

    w.write("out/greeting.txt", "edited by hand\n");
    w.run(&["plan", "--refresh-only", "--detailed-exitcode"])
        .code(2)
        .stdout_has("# local_file.greeting has been changed")
        .stdout_has(
            "This is a refresh-only plan, so meshform will not take any actions to undo these.",
        );
    w.ok(&["apply", "--refresh-only", "--auto-approve"]);
    assert_eq!(w.read("out/greeting.txt"), "edited by hand\n", "refresh-only changes no object");
    assert_eq!(
        w.state_json()["resources"][0]["instances"][0]["attributes"]["content"],
        "edited by hand\n"
    );
    w.run(&["plan", "--refresh-only", "--detailed-exitcode"]).code(0);
    // A normal plan still wants the configured content back.
    w.run(&["plan", "--detailed-exitcode"])
        .code(2)
        .stdout_has("# local_file.greeting will be updated in-place");
}

#[test]
fn a_failed_create_skips_its_dependents_and_keeps_independent_work() {
    let w = Workdir::with_main(
        r#"
resource "local_file" "blocked" {
  filename = "blocker/file.txt"
  content  = "x"
}

resource "local_file" "dependent" {
  filename = "dependent.txt"
  content  = local_file.blocked.id
}

resource "local_file" "independent" {
  filename = "independent.txt"
  content  = "ok"
}
"#,
    );
    // A plain file where a directory is needed: the create fails.
    w.write("blocker", "in the way");
    let run = w
        .run(&["apply", "--auto-approve"])
        .code(1)
        .stderr_has("local_file.blocked: create failed")
        .stderr_has("Not attempted because something they depend on failed")
        .stderr_has("  - local_file.dependent\n")
        .stderr_has("Apply failed. Resources: 1 added, 0 changed, 0 destroyed");
    assert!(!run.stderr.contains("  - local_file.blocked\n"), "it was attempted:\n{}", run.stderr);
    assert!(!run.stderr.contains("  - local_file.independent"), "{}", run.stderr);
    assert_eq!(w.read("independent.txt"), "ok");
    assert_eq!(w.state_list(), ["local_file.independent"]);

    // Once the cause is fixed, the next apply does the rest.
    std::fs::remove_file(w.join("blocker")).expect("remove the blocker");
    w.ok(&["apply", "--auto-approve"])
        .stdout_has("Apply complete! Resources: 2 added, 0 changed, 0 destroyed.");
    assert_eq!(w.read("dependent.txt"), "blocker/file.txt");
    w.run(&["plan", "--detailed-exitcode"]).code(0);
}
