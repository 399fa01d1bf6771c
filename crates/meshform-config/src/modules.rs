//! Module expansion: every module call's instances, known before planning (their `count` and
//! `for_each` may use variables and locals, as provider `for_each` in OpenTofu), flattened into one
//! [`Config`] whose resources carry module addresses and whose module instances keep their own
//! variables, locals and outputs for evaluation in their own scope.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use meshform_core::{
    implied_provider, AddrPattern, Diagnostic, Diagnostics, InstanceKey, ModulePath, ModulePattern,
    Selector, Span, Value,
};

use crate::eval::{Evaluator, MapScope, Overlay, Scope};
use crate::model::*;
use crate::repetition::{count_instances, for_each_instances, Instance, RepetitionError};
use crate::suggest::did_you_mean;

/// A flattened configuration.
pub struct Expansion {
    pub config: Config,
    pub diags: Diagnostics,
    /// Some call's `count`/`for_each` was unknown (variables not given): expanded as one instance
    /// for checking; expand again with the variables' values to plan.
    pub incomplete: bool,
}

/// Flattens `root`'s module calls and provider blocks with `for_each`. With `vars` (the root variables' values) every `count` and
/// `for_each` must be known; without, unknown ones give a single instance, for `validate`.
pub fn expand(root: &Config, vars: Option<&BTreeMap<String, Value>>) -> Expansion {
    let mut out = root.clone();
    out.modules.clear();
    out.calls.clear();
    let mut x = Expander {
        out,
        diags: Diagnostics::default(),
        incomplete: false,
        strict: vars.is_some(),
        reported: BTreeSet::new(),
    };
    let root_vars: BTreeMap<String, Value> = root
        .variables
        .keys()
        .map(|k| (k.clone(), vars.and_then(|v| v.get(k)).cloned().unwrap_or(Value::Unknown)))
        .collect();
    if root.providers.values().any(|p| p.for_each.is_some()) {
        let scope = static_scope(root, &root.dir, &root.dir, root_vars.clone());
        x.expand_providers(root, &scope);
    }
    if root.has_modules() {
        let providers = ProviderMap { passed: BTreeMap::new(), root: true };
        x.expand_calls(root, &ModulePath::root(), root_vars, &providers, &[]);
    }
    resolve_module_dependencies(&mut x.out);
    Expansion { config: x.out, diags: x.diags, incomplete: x.incomplete }
}

/// `depends_on = [module.NAME]`: one entry per resource of the call's instances (a call with no
/// instances adds nothing). A call that does not exist stays, for the graph to report.
fn resolve_module_dependencies(config: &mut Config) {
    let all: Vec<meshform_core::ResourceAddr> = config.resources.keys().cloned().collect();
    let inside = |ctx: &ModulePath, call: &str| -> Vec<meshform_core::ResourceAddr> {
        all.iter()
            .filter(|a| a.module.starts_with(ctx))
            .filter(|a| a.module.0.get(ctx.0.len()).is_some_and(|s| s.name == call))
            .cloned()
            .collect()
    };
    for r in config.resources.values_mut() {
        if r.depends_on.iter().all(|d| d.module.is_none()) {
            continue;
        }
        let mut out = Vec::new();
        for d in std::mem::take(&mut r.depends_on) {
            let Some(call) = &d.module else {
                out.push(d);
                continue;
            };
            let known = config.calls.get(&d.addr.module).is_some_and(|c| c.contains_key(call));
            if !known {
                out.push(d);
                continue;
            }
            out.extend(inside(&d.addr.module, call).into_iter().map(|addr| DependsOn {
                addr,
                key: None,
                span: d.span.clone(),
                module: None,
            }));
        }
        r.depends_on = out;
    }
}

/// An address written inside the module instance at `path` (`aws_x.a`, `module.inner`), as the
/// root names it (`module.dr["k"].aws_x.a`).
fn selector_in(selector: &Selector, path: &ModulePath) -> Selector {
    match selector {
        Selector::Resource(p) => {
            let mut steps = path.0.clone();
            steps.extend(p.resource.module.0.iter().cloned());
            Selector::Resource(AddrPattern {
                resource: p.resource.clone().in_module(&ModulePath(steps)),
                key: p.key.clone(),
            })
        }
        Selector::Module(m) => {
            let mut steps: Vec<(String, Option<InstanceKey>)> =
                path.0.iter().map(|s| (s.name.clone(), Some(s.key.clone()))).collect();
            steps.extend(m.0.iter().cloned());
            Selector::Module(ModulePattern(steps))
        }
    }
}

