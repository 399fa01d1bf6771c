//! A sandbox per test: `meshform sandbox up --detach` in the test's own temporary directory, stopped
//! by `meshform sandbox down` when the guard is dropped (also when the test panics), so tests that
//! each start one can run in parallel.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::support::{Run, Workdir};

/// The runbook's configuration in the repository.
pub fn example_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/multi-master")
}

/// The example's earlier, hand-written layout (`tests/fixtures/multi_master_flat`): the topology at
/// the root, for tests that start from it or break the topology in ways the module does not offer.
pub fn flat_main() -> String {
    let p = crate::support::fixtures_dir().join("multi_master_flat/main.hcl");
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
}

/// The example's `main.hcl`, as the runbook configuration ships it.
pub fn example_main() -> String {
    let p = example_dir().join("main.hcl");
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
}

/// Replaces `from` (which must occur exactly once) by `to`: a modified copy of the example that
/// fails loudly when the example changes under the test.
#[track_caller]
pub fn edit(hcl: &str, from: &str, to: &str) -> String {
    assert_eq!(hcl.matches(from).count(), 1, "the example should contain exactly once:\n{from}");
    hcl.replacen(from, to, 1)
}

/// A running sandbox in a configuration directory; `sandbox down` when dropped.
pub struct Sandboxed {
    pub work: Workdir,
}

impl Sandboxed {
    /// A copy of `examples/multi-master` (its `apps/` verbatim) with `main_hcl` as its `main.hcl`,
    /// and a sandbox started in its `.meshform/sandbox`.
    pub fn runbook_with(main_hcl: &str) -> Sandboxed {
        Sandboxed::runbook_with_delay(main_hcl, "200ms")
    }

