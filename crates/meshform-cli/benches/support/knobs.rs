//! What the CLI's benchmarks read from their surroundings: `MESHFORM_BENCH_*` overrides and the
//! machine's load average, printed beside every figure.

/// A number from the environment (`MESHFORM_BENCH_RUNS=5`), when it is set and parses.
pub fn env_number<T: std::str::FromStr>(name: &str) -> Option<T> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

/// The 1, 5 and 15 minute load averages, or "unknown".
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".to_owned())
}
