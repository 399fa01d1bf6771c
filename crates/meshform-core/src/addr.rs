//! Addresses of module instances, resources and their instances: `local_file.a`, `local_file.a[0]`,
//! `data.x.y["k"]`, `module.dr["prod"].asm_service_mesh.mesh["cluster-1"]`.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Managed resource or data source.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Managed,
    Data,
}

/// The provider a resource type belongs to when its block names none: the type's prefix before the
/// first `_` (`local_file` → `local`, `asm_service_mesh` → `asm`). The one place this rule is written.
pub fn implied_provider(type_name: &str) -> &str {
    type_name.split('_').next().unwrap_or(type_name)
}

/// One step of a module instance path: a `module "NAME"` call and the instance's key.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ModuleStep {
    pub name: String,
    pub key: InstanceKey,
}

/// Where an object lives: the root module (no steps) or a module instance, `module.a["k"].module.b`.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ModulePath(pub Vec<ModuleStep>);

impl ModulePath {
    pub fn root() -> ModulePath {
        ModulePath(Vec::new())
    }

    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    /// The path of a child instance: this path, then `module.NAME[KEY]`.
    pub fn child(&self, name: &str, key: InstanceKey) -> ModulePath {
        let mut steps = self.0.clone();
        steps.push(ModuleStep { name: name.to_owned(), key });
        ModulePath(steps)
    }

    /// The calling module instance; the root's parent is the root.
    pub fn parent(&self) -> ModulePath {
        ModulePath(self.0[..self.0.len().saturating_sub(1)].to_vec())
    }

    /// The last step: the call this instance comes from (`None` for the root).
    pub fn last(&self) -> Option<&ModuleStep> {
        self.0.last()
    }

    /// Whether `self` is `other` or inside it.
    pub fn starts_with(&self, other: &ModulePath) -> bool {
        self.0.starts_with(&other.0)
    }

    /// The module call path without instance keys (`module.a.module.b`): how the configuration
    /// names the module, whatever its instances.
    pub fn call_path(&self) -> String {
        self.0.iter().map(|s| format!("module.{}", s.name)).collect::<Vec<_>>().join(".")
    }
}

impl fmt::Display for ModulePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            write!(f, "module.{}{}", s.name, s.key)?;
        }
        Ok(())
    }
}

impl std::str::FromStr for ModulePath {
    type Err = AddrParseError;

    /// Parses `module.a`, `module.a["k"].module.b[0]`, or `""` (the root).
    fn from_str(s: &str) -> Result<ModulePath, AddrParseError> {
        let mut rest = s;
        let path = parse_module_steps(s, &mut rest)?.instance();
        if !rest.is_empty() {
            return Err(AddrParseError { input: s.to_owned(), reason: "not a module address" });
        }
        Ok(path)
    }
}

impl Serialize for ModulePath {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for ModulePath {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<ModulePath, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

fn is_ident(p: &str) -> bool {
    !p.is_empty()
        && p.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '-')
        && !p.starts_with(|c: char| c.is_ascii_digit())
}

/// Reads an optional `[KEY]` at the start of `rest`: a quoted string (with `\"` and `\\`
/// escapes) or an integer.
fn parse_key(input: &str, rest: &mut &str) -> Result<InstanceKey, AddrParseError> {
    let err = |reason| AddrParseError { input: input.to_owned(), reason };
    let Some(after) = rest.strip_prefix('[') else { return Ok(InstanceKey::None) };
    if let Some(q) = after.strip_prefix('"') {
        let mut out = String::new();
        let mut chars = q.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some((_, e)) => out.push(match e {
                        'n' => '\n',
                        't' => '\t',
                        other => other,
                    }),
                    None => return Err(err("unterminated key")),
                },
                '"' => {
                    let tail = &q[i + 1..];
                    *rest = tail.strip_prefix(']').ok_or_else(|| err("unbalanced brackets"))?;
                    return Ok(InstanceKey::Str(out));
                }
                c => out.push(c),
            }
        }
        Err(err("unterminated key"))
    } else {
        let end = after.find(']').ok_or_else(|| err("unbalanced brackets"))?;
        let i = after[..end].trim().parse().map_err(|_| err("index is not an integer"))?;
        *rest = &after[end + 1..];
        Ok(InstanceKey::Int(i))
    }
}

