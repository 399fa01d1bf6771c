//! Terraform habits: `workspace new | select | delete` (local and PostgreSQL), `providers schema
//! --json` (checked against `schemas/providers.schema.json`), `console` fed through a pipe, and
//! Terraform's file names (`main.tf`) answered with what to rename.

use std::io::Write;
use std::process::Stdio;

use crate::harness::{assert_valid, schema, Run, Workdir};

const FILES: &str = r#"
variable "region" {
  type    = string
  default = "cn-hangzhou"
}

variable "token" {
  type      = string
  sensitive = true
  default   = "s3cr3t-t0ken"
}

variable "unset" {
  type = string
}

locals {
  names    = ["a", "b"]
  greeting = "hello ${var.region}"
}

resource "local_file" "f" {
  filename = "out/f.txt"
  content  = local.greeting
}
"#;

/// Runs `meshform console` with `input` on its standard input.
fn console(w: &Workdir, input: &str) -> Run {
    let mut child = w
        .cmd(&["console"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start meshform console");
    child.stdin.take().expect("stdin").write_all(input.as_bytes()).expect("write stdin");
    Run::from(child.wait_with_output().expect("console ends"))
}

/// Runs meshform with extra environment.
fn run_env(w: &Workdir, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = w.cmd(args);
    cmd.envs(env.iter().copied()).stdin(Stdio::null());
    Run::from(cmd.output().expect("run meshform"))
}

#[test]
fn workspace_new_select_delete_as_terraform() {
    let w = Workdir::with_main(FILES);
    w.ok(&["workspace", "new", "dr"]).stdout_has("Created and switched to workspace \"dr\"");
    // The selection is remembered for the directory and used by the next runs.
    assert_eq!(w.ok(&["workspace", "show"]).stdout.trim(), "dr");
    w.ok(&["workspace", "list"]).stdout_has("* dr");
    w.run(&["workspace", "new", "dr"]).code(1).stderr_has("already exists");
    w.run(&["workspace", "new", "a.b"]).code(1).stderr_has("not allowed");
    w.run(&["workspace", "select", "nope"]).code(1).stderr_has("doesn't exist");

    // A run in the selected workspace writes its state, not the default one's.
    w.ok(&["apply", "-auto-approve", "-var", "unset=x"]);
    assert!(w.exists("meshform.state.d/dr/meshform.state.json"));
    assert!(!w.exists("meshform.state.json"));

    w.run(&["workspace", "delete", "dr"]).code(1).stderr_has("selected workspace");
    w.run(&["workspace", "delete", "default"]).code(1).stderr_has("default workspace");
    // MESHFORM_WORKSPACE wins over the recorded selection; select is refused while it is set.
    let r = run_env(&w, &["workspace", "show"], &[("MESHFORM_WORKSPACE", "default")]);
    assert_eq!(r.code(0).stdout.trim(), "default");
    run_env(&w, &["workspace", "select", "default"], &[("MESHFORM_WORKSPACE", "dr")])
        .code(1)
        .stderr_has("MESHFORM_WORKSPACE");

    w.ok(&["workspace", "select", "default"]).stdout_has("Switched to workspace \"default\".");
    w.run(&["workspace", "delete", "dr"])
        .code(1)
        .stderr_has("is not empty")
        .stderr_has("- local_file.f")
        .stderr_has("--force");
    assert!(w.exists("meshform.state.d/dr/meshform.state.json"), "a refused delete keeps it");
    w.ok(&["workspace", "delete", "dr", "-force"])
        .stdout_has("Deleted workspace \"dr\"!")
        .stderr_has("no longer managed");
    assert!(!w.exists("meshform.state.d/dr"));
    assert_eq!(w.ok(&["workspace", "list"]).stdout, "* default\n");
    w.run(&["workspace", "delete", "dr"]).code(1).stderr_has("doesn't exist");
}

#[test]
fn workspaces_in_postgresql_are_created_and_deleted_under_the_lock() {
    let Some(conn) = meshform_pgtest::server_or_skip().map(|s| s.conn_str()) else { return };
    let schema_name = format!("habits{}", std::process::id());
    let mut w = Workdir::with_main(&format!(
        "meshform {{\n  backend \"pg\" {{\n    schema_name = \"{schema_name}\"\n  }}\n}}\n{FILES}"
    ));
    w.env.push(("MESHFORM_PG_CONN_STR".into(), conn));
    w.ok(&["workspace", "new", "eu"]);
    w.ok(&["workspace", "list"]).stdout_has("* eu");
    w.ok(&["apply", "--auto-approve", "--var", "unset=x"]);
    w.ok(&["workspace", "select", "default"]);
    w.run(&["workspace", "delete", "eu"]).code(1).stderr_has("- local_file.f");
    w.ok(&["workspace", "delete", "--force", "eu"]);
    assert_eq!(w.ok(&["workspace", "list"]).stdout, "* default\n");
    w.ok(&["--workspace", "eu", "state", "list"]);
    assert!(w.ok(&["--workspace", "eu", "state", "list"]).stdout.is_empty(), "the row is gone");
}

#[test]
fn providers_schema_json_as_terraform_prints_it() {
    let w = Workdir::new();
    w.run(&["providers", "schema"]).code(1).stderr_has("The --json flag is required");
    let out = w.ok(&["providers", "schema", "-json"]).stdout;
    let doc: serde_json::Value = serde_json::from_str(&out).expect("one JSON document");
    assert_valid(&schema("providers.schema.json"), &doc);
    assert_eq!(doc["format_version"], "1.0");
    let local = &doc["provider_schemas"]["local"];
    let filename = &local["resource_schemas"]["local_file"]["block"]["attributes"]["filename"];
    assert_eq!(filename["type"], "string");
    assert_eq!(filename["required"], true);
    assert!(filename.get("computed").is_none(), "false flags are left out: {filename}");
    // Every registered provider is there, with its data sources.
    for p in ["local", "pki", "asm", "kubernetes"] {
        assert!(doc["provider_schemas"][p]["provider"]["block"].is_object(), "{p}");
    }
    assert!(doc["provider_schemas"]["asm"]["data_source_schemas"]["asm_versions"].is_object());
    // Sensitive attributes say so (the root CA's private key).
    let pki = doc["provider_schemas"]["pki"]["resource_schemas"].to_string();
    assert!(pki.contains("\"sensitive\":true"), "{pki}");
}

#[test]
fn console_evaluates_piped_expressions_against_configuration_and_state() {
    let w = Workdir::with_main(FILES);
    let r = console(&w, "var.region\nlocal.names\nvar.token\nvar.unset\nlocal_file.f.content\n");
    let r = r.code(0);
    assert_eq!(
        r.stdout,
        "\"cn-hangzhou\"\n[\"a\", \"b\"]\n(sensitive value)\n(known after apply)\n(known after apply)\n"
    );
    assert!(!r.stdout.contains("s3cr3t") && !r.stderr.contains("s3cr3t"));

    w.ok(&["apply", "--auto-approve", "--var", "unset=x"]);
    let serial = w.state_json()["serial"].clone();
    let r = console(
        &w,
        "local_file.f.content\nupper(var.region)\nnope.x\n1 +\n[\n  length(local.names),\n  2,\n]\nexit\nvar.region\n",
    );
    // Errors are reported line by line and the session goes on; the status says one failed.
    let r = r.code(1).stderr_has("nope.x").stderr_has("unknown name").stderr_has("1 +");
    assert_eq!(r.stdout, "\"hello cn-hangzhou\"\n\"CN-HANGZHOU\"\n[2, 2]\n");
    assert_eq!(w.state_json()["serial"], serial, "the console never writes the state");
}

#[test]
fn completions_and_man_page_come_from_the_command_definition() {
    let w = Workdir::new();
    let bash = w.ok(&["completions", "bash"]).stdout;
    assert!(bash.contains("complete -F _meshform"), "{bash}");
    // Subcommands and options added to the definition show up without anyone editing a script.
    assert!(bash.contains("workspace__subcmd__delete") && bash.contains("--force"), "{bash}");
    let zsh = w.ok(&["completions", "zsh"]).stdout;
    assert!(zsh.starts_with("#compdef meshform"), "{zsh}");
    let fish = w.ok(&["completions", "fish"]).stdout;
    assert!(fish.contains("complete -c meshform") && fish.contains("auto-approve"), "{fish}");
    w.run(&["completions", "powershell"]).code(1).stderr_has("bash");

    let man = w.ok(&["man"]).stdout;
    assert!(man.starts_with(".ie \\n(.g .ds Aq"), "roff: {}", &man[..man.len().min(200)]);
    assert!(man.contains(".TH meshform 1"), "{man}");
    assert!(man.contains(".SH \"MESHFORM WORKSPACE DELETE\""), "{man}");
    assert!(man.contains(".SH \"MESHFORM STATE PUSH\""), "nested subcommands: {man}");
    assert!(man.contains("\\fB\\-\\-auto\\-approve\\fR"), "{man}");
}

/// A directory of `*.tf` files: the error says meshform reads `*.hcl` and what to rename.
#[test]
fn terraform_file_names_are_answered_with_what_to_rename() {
    let w = Workdir::new();
    w.write("main.tf", "resource \"local_file\" \"f\" {\n  filename = \"f\"\n}\n");
    w.run(&["plan"])
        .code(1)
        .stderr_has("no configuration files (*.hcl)")
        .stderr_has("there is main.tf here: rename it (e.g. main.tf to main.hcl)");
    w.write("variables.tf", "");
    w.run(&["validate"]).code(1).stderr_has("there are 2 *.tf files here: rename them");
}

/// `terraform.tfvars` is not read: a missing variable's error says so and what to do; a refused
/// `--var` value is reported once, not again as missing.
#[test]
fn terraform_tfvars_is_named_and_a_refused_value_is_reported_once() {
    let w = Workdir::new();
    w.write(
        "main.hcl",
        "variable \"env\" {\n  type = string\n}\n\nvariable \"zones\" {\n  type = list(string)\n}\n",
    );
    w.write("terraform.tfvars", "env = \"dev\"\n");
    let run = w.run(&["plan", "--var", "zones=x"]).code(1);
    let run = run
        .stderr_has("invalid value for variable \"zones\" from --var")
        .stderr_has("meshform does not read terraform.tfvars: rename it to meshform.vars.hcl");
    assert!(!run.stderr.contains("no value for required variable \"zones\""), "{}", run.stderr);
}
