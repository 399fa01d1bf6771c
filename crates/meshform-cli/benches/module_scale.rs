//! `modules/multi-master` at scale (issue 13): the module called for N clusters of one in-process
//! sandbox of 100 — N meshes, N × (N − 1) discovery attachments, N multi-cluster networks of N
//! clusters each, N injections, the CAs, and sleep and helloworld per cluster through a kubernetes
//! provider with `for_each` — planned from an empty state with `--refresh=false`, as
//! `meshform plan --refresh=false` plans it: the files parsed, the module expanded, the graph
//! built, the 100 `ack_cluster` data sources read (refresh off still reads data sources), every
//! instance planned by its provider (a server-side dry run per cluster's manifests).
//!
//! `cargo bench -p meshform-cli --bench module_scale` plans each size of `MESHFORM_BENCH_CLUSTERS`
//! (default 10,25,50,100) `MESHFORM_BENCH_RUNS` times (default 3), prints the median of each step,
//! the resources and the peak resident memory of the planning (the process's high-water mark,
//! reset before it, so it counts the sandbox's resident memory too), and fails when 100 clusters
//! take 2 s or more, 300 MB or more, or when the time per planned resource grows by more than a
//! quarter from one size to the next (no worse than linear in the resources).
//! `cargo test -p meshform-cli --benches` plans 10 clusters once, unoptimised, and checks what
//! does not depend on the machine: every resource of the module planned, with its count.
//! See docs/performance.md.

#![allow(clippy::print_stdout)] // a benchmark reports its figures on stdout

#[path = "support/knobs.rs"]
mod knobs;
#[path = "../tests/shared/n_clusters.rs"]
mod n_clusters;
#[path = "support/sandbox_env.rs"]
mod sandbox_env;

use knobs::{env_number, load_average};

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use meshform_config::vars::VarInputs;
use meshform_engine::ops;
use meshform_engine::plan::walk::PlanOptions;
use meshform_engine::{Action, SilentReporter};
use meshform_sandbox::{Sandbox, SandboxOptions};

/// The sandbox's clusters: every size is planned over the first N of them.
const SANDBOX_CLUSTERS: usize = 100;

/// The targets of the issue, for 100 clusters (`MESHFORM_BENCH_MAX_SECONDS`, `MESHFORM_BENCH_MAX_MB`
/// set others).
const MAX_SECONDS: f64 = 2.0;
const MAX_MB: f64 = 300.0;
/// How much the time per resource may grow from one size to the next: linear growth in the
/// resources keeps it flat; the fixed costs (the sandbox's data source reads, provider
/// configuration) make it fall.
const MAX_PER_RESOURCE_GROWTH: f64 = 1.25;

/// The repository's root.
fn repo_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

/// The configuration for `n` clusters: the module (copied to `./modules/multi-master`) with
/// `cluster-1` … `cluster-n`, and sleep and helloworld vN in each (`examples/three-regions/apps`).
fn write_configuration(dir: &Path, n: usize) {
    let copy = |from: &Path, to: &Path| {
        std::fs::create_dir_all(to).expect("create a configuration directory");
        for entry in std::fs::read_dir(from).expect("read a configuration directory") {
            let entry = entry.expect("an entry");
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".hcl") || name.ends_with(".yaml") {
                std::fs::copy(entry.path(), to.join(&name)).expect("copy a configuration file");
            }
        }
    };
    copy(&repo_dir().join("modules/multi-master"), &dir.join("modules/multi-master"));
    copy(&repo_dir().join("examples/three-regions/apps"), &dir.join("apps"));
    let hcl = n_clusters::topology(n);
    std::fs::write(dir.join("main.hcl"), hcl).expect("write main.hcl");
}

/// What the module and the apps create for `n` clusters, by resource type.
fn expected(n: usize) -> BTreeMap<&'static str, usize> {
    BTreeMap::from([
        ("pki_root_ca", 1),
        ("pki_intermediate_ca", n),
        ("asm_service_mesh", n),
        ("asm_cluster_attachment", n * (n - 1)),
        ("asm_multi_cluster_network", n),
        ("asm_sidecar_injection", n),
        ("kubernetes_manifest", n),
    ])
}

