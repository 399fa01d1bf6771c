//! Outages for disaster drills (`meshform sandbox outage` / `restore`): a mesh's control plane, a
//! whole cluster (API server, pods, cross-cluster gateway), or a region (its ASM control planes
//! and its clusters). Every request is checked first — an unknown target, a target already down,
//! a restore of what is not down — and a refused request changes nothing.
//!
//! Outages live in the running sandbox, as the ASM emulator's control-plane outages always have:
//! a restarted sandbox starts with everything up.

use crate::asm::AsmEmulator;
use crate::dataplane::ClusterView;
use crate::kube::KubeError;

/// What an outage or a restore is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OutageTarget {
    /// A mesh, by name or id: its control plane.
    Mesh(String),
    /// A region id: its ASM control planes and its clusters.
    Region(String),
    /// A cluster, by name or id: its API server, pods and cross-cluster gateway.
    Cluster(String),
}

/// Why an outage or a restore was refused (nothing was changed), or failed.
#[derive(Debug, thiserror::Error)]
pub enum OutageError {
    #[error("no cluster named {name}")]
    UnknownCluster { name: String, known: Vec<String> },
    #[error("no mesh named {name}")]
    UnknownMesh { name: String, known: Vec<String> },
    #[error("no cluster or mesh is in region {region}")]
    UnknownRegion { region: String, known: Vec<String> },
    #[error("{what} is already down")]
    AlreadyDown { what: String, restore: String },
    #[error("{what} is not down")]
    NotDown { what: String, hint: String },
    #[error("nothing is down")]
    NothingDown,
    #[error(transparent)]
    Cluster(#[from] KubeError),
}

impl OutageError {
    /// What to do next.
    pub fn help(&self) -> String {
        let list = |known: &[String]| {
            if known.is_empty() {
                "none".to_owned()
            } else {
                known.join(", ")
            }
        };
        match self {
            OutageError::UnknownCluster { known, .. } => {
                format!("the sandbox's clusters (by name or id) are {}", list(known))
            }
            OutageError::UnknownMesh { known, .. } => format!(
                "the meshes (by name or id) are {}; `meshform sandbox status` lists them",
                list(known)
            ),
            OutageError::UnknownRegion { known, .. } => {
                format!("the sandbox's regions are {}", list(known))
            }
            OutageError::AlreadyDown { restore, .. } => {
                format!("end the outage with `meshform sandbox restore {restore}`")
            }
            OutageError::NotDown { hint, .. } => hint.clone(),
            OutageError::NothingDown => {
                "take something down with `meshform sandbox outage --cluster NAME` (or --mesh, --region)".into()
            }
            OutageError::Cluster(_) => "see sandbox.log in the sandbox directory".into(),
        }
    }

    /// The admin endpoint's status code for it.
    pub fn status(&self) -> u16 {
        match self {
            OutageError::UnknownCluster { .. }
            | OutageError::UnknownMesh { .. }
            | OutageError::UnknownRegion { .. } => 404,
            OutageError::AlreadyDown { .. }
            | OutageError::NotDown { .. }
            | OutageError::NothingDown => 409,
            OutageError::Cluster(_) => 500,
        }
    }
}

/// What is down now.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Down {
    /// Meshes (by name) whose control plane is down by itself.
    pub meshes: Vec<String>,
    /// Regions whose ASM control planes are down.
    pub regions: Vec<String>,
    /// Clusters (by name) that are down.
    pub clusters: Vec<String>,
}

impl Down {
    pub fn is_empty(&self) -> bool {
        self.meshes.is_empty() && self.regions.is_empty() && self.clusters.is_empty()
    }

    /// `mesh mesh-1, region cn-hangzhou, cluster cluster-1`.
    pub fn describe(&self) -> String {
        let parts: Vec<String> = (self.meshes.iter().map(|m| format!("mesh {m}")))
            .chain(self.regions.iter().map(|r| format!("region {r}")))
            .chain(self.clusters.iter().map(|c| format!("cluster {c}")))
            .collect();
        parts.join(", ")
    }
}

