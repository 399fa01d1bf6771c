//! A sandbox on loopback, a configuration directory, and the engine's ops with the ack and
//! kubernetes providers registered as the CLI registers them. The providers get the sandbox's
//! endpoint and AccessKey from their environment (`sandbox.env`'s variables), as a user who sourced
//! it would run them.

use std::sync::Arc;

use meshform_acs::credentials::ProviderEnv;
use meshform_config::vars::VarInputs;
use meshform_engine::apply::{ApplyOptions, ApplyOutcome};
use meshform_engine::ops::{self, Planned, Workspace};
use meshform_engine::plan::walk::PlanOptions;
use meshform_engine::plan::PlanMode;
use meshform_engine::SilentReporter;
use meshform_provider::Registry;
use meshform_provider_ack::AckProvider;
use meshform_provider_kubernetes::{KubeEnv, KubernetesProvider};
use meshform_sandbox::{envfile, Sandbox, SandboxOptions};
use meshform_state::LocalStore;

pub struct World {
    pub sandbox: Sandbox,
    /// Kept alive for the sandbox's state and the configuration.
    pub _dir: tempfile::TempDir,
    pub ws: Workspace,
}

impl World {
    pub async fn start() -> World {
        // kube-rs (the kubernetes provider) needs a process-wide crypto provider, as the CLI installs.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let dir = tempfile::tempdir().expect("tempdir");
        let sandbox =
            Sandbox::start(SandboxOptions::new(dir.path().join("sandbox"))).await.expect("sandbox");
        let env = ProviderEnv {
            vars: envfile::variables(sandbox.description())
                .into_iter()
                .filter(|(k, _)| k.starts_with("ALIBABA_CLOUD_"))
                .collect(),
            home: None,
        };
        let mut registry = Registry::new();
        registry.register(Arc::new(AckProvider::new(env)));
        registry.register(Arc::new(KubernetesProvider::new(KubeEnv::default())));
        let config_dir = dir.path().join("config");
        std::fs::create_dir_all(&config_dir).expect("config dir");
        let ws = Workspace {
            dir: config_dir.clone(),
            registry,
            store: Arc::new(LocalStore::new(config_dir.join("meshform.state.json"))),
        };
        World { sandbox, _dir: dir, ws }
    }

    /// The sandbox's cluster `n` (1 or 2): id and region.
    pub fn cluster(&self, n: usize) -> (String, String) {
        let c = &self.sandbox.identity.clusters[n - 1];
        (c.id.clone(), c.region.clone())
    }

    /// Writes `main.hcl`, with `CLUSTER_1`/`CLUSTER_2` and `REGION_1`/`REGION_2` replaced.
    pub fn write(&self, text: &str) {
        let (id1, r1) = self.cluster(1);
        let (id2, r2) = self.cluster(2);
        let t = text
            .replace("CLUSTER_1", &id1)
            .replace("CLUSTER_2", &id2)
            .replace("REGION_1", &r1)
            .replace("REGION_2", &r2);
        std::fs::write(self.ws.dir.join("main.hcl"), t).expect("write config");
    }

    pub async fn plan(&self) -> Planned {
        match self.try_plan().await {
            Ok(p) => p,
            Err(d) => panic!("plan failed: {d:#?}"),
        }
    }

    /// A plan, or its error diagnostics rendered with their source lines.
    pub async fn try_plan(&self) -> Result<Planned, Vec<String>> {
        self.try_plan_with(&PlanOptions::default()).await
    }

    /// A destroy plan.
    pub async fn plan_destroy(&self) -> Planned {
        let opts = PlanOptions { mode: PlanMode::Destroy, ..PlanOptions::default() };
        match self.try_plan_with(&opts).await {
            Ok(p) => p,
            Err(d) => panic!("destroy plan failed: {d:#?}"),
        }
    }

    async fn try_plan_with(&self, opts: &PlanOptions) -> Result<Planned, Vec<String>> {
        match ops::plan(&self.ws, &VarInputs::default(), opts, &SilentReporter).await {
            Ok(p) => Ok(p),
            Err(ops::PlanError::Diagnostics(d)) => Err(d
                .iter()
                .map(|x| format!("{x} @ `{}`", x.span.as_ref().map_or("-", |s| s.text())))
                .collect()),
            Err(ops::PlanError::State(e)) => panic!("state: {e}"),
        }
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

    pub async fn shutdown(self) {
        self.sandbox.shutdown().await;
    }
}

/// An output's planned value.
pub fn output(planned: &Planned, name: &str) -> meshform_core::Value {
    planned
        .plan
        .outputs
        .iter()
        .find(|o| o.name == name)
        .and_then(|o| o.after.clone())
        .unwrap_or_else(|| panic!("no output {name}: {:?}", planned.plan.outputs))
}
