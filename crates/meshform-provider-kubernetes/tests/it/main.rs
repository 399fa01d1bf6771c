//! The kubernetes provider against the sandbox's emulated API server, through the engine exactly as the
//! CLI drives it: the runbook's manifests, in-place updates, replacements, drift, destroy, exec and
//! errors.

mod cycle;
mod errors;
mod exec;
mod harness;
