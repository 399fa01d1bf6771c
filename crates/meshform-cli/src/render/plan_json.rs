//! `show --json PLANFILE`: a saved plan as one JSON document in the shape of Terraform's plan
//! representation (`format_version`, `resource_changes[].change.{actions, before, after,
//! after_unknown, before_sensitive, after_sensitive, replace_paths}`, `resource_drift`,
//! `output_changes`, `applyable`, `complete`, `errored`), described by `schemas/plan.schema.json`.
//!
//! Unlike Terraform's, it never holds a secret: sensitive values read `"(sensitive value)"`, and
//! `before_sensitive`/`after_sensitive` say where they are.

use meshform_core::{InstanceKey, Mode, Value};
use meshform_engine::plan::{Action, ChangeReason, Drift, OutputChange, Plan, ResourceChange};
use meshform_engine::planfile::PlanFile;

use super::json::{sensitive_mask, unknown_mask};

/// The representation's version (Terraform's current one).
pub const FORMAT_VERSION: &str = "1.2";

/// The whole document.
pub fn plan_document(file: &PlanFile, plan: &Plan) -> serde_json::Value {
    let variables: serde_json::Map<String, serde_json::Value> = file
        .variables
        .iter()
        .map(|(k, v)| {
            let entry = match &v.value {
                Some(value) => serde_json::json!({"value": value}),
                None => serde_json::json!({"value": meshform_core::REDACTED, "sensitive": true}),
            };
            (k.clone(), entry)
        })
        .collect();
    let outputs: serde_json::Map<String, serde_json::Value> =
        plan.outputs.iter().map(|o| (o.name.clone(), output_change(o))).collect();
    let mut doc = serde_json::json!({
        "format_version": FORMAT_VERSION,
        // First, so that a reader sees at once whether the plan is whole (`apply --allow-incomplete`
        // applies only what was planned).
        "complete": plan.complete(),
        "applyable": plan.complete() && plan.has_changes(),
        "meshform_version": file.meshform_version,
        "plan_format_version": file.format_version,
        "workspace": file.workspace,
        "mode": plan.mode,
        "options": {
            "refresh": file.options.refresh,
            "targets": file.options.targets,
            "excludes": file.options.excludes,
            "replace": file.options.replace,
        },
        "variables": variables,
        "prior_state": {"lineage": plan.lineage, "serial": plan.serial},
        "configuration": {"digest": file.config.digest, "files": file.config.files.keys().collect::<Vec<_>>()},
        "resource_drift": plan.drift.iter().map(drift).collect::<Vec<_>>(),
        "resource_changes": plan
            .changes
            .iter()
            .map(|c| resource_change(c, plan.moved_from(&c.addr), plan.imported_id(&c.addr)))
            .chain(plan.forgotten.iter().map(forget))
            .collect::<Vec<_>>(),
        "output_changes": outputs,
        "failures": plan.failures.iter().map(|f| serde_json::json!({"address": f.address, "provider": f.provider, "message": f.message})).collect::<Vec<_>>(),
        "skipped": plan.skipped,
        "errored": false,
    });
    // An extension of Terraform's format, present when the plan has staged rollouts: their batches.
    if !plan.rollouts.is_empty() {
        doc["rollouts"] = plan.rollouts.iter().map(super::rollout::json).collect();
    }
    doc
}

fn identity(
    addr: &meshform_core::InstanceAddr,
    provider_key: &str,
) -> serde_json::Map<String, serde_json::Value> {
    let mut m = serde_json::Map::new();
    m.insert("address".into(), addr.to_string().into());
    // As Terraform: the module instance, left out in the root module.
    if !addr.resource.module.is_root() {
        m.insert("module_address".into(), addr.resource.module.to_string().into());
    }
    m.insert(
        "mode".into(),
        if addr.resource.mode == Mode::Data { "data" } else { "managed" }.into(),
    );
    m.insert("type".into(), addr.resource.ty.clone().into());
    m.insert("name".into(), addr.resource.name.clone().into());
    if !matches!(addr.key, InstanceKey::None) {
        m.insert("index".into(), serde_json::to_value(&addr.key).unwrap_or_default());
    }
    m.insert("provider_name".into(), provider_key.split('.').next().unwrap_or(provider_key).into());
    m.insert("provider_config_key".into(), provider_key.into());
    m
}

