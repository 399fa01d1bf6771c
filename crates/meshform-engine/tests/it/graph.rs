//! The configuration graph: edges from references, `depends_on` and providers; a deterministic
//! order that respects every edge; cycles reported with their path.

use meshform_config::load::load_source;
use meshform_config::model::Config;
use meshform_core::{ModulePath, ResourceAddr, SourceFile};
use meshform_engine::graph::{self, Node};

fn config(src: &str) -> Config {
    let mut config = Config::default();
    let diags = load_source(&mut config, &SourceFile::new("main.hcl", src));
    assert!(!diags.has_errors(), "{diags:?}");
    config
}

fn res(name: &str) -> Node {
    Node::Resource(ResourceAddr::managed("local_file", name))
}

const SRC: &str = r#"
variable "prefix" { default = "out" }
locals {
  dir  = "${var.prefix}/files"
  name = upper(local.dir)
}
resource "local_file" "b" {
  filename = "${local.dir}/b"
  content  = local_file.a.id
}
resource "local_file" "a" {
  filename = "${local.name}/a"
  content  = "a"
}
resource "local_file" "c" {
  filename   = "c"
  content    = join(",", [local_file.a.id, local_file.b.content_sha256])
  depends_on = [local_file.b]
}
output "c" { value = local_file.c.id }
"#;

#[test]
fn edges_come_from_references_depends_on_and_providers() {
    let config = config(SRC);
    let (g, diags) = graph::build(&config);
    assert!(diags.0.is_empty(), "{diags:?}");
    let deps =
        |n: &Node| -> Vec<String> { g.dependencies(n).iter().map(|d| d.to_string()).collect() };
    assert_eq!(deps(&res("c")), ["provider.local", "local_file.a", "local_file.b"]);
    assert_eq!(deps(&res("a")), ["local.name", "provider.local"]);
    assert_eq!(deps(&Node::Local(ModulePath::root(), "name".into())), ["local.dir"]);
    assert_eq!(deps(&Node::Output(ModulePath::root(), "c".into())), ["local_file.c"]);
    let through_locals: Vec<String> = g
        .resource_dependencies(&Node::Output(ModulePath::root(), "c".into()))
        .iter()
        .map(|a| a.to_string())
        .collect();
    assert_eq!(through_locals, ["local_file.c"]);
    assert_eq!(g.graph.edge_count(), 11);
}

#[test]
fn the_order_respects_every_edge_and_breaks_ties_by_node() {
    let config = config(SRC);
    let (g, _) = graph::build(&config);
    let order: Vec<String> = g.order.iter().map(|n| n.to_string()).collect();
    assert_eq!(
        order,
        [
            "var.prefix",
            "local.dir",
            "local.name",
            "provider.local",
            "local_file.a",
            "local_file.b",
            "local_file.c",
            "output.c",
        ]
    );
    let pos = |n: &Node| g.order.iter().position(|m| m == n).expect("every node is ordered");
    for e in g.graph.edge_indices() {
        let (a, b) = g.graph.edge_endpoints(e).expect("edge");
        assert!(pos(&g.graph[a]) < pos(&g.graph[b]), "{} before {}", g.graph[a], g.graph[b]);
    }
}

#[test]
fn cycles_are_reported_with_their_path() {
    let config = config(
        r#"
locals {
  a = local.c
  b = local.a
  c = "${local.b}-x"
}
"#,
    );
    let (g, diags) = graph::build(&config);
    let cycles: Vec<&str> = diags.0.iter().map(|d| d.summary.as_str()).collect();
    assert_eq!(cycles, ["dependency cycle: local.a -> local.b -> local.c -> local.a"]);
    assert_eq!(diags.0[0].span.as_ref().map(|s| s.text()), Some("local.c"));
    assert_eq!(g.order.len(), 3, "nodes on cycles are still ordered, at the end");
}

#[test]
fn remembered_resource_dependencies_match_the_walk() {
    let config = config(
        r#"
locals {
  base   = local_file.a.id
  shared = "${local.base}/${local_file.b.id}"
  both   = [local.shared, local.base, var.v]
}
variable "v" { default = "x" }
resource "local_file" "a" {
  filename = "a"
  content  = "a"
}
resource "local_file" "b" {
  filename = local.base
  content  = "b"
}
resource "local_file" "c" {
  filename = local.both[0]
  content  = local_file.a.id
}
resource "local_file" "d" {
  filename = local.shared
  content  = "d"
}
output "o" { value = [local.both, local_file.d.id] }
"#,
    );
    let (g, diags) = graph::build(&config);
    assert!(diags.0.is_empty(), "{diags:?}");
    let mut remembered = graph::ResourceDependencies::default();
    // Every node, in an order that fills the memo from the most dependent side first.
    for node in g.order.iter().rev() {
        assert_eq!(remembered.of(&g, node), g.resource_dependencies(node), "{node}");
    }
    let c: Vec<String> = remembered.of(&g, &res("c")).iter().map(|a| a.to_string()).collect();
    assert_eq!(c, ["local_file.a", "local_file.b"]);
}
