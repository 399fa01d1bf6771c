//! Integration tests of meshform-engine: one test binary, one module per area. Every test plans and
//! applies through `meshform_engine::ops` against the `test` provider of [`fake`], except those of
//! `graph`, which build the configuration graph directly.

mod fake;
mod harness;

mod dag;
mod drift;
mod failures;
mod graph;
mod journal;
mod modules;
mod moved;
mod outage;
mod provider_for_each;
mod replace;
mod rollout;
mod scheduling;
mod unknowns;
