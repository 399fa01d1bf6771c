//! State: the versioned document of what meshform manages, and where it is kept.
//!
//! - [`format`]: [`State`] and its parts, serialised as `meshform.state.json` (JSON Schema in
//!   `schemas/state.schema.json`).

pub mod format;

pub use format::{
    InstanceState, InstanceStatus, OutputState, PendingCreate, ResourceState, State,
    STATE_FORMAT_VERSION,
};
