//! The mesh data plane model.
