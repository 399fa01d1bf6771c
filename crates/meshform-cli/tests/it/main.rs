//! End-to-end tests of the `meshform` binary: one test binary for the crate, one module per concern.
//! Each test runs the real binary in its own temporary configuration directory.

mod concurrency;
mod diagnostics;
mod lifecycle;
mod refusals;
mod runbook;
mod sandboxed;
mod secrets;
mod support;