/// Reads the leading `module.NAME[KEY].` steps of `input`, leaving the remainder (without its dot)
/// in `rest`; each step's key is `None` when none is written.
fn parse_module_steps<'a>(
    input: &'a str,
    rest: &mut &'a str,
) -> Result<ModulePattern, AddrParseError> {
    let err = |reason| AddrParseError { input: input.to_owned(), reason };
    let mut steps = Vec::new();
    *rest = input;
    while let Some(after) = rest.strip_prefix("module.") {
        let end = after.find(['.', '[']).unwrap_or(after.len());
        let name = &after[..end];
        if !is_ident(name) {
            return Err(err("a module step is module.NAME or module.NAME[KEY]"));
        }
        *rest = &after[end..];
        let key = if rest.starts_with('[') { Some(parse_key(input, rest)?) } else { None };
        steps.push((name.to_owned(), key));
        match rest.strip_prefix('.') {
            Some(r) => *rest = r,
            None if rest.is_empty() => break,
            None => return Err(err("expected a `.` after a module step")),
        }
    }
    Ok(ModulePattern(steps))
}

/// A resource block's address, before `count`/`for_each` expansion.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ResourceAddr {
    /// The module instance holding the block (the root module when empty).
    pub module: ModulePath,
    pub mode: Mode,
    pub ty: String,
    pub name: String,
}

impl ResourceAddr {
    pub fn managed(ty: &str, name: &str) -> ResourceAddr {
        ResourceAddr {
            module: ModulePath::root(),
            mode: Mode::Managed,
            ty: ty.to_owned(),
            name: name.to_owned(),
        }
    }

    pub fn data(ty: &str, name: &str) -> ResourceAddr {
        ResourceAddr {
            module: ModulePath::root(),
            mode: Mode::Data,
            ty: ty.to_owned(),
            name: name.to_owned(),
        }
    }

    /// The same resource in another module instance.
    pub fn in_module(mut self, module: &ModulePath) -> ResourceAddr {
        self.module = module.clone();
        self
    }

    /// The address within its module (`TYPE.NAME` or `data.TYPE.NAME`).
    pub fn local(&self) -> String {
        match self.mode {
            Mode::Data => format!("data.{}.{}", self.ty, self.name),
            Mode::Managed => format!("{}.{}", self.ty, self.name),
        }
    }

    pub fn instance(&self, key: InstanceKey) -> InstanceAddr {
        InstanceAddr { resource: self.clone(), key }
    }
}

impl fmt::Display for ResourceAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.module.is_root() {
            write!(f, "{}.", self.module)?;
        }
        if self.mode == Mode::Data {
            f.write_str("data.")?;
        }
        write!(f, "{}.{}", self.ty, self.name)
    }
}

/// The key of one instance: none (no `count`/`for_each`), a `count` index or a `for_each` key.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum InstanceKey {
    None,
    Int(i64),
    Str(String),
}

impl InstanceKey {
    pub fn is_none(&self) -> bool {
        matches!(self, InstanceKey::None)
    }
}

impl fmt::Display for InstanceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InstanceKey::None => Ok(()),
            InstanceKey::Int(i) => write!(f, "[{i}]"),
            InstanceKey::Str(s) => write!(f, "[{}]", crate::value::quote(s)),
        }
    }
}

/// One instance of a resource.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct InstanceAddr {
    pub resource: ResourceAddr,
    pub key: InstanceKey,
}

impl fmt::Display for InstanceAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.resource, self.key)
    }
}

