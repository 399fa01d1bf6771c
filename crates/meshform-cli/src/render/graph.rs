//! The configuration graph as Graphviz DOT and as Mermaid (which renders in GitHub comments);
//! each module instance's nodes are grouped in a cluster (a Mermaid subgraph) named by its address.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use meshform_core::ModulePath;
use meshform_engine::graph::{ConfigGraph, Node};

/// Root variables are inputs with no dependencies and are left out; a module's variables carry
/// values across its boundary and are shown.
fn shown(n: &Node) -> bool {
    !matches!(n, Node::Var(m, _) if m.is_root())
}

/// The shown nodes by module instance, the root first, each in graph order.
fn by_module(g: &ConfigGraph) -> BTreeMap<ModulePath, Vec<&Node>> {
    let mut out: BTreeMap<ModulePath, Vec<&Node>> = BTreeMap::new();
    for n in g.order.iter().filter(|n| shown(n)) {
        out.entry(n.module()).or_default().push(n);
    }
    out
}

/// DOT, edges from a dependency to its dependent, deterministic order.
pub fn dot(g: &ConfigGraph) -> String {
    let mut out =
        String::from("digraph meshform {\n  rankdir = \"LR\";\n  node [shape = \"box\"];\n");
    let node_line = |out: &mut String, n: &Node, indent: &str| {
        let shape = match n {
            Node::Provider(_) => " [shape = \"diamond\"]",
            Node::Local(..) | Node::Output(..) | Node::Var(..) => " [shape = \"note\"]",
            _ => "",
        };
        let _ = writeln!(out, "{indent}\"{}\"{shape};", n.to_string().replace('"', "\\\""));
    };
    for (i, (m, nodes)) in by_module(g).into_iter().enumerate() {
        if m.is_root() {
            nodes.iter().for_each(|n| node_line(&mut out, n, "  "));
            continue;
        }
        let label = m.to_string().replace('"', "\\\"");
        let _ = writeln!(out, "  subgraph \"cluster_{i}\" {{\n    label = \"{label}\";");
        nodes.iter().for_each(|n| node_line(&mut out, n, "    "));
        out.push_str("  }\n");
    }
    for n in g.order.iter().filter(|n| shown(n)) {
        for d in g.dependencies(n).into_iter().filter(|d| shown(d)) {
            let (d, n) = (d.to_string().replace('"', "\\\""), n.to_string().replace('"', "\\\""));
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
    let node_line = |out: &mut String, n: &Node, indent: &str| {
        let label = n.to_string().replace('"', "#quot;");
        let (open, close) = match n {
            Node::Provider(_) => ("{{", "}}"),
            Node::Local(..) | Node::Output(..) | Node::Var(..) => ("([", "])"),
            _ => ("[", "]"),
        };
        let _ = writeln!(out, "{indent}{}{open}\"{label}\"{close}", ids[n]);
    };
    for (i, (m, nodes)) in by_module(g).into_iter().enumerate() {
        if m.is_root() {
            nodes.iter().for_each(|n| node_line(&mut out, n, "  "));
            continue;
        }
        let label = m.to_string().replace('"', "#quot;");
        let _ = writeln!(out, "  subgraph m{i}[\"{label}\"]");
        nodes.iter().for_each(|n| node_line(&mut out, n, "    "));
        out.push_str("  end\n");
    }
    for n in g.order.iter().filter(|n| shown(n)) {
        for d in g.dependencies(n).into_iter().filter(|d| shown(d)) {
            let _ = writeln!(out, "  {} --> {}", ids[d], ids[n]);
        }
    }
    out
}
