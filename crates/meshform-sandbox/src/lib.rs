//! The sandbox: a credential-free, offline stand-in for the cloud, on loopback.
//!
//! - [`asm`]: the ASM OpenAPI emulator (signed RPC requests, meshes, member clusters, networks,
//!   injection, asynchronous states, error codes, throttling and injected faults).
//! - [`kube`]: one Kubernetes API server per emulated ACK cluster.
//! - [`dataplane`]: the mesh data plane model (sidecars, workload certificates, routing over mTLS).
//!
//! The sandbox speaks the real wire protocols; it never links provider code.

pub mod asm;
pub mod dataplane;
pub mod kube;