/// Which root configuration key each of a module instance's provider keys means.
#[derive(Clone, Default)]
struct ProviderMap {
    /// Keys passed by the call (or inherited default keys), to root keys.
    passed: BTreeMap<String, String>,
    /// The root module's own map: every key is itself.
    root: bool,
}

impl ProviderMap {
    /// The root key for a key used inside the module: what the call passed; else, for a default
    /// configuration (`kubernetes`), the root module's; `None` for an aliased configuration the
    /// call did not pass (aliased configurations are never inherited).
    fn resolve(&self, key: &str) -> Option<String> {
        match self.passed.get(key) {
            Some(k) => Some(k.clone()),
            None if self.root => Some(key.to_owned()),
            None if key.contains('.') => None,
            None => Some(key.to_owned()),
        }
    }

    /// A call instance's map: its `providers` entries resolved in the caller (a keyed entry,
    /// `kubernetes.by_cluster[each.key]`, with the key evaluated for this instance); without any,
    /// the caller's default configurations, inherited.
    fn for_call(
        &self,
        call: &ModuleCallDef,
        path: &ModulePath,
        scope: &dyn Scope,
        dir: &Path,
        diags: &mut Diagnostics,
    ) -> ProviderMap {
        if call.providers.is_empty() {
            let passed = self
                .passed
                .iter()
                .filter(|(k, _)| !k.contains('.'))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            return ProviderMap { passed, root: false };
        }
        let mut passed = BTreeMap::new();
        for p in &call.providers {
            let parent = match &p.index {
                None => p.parent.clone(),
                Some(e) => match instance_key(scope, e, dir) {
                    Ok(k) => format!("{}{k}", p.parent),
                    Err(d) => {
                        diags.push(d);
                        continue;
                    }
                },
            };
            match self.resolve(&parent) {
                Some(root_key) => {
                    passed.insert(p.child.clone(), root_key);
                }
                None => diags.push(missing_provider(&parent, &p.span, path)),
            }
        }
        ProviderMap { passed, root: false }
    }
}

struct Expander {
    out: Config,
    diags: Diagnostics,
    incomplete: bool,
    strict: bool,
    /// Module directories whose own problems were reported (a module called twice reports once).
    reported: BTreeSet<std::path::PathBuf>,
}

/// The key `[KEY]` of a provider instance reference, as written after `NAME.ALIAS`: a string (a
/// number or bool is converted, as OpenTofu does), known before planning.
pub fn instance_key(scope: &dyn Scope, e: &Expr, dir: &Path) -> Result<InstanceKey, Diagnostic> {
    let invalid = |why: &str| {
        Diagnostic::error(
            "meshform::config::provider_instance_key",
            format!("invalid provider instance key: {why}"),
        )
        .with_span(e.span.clone(), "instance key")
        .with_help("the key selects one instance of a provider block with for_each: a string known before planning, such as each.key")
    };
    let v = Evaluator::new(scope, &e.span.file, dir).eval(&e.node)?;
    if v.contains_unknown() {
        return Err(invalid("it is not known before planning"));
    }
    if v.is_sensitive() {
        return Err(invalid("it is sensitive"));
    }
    match v {
        Value::String(s) => Ok(InstanceKey::Str(s)),
        Value::Bool(b) => Ok(InstanceKey::Str(b.to_string())),
        Value::Number(_) => Ok(InstanceKey::Str(v.to_string())),
        other => Err(invalid(&format!("a string is required, got {}", other.kind()))),
    }
}

