//! The configuration graph: variables, locals, provider instances, resources, outputs and checks as
//! nodes, references and `depends_on` as edges; reference checking; cycle detection with the path.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt;
use std::sync::Arc;

use meshform_config::model::{Config, Repetition};
use meshform_config::refs::{references, Reference, Target};
use meshform_config::suggest::did_you_mean;
use meshform_core::{Diagnostic, Diagnostics, Mode, ModulePath, ResourceAddr, Span};
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::Direction;

/// A node of the configuration graph.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Node {
    /// An input variable of a module instance (the root's for the root path).
    Var(ModulePath, String),
    Local(ModulePath, String),
    /// A provider instance by configuration key (`local`, `kubernetes.cluster_1`).
    Provider(String),
    Resource(ResourceAddr),
    Output(ModulePath, String),
    Check(String),
}

impl Node {
    /// The module instance the node belongs to (providers and checks: the root).
    pub fn module(&self) -> ModulePath {
        match self {
            Node::Var(m, _) | Node::Local(m, _) | Node::Output(m, _) => m.clone(),
            Node::Resource(a) => a.module.clone(),
            Node::Provider(_) | Node::Check(_) => ModulePath::root(),
        }
    }
}

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let prefix = |f: &mut fmt::Formatter<'_>, m: &ModulePath| {
            if m.is_root() {
                Ok(())
            } else {
                write!(f, "{m}.")
            }
        };
        match self {
            Node::Var(m, n) => {
                prefix(f, m)?;
                write!(f, "var.{n}")
            }
            Node::Local(m, n) => {
                prefix(f, m)?;
                write!(f, "local.{n}")
            }
            Node::Provider(k) => write!(f, "provider.{k}"),
            Node::Resource(a) => write!(f, "{a}"),
            Node::Output(m, n) => {
                prefix(f, m)?;
                write!(f, "output.{n}")
            }
            Node::Check(n) => write!(f, "check.{n}"),
        }
    }
}

/// The graph with a deterministic topological order.
#[derive(Debug, Default)]
pub struct ConfigGraph {
    /// Edges point from a dependency to its dependent.
    pub graph: DiGraph<Node, ()>,
    pub index: HashMap<Node, NodeIndex>,
    /// Every node, dependencies first; ties broken by node order so that walks are deterministic.
    pub order: Vec<Node>,
}

impl ConfigGraph {
    /// Direct dependencies of a node.
    pub fn dependencies(&self, node: &Node) -> Vec<&Node> {
        let Some(&i) = self.index.get(node) else { return Vec::new() };
        let mut deps: Vec<&Node> = self
            .graph
            .neighbors_directed(i, petgraph::Direction::Incoming)
            .map(|j| &self.graph[j])
            .collect();
        deps.sort();
        deps.dedup();
        deps
    }

    /// The resources a node depends on, directly or through locals, variables and outputs.
    pub fn resource_dependencies(&self, node: &Node) -> BTreeSet<ResourceAddr> {
        let mut out = BTreeSet::new();
        let mut seen = BTreeSet::new();
        let mut stack: Vec<&Node> = self.dependencies(node);
        while let Some(n) = stack.pop() {
            if !seen.insert(n.clone()) {
                continue;
            }
            match n {
                Node::Resource(a) => {
                    out.insert(a.clone());
                }
                Node::Provider(_) => {}
                _ => stack.extend(self.dependencies(n)),
            }
        }
        out
    }
}

/// [`ConfigGraph::resource_dependencies`] for many nodes of one graph: what each local, variable or
/// output leads to is found once and remembered, so that resources sharing locals do not each walk
/// them again (which made planning cost resources × locals).
#[derive(Debug, Default)]
pub struct ResourceDependencies {
    /// The resources reached through each non-resource, non-provider node.
    through: HashMap<NodeIndex, Arc<BTreeSet<ResourceAddr>>>,
}

impl ResourceDependencies {
    /// The resources `node` depends on, directly or through locals, variables and outputs: the same
    /// set as [`ConfigGraph::resource_dependencies`].
    pub fn of(&mut self, g: &ConfigGraph, node: &Node) -> BTreeSet<ResourceAddr> {
        let Some(&i) = g.index.get(node) else { return BTreeSet::new() };
        let mut out = BTreeSet::new();
        for j in g.graph.neighbors_directed(i, Direction::Incoming) {
            match &g.graph[j] {
                Node::Resource(a) => {
                    out.insert(a.clone());
                }
                Node::Provider(_) => {}
                _ => out.extend(self.through(g, j).iter().cloned()),
            }
        }
        out
    }

