//! Apply and destroy benchmarks: `count = N` independent `local_file` resources (the real `local`
//! provider), applied then destroyed through `ops::plan` + `ops::apply` as `meshform apply` and
//! `meshform destroy` run them, on the local backend (and on PostgreSQL when a server can be
//! started: see `meshform-pgtest`).
//!
//! `cargo bench -p meshform-engine --bench apply`. Each run is seconds long, so every size is
//! measured a few times (`MESHFORM_BENCH_RUNS`, default 3) rather than sampled by criterion; the
//! median is printed with the state's size and the process's peak resident memory. Sizes default to
//! 1,000 and 10,000 (`MESHFORM_BENCH_SIZES=1000,2000` overrides them); `MESHFORM_BENCH_BACKENDS`
//! is `local`, `pg` or both (default `local,pg`); `MESHFORM_BENCH_SUBDIRS=100` spreads the files
//! over 100 directories. Peak memory is the process's, so measure one size
//! per process to attribute it. See docs/performance.md.

#![allow(clippy::print_stdout)] // a benchmark reports its figures on stdout

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use meshform_config::vars::VarInputs;
use meshform_engine::apply::ApplyOptions;
use meshform_engine::ops::{self, Workspace};
use meshform_engine::plan::walk::PlanOptions;
use meshform_engine::{PlanMode, SilentReporter};
use meshform_provider::Registry;
use meshform_provider_local::LocalProvider;
use meshform_state::{LocalStore, PgSettings, PgStore, StateStore};
use tokio::runtime::Runtime;
use tokio::sync::watch;

/// The configuration: `n` files with no dependencies between them, all in `out/`, or spread over
/// `subdirs` directories under it (`MESHFORM_BENCH_SUBDIRS`; 0 by default, as a user would write
/// it), which shows what the file system's cost for one large directory is.
fn write_config(dir: &Path, n: usize, subdirs: usize) {
    let path = if subdirs == 0 {
        "${path.module}/out/f-${count.index}.txt".to_owned()
    } else {
        format!("${{path.module}}/out/${{count.index % {subdirs}}}/f-${{count.index}}.txt")
    };
    let text = format!(
        r#"resource "local_file" "f" {{
  count    = {n}
  filename = "{path}"
  content  = "file ${{count.index}} of {n}\n"
}}
"#
    );
    std::fs::write(dir.join("main.hcl"), text).expect("write the configuration");
}

fn workspace(dir: &Path, store: Arc<dyn StateStore>) -> Workspace {
    let mut registry = Registry::new();
    registry.register(Arc::new(LocalProvider::new(dir)));
    Workspace { dir: dir.to_path_buf(), registry, store }
}

/// The CPU time this process has used so far (user and system, every thread), from
/// `/proc/self/stat` in clock ticks (100 per second here).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The fields after the command name (which is in parentheses): utime is the 12th, stime the 13th.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(f64::NAN);
    (ticks(11) + ticks(12)) / 100.0
}

/// Plans and applies in `mode`; returns (plan time, apply time, changes applied).
fn run(rt: &Runtime, ws: &Workspace, mode: PlanMode) -> (Duration, Duration, usize) {
    let opts = PlanOptions { mode, ..PlanOptions::default() };
    rt.block_on(async {
        let _lock = ops::lock(ws, "apply", "bench", Duration::ZERO).await.expect("lock");
        let started = Instant::now();
        let planned = ops::plan(ws, &VarInputs::default(), &opts, &SilentReporter)
            .await
            .unwrap_or_else(|e| panic!("the benchmark configuration must plan: {e:?}"));
        let planning = started.elapsed();
        let changes = planned.plan.changes.len();
        let started = Instant::now();
        let (_tx, rx) = watch::channel(false);
        let out = ops::apply(ws, planned, &ApplyOptions::default(), &SilentReporter, rx).await;
        assert!(!out.diags.has_errors(), "the benchmark apply must succeed: {:?}", out.diags);
        (planning, started.elapsed(), changes)
    })
}

