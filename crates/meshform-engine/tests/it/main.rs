//! Integration tests of meshform-engine: one test binary, one module per area. Every test plans and
//! applies through `meshform_engine::ops` against the `test` provider of [`fake`].

mod fake;
mod harness;

mod dag;
mod drift;
mod failures;
mod replace;
mod scheduling;
mod unknowns;
