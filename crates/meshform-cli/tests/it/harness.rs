//! What the tests share: a scratch configuration directory and `meshform` runs in it with a pinned
//! environment (no colour, no `MESHFORM_*`, `CI` or `PG*` from the developer's shell).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The `meshform` binary cargo built for these tests.
pub fn binary() -> PathBuf {
    assert_cmd::cargo::cargo_bin("meshform")
}

/// A `meshform` command with the environment pinned.
pub fn meshform(dir: &Path) -> Command {
    let mut cmd = Command::new(binary());
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy();
        if k.starts_with("MESHFORM_") || k.starts_with("PG") || k == "CI" {
            cmd.env_remove(k.as_ref());
        }
    }
    cmd.env("NO_COLOR", "1").env("USER", "tester").current_dir(dir);
    cmd
}

/// A finished run.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn from(out: Output) -> Run {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Asserts the exit code, showing both streams when it differs.
    #[track_caller]
    pub fn code(self, want: i32) -> Run {
        assert_eq!(
            self.code, want,
            "exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }

    /// Asserts that stderr contains `part` (wherever a diagnostic wraps it).
    #[track_caller]
    pub fn stderr_has(self, part: &str) -> Run {
        let unwrapped = || {
            let lines = self.stderr.lines().map(|l| l.trim().trim_start_matches('│').trim());
            lines.filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ")
        };
        assert!(
            self.stderr.contains(part) || unwrapped().contains(part),
            "stderr lacks {part:?}:\n{}",
            self.stderr
        );
        self
    }

    #[track_caller]
    pub fn stdout_has(self, part: &str) -> Run {
        assert!(self.stdout.contains(part), "stdout lacks {part:?}:\n{}", self.stdout);
        self
    }
}

/// A configuration directory in a fresh temporary directory, removed when dropped.
pub struct Workdir {
    dir: tempfile::TempDir,
    /// Extra environment for every run.
    pub env: Vec<(String, String)>,
}

impl Workdir {
    pub fn new() -> Workdir {
        Workdir { dir: tempfile::tempdir().expect("create a temporary directory"), env: Vec::new() }
    }

    /// A directory holding one `main.hcl`.
    pub fn with_main(main_hcl: &str) -> Workdir {
        let w = Workdir::new();
        w.write("main.hcl", main_hcl);
        w
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn join(&self, rel: &str) -> PathBuf {
        self.path().join(rel)
    }

    pub fn write(&self, rel: &str, text: &str) {
        let p = self.join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("create directories");
        }
        std::fs::write(&p, text).unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
    }

    pub fn read(&self, rel: &str) -> String {
        let p = self.join(rel);
        std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
    }

    pub fn exists(&self, rel: &str) -> bool {
        self.join(rel).exists()
    }

    /// A command in this directory, with its extra environment.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = meshform(self.path());
        c.args(args);
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c
    }

    /// Runs meshform with `args` (no standard input).
    pub fn run(&self, args: &[&str]) -> Run {
        let out = self.cmd(args).stdin(std::process::Stdio::null()).output().expect("run meshform");
        Run::from(out)
    }

    /// Runs and expects exit code 0.
    #[track_caller]
    pub fn ok(&self, args: &[&str]) -> Run {
        self.run(args).code(0)
    }

    /// The local state document.
    pub fn state_json(&self) -> serde_json::Value {
        serde_json::from_str(&self.read("meshform.state.json")).expect("state is JSON")
    }
}

/// A JSON Schema from `schemas/`, compiled.
pub fn schema(name: &str) -> jsonschema::Validator {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schemas").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let schema: serde_json::Value = serde_json::from_str(&text).expect("schema is JSON");
    jsonschema::draft202012::meta::validate(&schema).expect("a valid 2020-12 schema");
    jsonschema::draft202012::new(&schema).expect("schema compiles")
}

/// Asserts that `doc` is valid against `v`, listing every error.
#[track_caller]
pub fn assert_valid(v: &jsonschema::Validator, doc: &serde_json::Value) {
    let errors: Vec<String> =
        v.iter_errors(doc).map(|e| format!("{e} at {}", e.instance_path())).collect();
    assert!(errors.is_empty(), "{errors:#?}\nin {doc:#}");
}

/// The JSON lines of a run's stdout.
pub fn json_lines(stdout: &str) -> Vec<serde_json::Value> {
    stdout
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}