impl Expander {
    /// Root provider blocks with `for_each`: one configuration per element, keyed
    /// `NAME.ALIAS["KEY"]`, each evaluated with its `each`.
    fn expand_providers(&mut self, root: &Config, scope: &MapScope) {
        for (block_key, def) in &root.providers {
            let Some(e) = &def.for_each else { continue };
            self.out.providers.remove(block_key);
            let result = match Evaluator::new(scope, &e.span.file, &root.dir).eval(&e.node) {
                Ok(v) => for_each_instances(&v),
                Err(d) => {
                    self.diags.push(d);
                    continue;
                }
            };
            let instances = match result {
                Ok(i) => i,
                Err(RepetitionError::Unknown) if !self.strict => {
                    // Checked as one instance until the variables are known.
                    self.incomplete = true;
                    vec![(InstanceKey::None, BTreeMap::from([("each".to_owned(), Value::Unknown)]))]
                }
                Err(RepetitionError::Unknown) => {
                    self.diags.push(
                        Diagnostic::error(
                            "meshform::config::provider_for_each",
                            format!("provider \"{block_key}\": for_each must be known before planning"),
                        )
                        .with_span(e.span.clone(), "depends on values known only during the run")
                        .with_help("a provider's for_each is evaluated before the plan: it may use variables, locals and path.*, not resources, data sources or module outputs"),
                    );
                    continue;
                }
                Err(RepetitionError::Invalid(msg)) => {
                    self.diags.push(
                        Diagnostic::error("meshform::config::provider_for_each", format!("provider \"{block_key}\": {msg}"))
                            .with_span(e.span.clone(), "invalid for_each")
                            .with_help("for_each takes a map, or a set of strings: for_each = toset([\"a\", \"b\"])"),
                    );
                    continue;
                }
            };
            for (key, each) in instances {
                let mut p = def.clone();
                p.instance = Some((key, each));
                self.out.providers.insert(p.key(), p);
            }
        }
    }

    fn expand_calls(
        &mut self,
        src: &Config,
        path: &ModulePath,
        vars: BTreeMap<String, Value>,
        providers: &ProviderMap,
        deps: &[DependsOn],
    ) {
        let mut summaries = BTreeMap::new();
        if src.module_calls.is_empty() {
            self.out.calls.insert(path.clone(), summaries);
            return;
        }
        let scope = static_scope(src, self.out.dir_of(path), &self.out.dir, vars);
        for call in src.module_calls.values() {
            let Some(child) = src.module_sources.get(&call.name) else { continue };
            self.check_call(call, child);
            let kind = match call.repetition {
                Repetition::Single => CallKind::Single,
                Repetition::Count(_) => CallKind::Count,
                Repetition::ForEach(_) => CallKind::ForEach,
            };
            summaries.insert(
                call.name.clone(),
                CallSummary {
                    span: call.span.clone(),
                    kind,
                    outputs: child.outputs.keys().cloned().collect(),
                },
            );
            let Some(instances) = self.instances(call, &scope) else { continue };
            let mut call_deps: Vec<DependsOn> = deps.to_vec();
            call_deps.extend(call.depends_on.iter().map(|d| DependsOn {
                addr: d.addr.clone().in_module(path),
                key: d.key.clone(),
                span: d.span.clone(),
                module: d.module.clone(),
            }));
            for (key, rep) in instances {
                let child_path = path.child(&call.name, key);
                let over = Overlay { base: &scope, extra: &rep };
                let child_providers =
                    providers.for_call(call, path, &over, &self.out.dir, &mut self.diags);
                let child_vars = self.static_inputs(call, child, &scope, &rep);
                self.add_instance(call, child, &child_path, rep, &child_providers, &call_deps);
                self.resolve_rollouts(child, &child_path, &child_vars);
                self.expand_calls(child, &child_path, child_vars, &child_providers, &call_deps);
            }
        }
        self.out.calls.insert(path.clone(), summaries);
    }