    /// The resources reached through `start` (not a resource or provider), computed children first
    /// with an explicit stack. A node met again while its own dependencies are being computed is on
    /// a cycle (which validation reports); it adds nothing there, so that this always terminates.
    fn through(&mut self, g: &ConfigGraph, start: NodeIndex) -> Arc<BTreeSet<ResourceAddr>> {
        let expands = |j: NodeIndex| !matches!(g.graph[j], Node::Resource(_) | Node::Provider(_));
        let mut started: HashSet<NodeIndex> = HashSet::new();
        let mut stack = vec![(start, false)];
        while let Some((i, deps_done)) = stack.pop() {
            if self.through.contains_key(&i) {
                continue;
            }
            if !deps_done {
                if started.insert(i) {
                    stack.push((i, true));
                    stack.extend(
                        g.graph
                            .neighbors_directed(i, Direction::Incoming)
                            .filter(|j| expands(*j) && !self.through.contains_key(j))
                            .map(|j| (j, false)),
                    );
                }
                continue;
            }
            let mut set = BTreeSet::new();
            for j in g.graph.neighbors_directed(i, Direction::Incoming) {
                match &g.graph[j] {
                    Node::Resource(a) => {
                        set.insert(a.clone());
                    }
                    Node::Provider(_) => {}
                    _ => {
                        if let Some(s) = self.through.get(&j) {
                            set.extend(s.iter().cloned());
                        }
                    }
                }
            }
            self.through.insert(i, Arc::new(set));
        }
        self.through.get(&start).cloned().unwrap_or_default()
    }
}

/// The references of every expression, by node, with the module instance they are resolved in
/// (a module variable's value is its call's argument, written in the caller).
type NodeRefs = BTreeMap<Node, (ModulePath, Vec<Reference>)>;

fn node_references(config: &Config) -> NodeRefs {
    let mut out: NodeRefs = BTreeMap::new();
    let file_refs = |e: &meshform_config::model::Expr| references(&e.node, &e.span.file);
    let root = ModulePath::root();
    for name in config.variables.keys() {
        // Validation conditions may only refer to the variable itself; checked at evaluation.
        out.insert(Node::Var(root.clone(), name.clone()), (root.clone(), Vec::new()));
    }
    for (m, inst) in &config.modules {
        let parent = m.parent();
        for name in inst.variables.keys() {
            let refs = inst.call.args.get(name).map(|a| file_refs(&a.expr)).unwrap_or_default();
            out.insert(Node::Var(m.clone(), name.clone()), (parent.clone(), refs));
        }
        for (name, l) in &inst.locals {
            out.insert(Node::Local(m.clone(), name.clone()), (m.clone(), file_refs(&l.expr)));
        }
        for (name, o) in &inst.outputs {
            let mut refs = file_refs(&o.value);
            refs.extend(o.depends_on.iter().map(|d| Reference {
                target: Target::Resource(d.addr.clone()),
                span: d.span.clone(),
            }));
            out.insert(Node::Output(m.clone(), name.clone()), (m.clone(), refs));
        }
    }
    for (name, l) in &config.locals {
        out.insert(Node::Local(root.clone(), name.clone()), (root.clone(), file_refs(&l.expr)));
    }
    for (key, p) in &config.providers {
        out.insert(Node::Provider(key.clone()), (root.clone(), body_refs(&p.body)));
    }
    for (addr, r) in &config.resources {
        let mut refs = body_refs(&r.body);
        match &r.repetition {
            Repetition::Count(e) | Repetition::ForEach(e) => refs.extend(file_refs(e)),
            Repetition::Single => {}
        }
        // `depends_on` addresses are already absolute (a module call's own are its caller's).
        let deps: Vec<Reference> = r
            .depends_on
            .iter()
            .map(|d| {
                let target = match &d.module {
                    // Left by expansion only when the call does not exist: reported as such.
                    Some(call) => Target::Module(call.clone(), None, None),
                    None => Target::Absolute(d.addr.clone()),
                };
                Reference { target, span: d.span.clone() }
            })
            .collect();
        refs.extend(deps);
        out.insert(Node::Resource(addr.clone()), (addr.module.clone(), refs));
    }
    for (name, o) in &config.outputs {
        let mut refs = file_refs(&o.value);
        for d in &o.depends_on {
            refs.push(Reference { target: Target::Resource(d.addr.clone()), span: d.span.clone() });
        }
        out.insert(Node::Output(root.clone(), name.clone()), (root.clone(), refs));
    }
    for (name, c) in &config.checks {
        // References to the check's own data sources are internal to it.
        let scoped: BTreeSet<ResourceAddr> = c.data.iter().map(|d| d.addr.clone()).collect();
        let mut refs: Vec<Reference> = c.data.iter().flat_map(|d| body_refs(&d.body)).collect();
        for a in &c.asserts {
            refs.extend(file_refs(&a.condition));
            refs.extend(file_refs(&a.error_message));
        }
        if let Some(e) = &c.enabled {
            refs.extend(file_refs(e));
        }
        refs.retain(|r| !matches!(&r.target, Target::Resource(a) if scoped.contains(a)));
        out.insert(Node::Check(name.clone()), (root.clone(), refs));
    }
    out
}

