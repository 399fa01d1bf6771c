//! The provider interface: what every provider implements, and the registry the CLI fills.
//!
//! The engine only ever sees `dyn Provider` / `dyn ConfiguredProvider` through a [`Registry`]; it never
//! names a concrete provider or resource type (architecture invariant 2).
//!
//! - [`Provider`]: declares a schema and builds a [`ConfiguredProvider`] from its configuration block.
//! - [`ConfiguredProvider`]: read, plan, create, update, delete, import, lookup, read_data.
//! - [`types`]: [`ResourceType`] / [`DataSourceType`], one implementation per kind of object,
//!   registered in a [`TypeTable`] that dispatches the [`ConfiguredProvider`] calls.
//! - [`error`]: [`ProviderError`] with its typed [`ErrorKind`], code, message, request id.
//! - [`retry`]: [`RetryPolicy`], the one retry layer (backoff with jitter, server hints).
//! - [`wait`]: [`wait_until`], the one polling loop for remote state changes.
//! - [`Progress`]: how a long operation reports what it is waiting for.

pub mod error;
pub mod retry;
pub mod types;
pub mod wait;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use meshform_core::{Mode, PathStep, ProviderSchema, Value};

pub use error::{ErrorKind, ProviderError, ProviderResult};
pub use retry::{RetryNotice, RetryPolicy, Verdict};
pub use types::{DataSourceType, ResourceType, TypeTable};
pub use wait::{wait_until, Poll, WaitPolicy};

/// Where a long-running operation reports what it is waiting for (`waiting for mesh state running`).
pub trait Progress: Send + Sync {
    fn status(&self, message: &str);
}

/// A [`Progress`] that discards everything.
#[derive(Debug, Default)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn status(&self, _message: &str) {}
}

/// What a provider says about a proposed change.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PlannedState {
    /// The value the object will have after apply: configuration values normalised, computed attributes
    /// either carried over from the prior state or [`Value::Unknown`].
    pub planned: Value,
    /// Attributes whose change cannot be applied in place.
    pub requires_replace: Vec<Vec<PathStep>>,
    /// Why the object must be replaced when no configured attribute changed (a certificate entering
    /// its rotation window, …); shown in the plan. Set together with `requires_replace`.
    pub replace_reason: Option<String>,
    /// Warnings about the planned object (a CA about to expire, …), shown with the plan.
    pub warnings: Vec<AttributeProblem>,
}

impl PlannedState {
    /// A plan that keeps the object as it is planned, with nothing to replace.
    pub fn new(planned: Value) -> PlannedState {
        PlannedState { planned, ..PlannedState::default() }
    }
}

/// A warning or validation error about one attribute of a resource's configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct AttributeProblem {
    pub path: Vec<PathStep>,
    pub message: String,
    pub is_error: bool,
}

/// A provider before configuration: its schema and how to configure it.
#[async_trait]
pub trait Provider: Send + Sync {
    /// The provider's name as written in configuration (`local`, `asm`, `kubernetes`).
    fn name(&self) -> &str;

    fn schema(&self) -> ProviderSchema;

    /// Checks one resource's (`Mode::Managed`) or data source's (`Mode::Data`) configuration beyond
    /// what the schema says. Values may be unknown. No network.
    fn validate(&self, _mode: Mode, _type_name: &str, _config: &Value) -> Vec<AttributeProblem> {
        Vec::new()
    }

    /// Builds a configured instance from the provider block's (known) values.
    async fn configure(&self, config: &Value) -> ProviderResult<Arc<dyn ConfiguredProvider>>;
}

/// A configured provider instance (one per `provider` block, e.g. one per cluster).
///
/// Every operation is idempotent and cancellation-safe: it may be retried after a crash, and any
/// `.await` may be the last one.
#[async_trait]
pub trait ConfiguredProvider: Send + Sync {
    /// Refreshes one object from its last known value; `None` when it no longer exists.
    async fn read(&self, type_name: &str, current: &Value) -> ProviderResult<Option<Value>>;

