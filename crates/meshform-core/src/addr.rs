//! Addresses of resources and their instances: `local_file.a`, `local_file.a[0]`, `data.x.y["k"]`.

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

/// A resource block's address, before `count`/`for_each` expansion.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ResourceAddr {
    pub mode: Mode,
    pub ty: String,
    pub name: String,
}

impl ResourceAddr {
    pub fn managed(ty: &str, name: &str) -> ResourceAddr {
        ResourceAddr { mode: Mode::Managed, ty: ty.to_owned(), name: name.to_owned() }
    }

    pub fn data(ty: &str, name: &str) -> ResourceAddr {
        ResourceAddr { mode: Mode::Data, ty: ty.to_owned(), name: name.to_owned() }
    }

    pub fn instance(&self, key: InstanceKey) -> InstanceAddr {
        InstanceAddr { resource: self.clone(), key }
    }
}

impl fmt::Display for ResourceAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
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
#[error("invalid address {input:?}: {reason}; expected TYPE.NAME, TYPE.NAME[0], TYPE.NAME[\"key\"] or data.TYPE.NAME")]
pub struct AddrParseError {
    pub input: String,
    pub reason: &'static str,
}

impl std::str::FromStr for InstanceAddr {
    type Err = AddrParseError;

    /// Parses `type.name`, `type.name[0]`, `type.name["key"]` and `data.type.name…`. Without an index
    /// the key is [`InstanceKey::None`]; see [`AddrPattern`] for addresses that may name a whole resource.
    fn from_str(s: &str) -> Result<InstanceAddr, AddrParseError> {
        let err = |reason| AddrParseError { input: s.to_owned(), reason };
        let (head, key) = match s.find('[') {
            Some(i) => {
                let inner = s[i..]
                    .strip_prefix('[')
                    .and_then(|r| r.strip_suffix(']'))
                    .ok_or_else(|| err("unbalanced brackets"))?;
                let key = if let Some(q) = inner.strip_prefix('"') {
                    InstanceKey::Str(
                        q.strip_suffix('"').ok_or_else(|| err("unterminated key"))?.to_owned(),
                    )
                } else {
                    InstanceKey::Int(inner.parse().map_err(|_| err("index is not an integer"))?)
                };
                (&s[..i], key)
            }
            None => (s, InstanceKey::None),
        };
        let parts: Vec<&str> = head.split('.').collect();
        let ident = |p: &str| {
            !p.is_empty()
                && p.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '-')
                && !p.starts_with(|c: char| c.is_ascii_digit())
        };
        let resource = match parts.as_slice() {
            ["data", ty, name] if ident(ty) && ident(name) => ResourceAddr::data(ty, name),
            [ty, name] if ident(ty) && ident(name) => ResourceAddr::managed(ty, name),
            _ => return Err(err("not a resource address")),
        };
        Ok(InstanceAddr { resource, key })
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
        let key = if s.contains('[') { Some(addr.key) } else { None };
        Ok(AddrPattern { resource: addr.resource, key })
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
}
