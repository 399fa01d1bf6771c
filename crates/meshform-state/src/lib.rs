//! State: the versioned document of what meshform manages, and where it is kept.
//!
//! This crate is the only one that reads or writes state.
//!
//! - [`backend`]: which backend holds the state: [`backend::BackendKind`], [`backend::Backend`], the
//!   `.meshform/backend.json` record, and the decisions of runs and `meshform init` taken from them.
//! - [`format`](mod@format): [`State`] and its parts, serialised as `meshform.state.json` (JSON Schema in
//!   `schemas/state.schema.json`).
//! - [`store`]: the [`StateStore`] trait every backend implements (read, atomic write with serial and
//!   lineage checks, run locks), [`LockInfo`], the [`StateLock`] guard and [`StateError`].
//! - [`keyed`]: [`keyed::KeyedList`], the state's sorted lists of resources and instances.
//! - [`journal`]: the changes ([`StateChange`]) a run appends between two snapshots, their framing,
//!   and their replay on read.
//! - [`encryption`]: encryption at rest (OpenTofu's envelope, PBKDF2 + AES-256-GCM) of states and
//!   plan files.
//! - [`local`]: [`LocalStore`], the state in a local file: atomic writes with `<file>.backup`, and an
//!   OS advisory lock on `<file>.lock` that dies with its holder.
//! - [`pg`]: [`PgStore`], the state in PostgreSQL (one row per workspace) with session advisory
//!   locks that die with their connection, and transactional lineage and serial checks.
//! - [`migrate`](mod@migrate): [`migrate::migrate`], moving a state between backends (`meshform init`).
//! - [`surgery`]: pure functions behind the `meshform state` subcommands: [`surgery::list`],
//!   [`surgery::remove`], [`surgery::move_`] and [`surgery::check_push`].

pub mod backend;
pub mod encryption;
pub mod format;
pub mod journal;
pub mod keyed;
pub mod local;
mod local_journal;
pub mod migrate;
pub mod pg;
pub mod store;
pub mod surgery;

pub use format::{
    DeposedObject, InstanceState, InstanceStatus, OutputState, PendingCreate, ResourceState, State,
    STATE_FORMAT_VERSION,
};
pub use journal::StateChange;
pub use keyed::KeyedList;
pub use local::{decode_state, encode_state, LocalStore, DEFAULT_STATE_FILE, WORKSPACES_DIR};
pub use pg::{PgSettings, PgStore};
pub use store::{
    check_workspace_name, Appended, LockInfo, StateError, StateLock, StateStore, DEFAULT_WORKSPACE,
};
pub use surgery::SurgeryError;
