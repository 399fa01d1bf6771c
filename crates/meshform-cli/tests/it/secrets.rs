//! Sensitive values never reach the terminal: not in plans, apply logs, `show`, `output` or `state show`,
//! as text or JSON. Only `output NAME --raw` prints one, because the user named it.

use crate::support::{Run, Workdir};

const CONFIG: &str = r#"
variable "db_password" {
  type      = string
  sensitive = true
}

resource "local_file" "credentials" {
  filename = "credentials.txt"
  content  = "password=${var.db_password}\n"
}

output "db_password" {
  value     = var.db_password
  sensitive = true
}

output "dsn" {
  value     = "postgres://app:${var.db_password}@db.internal/app"
  sensitive = true
}

output "credentials_file" {
  value = local_file.credentials.filename
}
"#;

const SECRET: &str = "hunter2-Zq8v";
const ROTATED: &str = "correct-horse-7Kp";

fn run(w: &Workdir, password: &str, args: &[&str]) -> Run {
    w.run_with(args, &[("MESHFORM_VAR_db_password", password)])
}

#[track_caller]
fn assert_hidden(run: &Run, secrets: &[&str]) {
    for s in secrets {
        assert!(
            !run.all_output().contains(s),
            "`meshform {}` printed the secret {s:?}\n--- stdout\n{}\n--- stderr\n{}",
            run.args,
            run.stdout,
            run.stderr
        );
    }
}

#[test]
fn secrets_are_redacted_everywhere_but_raw_output() {
    let w = Workdir::with_main(CONFIG);
    let hidden = [SECRET];

    let plan = run(&w, SECRET, &["plan"]).code(0);
    assert_hidden(&plan, &hidden);
    assert!(plan.stdout.contains("+ content         = (sensitive value)"), "{}", plan.stdout);
    assert!(plan.stdout.contains("+ dsn = (sensitive value)"), "{}", plan.stdout);

    let plan_json = run(&w, SECRET, &["plan", "--json"]).code(0);
    assert_hidden(&plan_json, &hidden);
    assert!(plan_json.stdout.contains("(sensitive value)"), "{}", plan_json.stdout);

    let apply = run(&w, SECRET, &["apply", "--auto-approve"]).code(0);
    assert_hidden(&apply, &hidden);
    assert!(apply.stdout.contains("db_password = (sensitive value)"), "{}", apply.stdout);
    assert_eq!(w.read("credentials.txt"), format!("password={SECRET}\n"), "the file has it");

    assert_hidden(&run(&w, SECRET, &["plan"]).code(0), &hidden);
    assert_hidden(&run(&w, SECRET, &["plan", "--json"]).code(0), &hidden);
    for args in [
        &["show"][..],
        &["show", "--json"],
        &["output"],
        &["output", "--json"],
        &["output", "db_password"],
        &["output", "dsn", "--json"],
        &["state", "show", "local_file.credentials"],
    ] {
        let r = run(&w, SECRET, args).code(0);
        assert_hidden(&r, &hidden);
        assert!(r.stdout.contains("(sensitive value)"), "`meshform {}`:\n{}", r.args, r.stdout);
    }
    let outputs: serde_json::Value =
        serde_json::from_str(&run(&w, SECRET, &["output", "--json"]).stdout).expect("JSON");
    assert_eq!(outputs["dsn"]["sensitive"], true);
    assert_eq!(outputs["credentials_file"]["value"], "credentials.txt");

    // Named explicitly with --raw, the value is printed: that is how scripts read a secret output.
    let raw = run(&w, SECRET, &["output", "db_password", "--raw"]).code(0);
    assert_eq!(raw.stdout, format!("{SECRET}\n"));

    // The file is edited outside meshform to hold another secret: the drift report hides both.
    w.write("credentials.txt", &format!("password={ROTATED}\n"));
    let hidden = [SECRET, ROTATED];
    for args in [&["plan"][..], &["plan", "--json"], &["plan", "--refresh-only"]] {
        let r = run(&w, SECRET, args).code(0);
        assert_hidden(&r, &hidden);
    }

    // Rotating the secret: the update is shown without either value, and applied.
    let plan = run(&w, ROTATED, &["plan"]).code(0);
    assert_hidden(&plan, &hidden);
    assert!(plan.stdout.contains("~ content        = (sensitive value)"), "{}", plan.stdout);
    assert!(
        plan.stdout.contains("~ db_password = (sensitive value) -> (sensitive value)"),
        "{}",
        plan.stdout
    );
    assert_hidden(&run(&w, ROTATED, &["plan", "--json"]).code(0), &hidden);
    assert_hidden(&run(&w, ROTATED, &["apply", "--auto-approve", "--json"]).code(0), &hidden);
    assert_eq!(w.read("credentials.txt"), format!("password={ROTATED}\n"));
    assert_hidden(&run(&w, ROTATED, &["show", "--json"]).code(0), &hidden);
    assert_hidden(&run(&w, ROTATED, &["destroy", "--auto-approve"]).code(0), &hidden);
}

