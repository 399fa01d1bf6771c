//! End-to-end tests of the `meshform` binary for CI pipelines: saved plans, machine-readable and
//! Markdown output, the PostgreSQL backend, and the workflow of docs/ci.md. One test binary, so the
//! crate is linked once.

mod ci_workflow;
mod harness;
mod machine_output;
mod pg_backend;
mod saved_plan;
