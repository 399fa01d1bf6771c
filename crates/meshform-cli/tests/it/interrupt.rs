//! A CI runner cancelling a job: SIGTERM (and SIGINT) to a real apply on the sandbox stops scheduling,
//! lets the operations in flight finish and be recorded, exits 1, and the next apply converges.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;

use crate::sandboxed::{example_main, Sandboxed};

/// Sends `signal` (`TERM`, `INT`) to a process.
fn send(signal: &str, pid: u32) {
    let status = std::process::Command::new("sh")
        .args(["-c", &format!("kill -{signal} {pid}")])
        .status()
        .expect("sh runs kill");
    assert!(status.success(), "kill -{signal} {pid}");
}

#[test]
fn sigterm_during_apply_finishes_what_is_in_flight_and_loses_nothing() {
    let sandbox = Sandboxed::runbook_with(&example_main());
    let mut child = sandbox
        .work
        .std_command(&["apply", "--auto-approve"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("meshform apply starts");
    let pid = child.id();
    // Progress lines come on stderr: signal once the first mesh is being created (a long operation).
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut seen = Vec::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("asm_service_mesh.mesh") && line.contains("Creating...") {
                let _ = tx.send(());
            }
            seen.push(line);
        }
        seen.join("\n")
    });
    rx.recv().expect("apply starts creating a mesh");
    send("TERM", pid);
    let out = child.wait_with_output().expect("meshform ends");
    let stderr = reader.join().expect("stderr reader");
    assert_eq!(out.status.code(), Some(1), "an interrupted apply ends in error\n{stderr}");
    assert!(stderr.contains("Termination signal (SIGTERM) received"), "{stderr}");
    assert!(stderr.contains("Apply interrupted"), "{stderr}");
    // What was in flight finished and was recorded: the mesh is in state, nothing is pending.
    let state = sandbox.work.state_json();
    assert_eq!(state["pending"].as_array().map(Vec::len).unwrap_or(0), 0, "{state:#}");
    let listed = sandbox.work.state_list();
    assert!(listed.iter().any(|a| a.starts_with("asm_service_mesh.mesh[")), "{listed:?}");
    // The next apply finishes the job without duplicating anything; then nothing is left to do.
    sandbox.ok(&["apply", "--auto-approve"]).stdout_has("Apply complete!");
    sandbox.run(&["plan", "--detailed-exitcode"]).code(0);
    let meshes = sandbox.status()["asm"]["meshes"].as_array().map(Vec::len);
    assert_eq!(meshes, Some(2), "one mesh per cluster, none duplicated");
}

#[test]
fn a_second_interrupt_exits_at_once_and_the_next_apply_converges() {
    let sandbox = Sandboxed::runbook_with(&example_main());
    let mut child = sandbox
        .work
        .std_command(&["apply", "--auto-approve"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("meshform apply starts");
    let pid = child.id();
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut seen = Vec::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("asm_service_mesh.mesh") && line.contains("Creating...") {
                let _ = tx.send("creating");
            }
            if line.contains("Interrupt received") {
                let _ = tx.send("interrupted");
            }
            seen.push(line);
        }
        seen.join("\n")
    });
    assert_eq!(rx.recv().expect("apply starts creating a mesh"), "creating");
    send("INT", pid);
    while rx.recv().expect("the first interrupt is acknowledged") != "interrupted" {}
    send("INT", pid);
    let out = child.wait_with_output().expect("meshform ends");
    let stderr = reader.join().expect("stderr reader");
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("Two interrupts received. Exiting immediately."), "{stderr}");
    // State was saved per operation: the next apply adopts or finishes what was in flight.
    sandbox.ok(&["apply", "--auto-approve"]).stdout_has("Apply complete!");
    sandbox.run(&["plan", "--detailed-exitcode"]).code(0);
    let meshes = sandbox.status()["asm"]["meshes"].as_array().map(Vec::len);
    assert_eq!(meshes, Some(2), "one mesh per cluster, none duplicated");
}
