//! The values expressions see while planning and applying, per module instance: `var`, `local`,
//! `path`, `module`, resources by type and `data`, updated as the walk proceeds; and
//! [`evaluate_node`], the one evaluation of variables, locals and outputs of the graph.

use std::collections::BTreeMap;

use meshform_config::eval::{Evaluator, Overlay, Scope};
use meshform_config::model::{CallKind, Config};
use meshform_config::modules::path_value;
use meshform_core::{Diagnostic, Diagnostics, InstanceKey, Mode, ModulePath, ResourceAddr, Value};

use crate::graph::Node;

/// The values of every module instance: the root's and each module instance's.
#[derive(Clone, Debug, Default)]
pub struct Values {
    root: ModuleValues,
    modules: BTreeMap<ModulePath, ModuleValues>,
}

/// Root values by name (`var`, `local`, a resource type, `data`, `path`, `module`) of one module
/// instance.
#[derive(Clone, Debug, Default)]
pub struct ModuleValues {
    roots: BTreeMap<String, Value>,
}

fn entry<'a>(m: &'a mut BTreeMap<String, Value>, k: &str) -> &'a mut BTreeMap<String, Value> {
    let v = m.entry(k.to_owned()).or_insert_with(|| Value::Map(BTreeMap::new()));
    if !matches!(v, Value::Map(_)) {
        *v = Value::Map(BTreeMap::new());
    }
    match v {
        Value::Map(m) => m,
        // Just replaced by a map above.
        _ => unreachable!("entry is a map"),
    }
}

/// Puts `value` at `key` of a resource's or module call's whole value: the value itself (no
/// key), a list element (`count`) or a map entry (`for_each`).
fn put_keyed(slot_of: &mut BTreeMap<String, Value>, name: &str, key: &InstanceKey, value: Value) {
    match key {
        InstanceKey::None => {
            slot_of.insert(name.to_owned(), value);
        }
        InstanceKey::Int(i) => {
            let slot = slot_of.entry(name.to_owned()).or_insert_with(|| Value::List(Vec::new()));
            if !matches!(slot, Value::List(_)) {
                *slot = Value::List(Vec::new());
            }
            if let Value::List(items) = slot {
                let i = usize::try_from(*i).unwrap_or(0);
                if items.len() <= i {
                    items.resize(i + 1, Value::Null);
                }
                items[i] = value;
            }
        }
        InstanceKey::Str(k) => {
            let slot =
                slot_of.entry(name.to_owned()).or_insert_with(|| Value::Map(BTreeMap::new()));
            if !matches!(slot, Value::Map(_)) {
                *slot = Value::Map(BTreeMap::new());
            }
            if let Value::Map(m) = slot {
                m.insert(k.clone(), value);
            }
        }
    }
}

impl ModuleValues {
    fn new(module_dir: &std::path::Path, root_dir: &std::path::Path) -> ModuleValues {
        let mut v = ModuleValues::default();
        v.roots.insert("path".into(), path_value(module_dir, root_dir));
        v.roots.insert("var".into(), Value::Map(BTreeMap::new()));
        v.roots.insert("local".into(), Value::Map(BTreeMap::new()));
        v
    }

    fn by_type(&mut self, addr: &ResourceAddr) -> &mut BTreeMap<String, Value> {
        match addr.mode {
            Mode::Managed => entry(&mut self.roots, &addr.ty),
            Mode::Data => entry(entry(&mut self.roots, "data"), &addr.ty),
        }
    }
}

impl Values {
    /// Values for a configuration without modules (or before its module instances are known).
    pub fn new(dir: &std::path::Path) -> Values {
        Values { root: ModuleValues::new(dir, dir), modules: BTreeMap::new() }
    }

    /// Values for every module instance of an expanded configuration, with each `module.NAME`
    /// shaped as its call is (an object, a list for `count`, a map for `for_each`) before any
    /// output is known.
    pub fn for_config(config: &Config) -> Values {
        let mut v = Values::new(&config.dir);
        for (m, inst) in &config.modules {
            v.modules.insert(m.clone(), ModuleValues::new(&inst.dir, &config.dir));
        }
        for (m, calls) in &config.calls {
            let mv = v.scope_mut(m);
            let module = entry(&mut mv.roots, "module");
            for (name, c) in calls {
                let empty = match c.kind {
                    CallKind::Single => Value::Map(BTreeMap::new()),
                    // A call whose instances are not known yet (validate without the variables)
                    // has one keyless placeholder instance: its value is unknown.
                    _ if config.modules.contains_key(&m.child(name, InstanceKey::None)) => {
                        Value::Unknown
                    }
                    CallKind::Count => Value::List(Vec::new()),
                    CallKind::ForEach => Value::Map(BTreeMap::new()),
                };
                module.insert(name.clone(), empty);
            }
        }
        for m in config.modules.keys() {
            let (Some(step), parent) = (m.last(), m.parent()) else { continue };
            if v.scope(&parent)
                .roots
                .get("module")
                .and_then(|x| x.get(&step.name))
                .is_some_and(Value::is_unknown)
            {
                continue;
            }
            let module = entry(&mut v.scope_mut(&parent).roots, "module");
            put_keyed(module, &step.name, &step.key, Value::Map(BTreeMap::new()));
        }
        v
    }

    /// The values expressions of module instance `m` see (the root's for an unknown path).
    pub fn scope(&self, m: &ModulePath) -> &ModuleValues {
        if m.is_root() {
            return &self.root;
        }
        self.modules.get(m).unwrap_or(&self.root)
    }

    fn scope_mut(&mut self, m: &ModulePath) -> &mut ModuleValues {
        if m.is_root() {
            return &mut self.root;
        }
        self.modules.entry(m.clone()).or_default()
    }

