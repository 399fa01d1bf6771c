//! The sandbox: a credential-free, offline stand-in for the cloud, on loopback.
//!
//! - [`asm`]: the ASM OpenAPI emulator (signed RPC requests, meshes, member clusters, networks,
//!   injection, asynchronous states, error codes, throttling and injected faults).
//! - [`kube`]: one Kubernetes API server per emulated ACK cluster.
//! - [`cs`]: the Container Service (ACK) OpenAPI for those clusters (ROA, signed): details, lists,
//!   user kubeconfigs (temporary ones expire).
//! - [`kms`]: the Key Management Service (`GenerateDataKey`, `Decrypt`) for state encryption.
//! - [`sts`]: the Security Token Service (`AssumeRole`, `AssumeRoleWithOIDC`) and the account's
//!   roles; [`metadata`]: an ECS instance metadata service (hardened mode, the instance's RAM role).
//! - [`launch`]: starting everything, the account identity and `sandbox.json`; [`envfile`]:
//!   `sandbox.env`, the same as variables for a shell to source; [`admin`]: the admin
//!   endpoint (`/status`, `/faults`).
//! - [`process`]: the sandbox as a background process: started detached, found, stopped by signal.
//! - [`dataplane`]: the mesh data plane model (sidecars, workload certificates, routing over mTLS).
//!
//! The sandbox speaks the real wire protocols; it never links provider code.

pub(crate) mod acs_api;
pub mod admin;
pub mod asm;
pub mod cs;
pub mod dataplane;
pub mod envfile;
pub mod kms;
pub mod kube;
pub mod launch;
pub mod metadata;
pub mod process;
pub mod sts;

pub use launch::{Description, Sandbox, SandboxError, SandboxOptions};
