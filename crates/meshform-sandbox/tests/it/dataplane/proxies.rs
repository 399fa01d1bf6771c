//! Sidecar versions across a control-plane upgrade: pods keep the proxy they were injected with,
//! pods created after the upgrade (a rollout restart: the pod template's `restartedAt`
//! annotation) get the new one, and `GET /status` lists the version per pod. A failing upgrade
//! injected with `POST /faults` leaves the mesh, and the proxies it injects, on the old version.

use std::time::Duration;

use meshform_sandbox::asm;
use meshform_sandbox::dataplane::proxy_version;
use meshform_sandbox::kube::Gvk;
use meshform_sandbox::{Sandbox, SandboxOptions};
use serde_json::{json, Value};
use tempfile::TempDir;

use super::support::{admin, apply, fixture, wait};
use crate::asm::client::Client;

const V22: &str = "v1.22.6.71-g7d67a80b-aliyun";

/// mesh-1 on [`V22`] managing cluster-1, injection in `default`, sleep and helloworld-v1 running.
struct Mesh {
    sandbox: Sandbox,
    asm: Client,
    id: String,
    _dir: TempDir,
}

impl Mesh {
    async fn start() -> Mesh {
        let dir = tempfile::tempdir().expect("temporary directory");
        let mut opts = SandboxOptions::new(dir.path());
        opts.transition_delay = Duration::from_millis(50);
        let sandbox = Sandbox::start(opts).await.expect("the sandbox starts");
        let asm = Client {
            host: sandbox.asm.local_addr().to_string(),
            key_id: sandbox.identity.access_key_id.clone(),
            secret: sandbox.identity.access_key_secret.clone(),
            sign_every_header: false,
        };
        let c1 = sandbox.identity.clusters[0].clone();
        let vswitches = format!("[\"{}\"]", c1.vswitch_id);
        let created = asm
            .ok(
                "CreateServiceMesh",
                &[
                    ("RegionId", &c1.region),
                    ("VpcId", &c1.vpc_id),
                    ("VSwitches", &vswitches),
                    ("Name", "mesh-1"),
                    ("GuestCluster", &c1.id),
                    ("IstioVersion", V22),
                ],
            )
            .await;
        let id = created["ServiceMeshId"].as_str().expect("a mesh id").to_owned();
        asm.wait_state(&id, "running").await;
        asm.ok(
            "UpdateIstioInjectionConfig",
            &[("ServiceMeshId", &id), ("Namespace", "default"), ("EnableIstioInjection", "true")],
        )
        .await;
        let handle = sandbox.clusters[0].handle();
        wait("injection in default", || {
            handle.get(&Gvk::new("", "v1", "Namespace"), None, "default").is_some_and(|n| {
                n["metadata"]["labels"]["istio-injection"].as_str() == Some("enabled")
            })
        })
        .await;
        apply(&sandbox, 0, &fixture("cluster-1-sleep-helloworld-v1.yaml"));
        let mesh = Mesh { sandbox, asm, id, _dir: dir };
        for app in ["sleep", "helloworld"] {
            mesh.wait_pods(app, V22).await;
        }
        mesh
    }

    /// The pods of `app` in cluster-1 (not being deleted): name, phase, sidecar version.
    fn pods(&self, app: &str) -> Vec<(String, String, Option<String>)> {
        self.sandbox.clusters[0]
            .handle()
            .list(&Gvk::new("", "v1", "Pod"), Some("default"), Some(&format!("app={app}")))
            .unwrap_or_default()
            .iter()
            .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
            .map(|p| {
                (
                    p["metadata"]["name"].as_str().unwrap_or_default().to_owned(),
                    p["status"]["phase"].as_str().unwrap_or_default().to_owned(),
                    proxy_version(p).map(str::to_owned),
                )
            })
            .collect()
    }

    /// Waits until `app` runs exactly one pod, with a sidecar on `version`; its name.
    async fn wait_pods(&self, app: &str, version: &str) -> String {
        wait(&format!("one {app} pod running a {version} proxy"), || {
            matches!(self.pods(app).as_slice(),
                [(_, phase, Some(v))] if phase == "Running" && v == version)
        })
        .await;
        self.pods(app).remove(0).0
    }

    /// `kubectl rollout restart deployment/NAME`: the pod template's `restartedAt` annotation.
    fn restart(&self, deployment: &str, at: &str) {
        let handle = self.sandbox.clusters[0].handle();
        let d = handle
            .get(&Gvk::new("apps", "v1", "Deployment"), Some("default"), deployment)
            .expect("the deployment");
        let mut template = d["spec"]["template"].clone();
        template["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"] = json!(at);
        let patch = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": deployment, "namespace": "default"},
            "spec": {"selector": d["spec"]["selector"], "template": template},
        });
        handle.apply("kubectl", &patch).expect("restarted");
    }

    /// Upgrades the mesh to the next version; waits until it is `state`.
    async fn upgrade(&self, state: &str) -> Value {
        let detail = self.asm.ok("DescribeServiceMeshDetail", &[("ServiceMeshId", &self.id)]).await;
        let from = detail["ServiceMesh"]["ServiceMeshInfo"]["Version"].as_str().unwrap_or_default();
        let to = asm::next_istio_version(from).expect("a newer version");
        let up = [("ServiceMeshId", self.id.as_str()), ("ExpectedVersion", to)];
        self.asm.ok("UpgradeMeshEditionPartially", &up).await;
        let detail = self.asm.wait_state(&self.id, state).await;
        // The reconciler follows ASM's changes; run it now rather than race it.
        self.sandbox.dataplane.reconcile();
        detail
    }

    async fn status(&self) -> Value {
        let (code, body) = admin(&self.sandbox, "GET", "/status", "").await;
        assert_eq!(code, 200, "{body}");
        serde_json::from_str(&body).expect("status is JSON")
    }
}

