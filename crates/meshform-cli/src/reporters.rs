//! The terminal `Reporter`: progress lines on stderr, or JSON lines on stdout with `--json`.

use std::io::Write;
use std::sync::Mutex;
use std::time::Duration;

use meshform_core::{Diagnostic, InstanceAddr};
use meshform_engine::reporter::BatchRef;
use meshform_engine::verify::CheckResult;
use meshform_engine::{Action, Reporter};

use crate::render::json::event;

/// Progress lines on stderr, in the style Terraform users know.
pub struct TerminalReporter {
    lock: Mutex<()>,
}

impl TerminalReporter {
    pub fn new() -> TerminalReporter {
        TerminalReporter { lock: Mutex::new(()) }
    }

    fn line(&self, s: &str) {
        let _g = meshform_core::sync::lock(&self.lock);
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "{s}");
    }
}

impl Default for TerminalReporter {
    fn default() -> Self {
        TerminalReporter::new()
    }
}

fn secs(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 60 {
        format!("{}m{}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

fn done_word(action: Action) -> &'static str {
    match action {
        Action::Delete => "Destruction complete",
        Action::Update => "Modifications complete",
        Action::Read => "Read complete",
        _ => "Creation complete",
    }
}

impl Reporter for TerminalReporter {
    fn refreshing(&self, addr: &InstanceAddr, id: Option<&str>) {
        match id {
            Some(id) => self.line(&format!("{addr}: Refreshing state... [id={id}]")),
            None => self.line(&format!("{addr}: Refreshing state...")),
        }
    }

    fn apply_start(&self, addr: &InstanceAddr, action: Action) {
        self.line(&format!("{addr}: {}...", action.verb()));
    }

    fn apply_progress(
        &self,
        addr: &InstanceAddr,
        action: Action,
        elapsed: Duration,
        status: Option<&str>,
    ) {
        let verb = action.verb().to_lowercase();
        match status {
            Some(s) => {
                self.line(&format!("{addr}: Still {verb}... [{} elapsed; {s}]", secs(elapsed)))
            }
            None => self.line(&format!("{addr}: Still {verb}... [{} elapsed]", secs(elapsed))),
        }
    }

    fn apply_complete(
        &self,
        addr: &InstanceAddr,
        action: Action,
        elapsed: Duration,
        id: Option<&str>,
    ) {
        let after = format!("after {}", secs(elapsed));
        match id {
            Some(id) if action != Action::Delete => {
                self.line(&format!("{addr}: {} {after} [id={id}]", done_word(action)))
            }
            _ => self.line(&format!("{addr}: {} {after}", done_word(action))),
        }
    }

    fn apply_errored(&self, addr: &InstanceAddr, action: Action, elapsed: Duration) {
        self.line(&format!("{addr}: {} failed after {}", action.verb(), secs(elapsed)));
    }

    fn rollout_batch_start(&self, b: BatchRef<'_>) {
        self.line(&format!("{}: starting...", batch_name(b)));
    }

    fn rollout_checks_start(&self, b: BatchRef<'_>, checks: &[String]) {
        if checks.is_empty() {
            self.line(&format!("{}: applied (no checks)", batch_name(b)));
        } else {
            let names: Vec<String> = checks.iter().map(|c| format!("check.{c}")).collect();
            self.line(&format!("{}: applied; running {}...", batch_name(b), names.join(", ")));
        }
    }

    fn rollout_checks_done(&self, b: BatchRef<'_>, results: &[CheckResult], passed: bool) {
        for r in results {
            self.line(&format!("{}: {}", batch_name(b), check_line(r)));
        }
        if !passed {
            self.line(&format!("{}: checks failed; the rollout stops here", batch_name(b)));
        }
    }
}

/// `Rollout of asm_service_mesh.mesh, batch 1 of 2 (cluster-2)`.
fn batch_name(b: BatchRef<'_>) -> String {
    format!("Rollout of {}, batch {} of {} ({})", b.resource, b.batch, b.total, b.label)
}

/// `check.x passed`, `check.x skipped (not enabled)`, `check.x FAILED: why; why`.
fn check_line(r: &CheckResult) -> String {
    if r.skipped {
        format!("check.{} skipped (not enabled)", r.name)
    } else if r.passed {
        format!("check.{} passed", r.name)
    } else {
        format!("check.{} FAILED: {}", r.name, r.failures.join("; "))
    }
}

/// A batch as JSON.
fn batch_json(b: BatchRef<'_>) -> serde_json::Value {
    serde_json::json!({
        "resource": b.resource.to_string(),
        "batch": b.batch,
        "batches": b.total,
        "keys": b.label,
    })
}

/// JSON lines on stdout (`--json`): one object per event.
#[derive(Default)]
pub struct JsonReporter {
    lock: Mutex<()>,
}

impl JsonReporter {
    pub fn emit(&self, v: serde_json::Value) {
        let _g = meshform_core::sync::lock(&self.lock);
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{v}");
    }
}

impl Reporter for JsonReporter {
    fn refreshing(&self, addr: &InstanceAddr, id: Option<&str>) {
        self.emit(event(
            "refresh_start",
            "info",
            format!("{addr}: Refreshing state..."),
            serde_json::json!({"hook": {"resource": hook_resource(addr), "id_value": id}}),
        ));
    }
    fn apply_start(&self, addr: &InstanceAddr, action: Action) {
        self.emit(event(
            "apply_start",
            "info",
            format!("{addr}: {}...", action.verb()),
            serde_json::json!({"hook": {"resource": hook_resource(addr), "action": action}}),
        ));
    }
    fn apply_progress(
        &self,
        addr: &InstanceAddr,
        action: Action,
        elapsed: Duration,
        status: Option<&str>,
    ) {
        self.emit(event(
            "apply_progress",
            "info",
            format!("{addr}: Still {}... [{} elapsed]", action.verb().to_lowercase(), secs(elapsed)),
            serde_json::json!({"hook": {"resource": hook_resource(addr), "action": action, "elapsed_seconds": elapsed.as_secs(), "status": status}}),
        ));
    }
    fn apply_complete(
        &self,
        addr: &InstanceAddr,
        action: Action,
        elapsed: Duration,
        id: Option<&str>,
    ) {
        self.emit(event(
            "apply_complete",
            "info",
            format!("{addr}: {} after {}", done_word(action), secs(elapsed)),
            serde_json::json!({"hook": {"resource": hook_resource(addr), "action": action, "elapsed_seconds": elapsed.as_secs(), "id_value": id}}),
        ));
    }
    fn apply_errored(&self, addr: &InstanceAddr, action: Action, elapsed: Duration) {
        self.emit(event(
            "apply_errored",
            "error",
            format!("{addr}: {} failed after {}", action.verb(), secs(elapsed)),
            serde_json::json!({"hook": {"resource": hook_resource(addr), "action": action, "elapsed_seconds": elapsed.as_secs()}}),
        ));
    }
    fn rollout_batch_start(&self, b: BatchRef<'_>) {
        self.emit(event(
            "rollout_batch_start",
            "info",
            format!("{}: starting...", batch_name(b)),
            serde_json::json!({"rollout": batch_json(b)}),
        ));
    }
    fn rollout_checks_start(&self, b: BatchRef<'_>, checks: &[String]) {
        self.emit(event(
            "rollout_checks_start",
            "info",
            format!("{}: applied; running its checks...", batch_name(b)),
            serde_json::json!({"rollout": batch_json(b), "checks": checks}),
        ));
    }
    fn rollout_checks_done(&self, b: BatchRef<'_>, results: &[CheckResult], passed: bool) {
        let checks: Vec<serde_json::Value> = results
            .iter()
            .map(|r| serde_json::json!({"name": r.name, "passed": r.passed, "skipped": r.skipped, "failures": r.failures}))
            .collect();
        self.emit(event(
            if passed { "rollout_batch_complete" } else { "rollout_batch_errored" },
            if passed { "info" } else { "error" },
            if passed {
                format!("{}: checks passed", batch_name(b))
            } else {
                format!("{}: checks failed; the rollout stops here", batch_name(b))
            },
            serde_json::json!({"rollout": batch_json(b), "passed": passed, "checks": checks}),
        ));
    }
    fn diagnostic(&self, d: &Diagnostic) {
        let level = if d.is_error() { "error" } else { "warn" };
        self.emit(event(
            "diagnostic",
            level,
            d.to_string(),
            serde_json::json!({"diagnostic": d.to_json()}),
        ));
    }
}

/// The resource part of a hook event, as Terraform names it.
fn hook_resource(addr: &InstanceAddr) -> serde_json::Value {
    serde_json::json!({
        "addr": addr.to_string(),
        "resource_type": addr.resource.ty,
        "resource_name": addr.resource.name,
        "resource_key": addr.key,
    })
}
