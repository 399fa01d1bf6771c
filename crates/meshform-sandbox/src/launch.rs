//! Starting the whole sandbox: the emulated account's identity (kept in the sandbox directory so that
//! credentials and cluster ids survive restarts), the ASM emulator, one Kubernetes API server per
//! emulated ACK cluster, the CS (ACK) API emulator, STS and an instance metadata service
//! (`sts::start_identity_services`), the description file `sandbox.json`, and a small
//! admin endpoint that reports what the sandbox holds and switches faults and outages.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::asm::{self, Account, AsmEmulator, AsmOptions, EmulatedCluster, FaultSettings};
use crate::cs::{self, CsCluster, CsEmulator};
use crate::dataplane::{ClusterView, DataPlane};
use crate::envfile;
use crate::kms::{self, KmsEmulator, KmsOptions};
use crate::kube::{self, ClusterOptions, KubeApiServer};
use crate::metadata::MetadataService;
use crate::sts::{MetadataDescription, StsDescription, StsEmulator};

/// The description file's name in the sandbox directory.
pub const DESCRIPTION_FILE: &str = "sandbox.json";

/// What is fixed about the emulated account across restarts.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Identity {
    pub access_key_id: String,
    pub access_key_secret: String,
    pub clusters: Vec<ClusterIdentity>,
}

/// One emulated ACK cluster.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ClusterIdentity {
    pub name: String,
    pub id: String,
    pub region: String,
    pub vpc_id: String,
    pub vswitch_id: String,
}

fn random_hex(n: usize) -> String {
    let mut s = String::new();
    while s.len() < n {
        s.push_str(&uuid::Uuid::new_v4().simple().to_string());
    }
    s.truncate(n);
    s
}

/// The clusters a new sandbox has unless told otherwise: the runbook's two.
pub const DEFAULT_CLUSTERS: usize = 2;

/// The most clusters a sandbox runs (each is an API server with its own listener, certificates and
/// state directory, all in one process).
pub const MAX_CLUSTERS: usize = 200;

/// The regions clusters are spread over, in order (real Alibaba Cloud region ids): cluster `i`
/// (1-based) is in `REGIONS[(i - 1) % REGIONS.len()]`, so the runbook's two are in Hangzhou and
/// Shanghai, and every region gets a cluster before any gets a second.
pub const REGIONS: &[&str] = &[
    "cn-hangzhou",
    "cn-shanghai",
    "cn-beijing",
    "cn-shenzhen",
    "cn-zhangjiakou",
    "cn-qingdao",
    "cn-huhehaote",
    "cn-wulanchabu",
    "cn-chengdu",
    "cn-guangzhou",
    "cn-heyuan",
    "cn-hongkong",
    "ap-southeast-1",
    "ap-southeast-3",
    "ap-southeast-5",
    "ap-northeast-1",
    "ap-northeast-2",
    "eu-central-1",
    "eu-west-1",
    "us-west-1",
    "us-east-1",
    "me-east-1",
];

impl ClusterIdentity {
    /// Cluster `i` (1-based): `cluster-<i>`, in its region of [`REGIONS`], in a VPC of its own.
    fn generate(i: usize) -> ClusterIdentity {
        ClusterIdentity {
            name: format!("cluster-{i}"),
            id: format!("c{}", random_hex(32)),
            region: REGIONS[(i - 1) % REGIONS.len()].to_owned(),
            vpc_id: format!("vpc-{}", random_hex(20)),
            vswitch_id: format!("vsw-{}", random_hex(20)),
        }
    }
}

impl Identity {
    /// A new account with `clusters` clusters (see [`ClusterIdentity::generate`]).
    pub fn generate(clusters: usize) -> Identity {
        Identity {
            access_key_id: format!("LTAI5t{}", random_hex(18)),
            access_key_secret: random_hex(30),
            clusters: (1..=clusters).map(ClusterIdentity::generate).collect(),
        }
    }

