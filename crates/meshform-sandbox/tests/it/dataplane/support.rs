//! Test support: a sandbox in a temporary directory with the runbook's workloads (see the module
//! above), `curl` from cluster-2's `sleep`, and raw HTTP to the admin endpoint.

use std::time::Duration;

use meshform_sandbox::admin::outage::Outages;
use meshform_sandbox::kube::{ExecOutput, Gvk};
use meshform_sandbox::{Sandbox, SandboxOptions};
use serde_json::Value;
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::asm::client::Client;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

/// httpbin in cluster-2 only, so that requests to it are not balanced across clusters.
const HTTPBIN: &str = r#"
apiVersion: v1
kind: ServiceAccount
metadata:
  name: httpbin
---
apiVersion: v1
kind: Service
metadata:
  name: httpbin
spec:
  ports:
  - port: 8000
    targetPort: 8080
    name: http
  selector:
    app: httpbin
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: httpbin
spec:
  replicas: 1
  selector:
    matchLabels:
      app: httpbin
  template:
    metadata:
      labels:
        app: httpbin
    spec:
      serviceAccountName: httpbin
      containers:
      - name: httpbin
        image: docker.io/kong/httpbin:0.1.0
"#;

/// A running sandbox with the workloads deployed and ready.
pub struct Drill {
    pub sandbox: Sandbox,
    pub asm: Client,
    pub mesh: String,
    _dir: TempDir,
}

/// Polls `check` every 50 ms until it holds; panics naming `what` after 30 s.
pub async fn wait(what: &str, mut check: impl FnMut() -> bool) {
    for _ in 0..600 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

pub fn apply(sandbox: &Sandbox, cluster: usize, yaml: &str) {
    let handle = sandbox.clusters[cluster].handle();
    for doc in meshform_core::yaml::kubernetes_documents(yaml).expect("fixture YAML") {
        handle.apply("kubectl", &doc).expect("fixture applied");
    }
}

pub fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{FIXTURES}/{name}")).expect("fixture")
}