/// The process's resident memory now and its high-water mark, in MB (`/proc/self/status`).
fn memory() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Resets the high-water mark to the current resident memory (`5` to `/proc/self/clear_refs`).
fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// One plan's figures.
struct Figures {
    resources: usize,
    parse: Duration,
    load: Duration,
    plan: Duration,
    /// Resident memory before the plan, and its peak during it.
    rss_before: f64,
    peak: f64,
    /// The high-water mark could not be reset: `peak` is the process's since it started (an upper
    /// bound of the plan's).
    peak_since_start: bool,
}

impl Figures {
    fn total(&self) -> Duration {
        self.parse + self.load + self.plan
    }
}

/// Plans the configuration in `dir` from an empty state without refresh, and measures.
fn plan_once(client: &tokio::runtime::Runtime, dir: &Path, sandbox: &Sandbox, n: usize) -> Figures {
    let settings = sandbox_env::settings(dir, sandbox);
    let vars = VarInputs { env: settings.env_vars.clone(), ..VarInputs::default() };
    let opts = PlanOptions { refresh: false, ..PlanOptions::default() };
    let peak_resettable = reset_peak();
    let (rss_before, _) = memory();
    let started = Instant::now();
    let (ws, parsed) = meshform_cli::commands::workspace(&settings)
        .unwrap_or_else(|code| panic!("the local backend opens (exit {code})"));
    let parse = started.elapsed();
    let loading = Instant::now();
    let (loaded, diags) = ops::load_parsed(&ws, parsed);
    let Some(loaded) = loaded else {
        panic!("{n} clusters load: {:?}", diags.iter().map(|d| d.to_string()).collect::<Vec<_>>())
    };
    let load = loading.elapsed();
    let planning = Instant::now();
    let planned = client
        .block_on(ops::plan_loaded(&ws, loaded, diags, &vars, &opts, &SilentReporter))
        .unwrap_or_else(|e| match e {
            ops::PlanError::Diagnostics(d) => panic!(
                "{n} clusters plan: {:?}",
                d.iter().map(|x| x.to_string()).collect::<Vec<_>>()
            ),
            ops::PlanError::State(e) => panic!("the state reads: {e}"),
        });
    let plan = planning.elapsed();
    let (_, peak) = memory();
    assert!(planned.plan.failures.is_empty(), "{n} clusters: the plan read everything");
    let mut created: BTreeMap<&str, usize> = BTreeMap::new();
    for c in &planned.plan.changes {
        assert_eq!(c.action, Action::Create, "{} is created", c.addr);
        *created.entry(c.addr.resource.ty.as_str()).or_default() += 1;
    }
    assert_eq!(created, expected(n), "{n} clusters: what the plan creates");
    let resources = planned.plan.changes.len();
    drop(planned);
    Figures { resources, parse, load, plan, rss_before, peak, peak_since_start: !peak_resettable }
}

