//! A configuration directory in a tempdir with the `test` provider and a local state file, planned and
//! applied through `meshform_engine::ops` the way the CLI does it (lock, plan, apply).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use meshform_config::vars::VarInputs;
use meshform_core::{AddrPattern, Diagnostic, Diagnostics, InstanceAddr};
use meshform_engine::apply::{ApplyOptions, ApplyOutcome};
use meshform_engine::ops::{self, PlanError, Planned, Workspace};
use meshform_engine::plan::walk::PlanOptions;
use meshform_engine::plan::{Action, ResourceChange};
use meshform_engine::{Plan, PlanMode, SilentReporter};
use meshform_provider::Registry;
use meshform_state::{LocalStore, State, DEFAULT_STATE_FILE};
use tempfile::TempDir;
use tokio::sync::watch;

use crate::fake::{Cloud, FakeProvider};

pub struct Harness {
    pub dir: TempDir,
    pub cloud: Cloud,
    pub ws: Workspace,
}

/// What one apply run planned and did.
pub struct Applied {
    pub plan: Plan,
    pub outcome: ApplyOutcome,
}

impl Harness {
    /// A workspace whose configuration is `config` (written as `main.hcl`).
    pub fn new(config: &str) -> Harness {
        let dir = scratch_dir();
        let cloud = Cloud::default();
        let mut registry = Registry::new();
        registry.register(Arc::new(FakeProvider { cloud: cloud.clone() }));
        let store = LocalStore::new(dir.path().join(DEFAULT_STATE_FILE));
        let ws = Workspace { dir: dir.path().to_path_buf(), registry, store: Arc::new(store) };
        let h = Harness { dir, cloud, ws };
        h.set_config(config);
        h
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Replaces the configuration.
    pub fn set_config(&self, config: &str) {
        std::fs::write(self.path().join("main.hcl"), config).expect("write main.hcl");
    }

    /// The stored state (a fresh one when there is none).
    pub fn state(&self) -> State {
        self.ws.store.read().expect("read state").unwrap_or_default()
    }

    pub fn write_state(&self, state: &mut State) {
        self.ws.store.write(state).expect("write state");
    }

    /// `meshform plan`: lock, plan.
    pub async fn plan(&self, opts: &PlanOptions) -> Result<Planned, PlanError> {
        let _lock = ops::lock(&self.ws, "plan", "test", Duration::ZERO).await.expect("lock");
        ops::plan(&self.ws, &VarInputs::default(), opts, &SilentReporter).await
    }

    /// A plan that must succeed.
    pub async fn plan_ok(&self, opts: &PlanOptions) -> Plan {
        match self.plan(opts).await {
            Ok(p) => p.plan,
            Err(e) => panic!("plan failed: {}", describe_error(&e)),
        }
    }

    /// A default plan that must succeed.
    pub async fn plan_default(&self) -> Plan {
        self.plan_ok(&PlanOptions::default()).await
    }

    /// The diagnostics of a plan that must fail.
    pub async fn plan_err(&self, opts: &PlanOptions) -> Diagnostics {
        match self.plan(opts).await {
            Ok(p) => panic!("plan succeeded: {:#?}", p.plan.changes),
            Err(PlanError::Diagnostics(d)) => d,
            Err(e) => panic!("plan failed without diagnostics: {e:?}"),
        }
    }

    /// `meshform apply` (or `destroy`): lock, plan, refuse an incomplete plan, apply with `cancel`.
    pub async fn apply_with(
        &self,
        opts: &PlanOptions,
        apply: &ApplyOptions,
        cancel: watch::Receiver<bool>,
    ) -> Applied {
        let _lock = ops::lock(&self.ws, "apply", "test", Duration::ZERO).await.expect("lock");
        let planned = match ops::plan(&self.ws, &VarInputs::default(), opts, &SilentReporter).await
        {
            Ok(p) => p,
            Err(e) => panic!("plan failed: {}", describe_error(&e)),
        };
        let plan = planned.plan.clone();
        assert!(plan.complete(), "incomplete plan: {:?} {:?}", plan.failures, plan.skipped);
        let outcome = ops::apply(&self.ws, planned, apply, &SilentReporter, cancel).await;
        Applied { plan, outcome }
    }

    /// Plans and applies with these options (apply parallelism taken from them).
    pub async fn apply_opts(&self, opts: &PlanOptions) -> Applied {
        let apply = ApplyOptions { parallelism: opts.parallelism, ..ApplyOptions::default() };
        let (_tx, rx) = watch::channel(false);
        self.apply_with(opts, &apply, rx).await
    }

    /// Plans and applies with default options; the run may fail.
    pub async fn apply(&self) -> Applied {
        self.apply_opts(&PlanOptions::default()).await
    }

    /// Plans and applies with default options; the run must succeed.
    pub async fn apply_ok(&self) -> Plan {
        let a = self.apply().await;
        assert_success(&a.outcome);
        a.plan
    }

    /// `meshform destroy`; must succeed.
    pub async fn destroy_ok(&self) -> Plan {
        let a = self
            .apply_opts(&PlanOptions { mode: PlanMode::Destroy, ..PlanOptions::default() })
            .await;
        assert_success(&a.outcome);
        a.plan
    }
}

/// A fresh directory, in memory (`/dev/shm`) where there is one: every state write fsyncs, which on a
/// disk busy with other builds can take long enough to make the property tests slow.
fn scratch_dir() -> TempDir {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        if let Ok(dir) = tempfile::Builder::new().prefix("meshform-engine-it").tempdir_in(shm) {
            return dir;
        }
    }
    tempfile::tempdir().expect("tempdir")
}

