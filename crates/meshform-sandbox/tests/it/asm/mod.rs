//! The ASM emulator over real HTTP: a hand-written signing client (`client`), the API's behaviour
//! end to end (`api`, `auth`, `faults`, `persistence`), and the official Python SDK as an
//! independent client (`python_sdk`).

mod api;
mod auth;
mod client;
mod faults;
mod persistence;
mod python_sdk;
