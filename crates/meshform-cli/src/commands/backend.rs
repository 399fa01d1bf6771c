//! Which state store a run uses: the `meshform { backend "…" { … } }` block of the configuration
//! (`meshform_engine::backend::configured`), the workspace (`--workspace` / `MESHFORM_WORKSPACE`), and
//! for PostgreSQL the connection settings from the block, `MESHFORM_PG_CONN_STR` and the standard
//! `PG*` variables.
//!
//! The backend that last held the state is remembered in `.meshform/backend.json`, so that a run
//! whose configuration names another backend than the one holding the state refuses to start (it
//! would see an empty state and plan to create everything again) until `meshform init` has moved
//! the state (`meshform_engine::backend::not_migrated`).

use std::sync::Arc;

use meshform_engine::backend::{configured, not_migrated};
use meshform_engine::ops::Parsed;
use meshform_state::StateStore;

use crate::report::{self, exit};
use crate::settings::Settings;

/// The configured backend's store for this run, refusing when the state still sits in another
/// backend. Prints diagnostics and returns the exit code on failure.
pub fn store_for_run(settings: &Settings, parsed: &Parsed) -> Result<Arc<dyn StateStore>, u8> {
    let ctx = settings.backend_context();
    let backend = configured(&parsed.config, &ctx).map_err(|d| {
        report::print_diagnostics(settings, &d);
        exit::ERROR
    })?;
    if let Some(d) = not_migrated(&backend, &ctx) {
        report::print_diagnostics(settings, &d.into());
        return Err(exit::ERROR);
    }
    backend.store(&ctx).map_err(|e| {
        report::print_diagnostics(settings, &report::state_diagnostic(&e).into());
        exit::ERROR
    })
}
