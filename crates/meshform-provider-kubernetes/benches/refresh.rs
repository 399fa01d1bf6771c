//! Refresh at scale (issue 14): `count = N` `kubernetes_manifest` ConfigMaps applied to an emulated
//! API server of the sandbox, then a refresh-only plan timed, with the requests the server answered
//! during it counted by verb and resource, so "at most one read per object" is measured, not assumed.
//!
//! `cargo bench -p meshform-provider-kubernetes --bench refresh`. The server runs in this process on
//! a runtime of its own (as the sandbox would in its own process) and is reached over loopback TLS
//! with a kubeconfig, exactly as `meshform plan -refresh-only` reaches a cluster; the plan runs
//! through `ops::plan` on a multi-threaded runtime, as the CLI's. `MESHFORM_BENCH_SIZES` (default
//! 1000) and `MESHFORM_BENCH_RUNS` (refreshes per size, default 5) override the defaults; the
//! median and every run are printed. See docs/performance.md.

#![allow(clippy::print_stdout)] // a benchmark reports its figures on stdout

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use meshform_config::vars::VarInputs;
use meshform_engine::apply::ApplyOptions;
use meshform_engine::ops::{self, Planned, Workspace};
use meshform_engine::plan::walk::PlanOptions;
use meshform_engine::{PlanMode, SilentReporter};
use meshform_provider::Registry;
use meshform_provider_kubernetes::{KubeEnv, KubernetesProvider};
use meshform_sandbox::kube::{self, ClusterOptions, Gvk, RequestCounts};
use meshform_state::LocalStore;
use tokio::runtime::Runtime;

/// `n` ConfigMaps, one object per instance.
fn write_config(dir: &Path, kubeconfig: &Path, n: usize) {
    let text = format!(
        r#"provider "kubernetes" {{
  kubeconfig = "{kubeconfig}"
}}

resource "kubernetes_manifest" "cm" {{
  count = {n}
  manifest = {{
    apiVersion = "v1"
    kind       = "ConfigMap"
    metadata = {{
      name      = "bench-${{count.index}}"
      namespace = "default"
    }}
    data = {{
      index = "${{count.index}}"
      note  = "configmap ${{count.index}} of {n}"
    }}
  }}
}}
"#,
        kubeconfig = kubeconfig.display()
    );
    std::fs::write(dir.join("main.hcl"), text).expect("write the configuration");
}