    /// Loads `identity.json` from the directory, creating it on first use with `clusters` clusters
    /// (default [`DEFAULT_CLUSTERS`]). Asked for more clusters than it has, it adds them (the
    /// existing ones keep their ids, so state made against them stays valid); asked for fewer, it
    /// refuses, as the clusters past N may hold what was deployed.
    pub fn load_or_create(dir: &Path, clusters: Option<usize>) -> Result<Identity, SandboxError> {
        let path = dir.join("identity.json");
        let Some(mut id) = Identity::check_clusters(dir, clusters)? else {
            let id = Identity::generate(clusters.unwrap_or(DEFAULT_CLUSTERS));
            write_atomic(&path, &serde_json::to_vec_pretty(&id).unwrap_or_default())?;
            return Ok(id);
        };
        let have = id.clusters.len();
        match clusters {
            Some(n) if n > have => {
                id.clusters.extend((have + 1..=n).map(ClusterIdentity::generate));
                write_atomic(&path, &serde_json::to_vec_pretty(&id).unwrap_or_default())?;
                Ok(id)
            }
            _ => Ok(id),
        }
    }

    /// Whether a sandbox with `clusters` clusters can start in `dir` (see
    /// [`Identity::load_or_create`]), and the identity stored there, if any.
    pub fn check_clusters(
        dir: &Path,
        clusters: Option<usize>,
    ) -> Result<Option<Identity>, SandboxError> {
        if let Some(n) = clusters {
            check_cluster_count(n)?;
        }
        let path = dir.join("identity.json");
        let id: Identity = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| SandboxError::Corrupt {
                path: path.clone(),
                message: e.to_string(),
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(SandboxError::Io { path, source: e }),
        };
        match clusters {
            Some(n) if n < id.clusters.len() => Err(SandboxError::FewerClusters {
                dir: dir.to_path_buf(),
                have: id.clusters.len(),
                asked: n,
            }),
            _ => Ok(Some(id)),
        }
    }

    pub fn account(&self) -> Account {
        Account {
            access_key_id: self.access_key_id.clone(),
            access_key_secret: self.access_key_secret.clone(),
            clusters: self
                .clusters
                .iter()
                .map(|c| EmulatedCluster {
                    id: c.id.clone(),
                    name: c.name.clone(),
                    region: c.region.clone(),
                    vpc_id: c.vpc_id.clone(),
                    vswitch_id: c.vswitch_id.clone(),
                })
                .collect(),
        }
    }
}

/// Why the sandbox could not start or answer.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path} is corrupt ({message}); remove the sandbox directory to start afresh")]
    Corrupt { path: PathBuf, message: String },
    #[error("the ASM emulator failed: {0}")]
    Asm(#[from] asm::AsmError),
    #[error("a sandbox runs from 1 to {MAX_CLUSTERS} clusters, not {asked}")]
    ClusterCount { asked: usize },
    #[error(
        "the sandbox in {dir} has {have} clusters, more than the {asked} asked for: the others may hold what was deployed"
    )]
    FewerClusters { dir: PathBuf, have: usize, asked: usize },
    #[error("{0}")]
    Other(String),
}

/// Refuses a cluster count a sandbox cannot run.
pub fn check_cluster_count(n: usize) -> Result<(), SandboxError> {
    if (1..=MAX_CLUSTERS).contains(&n) {
        Ok(())
    } else {
        Err(SandboxError::ClusterCount { asked: n })
    }
}

/// Writes a file atomically ([`meshform_core::fsio::write_atomic`]), creating its directory first.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), SandboxError> {
    let io = |e| SandboxError::Io { path: path.to_path_buf(), source: e };
    std::fs::create_dir_all(meshform_core::fsio::parent_dir(path)).map_err(io)?;
    meshform_core::fsio::write_atomic(path, bytes, None).map_err(io)
}

/// The `sandbox.json` document (shape in the command-line contract; fields may be added).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Description {
    pub asm: AsmDescription,
    /// The Container Service (ACK) API of the clusters (same access key as `asm`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cs: Option<CsDescription>,
    pub clusters: Vec<ClusterDescription>,
    /// The admin endpoint (`GET /status`, `POST /faults`, `POST /outage`, `POST /restore`).
    pub admin: String,
    /// The process serving the sandbox.
    pub pid: u32,
    pub dir: String,
    /// The KMS emulator and its master key, for a `key_provider "alicloud_kms"` (same access key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms: Option<KmsDescription>,
    /// STS and the account's roles, for `assume_role` and RRSA (same access key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sts: Option<StsDescription>,
    /// The ECS instance metadata service, for the instance RAM role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<MetadataDescription>,
}

