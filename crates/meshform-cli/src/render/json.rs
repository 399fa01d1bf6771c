//! Machine-readable output of `plan --json` and `apply --json`: JSON lines in Terraform's event
//! vocabulary (`version`, `diagnostic`, `resource_drift`, `planned_change`, `change_summary`,
//! `apply_start`, …), each with `@level` and a human `@message`, described by
//! `schemas/events.schema.json`. There is no `@timestamp`, so that the same plan gives the same lines.
//! Values go through `Value`'s redacting serialisation, so secrets print as "(sensitive value)".

use meshform_core::Value;
use meshform_engine::apply::ApplyOutcome;
use meshform_engine::plan::{Action, Plan, PlanMode, ResourceChange};

/// The version of the event format (`ui` in the version line).
pub const UI_VERSION: &str = "1.1";

/// One event: `type`, `@level`, `@message`, then the event's own fields.
pub fn event(
    ty: &str,
    level: &str,
    message: impl Into<String>,
    fields: serde_json::Value,
) -> serde_json::Value {
    let mut out = serde_json::Map::new();
    out.insert("@level".into(), level.into());
    out.insert("@message".into(), message.into().into());
    out.insert("type".into(), ty.into());
    if let serde_json::Value::Object(m) = fields {
        out.extend(m);
    }
    serde_json::Value::Object(out)
}

/// The first line of every JSON stream.
pub fn version_line() -> serde_json::Value {
    let v = env!("CARGO_PKG_VERSION");
    event(
        "version",
        "info",
        format!("meshform {v}"),
        serde_json::json!({"meshform": v, "ui": UI_VERSION}),
    )
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
    mask(v, &|x| matches!(x, Value::Unknown), false)
}

/// The value's sensitive paths as Terraform's `before_sensitive`/`after_sensitive`.
pub fn sensitive_mask(v: &Value) -> serde_json::Value {
    mask(v, &|x| matches!(x, Value::Sensitive(_)), true)
}

/// A mask of `v`: `true` where `hit` holds, objects and arrays mirrored where something inside does,
/// `false` elsewhere. `stop_at_hit` keeps a hit from being looked into (a sensitive object is one
/// secret).
fn mask(v: &Value, hit: &dyn Fn(&Value) -> bool, stop_at_hit: bool) -> serde_json::Value {
    if hit(v) {
        return serde_json::Value::Bool(true);
    }
    let inner = if stop_at_hit { v } else { v.unmarked() };
    match inner {
        Value::Map(m) => serde_json::Value::Object(
            m.iter()
                .filter(|(_, x)| contains(x, hit))
                .map(|(k, x)| (k.clone(), mask(x, hit, stop_at_hit)))
                .collect(),
        ),
        Value::List(items) => {
            serde_json::Value::Array(items.iter().map(|x| mask(x, hit, stop_at_hit)).collect())
        }
        Value::Sensitive(x) if !stop_at_hit => mask(x, hit, stop_at_hit),
        _ => serde_json::Value::Bool(false),
    }
}

fn contains(v: &Value, hit: &dyn Fn(&Value) -> bool) -> bool {
    hit(v)
        || match v {
            Value::Map(m) => m.values().any(|x| contains(x, hit)),
            Value::List(items) => items.iter().any(|x| contains(x, hit)),
            Value::Sensitive(x) => contains(x, hit),
            _ => false,
        }
}

fn verb(action: Action) -> &'static str {
    match action {
        Action::Create => "Plan to create",
        Action::Update => "Plan to update",
        Action::Delete => "Plan to delete",
        Action::DeleteThenCreate | Action::CreateThenDelete => "Plan to replace",
        Action::Read => "Plan to read",
        Action::NoOp => "No changes",
    }
}

/// The operation a plan's summary names (Terraform's `plan`/`destroy`, and `refresh`).
fn operation(plan: &Plan) -> &'static str {
    match plan.mode {
        PlanMode::Normal => "plan",
        PlanMode::Destroy => "destroy",
        PlanMode::RefreshOnly => "refresh",
    }
}

