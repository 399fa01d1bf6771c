//! Saved plans' staged rollouts: the batches as addresses and keys, exactly as planned.

use meshform_core::{InstanceAddr, InstanceKey};
use serde::{Deserialize, Serialize};

use super::PlanFileError;
use crate::plan::{Rollout, RolloutBatch};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedRollout {
    pub resource: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<String>,
    pub batches: Vec<SavedBatch>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedBatch {
    pub keys: Vec<SavedKey>,
    pub instances: Vec<String>,
}

/// An instance key: a `count` index or a `for_each` key.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SavedKey {
    Index(i64),
    Key(String),
}

impl SavedRollout {
    pub fn from_rollout(r: &Rollout) -> SavedRollout {
        SavedRollout {
            resource: r.resource.to_string(),
            checks: r.checks.clone(),
            batches: r
                .batches
                .iter()
                .map(|b| SavedBatch {
                    keys: b
                        .keys
                        .iter()
                        .filter_map(|k| match k {
                            InstanceKey::Int(i) => Some(SavedKey::Index(*i)),
                            InstanceKey::Str(s) => Some(SavedKey::Key(s.clone())),
                            InstanceKey::None => None,
                        })
                        .collect(),
                    instances: b.instances.iter().map(ToString::to_string).collect(),
                })
                .collect(),
        }
    }

    pub fn to_rollout(&self) -> Result<Rollout, PlanFileError> {
        let addr = |s: &str| {
            s.parse::<InstanceAddr>()
                .map_err(|e| PlanFileError::Damaged(format!("invalid address {s:?}: {e}")))
        };
        let mut batches = Vec::new();
        for b in &self.batches {
            batches.push(RolloutBatch {
                keys: b
                    .keys
                    .iter()
                    .map(|k| match k {
                        SavedKey::Index(i) => InstanceKey::Int(*i),
                        SavedKey::Key(s) => InstanceKey::Str(s.clone()),
                    })
                    .collect(),
                instances: b.instances.iter().map(|s| addr(s)).collect::<Result<_, _>>()?,
            });
        }
        Ok(Rollout {
            resource: addr(&self.resource)?.resource,
            checks: self.checks.clone(),
            batches,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rollout_survives_the_file() {
        let r = Rollout {
            resource: "test_mesh.m".parse::<InstanceAddr>().unwrap().resource,
            checks: vec!["a".into(), "b".into()],
            batches: vec![
                RolloutBatch {
                    keys: vec![InstanceKey::Str("cluster-2".into())],
                    instances: vec![
                        "test_mesh.m[\"cluster-2\"]".parse().unwrap(),
                        "test_thing.t[\"cluster-2\"]".parse().unwrap(),
                    ],
                },
                RolloutBatch {
                    keys: vec![InstanceKey::Int(0)],
                    instances: vec!["test_mesh.m[0]".parse().unwrap()],
                },
            ],
        };
        let saved = SavedRollout::from_rollout(&r);
        let json = serde_json::to_string(&saved).unwrap();
        assert!(json.contains("\"keys\":[\"cluster-2\"]"), "{json}");
        let back: SavedRollout = serde_json::from_str(&json).unwrap();
        assert_eq!(back.to_rollout().unwrap(), r);
    }
}
