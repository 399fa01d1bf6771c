//! The runbook's apply against its critical path (issue 14): `examples/multi-master` applied to a
//! fresh sandbox with its normal emulated delays, every operation's start and end recorded through
//! the `Reporter` callbacks apply already makes, the operations' dependency edges taken from the
//! executor's own step graph (`apply::operation_dependencies`), and the longest chain of operation
//! durations through those edges compared with the apply's wall time. Whatever the wall time has
//! beyond the critical path is the executor's scheduling and bookkeeping (the target: under 10 %).
//!
//! `cargo bench -p meshform-cli --bench critical_path` runs `MESHFORM_BENCH_RUNS` (default 3)
//! applies, each on a sandbox of its own, prints every run and fails when the median ratio exceeds
//! `MESHFORM_BENCH_MAX_RATIO` (default 1.10) — the ratio with the time the chain's operations spent
//! waiting on their own state saves (timed by wrapping the store) counted as bookkeeping, which is
//! stricter than the definition (also printed). `cargo test -p meshform-cli --benches` runs it once
//! and checks what does not depend on the machine's load: every operation timed, the chain a real
//! path through the edges, the critical path no longer than the wall time. See docs/performance.md.
//!
//! The sandbox runs in this process on a runtime of its own (as it would in its own process), and
//! is reached over loopback exactly as by `meshform apply` after `. .meshform/sandbox/sandbox.env`:
//! the same provider registry, backend and variables as the CLI builds.

#![allow(clippy::print_stdout)] // a benchmark reports its figures on stdout

#[path = "support/critical.rs"]
mod critical;
#[path = "support/knobs.rs"]
mod knobs;
#[path = "support/sandbox_env.rs"]
mod sandbox_env;

use knobs::{env_number, load_average};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use critical::{critical_path, Chain};
use meshform_config::vars::VarInputs;
use meshform_core::InstanceAddr;
use meshform_engine::apply::{operation_dependencies, ApplyOptions, Operation};
use meshform_engine::ops;
use meshform_engine::plan::walk::PlanOptions;
use meshform_engine::reporter::BatchRef;
use meshform_engine::verify::CheckResult;
use meshform_engine::{Action, Plan, Reporter, SilentReporter};
use meshform_sandbox::{Sandbox, SandboxOptions};
use meshform_state::{Appended, LockInfo, State, StateChange, StateError, StateLock, StateStore};
use tokio::runtime::Runtime;

/// What the runbook's first apply creates (its README's steps 1 to 4).
const RUNBOOK_CREATES: usize = 15;

/// When each operation started and ended, as apply reported them.
struct Timeline {
    /// Operations by address and whether they delete (the `Reporter` names them so).
    started: Mutex<BTreeMap<(String, bool), Instant>>,
    ended: Mutex<BTreeMap<(String, bool), Instant>>,
    /// Rollout gates by resource and batch (1-based, as reported).
    gates_started: Mutex<BTreeMap<(String, usize), Instant>>,
    gates_ended: Mutex<BTreeMap<(String, usize), Instant>>,
}

impl Timeline {
    fn new() -> Timeline {
        Timeline {
            started: Mutex::new(BTreeMap::new()),
            ended: Mutex::new(BTreeMap::new()),
            gates_started: Mutex::new(BTreeMap::new()),
            gates_ended: Mutex::new(BTreeMap::new()),
        }
    }

    fn mark<K: Ord>(map: &Mutex<BTreeMap<K, Instant>>, key: K) {
        meshform_core::sync::lock(map).insert(key, Instant::now());
    }

    /// Start and end of `op` in `plan`, if apply reported both.
    fn span(&self, plan: &Plan, op: Operation) -> Option<(Instant, Instant)> {
        use meshform_core::sync::lock;
        match op {
            Operation::Apply { change } | Operation::Delete { change } => {
                let key =
                    (plan.changes[change].addr.to_string(), matches!(op, Operation::Delete { .. }));
                Some((*lock(&self.started).get(&key)?, *lock(&self.ended).get(&key)?))
            }
            Operation::Gate { rollout, batch } => {
                let key = (plan.rollouts[rollout].resource.to_string(), batch + 1);
                Some((*lock(&self.gates_started).get(&key)?, *lock(&self.gates_ended).get(&key)?))
            }
        }
    }
}

