//! Configuration errors as users see them: one fixture directory per case under the repository's
//! `tests/fixtures/`, run in a temporary copy, the output snapshotted (review with `cargo insta review`).
//!
//! A fixture's `commands.txt` lists the `meshform` arguments to run, one command per line (default
//! `validate`). Lines starting with `setup:` must succeed and stay out of the snapshot; `#` starts a
//! comment. The last command of every fixture must fail.

use std::fmt::Write as _;

use crate::support::{fixtures_dir, Run, Workdir};

fn commands(case: &str) -> String {
    let path = fixtures_dir().join(case).join("commands.txt");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every error on stderr comes with `file:line:column`, the source text labelled, and a help line.
#[track_caller]
fn assert_well_formed(run: &Run) {
    let errors = run.stderr.matches("  × ").count();
    assert!(errors > 0, "`meshform {}` failed without a diagnostic:\n{}", run.args, run.stderr);
    let helps = run.stderr.matches("  help: ").count();
    assert_eq!(errors, helps, "every diagnostic needs a help line:\n{}", run.stderr);
    let located = run.stderr.matches("╭─[").count();
    assert_eq!(
        errors, located,
        "every diagnostic needs file:line:column and source:\n{}",
        run.stderr
    );
    let labels = run.stderr.matches("╰──").count();
    assert!(labels >= errors, "every diagnostic needs a labelled span:\n{}", run.stderr);
}

fn run_fixture(case: &str) {
    let w = Workdir::from_fixture(case);
    let mut transcript = String::new();
    let mut last = None;
    for line in commands(case).lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (setup, line) = match line.strip_prefix("setup:") {
            Some(rest) => (true, rest.trim()),
            None => (false, line),
        };
        let args: Vec<&str> = line.split_whitespace().collect();
        let run = w.run(&args);
        if setup {
            run.code(0);
            continue;
        }
        let code = run.status.map_or("killed by a signal".into(), |c| c.to_string());
        let _ = writeln!(transcript, "$ meshform {line}\nexit: {code}");
        if !run.stdout.is_empty() {
            let _ = write!(transcript, "--- stdout\n{}", run.stdout);
        }
        if !run.stderr.is_empty() {
            let _ = write!(transcript, "--- stderr\n{}", run.stderr);
            if run.status != Some(0) {
                assert_well_formed(&run);
            }
        }
        transcript.push('\n');
        last = Some(run);
    }
    let last = last.expect("commands.txt runs at least one command");
    assert_eq!(last.status, Some(1), "the last command of {case} must fail:\n{transcript}");
    insta::assert_snapshot!(case, w.redact(&transcript));
}

macro_rules! fixtures {
    ($($case:ident),* $(,)?) => {
        $(
            #[test]
            fn $case() {
                run_fixture(stringify!($case));
            }
        )*
        const CASES: &[&str] = &[$(stringify!($case)),*];
    };
}

fixtures! {
    syntax_error,
    unknown_reference,
    variable_default_type_mismatch,
    attribute_type_mismatch,
    duplicate_resource,
    unknown_resource_type,
    unknown_attribute,
    missing_required_attribute,
    cycle,
    for_each_number,
    count_unknown,
    variable_validation,
    prevent_destroy,
    many_errors,
    null_attribute,
    validate_json,
    rollout_mistakes,
    rollout_unknown_key,
}

/// A fixture directory nobody runs would be a test that cannot fail.
#[test]
fn every_fixture_is_run() {
    let mut on_disk: Vec<String> = std::fs::read_dir(fixtures_dir())
        .expect("tests/fixtures exists")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("commands.txt").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = CASES.iter().map(|c| c.to_string()).collect();
    listed.sort();
    assert_eq!(on_disk, listed, "add the fixture to `fixtures!` in diagnostics.rs");
}

#[test]
fn validate_json_counts_and_locates_every_diagnostic() {
    let w = Workdir::from_fixture("validate_json");
    let run = w.run(&["validate", "--json"]).code(1);
    assert!(run.stderr.is_empty(), "--json keeps stderr quiet:\n{}", run.stderr);
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).expect("one JSON document");
    assert_eq!(doc["valid"], false);
    assert_eq!(doc["error_count"], 2);
    assert_eq!(doc["warning_count"], 0);
    let diags = doc["diagnostics"].as_array().expect("diagnostics is an array");
    assert_eq!(diags.len(), 2);
    let first = &diags[0];
    assert_eq!(first["severity"], "error");
    assert_eq!(first["code"], "meshform::config::unknown_reference");
    assert_eq!(first["range"]["filename"], "main.hcl");
    assert_eq!(first["range"]["start"]["line"], 3);
    assert_eq!(first["range"]["start"]["column"], 14);
    assert_eq!(first["range"]["end"]["line"], 3);
    assert_eq!(diags[1]["code"], "meshform::config::unsupported_argument");
    assert_eq!(diags[1]["range"]["start"]["line"], 9);
    for d in diags {
        assert!(d["summary"].as_str().is_some_and(|s| !s.is_empty()), "{d}");
        assert!(d["help"].as_str().is_some_and(|s| !s.is_empty()), "{d}");
    }

    let valid = Workdir::with_main(
        "resource \"local_file\" \"a\" {\n  filename = \"a\"\n  content = \"a\"\n}\n",
    );
    let run = valid.run(&["validate", "--json"]).code(0);
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).expect("one JSON document");
    assert_eq!(doc["valid"], true);
    assert_eq!(doc["error_count"], 0);
    assert_eq!(doc["diagnostics"], serde_json::json!([]));
}
