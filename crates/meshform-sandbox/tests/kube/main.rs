//! Integration tests of the emulated Kubernetes API server, over HTTPS on 127.0.0.1, as kubectl
//! and kube-rs would talk to it; `kubectl` runs the real client through the runbook's manifests.

mod support;

mod api;
mod apply;
mod controllers;
mod exec;
mod patches;
mod selectors;
mod watch;
mod kubectl;

#[tokio::test]
#[ignore]
async fn dev_server() {
    let dir = std::path::Path::new("/tmp/kube-dev");
    std::fs::create_dir_all(dir).unwrap();
    let server = support::start_in(dir, meshform_sandbox::kube::Timing::default()).await;
    server.write_kubeconfig(&dir.join("kubeconfig")).unwrap();
    tokio::time::sleep(std::time::Duration::from_secs(3000)).await;
}