impl Drill {
    pub async fn start() -> Drill {
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
        let [c1, c2] = [&sandbox.identity.clusters[0], &sandbox.identity.clusters[1]];
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
                ],
            )
            .await;
        let mesh = created["ServiceMeshId"].as_str().expect("a mesh id").to_owned();
        asm.wait_state(&mesh, "running").await;
        asm.ok("AddClusterIntoServiceMesh", &[("ServiceMeshId", &mesh), ("ClusterId", &c2.id)])
            .await;
        asm.wait_state(&mesh, "running").await;
        let networks = format!(
            r#"{{"{}":{{"Network":"network1","EnableGateway":true}},"{}":{{"Network":"network2","EnableGateway":true}}}}"#,
            c1.id, c2.id
        );
        asm.ok(
            "UpdateMeshMultiClusterNetwork",
            &[("ServiceMeshId", &mesh), ("MultiClusterNetworks", &networks)],
        )
        .await;
        asm.ok(
            "UpdateIstioInjectionConfig",
            &[("ServiceMeshId", &mesh), ("Namespace", "default"), ("EnableIstioInjection", "true")],
        )
        .await;
        let ns = Gvk::new("", "v1", "Namespace");
        for server in &sandbox.clusters {
            let handle = server.handle();
            wait("injection in default", || {
                handle.get(&ns, None, "default").is_some_and(|n| {
                    n["metadata"]["labels"]["istio-injection"].as_str() == Some("enabled")
                })
            })
            .await;
        }
        apply(&sandbox, 0, &fixture("cluster-1-sleep-helloworld-v1.yaml"));
        apply(&sandbox, 1, &fixture("cluster-2-helloworld-v2.yaml"));
        apply(&sandbox, 1, &fixture("cluster-2-sleep.yaml"));
        apply(&sandbox, 1, HTTPBIN);
        let drill = Drill { sandbox, asm, mesh, _dir: dir };
        for (cluster, app) in [(0, "helloworld"), (1, "helloworld"), (1, "sleep"), (1, "httpbin")] {
            wait(&format!("{app} running with its sidecar in cluster {}", cluster + 1), || {
                drill.pod(cluster, app).is_some()
            })
            .await;
        }
        // The mesh pushes every 100 ms; a test that takes a cluster down at once should not race it.
        drill.sandbox.dataplane.push();
        drill
    }

    /// The running, injected pod of an app in a cluster (0 or 1).
    pub fn pod(&self, cluster: usize, app: &str) -> Option<String> {
        let pods = self.sandbox.clusters[cluster]
            .handle()
            .list(&Gvk::new("", "v1", "Pod"), Some("default"), Some(&format!("app={app}")))
            .unwrap_or_default();
        pods.iter()
            .find(|p| {
                p["status"]["phase"] == "Running"
                    && p["spec"]["containers"]
                        .as_array()
                        .is_some_and(|cs| cs.iter().any(|c| c["name"] == "istio-proxy"))
            })
            .and_then(|p| p["metadata"]["name"].as_str().map(str::to_owned))
    }

    /// The outage switches.
    pub fn outages(&self) -> Outages<'_> {
        Outages { asm: &self.sandbox.asm, clusters: self.sandbox.dataplane.clusters() }
    }

    /// Runs a command in cluster-2's `sleep`.
    pub async fn sleep_2(&self, command: &[&str]) -> Out {
        let pod = self.pod(1, "sleep").expect("sleep runs in cluster-2");
        let out = self.sandbox.clusters[1]
            .handle()
            .exec("default", &pod, Some("sleep"), command)
            .await
            .expect("exec in sleep");
        Out::from(out)
    }

    /// `curl ARGS` in cluster-2's `sleep`.
    pub async fn curl(&self, args: &[&str]) -> Out {
        let mut command = vec!["curl"];
        command.extend_from_slice(args);
        self.sleep_2(&command).await
    }

    /// Applies Istio configuration (YAML documents) to the mesh's control plane, as
    /// `kubectl --kubeconfig mesh-1.kubeconfig apply` would (in process: also while it is down).
    pub fn apply_to_mesh(&self, yaml: &str) {
        let api = self.sandbox.asm.mesh_api(&self.mesh).expect("the mesh's API server");
        for doc in meshform_core::yaml::kubernetes_documents(yaml).expect("Istio YAML") {
            api.handle().apply("kubectl", &doc).expect("applied to the mesh's control plane");
        }
    }

    /// Scales a Deployment of the default namespace and waits until that many pods run.
    pub async fn scale(&self, cluster: usize, deployment: &str, replicas: usize) {
        let handle = self.sandbox.clusters[cluster].handle();
        let gvk = Gvk::new("apps", "v1", "Deployment");
        let mut d = handle.get(&gvk, Some("default"), deployment).expect("the deployment");
        d["spec"]["replicas"] = serde_json::json!(replicas);
        let d = serde_json::json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": deployment, "namespace": "default"},
            "spec": {"replicas": replicas, "selector": d["spec"]["selector"], "template": d["spec"]["template"]},
        });
        handle.apply("kubectl", &d).expect("scaled");
        let selector =
            format!("app=helloworld,version={}", deployment.trim_start_matches("helloworld-"));
        wait(&format!("{deployment} at {replicas}"), || {
            let pods = handle
                .list(&Gvk::new("", "v1", "Pod"), Some("default"), Some(&selector))
                .unwrap_or_default();
            pods.iter().filter(|p| p["status"]["phase"] == "Running").count() == replicas
                && pods.len() == replicas
        })
        .await;
        self.sandbox.dataplane.push();
    }

    /// The counters of cluster-2's `sleep` sidecar for an upstream (`helloworld`, `httpbin`), as
    /// `curl localhost:15000/stats` shows them: stat name (after the cluster name) → value.
    pub async fn stats(&self, service: &str) -> std::collections::BTreeMap<String, u64> {
        let out = self.curl(&["-s", &format!("localhost:15000/stats?filter={service}")]).await;
        assert_eq!(out.code, 0, "{out:?}");
        out.stdout
            .lines()
            .filter_map(|l| l.strip_prefix("cluster.outbound|"))
            .filter_map(|l| {
                let (name, value) = l.rsplit_once(": ")?;
                let stat = name.split_once(".svc.cluster.local.")?.1;
                Some((stat.to_owned(), value.parse().ok()?))
            })
            .collect()
    }

    /// One stat of [`Drill::stats`], 0 when absent.
    pub async fn stat(&self, service: &str, stat: &str) -> u64 {
        self.stats(service).await.get(stat).copied().unwrap_or(0)
    }

    /// What `n` requests from cluster-2's `sleep` to helloworld saw: `200 v2`-style lines
    /// (status, then the version that answered or the body), counted.
    pub async fn hello(&self, n: usize) -> std::collections::BTreeMap<String, usize> {
        let mut seen = std::collections::BTreeMap::new();
        for _ in 0..n {
            let out = self.curl(&["-s", "-w", " %{http_code}", "helloworld:5000/hello"]).await;
            assert_eq!(out.code, 0, "{out:?}");
            let (body, code) = out.stdout.rsplit_once(' ').expect("a status code");
            let shown = match body.strip_prefix("Hello version: ") {
                Some(rest) => rest.split(',').next().unwrap_or_default().to_owned(),
                None => body.to_owned(),
            };
            *seen.entry(format!("{code} {shown}")).or_insert(0) += 1;
        }
        seen
    }

    /// `GET /status` of the admin endpoint, parsed.
    pub async fn status(&self) -> Value {
        let (code, body) = self.admin("GET", "/status", "").await;
        assert_eq!(code, 200, "{body}");
        serde_json::from_str(&body).expect("status is JSON")
    }

    /// One request to the admin endpoint: its status code and body.
    pub async fn admin(&self, method: &str, path: &str, body: &str) -> (u16, String) {
        admin(&self.sandbox, method, path, body).await
    }
}

/// One request to a sandbox's admin endpoint: its status code and body.
pub async fn admin(sandbox: &Sandbox, method: &str, path: &str, body: &str) -> (u16, String) {
    let host = sandbox.description().admin.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&host).await.expect("admin endpoint");
    let request = format!(
        "{method} {path} HTTP/1.1\r\nhost: {host}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.expect("read");
    let raw = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = raw.split_once("\r\n\r\n").expect("a response");
    let code = head.split(' ').nth(1).and_then(|c| c.parse().ok()).expect("a status code");
    (code, body.to_owned())
}

/// What a command printed and its exit code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Out {
    pub stdout: String,
    pub stderr: String,
    pub code: i32,
}

impl From<ExecOutput> for Out {
    fn from(o: ExecOutput) -> Out {
        Out {
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
            code: o.exit_code,
        }
    }
}
