//! The CS (ACK) emulator over real HTTP, in a started sandbox: a hand-written ROA signing client
//! (`roa`), the three actions and their errors (`api`), and the official Python SDK
//! `alibabacloud-cs20151215` as an independent client (`python_sdk`).

mod api;
mod python_sdk;
pub(crate) mod roa;