/// What a region holds: its clusters, and its meshes as (id, name).
struct Region<'a> {
    clusters: Vec<&'a ClusterView>,
    meshes: Vec<(String, String)>,
}

/// The sandbox's outage switches: the ASM emulator's control planes and each cluster's
/// availability.
pub struct Outages<'a> {
    pub asm: &'a AsmEmulator,
    pub clusters: &'a [ClusterView],
}

impl Outages<'_> {
    /// What is down now.
    pub fn down(&self) -> Down {
        let snap = self.asm.snapshot();
        let mut down = Down::default();
        for o in self.asm.outages() {
            match snap.meshes.get(&o) {
                Some(m) => down.meshes.push(m.name.clone()),
                None => down.regions.push(o),
            }
        }
        down.clusters =
            self.clusters.iter().filter(|c| c.is_down()).map(|c| c.name.clone()).collect();
        down
    }

    fn cluster(&self, name: &str) -> Result<&ClusterView, OutageError> {
        self.clusters.iter().find(|c| c.name == name || c.id == name).ok_or_else(|| {
            OutageError::UnknownCluster {
                name: name.to_owned(),
                known: self.clusters.iter().map(|c| c.name.clone()).collect(),
            }
        })
    }

    /// The mesh a name or id designates: (id, name, region).
    fn mesh(&self, name: &str) -> Result<(String, String, String), OutageError> {
        let snap = self.asm.snapshot();
        snap.meshes
            .values()
            .find(|m| m.id == name || m.name == name)
            .map(|m| (m.id.clone(), m.name.clone(), m.region_id.clone()))
            .ok_or_else(|| OutageError::UnknownMesh {
                name: name.to_owned(),
                known: snap.meshes.values().map(|m| m.name.clone()).collect(),
            })
    }

    /// The clusters of a region, and the names of its meshes; unknown regions are refused.
    fn region(&self, region: &str) -> Result<Region<'_>, OutageError> {
        let snap = self.asm.snapshot();
        let region_of = |id: &str| {
            snap.clusters.iter().find(|c| c.id == id).map(|c| c.region.clone()).unwrap_or_default()
        };
        let clusters: Vec<&ClusterView> =
            self.clusters.iter().filter(|c| region_of(&c.id) == region).collect();
        let meshes: Vec<(String, String)> = snap
            .meshes
            .values()
            .filter(|m| m.region_id == region)
            .map(|m| (m.id.clone(), m.name.clone()))
            .collect();
        if clusters.is_empty() && meshes.is_empty() {
            let mut known: Vec<String> = snap
                .clusters
                .iter()
                .map(|c| c.region.clone())
                .chain(snap.meshes.values().map(|m| m.region_id.clone()))
                .collect();
            known.sort();
            known.dedup();
            return Err(OutageError::UnknownRegion { region: region.to_owned(), known });
        }
        Ok(Region { clusters, meshes })
    }

    /// Takes `target` down; returns what went down, in a sentence, once it is down (the meshes'
    /// control-plane API servers included).
    pub async fn outage(&self, target: &OutageTarget) -> Result<String, OutageError> {
        let done = self.take_down(target).await;
        self.asm.settle().await;
        done
    }

    async fn take_down(&self, target: &OutageTarget) -> Result<String, OutageError> {
        let asm_down = self.asm.outages();
        match target {
            OutageTarget::Mesh(name) => {
                let (id, mesh, region) = self.mesh(name)?;
                let what = format!("the control plane of mesh {mesh}");
                if asm_down.contains(&id) {
                    return Err(OutageError::AlreadyDown {
                        what,
                        restore: format!("--mesh {mesh}"),
                    });
                }
                if asm_down.contains(&region) {
                    return Err(OutageError::AlreadyDown {
                        what: format!("{what} (with its region {region})"),
                        restore: format!("--region {region}"),
                    });
                }
                self.asm.outage(&id);
                Ok(format!("the control plane of mesh {name} ({id}) is down"))
            }
            OutageTarget::Cluster(name) => {
                let c = self.cluster(name)?;
                if c.is_down() {
                    return Err(OutageError::AlreadyDown {
                        what: format!("cluster {}", c.name),
                        restore: format!("--cluster {}", c.name),
                    });
                }
                c.availability.take_down().await?;
                Ok(format!(
                    "cluster {} is down: its API server refuses connections, its pods and its cross-cluster gateway answer nothing",
                    c.name
                ))
            }
            OutageTarget::Region(region) => {
                let Region { clusters, meshes } = self.region(region)?;
                let asm_was_down = asm_down.contains(region);
                if asm_was_down && clusters.iter().all(|c| c.is_down()) {
                    return Err(OutageError::AlreadyDown {
                        what: format!("region {region}"),
                        restore: format!("--region {region}"),
                    });
                }
                self.asm.outage(region);
                for c in clusters.iter().filter(|c| !c.is_down()) {
                    if let Err(e) = c.availability.take_down().await {
                        if !matches!(e, KubeError::AlreadyDown { .. }) {
                            return Err(e.into());
                        }
                    }
                }
                let names =
                    |v: Vec<String>| if v.is_empty() { "none".to_owned() } else { v.join(", ") };
                Ok(format!(
                    "region {region} is down: its ASM control planes (meshes: {}) and its clusters ({})",
                    names(meshes.into_iter().map(|(_, n)| n).collect()),
                    names(clusters.iter().map(|c| c.name.clone()).collect()),
                ))
            }
        }
    }

    /// Ends the outage of `target`, or every outage (`None`); returns what came back, once it is
    /// back.
    pub async fn restore(&self, target: Option<&OutageTarget>) -> Result<String, OutageError> {
        let done = self.bring_back(target).await;
        self.asm.settle().await;
        done
    }

    async fn bring_back(&self, target: Option<&OutageTarget>) -> Result<String, OutageError> {
        let asm_down = self.asm.outages();
        let status_hint = "`meshform sandbox status` shows what is down".to_owned();
        match target {
            None => {
                let down = self.down();
                if down.is_empty() {
                    return Err(OutageError::NothingDown);
                }
                self.asm.restore(None);
                for c in self.clusters.iter().filter(|c| c.is_down()) {
                    c.availability.bring_up().await?;
                }
                Ok(format!("every outage ended ({})", down.describe()))
            }
            Some(OutageTarget::Mesh(name)) => {
                let (id, mesh, region) = self.mesh(name)?;
                if asm_down.contains(&id) {
                    self.asm.restore(Some(&id));
                    return Ok(format!("mesh {name} restored"));
                }
                let hint = if asm_down.contains(&region) {
                    format!("it is down with its region: restore it with `meshform sandbox restore --region {region}`")
                } else {
                    status_hint
                };
                Err(OutageError::NotDown {
                    what: format!("the control plane of mesh {mesh}"),
                    hint,
                })
            }
            Some(OutageTarget::Cluster(name)) => {
                let c = self.cluster(name)?;
                if !c.is_down() {
                    return Err(OutageError::NotDown {
                        what: format!("cluster {}", c.name),
                        hint: status_hint,
                    });
                }
                c.availability.bring_up().await?;
                Ok(format!(
                    "cluster {} restored: its API server (same address, same objects), pods and gateway serve again",
                    c.name
                ))
            }
            Some(OutageTarget::Region(region)) => {
                let Region { clusters, meshes } = self.region(region)?;
                let down_meshes: Vec<&(String, String)> =
                    meshes.iter().filter(|(id, _)| asm_down.contains(id)).collect();
                let down_clusters: Vec<&&ClusterView> =
                    clusters.iter().filter(|c| c.is_down()).collect();
                if !asm_down.contains(region) && down_meshes.is_empty() && down_clusters.is_empty()
                {
                    return Err(OutageError::NotDown {
                        what: format!("region {region}"),
                        hint: status_hint,
                    });
                }
                self.asm.restore(Some(region));
                for (id, _) in down_meshes {
                    self.asm.restore(Some(id));
                }
                for c in down_clusters {
                    c.availability.bring_up().await?;
                }
                Ok(format!("region {region} restored"))
            }
        }
    }
}
