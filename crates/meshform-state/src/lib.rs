//! State: the versioned document of what meshform manages, and where it is kept.
//!
//! This crate is the only one that reads or writes state.
//!
//! - [`format`]: [`State`] and its parts, serialised as `meshform.state.json` (JSON Schema in
//!   `schemas/state.schema.json`).
//! - [`store`]: the [`StateStore`] trait every backend implements (read, atomic write with serial and
//!   lineage checks, run locks), [`LockInfo`], the [`StateLock`] guard and [`StateError`].

pub mod format;
pub mod store;

pub use format::{
    InstanceState, InstanceStatus, OutputState, PendingCreate, ResourceState, State,
    STATE_FORMAT_VERSION,
};
pub use store::{LockInfo, StateError, StateLock, StateStore};
