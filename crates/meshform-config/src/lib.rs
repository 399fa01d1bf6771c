//! Configuration: HCL files in, typed configuration and evaluated values out.
//!
//! - [`functions`]: the built-in functions (`file`, `jsonencode`, `merge`, …).
//! - [`fmt`]: canonical formatting of HCL source (`meshform fmt`).

pub mod fmt;
pub mod functions;
