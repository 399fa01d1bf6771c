//! Times `ops::load` + `ops::plan` (no refresh) on one generated configuration and prints the process's
//! peak resident memory, for docs/performance.md:
//!
//! ```text
//! cargo run --profile bench -p meshform-engine --example plan_peak -- resources 10000 --repeat 5
//! cargo run --profile bench -p meshform-engine --example plan_peak -- locals 2000 200
//! cargo run --profile bench -p meshform-engine --example plan_peak -- shared 1000 5000
//! ```
//!
//! It then times the parse (`load_dir`) and load (`ops::load`) steps alone. The peak (`VmHWM` of
//! /proc/self/status, read right after the planning runs) covers the whole process, generation
//! included; the peak before planning is printed too. Run it once per size: the peak only ever grows.

// A measurement tool: printing its results is its purpose.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::time::{Duration, Instant};

use meshform_config::load::load_dir;
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

/// Time this thread has spent on a CPU (the first field of /proc/thread-self/schedstat), which other
/// processes competing for the machine's cores do not inflate the way they inflate wall-clock time.
fn cpu_time() -> Option<Duration> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    Some(Duration::from_nanos(s.split_whitespace().next()?.parse().ok()?))
}

fn mb(kb: Option<u64>) -> String {
    kb.map(|k| format!("{:.1} MB", k as f64 / 1024.0)).unwrap_or_else(|| "n/a".into())
}

fn usage() -> ! {
    eprintln!("usage: plan_peak (resources N | locals L OUTPUTS | shared L N) [--repeat R]");
    std::process::exit(2)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let num =
        |i: usize| -> usize { args.get(i).and_then(|s| s.parse().ok()).unwrap_or_else(|| usage()) };
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
        Some("shared") => {
            let (l, n) = (num(1), num(2));
            generate::write_shared_locals(dir.path(), l, n);
            format!("shared locals {l} resources {n}")
        }
        _ => usage(),
    };
    let ws = generate::workspace(dir.path());
    let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    let before = status_kb("VmHWM:");
    let opts = PlanOptions { refresh: false, ..PlanOptions::default() };
    let mut plan = Timings::default();
    let mut changes = 0;
    for _ in 0..repeat {
        changes = plan.measure(|| {
            let planned = rt
                .block_on(ops::plan(&ws, &VarInputs::default(), &opts, &SilentReporter))
                .unwrap_or_else(|e| panic!("the generated configuration must plan: {e:?}"));
            // Freeing the plan and configuration is part of the cost (as in the criterion bench).
            planned.plan.changes.len() + planned.plan.outputs.len()
        });
    }
    let peak = status_kb("VmHWM:");
    // The steps alone, for attributing the time: parsing and lowering, then `ops::load` (which adds
    // the graph and the schema checks).
    let (mut parse, mut load) = (Timings::default(), Timings::default());
    for _ in 0..repeat {
        parse.measure(|| drop(load_dir(&ws.dir)));
        load.measure(|| drop(ops::load(&ws)));
    }
    println!(
        "{label}: {changes} changes, {repeat} run(s); load+plan {plan}; load {load}; parse {parse}; \
         peak RSS {} (before planning {})",
        mb(peak),
        mb(before),
    );
}

/// Wall-clock and on-CPU times of repeated runs of one step.
#[derive(Default)]
struct Timings {
    wall: Vec<Duration>,
    cpu: Vec<Duration>,
}

impl Timings {
    fn measure<T>(&mut self, f: impl FnOnce() -> T) -> T {
        let (start, cpu_start) = (Instant::now(), cpu_time());
        let out = f();
        self.wall.push(start.elapsed());
        if let (Some(a), Some(b)) = (cpu_start, cpu_time()) {
            self.cpu.push(b.saturating_sub(a));
        }
        out
    }
}

impl std::fmt::Display for Timings {
    /// `median (min) wall, median (min) on-CPU`, in milliseconds.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let stats = |t: &[Duration]| {
            let mut t = t.to_vec();
            t.sort();
            match (t.get(t.len() / 2), t.first()) {
                (Some(med), Some(min)) => {
                    format!("{:.1} ({:.1})", med.as_secs_f64() * 1e3, min.as_secs_f64() * 1e3)
                }
                _ => "n/a".into(),
            }
        };
        write!(f, "{} ms wall, {} ms on-CPU", stats(&self.wall), stats(&self.cpu))
    }
}
