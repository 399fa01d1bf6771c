//! What the emulated ASM holds — meshes, their member clusters (managed or discovery-only), their
//! multi-cluster networks, per-namespace injection and CA material — and the state machine that
//! completes asynchronous transitions when their wall-clock deadline passes.
//!
//! These types are also the read-only view other sandbox parts observe ([`AsmSnapshot`]): the
//! emulated Kubernetes clusters and the data plane react to which mesh manages which cluster.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::EmulatedCluster;

/// The lifecycle state of a mesh, as `ServiceMeshInfo.State` reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MeshState {
    /// Being created (`initial`).
    Initial,
    /// Ready (`running`).
    Running,
    /// Applying a membership change or a version upgrade (`upgrading`; the console shows
    /// "Updating").
    Upgrading,
    /// A version upgrade failed (`upgrading_failed`): the mesh keeps its old version, its data plane
    /// keeps serving, and only another upgrade or a deletion is accepted.
    UpgradingFailed,
    /// Being deleted (`deleting`); the mesh disappears when the transition completes.
    Deleting,
}

impl MeshState {
    /// The string the API reports.
    pub fn as_api_str(self) -> &'static str {
        match self {
            MeshState::Initial => "initial",
            MeshState::Running => "running",
            MeshState::Upgrading => "upgrading",
            MeshState::UpgradingFailed => "upgrading_failed",
            MeshState::Deleting => "deleting",
        }
    }
}

/// A pending asynchronous transition: at `due_unix_ms` (wall clock, so it survives restarts) the
/// mesh leaves its current state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transition {
    pub due_unix_ms: i64,
}

/// A version upgrade in flight (`UpgradeMeshEditionPartially`), completed with the mesh's
/// transition.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Upgrade {
    pub from_version: String,
    pub to_version: String,
    /// `ASMGatewayContinue`: the mesh's gateways are upgraded too.
    pub gateways: bool,
}

/// An upgrade that fails when it would complete (an injected fault: see
/// [`super::AsmEmulator::set_upgrade_failure`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpgradeFailure {
    /// Only this mesh's upgrades fail (`None`: every mesh's).
    pub mesh_id: Option<String>,
    /// What `ServiceMeshInfo.ErrorMessage` reports.
    pub message: String,
}

/// A cluster in a mesh.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeshMember {
    pub cluster_id: String,
    /// Added "for service discovery only": the mesh discovers the cluster's services and endpoints
    /// but deploys nothing there. (The API cannot report this; observers can.)
    pub discovery_only: bool,
    pub added_unix_ms: i64,
}

/// One cluster's entry of a mesh's multi-cluster network configuration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterNetwork {
    /// The homing logical network name (`network1`).
    pub network: String,
    /// Access through the cross-cluster mesh proxy (an east-west gateway) is enabled.
    pub enable_gateway: bool,
    pub custom_gateway_address: Option<String>,
}

/// Sidecar injection of one namespace, as set by `UpdateIstioInjectionConfig`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Injection {
    /// `istio-injection=enabled`.
    Enabled,
    /// Injection turned off: no injection label.
    Disabled,
    /// `istio.io/rev=<revision>` (a canary revision).
    Revision(String),
}

impl Injection {
    /// The namespace labels this setting puts on the namespace.
    pub fn labels(&self) -> BTreeMap<String, String> {
        let mut labels = BTreeMap::new();
        match self {
            Injection::Enabled => {
                labels.insert("istio-injection".to_owned(), "enabled".to_owned());
            }
            Injection::Disabled => {}
            Injection::Revision(rev) => {
                labels.insert("istio.io/rev".to_owned(), rev.clone());
            }
        }
        labels
    }
}

/// A PEM private key. Its `Debug` form is redacted; read it with [`SecretPem::expose`].
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SecretPem(String);

impl SecretPem {
    pub fn new(pem: String) -> Self {
        SecretPem(pem)
    }
    /// The PEM text. The API never returns it; the data plane signs workload certificates with it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretPem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(sensitive value)")
    }
}

