//! An emulated Kubernetes API server on loopback, its kubeconfig, a configuration directory and the
//! engine's ops, driven as the CLI drives them.

use std::path::PathBuf;
use std::sync::{Arc, Once};
use std::time::Duration;

use meshform_config::vars::VarInputs;
use meshform_engine::apply::{ApplyOptions, ApplyOutcome};
use meshform_engine::ops::{self, Planned, Workspace};
use meshform_engine::plan::walk::PlanOptions;
use meshform_engine::plan::{Action, PlanMode, ResourceChange};
use meshform_engine::SilentReporter;
use meshform_provider::Registry;
use meshform_provider_kubernetes::{KubeEnv, KubernetesProvider};
use meshform_sandbox::kube::{self, ClusterOptions, Gvk, KubeApiServer, Timing};
use meshform_state::LocalStore;
use serde_json::Value as Json;

/// The runbook's manifests for cluster-1.
pub fn cluster_1_yaml() -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/multi-master/apps/cluster-1.yaml");
    std::fs::read_to_string(p).expect("the runbook's cluster-1.yaml")
}

pub struct World {
    pub server: KubeApiServer,
    /// Kept alive for the cluster's state, the kubeconfig and the configuration.
    pub _dir: tempfile::TempDir,
    pub ws: Workspace,
    pub kubeconfig: PathBuf,
}

fn install_crypto() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    });
}

impl World {
    pub async fn start() -> World {
        install_crypto();
        let dir = tempfile::tempdir().expect("tempdir");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let mut opts = ClusterOptions::new("cluster-1", dir.path().join("cluster-1"));
        opts.timing = Timing {
            pod_start_delay: Duration::from_millis(50),
            namespace_finalize_delay: Duration::from_millis(200),
        };
        let server = kube::start(listener, opts).await.expect("the cluster starts");
        let kubeconfig = dir.path().join("kubeconfig");
        server.write_kubeconfig(&kubeconfig).expect("kubeconfig");
        let mut registry = Registry::new();
        registry.register(Arc::new(KubernetesProvider::new(KubeEnv::default())));
        let config_dir = dir.path().join("config");
        std::fs::create_dir_all(config_dir.join("apps")).expect("config dir");
        let ws = Workspace {
            dir: config_dir.clone(),
            registry,
            store: Arc::new(LocalStore::new(config_dir.join("meshform.state.json"))),
        };
        World { server, _dir: dir, ws, kubeconfig }
    }

    /// Writes `main.hcl`; `KUBECONFIG` in the text becomes the kubeconfig's path.
    pub fn write(&self, text: &str) {
        let t = text.replace("KUBECONFIG", &self.kubeconfig.display().to_string());
        std::fs::write(self.ws.dir.join("main.hcl"), t).expect("write config");
    }

    /// Writes a file next to `main.hcl` (e.g. `apps/cluster-1.yaml`).
    pub fn write_file(&self, name: &str, text: &str) {
        std::fs::write(self.ws.dir.join(name), text).expect("write file");
    }

    /// Plans, or every error message (diagnostics and failures) joined.
    pub async fn try_plan(&self, opts: &PlanOptions) -> Result<Planned, String> {
        match ops::plan(&self.ws, &VarInputs::default(), opts, &SilentReporter).await {
            Ok(p) if p.diags.has_errors() || !p.plan.failures.is_empty() => {
                let mut msgs: Vec<String> = p.diags.iter().map(|d| d.to_string()).collect();
                msgs.extend(
                    p.plan.failures.iter().map(|f| format!("{}: {}", f.address, f.message)),
                );
                Err(msgs.join("\n"))
            }
            Ok(p) => Ok(p),
            Err(ops::PlanError::Diagnostics(d)) => {
                Err(d.iter().map(|x| x.to_string()).collect::<Vec<_>>().join("\n"))
            }
            Err(ops::PlanError::State(e)) => Err(format!("state: {e}")),
        }
    }

    pub async fn plan(&self) -> Planned {
        self.try_plan(&PlanOptions::default()).await.unwrap_or_else(|e| panic!("plan failed:\n{e}"))
    }

    pub async fn plan_destroy(&self) -> Planned {
        let opts = PlanOptions { mode: PlanMode::Destroy, ..PlanOptions::default() };
        self.try_plan(&opts).await.unwrap_or_else(|e| panic!("plan failed:\n{e}"))
    }

    pub async fn apply(&self, planned: Planned) -> ApplyOutcome {
        let (_tx, rx) = tokio::sync::watch::channel(false);
        let out =
            ops::apply(&self.ws, planned, &ApplyOptions::default(), &SilentReporter, rx).await;
        assert!(
            !out.diags.has_errors(),
            "apply failed: {:#?}",
            out.diags.iter().map(|d| d.to_string()).collect::<Vec<_>>()
        );
        out
    }

    pub async fn plan_and_apply(&self) -> ApplyOutcome {
        let p = self.plan().await;
        self.apply(p).await
    }

    /// An object as the cluster holds it.
    pub fn get(&self, api_version: &str, kind: &str, ns: Option<&str>, name: &str) -> Option<Json> {
        let (g, v) = api_version.split_once('/').unwrap_or(("", api_version));
        self.server.handle().get(&Gvk::new(g, v, kind), ns, name)
    }

    pub fn deployment(&self, name: &str) -> Option<Json> {
        self.get("apps/v1", "Deployment", Some("default"), name)
    }

    pub fn state_resources(&self) -> usize {
        self.ws.store.read().expect("state").map(|s| s.resources.len()).unwrap_or(0)
    }
}

/// The changes that do something.
pub fn actionable(p: &Planned) -> Vec<&ResourceChange> {
    p.plan.changes.iter().filter(|c| c.action != Action::NoOp).collect()
}

/// A string attribute of a planned value.
pub fn attr(v: &meshform_core::Value, k: &str) -> String {
    v.get(k).and_then(meshform_core::Value::as_str).unwrap_or_default().to_owned()
}
