//! Output for machines and reviewers: JSON lines checked against `schemas/events.schema.json`,
//! `show --json` against `schemas/plan.schema.json`, Markdown comments (snapshots, the size limit),
//! detailed exit codes and the drift probe, and non-interactive behaviour under `CI=true`.

use crate::harness::{assert_valid, json_lines, schema, Workdir};

const MAIN: &str = r#"
variable "token" {
  type      = string
  default   = "s3cr3t-t0ken-value"
  sensitive = true
}

resource "local_file" "keep" {
  filename = "out/keep.txt"
  content  = "kept"
}

resource "local_file" "secret" {
  filename = "out/secret.txt"
  content  = var.token
}

resource "local_file" "regions" {
  for_each = toset(["cn-hangzhou", "cn-shanghai"])
  filename = "out/${each.key}.txt"
  content  = "region ${each.key}"
}

output "keep_file" {
  value = local_file.keep.filename
}
"#;

/// The configuration applied, then changed so that a plan creates, updates, replaces and deletes.
fn changing() -> Workdir {
    let w = Workdir::with_main(MAIN);
    w.ok(&["apply", "--auto-approve"]);
    let changed = MAIN
        .replace("content  = \"kept\"", "content  = \"kept, edited\"")
        .replace("\"cn-hangzhou\", \"cn-shanghai\"", "\"cn-shanghai\", \"cn-beijing\"")
        .replace("filename = \"out/secret.txt\"", "filename = \"out/secret-moved.txt\"");
    w.write("main.hcl", &changed);
    w
}

/// Lines whose values depend on the temporary directory or the state's lineage, made stable.
fn stable(text: &str, w: &Workdir) -> String {
    text.replace(&w.path().display().to_string(), "[dir]")
}

#[test]
fn plan_json_lines_follow_the_schema() {
    let w = changing();
    let v = schema("events.schema.json");
    let run = w.run(&["plan", "--json", "--detailed-exitcode"]).code(2);
    let lines = json_lines(&run.stdout);
    for l in &lines {
        assert_valid(&v, l);
    }
    assert_eq!(lines[0]["type"], "version");
    assert!(!run.stdout.contains("s3cr3t"), "{}", run.stdout);
    let types: Vec<&str> = lines.iter().map(|l| l["type"].as_str().unwrap()).collect();
    assert_eq!(types.last(), Some(&"change_summary"));
    assert!(types.contains(&"planned_change") && types.contains(&"refresh_start"), "{types:?}");
    insta::assert_snapshot!("plan_json_lines", stable(&run.stdout, &w));
}

#[test]
fn apply_json_lines_follow_the_schema() {
    let w = changing();
    let v = schema("events.schema.json");
    let run = w.ok(&["apply", "--json", "--auto-approve"]);
    let lines = json_lines(&run.stdout);
    for l in &lines {
        assert_valid(&v, l);
    }
    let types: Vec<&str> = lines.iter().map(|l| l["type"].as_str().unwrap()).collect();
    for t in ["version", "planned_change", "apply_start", "apply_complete", "change_summary"] {
        assert!(types.contains(&t), "{t} missing from {types:?}");
    }
    let last = lines.last().unwrap();
    assert_eq!(
        last["changes"],
        serde_json::json!({"add": 2, "change": 1, "import": 0, "remove": 2, "operation": "apply"})
    );
    assert_eq!(last["@message"], "Apply complete! Resources: 2 added, 1 changed, 2 destroyed.");
    assert!(!run.stdout.contains("s3cr3t"));
    // A failure is reported as a diagnostic line, still valid.
    let broken =
        Workdir::with_main("resource \"local_file\" \"x\" {\n  filename = 1\n  nope = 2\n}\n");
    let run = broken.run(&["plan", "--json"]).code(1);
    for l in json_lines(&run.stdout) {
        assert_valid(&v, &l);
    }
    assert!(run.stdout.contains("\"type\":\"diagnostic\""), "{}", run.stdout);
}

