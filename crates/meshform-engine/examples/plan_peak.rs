//! Times `ops::load` + `ops::plan` (no refresh) on one generated configuration and prints the process's
//! peak resident memory, for docs/performance.md:
//!
//! ```text
//! cargo run --profile bench -p meshform-engine --example plan_peak -- resources 10000 --repeat 5
//! cargo run --profile bench -p meshform-engine --example plan_peak -- locals 2000 200
//! ```
//!
//! The peak (`VmHWM` of /proc/self/status) covers the whole process, generation included; the memory
//! before planning is printed too. Run it once per size: the peak only ever grows.

// A measurement tool: printing its results is its purpose.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::time::{Duration, Instant};

use meshform_config::vars::VarInputs;
use meshform_engine::ops;
use meshform_engine::plan::walk::PlanOptions;
use meshform_engine::SilentReporter;

#[path = "../benches/support/generate.rs"]
mod generate;

/// A field of /proc/self/status in kB (`VmHWM`, `VmRSS`), where there is one.
fn status_kb(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn mb(kb: Option<u64>) -> String {
    kb.map(|k| format!("{:.1} MB", k as f64 / 1024.0)).unwrap_or_else(|| "n/a".into())
}

fn usage() -> ! {
    eprintln!("usage: plan_peak resources N [--repeat R] | plan_peak locals L OUTPUTS [--repeat R]");
    std::process::exit(2)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let num = |i: usize| -> usize {
        args.get(i).and_then(|s| s.parse().ok()).unwrap_or_else(|| usage())
    };
    let repeat = match args.iter().position(|a| a == "--repeat") {
        Some(i) => num(i + 1).max(1),
        None => 1,
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let label = match args.first().map(String::as_str) {
        Some("resources") => {
            let n = num(1);
            generate::write_resources(dir.path(), n);
            format!("resources {n}")
        }
        Some("locals") => {
            let (l, o) = (num(1), num(2));
            generate::write_locals_chain(dir.path(), l, o);
            format!("locals {l} outputs {o}")
        }
        _ => usage(),
    };
    let ws = generate::workspace(dir.path());
    let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    let before = status_kb("VmHWM:");
    let opts = PlanOptions { refresh: false, ..PlanOptions::default() };
    let mut times: Vec<Duration> = Vec::new();
    let mut changes = 0;
    for _ in 0..repeat {
        let start = Instant::now();
        let planned = rt
            .block_on(ops::plan(&ws, &VarInputs::default(), &opts, &SilentReporter))
            .unwrap_or_else(|e| panic!("the generated configuration must plan: {e:?}"));
        times.push(start.elapsed());
        changes = planned.plan.changes.len() + planned.plan.outputs.len();
        drop(planned);
    }
    times.sort();
    let median = times[times.len() / 2];
    println!(
        "{label}: {changes} changes; load+plan median {:.1} ms, min {:.1} ms over {repeat} run(s); \
         peak RSS {} (before planning {})",
        median.as_secs_f64() * 1e3,
        times[0].as_secs_f64() * 1e3,
        mb(status_kb("VmHWM:")),
        mb(before),
    );
}