fn change_json(
    actions: &[&str],
    before: Option<&Value>,
    after: Option<&Value>,
    replace_paths: &[Vec<meshform_core::PathStep>],
) -> serde_json::Value {
    serde_json::json!({
        "actions": actions,
        "before": before,
        "after": after,
        "after_unknown": after.map(unknown_mask).unwrap_or(serde_json::Value::Bool(false)),
        "before_sensitive": before.map(sensitive_mask).unwrap_or(serde_json::Value::Bool(false)),
        "after_sensitive": after.map(sensitive_mask).unwrap_or(serde_json::Value::Bool(false)),
        "replace_paths": replace_paths,
    })
}

fn resource_change(
    c: &ResourceChange,
    moved_from: Option<&meshform_core::InstanceAddr>,
    imported: Option<&str>,
) -> serde_json::Value {
    let mut m = identity(&c.addr, &c.provider);
    if let Some(from) = moved_from {
        m.insert("previous_address".into(), from.to_string().into());
    }
    if c.deposed {
        m.insert("deposed".into(), "deposed".into());
    }
    let (before, after) = match c.action {
        Action::Create | Action::Read => (None, c.after.as_ref()),
        Action::Delete => (c.before.as_ref(), None),
        _ => (c.before.as_ref(), c.after.as_ref()),
    };
    let mut change = change_json(c.action.json_actions(), before, after, &c.replace_paths);
    if let Some(id) = imported {
        change["importing"] = serde_json::json!({ "id": id });
    }
    m.insert("change".into(), change);
    if let Some(reason) = &c.reason {
        m.insert("action_reason".into(), action_reason(reason).into());
    }
    serde_json::Value::Object(m)
}

/// An object a `removed` block forgets: Terraform's `["forget"]`.
fn forget(f: &meshform_engine::plan::Forget) -> serde_json::Value {
    let mut m = identity(&f.addr, &f.provider);
    m.insert("change".into(), change_json(&["forget"], Some(&f.before), None, &[]));
    serde_json::Value::Object(m)
}

/// Terraform's `action_reason` vocabulary (meshform's own words where Terraform has none).
fn action_reason(r: &ChangeReason) -> &'static str {
    match r {
        ChangeReason::Tainted => "replace_because_tainted",
        ChangeReason::ReplaceRequested => "replace_by_request",
        ChangeReason::CannotUpdate => "replace_because_cannot_update",
        ChangeReason::NotInConfig => "delete_because_no_resource_config",
        ChangeReason::CountIndexGone => "delete_because_count_index",
        ChangeReason::EachKeyGone => "delete_because_each_key",
        ChangeReason::DestroyMode => "delete_because_destroy",
        ChangeReason::ReadAfterApply => "read_because_config_unknown",
        ChangeReason::Provider(_) => "replace_by_provider",
        ChangeReason::Deposed => "delete_because_deposed",
    }
}

fn drift(d: &Drift) -> serde_json::Value {
    let mut m = identity(&d.addr, &d.provider);
    let actions: &[&str] = if d.after.is_some() { &["update"] } else { &["delete"] };
    m.insert("change".into(), change_json(actions, Some(&d.before), d.after.as_ref(), &[]));
    serde_json::Value::Object(m)
}

fn output_change(o: &OutputChange) -> serde_json::Value {
    let hide = |v: &Option<Value>| v.clone().map(|v| v.with_mark(o.sensitive));
    let (before, after) = (hide(&o.before), hide(&o.after));
    let mut c = change_json(o.action().json_actions(), before.as_ref(), after.as_ref(), &[]);
    if let serde_json::Value::Object(m) = &mut c {
        m.remove("replace_paths");
    }
    c
}
