//! A CI runner cancelling a job: SIGTERM (and SIGINT) to a real apply on the sandbox stops scheduling,
//! lets the operations in flight finish and be recorded, exits 1, and the next apply converges.

use std::process::Stdio;

use crate::sandboxed::{example_main, Sandboxed};
use crate::support::{Mark, Watched};

/// Sends `signal` (`TERM`, `INT`) to a process.
fn send(signal: &str, pid: u32) {
    let status = std::process::Command::new("sh")
        .args(["-c", &format!("kill -{signal} {pid}")])
        .status()
        .expect("sh runs kill");
    assert!(status.success(), "kill -{signal} {pid}");
}

/// A line saying the first mesh is being created (a long operation).
fn creating(line: &str) -> bool {
    line.contains("module.dr.asm_service_mesh.mesh") && line.contains("Creating...")
}

/// `apply --auto-approve` of the runbook, spawned with its stderr marked by `marks`.
fn apply(sandbox: &Sandboxed, marks: &[Mark]) -> Watched {
    sandbox.work.spawn_watching(&["apply", "--auto-approve"], Stdio::piped(), marks)
}

#[test]
fn sigterm_during_apply_finishes_what_is_in_flight_and_loses_nothing() {
    let sandbox = Sandboxed::runbook_with(&example_main());
    // Progress lines come on stderr: signal once the first mesh is being created (a long operation).
    let run = apply(&sandbox, &[("creating", creating)]);
    let pid = run.child.id();
    run.marks.recv().expect("apply starts creating a mesh");
    send("TERM", pid);
    let (code, stderr) = run.wait();
    assert_eq!(code, Some(1), "an interrupted apply ends in error\n{stderr}");
    assert!(stderr.contains("Termination signal (SIGTERM) received"), "{stderr}");
    assert!(stderr.contains("Apply interrupted"), "{stderr}");
    // What was in flight finished and was recorded: the mesh is in state, nothing is pending.
    let state = sandbox.work.state_json();
    assert_eq!(state["pending"].as_array().map(Vec::len).unwrap_or(0), 0, "{state:#}");
    let listed = sandbox.work.state_list();
    assert!(listed.iter().any(|a| a.starts_with("module.dr.asm_service_mesh.mesh[")), "{listed:?}");
    // The next apply finishes the job without duplicating anything; then nothing is left to do.
    sandbox.ok(&["apply", "--auto-approve"]).stdout_has("Apply complete!");
    sandbox.run(&["plan", "--detailed-exitcode"]).code(0);
    let meshes = sandbox.status()["asm"]["meshes"].as_array().map(Vec::len);
    assert_eq!(meshes, Some(2), "one mesh per cluster, none duplicated");
}

#[test]
fn a_second_interrupt_exits_at_once_and_the_next_apply_converges() {
    let sandbox = Sandboxed::runbook_with(&example_main());
    let interrupted = |line: &str| line.contains("Interrupt received");
    let run = apply(&sandbox, &[("creating", creating), ("interrupted", interrupted)]);
    let pid = run.child.id();
    assert_eq!(run.marks.recv().expect("apply starts creating a mesh"), "creating");
    send("INT", pid);
    while run.marks.recv().expect("the first interrupt is acknowledged") != "interrupted" {}
    send("INT", pid);
    let (code, stderr) = run.wait();
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("Two interrupts received. Exiting immediately."), "{stderr}");
    // State was saved per operation: the next apply adopts or finishes what was in flight.
    sandbox.ok(&["apply", "--auto-approve"]).stdout_has("Apply complete!");
    sandbox.run(&["plan", "--detailed-exitcode"]).code(0);
    let meshes = sandbox.status()["asm"]["meshes"].as_array().map(Vec::len);
    assert_eq!(meshes, Some(2), "one mesh per cluster, none duplicated");
}