fn body_refs(body: &meshform_config::model::BlockBody) -> Vec<Reference> {
    let mut out = Vec::new();
    for a in body.attrs.values() {
        out.extend(references(&a.expr.node, &a.expr.span.file));
    }
    for b in &body.blocks {
        match b.dynamic() {
            // `for_each` is read in the enclosing scope; the content's references to the
            // iterator are bound by the block.
            Some(d) => {
                if let Some(f) = d.for_each {
                    out.extend(references(&f.expr.node, &f.expr.span.file));
                }
                if let Some(c) = d.content {
                    out.extend(body_refs(&c.body).into_iter().filter(|r| {
                        !matches!(&r.target, Target::Resource(a) if a.ty == d.iterator)
                            && !matches!(&r.target, Target::Other(n) if n == d.iterator)
                    }));
                }
            }
            None => out.extend(body_refs(&b.body)),
        }
    }
    out
}

/// The instances of a provider block with `for_each` (`NAME.ALIAS["k"]` keys), by block key.
pub fn provider_instances(config: &Config, block: &str) -> Vec<String> {
    let prefix = format!("{block}[");
    config
        .providers
        .range(prefix.clone()..)
        .take_while(|(k, _)| k.starts_with(&prefix))
        .map(|(k, _)| k.clone())
        .chain(config.providers.get(block).filter(|p| p.instance.is_some()).map(|p| p.key()))
        .collect()
}

