//! The engine: configuration graph, refresh, plan and apply, and the ops layer commands call.
//!
//! - [`graph`]: the configuration graph (references, `depends_on`, providers), cycles, ordering.
//! - [`body`]: checking bodies against provider schemas and evaluating them into values.
//! - [`scope`]: the values expressions see (`var`, `local`, resources) during a walk.
//! - [`plan`]: plan types and the planning walk (refresh, diff, actions).
//! - [`apply`]: the executor that carries out a plan in dependency order, saving state per operation.
//! - [`ops`]: `validate`, `plan`, `apply`, `destroy`, `import` and state commands, taking `*Options`.
//! - [`surgery`]: the `meshform state` operations (list, show, rm, mv, pull, push) on a workspace.
//! - [`backend`]: the backend a configuration names, the refusal while the state is elsewhere, and
//!   `meshform init`.
//! - [`verify`]: `meshform verify`, running the configuration's `check` blocks, and the responses
//!   their data sources saw, counted by version.
//! - [`console`]: `meshform console`, expressions evaluated against the configuration and state.
//! - [`workspaces`]: `meshform workspace new | select | delete`, and the selected workspace.
//! - [`environment`]: the provider settings that say which environment a plan acts on.
//! - [`planfile`]: saved plans (`plan --out`, `apply FILE`): the file format without secrets, and
//!   the staleness checks that decide whether a saved plan can still be applied as reviewed.
//! - [`reporter`]: the [`Reporter`] trait through which progress reaches the CLI.
//!
//! The engine never names a concrete provider: it sees providers only through
//! [`meshform_provider::Registry`].

pub mod apply;
pub mod backend;
pub mod body;
pub mod console;
pub mod environment;
pub mod graph;
pub mod ops;
pub mod plan;
pub mod planfile;
pub mod reporter;
pub mod scope;
pub mod surgery;
pub mod validate;
pub mod verify;
pub mod workspaces;

pub use plan::{Action, Plan, PlanMode};
pub use reporter::{Reporter, SilentReporter};