/// Why an address string did not parse.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("invalid address {input:?}: {reason}; expected TYPE.NAME, TYPE.NAME[0], TYPE.NAME[\"key\"] or data.TYPE.NAME, optionally after module.NAME[KEY]. steps")]
pub struct AddrParseError {
    pub input: String,
    pub reason: &'static str,
}

impl std::str::FromStr for InstanceAddr {
    type Err = AddrParseError;

    /// Parses `type.name`, `type.name[0]`, `type.name["key"]` and `data.type.name…`, after any
    /// `module.NAME[KEY].` steps. Without an index the key is [`InstanceKey::None`]; see
    /// [`AddrPattern`] for addresses that may name a whole resource.
    fn from_str(s: &str) -> Result<InstanceAddr, AddrParseError> {
        let err = |reason| AddrParseError { input: s.to_owned(), reason };
        let mut rest = s;
        let module = parse_module_steps(s, &mut rest)?.instance();
        let end = rest.find('[').unwrap_or(rest.len());
        let head = &rest[..end];
        let mut tail = &rest[end..];
        let key = parse_key(s, &mut tail)?;
        if !tail.is_empty() {
            return Err(err("unexpected text after the instance key"));
        }
        let parts: Vec<&str> = head.split('.').collect();
        let resource = match parts.as_slice() {
            ["data", ty, name] if is_ident(ty) && is_ident(name) => ResourceAddr::data(ty, name),
            [ty, name] if is_ident(ty) && is_ident(name) => ResourceAddr::managed(ty, name),
            _ => return Err(err("not a resource address")),
        };
        Ok(InstanceAddr { resource: resource.in_module(&module), key })
    }
}

/// An address given on the command line (`--target`, `--exclude`, `state show`): a whole resource
/// (all its instances) or one instance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddrPattern {
    pub resource: ResourceAddr,
    /// `None` matches every instance of the resource.
    pub key: Option<InstanceKey>,
}

impl AddrPattern {
    pub fn matches(&self, addr: &InstanceAddr) -> bool {
        addr.resource == self.resource && self.key.as_ref().is_none_or(|k| *k == addr.key)
    }
}

impl std::str::FromStr for AddrPattern {
    type Err = AddrParseError;

    fn from_str(s: &str) -> Result<AddrPattern, AddrParseError> {
        let addr: InstanceAddr = s.parse()?;
        // `module.a[0].x.y` names the whole resource; only a trailing index names an instance.
        let key = if s.ends_with(']') { Some(addr.key) } else { None };
        Ok(AddrPattern { resource: addr.resource, key })
    }
}

/// A module call or instance on the command line: `module.a` (every instance of the call, and
/// everything inside), `module.a["k"]`, `module.a[0].module.b`. A step written without a key
/// matches every instance of that call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModulePattern(pub Vec<(String, Option<InstanceKey>)>);

impl ModulePattern {
    /// The module instance these steps name, a step without a key being the call's keyless
    /// instance.
    pub fn instance(self) -> ModulePath {
        ModulePath(
            self.0
                .into_iter()
                .map(|(name, key)| ModuleStep { name, key: key.unwrap_or(InstanceKey::None) })
                .collect(),
        )
    }

    /// Whether a module instance is the one named or inside it.
    pub fn contains(&self, path: &ModulePath) -> bool {
        path.0.len() >= self.0.len()
            && self.0.iter().zip(&path.0).all(|((name, key), step)| {
                *name == step.name && key.as_ref().is_none_or(|k| *k == step.key)
            })
    }
}

impl fmt::Display for ModulePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (name, key)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            write!(f, "module.{name}")?;
            if let Some(k) = key {
                write!(f, "{k}")?;
            }
        }
        Ok(())
    }
}

/// What `--target`, `--exclude` and the `state` commands accept: a resource or instance, or a
/// module (all it holds).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Selector {
    Resource(AddrPattern),
    Module(ModulePattern),
}

