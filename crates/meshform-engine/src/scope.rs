//! The values expressions see while planning and applying: `var`, `local`, `path`, resources by type
//! and `data`, updated as the walk proceeds.

use std::collections::BTreeMap;

use meshform_config::eval::Scope;
use meshform_core::{InstanceKey, Mode, ResourceAddr, Value};

/// Root values by name (`var`, `local`, a resource type, `data`, `path`).
#[derive(Clone, Debug, Default)]
pub struct Values {
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

impl Values {
    pub fn new(dir: &std::path::Path) -> Values {
        let mut v = Values::default();
        let d = Value::string(dir.display().to_string());
        v.roots.insert(
            "path".into(),
            Value::map([("module", d.clone()), ("root", d), ("cwd", Value::string("."))]),
        );
        v.roots.insert("var".into(), Value::Map(BTreeMap::new()));
        v.roots.insert("local".into(), Value::Map(BTreeMap::new()));
        v
    }

    pub fn set_var(&mut self, name: &str, value: Value) {
        entry(&mut self.roots, "var").insert(name.to_owned(), value);
    }

    pub fn set_local(&mut self, name: &str, value: Value) {
        entry(&mut self.roots, "local").insert(name.to_owned(), value);
    }

    /// Sets a whole resource's value: one object, a list (count) or a map (for_each).
    pub fn set_resource(&mut self, addr: &ResourceAddr, value: Value) {
        let by_type = match addr.mode {
            Mode::Managed => entry(&mut self.roots, &addr.ty),
            Mode::Data => entry(entry(&mut self.roots, "data"), &addr.ty),
        };
        by_type.insert(addr.name.clone(), value);
    }

    /// Sets one instance inside its resource's value.
    pub fn set_instance(&mut self, addr: &ResourceAddr, key: &InstanceKey, value: Value) {
        let by_type = match addr.mode {
            Mode::Managed => entry(&mut self.roots, &addr.ty),
            Mode::Data => entry(entry(&mut self.roots, "data"), &addr.ty),
        };
        match key {
            InstanceKey::None => {
                by_type.insert(addr.name.clone(), value);
            }
            InstanceKey::Int(i) => {
                let slot =
                    by_type.entry(addr.name.clone()).or_insert_with(|| Value::List(Vec::new()));
                if let Value::List(items) = slot {
                    let i = *i as usize;
                    if items.len() <= i {
                        items.resize(i + 1, Value::Null);
                    }
                    items[i] = value;
                }
            }
            InstanceKey::Str(k) => {
                let slot =
                    by_type.entry(addr.name.clone()).or_insert_with(|| Value::Map(BTreeMap::new()));
                if let Value::Map(m) = slot {
                    m.insert(k.clone(), value);
                }
            }
        }
    }

    pub fn get_resource(&self, addr: &ResourceAddr) -> Option<&Value> {
        let root = match addr.mode {
            Mode::Managed => self.roots.get(&addr.ty)?,
            Mode::Data => self.roots.get("data")?.get(&addr.ty)?,
        };
        root.get(&addr.name)
    }
}

impl Scope for Values {
    fn root(&self, name: &str) -> Option<&Value> {
        self.roots.get(name)
    }

    fn root_names(&self) -> Vec<String> {
        self.roots.keys().cloned().collect()
    }
}
