//! `meshform verify` results: the responses each check saw with a count per version, then pass or
//! fail — as text the way the runbook shows them, or as one JSON document.

use meshform_core::Value;
use meshform_engine::verify::VerifyReport;

/// The JSON document of `verify --json`.
pub fn json_report(r: &VerifyReport) -> serde_json::Value {
    serde_json::json!({
        "passed": r.passed(),
        "checks": r.checks.iter().map(|c| serde_json::json!({
            "name": c.name,
            "passed": c.passed,
            "skipped": c.skipped,
            "unreachable": c.unreachable,
            "failures": c.failures,
            "data": c.responses().iter().map(|d| serde_json::json!({
                "address": d.address.to_string(),
                "pod": d.pod,
                "responses": d.responses,
                "counts": d.counts,
            })).collect::<Vec<_>>(),
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
        for d in c.responses() {
            if d.responses.is_empty() {
                continue;
            }
            let pod = d.pod.as_ref().and_then(Value::as_str).unwrap_or("?");
            out.push_str(&format!("  {} (in pod {pod}):\n", d.address));
            for o in &d.responses {
                out.push_str(&format!("    {}\n", o.trim_end()));
            }
            let summary: Vec<String> = d.counts.iter().map(|(k, n)| format!("{k}: {n}")).collect();
            out.push_str(&format!("  responses by version: {}\n", summary.join(", ")));
        }
        if c.passed {
            out.push_str("  PASS\n\n");
        } else {
            out.push_str(if c.unreachable { "  UNREACHABLE\n" } else { "  FAIL\n" });
            for f in &c.failures {
                out.push_str(&format!("    - {f}\n"));
            }
            out.push('\n');
        }
    }
    let failed = r.checks.iter().filter(|c| !c.passed && !c.unreachable).count();
    let unreachable = r.checks.iter().filter(|c| c.unreachable).count();
    let ran = r.checks.iter().filter(|c| !c.skipped).count();
    let skipped = r.checks.len() - ran;
    if r.checks.is_empty() {
        out.push_str("No checks to run: the configuration has no check blocks.\n");
    } else if unreachable > 0 {
        let verdict = if failed == 0 { "passed where reachable" } else { "failed" };
        out.push_str(&format!(
            "Verification {verdict}: {failed} of {ran} checks failed, {unreachable} could not reach what they check ({skipped} skipped).\n"
        ));
    } else if failed == 0 {
        out.push_str(&format!("Verification passed: {ran} of {ran} checks ({skipped} skipped).\n"));
    } else {
        out.push_str(&format!(
            "Verification failed: {failed} of {ran} checks failed ({skipped} skipped).\n"
        ));
    }
    out
}
