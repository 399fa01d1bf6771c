//! Canonical formatting of HCL source (`meshform fmt`).