/// The KMS emulator (`kms::KmsEmulator`) and the master key it starts with.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct KmsDescription {
    pub endpoint: String,
    pub region: String,
    pub key_id: String,
    pub alias: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AsmDescription {
    pub endpoint: String,
    pub access_key_id: String,
    pub access_key_secret: String,
}

/// The CS emulator's endpoint (`cs::CsEmulator`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CsDescription {
    pub endpoint: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ClusterDescription {
    pub name: String,
    pub id: String,
    pub region: String,
    pub vpc_id: String,
    pub vswitch_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_server: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubeconfig: Option<String>,
}

impl Description {
    /// Reads a sandbox directory's description.
    pub fn read(dir: &Path) -> Result<Description, SandboxError> {
        let path = dir.join(DESCRIPTION_FILE);
        let bytes =
            std::fs::read(&path).map_err(|e| SandboxError::Io { path: path.clone(), source: e })?;
        serde_json::from_slice(&bytes)
            .map_err(|e| SandboxError::Corrupt { path, message: e.to_string() })
    }
}

/// How to start the sandbox.
#[derive(Clone, Debug)]
pub struct SandboxOptions {
    pub dir: PathBuf,
    /// How long ASM's asynchronous transitions take.
    pub transition_delay: Duration,
    pub faults: FaultSettings,
    /// How many clusters (`cluster-1` … `cluster-N`); `None`: as many as the directory's sandbox
    /// had, or [`DEFAULT_CLUSTERS`] for a new one.
    pub clusters: Option<usize>,
}

impl SandboxOptions {
    pub fn new(dir: impl Into<PathBuf>) -> SandboxOptions {
        SandboxOptions {
            dir: dir.into(),
            transition_delay: Duration::from_millis(1500),
            faults: FaultSettings::default(),
            clusters: None,
        }
    }
}

/// A running sandbox.
pub struct Sandbox {
    pub identity: Identity,
    pub asm: Arc<AsmEmulator>,
    pub clusters: Vec<KubeApiServer>,
    pub cs: CsEmulator,
    pub dataplane: Arc<DataPlane>,
    pub kms: KmsEmulator,
    pub sts: StsEmulator,
    pub metadata: MetadataService,
    description: Description,
    admin: tokio::task::JoinHandle<()>,
    reconciler: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox").field("dir", &self.description.dir).finish_non_exhaustive()
    }
}

async fn bind() -> Result<tokio::net::TcpListener, SandboxError> {
    tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| SandboxError::Io { path: PathBuf::from("127.0.0.1:0"), source: e })
}

