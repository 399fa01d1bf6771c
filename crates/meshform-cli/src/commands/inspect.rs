//! `validate`, `show`, `output` and `graph`: commands that read without changing anything.

use meshform_core::Value;
use meshform_engine::backend::configured;
use meshform_engine::ops;

use super::{config_workspace, workspace};
use crate::args::GraphFormat;
use crate::output::Output;
use crate::render::state::{render_state, state_json};
use crate::render::text::inline;
use crate::report::{self, exit};
use crate::settings::Settings;

/// `meshform validate [--json]`.
pub fn validate(settings: &Settings, json: bool) -> u8 {
    let ws = config_workspace(settings);
    let parsed = ops::parse(&settings.dir);
    let backend = configured(&parsed.config, &settings.backend_context());
    let mut diags = ops::validate_parsed(&ws, parsed);
    if let Err(d) = backend {
        diags.extend(d);
        diags.sort();
    }
    let valid = !diags.has_errors();
    if json {
        let doc = serde_json::json!({
            "format_version": "1.0",
            "valid": valid,
            "error_count": diags.error_count(),
            "warning_count": diags.warning_count(),
            "diagnostics": diags.iter().map(|d| d.to_json()).collect::<Vec<_>>(),
        });
        Output.line(serde_json::to_string_pretty(&doc).unwrap_or_default());
    } else {
        report::print_diagnostics(settings, &diags);
        if valid {
            Output.line("Success! The configuration is valid.");
        }
    }
    if valid {
        exit::OK
    } else {
        exit::ERROR
    }
}

fn read_state(settings: &Settings) -> Result<meshform_state::State, u8> {
    let (ws, _) = workspace(settings)?;
    ops::read_state(&ws).map_err(|e| {
        report::print_diagnostics(settings, &report::state_diagnostic(&e).into());
        exit::ERROR
    })
}

/// `meshform show [--json]`: the state, secrets redacted.
pub fn show(settings: &Settings, json: bool) -> u8 {
    let state = match read_state(settings) {
        Ok(s) => s,
        Err(c) => return c,
    };
    if json {
        Output.line(serde_json::to_string_pretty(&state_json(&state)).unwrap_or_default());
    } else {
        Output.print(render_state(&state));
    }
    exit::OK
}

/// `meshform output [NAME] [--json | --raw]`.
pub fn output(settings: &Settings, name: Option<&str>, json: bool, raw: bool) -> u8 {
    let state = match read_state(settings) {
        Ok(s) => s,
        Err(c) => return c,
    };
    let value = |o: &meshform_state::OutputState| Value::from_json(&o.value).with_mark(o.sensitive);
    match name {
        Some(n) => {
            let Some(o) = state.outputs.get(n) else {
                let names: Vec<&str> = state.outputs.keys().map(String::as_str).collect();
                let help = match meshform_config::suggest::did_you_mean(n, names.iter().copied()) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None if names.is_empty() => "the state has no outputs; run apply first".into(),
                    None => format!("outputs: {}", names.join(", ")),
                };
                report::print_error(settings, &format!("no output named \"{n}\""), Some(&help));
                return exit::ERROR;
            };
            if raw {
                // Named explicitly with --raw: the user asked for the value itself.
                match &o.value {
                    serde_json::Value::String(s) => Output.line(s),
                    serde_json::Value::Number(x) => Output.line(x),
                    serde_json::Value::Bool(b) => Output.line(b),
                    _ => {
                        report::print_error(
                            settings,
                            &format!("output \"{n}\" is not a string, number or bool"),
                            Some("use --json for structured values"),
                        );
                        return exit::ERROR;
                    }
                }
            } else if json {
                Output.line(serde_json::to_string(&value(o)).unwrap_or_default());
            } else {
                Output.line(inline(&value(o)));
            }
        }
        None => {
            if json {
                let doc: serde_json::Map<String, serde_json::Value> = state
                    .outputs
                    .iter()
                    .map(|(k, o)| {
                        (
                            k.clone(),
                            serde_json::json!({"sensitive": o.sensitive, "value": value(o)}),
                        )
                    })
                    .collect();
                Output.line(serde_json::to_string_pretty(&doc).unwrap_or_default());
            } else {
                for (k, o) in &state.outputs {
                    Output.line(format_args!("{k} = {}", inline(&value(o))));
                }
            }
        }
    }
    exit::OK
}

/// `meshform graph [--format dot|mermaid]`.
pub fn graph(settings: &Settings, format: GraphFormat) -> u8 {
    let ws = config_workspace(settings);
    let (loaded, diags) = ops::load(&ws);
    report::print_diagnostics(settings, &diags);
    let Some(loaded) = loaded else { return exit::ERROR };
    match format {
        GraphFormat::Dot => Output.print(crate::render::graph::dot(&loaded.graph)),
        GraphFormat::Mermaid => Output.print(crate::render::graph::mermaid(&loaded.graph)),
    }
    exit::OK
}

/// `meshform version [--json]`, in the shape of `terraform version [-json]`.
pub fn version(settings: &Settings, json: bool) -> u8 {
    let platform = format!(
        "{}_{}",
        std::env::consts::OS,
        match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            other => other,
        }
    );
    let version = env!("CARGO_PKG_VERSION");
    let registry = super::registry(settings);
    let providers: Vec<&str> = registry.names().collect();
    if json {
        let doc = serde_json::json!({
            "format_version": "1.0",
            "meshform_version": version,
            "platform": platform,
            "providers": providers,
        });
        Output.line(serde_json::to_string_pretty(&doc).unwrap_or_default());
    } else {
        Output.line(format_args!("meshform v{version}\non {platform}"));
        Output.line(format_args!("providers: {}", providers.join(", ")));
    }
    exit::OK
}
