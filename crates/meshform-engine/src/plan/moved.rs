//! `moved` blocks: the prior state's objects renamed to their new addresses before planning, so
//! that a rename (into or out of a module too) plans no destroy. Chains (`a → b`, `b → c`) are
//! followed, loops refused, a destination already taken leaves the object where it was, with a
//! warning. Apply saves the renamed state before its first operation.

use std::collections::{BTreeMap, BTreeSet};

use meshform_config::model::{Config, MovedDef};
use meshform_core::{Diagnostic, Diagnostics, InstanceAddr, ModulePath, ModulePattern, Selector};
use meshform_state::{surgery, State, SurgeryError};

/// One instance the state held at `from` and now holds at `to`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Move {
    pub from: InstanceAddr,
    pub to: InstanceAddr,
}

/// Applies the configuration's `moved` blocks to `state`; returns what moved, by final address.
pub fn apply_moves(config: &Config, state: &mut State, diags: &mut Diagnostics) -> Vec<Move> {
    if config.moved.is_empty() {
        return Vec::new();
    }
    let before = diags.error_count();
    check_cycles(&config.moved, diags);
    check_still_declared(config, diags);
    if diags.error_count() > before {
        return Vec::new();
    }
    // Final address -> the address the object had before this plan.
    let mut origin: BTreeMap<String, String> = BTreeMap::new();
    let mut blocked: BTreeMap<String, String> = BTreeMap::new();
    for _ in 0..=config.moved.len() {
        let mut moved_any = false;
        for m in &config.moved {
            for (from, to) in resource_moves(m, state) {
                match surgery::move_(state, &from, &to) {
                    Ok(pairs) => {
                        moved_any |= !pairs.is_empty();
                        for (f, t) in pairs {
                            let first = origin.remove(&f).unwrap_or(f);
                            origin.insert(t, first);
                        }
                        blocked.remove(&from);
                    }
                    Err(SurgeryError::DestinationExists { .. }) => {
                        blocked.insert(from, to);
                    }
                    Err(_) => {}
                }
            }
        }
        if !moved_any {
            break;
        }
    }
    for (from, to) in blocked {
        diags.push(
            Diagnostic::warning(
                "meshform::plan::unresolved_move",
                format!("unresolved address change: {from} could not move to {to}, which already exists in the state"),
            )
            .with_help(format!("{from} is planned as not in the configuration; if both are the same object, remove one from the state with `meshform state rm`")),
        );
    }
    let mut moves: Vec<Move> = origin
        .into_iter()
        .filter(|(to, from)| to != from)
        .filter_map(|(to, from)| Some(Move { from: from.parse().ok()?, to: to.parse().ok()? }))
        .collect();
    moves.sort_by(|a, b| a.to.cmp(&b.to));
    moves
}

