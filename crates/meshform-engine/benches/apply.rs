//! Apply and destroy benchmarks: `count = N` independent `local_file` resources (the real `local`
//! provider), applied then destroyed through `ops::plan` + `ops::apply` as `meshform apply` and
//! `meshform destroy` run them, on the local backend (and on PostgreSQL when a server can be
//! started: see `meshform-pgtest`).
//!
//! `cargo bench -p meshform-engine --bench apply`. Each run is seconds long, so every size is
//! measured a few times (`MESHFORM_BENCH_RUNS`, default 3) rather than sampled by criterion; the
//! median is printed with the state's size. Every size and run is applied first and destroyed after
//! (`MESHFORM_BENCH_INTERLEAVE=1` destroys each run before the next apply: see [`bench`]). Sizes
//! default to 1,000 and 10,000 (`MESHFORM_BENCH_SIZES=1000,2000` overrides them);
//! `MESHFORM_BENCH_BACKENDS` is `local`, `pg` or both (default `local,pg`);
//! `MESHFORM_BENCH_SUBDIRS=100` spreads the files over 100 directories;
//! `MESHFORM_BENCH_PROVIDER=memory` applies `memory_object`s kept in this process instead of files
//! (meshform's own work without the file system's). With files, the same file operations are also
//! timed without meshform ("the file system alone"), so that meshform's share can be told from the
//! file system's. The peak resident memory printed is the process's, so measure one size per
//! process to attribute it. See docs/performance.md.

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

#[path = "support/memory.rs"]
mod memory;
use memory::MemoryProvider;

/// What the benchmark's resources are: real files, or objects in memory.
#[derive(Clone, Copy, PartialEq)]
enum Objects {
    Files,
    Memory,
}

/// The configuration: `n` files with no dependencies between them, all in `out/`, or spread over
/// `subdirs` directories under it (`MESHFORM_BENCH_SUBDIRS`; 0 by default, as a user would write
/// it), which shows what the file system's cost for one large directory is.
fn write_config(dir: &Path, n: usize, subdirs: usize, objects: Objects) {
    if objects == Objects::Memory {
        let text = format!(
            r#"resource "memory_object" "f" {{
  count   = {n}
  name    = "f-${{count.index}}"
  content = "object ${{count.index}} of {n}"
}}
"#
        );
        std::fs::write(dir.join("main.hcl"), text).expect("write the configuration");
        return;
    }
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

fn workspace(dir: &Path, store: Arc<dyn StateStore>, memory: &MemoryProvider) -> Workspace {
    let mut registry = Registry::new();
    registry.register(Arc::new(LocalProvider::new(dir)));
    registry.register(Arc::new(memory.clone()));
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

/// Runs `op(i)` for every `i` in `0..n` on ten threads, as `apply`'s default parallelism runs ten
/// operations at once; returns how long that took.
fn ten_at_a_time(n: usize, op: impl Fn(usize) + Sync) -> Duration {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..10 {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= n {
                    break;
                }
                op(i);
            });
        }
    });
    started.elapsed()
}

/// Where file `i` of `n` goes under `dir` (as [`write_config`] places it).
fn file_path(dir: &Path, i: usize, subdirs: usize) -> std::path::PathBuf {
    match subdirs {
        0 => dir.join(format!("out/f-{i}.txt")),
        d => dir.join(format!("out/{}/f-{i}.txt", i % d)),
    }
}

/// The file system's share of the `files` benchmark, without meshform: for each of the `n` files
/// what `local_file` does (its directory made if needed, the atomic write with its two `fsync`s, the
/// file and its mode read back). The files stay until [`file_system_alone_remove`].
fn file_system_alone_create(n: usize, subdirs: usize) -> (tempfile::TempDir, Duration) {
    let dir = tempfile::tempdir().expect("tempdir");
    let took = ten_at_a_time(n, |i| {
        let p = file_path(dir.path(), i, subdirs);
        std::fs::create_dir_all(meshform_core::fsio::parent_dir(&p)).expect("mkdir");
        let text = format!("file {i} of {n}\n");
        meshform_core::fsio::write_atomic(&p, text.as_bytes(), Some(0o644)).expect("write");
        let back = std::fs::read(&p).expect("read back");
        assert_eq!(back, text.as_bytes());
        std::fs::metadata(&p).expect("mode");
    });
    (dir, took)
}

/// Removes the files [`file_system_alone_create`] made, ten at a time, as `destroy` does.
fn file_system_alone_remove(dir: &Path, n: usize, subdirs: usize) -> Duration {
    ten_at_a_time(n, |i| std::fs::remove_file(file_path(dir, i, subdirs)).expect("remove"))
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

/// One benchmark's settings.
struct Setup<'a> {
    backend: &'a str,
    pg: Option<&'a str>,
    subdirs: usize,
    objects: Objects,
    runs: usize,
}

/// The figures of one size.
#[derive(Default)]
struct Figures {
    plans: Vec<Duration>,
    applies: Vec<Duration>,
    apply_cpu: Vec<Duration>,
    destroys: Vec<Duration>,
    destroy_cpu: Vec<Duration>,
    fs_creates: Vec<Duration>,
    fs_removes: Vec<Duration>,
    state_bytes: usize,
}

/// One applied workspace (and its file-system-alone twin), waiting to be destroyed.
struct Applied {
    n: usize,
    dir: tempfile::TempDir,
    ws: Workspace,
    fs_alone: Option<tempfile::TempDir>,
}