    /// Arguments that are not variables of the module, required variables not given, and what a
    /// module may not hold (provider configurations, checks): reported once per call.
    fn check_call(&mut self, call: &ModuleCallDef, child: &Config) {
        for (name, arg) in &call.args {
            if !child.variables.contains_key(name) {
                let mut d = Diagnostic::error(
                    "meshform::config::module_argument",
                    format!("module \"{}\" has no input variable \"{name}\"", call.name),
                )
                .with_span(arg.name_span.clone(), "unsupported argument");
                d = match did_you_mean(name, child.variables.keys().map(String::as_str)) {
                    Some(s) => d.with_help(format!("did you mean `{s}`?")),
                    None => d.with_help(format!(
                        "the module's variables are declared in {}: {}",
                        child.dir.display(),
                        if child.variables.is_empty() {
                            "none".to_owned()
                        } else {
                            child.variables.keys().cloned().collect::<Vec<_>>().join(", ")
                        }
                    )),
                };
                self.diags.push(d);
            }
        }
        for (name, v) in &child.variables {
            if v.default.is_none() && !call.args.contains_key(name) {
                self.diags.push(
                    Diagnostic::error(
                        "meshform::config::module_missing_argument",
                        format!("module \"{}\": missing required argument \"{name}\"", call.name),
                    )
                    .with_span(call.span.clone(), format!("\"{name}\" is not set"))
                    .with_help(format!("set `{name} = …` in the module block: the module declares it without a default (at {})", v.span.location())),
                );
            }
        }
        if !self.reported.insert(child.dir.clone()) {
            return;
        }
        for p in child.providers.values() {
            self.diags.push(
                Diagnostic::error(
                    "meshform::config::module_provider_block",
                    format!("provider configuration \"{}\" inside a module", p.key()),
                )
                .with_span(p.span.clone(), "declared in a module")
                .with_help("configure providers in the root module and pass them to the module with `providers = { NAME = NAME.ALIAS }` in the module block"),
            );
        }
        for i in &child.imports {
            self.diags.push(
                Diagnostic::error(
                    "meshform::config::module_import",
                    "import blocks are only allowed in the root module",
                )
                .with_span(i.span.clone(), "declared in a module")
                .with_help(
                    "write it in the root module with the full address: to = module.NAME.TYPE.NAME",
                ),
            );
        }
        for c in child.checks.values() {
            self.diags.push(
                Diagnostic::error(
                    "meshform::config::module_check",
                    format!("check \"{}\" inside a module", c.name),
                )
                .with_span(c.span.clone(), "declared in a module")
                .with_help("declare checks in the root module; a module can expose what they need as outputs"),
            );
        }
    }

    /// The call's instances; an unknown `count`/`for_each` is an error when planning and one
    /// instance (with unknown `count`/`each`) when validating.
    fn instances(&mut self, call: &ModuleCallDef, scope: &MapScope) -> Option<Vec<Instance>> {
        let (e, arg) = match &call.repetition {
            Repetition::Single => return Some(vec![(InstanceKey::None, BTreeMap::new())]),
            Repetition::Count(e) => (e, "count"),
            Repetition::ForEach(e) => (e, "for_each"),
        };
        let result = match Evaluator::new(scope, &e.span.file, &self.out.dir).eval(&e.node) {
            Ok(v) if arg == "count" => count_instances(&v),
            Ok(v) => for_each_instances(&v),
            Err(d) => {
                self.diags.push(d);
                return None;
            }
        };
        match result {
            Ok(i) => Some(i),
            Err(RepetitionError::Unknown) if !self.strict => {
                self.incomplete = true;
                let name = if arg == "count" { "count" } else { "each" };
                Some(vec![(InstanceKey::None, BTreeMap::from([(name.to_owned(), Value::Unknown)]))])
            }
            Err(RepetitionError::Unknown) => {
                self.diags.push(
                    Diagnostic::error(
                        "meshform::config::module_repetition_unknown",
                        format!("module \"{}\": {arg} must be known before planning", call.name),
                    )
                    .with_span(e.span.clone(), "depends on values known only during the run")
                    .with_help(format!("a module's {arg} is evaluated before the plan: it may use variables, locals and path.*, not resources, data sources or module outputs")),
                );
                None
            }
            Err(RepetitionError::Invalid(msg)) => {
                self.diags.push(
                    Diagnostic::error(
                        if arg == "count" { "meshform::config::invalid_count" } else { "meshform::config::invalid_for_each" },
                        format!("module \"{}\": {msg}", call.name),
                    )
                    .with_span(e.span.clone(), format!("invalid {arg}"))
                    .with_help(if arg == "count" { "use a number such as 2, or length(var.list)" } else { "for_each takes a map, or a set of strings: for_each = toset([\"a\", \"b\"])" }),
                );
                None
            }
        }
    }