/// The resource-level renames one statement asks for in `state`: (from, to) as `state mv` takes
/// them. Nothing recorded at `from` means nothing to do.
fn resource_moves(m: &MovedDef, state: &State) -> Vec<(String, String)> {
    match (&m.from.0, &m.to.0) {
        (Selector::Resource(f), Selector::Resource(t)) => {
            let present = match &f.key {
                None => state.resource(&f.resource).is_some(),
                Some(k) => state.instance(&f.resource.instance(k.clone())).is_some(),
            };
            if present {
                vec![(f.to_string(), t.to_string())]
            } else {
                Vec::new()
            }
        }
        (Selector::Module(f), Selector::Module(t)) => state
            .resources
            .iter()
            .filter_map(|r| {
                let to = moved_module(&r.module, f, t)?;
                let from = r.addr();
                Some((from.to_string(), from.in_module(&to).to_string()))
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// Where module instance `path` goes under `module.F → module.T`: a whole call (no key on either
/// side) keeps each instance's key; with a key on either side, the instance named (an unkeyed side
/// is the call's unkeyed instance) takes the other side's key. `None`: not inside `from`.
fn moved_module(path: &ModulePath, from: &ModulePattern, to: &ModulePattern) -> Option<ModulePath> {
    let n = from.0.len();
    if path.0.len() < n {
        return None;
    }
    let whole = from.0.last()?.1.is_none() && to.0.last()?.1.is_none();
    for (i, ((name, key), step)) in from.0.iter().zip(&path.0).enumerate() {
        if *name != step.name {
            return None;
        }
        let last = i + 1 == n;
        let key_ok = match key {
            Some(k) => *k == step.key,
            None if last && whole => true,
            None => step.key.is_none(),
        };
        if !key_ok {
            return None;
        }
    }
    let mut steps = to.clone().instance().0;
    if whole {
        if let (Some(last), Some(src)) = (steps.last_mut(), path.0.get(n - 1)) {
            last.key = src.key.clone();
        }
    }
    steps.extend(path.0[n..].iter().cloned());
    Some(ModulePath(steps))
}

/// `a → b`, `b → a` (or longer loops) would never settle.
fn check_cycles(moved: &[MovedDef], diags: &mut Diagnostics) {
    let next = |addr: &str| moved.iter().position(|m| m.from.0.to_string() == addr);
    // A module's statements are repeated for each of its instances: one report per statement.
    let mut reported = BTreeSet::new();
    for (i, m) in moved.iter().enumerate() {
        let mut chain = vec![i];
        let mut cur = m.to.0.to_string();
        while let Some(j) = next(&cur) {
            if j == i {
                // Reported once, from the statement that comes first.
                if chain.iter().min() == Some(&i) && reported.insert(m.span.location()) {
                    let steps: Vec<String> = chain
                        .iter()
                        .map(|&k| {
                            let s = &moved[k];
                            format!("{}: {} → {}", s.span.location(), s.from.0, s.to.0)
                        })
                        .collect();
                    diags.push(
                        Diagnostic::error(
                            "meshform::config::moved_cycle",
                            "cyclic dependency in move statements",
                        )
                        .with_span(m.span.clone(), "this move is part of a loop")
                        .with_detail(steps.join("\n"))
                        .with_help(
                            "a chain of moves must end: remove the statement that leads back",
                        ),
                    );
                }
                break;
            }
            if chain.contains(&j) {
                break;
            }
            chain.push(j);
            cur = moved[j].to.0.to_string();
        }
    }
}

/// A move whose source the configuration still declares would move an object away from what
/// still manages it.
fn check_still_declared(config: &Config, diags: &mut Diagnostics) {
    let mut reported = BTreeSet::new();
    for m in &config.moved {
        let declared = match &m.from.0 {
            Selector::Resource(p) if p.key.is_none() => {
                config.resources.get(&p.resource).map(|r| r.span.location())
            }
            Selector::Module(p) => config
                .modules
                .iter()
                .find(|(path, _)| p.contains(path) && path.0.len() == p.0.len())
                .map(|(_, i)| i.call.span.location()),
            Selector::Resource(_) => None,
        };
        if let Some(at) = declared.filter(|_| reported.insert(m.from.1.location())) {
            diags.push(
                Diagnostic::error(
                    "meshform::config::moved_still_declared",
                    format!("moved object still exists: {} is still declared at {at}", m.from.0),
                )
                .with_span(m.from.1.clone(), "still in the configuration")
                .with_help(format!("change the configuration so that it is declared as {} instead, or remove the moved block", m.to.0)),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(s: &str) -> ModulePattern {
        match s.parse::<Selector>() {
            Ok(Selector::Module(m)) => m,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn module_moves_keep_or_set_keys() {
        let p = |s: &str| s.parse::<ModulePath>().unwrap();
        let mv = |path: &str, f: &str, t: &str| {
            moved_module(&p(path), &pattern(f), &pattern(t)).map(|m| m.to_string())
        };
        assert_eq!(
            mv("module.a[\"k\"].module.x", "module.a", "module.b").as_deref(),
            Some("module.b[\"k\"].module.x")
        );
        assert_eq!(mv("module.a", "module.a", "module.a[2]").as_deref(), Some("module.a[2]"));
        assert_eq!(
            mv("module.a[0]", "module.a[0]", "module.a[\"x\"]").as_deref(),
            Some("module.a[\"x\"]")
        );
        assert_eq!(mv("module.a[1]", "module.a[0]", "module.a[\"x\"]"), None);
        assert_eq!(mv("module.c", "module.a", "module.b"), None);
    }
}