/// Plans in `mode`, failing the benchmark on any diagnostic or provider failure.
async fn plan(ws: &Workspace, mode: PlanMode) -> Planned {
    let opts = PlanOptions { mode, ..PlanOptions::default() };
    let planned = match ops::plan(ws, &VarInputs::default(), &opts, &SilentReporter).await {
        Ok(p) => p,
        Err(ops::PlanError::Diagnostics(d)) => {
            panic!(
                "the benchmark configuration must plan: {:?}",
                d.iter().map(|x| x.to_string()).collect::<Vec<_>>()
            )
        }
        Err(ops::PlanError::State(e)) => panic!("the state must read: {e}"),
    };
    assert!(!planned.diags.has_errors(), "plan diagnostics: {:?}", planned.diags);
    let failures: Vec<String> =
        planned.plan.failures.iter().map(|f| format!("{}: {}", f.address, f.message)).collect();
    assert!(failures.is_empty(), "the plan must read every object: {failures:#?}");
    planned
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// One line per kind of request: `GET configmaps/NAME 1000`.
fn describe(c: &RequestCounts) -> String {
    c.0.iter()
        .map(|(k, n)| {
            let path = match (k.plural.as_str(), k.named) {
                ("", _) => "discovery/openapi".to_owned(),
                (p, true) => format!("{p}/NAME"),
                (p, false) => p.to_owned(),
            };
            let watch = if k.watch { " (watch)" } else { "" };
            format!("{} {path}{watch} {n}", k.method)
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn bench(sandbox: &Runtime, client: &Runtime, n: usize, runs: usize) {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = sandbox.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
        kube::start(listener, ClusterOptions::new("cluster-1", dir.path().join("cluster-1")))
            .await
            .expect("the emulated API server starts")
    });
    let kubeconfig = dir.path().join("kubeconfig");
    server.write_kubeconfig(&kubeconfig).expect("write the kubeconfig");
    let config = dir.path().join("config");
    std::fs::create_dir_all(&config).expect("config dir");
    write_config(&config, &kubeconfig, n);
    let mut registry = Registry::new();
    registry.register(Arc::new(KubernetesProvider::new(KubeEnv::default())));
    let ws = Workspace {
        dir: config.clone(),
        registry,
        store: Arc::new(LocalStore::new(config.join("meshform.state.json"))),
    };
    let handle = server.handle();

    let started = Instant::now();
    client.block_on(async {
        let planned = plan(&ws, PlanMode::Normal).await;
        assert_eq!(planned.plan.changes.len(), n, "every ConfigMap is planned");
        let (_tx, rx) = tokio::sync::watch::channel(false);
        let out = ops::apply(&ws, planned, &ApplyOptions::default(), &SilentReporter, rx).await;
        assert!(!out.diags.has_errors(), "the benchmark apply must succeed: {:?}", out.diags);
        assert_eq!(out.added, n, "every ConfigMap is created");
    });
    let applied = started.elapsed();
    let configmaps = Gvk::new("", "v1", "ConfigMap");
    for i in [0, n / 2, n - 1] {
        let name = format!("bench-{i}");
        assert!(handle.get(&configmaps, Some("default"), &name).is_some(), "{name} exists");
    }

    let mut times = Vec::new();
    let mut reads = Vec::new();
    let mut last = RequestCounts::default();
    for _ in 0..runs {
        let before = handle.requests();
        let started = Instant::now();
        let planned = client.block_on(plan(&ws, PlanMode::RefreshOnly));
        let took = started.elapsed();
        let during = handle.requests().since(&before);
        assert!(planned.plan.drift.is_empty(), "nothing changed behind meshform's back");
        let gets = during.of("GET", "configmaps");
        println!(
            "  refresh of {n}: {:.3} s, {gets} GETs of configmaps ({:.2} per object), {} requests in all: {}",
            took.as_secs_f64(),
            gets as f64 / n as f64,
            during.total(),
            describe(&during)
        );
        // The target's second half is exact, so it is checked (also by `cargo test --benches`);
        // the time is only reported, as a shared machine's wall clock varies.
        assert!(gets <= n as u64, "at most one read per object, got {gets} for {n} objects");
        times.push(took);
        reads.push(gets);
        last = during;
    }
    reads.sort_unstable();
    let most = reads.last().copied().unwrap_or(0);
    println!(
        "kubernetes_manifest n={n:5}  apply {:6.2} s  refresh-only plan {:6.3} s (median of {runs})  \
         configmap reads per object {:.2} (most in a run), requests in the last run {}",
        applied.as_secs_f64(),
        median(times).as_secs_f64(),
        most as f64 / n as f64,
        last.total(),
    );
    sandbox.block_on(server.shutdown()).expect("the emulated API server stops");
}

fn main() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    // `cargo bench` passes `--bench`; `cargo test --benches` runs this once, small.
    let testing = !std::env::args().any(|a| a == "--bench");
    let sizes: Vec<usize> = std::env::var("MESHFORM_BENCH_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).filter(|n| *n > 0).collect())
        .unwrap_or_else(|| if testing { vec![20] } else { vec![1_000] });
    let runs: usize = std::env::var("MESHFORM_BENCH_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(if testing { 1 } else { 5 })
        .max(1);
    let sandbox = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("sandbox")
        .enable_all()
        .build()
        .expect("the sandbox's runtime");
    let client = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    for &n in &sizes {
        bench(&sandbox, &client, n, runs);
    }
}
