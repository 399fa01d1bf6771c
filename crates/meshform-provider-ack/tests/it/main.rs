//! The ack provider through the engine's ops against a started sandbox (its CS emulator and
//! Kubernetes API servers): one integration binary, each test with its own sandbox.

mod clusters;
mod harness;
mod kubeconfig;