impl Sandbox {
    /// Starts every component on free loopback ports and writes `sandbox.json`.
    pub async fn start(opts: SandboxOptions) -> Result<Sandbox, SandboxError> {
        std::fs::create_dir_all(&opts.dir)
            .map_err(|e| SandboxError::Io { path: opts.dir.clone(), source: e })?;
        let dir = std::fs::canonicalize(&opts.dir)
            .map_err(|e| SandboxError::Io { path: opts.dir.clone(), source: e })?;
        let identity = Identity::load_or_create(&dir, opts.clusters)?;
        let mut asm_opts = AsmOptions::new(dir.join("asm.json"));
        asm_opts.transition_delay = opts.transition_delay;
        asm_opts.faults = opts.faults.clone();
        let asm = Arc::new(asm::start(bind().await?, identity.account(), asm_opts).await?);
        let kms_opts = KmsOptions {
            state_file: dir.join("kms.json"),
            region: identity.clusters.first().map_or("cn-hangzhou", |c| &c.region).to_owned(),
            access_key_id: identity.access_key_id.clone(),
            access_key_secret: identity.access_key_secret.clone(),
        };
        let kms = kms::start(bind().await?, kms_opts)
            .await
            .map_err(|e| SandboxError::Other(e.to_string()))?;
        let mut servers = Vec::new();
        let mut clusters = Vec::new();
        let mut views = Vec::new();
        for c in &identity.clusters {
            let state_dir = dir.join(&c.name);
            let server =
                kube::start(bind().await?, ClusterOptions::new(c.name.clone(), &state_dir))
                    .await
                    .map_err(|e| SandboxError::Other(format!("cluster {}: {e}", c.name)))?;
            let kubeconfig = dir.join(format!("{}.kubeconfig", c.name));
            server
                .write_kubeconfig(&kubeconfig)
                .map_err(|e| SandboxError::Other(format!("cluster {}: {e}", c.name)))?;
            clusters.push(ClusterDescription {
                name: c.name.clone(),
                id: c.id.clone(),
                region: c.region.clone(),
                vpc_id: c.vpc_id.clone(),
                vswitch_id: c.vswitch_id.clone(),
                api_server: Some(server.url()),
                kubeconfig: Some(kubeconfig.display().to_string()),
            });
            views.push(ClusterView {
                id: c.id.clone(),
                name: c.name.clone(),
                vpc_id: c.vpc_id.clone(),
                handle: server.handle(),
                availability: server.availability(),
            });
            servers.push(server);
        }
        let cs_clusters = identity
            .clusters
            .iter()
            .zip(&servers)
            .map(|(c, server)| CsCluster {
                id: c.id.clone(),
                name: c.name.clone(),
                region: c.region.clone(),
                vpc_id: c.vpc_id.clone(),
                vswitch_id: c.vswitch_id.clone(),
                api_server: server.local_addr(),
                ca_pem: server.ca_pem().to_owned(),
                token: server.token().to_owned(),
                availability: Some(server.availability()),
            })
            .collect();
        let cs = cs::start(
            bind().await?,
            &identity.access_key_id,
            &identity.access_key_secret,
            cs_clusters,
        )
        .await
        .map_err(|e| SandboxError::Other(e.to_string()))?;
        let (sts, metadata, sts_description, metadata_description) =
            crate::sts::start_identity_services(
                &dir,
                &identity.access_key_id,
                &identity.access_key_secret,
            )
            .await
            .map_err(|e| SandboxError::Other(e.to_string()))?;
        let (dataplane, reconciler) = DataPlane::start(Arc::clone(&asm), views.clone());
        let admin_listener = bind().await?;
        let admin_addr = admin_listener
            .local_addr()
            .map_err(|e| SandboxError::Io { path: PathBuf::from("admin"), source: e })?;
        let description = Description {
            asm: AsmDescription {
                endpoint: asm.endpoint(),
                access_key_id: identity.access_key_id.clone(),
                access_key_secret: identity.access_key_secret.clone(),
            },
            cs: Some(CsDescription { endpoint: cs.endpoint() }),
            clusters,
            admin: format!("http://{admin_addr}"),
            pid: std::process::id(),
            dir: dir.display().to_string(),
            kms: Some(KmsDescription {
                endpoint: kms.endpoint(),
                region: kms.region().to_owned(),
                key_id: kms.default_key_id().to_owned(),
                alias: kms::DEFAULT_ALIAS.to_owned(),
            }),
            sts: Some(sts_description),
            metadata: Some(metadata_description),
        };
        let admin =
            crate::admin::serve(admin_listener, Arc::clone(&asm), views, description.clone());
        // Written before sandbox.json, whose appearance says the sandbox is up. The AccessKey
        // secret is in it: readable by the owner only.
        meshform_core::fsio::write_atomic(
            &dir.join(envfile::ENV_FILE),
            envfile::render(&description).as_bytes(),
            Some(0o600),
        )
        .map_err(|e| SandboxError::Io { path: dir.join(envfile::ENV_FILE), source: e })?;
        write_atomic(
            &dir.join(DESCRIPTION_FILE),
            &serde_json::to_vec_pretty(&description).unwrap_or_default(),
        )?;
        Ok(Sandbox {
            identity,
            asm,
            clusters: servers,
            cs,
            dataplane,
            kms,
            sts,
            metadata,
            description,
            admin,
            reconciler,
        })
    }

