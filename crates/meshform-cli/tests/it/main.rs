//! End-to-end tests of the `meshform` binary: one test binary for the crate, one module per concern.
//! Each test runs the real binary in its own temporary configuration directory. The modules cover
//! diagnostics, the plan/apply lifecycle, secrets, refusals and exit codes, crashes and concurrency,
//! and what CI pipelines use: saved plans, machine-readable and Markdown output, the PostgreSQL
//! backend and the workflow of docs/ci.md.

mod ack_clusters;
mod ci_workflow;
mod concurrency;
mod debug_log;
mod diagnostics;
mod drill;
mod failover;
mod harness;
mod interrupt;
mod lifecycle;
mod machine_output;
mod module_topology;
mod modules;
mod pg_backend;
mod pki;
mod refusals;
mod rollout;
mod runbook;
mod sandbox_clusters;
mod sandboxed;
mod saved_plan;
mod secrets;
mod state_encryption;
mod support;
mod terraform_habits;
