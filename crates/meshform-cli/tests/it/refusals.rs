//! What meshform refuses to do, and the exit codes scripts rely on (0 ok, 1 error, 2 changes,
//! 3 unformatted); and where variable values come from, in the order cli.md gives.

use crate::harness::{assert_valid, json_lines, schema};
use crate::support::Workdir;

const ONE_FILE: &str = r#"
resource "local_file" "a" {
  filename = "a.txt"
  content  = "a"
}
"#;

#[test]
fn apply_and_destroy_without_a_terminal_need_auto_approve() {
    let w = Workdir::with_main(ONE_FILE);
    // stdin is a closed pipe, not a terminal: there is nobody to answer the prompt.
    w.run(&["apply"])
        .code(1)
        .stderr_has("standard input is not a terminal")
        .stderr_has("--auto-approve");
    assert!(!w.exists("a.txt"), "nothing is applied");
    assert!(!w.exists("meshform.state.json"), "no state is written");

    w.ok(&["apply", "--auto-approve"]);
    w.run(&["destroy"]).code(1).stderr_has("--auto-approve");
    assert!(w.exists("a.txt"), "nothing is destroyed");
    assert_eq!(w.state_list(), ["local_file.a"]);

    w.run(&["apply", "--json"]).code(1).stderr_has("--auto-approve");
}

#[test]
fn usage_errors_exit_1_not_2() {
    let w = Workdir::with_main(ONE_FILE);
    // 2 would read as "changes present" to a --detailed-exitcode script.
    w.run(&["plan", "--detailed-exitcode", "--no-such-flag"]).code(1).stderr_has("--no-such-flag");
    w.run(&["plan", "--parallelism", "0"]).code(1);
    w.run(&["plan", "--lock-timeout", "5y"]).code(1).stderr_has("unknown unit");
    w.run(&["plan", "--target", "local_file.b"]).code(1).stderr_has("local_file.b");
    w.ok(&["--version"]).stdout_has("meshform ");
    w.ok(&["plan", "--help"]).stdout_has("--detailed-exitcode");
}

#[test]
fn fmt_check_exits_3_on_an_unformatted_file_and_changes_nothing() {
    let unformatted =
        "resource \"local_file\" \"a\" {\nfilename=\"a.txt\"\n    content = \"a\"\n}\n";
    let w = Workdir::new();
    w.write("main.hcl", unformatted);
    w.run(&["fmt", "--check"]).code(3).stdout_has("main.hcl");
    assert_eq!(w.read("main.hcl"), unformatted, "--check does not rewrite");
    w.run(&["fmt", "--check", "--diff"]).code(3).stdout_has("+  filename = \"a.txt\"");

    w.ok(&["fmt"]).stdout_has("main.hcl");
    let formatted = w.read("main.hcl");
    assert_ne!(formatted, unformatted);
    assert!(formatted.contains("  filename = \"a.txt\"\n  content  = \"a\"\n"), "{formatted}");
    let again = w.ok(&["fmt", "--check"]);
    assert_eq!(again.stdout, "", "nothing left to format");
}

#[test]
fn an_undeclared_var_is_an_error_naming_it() {
    let w = Workdir::with_main(
        "variable \"region\" {\n  default = \"eu\"\n}\noutput \"region\" {\n  value = var.region\n}\n",
    );
    w.run(&["plan", "--var", "regoin=us"])
        .code(1)
        .stderr_has("--var regoin: no variable \"regoin\" is declared")
        .stderr_has("did you mean `region`?");
    w.run(&["plan", "--var", "region"]).code(1).stderr_has("NAME=VALUE");
}

#[test]
fn variable_precedence() {
    // Each variable is set by one more source than the one before it, so each shows which wins.
    let w = Workdir::new();
    let mut main = String::new();
    for v in ["a", "b", "c", "d", "e", "f"] {
        main.push_str(&format!("variable \"{v}\" {{\n  default = \"default\"\n}}\n"));
    }
    main.push_str("output \"all\" {\n  value = \"a=${var.a} b=${var.b} c=${var.c} d=${var.d} e=${var.e} f=${var.f}\"\n}\n");
    w.write("main.hcl", &main);
    w.write(
        "meshform.vars.hcl",
        "b = \"vars\"\nc = \"vars\"\nd = \"vars\"\ne = \"vars\"\nf = \"vars\"\n",
    );
    w.write("x.auto.vars.hcl", "c = \"auto\"\nd = \"auto\"\ne = \"auto\"\nf = \"auto\"\n");
    // Not auto-loaded: only read when given (relative to -C).
    w.write("given.vars.hcl", "d = \"var-file\"\ne = \"var-file\"\nf = \"var-file\"\n");

    let args = ["apply", "--auto-approve", "--var-file", "given.vars.hcl", "--var", "f=cli"];
    w.run_with(&args, &[("MESHFORM_VAR_e", "env"), ("MESHFORM_VAR_f", "env")]).code(0);
    assert_eq!(
        w.ok(&["output", "all", "--raw"]).stdout,
        "a=default b=vars c=auto d=var-file e=env f=cli\n"
    );

    // Without the command-line sources, the files and defaults still apply.
    w.ok(&["apply", "--auto-approve"]);
    assert_eq!(
        w.ok(&["output", "all", "--raw"]).stdout,
        "a=default b=vars c=auto d=auto e=auto f=auto\n"
    );
}

