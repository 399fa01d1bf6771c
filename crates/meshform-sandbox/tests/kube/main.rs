//! Integration tests of the emulated Kubernetes API server, over HTTPS on 127.0.0.1, as kubectl
//! and kube-rs would talk to it; `kubectl` runs the real client through the runbook's manifests.

mod support;

mod api;
mod apply;
mod controllers;
mod exec;
mod garbage;
mod hooks;
mod kubectl;
mod outage;
mod patches;
mod persistence;
mod selectors;
mod temporary;
mod watch;
