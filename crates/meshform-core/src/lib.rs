//! Shared vocabulary of meshform: addresses, dynamic values, schemas and diagnostics.
//!
//! - [`value`]: [`Value`], the dynamic value every stage passes around, with *unknown* ("known after
//!   apply") and *sensitive* marks. Redaction is a property of the type: `Display`, `Debug` and
//!   `Serialize` never show a sensitive value; only [`Value::expose_json`] does, for the state store.
//! - [`json_text`]: JSON text into a [`Value`] with exact numbers (`jsondecode`).
//! - [`number`]: [`Number`], exact numbers with Terraform's arithmetic and printing (`0.1 + 0.2` is `0.3`).
//! - [`types`]: [`Type`], type constraints and conversion.
//! - [`schema`]: resource, data source and provider schemas.
//! - [`addr`]: resource and instance addresses (`local_file.a["k"]`).
//! - [`duration`]: durations as written in configuration and flags (`30s`, `1h30m`, `365d`).
//! - [`fsio`]: [`fsio::write_atomic`], the one way any crate replaces a file.
//! - [`hex`]: hexadecimal text of bytes (digests, signatures, fingerprints).
//! - [`pem`]: [`pem::certificates`], the one PEM reader (bad input is an error).
//! - [`sync`]: [`sync::lock`], a mutex lock that survives a panicking holder.
//! - [`yaml`]: Kubernetes YAML (kubectl's dialect) into JSON, for manifests and API bodies.
//! - [`diag`]: [`Diagnostic`] with source spans, rendered by miette at the edge.

pub mod addr;
pub mod diag;
pub mod duration;
pub mod fsio;
pub mod hex;
pub mod json_text;
pub mod number;
pub mod pem;
pub mod schema;
pub mod sync;
pub mod types;
pub mod value;
pub mod yaml;

pub use addr::{
    implied_provider, AddrPattern, InstanceAddr, InstanceKey, Mode, ModulePath, ModulePattern,
    ModuleStep, ResourceAddr, Selector,
};
pub use diag::{Diagnostic, Diagnostics, Severity, SourceFile, Span};
pub use number::Number;
pub use schema::{Attribute, BlockNesting, NestedBlock, ProviderSchema, Schema};
pub use types::Type;
pub use value::{PathStep, Value, REDACTED};
