//! The terminal `Reporter`: progress lines on stderr, or JSON lines on stdout with `--json`.

use std::io::Write;
use std::sync::Mutex;
use std::time::Duration;

use meshform_core::{Diagnostic, InstanceAddr};
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
