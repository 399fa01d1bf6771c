//! What every end-to-end test needs: a scratch configuration directory and a `meshform` process run in it
//! with a deterministic environment (no colour, no `MESHFORM_*` or `CI` from the developer's shell).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The repository's `tests/fixtures` directory.
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
}

/// The `meshform` binary cargo built for these tests.
pub fn binary() -> PathBuf {
    assert_cmd::cargo::cargo_bin("meshform")
}

/// Removes what the developer's environment could change about a run, and pins what is left.
fn pin_environment(cmd: &mut std::process::Command) {
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy();
        if k.starts_with("MESHFORM_") || k == "CI" {
            cmd.env_remove(k.as_ref());
        }
    }
    cmd.env("NO_COLOR", "1").env("USER", "tester");
}

/// What a user who ran `. .meshform/sandbox/sandbox.env` has in their environment: the sandbox's
/// endpoints, AccessKey and cluster ids (`export NAME='value'` lines), when a sandbox runs in `dir`.
fn source_sandbox_env(cmd: &mut std::process::Command, dir: &Path) {
    let Ok(text) = std::fs::read_to_string(dir.join(".meshform/sandbox/sandbox.env")) else {
        return;
    };
    for line in text.lines() {
        let Some((name, value)) = line.strip_prefix("export ").and_then(|l| l.split_once('='))
        else {
            continue;
        };
        let value = value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')).unwrap_or(value);
        cmd.env(name, value.replace("'\\''", "'"));
    }
}

/// A configuration directory in a fresh temporary directory, removed when dropped.
pub struct Workdir {
    dir: tempfile::TempDir,
}

impl Workdir {
    pub fn new() -> Workdir {
        Workdir { dir: tempfile::tempdir().expect("create a temporary directory") }
    }

    /// A directory holding one `main.hcl`.
    pub fn with_main(main_hcl: &str) -> Workdir {
        let w = Workdir::new();
        w.write("main.hcl", main_hcl);
        w
    }

    /// A copy of `tests/fixtures/<case>` (files only; fixtures are flat).
    pub fn from_fixture(case: &str) -> Workdir {
        let w = Workdir::new();
        let src = fixtures_dir().join(case);
        for entry in std::fs::read_dir(&src).unwrap_or_else(|e| panic!("{}: {e}", src.display())) {
            let entry = entry.expect("read the fixture directory");
            if entry.file_type().expect("file type").is_file() {
                std::fs::copy(entry.path(), w.path().join(entry.file_name())).expect("copy");
            }
        }
        w
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// A path inside the directory.
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

    /// `meshform -C <dir> ARGS…`, ready to run with assert_cmd.
    pub fn command(&self, args: &[&str]) -> assert_cmd::Command {
        assert_cmd::Command::from_std(self.std_command(args))
    }

    /// The same as a plain `std::process::Command`, for runs that are spawned and killed.
    pub fn std_command(&self, args: &[&str]) -> std::process::Command {
        let mut cmd = std::process::Command::new(binary());
        pin_environment(&mut cmd);
        source_sandbox_env(&mut cmd, self.path());
        cmd.arg("-C").arg(self.path()).args(args);
        cmd
    }

    /// Spawns `meshform ARGS…` with `stdout` and stderr piped, and reads its stderr lines as they
    /// come: for each line, the name of every mark whose test it passes is sent on `marks`.
    pub fn spawn_watching(&self, args: &[&str], stdout: Stdio, marks: &[Mark]) -> Watched {
        let mut child = self
            .std_command(args)
            .stdout(stdout)
            .stderr(Stdio::piped())
            .spawn()
            .expect("meshform apply starts");
        let stderr = child.stderr.take().expect("stderr");
        let marks = marks.to_vec();
        let (tx, rx) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            let mut seen = Vec::new();
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                for (name, test) in &marks {
                    if test(&line) {
                        let _ = tx.send(*name);
                    }
                }
                seen.push(line);
            }
            seen.join("\n")
        });
        Watched { child, marks: rx, reader }
    }

    /// Runs `meshform ARGS…` to completion with stdin closed.
    pub fn run(&self, args: &[&str]) -> Run {
        self.run_with(args, &[])
    }

    /// Runs with extra environment variables.
    pub fn run_with(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut cmd = self.command(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.write_stdin("").output().expect("run meshform");
        Run::new(args, out)
    }

    /// Runs and asserts the exit code.
    pub fn ok(&self, args: &[&str]) -> Run {
        self.run(args).code(0)
    }

    /// `meshform state list`, one address per entry.
    pub fn state_list(&self) -> Vec<String> {
        self.ok(&["state", "list"]).stdout.lines().map(str::to_owned).collect()
    }

    /// The stored state document, parsed.
    pub fn state_json(&self) -> serde_json::Value {
        serde_json::from_str(&self.read("meshform.state.json")).expect("the state is JSON")
    }

    /// Removes the temporary directory's path from text (error messages may name absolute paths).
    pub fn redact(&self, text: &str) -> String {
        let real = std::fs::canonicalize(self.path()).unwrap_or_else(|_| self.path().into());
        text.replace(&real.display().to_string(), "[DIR]")
            .replace(&self.path().display().to_string(), "[DIR]")
    }
}

