//! The real kubectl against the emulator, through the runbook's manifests: server-side apply,
//! client-side apply twice (create, then a strategic-merge update), label selection, scale, wait,
//! rollout status, exec, delete -f and managedFields. Skipped (with a message) without kubectl;
//! `scripts/install-kubectl` installs one.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use meshform_sandbox::kube::Gvk;

use crate::support::TestCluster;

const CLUSTER_1: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/cluster-1-sleep-helloworld-v1.yaml");
const CLUSTER_2: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/cluster-2-helloworld-v2.yaml");

/// A working kubectl on PATH, if any.
fn find_kubectl() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    let bin = std::env::split_paths(&path).map(|d| d.join("kubectl")).find(|p| p.is_file())?;
    let ok = std::process::Command::new(&bin)
        .args(["version", "--client"])
        .output()
        .ok()?
        .status
        .success();
    ok.then_some(bin)
}

struct Kubectl {
    bin: PathBuf,
    kubeconfig: PathBuf,
    home: PathBuf,
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Kubectl {
    async fn run(&self, args: &[&str]) -> Run {
        let mut cmd = tokio::process::Command::new(&self.bin);
        cmd.arg("--kubeconfig").arg(&self.kubeconfig).args(args);
        cmd.env("HOME", &self.home).env_remove("KUBECONFIG").kill_on_drop(true);
        let out: Output = tokio::time::timeout(Duration::from_secs(120), cmd.output())
            .await
            .unwrap_or_else(|_| panic!("kubectl {args:?} did not finish in 120 s"))
            .expect("kubectl runs");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).to_string(),
        }
    }

    /// Run and require success.
    async fn ok(&self, args: &[&str]) -> String {
        let r = self.run(args).await;
        assert_eq!(r.code, 0, "kubectl {args:?} failed ({}):\n{}\n{}", r.code, r.stdout, r.stderr);
        r.stdout
    }
}

#[allow(clippy::print_stderr)]
fn skipped() {
    eprintln!("SKIPPED: kubectl not found on PATH (or `kubectl version --client` fails); run scripts/install-kubectl");
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write manifest");
    p.to_string_lossy().to_string()
}