    /// [`Sandboxed::runbook_with`] on a sandbox whose ASM transitions (creating, upgrading) take
    /// `delay`: long enough for a test to watch a mesh in the middle of one.
    pub fn runbook_with_delay(main_hcl: &str, delay: &str) -> Sandboxed {
        let work = Workdir::new();
        // The example calls the repository's module; the copy calls a copy beside it.
        let main_hcl =
            main_hcl.replace("\"../../modules/multi-master\"", "\"./modules/multi-master\"");
        work.write("main.hcl", &main_hcl);
        let module = example_dir().join("../../modules/multi-master");
        let entries =
            std::fs::read_dir(&module).unwrap_or_else(|e| panic!("{}: {e}", module.display()));
        for entry in entries {
            let entry = entry.expect("read the module directory");
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".hcl") {
                let text = std::fs::read_to_string(entry.path()).expect("read a module file");
                work.write(&format!("modules/multi-master/{name}"), &text);
            }
        }
        let apps = example_dir().join("apps");
        for entry in std::fs::read_dir(&apps).unwrap_or_else(|e| panic!("{}: {e}", apps.display()))
        {
            let entry = entry.expect("read the apps directory");
            let name = entry.file_name().to_string_lossy().into_owned();
            let text = std::fs::read_to_string(entry.path()).expect("read an app manifest");
            work.write(&format!("apps/{name}"), &text);
        }
        Sandboxed::start_with_delay(work, delay)
    }

    /// The runbook's configuration, unchanged.
    pub fn runbook() -> Sandboxed {
        Sandboxed::runbook_with(&example_main())
    }

    /// Starts a sandbox in `work`; from here on it is stopped when the guard is dropped.
    pub fn start(work: Workdir) -> Sandboxed {
        Sandboxed::start_with_delay(work, "200ms")
    }

    fn start_with_delay(work: Workdir, delay: &str) -> Sandboxed {
        Sandboxed::start_with(work, &["--transition-delay", delay])
    }

    /// Starts a sandbox in `work` with `sandbox up --detach ARGS…`.
    pub fn start_with(work: Workdir, args: &[&str]) -> Sandboxed {
        let sandbox = Sandboxed { work };
        let mut up = vec!["sandbox", "up", "--detach"];
        up.extend(args);
        sandbox.work.ok(&up).stdout_has("Sandbox running");
        sandbox
    }

    pub fn run(&self, args: &[&str]) -> Run {
        self.work.run(args)
    }

    pub fn ok(&self, args: &[&str]) -> Run {
        self.work.ok(args)
    }

    /// The kubeconfig the sandbox wrote for a cluster (`cluster-1`, `cluster-2`).
    pub fn kubeconfig(&self, cluster: &str) -> PathBuf {
        self.work.join(&format!(".meshform/sandbox/{cluster}.kubeconfig"))
    }

    /// `meshform sandbox status --json`.
    pub fn status(&self) -> serde_json::Value {
        let run = self.ok(&["sandbox", "status", "--json"]);
        serde_json::from_str(&run.stdout).expect("sandbox status --json prints JSON")
    }

    /// The workloads of one cluster in `sandbox status --json`: `namespace/name` → (replicas, ready).
    pub fn workloads(status: &serde_json::Value, cluster: &str) -> Vec<(String, i64, i64)> {
        let c = cluster_entry(status, cluster);
        c["workloads"]
            .as_array()
            .unwrap_or_else(|| panic!("{cluster} has no workloads list: {c}"))
            .iter()
            .map(|w| {
                (
                    format!(
                        "{}/{}",
                        w["namespace"].as_str().unwrap_or(""),
                        w["name"].as_str().unwrap_or("")
                    ),
                    w["replicas"].as_i64().unwrap_or(0),
                    w["ready"].as_i64().unwrap_or(0),
                )
            })
            .collect()
    }

    /// Waits until every named workload (`cluster`, `namespace/name`) exists with all its replicas
    /// ready.
    #[track_caller]
    pub fn wait_ready(&self, workloads: &[(&str, &str)]) {
        let start = Instant::now();
        loop {
            let status = self.status();
            let missing: Vec<String> = workloads
                .iter()
                .filter(|(cluster, name)| {
                    !Sandboxed::workloads(&status, cluster)
                        .iter()
                        .any(|(n, want, ready)| n == name && *want > 0 && ready == want)
                })
                .map(|(cluster, name)| format!("{cluster}: {name}"))
                .collect();
            if missing.is_empty() {
                return;
            }
            assert!(
                start.elapsed() < DEADLINE,
                "workloads not ready after {DEADLINE:?}: {missing:?}\n{status:#}"
            );
            std::thread::sleep(POLL);
        }
    }

    /// Waits until a workload (`cluster`, `namespace/name`) wants `replicas` replicas and has them
    /// all ready.
    #[track_caller]
    pub fn wait_replicas(&self, cluster: &str, workload: &str, replicas: i64) {
        let start = Instant::now();
        loop {
            let status = self.status();
            let seen =
                Sandboxed::workloads(&status, cluster).into_iter().find(|(n, _, _)| n == workload);
            if seen.as_ref().is_some_and(|(_, want, ready)| *want == replicas && *ready == replicas)
            {
                return;
            }
            assert!(
                start.elapsed() < DEADLINE,
                "{cluster}: {workload} not at {replicas}/{replicas} ready after {DEADLINE:?}: {seen:?}\n{status:#}"
            );
            std::thread::sleep(POLL);
        }
    }

    /// Runs `meshform ARGS…` until `done` holds for its run (pods may still be starting), failing
    /// the test after a deadline; returns the last run.
    #[track_caller]
    pub fn run_until(&self, args: &[&str], done: impl Fn(&Run) -> bool) -> Run {
        let start = Instant::now();
        loop {
            let run = self.run(args);
            if done(&run) {
                return run;
            }
            assert!(
                start.elapsed() < DEADLINE,
                "`meshform {}` did not reach the expected outcome in {DEADLINE:?}; last run exited {:?}\n--- stdout\n{}\n--- stderr\n{}",
                run.args,
                run.status,
                run.stdout,
                run.stderr
            );
            std::thread::sleep(POLL);
        }
    }
}

impl Drop for Sandboxed {
    fn drop(&mut self) {
        // Always stop the sandbox process, whatever the test did; its output matters only when it
        // fails to stop, which the next test's `sandbox up` in a fresh directory does not mind.
        let _ = self.work.std_command(&["sandbox", "down"]).output();
    }
}

/// How long a test waits for the sandbox to reach a state.
const DEADLINE: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(200);

/// One cluster's entry in `sandbox status --json`.
#[track_caller]
pub fn cluster_entry<'a>(status: &'a serde_json::Value, cluster: &str) -> &'a serde_json::Value {
    status["clusters"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["name"] == cluster))
        .unwrap_or_else(|| panic!("no cluster {cluster} in the sandbox status:\n{status:#}"))
}

/// The parsed output of `meshform verify --json`.
pub fn verify_report(run: &Run) -> serde_json::Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| {
        panic!(
            "verify --json prints JSON ({e})\n--- stdout\n{}\n--- stderr\n{}",
            run.stdout, run.stderr
        )
    })
}

/// One check of a verify report.
#[track_caller]
pub fn check<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    report["checks"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["name"] == name))
        .unwrap_or_else(|| panic!("no check {name} in the report:\n{report:#}"))
}
