//! Plans: what would change, why, and what drifted, as computed by [`walk`].

pub mod import;
pub mod moved;
pub mod removed;
pub mod rollout;
mod support;
pub mod walk;

pub use rollout::{Rollout, RolloutBatch};

use meshform_core::{InstanceAddr, PathStep, ResourceAddr, Value};
use serde::{Deserialize, Serialize};

/// What happens to one instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    NoOp,
    Create,
    Read,
    Update,
    /// Destroy, then create the replacement.
    DeleteThenCreate,
    /// Create the replacement, then destroy (`create_before_destroy`).
    CreateThenDelete,
    Delete,
}

impl Action {
    /// The symbol plan output shows.
    pub fn symbol(self) -> &'static str {
        match self {
            Action::NoOp => " ",
            Action::Create => "+",
            Action::Read => "<=",
            Action::Update => "~",
            Action::DeleteThenCreate => "-/+",
            Action::CreateThenDelete => "+/-",
            Action::Delete => "-",
        }
    }

    /// The Terraform JSON `actions` array.
    pub fn json_actions(self) -> &'static [&'static str] {
        match self {
            Action::NoOp => &["no-op"],
            Action::Create => &["create"],
            Action::Read => &["read"],
            Action::Update => &["update"],
            Action::DeleteThenCreate => &["delete", "create"],
            Action::CreateThenDelete => &["create", "delete"],
            Action::Delete => &["delete"],
        }
    }

    pub fn is_replace(self) -> bool {
        matches!(self, Action::DeleteThenCreate | Action::CreateThenDelete)
    }

    pub fn creates(self) -> bool {
        matches!(self, Action::Create) || self.is_replace()
    }

    pub fn deletes(self) -> bool {
        matches!(self, Action::Delete) || self.is_replace()
    }

    /// Progress verb: "Creating", "Modifying", "Destroying", "Reading".
    pub fn verb(self) -> &'static str {
        match self {
            Action::Create | Action::DeleteThenCreate | Action::CreateThenDelete => "Creating",
            Action::Update => "Modifying",
            Action::Delete => "Destroying",
            Action::Read => "Reading",
            Action::NoOp => "Checking",
        }
    }
}

/// Why a change was planned, when it is not obvious from the configuration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeReason {
    /// The object is tainted (a previous create failed part-way).
    Tainted,
    /// `--replace` named it.
    ReplaceRequested,
    /// An attribute that cannot be updated in place changed.
    CannotUpdate,
    /// Its resource block is no longer in the configuration.
    NotInConfig,
    /// Its `count` index is no longer in range.
    CountIndexGone,
    /// Its `for_each` key is no longer present.
    EachKeyGone,
    /// `destroy` (or `plan --destroy`).
    DestroyMode,
    /// A data source whose configuration is only known after apply.
    ReadAfterApply,
    /// The provider asked for a replacement for its own reason (e.g. a certificate about to expire).
    Provider(String),
    /// An object replaced with `create_before_destroy` whose deletion did not complete.
    Deposed,
}

impl ChangeReason {
    /// The explanation plan output appends to the header.
    pub fn describe(&self, addr: &InstanceAddr) -> String {
        match self {
            ChangeReason::Tainted => "is tainted, so must be replaced".into(),
            ChangeReason::ReplaceRequested => "will be replaced, as requested".into(),
            ChangeReason::CannotUpdate => "must be replaced".into(),
            ChangeReason::NotInConfig => {
                format!("will be destroyed (because {} is not in configuration)", addr.resource)
            }
            ChangeReason::CountIndexGone => {
                format!("will be destroyed (because index {} is out of range for count)", addr.key)
            }
            ChangeReason::EachKeyGone => {
                format!("will be destroyed (because key {} is not in for_each map)", addr.key)
            }
            ChangeReason::DestroyMode => "will be destroyed".into(),
            ChangeReason::ReadAfterApply => {
                "will be read during apply (its configuration depends on values not yet known)"
                    .into()
            }
            ChangeReason::Provider(why) => format!("must be replaced ({why})"),
            ChangeReason::Deposed => {
                "(deposed object) will be destroyed: it was replaced by a create-before-destroy run that did not finish deleting it".into()
            }
        }
    }
}

/// One planned change to one instance.
#[derive(Clone, Debug)]
pub struct ResourceChange {
    pub addr: InstanceAddr,
    /// The provider instance's configuration key (`local`, `kubernetes.cluster_1`).
    pub provider: String,
    pub action: Action,
    pub before: Option<Value>,
    pub after: Option<Value>,
    /// Attributes whose change forces the replacement.
    pub replace_paths: Vec<Vec<PathStep>>,
    pub reason: Option<ChangeReason>,
    /// The resources this one depends on (directly or through locals), recorded in state.
    pub dependencies: Vec<ResourceAddr>,
    pub create_before_destroy: bool,
    /// This change deletes a deposed object (state's `deposed` list), not the instance at `addr`.
    pub deposed: bool,
}

/// An object that changed outside meshform since the last apply.
#[derive(Clone, Debug)]
pub struct Drift {
    pub addr: InstanceAddr,
    pub provider: String,
    pub before: Value,
    /// `None` when the object was deleted outside meshform.
    pub after: Option<Value>,
}