impl Selector {
    /// Whether an instance is the one named, an instance of the resource named, or inside the
    /// module named.
    pub fn matches(&self, addr: &InstanceAddr) -> bool {
        match self {
            Selector::Resource(p) => p.matches(addr),
            Selector::Module(m) => m.contains(&addr.resource.module),
        }
    }
}

impl std::str::FromStr for Selector {
    type Err = AddrParseError;

    fn from_str(s: &str) -> Result<Selector, AddrParseError> {
        let mut rest = s;
        let module = parse_module_steps(s, &mut rest)?;
        if rest.is_empty() && !module.0.is_empty() {
            // Written keys select one instance; a bare step selects every instance of the call.
            return Ok(Selector::Module(module));
        }
        Ok(Selector::Resource(s.parse()?))
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Selector::Resource(p) => write!(f, "{p}"),
            Selector::Module(m) => write!(f, "{m}"),
        }
    }
}

impl fmt::Display for AddrPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.key {
            Some(k) => write!(f, "{}{k}", self.resource),
            None => write!(f, "{}", self.resource),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_addresses() {
        for s in ["local_file.a", "local_file.a[3]", "local_file.a[\"k.x\"]", "data.local_file.b"] {
            let a: InstanceAddr = s.parse().unwrap();
            assert_eq!(a.to_string(), s);
        }
        assert!("local_file".parse::<InstanceAddr>().is_err());
        assert!("a.b[x]".parse::<InstanceAddr>().is_err());
        let p: AddrPattern = "local_file.a".parse().unwrap();
        assert!(p.matches(&"local_file.a[1]".parse().unwrap()));
        let p: AddrPattern = "local_file.a[0]".parse().unwrap();
        assert!(!p.matches(&"local_file.a[1]".parse().unwrap()));
    }

    #[test]
    fn module_addresses_round_trip() {
        for s in [
            "module.dr.local_file.a",
            "module.dr[\"prod\"].asm_service_mesh.mesh[\"cluster-1\"]",
            "module.a[0].module.b.data.local_file.x[2]",
            "module.a[\"k.x]\"].local_file.a",
        ] {
            let a: InstanceAddr = s.parse().unwrap();
            assert_eq!(a.to_string(), s);
        }
        let a: InstanceAddr = "module.a[\"k\"].module.b.local_file.x".parse().unwrap();
        assert_eq!(a.resource.module.to_string(), "module.a[\"k\"].module.b");
        assert_eq!(a.resource.module.call_path(), "module.a.module.b");
        assert_eq!(a.resource.local(), "local_file.x");
        for bad in ["module.local_file.a", "module.a.", "module.a[x].local_file.b", "module.1a.t.n"]
        {
            assert!(bad.parse::<InstanceAddr>().is_err(), "{bad}");
        }
        let p: AddrPattern = "module.a[0].local_file.x".parse().unwrap();
        assert_eq!(p.key, None);
        assert!(p.matches(&"module.a[0].local_file.x[3]".parse().unwrap()));
        assert!(!p.matches(&"module.a[1].local_file.x[3]".parse().unwrap()));
    }

    #[test]
    fn module_selectors() {
        let Ok(Selector::Module(m)) = "module.dr".parse::<Selector>() else { panic!() };
        let inside: InstanceAddr = "module.dr[\"prod\"].module.x.t.n".parse().unwrap();
        assert!(m.contains(&inside.resource.module));
        let Ok(Selector::Module(m)) = "module.dr[\"stage\"]".parse::<Selector>() else { panic!() };
        assert!(!m.contains(&inside.resource.module));
        assert_eq!(m.to_string(), "module.dr[\"stage\"]");
        assert!(matches!("module.dr.t.n".parse::<Selector>(), Ok(Selector::Resource(_))));
        let root: ModulePath = "".parse().unwrap();
        assert!(root.is_root());
    }
}