const TWO_FILES: &str = r#"
resource "local_file" "a" {
  filename = "a.txt"
  content  = "a"
}
resource "local_file" "b" {
  filename = "b.txt"
  content  = "B"
}
"#;

#[test]
fn an_incomplete_plan_is_applied_only_with_allow_incomplete_and_says_what_it_left_out() {
    let w = Workdir::with_main(&TWO_FILES.replace("\"B\"", "\"b\""));
    w.ok(&["apply", "--auto-approve"]);
    // a.txt can no longer be read (a directory stands in its place); b's content changes.
    std::fs::remove_file(w.join("a.txt")).unwrap();
    std::fs::create_dir(w.join("a.txt")).unwrap();
    w.write("main.hcl", TWO_FILES);
    w.run(&["plan"]).code(1).stdout_has("this plan is incomplete").stdout_has("local_file.a");

    w.run(&["apply", "--auto-approve"])
        .code(1)
        .stderr_has("the plan is incomplete")
        .stderr_has("--allow-incomplete");
    assert_eq!(w.read("b.txt"), "b", "nothing is applied without --allow-incomplete");

    // A saved plan says it is incomplete before anything else, and is applied only when allowed.
    w.run(&["plan", "--out", "plan.bin"])
        .code(1)
        .stdout_has("meshform apply --allow-incomplete plan.bin");
    let shown = w.ok(&["show", "--json", "plan.bin"]);
    let doc: serde_json::Value = serde_json::from_str(&shown.stdout).unwrap();
    let first: Vec<&String> = doc.as_object().unwrap().keys().take(2).collect();
    assert_eq!(first, ["format_version", "complete"]);
    assert_eq!((doc["complete"].as_bool(), doc["applyable"].as_bool()), (Some(false), Some(false)));
    w.ok(&["show", "--markdown", "plan.bin"])
        .stdout_has("**This plan is incomplete**")
        .stdout_has("> - `local_file.a` (local):");
    w.run(&["apply", "plan.bin"]).code(1).stderr_has("--allow-incomplete");

    let done = w.ok(&["apply", "--allow-incomplete", "plan.bin"]);
    assert!(done.stdout.contains("1 changed"), "{}", done.stdout);
    assert!(done.stderr.contains("Left out of this run"), "{}", done.stderr);
    assert!(done.stderr.contains("local_file.a (provider local)"), "{}", done.stderr);
    assert_eq!(w.read("b.txt"), "B", "what was planned is applied");
    assert_eq!(w.state_list(), ["local_file.a", "local_file.b"], "a keeps its last known state");

    // Nothing left to change: the run still says what it could not plan, and succeeds.
    w.ok(&["apply", "--auto-approve", "--allow-incomplete"]).stderr_has("Left out of this run");
    let out = w.ok(&["apply", "--json", "--auto-approve", "--allow-incomplete"]);
    let events = schema("events.schema.json");
    let lines = json_lines(&out.stdout);
    lines.iter().for_each(|l| assert_valid(&events, l));
    let left: Vec<&serde_json::Value> = lines.iter().filter(|l| l["type"] == "left_out").collect();
    assert_eq!(left.len(), 1, "{}", out.stdout);
    assert!(left[0]["left_out"][0].as_str().unwrap().starts_with("local_file.a (provider local)"));
}

