//! Configuration: HCL files in, typed configuration and evaluated values out.
//!
//! - [`load`]: reads a directory's `*.hcl` files with hcl-edit (spans kept) and lowers them to
//!   [`model::Config`], collecting every diagnostic.
//! - [`model`]: the typed configuration (variables, locals, providers, resources, outputs, checks).
//! - [`eval`]: expression evaluation with unknown and sensitive values.
//! - [`refs`]: the references an expression makes, for the dependency graph.
//! - [`vars`]: input variables from defaults, files, environment and command line.
//! - [`typeexpr`]: type constraint expressions.
//! - [`functions`]: the built-in functions (`file`, `jsonencode`, `merge`, …).
//! - [`fmt`]: canonical formatting of HCL source (`meshform fmt`).
//! - [`suggest`]: "did you mean" suggestions.

pub mod eval;
pub mod fmt;
pub mod functions;
pub mod load;
pub mod model;
pub mod modules;
pub mod refs;
pub mod repetition;
pub mod suggest;
pub mod typeexpr;
pub mod vars;

pub use model::Config;