/// A value that does not fit a sensitive variable, or a sensitive value used where an error would
/// quote it (a map key, a template path), is refused without being shown.
#[test]
fn errors_about_sensitive_values_do_not_show_them() {
    let w = Workdir::new();
    w.write(
        "main.hcl",
        "variable \"port\" {\n  type      = number\n  sensitive = true\n}\n\nvariable \"token\" {\n  type      = string\n  sensitive = true\n}\n\noutput \"picked\" {\n  value     = { a = 1 }[var.token]\n  sensitive = true\n}\n",
    );
    let refused = w.run(&["plan", "--var", "port=hunter2-Zq8v", "--var", "token=x"]).code(1);
    assert!(refused.stderr.contains("invalid value for variable \"port\""), "{}", refused.stderr);
    assert_hidden(&refused, &[SECRET]);
    let run = w.run_with(&["plan", "--var", "port=1"], &[("MESHFORM_VAR_token", SECRET)]).code(1);
    assert!(run.stderr.contains("no element with key (sensitive value)"), "{}", run.stderr);
    assert_hidden(&run, &[SECRET]);
    w.write(
        "tpl.hcl",
        "output \"t\" {\n  value     = templatefile(var.token, {})\n  sensitive = true\n}\n",
    );
    let run = w.run_with(&["plan", "--var", "port=1"], &[("MESHFORM_VAR_token", SECRET)]).code(1);
    assert!(run.stderr.contains("templatefile: cannot read the file at (sensitive value)"));
    assert_hidden(&run, &[SECRET]);
}

/// A provider that echoes a secret into another attribute (`local_file`'s `id` is its filename):
/// the echo is sensitive too, in the plan, the progress lines and the state's marks; a provider
/// error quoting it does not show it either.
#[test]
fn a_secret_echoed_by_a_provider_stays_hidden() {
    let w = Workdir::new();
    w.write(
        "main.hcl",
        "variable \"token\" {\n  type      = string\n  sensitive = true\n}\n\nresource \"local_file\" \"f\" {\n  filename = \"out/${var.token}/f.txt\"\n  content  = \"x\"\n}\n",
    );
    let env = [("MESHFORM_VAR_token", SECRET)];
    let plan = w.run_with(&["plan"], &env).code(0);
    let id_hidden =
        |l: &str| l.trim_start().starts_with("+ id ") && l.ends_with("= (sensitive value)");
    assert!(plan.stdout.lines().any(id_hidden), "{}", plan.stdout);
    assert_hidden(&plan, &[SECRET]);
    let apply = w.run_with(&["apply", "--auto-approve"], &env).code(0);
    assert!(apply.all_output().contains("[id=(sensitive value)]"), "{}", apply.all_output());
    assert_hidden(&apply, &[SECRET]);
    let again = w.run_with(&["apply", "--auto-approve"], &env).code(0);
    assert_hidden(&again, &[SECRET]);
    let shown = w.run_with(&["state", "show", "local_file.f"], &env).code(0);
    assert_hidden(&shown, &[SECRET]);
}

/// A variables file's sensitive values are masked wherever a report draws that file: the error
/// about one of them, and a warning about the line next to it.
#[test]
fn a_variables_file_never_shows_its_sensitive_values() {
    let w = Workdir::new();
    w.write(
        "main.hcl",
        "variable \"port\" {\n  type      = number\n  sensitive = true\n}\n\nvariable \"token\" {\n  type      = string\n  sensitive = true\n}\n",
    );
    w.write(
        "meshform.vars.hcl",
        &format!("port  = \"{SECRET}\"\ntoken = \"{ROTATED}\"\ntokn  = \"x\"\n"),
    );
    let run = w.run(&["plan"]).code(1);
    assert!(run.stderr.contains("invalid value for variable \"port\""), "{}", run.stderr);
    assert!(run.stderr.contains("value for undeclared variable \"tokn\""), "{}", run.stderr);
    assert!(run.stderr.contains("meshform.vars.hcl:1:"), "{}", run.stderr);
    assert_hidden(&run, &[SECRET, ROTATED]);
}