    pub fn description(&self) -> &Description {
        &self.description
    }

    /// Stops every component; state stays in the directory.
    pub async fn shutdown(self) {
        self.admin.abort();
        self.reconciler.abort();
        self.kms.shutdown().await;
        self.sts.shutdown().await;
        self.metadata.shutdown().await;
        self.cs.shutdown().await;
        for c in self.clusters {
            let _ = c.shutdown().await;
        }
        // Other parts may still hold the emulator: its meshes' API servers are saved and stopped here.
        self.asm.shutdown_mesh_apis().await;
        if let Ok(asm) = Arc::try_unwrap(self.asm) {
            let _ = asm.shutdown().await;
        }
        let _ = std::fs::remove_file(Path::new(&self.description.dir).join(DESCRIPTION_FILE));
        let _ = std::fs::remove_file(Path::new(&self.description.dir).join(envfile::ENV_FILE));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clusters_are_numbered_and_spread_over_regions_and_vpcs() {
        let id = Identity::generate(25);
        let names: Vec<&str> = id.clusters.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names[..3], ["cluster-1", "cluster-2", "cluster-3"]);
        assert_eq!(names[24], "cluster-25");
        let regions: Vec<&str> = id.clusters.iter().map(|c| c.region.as_str()).collect();
        // The runbook's two where they always were; every region used before any is used twice.
        assert_eq!(regions[..3], ["cn-hangzhou", "cn-shanghai", "cn-beijing"]);
        let distinct: std::collections::BTreeSet<&str> = regions.iter().copied().collect();
        assert_eq!(distinct.len(), REGIONS.len());
        assert_eq!(regions[REGIONS.len()], "cn-hangzhou");
        let vpcs: std::collections::BTreeSet<&str> =
            id.clusters.iter().map(|c| c.vpc_id.as_str()).collect();
        let ids: std::collections::BTreeSet<&str> =
            id.clusters.iter().map(|c| c.id.as_str()).collect();
        assert_eq!((vpcs.len(), ids.len()), (25, 25), "one VPC and one id per cluster");
    }

    #[test]
    fn a_directory_keeps_its_clusters_grows_on_request_and_never_shrinks() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = Identity::load_or_create(dir.path(), None).expect("created");
        assert_eq!(first.clusters.len(), DEFAULT_CLUSTERS);
        // Unspecified: as many as before.
        assert_eq!(Identity::load_or_create(dir.path(), None).expect("loaded"), first);
        // More: the existing clusters keep their ids and the account its keys.
        let grown = Identity::load_or_create(dir.path(), Some(4)).expect("grown");
        assert_eq!(grown.clusters.len(), 4);
        assert_eq!(grown.clusters[..2], first.clusters[..]);
        assert_eq!(grown.access_key_id, first.access_key_id);
        assert_eq!(grown.clusters[3].name, "cluster-4");
        assert_eq!(Identity::load_or_create(dir.path(), None).expect("reloaded"), grown);
        // Fewer: refused, naming what the directory has.
        let err = Identity::load_or_create(dir.path(), Some(3)).expect_err("fewer is refused");
        assert!(matches!(err, SandboxError::FewerClusters { have: 4, asked: 3, .. }), "{err}");
        assert!(err.to_string().contains("has 4 clusters, more than the 3 asked for"), "{err}");
        for bad in [0, MAX_CLUSTERS + 1] {
            let err = Identity::load_or_create(dir.path(), Some(bad)).expect_err("refused");
            assert!(
                err.to_string().contains(&format!("from 1 to {MAX_CLUSTERS} clusters, not {bad}")),
                "{err}"
            );
        }
        let fresh = tempfile::tempdir().expect("tempdir");
        let big = Identity::load_or_create(fresh.path(), Some(MAX_CLUSTERS)).expect("the largest");
        assert_eq!(big.clusters.len(), MAX_CLUSTERS);
    }
}
