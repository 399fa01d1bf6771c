//! Machine-readable renderings: JSON-lines events for `plan --json`, in Terraform's event vocabulary.
//! Values go through `Value`'s redacting serialisation, so secrets print as "(sensitive value)".

use meshform_core::Value;
use meshform_engine::plan::{Plan, ResourceChange};

/// The first line of every JSON stream.
pub fn version_line() -> serde_json::Value {
    serde_json::json!({"type": "version", "meshform": env!("CARGO_PKG_VERSION"), "ui": "1.0"})
}

fn resource_json(c: &ResourceChange) -> serde_json::Value {
    serde_json::json!({
        "addr": c.addr.to_string(),
        "resource_type": c.addr.resource.ty,
        "resource_name": c.addr.resource.name,
        "resource_key": c.addr.key,
        "provider": c.provider,
    })
}

/// The after-value's unknown paths as Terraform's `after_unknown` (true at each unknown leaf).
pub fn unknown_mask(v: &Value) -> serde_json::Value {
    match v {
        Value::Unknown => serde_json::Value::Bool(true),
        Value::Map(m) => {
            let o: serde_json::Map<String, serde_json::Value> = m
                .iter()
                .filter(|(_, x)| x.contains_unknown())
                .map(|(k, x)| (k.clone(), unknown_mask(x)))
                .collect();
            serde_json::Value::Object(o)
        }
        Value::List(items) => serde_json::Value::Array(items.iter().map(unknown_mask).collect()),
        Value::Sensitive(inner) => unknown_mask(inner),
        _ => serde_json::Value::Bool(false),
    }
}

/// Every event of a plan, in order: drift, planned changes, outputs, summary.
pub fn plan_events(plan: &Plan) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    for d in &plan.drift {
        out.push(serde_json::json!({
            "type": "resource_drift",
            "change": {
                "resource": {"addr": d.addr.to_string(), "resource_type": d.addr.resource.ty, "resource_name": d.addr.resource.name, "provider": d.provider},
                "action": if d.after.is_some() { "update" } else { "delete" },
                "before": d.before,
                "after": d.after,
            }
        }));
    }
    for f in &plan.failures {
        out.push(serde_json::json!({"type": "refresh_errored", "address": f.address, "provider": f.provider, "message": f.message}));
    }
    for c in plan.actionable() {
        out.push(serde_json::json!({
            "type": "planned_change",
            "change": {
                "resource": resource_json(c),
                "action": c.action,
                "actions": c.action.json_actions(),
                "reason": c.reason,
                "before": c.before,
                "after": c.after,
                "after_unknown": c.after.as_ref().map(unknown_mask),
                "replace_paths": c.replace_paths,
            }
        }));
    }
    for o in &plan.outputs {
        out.push(serde_json::json!({
            "type": "output_change",
            "name": o.name,
            "action": o.action(),
            "sensitive": o.sensitive,
            "before": o.before,
            "after": o.after,
        }));
    }
    let (add, change, remove) = plan.summary();
    out.push(serde_json::json!({
        "type": "change_summary",
        "changes": {"add": add, "change": change, "remove": remove, "operation": plan.mode},
        "complete": plan.complete(),
        "has_changes": plan.has_changes(),
    }));
    out
}
