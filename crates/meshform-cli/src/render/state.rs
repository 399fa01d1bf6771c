//! The state as text (`show`, `state show`) and as redacted JSON (`show --json`).

use std::fmt::Write as _;

use meshform_core::value::map_key;
use meshform_core::Mode;
use meshform_state::State;

use super::text::inline;

/// `meshform show`: every instance's attributes, secrets redacted.
pub fn render_state(state: &State) -> String {
    if state.resources.is_empty() && state.outputs.is_empty() {
        return "The state is empty. No resources are managed.\n".into();
    }
    let mut out = String::new();
    for (addr, r, inst) in state.instances() {
        let _ = writeln!(
            out,
            "# {addr}:{}",
            if inst.status == meshform_state::InstanceStatus::Tainted { " (tainted)" } else { "" }
        );
        let kw = if r.mode == Mode::Data { "data" } else { "resource" };
        let _ = writeln!(out, "{kw} \"{}\" \"{}\" {{", r.ty, r.name);
        render_attrs(&inst.value(), &mut out);
        out.push_str("}\n\n");
    }
    if !state.outputs.is_empty() {
        out.push_str("Outputs:\n\n");
        for (name, o) in &state.outputs {
            let v = meshform_core::Value::from_json(&o.value).with_mark(o.sensitive);
            let _ = writeln!(out, "{name} = {}", inline(&v));
        }
    }
    out
}

/// One instance's attributes, aligned, null ones left out.
pub fn render_attrs(v: &meshform_core::Value, out: &mut String) {
    let Some(m) = v.as_map() else { return };
    let width =
        m.iter().filter(|(_, x)| !x.is_null()).map(|(k, _)| map_key(k).len()).max().unwrap_or(0);
    for (k, x) in m {
        if x.is_null() {
            continue;
        }
        let _ = writeln!(out, "    {:width$} = {}", map_key(k), inline(x));
    }
}

/// `show --json`: the state document with sensitive values redacted.
pub fn state_json(state: &State) -> serde_json::Value {
    let resources: Vec<serde_json::Value> = state
        .instances()
        .map(|(addr, r, inst)| {
            serde_json::json!({
                "address": addr.to_string(),
                "mode": r.mode,
                "type": r.ty,
                "name": r.name,
                "index": addr.key,
                "provider_name": r.provider,
                "tainted": inst.status == meshform_state::InstanceStatus::Tainted,
                "values": inst.value(),
                "sensitive_values": inst.sensitive_attributes,
                "depends_on": inst.dependencies,
            })
        })
        .collect();
    let outputs: serde_json::Map<String, serde_json::Value> = state
        .outputs
        .iter()
        .map(|(k, o)| {
            let v = meshform_core::Value::from_json(&o.value).with_mark(o.sensitive);
            (k.clone(), serde_json::json!({"sensitive": o.sensitive, "value": v}))
        })
        .collect();
    serde_json::json!({
        "format_version": "1.0",
        "meshform_version": state.meshform_version,
        "serial": state.serial,
        "lineage": state.lineage,
        "values": {"outputs": outputs, "root_module": {"resources": resources}},
    })
}
