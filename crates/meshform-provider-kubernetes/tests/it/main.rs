//! The kubernetes provider against the sandbox's emulated API server, through the engine exactly as the
//! CLI drives it: the runbook's manifests, in-place updates, replacements, drift, destroy, exec and
//! errors, and a mesh's control plane reached through a kubeconfig document (`mesh`).

mod cycle;
mod errors;
mod exec;
mod harness;
mod mesh;
