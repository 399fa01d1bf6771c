//! The ASM emulator over real HTTP: a hand-written signing client (`client`), the API's behaviour
//! end to end (`api`, `auth`, `faults`, `persistence`, each mesh's control-plane API in `mesh_api`), and the official Python SDK as an
//! independent client (`python_sdk`).

mod api;
mod auth;
pub(crate) mod client;
mod faults;
mod mesh_api;
mod persistence;
mod python_sdk;
mod upgrade;
