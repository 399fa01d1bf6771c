//! Which state store a run uses: the `meshform { backend "…" { … } }` block of the configuration
//! (`meshform_engine::backend::configured`), the workspace (`--workspace` / `MESHFORM_WORKSPACE`), and
//! for PostgreSQL the connection settings from the block, `MESHFORM_PG_CONN_STR` and the standard
//! `PG*` variables.
//!
//! The backend that last held the state is remembered in `.meshform/backend.json`, so that a run
//! whose configuration names another backend than the one holding the state refuses to start (it
//! would see an empty state and plan to create everything again) until `meshform init` has moved
//! the state (`meshform_engine::backend::not_migrated`).
//!
//! The `encryption` block (`meshform_engine::backend::encryption`) is read with the variables the
//! environment (`MESHFORM_VAR_NAME`) and variables files give: a passphrase is never taken from
//! `--var`, which would leave it in shell history and process listings.

use std::sync::Arc;

use meshform_config::model::Config;
use meshform_config::vars::{resolve_variables, VarInputs};
use meshform_core::Diagnostics;
use meshform_engine::backend::encryption::{self, Encryptions};
use meshform_engine::backend::{configured, encrypted_store, not_migrated};
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
    let enc = encryption_of(settings, &parsed.config).map_err(|d| {
        report::print_diagnostics(settings, &d);
        exit::ERROR
    })?;
    encrypted_store(&backend, &ctx, enc.state).map_err(|e| {
        report::print_diagnostics(settings, &report::state_diagnostic(&e).into());
        exit::ERROR
    })
}

/// The encryption of the state and of plan files that the configuration's `encryption` block asks
/// for (plaintext without one).
pub fn encryption_of(settings: &Settings, config: &Config) -> Result<Encryptions, Diagnostics> {
    if config.settings.encryption.is_none() {
        return Ok(Encryptions::none());
    }
    let inputs = VarInputs { env: settings.env_vars.clone(), ..VarInputs::default() };
    // Problems of other variables are reported by the run itself.
    let (vars, _) = resolve_variables(config, &inputs);
    let kms = crate::kms::AlibabaKms::new(settings.provider_env.clone());
    let services = encryption::KeyServices { alicloud_kms: Some(Arc::new(kms)) };
    encryption::configured(config, &vars, &services)
}
