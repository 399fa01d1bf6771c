//! The identity services: STS as the official SDKs call it (V1 signatures in a `GET` query as the
//! Python SDK sends them, in a `POST` form as the Go SDK does; unsigned OIDC), its error shapes, and
//! the official Python credentials SDK's default chain resolving against the metadata emulator
//! and over OIDC through the STS emulator (`python_sdk`, with `tls_proxy`).

mod python_sdk;
mod sts_wire;
mod tls_proxy;