    /// The child's variables as far as they are known before planning (for its own calls).
    fn static_inputs(
        &self,
        call: &ModuleCallDef,
        child: &Config,
        scope: &MapScope,
        rep: &BTreeMap<String, Value>,
    ) -> BTreeMap<String, Value> {
        let over = Overlay { base: scope, extra: rep };
        child
            .variables
            .iter()
            .map(|(name, decl)| {
                let given = call.args.get(name).map(|a| {
                    let v = Evaluator::new(&over, &a.expr.span.file, &self.out.dir)
                        .eval(&a.expr.node)
                        .unwrap_or(Value::Unknown);
                    (v, a.expr.span.clone())
                });
                let v = crate::vars::module_input(name, decl, given, &self.out.dir)
                    .unwrap_or(Value::Unknown);
                (name.clone(), v)
            })
            .collect()
    }

    fn add_instance(
        &mut self,
        call: &Arc<ModuleCallDef>,
        child: &Config,
        path: &ModulePath,
        rep: BTreeMap<String, Value>,
        providers: &ProviderMap,
        deps: &[DependsOn],
    ) {
        self.out.modules.insert(
            path.clone(),
            ModuleInstanceDef {
                dir: child.dir.clone(),
                call: Arc::clone(call),
                repetition_values: rep,
                variables: child.variables.clone(),
                locals: child.locals.clone(),
                outputs: child.outputs.clone(),
            },
        );
        // `moved` and `removed` blocks name addresses within the module: made absolute for this
        // instance, they join the root's (a module author's refactoring, as in Terraform).
        for m in &child.moved {
            self.out.moved.push(MovedDef {
                span: m.span.clone(),
                from: (selector_in(&m.from.0, path), m.from.1.clone()),
                to: (selector_in(&m.to.0, path), m.to.1.clone()),
            });
        }
        for r in &child.removed {
            self.out.removed.push(RemovedDef {
                from: (selector_in(&r.from.0, path), r.from.1.clone()),
                ..r.clone()
            });
        }
        for (addr, def) in &child.resources {
            let mut r = def.clone();
            r.addr = addr.clone().in_module(path);
            for d in &mut r.depends_on {
                d.addr = d.addr.clone().in_module(path);
            }
            r.depends_on.extend(deps.iter().cloned());
            let (written, span) = match &def.provider {
                Some((k, s)) => (k.clone(), s.clone()),
                None => (implied_provider(&addr.ty).to_owned(), def.type_span.clone()),
            };
            match providers.resolve(&written) {
                Some(root_key) if def.provider.is_some() || root_key != written => {
                    r.provider = Some((root_key, span));
                }
                Some(_) => {}
                None => self.diags.push(missing_provider(&written, &span, path)),
            }
            self.out.resources.insert(r.addr.clone(), r);
        }
    }
}

impl Expander {
    /// A module resource's rollout with `order`/`checks` from the module's variables: evaluated for
    /// this instance into instance keys and check names (the root module's checks).
    fn resolve_rollouts(
        &mut self,
        child: &Config,
        path: &ModulePath,
        vars: &BTreeMap<String, Value>,
    ) {
        let wants = |r: &ResourceDef| {
            r.lifecycle
                .rollout
                .as_ref()
                .is_some_and(|o| o.order_expr.is_some() || o.checks_expr.is_some())
        };
        if !child.resources.values().any(wants) {
            return;
        }
        let scope = static_scope(child, &child.dir, &self.out.dir, vars.clone());
        let strict = self.strict;
        let mut incomplete = false;
        for addr in child.resources.iter().filter(|(_, d)| wants(d)).map(|(a, _)| a) {
            let Some(r) = self.out.resources.get_mut(&addr.clone().in_module(path)) else {
                continue;
            };
            let Some(rollout) = r.lifecycle.rollout.as_mut() else { continue };
            let mut strings = |e: &Expr, diags: &mut Diagnostics| -> Option<Vec<String>> {
                let v = match Evaluator::new(&scope, &e.span.file, &self.out.dir).eval(&e.node) {
                    Ok(v) => v,
                    Err(d) => {
                        diags.push(d);
                        return None;
                    }
                };
                if v.contains_unknown() && !strict {
                    // Known once the variables are: expanded again then.
                    incomplete = true;
                    return Some(Vec::new());
                }
                let items =
                    v.as_list().map(<[Value]>::to_vec).or_else(|| v.is_null().then(Vec::new));
                match items.and_then(|i| {
                    i.iter().map(|x| x.as_str().map(str::to_owned)).collect::<Option<Vec<_>>>()
                }) {
                    Some(list) => Some(list),
                    None => {
                        diags.push(
                            Diagnostic::error(
                                "meshform::config::invalid_rollout",
                                format!("{path}: a rollout's order and checks from variables are lists of strings known before planning, got {}", v.kind()),
                            )
                            .with_span(e.span.clone(), "not a list of strings")
                            .with_help("pass keys (order = [\"cluster-2\", \"cluster-1\"]) and check names of the root module (checks = [\"from_cluster_1\"])"),
                        );
                        None
                    }
                }
            };
            if let Some(e) = rollout.order_expr.take() {
                if let Some(keys) = strings(&e, &mut self.diags) {
                    rollout.order =
                        keys.into_iter().map(|k| (InstanceKey::Str(k), e.span.clone())).collect();
                }
            }
            if let Some(e) = rollout.checks_expr.take() {
                if let Some(names) = strings(&e, &mut self.diags) {
                    rollout.checks = names
                        .into_iter()
                        .map(|n| {
                            (n.strip_prefix("check.").unwrap_or(&n).to_owned(), e.span.clone())
                        })
                        .collect();
                }
            }
        }
        self.incomplete |= incomplete;
    }
}