fn apply_one(rt: &Runtime, setup: &Setup<'_>, n: usize, run_no: usize, f: &mut Figures) -> Applied {
    let fs_alone = (setup.objects == Objects::Files).then(|| {
        let (dir, took) = file_system_alone_create(n, setup.subdirs);
        f.fs_creates.push(took);
        dir
    });
    let dir = tempfile::tempdir().expect("tempdir");
    write_config(dir.path(), n, setup.subdirs, setup.objects);
    let memory = MemoryProvider::default();
    let store: Arc<dyn StateStore> = match setup.pg {
        None => Arc::new(LocalStore::new(dir.path().join("meshform.state.json"))),
        Some(conn) => Arc::new(
            PgStore::new(&PgSettings {
                conn_str: conn.to_owned(),
                env: Default::default(),
                schema_name: format!("bench_{}_{n}_{run_no}", std::process::id()),
                workspace: "default".to_owned(),
            })
            .expect("the PostgreSQL store"),
        ),
    };
    let ws = workspace(dir.path(), store, &memory);
    let cpu = cpu_seconds();
    let (plan, apply, changes) = run(rt, &ws, PlanMode::Normal);
    f.apply_cpu.push(Duration::from_secs_f64((cpu_seconds() - cpu).max(0.0)));
    f.plans.push(plan);
    f.applies.push(apply);
    assert_eq!(changes, n, "every object is created");
    let state = ws.store.read().expect("read").expect("a state");
    assert_eq!(state.resources.first().map_or(0, |r| r.instances.len()), n);
    f.state_bytes = meshform_state::encode_state(&state).map_or(0, |b| b.len());
    let made = match setup.objects {
        Objects::Files => count_files(&dir.path().join("out")),
        Objects::Memory => memory.len(),
    };
    assert_eq!(made, n, "every object exists");
    Applied { n, dir, ws, fs_alone }
}

fn destroy_one(rt: &Runtime, setup: &Setup<'_>, a: Applied, f: &mut Figures) {
    if let Some(dir) = &a.fs_alone {
        f.fs_removes.push(file_system_alone_remove(dir.path(), a.n, setup.subdirs));
    }
    let cpu = cpu_seconds();
    let (_, destroy, changes) = run(rt, &a.ws, PlanMode::Destroy);
    f.destroy_cpu.push(Duration::from_secs_f64((cpu_seconds() - cpu).max(0.0)));
    f.destroys.push(destroy);
    assert_eq!(changes, a.n, "every object is destroyed");
    assert!(a.ws.store.read().expect("read").is_none_or(|s| s.resources.is_empty()));
    if setup.objects == Objects::Files {
        assert_eq!(count_files(&a.dir.path().join("out")), 0, "every file is removed");
    }
}

/// Applies every size `runs` times, then destroys them all. Applies come before destroys because
/// on a file system that will not reuse recently freed inodes for a while (ext4 without a journal,
/// as on this machine), an apply right after a destroy of thousands of files pays for scanning past
/// them; `interleave` destroys each run before the next apply, to show that.
fn bench(rt: &Runtime, setup: &Setup<'_>, sizes: &[usize], interleave: bool) {
    let mut figures: std::collections::BTreeMap<usize, Figures> = Default::default();
    let mut applied = Vec::new();
    for &n in sizes {
        for run_no in 0..setup.runs {
            let f = figures.entry(n).or_default();
            let a = apply_one(rt, setup, n, run_no, f);
            if interleave {
                destroy_one(rt, setup, a, f);
            } else {
                applied.push(a);
            }
        }
    }
    for a in applied {
        let f = figures.entry(a.n).or_default();
        destroy_one(rt, setup, a, f);
    }
    let (backend, subdirs) = (setup.backend, setup.subdirs);
    let kind = if setup.objects == Objects::Memory { "memory" } else { "files" };
    for (n, f) in figures {
        println!(
            "{backend:5} {kind:6} n={n:6} dirs={subdirs:4}  plan {:6.2} s  apply {:6.2} s (CPU {:6.2} s)  destroy {:6.2} s (CPU {:6.2} s)  state {:7} KB",
            median(f.plans).as_secs_f64(),
            median(f.applies).as_secs_f64(),
            median(f.apply_cpu).as_secs_f64(),
            median(f.destroys).as_secs_f64(),
            median(f.destroy_cpu).as_secs_f64(),
            f.state_bytes / 1024,
        );
        if !f.fs_creates.is_empty() {
            println!(
                "{:5} {kind:6} n={n:6} dirs={subdirs:4}  the file system alone (what local_file does, ten at a time): create {:6.2} s, remove {:6.2} s",
                "",
                median(f.fs_creates).as_secs_f64(),
                median(f.fs_removes).as_secs_f64(),
            );
        }
    }
    println!("peak RSS of this process so far: {:.1} MiB", peak_rss_mib());
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
    let objects = match std::env::var("MESHFORM_BENCH_PROVIDER").as_deref() {
        Ok("memory") => Objects::Memory,
        Ok("local") | Err(_) => Objects::Files,
        Ok(other) => panic!("unknown MESHFORM_BENCH_PROVIDER {other:?} (local, memory)"),
    };
    let interleave = std::env::var("MESHFORM_BENCH_INTERLEAVE").is_ok_and(|v| v == "1");
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
        let setup = Setup { backend, pg: pg.as_deref(), subdirs, objects, runs };
        bench(&rt, &setup, &sizes, interleave);
    }
}