impl Reporter for Timeline {
    fn apply_start(&self, addr: &InstanceAddr, action: Action) {
        Timeline::mark(&self.started, (addr.to_string(), action == Action::Delete));
    }
    fn apply_complete(&self, addr: &InstanceAddr, action: Action, _: Duration, _: Option<&str>) {
        Timeline::mark(&self.ended, (addr.to_string(), action == Action::Delete));
    }
    fn apply_errored(&self, addr: &InstanceAddr, action: Action, _: Duration) {
        Timeline::mark(&self.ended, (addr.to_string(), action == Action::Delete));
    }
    fn rollout_checks_start(&self, b: BatchRef<'_>, _: &[String]) {
        Timeline::mark(&self.gates_started, (b.resource.to_string(), b.batch));
    }
    fn rollout_checks_done(&self, b: BatchRef<'_>, _: &[CheckResult], _: bool) {
        Timeline::mark(&self.gates_ended, (b.resource.to_string(), b.batch));
    }
}

/// The state store of the run, recording when each save (a journal append or a whole write) ran,
/// so that the time operations spend waiting on saves can be told apart from the providers' time.
struct TimedStore {
    inner: Arc<dyn StateStore>,
    saves: Mutex<Vec<(Instant, Instant)>>,
}

impl TimedStore {
    fn timed<T>(&self, f: impl FnOnce() -> T) -> T {
        let started = Instant::now();
        let out = f();
        meshform_core::sync::lock(&self.saves).push((started, Instant::now()));
        out
    }

    /// How much of `from..to` saves were running.
    fn saving_during(&self, from: Instant, to: Instant) -> Duration {
        meshform_core::sync::lock(&self.saves)
            .iter()
            .map(|&(s, e)| e.min(to).saturating_duration_since(s.max(from)))
            .sum()
    }
}

impl StateStore for TimedStore {
    fn describe(&self) -> String {
        self.inner.describe()
    }
    fn read(&self) -> Result<Option<State>, StateError> {
        self.inner.read()
    }
    fn write(&self, state: &mut State) -> Result<(), StateError> {
        self.timed(|| self.inner.write(state))
    }
    fn append(
        &self,
        lineage: &str,
        serial: u64,
        changes: &[StateChange],
    ) -> Result<Appended, StateError> {
        self.timed(|| self.inner.append(lineage, serial, changes))
    }
    fn write_forced(&self, state: &mut State) -> Result<(), StateError> {
        self.inner.write_forced(state)
    }
    fn lock(&self, info: LockInfo, timeout: Duration) -> Result<Box<dyn StateLock>, StateError> {
        self.inner.lock(info, timeout)
    }
    fn force_unlock(&self, id: &str) -> Result<(), StateError> {
        self.inner.force_unlock(id)
    }
}

/// The name of an operation, for the printed chain.
fn name(plan: &Plan, op: Operation) -> String {
    match op {
        Operation::Apply { change } => {
            let c = &plan.changes[change];
            format!("{} ({})", c.addr, c.action.verb().to_lowercase())
        }
        Operation::Delete { change } => format!("{} (delete)", plan.changes[change].addr),
        Operation::Gate { rollout, batch } => {
            format!("{} rollout checks after batch {}", plan.rollouts[rollout].resource, batch + 1)
        }
    }
}

/// A copy of `examples/multi-master` (its `main.hcl` and `apps/`) in `dir`, with the module it
/// calls beside it.
fn copy_example(dir: &Path) {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/multi-master");
    let copy = |from: &Path, to: &Path| {
        std::fs::copy(from, to)
            .unwrap_or_else(|e| panic!("copy {} to {}: {e}", from.display(), to.display()));
    };
    let main = std::fs::read_to_string(example.join("main.hcl")).expect("read the example");
    let main = main.replace("\"../../modules/multi-master\"", "\"./modules/multi-master\"");
    std::fs::write(dir.join("main.hcl"), main).expect("write main.hcl");
    let module = example.join("../../modules/multi-master");
    std::fs::create_dir_all(dir.join("modules/multi-master")).expect("create modules/");
    for entry in std::fs::read_dir(&module).expect("read the module") {
        let entry = entry.expect("an entry of the module");
        if entry.file_name().to_string_lossy().ends_with(".hcl") {
            copy(&entry.path(), &dir.join("modules/multi-master").join(entry.file_name()));
        }
    }
    std::fs::create_dir_all(dir.join("apps")).expect("create apps/");
    for entry in std::fs::read_dir(example.join("apps")).expect("read the example's apps/") {
        let entry = entry.expect("an entry of apps/");
        copy(&entry.path(), &dir.join("apps").join(entry.file_name()));
    }
}