fn missing_provider(key: &str, span: &Span, path: &ModulePath) -> Diagnostic {
    let (name, alias) = key.split_once('.').unwrap_or((key, ""));
    Diagnostic::error(
        "meshform::config::module_missing_provider",
        format!("{path}: no provider configuration \"{key}\" was passed to the module"),
    )
    .with_span(span.clone(), "needs this configuration")
    .with_help(format!("aliased configurations are not inherited: pass it in the module block, providers = {{ {name}.{alias} = {name}.ALIAS }}"))
}

/// The values a module instance's calls can use before planning: its variables (as far as known),
/// its locals (evaluated until nothing changes; what reads a resource stays unknown), `path`, and
/// every resource, data source and module as unknown.
fn static_scope(src: &Config, dir: &Path, root: &Path, vars: BTreeMap<String, Value>) -> MapScope {
    let mut roots: BTreeMap<String, Value> = BTreeMap::new();
    roots.insert("var".into(), Value::Map(vars));
    roots.insert("path".into(), path_value(dir, root));
    for addr in src.resources.keys() {
        match addr.mode {
            meshform_core::Mode::Managed => roots.insert(addr.ty.clone(), Value::Unknown),
            meshform_core::Mode::Data => roots.insert("data".into(), Value::Unknown),
        };
    }
    roots.insert("module".into(), Value::Unknown);
    let mut locals: BTreeMap<String, Value> =
        src.locals.keys().map(|k| (k.clone(), Value::Unknown)).collect();
    roots.insert("local".into(), Value::Map(locals.clone()));
    for _ in 0..=src.locals.len() {
        let scope = MapScope(roots.clone());
        let mut changed = false;
        for (name, l) in &src.locals {
            let v = Evaluator::new(&scope, &l.expr.span.file, root)
                .eval(&l.expr.node)
                .unwrap_or(Value::Unknown);
            if !v.same_as(&locals[name]) || (v.is_unknown() != locals[name].is_unknown()) {
                changed = true;
                locals.insert(name.clone(), v);
            }
        }
        roots.insert("local".into(), Value::Map(locals.clone()));
        if !changed {
            break;
        }
    }
    MapScope(roots)
}

/// The values expressions of the root module can use before planning: variables as given,
/// locals as far as they do not read resources, `path.*` (for `import` ids).
pub fn root_static_scope(root: &Config, vars: &BTreeMap<String, Value>) -> MapScope {
    static_scope(root, &root.dir, &root.dir, vars.clone())
}

/// `path` in a module: `path.module` its directory, `path.root` the root module's, `path.cwd`.
pub fn path_value(module: &Path, root: &Path) -> Value {
    Value::map([
        ("module", Value::string(module.display().to_string())),
        ("root", Value::string(root.display().to_string())),
        ("cwd", Value::string(".")),
    ])
}