    pub fn set_var(&mut self, m: &ModulePath, name: &str, value: Value) {
        entry(&mut self.scope_mut(m).roots, "var").insert(name.to_owned(), value);
    }

    pub fn set_local(&mut self, m: &ModulePath, name: &str, value: Value) {
        entry(&mut self.scope_mut(m).roots, "local").insert(name.to_owned(), value);
    }

    /// Sets one output of module instance `m` where its caller sees it (`module.NAME…`).
    pub fn set_output(&mut self, m: &ModulePath, name: &str, value: Value) {
        let Some(step) = m.last() else { return };
        let module = entry(&mut self.scope_mut(&m.parent()).roots, "module");
        if module.get(&step.name).is_some_and(Value::is_unknown) {
            // The call's instances are not known yet: its value stays unknown.
            return;
        }
        let object = match &step.key {
            InstanceKey::None => entry(module, &step.name),
            InstanceKey::Int(i) => {
                let slot =
                    module.entry(step.name.clone()).or_insert_with(|| Value::List(Vec::new()));
                if !matches!(slot, Value::List(_)) {
                    *slot = Value::List(Vec::new());
                }
                let Value::List(items) = slot else { return };
                let i = usize::try_from(*i).unwrap_or(0);
                if items.len() <= i {
                    items.resize(i + 1, Value::Map(BTreeMap::new()));
                }
                if !matches!(items[i], Value::Map(_)) {
                    items[i] = Value::Map(BTreeMap::new());
                }
                let Value::Map(o) = &mut items[i] else { return };
                o
            }
            InstanceKey::Str(k) => entry(entry(module, &step.name), k),
        };
        object.insert(name.to_owned(), value);
    }

    /// Sets a whole resource's value: one object, a list (count) or a map (for_each).
    pub fn set_resource(&mut self, addr: &ResourceAddr, value: Value) {
        self.scope_mut(&addr.module).by_type(addr).insert(addr.name.clone(), value);
    }

    /// Sets one instance inside its resource's value.
    pub fn set_instance(&mut self, addr: &ResourceAddr, key: &InstanceKey, value: Value) {
        put_keyed(self.scope_mut(&addr.module).by_type(addr), &addr.name, key, value);
    }

    pub fn get_resource(&self, addr: &ResourceAddr) -> Option<&Value> {
        let roots = &self.scope(&addr.module).roots;
        let root = match addr.mode {
            Mode::Managed => roots.get(&addr.ty)?,
            Mode::Data => roots.get("data")?.get(&addr.ty)?,
        };
        root.get(&addr.name)
    }
}

impl Scope for ModuleValues {
    fn root(&self, name: &str) -> Option<&Value> {
        self.roots.get(name)
    }

    fn root_names(&self) -> Vec<String> {
        self.roots.keys().cloned().collect()
    }
}

/// The root module's values.
impl Scope for Values {
    fn root(&self, name: &str) -> Option<&Value> {
        self.root.root(name)
    }

    fn root_names(&self) -> Vec<String> {
        self.root.root_names()
    }
}

/// Evaluates a local, a module instance's input variable (its call's argument, in the caller) or
/// a module instance's output, and stores it where expressions see it; on an error the value is
/// unknown. Root variables come from outside and root outputs are planned: nothing to do for them.
pub fn evaluate_node(config: &Config, values: &mut Values, node: &Node) -> Diagnostics {
    let mut diags = Diagnostics::default();
    match node {
        Node::Local(m, name) => {
            let Some(l) = config.locals_in(m).and_then(|l| l.get(name)) else { return diags };
            let v = Evaluator::new(values.scope(m), &l.expr.span.file, &config.dir)
                .eval(&l.expr.node)
                .unwrap_or_else(|d| {
                    diags.push(d);
                    Value::Unknown
                });
            values.set_local(m, name, v);
        }
        Node::Var(m, name) if !m.is_root() => {
            let Some(inst) = config.modules.get(m) else { return diags };
            let Some(decl) = inst.variables.get(name) else { return diags };
            let parent = m.parent();
            let given = inst.call.args.get(name).map(|a| {
                let scope = Overlay { base: values.scope(&parent), extra: &inst.repetition_values };
                let v = Evaluator::new(&scope, &a.expr.span.file, &config.dir)
                    .eval(&a.expr.node)
                    .unwrap_or_else(|d| {
                        diags.push(d);
                        Value::Unknown
                    });
                (v, a.expr.span.clone())
            });
            let v = meshform_config::vars::module_input(name, decl, given, &config.dir)
                .unwrap_or_else(|d| {
                    diags.extend(d);
                    Value::Unknown
                });
            values.set_var(m, name, v);
        }
        Node::Output(m, name) if !m.is_root() => {
            let Some(o) = config.outputs_in(m).and_then(|o| o.get(name)) else { return diags };
            let v = Evaluator::new(values.scope(m), &o.value.span.file, &config.dir)
                .eval(&o.value.node)
                .unwrap_or_else(|d| {
                    diags.push(d);
                    Value::Unknown
                });
            if v.contains_sensitive() && !o.sensitive {
                diags.push(sensitive_output(&format!("{m}.output.{name}"), &o.value.span));
            }
            values.set_output(m, name, v.with_mark(o.sensitive));
        }
        _ => {}
    }
    diags
}

/// An output whose value holds secrets without `sensitive = true`.
pub fn sensitive_output(name: &str, span: &meshform_core::Span) -> Diagnostic {
    Diagnostic::error(
        "meshform::config::sensitive_output",
        format!("output \"{name}\" contains sensitive values"),
    )
    .with_span(span.clone(), "sensitive value")
    .with_help("add `sensitive = true` to the output block to confirm it may hold secrets")
}
