//! `meshform verify [--check NAME]… [--json]`: the configuration's checks, with the responses they
//! saw and a count per version (`meshform_engine::verify`, rendered by `render::verify`).

use meshform_engine::verify;

use super::{usage_error, var_inputs, workspace};
use crate::args::VarArgs;
use crate::output::Output;
use crate::render::verify::{json_report, text_report};
use crate::report::{self, exit};
use crate::reporters::TerminalReporter;
use crate::settings::Settings;

pub async fn verify(
    settings: &Settings,
    checks: &[String],
    json: bool,
    allow_unreachable: bool,
    vars: &VarArgs,
) -> u8 {
    let vars = match var_inputs(settings, vars) {
        Ok(v) => v,
        Err(m) => return usage_error(settings, &m, "write --var name=value"),
    };
    let (ws, parsed) = match workspace(settings) {
        Ok(x) => x,
        Err(code) => return code,
    };
    let report = match verify::verify(&ws, parsed, &vars, checks, &TerminalReporter::new()).await {
        Ok(r) => r,
        Err(e) => {
            report::print_plan_error(settings, &e);
            return exit::ERROR;
        }
    };
    report::print_diagnostics(settings, &report.diags);
    if json {
        Output.line(serde_json::to_string_pretty(&json_report(&report)).unwrap_or_default());
    } else {
        Output.print(text_report(&report));
    }
    let passed = if allow_unreachable { report.passed_where_reachable() } else { report.passed() };
    if passed {
        exit::OK
    } else {
        exit::ERROR
    }
}
