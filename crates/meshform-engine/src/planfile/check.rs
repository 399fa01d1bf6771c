//! Whether a saved plan can still be applied as reviewed, and the plan to apply.
//!
//! The checks, each naming what changed:
//!
//! 1. the workspace and the state lineage are the plan's;
//! 2. the configuration is byte for byte the one planned (each changed, added or removed file named);
//! 3. every variable has the value it had (compared by salted digest; sensitive values never leave
//!    the machine that has them);
//! 4. every instance the plan changes has the prior state it had. Writes to other instances do not
//!    matter (unlike Terraform, which refuses on any serial change);
//! 5. planning again, with the saved options, gives the same actions and planned values (this catches
//!    objects changed outside meshform since the plan, and files read by `file()`).

use std::collections::BTreeMap;

use meshform_config::vars::{resolve_variables, VarInputs};
use meshform_core::Value;

use super::{fingerprint, stored_lineage, variable_digest, PlanFile, PlanFileError, Redactor};
use crate::ops::{self, PlanError, Planned, Workspace};
use crate::plan::{Action, Plan};
use crate::reporter::Reporter;

/// Why a saved plan was not applied.
#[derive(Debug)]
pub enum Refusal {
    /// What changed since the plan was made, one line each.
    Stale(Vec<String>),
    /// The plan file's content cannot be used.
    File(PlanFileError),
    /// Planning again failed.
    Plan(PlanError),
}

impl From<PlanError> for Refusal {
    fn from(e: PlanError) -> Refusal {
        Refusal::Plan(e)
    }
}

/// Checks that `file` can be applied in workspace `workspace` and plans `parsed` (this run's
/// configuration, read once) again; the caller holds the state lock and applies the returned plan.
/// `vars` are the variable inputs of this run (sensitive values must be given again; the saved plan
/// supplies the others).
pub async fn replan(
    ws: &Workspace,
    parsed: ops::Parsed,
    file: &PlanFile,
    workspace: &str,
    vars: &VarInputs,
    parallelism: usize,
    reporter: &dyn Reporter,
) -> Result<Planned, Refusal> {
    let mut inputs = vars.clone();
    inputs.saved = file.saved_values();
    let opts = file.options.to_options(parallelism).map_err(Refusal::File)?;
    let mut stale = Vec::new();
    if file.workspace != workspace {
        stale.push(format!(
            "the plan was made for workspace \"{}\", but this run uses workspace \"{workspace}\"",
            file.workspace
        ));
    }
    let state = ops::read_state(ws).map_err(PlanError::State)?;
    let lineage = stored_lineage(&state);
    let same_lineage = lineage == file.plan.lineage;
    match (lineage.is_empty(), file.plan.lineage.is_empty()) {
        _ if same_lineage => {}
        (false, true) => stale.push(
            "a state was saved by another run since the plan, which was made when there was none"
                .to_owned(),
        ),
        (true, false) => stale.push(format!(
            "the state (lineage {}) the plan was made against no longer exists",
            file.plan.lineage
        )),
        _ => stale.push(format!(
            "the state has lineage {lineage}, but the plan was made against lineage {}: it is \
             another state, not a newer version of the one planned",
            file.plan.lineage
        )),
    }
    let (loaded, diags) = ops::load_parsed(ws, parsed);
    let Some(loaded) = loaded else {
        stale.extend(config_changes(file, None));
        return Err(if stale.is_empty() {
            Refusal::Plan(PlanError::Diagnostics(diags))
        } else {
            Refusal::Stale(stale)
        });
    };
    let config_changed = loaded.config.source_digest() != file.config.digest;
    if config_changed {
        stale.extend(config_changes(file, Some(&loaded.config)));
    } else {
        let (values, vdiags) = resolve_variables(&loaded.config, &inputs);
        if vdiags.has_errors() {
            return Err(Refusal::Plan(PlanError::Diagnostics(vdiags)));
        }
        stale.extend(variable_changes(file, &values));
    }
    if same_lineage {
        for (address, saved) in &file.prior {
            let now = fingerprint(&file.salt, &state, address);
            if &now != saved {
                stale.push(describe_state_change(address, saved, &now));
            }
        }
    }
    if !stale.is_empty() {
        return Err(Refusal::Stale(stale));
    }
    let planned = ops::plan_loaded(ws, loaded, diags, &inputs, &opts, reporter).await?;
    let saved = file.plan.to_plan().map_err(Refusal::File)?;
    let differences = compare(&saved, &planned.plan);
    if !differences.is_empty() {
        let mut lines = vec![
            "planning again gives a different plan (objects changed outside meshform since the \
             plan was made, or files the configuration reads changed):"
                .to_owned(),
        ];
        lines.extend(differences.into_iter().map(|d| format!("  {d}")));
        return Err(Refusal::Stale(lines));
    }
    Ok(planned)
}

fn config_changes(file: &PlanFile, config: Option<&meshform_config::Config>) -> Vec<String> {
    let Some(config) = config else {
        return vec![
            "the configuration changed since the plan was made (and is now invalid)".into()
        ];
    };
    let now: BTreeMap<String, String> = config
        .files
        .iter()
        .map(|f| (f.name.clone(), meshform_core::hex::encode(&super::sha256(&[f.text.as_bytes()]))))
        .collect();
    let mut parts = Vec::new();
    for (name, digest) in &now {
        match file.config.files.get(name) {
            None => parts.push(format!("{name} added")),
            Some(d) if d != digest => parts.push(format!("{name} modified")),
            Some(_) => {}
        }
    }
    for name in file.config.files.keys() {
        if !now.contains_key(name) {
            parts.push(format!("{name} removed"));
        }
    }
    if parts.is_empty() {
        parts.push("file order or names".into());
    }
    vec![format!("the configuration changed since the plan was made: {}", parts.join(", "))]
}

