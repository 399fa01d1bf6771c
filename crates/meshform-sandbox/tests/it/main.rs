//! The sandbox's integration tests, one binary (link time on 2 cores): each module starts the
//! servers it needs on loopback with free ports.

mod asm;
mod cs;
mod dataplane;
mod identity;