/// Every event of a plan, in order: drift, failures, what was held back, planned changes, outputs,
/// summary.
pub fn plan_events(plan: &Plan) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    for d in &plan.drift {
        let (action, what) =
            if d.after.is_some() { ("update", "changed") } else { ("delete", "deleted") };
        out.push(event(
            "resource_drift",
            "info",
            format!("{}: Drift detected ({what} outside meshform)", d.addr),
            serde_json::json!({
                "change": {
                    "resource": {"addr": d.addr.to_string(), "resource_type": d.addr.resource.ty, "resource_name": d.addr.resource.name, "resource_key": d.addr.key, "provider": d.provider},
                    "action": action,
                    "before": d.before,
                    "after": d.after,
                }
            }),
        ));
    }
    for f in &plan.failures {
        out.push(event(
            "refresh_errored",
            "error",
            format!("{}: {}", f.address, f.message),
            serde_json::json!({"address": f.address, "provider": f.provider, "message": f.message}),
        ));
    }
    // What was not planned because it reads, or waits for, something above (`ADDRESS (cause)`).
    for s in &plan.skipped {
        let (address, cause) = match s.split_once(" (") {
            Some((a, c)) => (a, c.strip_suffix(')').unwrap_or(c)),
            None => (s.as_str(), ""),
        };
        out.push(event(
            "held_back",
            "warn",
            s.clone(),
            serde_json::json!({"address": address, "cause": cause}),
        ));
    }
    for c in plan.actionable() {
        out.push(event(
            "planned_change",
            "info",
            format!("{}: {}", c.addr, verb(c.action)),
            serde_json::json!({
                "change": {
                    "resource": resource_json(c),
                    "action": c.action,
                    "actions": c.action.json_actions(),
                    "reason": c.reason,
                    "before": c.before,
                    "after": c.after,
                    "after_unknown": c.after.as_ref().map(unknown_mask),
                    "before_sensitive": c.before.as_ref().map(sensitive_mask),
                    "after_sensitive": c.after.as_ref().map(sensitive_mask),
                    "replace_paths": c.replace_paths,
                }
            }),
        ));
    }
    for o in plan.outputs.iter().filter(|o| o.action() != Action::NoOp) {
        out.push(event(
            "output_change",
            "info",
            format!("Outputs: {} ({})", o.name, o.action().json_actions().join(", ")),
            serde_json::json!({
                "name": o.name,
                "action": o.action(),
                "sensitive": o.sensitive,
                "before": o.before,
                "after": o.after,
            }),
        ));
    }
    for r in &plan.rollouts {
        out.push(event(
            "planned_rollout",
            "info",
            format!("Rollout: {}", r.summary()),
            super::rollout::json(r),
        ));
    }
    let (add, change, remove) = plan.summary();
    let message = if plan.mode == PlanMode::RefreshOnly {
        format!("Refresh: {} changed outside meshform.", plan.drift.len())
    } else {
        format!("Plan: {}.", super::text::plan_counts(plan))
    };
    out.push(event(
        "change_summary",
        "info",
        message,
        serde_json::json!({
            "changes": {"add": add, "change": change, "import": plan.imports.len(), "remove": remove, "operation": operation(plan)},
            "mode": plan.mode,
            "drifted": plan.drift.len(),
            "complete": plan.complete(),
            "has_changes": plan.has_changes(),
        }),
    ));
    out
}

/// The last line of `apply --json`.
/// What an apply of an incomplete plan left out.
pub fn left_out_event(left_out: &[String]) -> serde_json::Value {
    event(
        "left_out",
        "warn",
        format!("{} left out of this run: it could not be planned", left_out.len()),
        serde_json::json!({ "left_out": left_out }),
    )
}

pub fn apply_summary(outcome: &ApplyOutcome, op: &str, failed: bool) -> serde_json::Value {
    let message = if failed {
        format!("Apply failed! Resources: {}.", super::text::resource_counts(outcome))
    } else if op == "destroy" {
        format!("Destroy complete! Resources: {} destroyed.", outcome.destroyed)
    } else {
        format!("Apply complete! Resources: {}.", super::text::resource_counts(outcome))
    };
    event(
        "change_summary",
        if failed { "error" } else { "info" },
        message,
        serde_json::json!({
            "changes": {"add": outcome.added, "change": outcome.changed, "import": outcome.imported, "remove": outcome.destroyed, "operation": op},
            "skipped": outcome.skipped,
            "interrupted": outcome.interrupted,
            "errored": failed,
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_mirror_the_value() {
        let v = Value::map([
            ("a", Value::string("x")),
            ("id", Value::Unknown),
            ("key", Value::string("k").sensitive()),
            ("l", Value::List(vec![Value::number(1), Value::Unknown])),
        ]);
        assert_eq!(unknown_mask(&v), serde_json::json!({"id": true, "l": [false, true]}));
        assert_eq!(sensitive_mask(&v), serde_json::json!({"key": true}));
        assert_eq!(sensitive_mask(&Value::string("x")), serde_json::json!(false));
    }

    #[test]
    fn events_start_with_level_and_message() {
        let e = version_line();
        assert_eq!(e["type"], "version");
        assert_eq!(e["@level"], "info");
        assert!(e["@message"].as_str().unwrap().starts_with("meshform "));
    }
}