/// Builds the graph, reporting unknown references and cycles.
pub fn build(config: &Config) -> (ConfigGraph, Diagnostics) {
    let mut diags = Diagnostics::default();
    let refs = node_references(config);
    let mut g = ConfigGraph::default();
    let mut nodes: BTreeSet<Node> = refs.keys().cloned().collect();
    // Every provider instance resources use, declared or implied (a resource choosing an instance
    // per key, `provider = NAME.ALIAS[each.key]`, uses the block's declared instances).
    for r in config.resources.values() {
        if r.provider_index.is_none() {
            nodes.insert(Node::Provider(r.provider_key()));
        }
    }
    for c in config.checks.values() {
        for d in &c.data {
            nodes.insert(Node::Provider(d.provider_key()));
        }
    }
    // Nodes are added in their sorted order, so sorting edges by index sorts them by node too.
    for n in &nodes {
        let i = g.graph.add_node(n.clone());
        g.index.insert(n.clone(), i);
    }
    let mut edges: Vec<(NodeIndex, NodeIndex)> = Vec::new();
    let mut edge = |g: &ConfigGraph, from: &Node, to: &Node| {
        if let (Some(&a), Some(&b)) = (g.index.get(from), g.index.get(to)) {
            edges.push((a, b));
        }
    };
    for (node, (ctx, rs)) in &refs {
        for r in rs {
            for dep in resolve(config, node, ctx, r, &mut diags) {
                edge(&g, &dep, node);
            }
        }
        if let Node::Resource(addr) = node {
            let r = &config.resources[addr];
            let key = r.provider_key();
            let instances = provider_instances(config, &key);
            if let (Some(_), Some((k, span))) = (&r.provider_index, &r.provider) {
                if instances.is_empty() {
                    let why = if config.providers.contains_key(k) {
                        format!("provider \"{k}\" has no for_each: there is no instance to choose")
                    } else {
                        format!("no provider configuration \"{k}\" with for_each")
                    };
                    diags.push(
                        Diagnostic::error("meshform::config::unknown_provider", format!("{addr}: {why}"))
                            .with_span(span.clone(), "invalid provider instance")
                            .with_help("select an instance of a provider block with for_each, or write provider = NAME.ALIAS without a key"),
                    );
                }
                for p in instances {
                    edge(&g, &Node::Provider(p), node);
                }
                continue;
            }
            if let Some((k, span)) = &r.provider {
                if !config.providers.contains_key(k) && !instances.is_empty() {
                    diags.push(
                        Diagnostic::error(
                            "meshform::config::unknown_provider",
                            format!("{addr}: provider \"{k}\" has for_each: name one of its instances"),
                        )
                        .with_span(span.clone(), "which instance?")
                        .with_help(format!("write provider = {k}[each.key] (or a literal key): every instance of the resource chooses one")),
                    );
                } else if !config.providers.contains_key(k) {
                    let names: Vec<&str> = config.providers.keys().map(String::as_str).collect();
                    let mut d = Diagnostic::error(
                        "meshform::config::unknown_provider",
                        format!("{addr}: no provider configuration \"{k}\""),
                    )
                    .with_span(span.clone(), "not declared");
                    d = match did_you_mean(k, names) {
                        Some(s) => d.with_help(format!("did you mean `{s}`?")),
                        None => d.with_help(format!(
                            "declare it: provider \"{}\" {{ alias = \"{}\" … }}",
                            k.split('.').next().unwrap_or(k),
                            k.split('.').nth(1).unwrap_or("")
                        )),
                    };
                    diags.push(d);
                }
            }
            edge(&g, &Node::Provider(key), node);
        }
    }
    for (name, c) in &config.checks {
        for d in &c.data {
            let key = d.provider_key();
            if let Some((k, span)) = &d.provider {
                if !config.providers.contains_key(k) {
                    diags.push(
                        Diagnostic::error(
                            "meshform::config::unknown_provider",
                            format!("check \"{name}\": no provider configuration \"{k}\""),
                        )
                        .with_span(span.clone(), "not declared")
                        .with_help("declare it with a provider block and alias"),
                    );
                }
            }
            edge(&g, &Node::Provider(key), &Node::Check(name.clone()));
        }
    }
    edges.sort_unstable();
    edges.dedup();
    for (a, b) in edges {
        g.graph.add_edge(a, b, ());
    }
    report_cycles(&g, &refs, &mut diags);
    g.order = topo_order(&g);
    (g, diags)
}