#[test]
fn output_into_a_closed_pipe_is_not_a_panic() {
    let mut main = String::new();
    for i in 0..2000 {
        main.push_str(&format!(
            "resource \"local_file\" \"f{i}\" {{\n  filename = \"f{i}.txt\"\n  content  = \"{i}\"\n}}\n"
        ));
    }
    let w = Workdir::with_main(&main);
    // `plan | head -n 1`: the reader goes away while meshform still writes the plan.
    let mut child = w
        .std_command(&["plan"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("meshform starts");
    let mut first = [0u8; 1];
    std::io::Read::read_exact(child.stdout.as_mut().expect("stdout"), &mut first).unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("meshform ends");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_ne!(out.status.code(), Some(101), "a panic exits 101: {stderr}");
}

#[test]
fn terraform_style_single_dash_flags_work_as_in_a_terraform_pipeline() {
    let w = Workdir::with_main(ONE_FILE);
    w.ok(&["plan", "-out=plan.bin", "-refresh=false", "-lock-timeout=5s"]);
    w.ok(&["apply", "-auto-approve", "-parallelism=2"]).stdout_has("1 added");
    w.ok(&["plan", "-detailed-exitcode", "--refresh"]);
    w.run(&["plan", "-refresh=maybe"]).code(1).stderr_has("not a boolean");
    // An unknown single-dash name is an error, as it is for Terraform.
    w.run(&["plan", "-no-such-flag"]).code(1);
    assert_eq!(w.state_list(), ["local_file.a"]);
}

#[test]
fn colour_is_decided_per_stream_and_can_be_forced_or_refused() {
    let w = Workdir::with_main(ONE_FILE);
    // stdout is a pipe here: no escape codes, unless forced; NO_COLOR wins over forcing.
    let plain = w.run_with(&["plan"], &[("NO_COLOR", "")]).code(0);
    assert!(!plain.stdout.contains('\u{1b}'), "{}", plain.stdout);
    let forced = w.run_with(&["plan"], &[("NO_COLOR", ""), ("CLICOLOR_FORCE", "1")]).code(0);
    assert!(forced.stdout.contains("\u{1b}["), "{}", forced.stdout);
    let refused = w.run_with(&["plan"], &[("NO_COLOR", "1"), ("CLICOLOR_FORCE", "1")]).code(0);
    assert!(!refused.stdout.contains('\u{1b}'), "{}", refused.stdout);
}

#[test]
fn small_defects_found_on_the_way() {
    let w = Workdir::with_main(ONE_FILE);
    // apply has no detailed exit code: the flag is refused, not ignored.
    w.run(&["apply", "--auto-approve", "--detailed-exitcode"])
        .code(1)
        .stderr_has("--detailed-exitcode is a plan option");
    assert!(!w.exists("a.txt"));
    // A version constraint that is not one is an error, not "version 0".
    w.write("versions.hcl", "meshform {\n  required_version = \">= banana\"\n}\n");
    w.run(&["validate"]).code(1).stderr_has("\"banana\" is not a version");
    w.write("versions.hcl", "meshform {\n  required_version = \">= 0.1\"\n}\n");
    // Durations take Go's fractions.
    w.ok(&["plan", "--lock-timeout", "1.5s"]);
}

#[test]
fn taint_marks_an_instance_for_replacement_and_untaint_clears_it() {
    let w = Workdir::with_main(ONE_FILE);
    w.ok(&["apply", "--auto-approve"]);
    w.ok(&["taint", "local_file.a"]).stdout_has("local_file.a has been marked as tainted");
    w.ok(&["plan"]).stdout_has("is tainted, so must be replaced");
    w.ok(&["taint", "local_file.a"]).stdout_has("already tainted");
    w.ok(&["untaint", "local_file.a"]).stdout_has("successfully untainted");
    w.run(&["plan", "--detailed-exitcode"]).code(0);
    w.run(&["taint", "local_file.nope"]).code(1).stderr_has("local_file.nope");
    w.run(&["taint", "not an address"]).code(1);
}

#[test]
fn version_as_text_and_json() {
    let w = Workdir::new();
    w.ok(&["version"]).stdout_has("meshform v").stdout_has("\non ");
    let doc: serde_json::Value = serde_json::from_str(&w.ok(&["version", "-json"]).stdout).unwrap();
    assert_eq!(doc["format_version"], "1.0");
    assert_eq!(doc["meshform_version"], env!("CARGO_PKG_VERSION"));
    assert!(doc["providers"].as_array().unwrap().iter().any(|p| p == "asm"), "{doc}");
}

#[test]
fn fmt_recursive_reaches_subdirectories_but_not_hidden_ones() {
    let unformatted =
        "resource \"local_file\" \"a\" {\nfilename=\"a.txt\"\n    content = \"a\"\n}\n";
    let w = Workdir::new();
    w.write("main.hcl", "");
    w.write("modules/net/main.hcl", unformatted);
    w.write(".meshform/cache/x.hcl", unformatted);
    w.ok(&["fmt", "--check"]);
    w.run(&["fmt", "-recursive", "--check"]).code(3).stdout_has("modules/net/main.hcl");
    w.ok(&["fmt", "--recursive"]);
    w.ok(&["fmt", "--recursive", "--check"]);
    assert_eq!(w.read(".meshform/cache/x.hcl"), unformatted, "hidden directories are left alone");
}

#[test]
fn plan_json_lines_say_what_was_held_back_and_why() {
    let main = r#"
resource "local_file" "a" {
  filename = "a.txt"
  content  = "a"
}
resource "local_file" "b" {
  filename = "b.txt"
  content  = local_file.a.content_sha256
}
"#;
    let w = Workdir::with_main(main);
    w.ok(&["apply", "--auto-approve"]);
    std::fs::remove_file(w.join("a.txt")).unwrap();
    std::fs::create_dir(w.join("a.txt")).unwrap();
    let out = w.run(&["plan", "--json"]).code(1);
    let events = schema("events.schema.json");
    let lines = json_lines(&out.stdout);
    lines.iter().for_each(|l| assert_valid(&events, l));
    let held: Vec<&serde_json::Value> = lines.iter().filter(|l| l["type"] == "held_back").collect();
    assert_eq!(held.len(), 1, "{}", out.stdout);
    assert_eq!(held[0]["address"], "local_file.b");
    assert_eq!(held[0]["cause"], "reads local_file.a, which could not be planned");
}
