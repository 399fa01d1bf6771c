//! Integration tests of meshform-config: one test binary, one module per area.

mod eval;
mod fmt;
mod load;