    /// Normalises a proposed value against the prior one (`None` for a create). May ask the remote
    /// side (a server-side dry run); must not change anything.
    async fn plan(
        &self,
        type_name: &str,
        prior: Option<&Value>,
        proposed: &Value,
    ) -> ProviderResult<PlannedState>;

    async fn create(
        &self,
        type_name: &str,
        planned: &Value,
        progress: &dyn Progress,
    ) -> ProviderResult<Value>;

    async fn update(
        &self,
        type_name: &str,
        prior: &Value,
        planned: &Value,
        progress: &dyn Progress,
    ) -> ProviderResult<Value>;

    async fn delete(
        &self,
        type_name: &str,
        prior: &Value,
        progress: &dyn Progress,
    ) -> ProviderResult<()>;

    /// Reads an existing object by its provider-specific id, for `meshform import`.
    async fn import(&self, type_name: &str, id: &str) -> ProviderResult<Option<Value>>;

    /// Finds an existing object by the identifying attributes of a planned value — how a run that died
    /// between a create call and saving its result adopts the object instead of duplicating it.
    async fn lookup(&self, type_name: &str, planned: &Value) -> ProviderResult<Option<Value>>;

    /// Reads a data source.
    async fn read_data(&self, type_name: &str, config: &Value) -> ProviderResult<Value>;

    /// How many operations this instance should run at once (the engine also honours `--parallelism`).
    fn concurrency(&self) -> usize {
        usize::MAX
    }
}

/// The providers a run may use, by name. Filled by the CLI.
#[derive(Default, Clone)]
pub struct Registry {
    providers: BTreeMap<String, Arc<dyn Provider>>,
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.providers.keys()).finish()
    }
}

impl Registry {
    pub fn new() -> Registry {
        Registry::default()
    }

    pub fn register(&mut self, provider: Arc<dyn Provider>) {
        self.providers.insert(provider.name().to_owned(), provider);
    }

    pub fn get(&self, name: &str) -> Option<&Arc<dyn Provider>> {
        self.providers.get(name)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.providers.keys().map(String::as_str)
    }
}

/// The usual plan of a provider whose objects follow their schema: the proposed configuration, with
/// optional+computed attributes left unset carried over from the prior value, computed-only
/// attributes carried over (or unknown when the object will be created or replaced), and the
/// `force_new` attributes (and blocks) that changed listed as requiring replacement.
pub fn plan_by_schema(
    schema: &meshform_core::Schema,
    prior: Option<&Value>,
    proposed: &Value,
) -> PlannedState {
    let mut planned = proposed.clone();
    let mut requires_replace = Vec::new();
    if let (Some(prior), Value::Map(m)) = (prior, &mut planned) {
        for (name, attr) in &schema.attributes {
            let was = prior.get(name).cloned().unwrap_or(Value::Null);
            let now = m.get(name).cloned().unwrap_or(Value::Null);
            if attr.computed && now.is_null() {
                m.insert(name.clone(), was.clone());
                continue;
            }
            if attr.force_new && !now.same_as(&was) {
                requires_replace.push(vec![PathStep::Key(name.clone())]);
            }
        }
        for (name, block) in &schema.blocks {
            let was = prior.get(name).cloned().unwrap_or(Value::Null);
            let now = m.get(name).cloned().unwrap_or(Value::Null);
            if block.force_new && !now.same_as(&was) {
                requires_replace.push(vec![PathStep::Key(name.clone())]);
            }
        }
    }
    let fresh = prior.is_none() || !requires_replace.is_empty();
    if let Value::Map(m) = &mut planned {
        for (name, attr) in &schema.attributes {
            // Computed values are recomputed for a new object, unless the configuration sets them.
            let set_by_config = attr.settable() && m.get(name).is_some_and(|v| !v.is_null());
            if attr.computed && fresh && !set_by_config {
                m.insert(name.clone(), Value::Unknown);
            }
        }
    }
    PlannedState { planned, requires_replace, ..PlannedState::default() }
}