/// `GET /status`'s pods of a workload in cluster-1: name → proxy version.
fn status_pods(status: &Value, workload: &str) -> Vec<(String, Value)> {
    let cluster = &status["clusters"][0];
    let w = cluster["workloads"]
        .as_array()
        .and_then(|ws| ws.iter().find(|w| w["name"] == workload))
        .unwrap_or_else(|| panic!("no workload {workload}: {status:#}"));
    w["pods"]
        .as_array()
        .unwrap_or_else(|| panic!("{workload} has no pods list: {w:#}"))
        .iter()
        .map(|p| (p["name"].as_str().unwrap_or_default().to_owned(), p["proxy_version"].clone()))
        .collect()
}

#[tokio::test]
async fn pods_keep_the_proxy_they_were_injected_with_until_they_are_restarted() {
    let mesh = Mesh::start().await;
    let next = asm::next_istio_version(V22).expect("a version after 1.22");
    let sleep = mesh.pods("sleep").remove(0).0;
    let hello = mesh.pods("helloworld").remove(0).0;
    let pod = mesh.sandbox.clusters[0]
        .handle()
        .get(&Gvk::new("", "v1", "Pod"), Some("default"), &sleep)
        .expect("sleep's pod");
    assert_eq!(
        pod["spec"]["containers"][1]["image"],
        format!("registry-cn-hangzhou.ack.aliyuncs.com/acs/proxyv2:{V22}")
    );
    let injected: Value = serde_json::from_str(
        pod["metadata"]["annotations"]["sidecar.istio.io/status"].as_str().unwrap_or("null"),
    )
    .expect("the injector's status annotation is JSON");
    assert_eq!(injected["revision"], "default", "{injected}");

    let detail = mesh.upgrade("running").await;
    assert_eq!(detail["ServiceMesh"]["ServiceMeshInfo"]["Version"], next);
    // The control plane is upgraded; the running pods are not.
    assert_eq!(mesh.pods("sleep"), [(sleep.clone(), "Running".into(), Some(V22.into()))]);
    let status = mesh.status().await;
    assert_eq!(status["clusters"][0]["mesh_version"], next, "{status:#}");
    assert_eq!(status_pods(&status, "sleep"), [(sleep.clone(), json!(V22))]);
    assert_eq!(status_pods(&status, "helloworld-v1"), [(hello.clone(), json!(V22))]);

    // A rollout restart replaces sleep's pod; the new one gets the new proxy.
    mesh.restart("sleep", "2025-01-01T00:00:00Z");
    let restarted = mesh.wait_pods("sleep", next).await;
    assert_ne!(restarted, sleep, "the restart replaced the pod");
    let status = mesh.status().await;
    assert_eq!(status_pods(&status, "sleep"), [(restarted, json!(next))], "{status:#}");
    assert_eq!(
        status_pods(&status, "helloworld-v1"),
        [(hello, json!(V22))],
        "a workload that was not restarted keeps its old proxy"
    );
}

#[tokio::test]
async fn a_failing_upgrade_set_over_the_admin_endpoint_keeps_the_old_proxies() {
    let mesh = Mesh::start().await;
    let s = &mesh.sandbox;

    let (code, body) =
        admin(s, "POST", "/faults", r#"{"upgrade_failure": {"mesh": "no-such-mesh"}}"#).await;
    assert_eq!(code, 404, "{body}");
    let refusal: Value = serde_json::from_str(&body).expect("a JSON refusal");
    assert!(refusal["error"].as_str().unwrap_or_default().contains("no-such-mesh"), "{body}");
    assert!(mesh.sandbox.asm.upgrade_failure().is_none(), "a refused request sets nothing");
    let (code, body) = admin(s, "POST", "/faults", r#"{"upgrade_failure": {"mesh": 1}}"#).await;
    assert_eq!(code, 400, "{body}");

    let fault = r#"{"upgrade_failure": {"mesh": "mesh-1", "message": "istiod crashed"}}"#;
    let (code, body) = admin(s, "POST", "/faults", fault).await;
    assert_eq!(code, 200, "{body}");
    let status = mesh.status().await;
    assert_eq!(
        status["asm"]["faults"]["upgrade_failure"],
        json!({"mesh_id": mesh.id, "message": "istiod crashed"}),
        "{status:#}"
    );

    let failed = mesh.upgrade("upgrading_failed").await;
    let info = &failed["ServiceMesh"]["ServiceMeshInfo"];
    assert_eq!(info["Version"], V22, "{info}");
    assert!(info["ErrorMessage"].as_str().unwrap_or_default().contains("istiod crashed"), "{info}");
    // The control plane did not change: a restarted pod still gets the old proxy.
    let hello = mesh.pods("helloworld").remove(0).0;
    mesh.restart("helloworld-v1", "2025-01-01T00:00:00Z");
    wait("helloworld-v1 replaced", || mesh.pods("helloworld").iter().all(|p| p.0 != hello)).await;
    mesh.wait_pods("helloworld", V22).await;

    // An empty fault set clears it; the retried upgrade succeeds.
    let (code, body) = admin(s, "POST", "/faults", "{}").await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(mesh.status().await["asm"]["faults"]["upgrade_failure"], Value::Null);
    let next = asm::next_istio_version(V22).expect("a version after 1.22");
    let detail = mesh.upgrade("running").await;
    assert_eq!(detail["ServiceMesh"]["ServiceMeshInfo"]["Version"], next);
}
