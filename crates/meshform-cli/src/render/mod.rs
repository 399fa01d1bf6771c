//! Renderings: plans and state as text and JSON, the graph as DOT and Mermaid, verify results.

pub mod graph;
pub mod json;
pub mod markdown;
pub mod plan_json;
pub mod rollout;
pub mod state;
pub mod text;
pub mod verify;