/// The peak resident set size of this process so far, in MiB.
fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// The files under `dir`, recursively.
fn count_files(dir: &Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |entries| {
        entries
            .filter_map(Result::ok)
            .map(|e| if e.path().is_dir() { count_files(&e.path()) } else { 1 })
            .sum()
    })
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn bench(rt: &Runtime, backend: &str, n: usize, runs: usize, pg: Option<&str>, subdirs: usize) {
    let (mut applies, mut destroys, mut plans) = (Vec::new(), Vec::new(), Vec::new());
    let (mut apply_cpu, mut destroy_cpu) = (Vec::new(), Vec::new());
    let mut state_bytes = 0;
    for i in 0..runs {
        let dir = tempfile::tempdir().expect("tempdir");
        write_config(dir.path(), n, subdirs);
        let store: Arc<dyn StateStore> = match pg {
            None => Arc::new(LocalStore::new(dir.path().join("meshform.state.json"))),
            Some(conn) => Arc::new(
                PgStore::new(&PgSettings {
                    conn_str: conn.to_owned(),
                    env: Default::default(),
                    schema_name: format!("bench_{}_{n}_{i}", std::process::id()),
                    workspace: "default".to_owned(),
                })
                .expect("the PostgreSQL store"),
            ),
        };
        let ws = workspace(dir.path(), store);
        let cpu = cpu_seconds();
        let (plan, apply, changes) = run(rt, &ws, PlanMode::Normal);
        apply_cpu.push(Duration::from_secs_f64((cpu_seconds() - cpu).max(0.0)));
        assert_eq!(changes, n, "every file is created");
        let state = ws.store.read().expect("read").expect("a state");
        assert_eq!(state.resources.first().map_or(0, |r| r.instances.len()), n);
        state_bytes = meshform_state::encode_state(&state).map_or(0, |b| b.len());
        let files = count_files(&dir.path().join("out"));
        assert_eq!(files, n, "every file exists");
        let cpu = cpu_seconds();
        let (_, destroy, changes) = run(rt, &ws, PlanMode::Destroy);
        destroy_cpu.push(Duration::from_secs_f64((cpu_seconds() - cpu).max(0.0)));
        assert_eq!(changes, n, "every file is destroyed");
        assert!(ws.store.read().expect("read").is_none_or(|s| s.resources.is_empty()));
        plans.push(plan);
        applies.push(apply);
        destroys.push(destroy);
    }
    println!(
        "{backend:5} n={n:6} dirs={subdirs:4}  plan {:6.2} s  apply {:6.2} s (CPU {:6.2} s)  destroy {:6.2} s (CPU {:6.2} s)  state {:7} KB  peak RSS {:6.1} MiB",
        median(plans).as_secs_f64(),
        median(applies).as_secs_f64(),
        median(apply_cpu).as_secs_f64(),
        median(destroys).as_secs_f64(),
        median(destroy_cpu).as_secs_f64(),
        state_bytes / 1024,
        peak_rss_mib(),
    );
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs this once, small.
    let testing = !std::env::args().any(|a| a == "--bench");
    let sizes: Vec<usize> = std::env::var("MESHFORM_BENCH_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| if testing { vec![50] } else { vec![1_000, 10_000] });
    let runs: usize = std::env::var("MESHFORM_BENCH_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(if testing { 1 } else { 3 })
        .max(1);
    let backends =
        std::env::var("MESHFORM_BENCH_BACKENDS").unwrap_or_else(|_| "local,pg".to_owned());
    let subdirs: usize =
        std::env::var("MESHFORM_BENCH_SUBDIRS").ok().and_then(|d| d.parse().ok()).unwrap_or(0);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    for backend in backends.split(',').map(str::trim) {
        let pg = match backend {
            "local" => None,
            "pg" => match meshform_pgtest::server() {
                Some(server) => Some(server.conn_str()),
                None => {
                    println!("pg: skipped ({})", meshform_pgtest::skip_message());
                    continue;
                }
            },
            other => panic!("unknown backend {other:?} in MESHFORM_BENCH_BACKENDS (local, pg)"),
        };
        for &n in &sizes {
            bench(&rt, backend, n, runs, pg.as_deref(), subdirs);
        }
    }
}