pub fn assert_success(o: &ApplyOutcome) {
    assert!(
        !o.diags.has_errors() && o.skipped.is_empty() && !o.interrupted,
        "apply failed: {} skipped {:?} interrupted {}",
        show(&o.diags),
        o.skipped,
        o.interrupted
    );
}

pub fn describe_error(e: &PlanError) -> String {
    match e {
        PlanError::Diagnostics(d) => show(d),
        PlanError::State(e) => e.to_string(),
    }
}

/// Diagnostics as readable lines (for assertion messages).
pub fn show(d: &Diagnostics) -> String {
    d.iter().map(|d| format!("\n  {} [{}] {d}", d.location_or_none(), d.code)).collect()
}

trait Location {
    fn location_or_none(&self) -> String;
}

impl Location for Diagnostic {
    fn location_or_none(&self) -> String {
        self.span.as_ref().map(|s| s.location()).unwrap_or_else(|| "-".into())
    }
}

/// The planned change of an instance (panics when there is none).
pub fn change<'p>(plan: &'p Plan, addr: &str) -> &'p ResourceChange {
    let a: InstanceAddr = addr.parse().expect("address");
    plan.changes
        .iter()
        .find(|c| c.addr == a)
        .unwrap_or_else(|| panic!("no change for {addr} in {:#?}", summary(plan)))
}

/// The planned action of an instance, or `None` when the plan does not mention it.
pub fn action(plan: &Plan, addr: &str) -> Option<Action> {
    let a: InstanceAddr = addr.parse().expect("address");
    plan.changes.iter().find(|c| c.addr == a).map(|c| c.action)
}

/// `(address, action)` of every change, for assertions and messages.
pub fn summary(plan: &Plan) -> Vec<(String, Action)> {
    plan.changes.iter().map(|c| (c.addr.to_string(), c.action)).collect()
}

/// Addresses of the instances in a state.
pub fn state_addrs(state: &State) -> Vec<String> {
    state.instances().map(|(a, _, _)| a.to_string()).collect()
}

pub fn pattern(s: &str) -> AddrPattern {
    s.parse().expect("address pattern")
}

/// An error diagnostic with this code (panics when there is none).
pub fn diag<'d>(d: &'d Diagnostics, code: &str) -> &'d Diagnostic {
    d.iter().find(|x| x.code == code).unwrap_or_else(|| panic!("no {code} in {}", show(d)))
}