/// Where a mesh's CA came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaSource {
    /// `UseExistingCA`: the caller's CA certificate, key, root and chain.
    Existing,
    /// Generated by the emulator: a self-signed root that is its own CA.
    Generated,
}

/// A mesh's certificate authority: it signs the mesh's workload certificates.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeshCa {
    pub source: CaSource,
    /// The signing CA certificate (PEM).
    pub ca_cert_pem: String,
    pub ca_key_pem: SecretPem,
    /// The root certificate (PEM); the same as `ca_cert_pem` for a generated CA.
    pub root_cert_pem: String,
    /// The chain from the CA certificate to the root (PEM, concatenated).
    pub cert_chain_pem: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tag {
    pub key: String,
    pub value: String,
}

/// An ASM instance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mesh {
    /// `c` followed by 32 hex digits.
    pub id: String,
    pub name: String,
    pub region_id: String,
    pub vpc_id: String,
    pub vswitches: Vec<String>,
    pub istio_version: String,
    /// `Default` or `Pro`.
    pub edition: String,
    /// `standard`, `enterprise` or `ultimate`.
    pub cluster_spec: String,
    pub cluster_domain: String,
    pub state: MeshState,
    pub transition: Option<Transition>,
    pub created_unix_ms: i64,
    pub updated_unix_ms: i64,
    /// In the order they were added.
    pub members: Vec<MeshMember>,
    /// Keyed by cluster id.
    pub networks: BTreeMap<String, ClusterNetwork>,
    /// Keyed by namespace.
    pub injection: BTreeMap<String, Injection>,
    pub ca: MeshCa,
    pub tags: Vec<Tag>,
    /// `ApiServerPublicEip` at creation: the API server also has a public endpoint.
    #[serde(default)]
    pub api_server_public_eip: bool,
    /// The upgrade in flight, while `upgrading` for one (or `upgrading_failed` after it).
    #[serde(default)]
    pub upgrade: Option<Upgrade>,
    /// The gateways' version when they lag behind the control plane (an upgrade without
    /// `ASMGatewayContinue`); `None` when they run `istio_version`.
    #[serde(default)]
    pub gateway_version: Option<String>,
    /// `ServiceMeshInfo.ErrorMessage`: why the last upgrade failed; empty otherwise.
    #[serde(default)]
    pub error_message: String,
}

impl Mesh {
    pub fn member(&self, cluster_id: &str) -> Option<&MeshMember> {
        self.members.iter().find(|m| m.cluster_id == cluster_id)
    }

    /// The clusters this mesh manages (deploys its data plane components to).
    pub fn managed_clusters(&self) -> impl Iterator<Item = &str> {
        self.members.iter().filter(|m| !m.discovery_only).map(|m| m.cluster_id.as_str())
    }

    /// The clusters whose services this mesh discovers without managing them.
    pub fn discovery_only_clusters(&self) -> impl Iterator<Item = &str> {
        self.members.iter().filter(|m| m.discovery_only).map(|m| m.cluster_id.as_str())
    }

    /// The version the mesh's gateways run.
    pub fn gateways_version(&self) -> &str {
        self.gateway_version.as_deref().unwrap_or(&self.istio_version)
    }

    /// The name of the cross-cluster mesh proxy (east-west gateway) of this mesh.
    pub fn gateway_name(&self) -> String {
        format!("asm-cross-network-{}", self.id)
    }
}

/// Everything the emulated ASM holds; persisted as a whole.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AsmModel {
    /// Bumped by every change.
    pub revision: u64,
    pub meshes: BTreeMap<String, Mesh>,
}

