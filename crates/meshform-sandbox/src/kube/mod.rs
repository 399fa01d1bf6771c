//! Emulated Kubernetes API servers.