/// The nodes a reference points at (several for a whole module call), resolved in module
/// instance `ctx`; reports references to undeclared things.
fn resolve(
    config: &Config,
    from: &Node,
    ctx: &ModulePath,
    r: &Reference,
    diags: &mut Diagnostics,
) -> Vec<Node> {
    let unknown = |what: &str, name: &str, candidates: Vec<String>, span: &Span| {
        let mut d = Diagnostic::error(
            "meshform::config::unknown_reference",
            format!("reference to undeclared {what} \"{name}\""),
        )
        .with_span(span.clone(), "not declared");
        d = match did_you_mean(name, candidates.iter().map(String::as_str)) {
            Some(s) => d.with_help(format!("did you mean `{s}`?")),
            None => d.with_help(format!("declare the {what}, or check the spelling")),
        };
        d
    };
    match &r.target {
        Target::Var(n) => {
            let declared = config.variables_in(ctx);
            if declared.is_some_and(|v| v.contains_key(n)) {
                vec![Node::Var(ctx.clone(), n.clone())]
            } else {
                let c = declared
                    .into_iter()
                    .flat_map(|v| v.keys())
                    .map(|k| format!("var.{k}"))
                    .collect();
                diags.push(unknown("input variable", &format!("var.{n}"), c, &r.span));
                Vec::new()
            }
        }
        Target::Local(n) => {
            let declared = config.locals_in(ctx);
            if declared.is_some_and(|l| l.contains_key(n)) {
                vec![Node::Local(ctx.clone(), n.clone())]
            } else {
                let c = declared
                    .into_iter()
                    .flat_map(|l| l.keys())
                    .map(|k| format!("local.{k}"))
                    .collect();
                diags.push(unknown("local value", &format!("local.{n}"), c, &r.span));
                Vec::new()
            }
        }
        Target::Resource(a) | Target::Absolute(a) => {
            let a = match &r.target {
                Target::Resource(_) => a.clone().in_module(ctx),
                _ => a.clone(),
            };
            if config.resources.contains_key(&a) {
                vec![Node::Resource(a)]
            } else {
                let c = config
                    .resources
                    .keys()
                    .filter(|k| k.mode == a.mode && k.module == a.module)
                    .map(|k| k.local())
                    .collect();
                let what = if a.mode == Mode::Data { "data source" } else { "resource" };
                diags.push(unknown(what, &a.local(), c, &r.span));
                Vec::new()
            }
        }
        Target::Module(call, key, output) => {
            let calls = config.calls.get(ctx);
            let Some(summary) = calls.and_then(|c| c.get(call)) else {
                let c = calls
                    .into_iter()
                    .flat_map(|c| c.keys())
                    .map(|k| format!("module.{k}"))
                    .collect();
                diags.push(unknown("module", &format!("module.{call}"), c, &r.span));
                return Vec::new();
            };
            if let Some(o) = output {
                if !summary.outputs.contains(o) {
                    let c = summary.outputs.iter().cloned().collect();
                    diags.push(unknown(&format!("output value of module.{call}"), o, c, &r.span));
                    return Vec::new();
                }
            }
            config
                .modules
                .range(ctx.child(call, meshform_core::InstanceKey::None)..)
                // The call's instances and their descendants sort together.
                .take_while(|(m, _)| {
                    m.starts_with(ctx) && m.0.get(ctx.0.len()).is_some_and(|s| s.name == *call)
                })
                .filter(|(m, _)| m.0.len() == ctx.0.len() + 1)
                .filter(|(m, _)| key.as_ref().is_none_or(|k| m.last().is_some_and(|s| s.key == *k)))
                .flat_map(|(m, inst)| {
                    inst.outputs
                        .keys()
                        .filter(|k| output.as_ref().is_none_or(|o| o == *k))
                        .map(|k| Node::Output(m.clone(), k.clone()))
                        .collect::<Vec<_>>()
                })
                .collect()
        }
        Target::Count | Target::Each => {
            let ok = match from {
                Node::Resource(a) => matches!(
                    (&config.resources[a].repetition, &r.target),
                    (Repetition::Count(_), Target::Count) | (Repetition::ForEach(_), Target::Each)
                ),
                Node::Provider(k) => {
                    r.target == Target::Each
                        && config.providers.get(k).is_some_and(|p| p.instance.is_some())
                }
                Node::Var(m, _) if !m.is_root() => config.modules.get(m).is_some_and(|i| {
                    matches!(
                        (&i.call.repetition, &r.target),
                        (Repetition::Count(_), Target::Count)
                            | (Repetition::ForEach(_), Target::Each)
                    )
                }),
                _ => false,
            };
            if !ok {
                let (name, arg) = if r.target == Target::Count {
                    ("count", "count")
                } else {
                    ("each", "for_each")
                };
                diags.push(
                    Diagnostic::error(
                        "meshform::config::invalid_reference",
                        format!("\"{name}\" is only available in a resource or module with {arg}"),
                    )
                    .with_span(r.span.clone(), "not available here")
                    .with_help(format!("set {arg} on this resource, or remove the reference")),
                );
            }
            Vec::new()
        }
        Target::Path => Vec::new(),
        Target::Other(name) => {
            diags.push(
                Diagnostic::error(
                    "meshform::config::invalid_reference",
                    format!("invalid reference \"{name}\""),
                )
                .with_span(r.span.clone(), "incomplete or unsupported reference")
                .with_help(
                    "references look like var.NAME, local.NAME, TYPE.NAME.ATTR, data.TYPE.NAME.ATTR, module.NAME.OUTPUT, path.module",
                ),
            );
            Vec::new()
        }
    }
}

