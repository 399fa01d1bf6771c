//! Planning benchmarks: `ops::load` + `ops::plan` without refresh on generated configurations, and the
//! parse and load (parse, lower, graph, schema checks) steps alone, so that time can be attributed.
//!
//! `cargo bench -p meshform-engine --bench plan`. The resource counts default to 1,000 and 10,000;
//! `MESHFORM_BENCH_SIZES=1000,2000,5000` overrides them. See docs/performance.md.

use std::path::Path;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode};
use meshform_config::load::load_dir;
use meshform_config::vars::VarInputs;
use meshform_engine::ops::{self, Workspace};
use meshform_engine::plan::walk::PlanOptions;
use meshform_engine::SilentReporter;
use tokio::runtime::Runtime;

// Shared with examples/plan_peak.rs, which also uses the shapes this bench does not.
#[allow(dead_code)]
#[path = "support/generate.rs"]
mod generate;

/// One generated configuration: its name in reports, its directory and workspace.
struct Case {
    name: String,
    _dir: tempfile::TempDir,
    ws: Workspace,
    /// Resource instances plus outputs the plan must contain.
    expected: usize,
}

fn cases() -> Vec<Case> {
    let sizes: Vec<usize> = std::env::var("MESHFORM_BENCH_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1_000, 10_000]);
    let mut out = Vec::new();
    for n in sizes {
        let dir = tempfile::tempdir().expect("tempdir");
        generate::write_resources(dir.path(), n);
        out.push(Case {
            name: format!("resources/{n}"),
            ws: generate::workspace(dir.path()),
            _dir: dir,
            expected: n + n.div_ceil(100),
        });
    }
    let dir = tempfile::tempdir().expect("tempdir");
    generate::write_locals_chain(dir.path(), 2_000, 200);
    out.push(Case {
        name: "locals/2000x200".into(),
        ws: generate::workspace(dir.path()),
        _dir: dir,
        expected: 200,
    });
    out
}

fn plan_once(rt: &Runtime, ws: &Workspace) -> usize {
    let opts = PlanOptions { refresh: false, ..PlanOptions::default() };
    let planned = rt
        .block_on(ops::plan(ws, &VarInputs::default(), &opts, &SilentReporter))
        .unwrap_or_else(|e| panic!("the generated configuration must plan: {e:?}"));
    planned.plan.changes.len() + planned.plan.outputs.len()
}

fn load_once(ws: &Workspace) -> usize {
    let (loaded, diags) = ops::load(ws);
    let loaded =
        loaded.unwrap_or_else(|| panic!("the generated configuration must load: {diags:?}"));
    loaded.graph.order.len()
}

fn parse_once(dir: &Path) -> usize {
    let (config, diags) = load_dir(dir);
    assert!(!diags.has_errors(), "the generated configuration must parse: {diags:?}");
    config.resources.len() + config.locals.len()
}

fn benches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    let cases = cases();
    for case in &cases {
        assert_eq!(plan_once(&rt, &case.ws), case.expected, "{}: planned changes", case.name);
    }
    let mut group = c.benchmark_group("plan");
    group.sampling_mode(SamplingMode::Flat);
    for case in &cases {
        group.bench_with_input(BenchmarkId::from_parameter(&case.name), case, |b, case| {
            b.iter(|| plan_once(&rt, &case.ws))
        });
    }
    group.finish();
    let mut group = c.benchmark_group("load");
    group.sampling_mode(SamplingMode::Flat);
    for case in &cases {
        group.bench_with_input(BenchmarkId::from_parameter(&case.name), case, |b, case| {
            b.iter(|| load_once(&case.ws))
        });
    }
    group.finish();
    let mut group = c.benchmark_group("parse");
    group.sampling_mode(SamplingMode::Flat);
    for case in &cases {
        group.bench_with_input(BenchmarkId::from_parameter(&case.name), case, |b, case| {
            b.iter(|| parse_once(&case.ws.dir))
        });
    }
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
}

criterion_group! {
    name = plan;
    config = config();
    targets = benches
}
criterion_main!(plan);
