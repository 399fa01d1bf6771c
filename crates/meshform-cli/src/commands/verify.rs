//! `meshform verify [--check NAME]… [--json]`: the configuration's checks, with the responses they
//! saw and a count per version.

use std::collections::BTreeMap;

use meshform_core::Value;
use meshform_engine::verify::{self, VerifyReport};

use super::{usage_error, var_inputs, workspace};
use crate::args::VarArgs;
use crate::report::{self, exit};
use crate::reporters::TerminalReporter;
use crate::settings::Settings;

/// What a response is counted as: its `version: X` when it has one, else the whole first line.
fn response_key(out: &str) -> String {
    let line = out.lines().next().unwrap_or("").trim();
    if let Some(rest) = line.split("version: ").nth(1) {
        return rest.split([',', ' ']).next().unwrap_or(rest).to_owned();
    }
    if line.is_empty() {
        "(empty)".to_owned()
    } else {
        line.to_owned()
    }
}

fn outputs(v: &Value) -> Vec<String> {
    v.get("outputs")
        .and_then(Value::as_list)
        .unwrap_or(&[])
        .iter()
        .map(|o| {
            if o.is_sensitive() {
                meshform_core::REDACTED.to_owned()
            } else {
                o.as_str().unwrap_or("").to_owned()
            }
        })
        .collect()
}

fn counts(outs: &[String]) -> BTreeMap<String, usize> {
    let mut c = BTreeMap::new();
    for o in outs {
        *c.entry(response_key(o)).or_insert(0) += 1;
    }
    c
}

#[allow(clippy::print_stdout)]
pub async fn verify(settings: &Settings, checks: &[String], json: bool, vars: &VarArgs) -> u8 {
    let vars = match var_inputs(settings, vars) {
        Ok(v) => v,
        Err(m) => return usage_error(settings, &m, "write --var name=value"),
    };
    let ws = match workspace(settings) {
        Ok(ws) => ws,
        Err(code) => return code,
    };
    let report = match verify::verify(&ws, &vars, checks, &TerminalReporter::new()).await {
        Ok(r) => r,
        Err(e) => {
            report::print_plan_error(settings, &e);
            return exit::ERROR;
        }
    };
    report::print_diagnostics(settings, &report.diags);
    if json {
        println!("{}", serde_json::to_string_pretty(&json_report(&report)).unwrap_or_default());
    } else {
        print!("{}", text_report(&report));
    }
    if report.passed() {
        exit::OK
    } else {
        exit::ERROR
    }
}

fn json_report(r: &VerifyReport) -> serde_json::Value {
    serde_json::json!({
        "passed": r.passed(),
        "checks": r.checks.iter().map(|c| serde_json::json!({
            "name": c.name,
            "passed": c.passed,
            "skipped": c.skipped,
            "failures": c.failures,
            "data": c.data.iter().map(|(addr, v)| {
                let outs = outputs(v);
                serde_json::json!({
                    "address": addr.to_string(),
                    "pod": v.get("pod_name"),
                    "responses": outs,
                    "counts": counts(&outs),
                })
            }).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
}

/// The responses the way the runbook shows them, a count per version, then pass or fail.
pub fn text_report(r: &VerifyReport) -> String {
    let mut out = String::new();
    for c in &r.checks {
        out.push_str(&format!("check \"{}\"\n", c.name));
        if c.skipped {
            out.push_str("  SKIPPED (enabled is false)\n\n");
            continue;
        }
        for (addr, v) in &c.data {
            let outs = outputs(v);
            if outs.is_empty() {
                continue;
            }
            let pod = v.get("pod_name").and_then(Value::as_str).unwrap_or("?");
            out.push_str(&format!("  {addr} (in pod {pod}):\n"));
            for o in &outs {
                out.push_str(&format!("    {}\n", o.trim_end()));
            }
            let summary: Vec<String> =
                counts(&outs).iter().map(|(k, n)| format!("{k}: {n}")).collect();
            out.push_str(&format!("  responses by version: {}\n", summary.join(", ")));
        }
        if c.passed {
            out.push_str("  PASS\n\n");
        } else {
            out.push_str("  FAIL\n");
            for f in &c.failures {
                out.push_str(&format!("    - {f}\n"));
            }
            out.push('\n');
        }
    }
    let failed = r.checks.iter().filter(|c| !c.passed).count();
    let ran = r.checks.iter().filter(|c| !c.skipped).count();
    let skipped = r.checks.len() - ran;
    if r.checks.is_empty() {
        out.push_str("No checks to run: the configuration has no check blocks.\n");
    } else if failed == 0 {
        out.push_str(&format!("Verification passed: {ran} of {ran} checks ({skipped} skipped).\n"));
    } else {
        out.push_str(&format!(
            "Verification failed: {failed} of {ran} checks failed ({skipped} skipped).\n"
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses_count_by_version() {
        let outs = vec![
            "Hello version: v1, instance: a\n".to_owned(),
            "Hello version: v2, instance: b\n".to_owned(),
            "Hello version: v1, instance: c".to_owned(),
            "no healthy upstream".to_owned(),
        ];
        let c = counts(&outs);
        assert_eq!(c["v1"], 2);
        assert_eq!(c["v2"], 1);
        assert_eq!(c["no healthy upstream"], 1);
    }
}