fn report_cycles(g: &ConfigGraph, refs: &NodeRefs, diags: &mut Diagnostics) {
    for scc in petgraph::algo::tarjan_scc(&g.graph) {
        let self_loop = scc.len() == 1 && g.graph.contains_edge(scc[0], scc[0]);
        if scc.len() < 2 && !self_loop {
            continue;
        }
        let members: BTreeSet<NodeIndex> = scc.iter().copied().collect();
        let start = *scc.iter().min_by_key(|i| &g.graph[**i]).unwrap_or(&scc[0]);
        let path = cycle_path(g, start, &members);
        let names: Vec<String> = path.iter().map(|i| g.graph[*i].to_string()).collect();
        // Point at the reference that closes the cycle (from the last node back to the first).
        let last = &g.graph[*path.last().unwrap_or(&start)];
        let first = &g.graph[start];
        let span = refs.get(first).and_then(|(ctx, rs)| {
            rs.iter()
                .find(|r| match (&r.target, last) {
                    (Target::Resource(a), Node::Resource(b)) => a.clone().in_module(ctx) == *b,
                    (Target::Absolute(a), Node::Resource(b)) => a == b,
                    (Target::Local(a), Node::Local(_, b)) => a == b,
                    (Target::Var(a), Node::Var(_, b)) => a == b,
                    (Target::Module(c, _, _), Node::Output(m, _)) => {
                        m.last().is_some_and(|s| s.name == *c)
                    }
                    _ => false,
                })
                .map(|r| r.span.clone())
        });
        let cycle = format!("{} -> {}", names.join(" -> "), names[0]);
        diags.push(
            Diagnostic::error("meshform::config::cycle", format!("dependency cycle: {cycle}"))
                .with_opt_span(span, "this reference closes the cycle")
                .with_help("break the cycle: one of these must not depend on the other"),
        );
    }
}

/// A path through the cycle starting at `start`, following edges within the component.
fn cycle_path(g: &ConfigGraph, start: NodeIndex, members: &BTreeSet<NodeIndex>) -> Vec<NodeIndex> {
    // Breadth-first search from start back to start, inside the component.
    let mut prev: HashMap<NodeIndex, NodeIndex> = HashMap::new();
    let mut queue = std::collections::VecDeque::from([start]);
    while let Some(n) = queue.pop_front() {
        let mut next: Vec<NodeIndex> =
            g.graph.neighbors(n).filter(|m| members.contains(m)).collect();
        next.sort_by_key(|i| &g.graph[*i]);
        for m in next {
            if m == start {
                let mut path = vec![n];
                let mut cur = n;
                while cur != start {
                    cur = prev[&cur];
                    path.push(cur);
                }
                path.reverse();
                return path;
            }
            if let std::collections::hash_map::Entry::Vacant(e) = prev.entry(m) {
                e.insert(n);
                queue.push_back(m);
            }
        }
    }
    vec![start]
}

/// Kahn's algorithm with a sorted ready set; nodes on cycles are appended at the end.
fn topo_order(g: &ConfigGraph) -> Vec<Node> {
    let mut indeg: HashMap<NodeIndex, usize> = g
        .graph
        .node_indices()
        .map(|i| (i, g.graph.neighbors_directed(i, petgraph::Direction::Incoming).count()))
        .collect();
    let mut ready: BTreeSet<(&Node, NodeIndex)> =
        indeg.iter().filter(|(_, d)| **d == 0).map(|(i, _)| (&g.graph[*i], *i)).collect();
    let mut order = Vec::with_capacity(g.graph.node_count());
    while let Some((n, i)) = ready.pop_first() {
        order.push(n.clone());
        for m in g.graph.neighbors(i) {
            if let Some(d) = indeg.get_mut(&m) {
                *d -= 1;
                if *d == 0 {
                    ready.insert((&g.graph[m], m));
                }
            }
        }
    }
    if order.len() < g.graph.node_count() {
        let placed: BTreeSet<Node> = order.iter().cloned().collect();
        let mut rest: Vec<Node> =
            g.graph.node_weights().filter(|n| !placed.contains(*n)).cloned().collect();
        rest.sort();
        order.extend(rest);
    }
    order
}