/// A change to an output value.
#[derive(Clone, Debug)]
pub struct OutputChange {
    pub name: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
    pub sensitive: bool,
}

impl OutputChange {
    pub fn action(&self) -> Action {
        match (&self.before, &self.after) {
            (None, Some(_)) => Action::Create,
            (Some(_), None) => Action::Delete,
            (Some(b), Some(a)) if b.same_as(a) && !a.contains_unknown() => Action::NoOp,
            (Some(_), Some(_)) => Action::Update,
            (None, None) => Action::NoOp,
        }
    }
}

/// A part of the infrastructure that could not be refreshed or planned.
#[derive(Clone, Debug)]
pub struct PlanFailure {
    /// The instance or resource address.
    pub address: String,
    pub provider: String,
    pub message: String,
}

/// An object an interrupted run created and the plan found again with the provider's `lookup`.
#[derive(Clone, Debug)]
pub struct Adoption {
    pub addr: InstanceAddr,
    pub provider: String,
    pub value: Value,
}

/// An object an `import` block brings under management: read by its id while planning, recorded
/// by apply (its change, if any, then applies to it).
#[derive(Clone, Debug)]
pub struct Import {
    pub addr: InstanceAddr,
    pub id: String,
    pub provider: String,
    /// The object as the provider read it.
    pub value: Value,
}

/// An object a `removed` block with `destroy = false` drops from the state; it is not destroyed.
#[derive(Clone, Debug)]
pub struct Forget {
    pub addr: InstanceAddr,
    pub provider: String,
    /// Its last recorded value.
    pub before: Value,
}

/// Which kind of plan.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PlanMode {
    #[default]
    Normal,
    Destroy,
    RefreshOnly,
}

/// A whole plan.
#[derive(Clone, Debug, Default)]
pub struct Plan {
    pub mode: PlanMode,
    /// Every instance's change (no-ops included), sorted by address.
    pub changes: Vec<ResourceChange>,
    pub drift: Vec<Drift>,
    pub outputs: Vec<OutputChange>,
    /// Refresh or planning failures; when non-empty the plan is incomplete.
    pub failures: Vec<PlanFailure>,
    /// Resources not planned because something they depend on failed.
    pub skipped: Vec<String>,
    pub adoptions: Vec<Adoption>,
    /// Pending creates whose objects the provider could not find: dropped from state on apply.
    pub abandoned: Vec<String>,
    /// Staged rollouts: the batches some changes apply in, each gated by checks ([`rollout`]).
    pub rollouts: Vec<Rollout>,
    /// Objects `moved` blocks renamed in the prior state ([`moved`]); apply saves the new addresses.
    pub moves: Vec<moved::Move>,
    /// Objects `removed` blocks forget ([`removed`]): apply drops them from the state.
    pub forgotten: Vec<Forget>,
    /// Objects `import` blocks bring under management ([`import`]).
    pub imports: Vec<Import>,
    /// The state the plan was made against.
    pub lineage: String,
    pub serial: u64,
}

impl Plan {
    /// Whether everything was planned (no refresh failures, nothing skipped).
    pub fn complete(&self) -> bool {
        self.failures.is_empty() && self.skipped.is_empty()
    }

    /// (to add, to change, to destroy), replacements counting in add and destroy.
    pub fn summary(&self) -> (usize, usize, usize) {
        let mut s = (0, 0, 0);
        for c in &self.changes {
            match c.action {
                Action::Create => s.0 += 1,
                Action::Update => s.1 += 1,
                Action::Delete => s.2 += 1,
                Action::DeleteThenCreate | Action::CreateThenDelete => {
                    s.0 += 1;
                    s.2 += 1;
                }
                Action::NoOp | Action::Read => {}
            }
        }
        s
    }

    /// Whether applying would change anything (resources, outputs, or state bookkeeping: adoptions,
    /// abandoned creates, and objects deleted outside meshform, which apply forgets).
    pub fn has_changes(&self) -> bool {
        self.changes.iter().any(|c| !matches!(c.action, Action::NoOp | Action::Read))
            // A refresh-only apply records refreshed objects, not outputs.
            || (self.mode != PlanMode::RefreshOnly
                && self.outputs.iter().any(|o| o.action() != Action::NoOp))
            || !self.adoptions.is_empty()
            || !self.moves.is_empty()
            || !self.forgotten.is_empty()
            || !self.imports.is_empty()
            || !self.abandoned.is_empty()
            || self.drift.iter().any(|d| d.after.is_none())
            || (self.mode == PlanMode::RefreshOnly && !self.drift.is_empty())
    }

    /// Where the object at `addr` was before a `moved` block renamed it.
    pub fn moved_from(&self, addr: &InstanceAddr) -> Option<&InstanceAddr> {
        self.moves.iter().find(|m| m.to == *addr).map(|m| &m.from)
    }

    /// The import id of the object imported at `addr`, when an `import` block imports it.
    pub fn imported_id(&self, addr: &InstanceAddr) -> Option<&str> {
        self.imports.iter().find(|i| i.addr == *addr).map(|i| i.id.as_str())
    }

    /// Changes that do something.
    pub fn actionable(&self) -> impl Iterator<Item = &ResourceChange> {
        self.changes.iter().filter(|c| c.action != Action::NoOp)
    }
}
