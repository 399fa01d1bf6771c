//! Staged rollouts in plan output: the `Rollout:` lines of text and Markdown, and their JSON.

use std::fmt::Write;

use meshform_engine::plan::rollout::key_text;
use meshform_engine::plan::{Plan, Rollout};

/// `Rollout: 2 batches (cluster-2, then cluster-1), gated by check.a, check.b` and one line per batch
/// naming what changes in it.
pub fn text(plan: &Plan) -> String {
    let mut out = String::new();
    for r in &plan.rollouts {
        let _ = writeln!(out, "Rollout: {}", r.summary());
        for (i, b) in r.batches.iter().enumerate() {
            let addrs: Vec<String> = b.instances.iter().map(ToString::to_string).collect();
            let _ = writeln!(out, "  batch {}: {}", i + 1, addrs.join(", "));
        }
    }
    out
}

/// The rollouts as a Markdown paragraph and list (addresses as code).
pub fn markdown(plan: &Plan, code: impl Fn(&str) -> String) -> String {
    let mut out = String::new();
    for r in &plan.rollouts {
        let _ =
            writeln!(out, "**Rollout** of `{}`: {}\n", code(&r.resource.to_string()), r.summary());
        for (i, b) in r.batches.iter().enumerate() {
            let addrs: Vec<String> =
                b.instances.iter().map(|a| format!("`{}`", code(&a.to_string()))).collect();
            let _ = writeln!(out, "{}. {}", i + 1, addrs.join(", "));
        }
        out.push('\n');
    }
    out
}

/// One rollout as JSON: its resource, checks, summary line and batches.
pub fn json(r: &Rollout) -> serde_json::Value {
    serde_json::json!({
        "resource": r.resource.to_string(),
        "summary": format!("Rollout: {}", r.summary()),
        "checks": r.checks.iter().map(|c| format!("check.{c}")).collect::<Vec<_>>(),
        "batches": r.batches.iter().map(|b| serde_json::json!({
            "keys": b.keys.iter().map(key_text).collect::<Vec<_>>(),
            "instances": b.instances.iter().map(ToString::to_string).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use meshform_core::{InstanceAddr, InstanceKey};
    use meshform_engine::plan::RolloutBatch;

    fn plan() -> Plan {
        let a = |s: &str| s.parse::<InstanceAddr>().unwrap();
        Plan {
            rollouts: vec![Rollout {
                resource: a("asm_service_mesh.mesh").resource,
                checks: vec!["from_cluster_1".into(), "from_cluster_2".into()],
                batches: vec![
                    RolloutBatch {
                        keys: vec![InstanceKey::Str("cluster-2".into())],
                        instances: vec![
                            a("asm_service_mesh.mesh[\"cluster-2\"]"),
                            a("kubernetes_manifest.x[\"cluster-2\"]"),
                        ],
                    },
                    RolloutBatch {
                        keys: vec![InstanceKey::Str("cluster-1".into())],
                        instances: vec![a("asm_service_mesh.mesh[\"cluster-1\"]")],
                    },
                ],
            }],
            ..Plan::default()
        }
    }

    #[test]
    fn text_names_the_batches_in_order_and_the_checks() {
        let t = text(&plan());
        assert_eq!(
            t,
            "Rollout: 2 batches (cluster-2, then cluster-1), gated by check.from_cluster_1, check.from_cluster_2\n  batch 1: asm_service_mesh.mesh[\"cluster-2\"], kubernetes_manifest.x[\"cluster-2\"]\n  batch 2: asm_service_mesh.mesh[\"cluster-1\"]\n"
        );
    }

    #[test]
    fn json_and_markdown_carry_the_same_rollout() {
        let p = plan();
        let j = json(&p.rollouts[0]);
        assert_eq!(j["batches"][0]["keys"][0], "cluster-2");
        assert_eq!(j["batches"][1]["instances"][0], "asm_service_mesh.mesh[\"cluster-1\"]");
        assert_eq!(j["checks"][1], "check.from_cluster_2");
        let m = markdown(&p, str::to_owned);
        assert!(m.contains("2 batches (cluster-2, then cluster-1)"), "{m}");
        assert!(m.contains("2. `asm_service_mesh.mesh[\"cluster-1\"]`"), "{m}");
    }
}