/// A mark on a watched run's stderr: its name, and the test a line passes to earn it.
pub type Mark = (&'static str, fn(&str) -> bool);

/// A run spawned by [`Workdir::spawn_watching`]: the process, the names of the marks its stderr
/// lines passed (in order), and the thread reading that stderr.
pub struct Watched {
    pub child: Child,
    pub marks: mpsc::Receiver<&'static str>,
    reader: std::thread::JoinHandle<String>,
}

impl Watched {
    /// Waits for the run to end: its exit code and its stderr.
    pub fn wait(self) -> (Option<i32>, String) {
        let out = self.child.wait_with_output().expect("meshform ends");
        (out.status.code(), self.reader.join().expect("stderr reader"))
    }

    /// Kills the run (`kill -9`), reaps it, and returns what the stderr reader returned.
    pub fn kill(mut self) -> std::thread::Result<String> {
        self.child.kill().expect("kill -9 the apply");
        let _ = self.child.wait();
        self.reader.join()
    }
}

/// A finished run: exit code and output.
pub struct Run {
    pub args: String,
    pub status: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn new(args: &[&str], out: Output) -> Run {
        Run {
            args: args.join(" "),
            status: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Asserts the exit code, showing the output when it differs.
    #[track_caller]
    pub fn code(self, expected: i32) -> Run {
        assert_eq!(
            self.status,
            Some(expected),
            "`meshform {}` exited with {:?}, expected {expected}\n--- stdout\n{}\n--- stderr\n{}",
            self.args,
            self.status,
            self.stdout,
            self.stderr
        );
        self
    }

    /// Asserts that stdout contains `needle`.
    #[track_caller]
    pub fn stdout_has(self, needle: &str) -> Run {
        assert!(
            self.stdout.contains(needle),
            "`meshform {}`: stdout lacks {needle:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.args,
            self.stdout,
            self.stderr
        );
        self
    }

    /// stderr with the diagnostics' line wrapping undone (lines trimmed, frame bars removed, joined
    /// with spaces), so that assertions do not depend on where a message wraps.
    pub fn stderr_unwrapped(&self) -> String {
        let lines = self.stderr.lines().map(|l| l.trim().trim_start_matches('│').trim());
        lines.filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ")
    }

    /// Asserts that stderr contains `needle` (wherever the message wraps).
    #[track_caller]
    pub fn stderr_has(self, needle: &str) -> Run {
        assert!(
            self.stderr.contains(needle) || self.stderr_unwrapped().contains(needle),
            "`meshform {}`: stderr lacks {needle:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.args,
            self.stdout,
            self.stderr
        );
        self
    }

    /// stdout and stderr together, for assertions that care about neither stream in particular.
    pub fn all_output(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

/// Waits until `cond` holds, failing the test after a minute (a generous bound: nothing here is timed).
#[track_caller]
pub fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < Duration::from_secs(60), "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// `n` local_file resources `files/f-<i>.txt`, as one counted resource.
pub fn many_files(n: usize) -> String {
    format!(
        r#"resource "local_file" "f" {{
  count    = {n}
  filename = "files/f-${{count.index}}.txt"
  content  = "file ${{count.index}}\n"
}}
"#
    )
}