fn env_list(name: &str) -> Option<Vec<usize>> {
    let v = std::env::var(name).ok()?;
    let sizes: Vec<usize> = v.split(',').filter_map(|s| s.trim().parse().ok()).collect();
    (!sizes.is_empty()).then_some(sizes)
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    // `cargo bench` passes `--bench`; `cargo test --benches` runs this once, as a test.
    let testing = !std::env::args().any(|a| a == "--bench");
    let mut sizes = env_list("MESHFORM_BENCH_CLUSTERS").unwrap_or_else(|| {
        if testing {
            vec![10]
        } else {
            vec![10, 25, 50, 100]
        }
    });
    sizes.retain(|&n| (2..=SANDBOX_CLUSTERS).contains(&n));
    sizes.sort_unstable();
    sizes.dedup();
    assert!(!sizes.is_empty(), "MESHFORM_BENCH_CLUSTERS lists sizes from 2 to {SANDBOX_CLUSTERS}");
    let runs: usize =
        env_number("MESHFORM_BENCH_RUNS").unwrap_or(if testing { 1 } else { 3 }).max(1);
    let (sandbox_rt, client) = knobs::runtimes();
    let scratch = tempfile::tempdir().expect("a scratch directory");
    let starting = Instant::now();
    let clusters = if testing { sizes[sizes.len() - 1] } else { SANDBOX_CLUSTERS };
    let mut opts = SandboxOptions::new(scratch.path().join("sandbox"));
    opts.clusters = Some(clusters);
    let sandbox = sandbox_rt.block_on(Sandbox::start(opts)).expect("the sandbox starts");
    println!("sandbox of {clusters} clusters up in {}", ms(starting.elapsed()));

    let mut medians: Vec<(usize, Figures)> = Vec::new();
    for &n in &sizes {
        let dir = scratch.path().join(format!("clusters-{n}"));
        write_configuration(&dir, n);
        let mut all: Vec<Figures> =
            (0..runs).map(|_| plan_once(&client, &dir, &sandbox, n)).collect();
        // The memory of the first run (what a `meshform plan` process has), the highest peak.
        let rss_before = all[0].rss_before;
        let peak = all.iter().map(|f| f.peak).fold(f64::NAN, f64::max);
        all.sort_by_key(Figures::total);
        let times: Vec<String> = all.iter().map(|f| ms(f.total())).collect();
        let mut median = all.swap_remove(all.len() / 2);
        (median.rss_before, median.peak) = (rss_before, peak);
        println!(
            "{n:>3} clusters: {} resources planned in {} (parse {}, load {}, plan {}; runs: {}), \
             {:.1} µs per resource; process resident {:.0} MB before the first run, peak {:.0} MB{}; load average {}",
            median.resources,
            ms(median.total()),
            ms(median.parse),
            ms(median.load),
            ms(median.plan),
            times.join(", "),
            median.total().as_secs_f64() * 1e6 / median.resources as f64,
            median.rss_before,
            median.peak,
            if median.peak_since_start { " (since start: not resettable here)" } else { "" },
            load_average(),
        );
        medians.push((n, median));
    }
    sandbox_rt.block_on(sandbox.shutdown());

    // Linear growth keeps the time per resource flat from one size to the next; fixed costs make
    // it fall. Each step is checked, so that a cost growing faster than the resources shows at the
    // large sizes even while the small sizes' fixed costs hide it over the whole range.
    let per_resource = |f: &Figures| f.total().as_secs_f64() / f.resources as f64;
    let mut growth: f64 = 0.0;
    for pair in medians.windows(2) {
        let ((a, fa), (b, fb)) = (&pair[0], &pair[1]);
        let step = per_resource(fb) / per_resource(fa);
        growth = growth.max(step);
        println!(
            "from {a} to {b} clusters: resources ×{:.2}, time ×{:.2}, time per resource ×{step:.2} \
             (target ≤ {MAX_PER_RESOURCE_GROWTH})",
            fb.resources as f64 / fa.resources as f64,
            fb.total().as_secs_f64() / fa.total().as_secs_f64(),
        );
    }
    if testing {
        return;
    }
    let max_seconds = env_number("MESHFORM_BENCH_MAX_SECONDS").unwrap_or(MAX_SECONDS);
    let max_mb = env_number("MESHFORM_BENCH_MAX_MB").unwrap_or(MAX_MB);
    let mut failed = Vec::new();
    if let Some((_, f)) = medians.iter().find(|(n, _)| *n == 100) {
        if f.total().as_secs_f64() >= max_seconds {
            failed.push(format!(
                "100 clusters planned in {}, not under {max_seconds} s",
                ms(f.total())
            ));
        }
        if f.peak.is_nan() || f.peak >= max_mb {
            failed.push(format!("100 clusters peaked at {:.0} MB, not under {max_mb} MB", f.peak));
        }
    }
    if growth > MAX_PER_RESOURCE_GROWTH {
        failed.push(format!(
            "the time per resource grew ×{growth:.2} in one step: worse than linear"
        ));
    }
    if !failed.is_empty() {
        println!("FAILED: {}", failed.join("; "));
        std::process::exit(1);
    }
}
