//! An emulator on loopback, a configuration directory and the engine's ops, as the CLI uses them.

use std::sync::Arc;
use std::time::Duration;

use meshform_config::vars::VarInputs;
use meshform_engine::apply::{ApplyOptions, ApplyOutcome};
use meshform_engine::ops::{self, Planned, Workspace};
use meshform_engine::plan::walk::PlanOptions;
use meshform_engine::SilentReporter;
use meshform_provider::Registry;
use meshform_provider_asm::credentials::ProviderEnv;
use meshform_provider_asm::AsmProvider;
use meshform_provider_kubernetes::{KubeEnv, KubernetesProvider};
use meshform_provider_pki::PkiProvider;
use meshform_sandbox::asm::{
    self, Account, AsmEmulator, AsmOptions, EmulatedCluster, FaultSettings,
};
use meshform_state::LocalStore;

pub struct World {
    pub emulator: AsmEmulator,
    /// Kept alive for the emulator's state file and the configuration.
    pub _dir: tempfile::TempDir,
    pub ws: Workspace,
}

pub const KEY_ID: &str = "LTAI-test-key";
pub const SECRET: &str = "test-secret-never-printed";

/// A provider block with the test AccessKey and one `asm_service_mesh` "m" on `version`, `extra`
/// written into the resource block.
pub fn mesh_config(version: &str, extra: &str) -> String {
    format!(
        r#"
provider "asm" {{
  endpoint          = "ENDPOINT"
  access_key_id     = "KEY_ID"
  access_key_secret = "SECRET"
}}
resource "asm_service_mesh" "m" {{
  name          = "mesh-1"
  region        = "cn-hangzhou"
  istio_version = "{version}"
  vpc_id        = "vpc-1"
  vswitches     = ["vsw-1"]
  cluster_id    = "c-1"
  {extra}
}}
"#
    )
}

fn cluster(id: &str, name: &str, region: &str, n: u8) -> EmulatedCluster {
    EmulatedCluster {
        id: id.into(),
        name: name.into(),
        region: region.into(),
        vpc_id: format!("vpc-{n}"),
        vswitch_id: format!("vsw-{n}"),
    }
}

impl World {
    pub async fn start(faults: FaultSettings) -> World {
        World::start_with(faults, ProviderEnv::default(), Duration::from_millis(300)).await
    }

    /// With the environment the asm provider sees, and how long ASM's transitions take.
    pub async fn start_with(
        faults: FaultSettings,
        env: ProviderEnv,
        transition: Duration,
    ) -> World {
        // kube-rs (the kubernetes provider) needs a process-wide crypto provider, as the CLI installs.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let dir = tempfile::tempdir().expect("tempdir");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let account = Account {
            access_key_id: KEY_ID.into(),
            access_key_secret: SECRET.into(),
            clusters: vec![
                cluster("c-1", "cluster-1", "cn-hangzhou", 1),
                cluster("c-2", "cluster-2", "cn-shanghai", 2),
            ],
        };
        let mut opts = AsmOptions::new(dir.path().join("asm.json"));
        opts.transition_delay = transition;
        opts.faults = faults;
        let emulator = asm::start(listener, account, opts).await.expect("emulator starts");
        let mut registry = Registry::new();
        registry.register(Arc::new(PkiProvider));
        registry.register(Arc::new(AsmProvider::new(env)));
        registry.register(Arc::new(KubernetesProvider::new(KubeEnv::default())));
        let config_dir = dir.path().join("config");
        std::fs::create_dir_all(&config_dir).expect("config dir");
        let ws = Workspace {
            dir: config_dir.clone(),
            registry,
            store: Arc::new(LocalStore::new(config_dir.join("meshform.state.json"))),
        };
        World { emulator, _dir: dir, ws }
    }

    pub fn write(&self, text: &str) {
        let t = text
            .replace("ENDPOINT", &self.emulator.endpoint())
            .replace("KEY_ID", KEY_ID)
            .replace("SECRET", SECRET);
        std::fs::write(self.ws.dir.join("main.hcl"), t).expect("write config");
    }

    pub async fn plan(&self, opts: &PlanOptions) -> Planned {
        match self.try_plan(opts).await {
            Ok(p) => p,
            Err(d) => panic!("plan failed: {d:#?}"),
        }
    }

    /// A plan, or its error diagnostics as text.
    pub async fn try_plan(&self, opts: &PlanOptions) -> Result<Planned, Vec<String>> {
        match ops::plan(&self.ws, &VarInputs::default(), opts, &SilentReporter).await {
            Ok(p) => Ok(p),
            Err(ops::PlanError::Diagnostics(d)) => Err(d.iter().map(|x| x.to_string()).collect()),
            Err(ops::PlanError::State(e)) => panic!("state: {e}"),
        }
    }

    /// Applies without expecting success.
    pub async fn try_apply(&self, planned: Planned) -> ApplyOutcome {
        let (_tx, rx) = tokio::sync::watch::channel(false);
        ops::apply(&self.ws, planned, &ApplyOptions::default(), &SilentReporter, rx).await
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
}