/// One run's figures.
struct Run {
    /// The plan before the apply (refresh of the data sources included), not part of the ratio.
    plan_time: Duration,
    /// `ops::apply`, from the call to its return (its final state write included).
    wall: Duration,
    chain: Chain<Operation>,
    /// From the call of `ops::apply` to the first operation's start, and from the last
    /// operation's end to its return.
    lead_in: Duration,
    tail: Duration,
    /// How long the chain's operations waited on state saves, and the saves of the whole run.
    chain_saving: Duration,
    saves: usize,
    saving: Duration,
    lines: Vec<String>,
}

impl Run {
    fn ratio(&self) -> f64 {
        self.wall.as_secs_f64() / self.chain.length.as_secs_f64()
    }

    /// The ratio with the chain's own state saves counted as bookkeeping, not operation latency
    /// (an operation's reported time includes waiting for its journal appends): the gate.
    fn strict_ratio(&self) -> f64 {
        self.wall.as_secs_f64() / self.chain.length.saturating_sub(self.chain_saving).as_secs_f64()
    }
}

fn secs(d: Duration) -> String {
    format!("{:.3} s", d.as_secs_f64())
}

/// Starts a sandbox, plans and applies the runbook, and measures.
fn run_once(sandbox_rt: &Runtime, client: &Runtime, scratch: &Path) -> Run {
    let sandbox = sandbox_rt
        .block_on(Sandbox::start(SandboxOptions::new(scratch.join(".meshform/sandbox"))))
        .expect("the sandbox starts");
    copy_example(scratch);
    let settings = sandbox_env::settings(scratch, &sandbox);
    let (mut ws, parsed) = meshform_cli::commands::workspace(&settings)
        .unwrap_or_else(|code| panic!("the local backend opens (exit {code})"));
    let store = Arc::new(TimedStore { inner: Arc::clone(&ws.store), saves: Mutex::default() });
    ws.store = Arc::clone(&store) as Arc<dyn StateStore>;
    let vars = VarInputs { env: settings.env_vars.clone(), ..VarInputs::default() };
    let timeline = Timeline::new();
    let run = client.block_on(async {
        let planning = Instant::now();
        let planned =
            match ops::plan_parsed(&ws, parsed, &vars, &PlanOptions::default(), &SilentReporter)
                .await
            {
                Ok(p) => p,
                Err(ops::PlanError::Diagnostics(d)) => panic!(
                    "the runbook must plan: {:?}",
                    d.iter().map(|x| x.to_string()).collect::<Vec<_>>()
                ),
                Err(ops::PlanError::State(e)) => panic!("the state must read: {e}"),
            };
        assert!(planned.plan.failures.is_empty(), "the plan read everything");
        let plan_time = planning.elapsed();
        let plan = planned.plan.clone();
        let edges = operation_dependencies(&planned.loaded.graph, &plan, &planned.state)
            .unwrap_or_else(|d| panic!("the operations can be ordered: {d}"));
        let (_cancel, rx) = tokio::sync::watch::channel(false);
        let started = Instant::now();
        let out = ops::apply(&ws, planned, &ApplyOptions::default(), &timeline, rx).await;
        let wall = started.elapsed();
        assert!(
            !out.diags.has_errors(),
            "the runbook applies: {:?}",
            out.diags.iter().map(|d| d.to_string()).collect::<Vec<_>>()
        );
        assert_eq!(out.added, RUNBOOK_CREATES, "the runbook's first apply creates everything");
        let mut spans = BTreeMap::new();
        let mut instants = BTreeMap::new();
        for (op, _) in &edges {
            let (s, e) = timeline.span(&plan, *op).unwrap_or_else(|| {
                panic!("apply reported no start or end for {}", name(&plan, *op))
            });
            spans.insert(*op, (s.duration_since(started), e.duration_since(started)));
            instants.insert(*op, (s, e));
        }
        let chain = critical_path(&edges, &spans);
        let chain_saving =
            chain.ops.iter().map(|op| store.saving_during(instants[op].0, instants[op].1)).sum();
        let (saves, saving) = {
            let all = meshform_core::sync::lock(&store.saves);
            (all.len(), all.iter().map(|(s, e)| e.duration_since(*s)).sum())
        };
        let first = spans.values().map(|(s, _)| *s).min().unwrap_or_default();
        let last = spans.values().map(|(_, e)| *e).max().unwrap_or_default();
        let mut lines = Vec::new();
        for (i, op) in chain.ops.iter().enumerate() {
            let (s, e) = spans[op];
            // How long after what it waited for (the previous link) this operation started.
            let gap = i.checked_sub(1).map(|p| s.saturating_sub(spans[&chain.ops[p]].1));
            lines.push(format!(
                "    {:>7} → {:>7}  {:>8}{}  {}",
                secs(s),
                secs(e),
                secs(e - s),
                gap.map_or_else(String::new, |g| format!("  (+{} after the previous)", secs(g))),
                name(&plan, *op)
            ));
        }
        Run {
            plan_time,
            wall,
            chain,
            lead_in: first,
            tail: wall.saturating_sub(last),
            chain_saving,
            saves,
            saving,
            lines,
        }
    });
    sandbox_rt.block_on(sandbox.shutdown());
    run
}

