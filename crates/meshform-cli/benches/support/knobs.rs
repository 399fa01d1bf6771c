//! What the CLI's benchmarks share: the `MESHFORM_BENCH_*` overrides and the machine's load
//! average they read from their surroundings (printed beside every figure), and their two runtimes.

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

/// The in-process sandbox's runtime (two workers, as on this machine) and the client's.
pub fn runtimes() -> (tokio::runtime::Runtime, tokio::runtime::Runtime) {
    let sandbox = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("sandbox")
        .enable_all()
        .build()
        .expect("the sandbox's runtime");
    let client = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    (sandbox, client)
}