#[tokio::test]
async fn kubectl_runs_the_runbook_against_the_emulator() {
    let Some(bin) = find_kubectl() else { return skipped() };
    let c = TestCluster::start().await;
    let work = c.dir.path().join("kubectl");
    std::fs::create_dir_all(work.join("home")).unwrap();
    let kubeconfig = work.join("cluster-1.kubeconfig");
    c.server.write_kubeconfig(&kubeconfig).unwrap();
    let k = Kubectl { bin, kubeconfig, home: work.join("home") };
    let h = c.server.handle();
    let deploy = Gvk::new("apps", "v1", "Deployment");

    let out = k.ok(&["apply", "--server-side", "-f", CLUSTER_1]).await;
    assert!(out.contains("deployment.apps/sleep serverside-applied"), "{out}");
    assert!(out.contains("service/helloworld serverside-applied"), "{out}");

    // Client-side apply: create, then a strategic-merge update that adds env and replicas.
    let out = k.ok(&["apply", "-f", CLUSTER_2]).await;
    assert!(out.contains("deployment.apps/helloworld-v2 created"), "{out}");
    let original = std::fs::read_to_string(CLUSTER_2).unwrap();
    let modified = original.replace("replicas: 1", "replicas: 2").replace(
        "        - containerPort: 5000",
        "        - containerPort: 5000\n        env:\n        - name: GREETING\n          value: hello",
    );
    let modified = write(&work, "helloworld-v2-modified.yaml", &modified);
    let out = k.ok(&["apply", "-f", &modified]).await;
    assert!(out.contains("deployment.apps/helloworld-v2 configured"), "{out}");
    let d = h.get(&deploy, Some("default"), "helloworld-v2").unwrap();
    assert_eq!(d["spec"]["replicas"], 2);
    let container = &d["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["env"][0]["name"], "GREETING");
    assert_eq!(
        container["ports"][0]["containerPort"], 5000,
        "the merge kept the ports: {container}"
    );
    assert!(container["image"].as_str().unwrap().ends_with("examples-helloworld-v2:1.0"));

    let out = k
        .ok(&[
            "wait",
            "--for=condition=Available",
            "deploy/sleep",
            "deploy/helloworld-v1",
            "--timeout=60s",
        ])
        .await;
    assert!(out.contains("deployment.apps/sleep condition met"), "{out}");
    let out = k.ok(&["rollout", "status", "deploy/helloworld-v2", "--timeout=60s"]).await;
    assert!(out.contains("successfully rolled out"), "{out}");

    let out = k.ok(&["get", "pods,services", "-l", "app=helloworld"]).await;
    assert!(out.contains("helloworld-v1-") && out.contains("helloworld-v2-"), "{out}");
    assert!(out.contains("service/helloworld"), "{out}");
    assert!(!out.contains("sleep"), "{out}");

    let sleep_pods =
        h.list(&Gvk::new("", "v1", "Pod"), Some("default"), Some("app=sleep")).unwrap();
    let pod = sleep_pods[0]["metadata"]["name"].as_str().unwrap().to_string();
    let out = k.ok(&["exec", "deploy/sleep", "--", "hostname"]).await;
    assert_eq!(out.trim(), pod);
    let r =
        k.run(&["exec", "deploy/sleep", "--", "sh", "-c", "echo out; echo err >&2; exit 3"]).await;
    assert_eq!(r.code, 3, "{} {}", r.stdout, r.stderr);
    assert_eq!(r.stdout, "out\n");
    assert!(r.stderr.starts_with("err\n"), "{}", r.stderr);
    let r = k.run(&["exec", "deploy/sleep", "--", "curl", "-s", "helloworld:5000/hello"]).await;
    assert_eq!(r.code, 127, "the default handler has no curl: {} {}", r.stdout, r.stderr);

    let out = k.ok(&["scale", "deploy", "sleep", "--replicas=0"]).await;
    assert!(out.contains("deployment.apps/sleep scaled"), "{out}");
    let out = k.ok(&["rollout", "status", "deploy/sleep", "--timeout=60s"]).await;
    assert!(out.contains("successfully rolled out"), "{out}");
    for _ in 0..100 {
        if h.list(&Gvk::new("", "v1", "Pod"), Some("default"), Some("app=sleep"))
            .unwrap()
            .is_empty()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let r = k.run(&["get", "pods", "-l", "app=sleep"]).await;
    assert!(r.stderr.contains("No resources found"), "{} {}", r.stdout, r.stderr);

    let out = k.ok(&["get", "deploy", "sleep", "-o", "yaml", "--show-managed-fields"]).await;
    assert!(out.contains("managedFields:"), "{out}");
    assert!(out.contains("manager: kubectl\n") && out.contains("operation: Apply"), "{out}");
    assert!(out.contains("subresource: scale"), "{out}");

    let out = k.ok(&["delete", "-f", CLUSTER_2]).await;
    assert!(out.contains("deployment.apps \"helloworld-v2\" deleted"), "{out}");
    assert!(h.get(&deploy, Some("default"), "helloworld-v2").is_none());
    let r = k.run(&["get", "deploy", "helloworld-v2"]).await;
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("Error from server (NotFound)"), "{}", r.stderr);

    c.server.shutdown().await.unwrap();
}

#[tokio::test]
async fn kubectl_deletes_a_manifest_that_lists_its_namespace_first() {
    let Some(bin) = find_kubectl() else { return skipped() };
    let c = TestCluster::start().await;
    let work = c.dir.path().join("kubectl");
    std::fs::create_dir_all(work.join("home")).unwrap();
    let kubeconfig = work.join("kubeconfig");
    c.server.write_kubeconfig(&kubeconfig).unwrap();
    let k = Kubectl { bin, kubeconfig, home: work.join("home") };
    let manifest = write(&work, "demo.yaml", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: demo\n  labels:\n    istio-injection: enabled\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: demo\nspec:\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      containers:\n      - name: web\n        image: nginx:1.27\n---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: web\n  namespace: demo\nspec:\n  hosts: [web]\n");
    k.ok(&["apply", "-f", &manifest]).await;
    k.ok(&["-n", "demo", "rollout", "status", "deploy/web", "--timeout=60s"]).await;
    let containers = k
        .ok(&["-n", "demo", "get", "pods", "-o", "jsonpath={.items[0].spec.containers[*].name}"])
        .await;
    assert_eq!(containers, "web istio-proxy", "the sidecar is injected");
    let out = k.ok(&["-n", "demo", "exec", "deploy/web", "--", "hostname"]).await;
    assert!(out.starts_with("web-"), "the default container is the app's: {out}");
    let out = k.ok(&["delete", "-f", &manifest]).await;
    assert!(
        out.contains("namespace \"demo\" deleted")
            && out.contains("deployment.apps \"web\" deleted"),
        "{out}"
    );
    let r = k.run(&["get", "namespace", "demo"]).await;
    assert!(
        r.stderr.contains("NotFound"),
        "the namespace is gone once delete returns: {}",
        r.stderr
    );
    c.server.shutdown().await.unwrap();
}

#[tokio::test]
async fn kubectl_sees_a_down_cluster_refuse_and_the_same_kubeconfig_work_after_the_restore() {
    let Some(bin) = find_kubectl() else { return skipped() };
    let c = TestCluster::start().await;
    let work = c.dir.path().join("kubectl");
    std::fs::create_dir_all(work.join("home")).unwrap();
    let kubeconfig = work.join("kubeconfig");
    c.server.write_kubeconfig(&kubeconfig).unwrap();
    let k = Kubectl { bin, kubeconfig, home: work.join("home") };
    let manifest = write(
        &work,
        "keep.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: keep\ndata:\n  k: v\n",
    );
    k.ok(&["apply", "-f", &manifest]).await;
    let availability = c.server.availability();
    availability.take_down().await.expect("down");
    let r = k.run(&["get", "configmap", "keep", "--request-timeout=20s"]).await;
    assert_ne!(r.code, 0);
    let refused = format!("The connection to the server {} was refused", c.server.local_addr());
    assert!(r.stderr.contains(&refused), "{}", r.stderr);
    availability.bring_up().await.expect("up");
    let v = k.ok(&["get", "configmap", "keep", "-o", "jsonpath={.data.k}"]).await;
    assert_eq!(v, "v", "the same object through the same kubeconfig");
    c.server.shutdown().await.unwrap();
}