impl AsmModel {
    /// Completes every transition due at `now_unix_ms`. Creations stay `initial` while
    /// `stuck_initial` is set; an upgrade that `failure` names fails (`upgrading_failed`, the old
    /// version kept, `ErrorMessage` set). Returns whether anything changed.
    pub(crate) fn advance(
        &mut self,
        now_unix_ms: i64,
        stuck_initial: bool,
        failure: Option<&UpgradeFailure>,
    ) -> bool {
        let mut changed = false;
        let mut gone = Vec::new();
        for mesh in self.meshes.values_mut() {
            let Some(t) = mesh.transition else { continue };
            if t.due_unix_ms > now_unix_ms {
                continue;
            }
            match mesh.state {
                MeshState::Initial if stuck_initial => continue,
                MeshState::Upgrading if mesh.upgrade.is_some() => {
                    let fails =
                        failure.filter(|f| f.mesh_id.as_ref().is_none_or(|m| *m == mesh.id));
                    finish_upgrade(mesh, fails);
                    mesh.transition = None;
                    mesh.updated_unix_ms = now_unix_ms;
                }
                MeshState::Initial | MeshState::Upgrading => {
                    mesh.state = MeshState::Running;
                    mesh.transition = None;
                    mesh.updated_unix_ms = now_unix_ms;
                }
                MeshState::Deleting => gone.push(mesh.id.clone()),
                // A transition on a settled mesh is stale: drop it.
                MeshState::Running | MeshState::UpgradingFailed => mesh.transition = None,
            }
            changed = true;
        }
        for id in gone {
            self.meshes.remove(&id);
        }
        changed
    }

    /// The mesh that manages `cluster_id`, if any.
    pub fn managing_mesh(&self, cluster_id: &str) -> Option<&Mesh> {
        self.meshes.values().find(|m| m.managed_clusters().any(|c| c == cluster_id))
    }
}

/// Ends a version upgrade: the new version (and the gateways' when asked), or `upgrading_failed`
/// on the old one with the failure's message.
fn finish_upgrade(mesh: &mut Mesh, failure: Option<&UpgradeFailure>) {
    let Some(up) = mesh.upgrade.take() else { return };
    if let Some(f) = failure {
        mesh.state = MeshState::UpgradingFailed;
        mesh.error_message = format!(
            "upgrading from {} to {} failed: {}; the mesh still runs {}",
            up.from_version, up.to_version, f.message, up.from_version
        );
        // Kept so that DescribeServiceMeshUpgradeStatus can tell which gateways failed.
        mesh.upgrade = Some(up);
        return;
    }
    if up.gateways {
        mesh.gateway_version = None;
    } else if mesh.gateway_version.is_none() {
        mesh.gateway_version = Some(up.from_version.clone());
    }
    mesh.istio_version = up.to_version;
    mesh.state = MeshState::Running;
    mesh.error_message.clear();
}

/// A read-only view of the emulated ASM, for observers (the emulated Kubernetes clusters, the data
/// plane, `meshform sandbox status`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AsmSnapshot {
    /// Bumped by every change; equal revisions mean equal content.
    pub revision: u64,
    /// The account's clusters.
    pub clusters: Vec<EmulatedCluster>,
    /// Keyed by mesh id.
    pub meshes: BTreeMap<String, Mesh>,
}

impl AsmSnapshot {
    pub(crate) fn new(model: &AsmModel, clusters: &[EmulatedCluster]) -> Self {
        AsmSnapshot {
            revision: model.revision,
            clusters: clusters.to_vec(),
            meshes: model.meshes.clone(),
        }
    }

    pub fn mesh(&self, id: &str) -> Option<&Mesh> {
        self.meshes.get(id)
    }

    pub fn mesh_by_name(&self, name: &str) -> Option<&Mesh> {
        self.meshes.values().find(|m| m.name == name)
    }

    /// The mesh that manages `cluster_id` (whose control plane pushes to its proxies), if any.
    pub fn managing_mesh(&self, cluster_id: &str) -> Option<&Mesh> {
        self.meshes.values().find(|m| m.managed_clusters().any(|c| c == cluster_id))
    }

    /// Every mesh that has `cluster_id` as a member, managed or discovery-only.
    pub fn meshes_with_member(&self, cluster_id: &str) -> impl Iterator<Item = &Mesh> {
        let id = cluster_id.to_owned();
        self.meshes.values().filter(move |m| m.member(&id).is_some())
    }
}