#[test]
fn show_json_of_a_saved_plan_follows_the_schema() {
    let w = changing();
    w.ok(&["plan", "--out", "plan.bin"]);
    let doc: serde_json::Value =
        serde_json::from_str(&w.ok(&["show", "--json", "plan.bin"]).stdout).expect("one document");
    assert_valid(&schema("plan.schema.json"), &doc);
    assert_eq!(doc["format_version"], "1.2");
    assert_eq!(
        (doc["applyable"].clone(), doc["complete"].clone(), doc["errored"].clone()),
        (true.into(), true.into(), false.into())
    );
    let change = |addr: &str| {
        doc["resource_changes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["address"] == addr)
            .unwrap()
            .clone()
    };
    assert_eq!(change("local_file.keep")["change"]["actions"], serde_json::json!(["update"]));
    assert_eq!(
        change("local_file.secret")["change"]["actions"],
        serde_json::json!(["delete", "create"])
    );
    assert_eq!(
        change("local_file.secret")["change"]["after_sensitive"],
        serde_json::json!({"content": true})
    );
    assert_eq!(change("local_file.secret")["change"]["after"]["content"], "(sensitive value)");
    assert_eq!(change("local_file.secret")["action_reason"], "replace_because_cannot_update");
    assert_eq!(
        change("local_file.regions[\"cn-hangzhou\"]")["change"]["actions"],
        serde_json::json!(["delete"])
    );
    assert_eq!(change("local_file.regions[\"cn-beijing\"]")["index"], "cn-beijing");
    assert_eq!(
        doc["variables"]["token"],
        serde_json::json!({"value": "(sensitive value)", "sensitive": true})
    );
    let mut redacted = doc.clone();
    redacted["prior_state"]["lineage"] = "[lineage]".into();
    redacted["prior_state"]["serial"] = "[serial]".into();
    redacted["configuration"]["digest"] = "[digest]".into();
    insta::assert_snapshot!(
        "show_json",
        stable(&serde_json::to_string_pretty(&redacted).unwrap(), &w)
    );
}

#[test]
fn markdown_comment_puts_destruction_first() {
    let w = changing();
    let md = w.ok(&["plan", "--markdown"]).stdout;
    assert!(!md.contains("s3cr3t"));
    insta::assert_snapshot!("plan_markdown", stable(&md, &w));
    w.ok(&["plan", "--out", "plan.bin"]);
    let shown = w.ok(&["show", "--markdown", "plan.bin"]).stdout;
    assert!(shown.contains("Saved plan: `plan.bin`"), "{shown}");
    assert_eq!(
        shown.split("<sub>").next(),
        Some(md.as_str()),
        "show --markdown renders as plan --markdown did"
    );
}

#[test]
fn huge_plans_fit_in_a_comment() {
    let w = Workdir::with_main(
        r#"
resource "local_file" "many" {
  count    = 700
  filename = "out/${count.index}.txt"
  content  = join("\n", [for i in range(20) : "line ${i} of file ${count.index}"])
}
"#,
    );
    let md = w.ok(&["plan", "--markdown", "--refresh=false"]).stdout;
    assert!(md.len() < 65_536, "{} bytes", md.len());
    assert!(
        md.starts_with("### meshform plan: 700 to add, 0 to change, 0 to destroy"),
        "{}",
        &md[..200]
    );
    assert!(
        md.contains("Folded to keep this comment under GitHub's 65536 character limit"),
        "{md}"
    );
}

#[test]
fn detailed_exit_codes_and_the_drift_probe() {
    let w = Workdir::with_main(MAIN);
    w.run(&["plan", "--detailed-exitcode"]).code(2);
    w.ok(&["apply", "--auto-approve"]);
    w.run(&["plan", "--detailed-exitcode"]).code(0);
    w.run(&["plan", "--refresh-only", "--detailed-exitcode"]).code(0);
    // Drift made by hand: the probe reports it, and --refresh=false does not see it.
    w.write("out/keep.txt", "edited by hand");
    w.run(&["plan", "--refresh-only", "--detailed-exitcode"])
        .code(2)
        .stdout_has("has been changed");
    w.run(&["plan", "--refresh=false", "--detailed-exitcode"]).code(0);
    w.run(&["plan", "--detailed-exitcode", "--exclude", "local_file.keep"]).code(0);
    w.run(&["plan", "--detailed-exitcode", "--target", "local_file.keep"]).code(2);
    // An error is 1, never 2.
    w.write("main.hcl", "resource \"local_file\" {");
    w.run(&["plan", "--detailed-exitcode"]).code(1);
}

#[test]
fn ci_is_non_interactive_and_colourless() {
    let w = Workdir::with_main(MAIN);
    let run = w.cmd(&["apply"]).env_remove("NO_COLOR").env("CI", "true").output().unwrap();
    assert_eq!(run.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.contains("--auto-approve"), "{stderr}");
    let run = w.cmd(&["plan"]).env_remove("NO_COLOR").env("CI", "true").output().unwrap();
    let all = [run.stdout, run.stderr].concat();
    assert!(
        !all.contains(&0x1b),
        "no escape sequences in CI logs: {}",
        String::from_utf8_lossy(&all)
    );
}
