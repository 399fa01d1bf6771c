//! The configuration graph as Graphviz DOT and as Mermaid (which renders in GitHub comments).

use std::fmt::Write as _;

use meshform_engine::graph::{ConfigGraph, Node};

fn shown(n: &Node) -> bool {
    !matches!(n, Node::Var(_))
}

/// DOT, edges from a dependency to its dependent, deterministic order.
pub fn dot(g: &ConfigGraph) -> String {
    let mut out =
        String::from("digraph meshform {\n  rankdir = \"LR\";\n  node [shape = \"box\"];\n");
    for n in g.order.iter().filter(|n| shown(n)) {
        let shape = match n {
            Node::Provider(_) => " [shape = \"diamond\"]",
            Node::Local(_) | Node::Output(_) => " [shape = \"note\"]",
            _ => "",
        };
        let _ = writeln!(out, "  \"{n}\"{shape};");
    }
    for n in g.order.iter().filter(|n| shown(n)) {
        for d in g.dependencies(n).into_iter().filter(|d| shown(d)) {
            let _ = writeln!(out, "  \"{d}\" -> \"{n}\";");
        }
    }
    out.push_str("}\n");
    out
}

/// Mermaid flowchart.
pub fn mermaid(g: &ConfigGraph) -> String {
    let ids: std::collections::HashMap<&Node, String> =
        g.order.iter().enumerate().map(|(i, n)| (n, format!("n{i}"))).collect();
    let mut out = String::from("flowchart LR\n");
    for n in g.order.iter().filter(|n| shown(n)) {
        let label = n.to_string().replace('"', "#quot;");
        let (open, close) = match n {
            Node::Provider(_) => ("{{", "}}"),
            Node::Local(_) | Node::Output(_) => ("([", "])"),
            _ => ("[", "]"),
        };
        let _ = writeln!(out, "  {}{open}\"{label}\"{close}", ids[n]);
    }
    for n in g.order.iter().filter(|n| shown(n)) {
        for d in g.dependencies(n).into_iter().filter(|d| shown(d)) {
            let _ = writeln!(out, "  {} --> {}", ids[d], ids[n]);
        }
    }
    out
}