pub(super) fn variable_changes(file: &PlanFile, values: &BTreeMap<String, Value>) -> Vec<String> {
    let mut out = Vec::new();
    for (name, v) in values {
        match file.variables.get(name) {
            None => out.push(format!("variable \"{name}\" is new since the plan")),
            Some(saved) if saved.digest == super::NOT_RECORDED => {}
            Some(saved) if saved.digest != variable_digest(&file.salt, name, v) => {
                let what = if saved.sensitive || v.contains_sensitive() {
                    "(sensitive) has a different value than when the plan was made; give it the same value as for the plan"
                } else {
                    "has a different value than when the plan was made (set by a variables file, MESHFORM_VAR_ or --var)"
                };
                out.push(format!("variable \"{name}\" {what}"));
            }
            Some(_) => {}
        }
    }
    for name in file.variables.keys() {
        if !values.contains_key(name) {
            out.push(format!("variable \"{name}\" no longer exists"));
        }
    }
    out
}

fn describe_state_change(address: &str, saved: &str, now: &str) -> String {
    match (saved == "absent", now == "absent") {
        (true, false) => format!(
            "{address} was created in state by another run since the plan (the plan creates it)"
        ),
        (false, true) => format!("{address} was removed from state by another run since the plan"),
        _ => format!("the state of {address} was changed by another run since the plan"),
    }
}

/// What `apply` would do, as comparable JSON per instance (secrets as tokens numbered within the
/// projection, so two plans compare equal when their secrets are equal in the same places).
fn projection(plan: &Plan) -> BTreeMap<String, serde_json::Value> {
    let mut r = Redactor::default();
    let mut out = BTreeMap::new();
    for c in plan.changes.iter().filter(|c| c.action != Action::NoOp) {
        let key = if c.deposed { format!("{} (deposed)", c.addr) } else { c.addr.to_string() };
        out.insert(
            key,
            serde_json::json!({
                "action": c.action,
                "after": c.after.as_ref().map(|v| r.encode(v)),
                "replace_paths": c.replace_paths,
            }),
        );
    }
    for o in plan.outputs.iter().filter(|o| o.action() != Action::NoOp) {
        out.insert(
            format!("output.{}", o.name),
            serde_json::json!({"action": o.action(), "after": o.after.as_ref().map(|v| r.encode(v))}),
        );
    }
    for a in &plan.adoptions {
        out.insert(format!("{} (adopt)", a.addr), serde_json::json!({"adopt": r.encode(&a.value)}));
    }
    for a in &plan.abandoned {
        out.insert(format!("{a} (abandon)"), serde_json::json!({"abandon": true}));
    }
    for i in &plan.imports {
        out.insert(
            format!("{} (import)", i.addr),
            serde_json::json!({"id": i.id, "value": r.encode(&i.value)}),
        );
    }
    for f in &plan.forgotten {
        out.insert(format!("{} (forget)", f.addr), serde_json::json!({"forget": true}));
    }
    for m in &plan.moves {
        out.insert(format!("{} (moved)", m.to), serde_json::json!({"from": m.from.to_string()}));
    }
    if plan.mode == crate::plan::PlanMode::RefreshOnly {
        for d in &plan.drift {
            out.insert(
                format!("{} (drift)", d.addr),
                serde_json::json!({"after": d.after.as_ref().map(|v| r.encode(v))}),
            );
        }
    }
    out
}

/// The differences between the saved plan and the new one, one line per instance.
pub fn compare(saved: &Plan, fresh: &Plan) -> Vec<String> {
    let (a, b) = (projection(saved), projection(fresh));
    let action = |j: &serde_json::Value| {
        j.get("action").and_then(|x| x.as_str()).unwrap_or("change").to_owned()
    };
    let mut out = Vec::new();
    for (k, was) in &a {
        match b.get(k) {
            None => out.push(format!("{k}: the plan would {}, now nothing is needed", action(was))),
            Some(now) if action(now) != action(was) => out.push(format!(
                "{k}: the plan would {}, now it needs {}",
                action(was),
                action(now)
            )),
            Some(now) if now != was => {
                out.push(format!("{k}: the planned values differ ({})", action(now)))
            }
            Some(_) => {}
        }
    }
    for (k, now) in &b {
        if !a.contains_key(k) {
            out.push(format!("{k}: now needs {}, which the plan does not include", action(now)));
        }
    }
    if saved.rollouts != fresh.rollouts {
        let describe = |p: &Plan| {
            let r: Vec<String> =
                p.rollouts.iter().map(|r| format!("{}: {}", r.resource, r.summary())).collect();
            if r.is_empty() {
                "none".to_owned()
            } else {
                r.join("; ")
            }
        };
        out.push(format!(
            "the rollout differs: the plan has {}, now {}",
            describe(saved),
            describe(fresh)
        ));
    }
    if saved.complete() != fresh.complete() {
        out.push("the plan's completeness differs (a provider failed or recovered)".into());
    }
    out
}