fn main() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    // `cargo bench` passes `--bench`; `cargo test --benches` runs this once, as a test.
    let testing = !std::env::args().any(|a| a == "--bench");
    let runs: usize =
        env_number("MESHFORM_BENCH_RUNS").unwrap_or(if testing { 1 } else { 3 }).max(1);
    let max_ratio: f64 = env_number("MESHFORM_BENCH_MAX_RATIO").unwrap_or(1.10);
    let (sandbox_rt, client) = knobs::runtimes();
    if testing {
        critical::self_check();
    }
    let (mut ratios, mut strict) = (Vec::new(), Vec::new());
    for i in 1..=runs {
        let scratch = tempfile::tempdir().expect("a scratch directory");
        let dir: PathBuf = scratch.path().to_path_buf();
        let load_before = load_average();
        let run = run_once(&sandbox_rt, &client, &dir);
        println!(
            "run {i}/{runs}: (plan {}) apply {} wall, critical path {} ({} operations in the chain), ratio {:.3}; \
             first operation started after {}, apply returned {} after the last ended; load average {} → {}",
            secs(run.plan_time),
            secs(run.wall),
            secs(run.chain.length),
            run.chain.ops.len(),
            run.ratio(),
            secs(run.lead_in),
            secs(run.tail),
            load_before,
            load_average(),
        );
        println!(
            "  state saves: {} in the run, {} in all; the critical path's operations waited {} on them \
             (ratio with those counted as overhead: {:.3})",
            run.saves,
            secs(run.saving),
            secs(run.chain_saving),
            run.strict_ratio()
        );
        println!("  the critical path (start → end since apply was called, duration):");
        for l in &run.lines {
            println!("{l}");
        }
        // What holds whatever the machine's load: the critical path is a chain of real operations,
        // none longer than the whole apply.
        assert!(!run.chain.ops.is_empty(), "the runbook has operations");
        assert!(run.chain.length <= run.wall, "no chain of operations outlasts the apply");
        ratios.push(run.ratio());
        strict.push(run.strict_ratio());
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let all = |v: &[f64]| v.iter().map(|r| format!("{r:.3}")).collect::<Vec<_>>().join(", ");
    let (plain, gate) = (median(&mut ratios), median(&mut strict));
    println!(
        "runbook apply: wall / critical path, median of {runs}: {plain:.3} (all: {}); with the \
         chain's state saves counted as overhead: {gate:.3} (all: {}); target ≤ {max_ratio:.2}",
        all(&ratios),
        all(&strict)
    );
    if !testing && gate > max_ratio {
        println!(
            "FAILED: the apply took {gate:.3}× its critical path, over {max_ratio:.2}×: \
             scheduling or bookkeeping adds more than {:.0} %",
            (max_ratio - 1.0) * 100.0
        );
        std::process::exit(1);
    }
}
