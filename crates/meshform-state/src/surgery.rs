//! State surgery for the `meshform state` subcommands: pure functions on a [`State`] that list, remove
//! and move instances and decide whether a pushed state may replace the stored one.
//!
//! None of them reads or writes a file: the caller reads the state under the run lock, applies one of
//! these, and writes the result back through its [`StateStore`](crate::StateStore).

use meshform_core::addr::AddrParseError;
use meshform_core::{AddrPattern, InstanceAddr, InstanceKey, Selector};

use crate::format::{InstanceStatus, State};

/// Why a state subcommand refused to change the state. The state is left unchanged.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SurgeryError {
    #[error(transparent)]
    InvalidAddress(#[from] AddrParseError),

    #[error(
        "no instance in the state matches {}; nothing was removed. Run `meshform state list` to see \
         the addresses in the state",
        join(.0)
    )]
    NoMatch(Vec<String>),

    #[error("{0} is a data source: only managed resources can be tainted")]
    NotManaged(String),

    #[error(
        "cannot move {src}: it is not in the state. Run `meshform state list` to see the addresses in \
         the state"
    )]
    SourceMissing { src: String },

    #[error(
        "cannot move {src} to {dst}: {dst} already exists in the state. Remove it first with \
         `meshform state rm {dst}` or choose another address"
    )]
    DestinationExists { src: String, dst: String },

    #[error(
        "cannot move {src} to {dst}: the resource type or mode differs; a move can only rename, \
         because the provider would not understand the stored attributes under another type"
    )]
    TypeMismatch { src: String, dst: String },

    #[error(
        "cannot move {src} to {dst}: {dst} is managed by {dst_provider} but {src} by {src_provider}; \
         move the whole resource or make both use the same provider"
    )]
    ProviderMismatch { src: String, dst: String, src_provider: String, dst_provider: String },

    #[error(
        "cannot move {src} to {dst}: the source and destination are the same address; nothing to do"
    )]
    SameAddress { src: String, dst: String },

    #[error(
        "refusing to push: the pushed state has lineage {incoming} but the stored one has lineage \
         {current}, so they are different histories. Pass `--force` to replace the stored state anyway"
    )]
    PushLineageMismatch { current: String, incoming: String },

    #[error(
        "refusing to push: the pushed state has serial {incoming}, not newer than the stored serial \
         {current}, so it would undo changes. Pass `--force` to replace the stored state anyway"
    )]
    PushNotNewer { current: u64, incoming: u64 },
}

fn join(v: &[String]) -> String {
    v.join(", ")
}

/// Every instance address in the state, sorted (managed before data, then by type, name and key,
/// with `count` indexes in numeric order).
pub fn list(state: &State) -> Vec<String> {
    let mut addrs: Vec<InstanceAddr> = state.instances().map(|(a, _, _)| a).collect();
    addrs.sort();
    addrs.iter().map(ToString::to_string).collect()
}

/// Removes every instance matching one of `patterns` (a resource address matches all its instances)
/// and returns the removed addresses, sorted. When any pattern matches nothing, nothing is removed
/// and the error names every such pattern.
pub fn remove(state: &mut State, patterns: &[Selector]) -> Result<Vec<String>, SurgeryError> {
    let all: Vec<InstanceAddr> = state.instances().map(|(a, _, _)| a).collect();
    let unmatched: Vec<String> = patterns
        .iter()
        .filter(|p| !all.iter().any(|a| p.matches(a)))
        .map(ToString::to_string)
        .collect();
    if !unmatched.is_empty() {
        return Err(SurgeryError::NoMatch(unmatched));
    }
    let mut removed: Vec<InstanceAddr> =
        all.into_iter().filter(|a| patterns.iter().any(|p| p.matches(a))).collect();
    removed.sort();
    for a in &removed {
        state.remove_instance(a);
    }
    Ok(removed.iter().map(ToString::to_string).collect())
}

/// Marks one instance tainted (the next plan replaces it) or clears the mark; returns whether it
/// changed. A data source cannot be tainted: it is read, not managed.
pub fn set_tainted(
    state: &mut State,
    addr: &InstanceAddr,
    tainted: bool,
) -> Result<bool, SurgeryError> {
    let Some((r, inst)) = state.instance(addr) else {
        return Err(SurgeryError::NoMatch(vec![addr.to_string()]));
    };
    if r.mode != meshform_core::Mode::Managed {
        return Err(SurgeryError::NotManaged(addr.to_string()));
    }
    let want = if tainted { InstanceStatus::Tainted } else { InstanceStatus::Ready };
    if inst.status == want {
        return Ok(false);
    }
    let (provider, mut inst) = (r.provider_of(inst).to_owned(), inst.clone());
    inst.status = want;
    state.set_instance(addr, &provider, inst);
    Ok(true)
}

/// Moves (renames) a resource or an instance and returns the `(from, to)` instance addresses moved.
///
/// - `TYPE.a` to `TYPE.b` (neither indexed): the whole resource with all its instances; `TYPE.b`
///   must not exist.
/// - `TYPE.a[0]` to `TYPE.b["k"]` (either side indexed): one instance; an unindexed side means the
///   resource's single, unkeyed instance, so `TYPE.a` to `TYPE.a[0]` follows adding `count`. The
///   destination instance must not exist; its resource may, if it uses the same provider.
///
/// The type and mode never change. Recorded dependencies on a moved resource and pending creates of a
/// moved instance follow the move.
pub fn move_(
    state: &mut State,
    src: &str,
    dst: &str,
) -> Result<Vec<(String, String)>, SurgeryError> {
    let sp: AddrPattern = src.parse()?;
    let dp: AddrPattern = dst.parse()?;
    let err_src = || src.to_owned();
    let err_dst = || dst.to_owned();
    if sp.resource.mode != dp.resource.mode || sp.resource.ty != dp.resource.ty {
        return Err(SurgeryError::TypeMismatch { src: err_src(), dst: err_dst() });
    }
    if sp == dp {
        return Err(SurgeryError::SameAddress { src: err_src(), dst: err_dst() });
    }
    let pending_exists = |state: &State, addr: &InstanceAddr| {
        state.pending.iter().any(|p| p.address.parse::<InstanceAddr>().is_ok_and(|a| a == *addr))
    };

    if sp.key.is_none() && dp.key.is_none() {
        // The whole resource.
        if state.resource(&sp.resource).is_none() {
            return Err(SurgeryError::SourceMissing { src: err_src() });
        }
        let dst_taken = state.resource(&dp.resource).is_some()
            || state.pending.iter().any(|p| {
                p.address.parse::<InstanceAddr>().is_ok_and(|a| a.resource == dp.resource)
            });
        if dst_taken {
            return Err(SurgeryError::DestinationExists { src: err_src(), dst: err_dst() });
        }
        let Some(mut r) = state.resources.remove(&sp.resource) else {
            return Err(SurgeryError::SourceMissing { src: err_src() });
        };
        let moved: Vec<(String, String)> = r
            .instances
            .iter()
            .map(|i| {
                (
                    sp.resource.instance(i.index_key.clone()).to_string(),
                    dp.resource.instance(i.index_key.clone()).to_string(),
                )
            })
            .collect();
        r.name = dp.resource.name.clone();
        r.module = dp.resource.module.clone();
        state.resources.insert(r);
        let (old, new) = (sp.resource.to_string(), dp.resource.to_string());
        for r in &mut state.resources {
            for i in &mut r.instances {
                for d in &mut i.dependencies {
                    if *d == old {
                        d.clone_from(&new);
                    }
                }
            }
        }
        for p in &mut state.pending {
            if let Ok(a) = p.address.parse::<InstanceAddr>() {
                if a.resource == sp.resource {
                    p.address = dp.resource.instance(a.key).to_string();
                }
            }
        }
        return Ok(moved);
    }

    // One instance.
    let from = sp.resource.instance(sp.key.clone().unwrap_or(InstanceKey::None));
    let to = dp.resource.instance(dp.key.clone().unwrap_or(InstanceKey::None));
    let Some((src_res, _)) = state.instance(&from) else {
        return Err(SurgeryError::SourceMissing { src: from.to_string() });
    };
    let provider = src_res.provider.clone();
    if state.instance(&to).is_some() || pending_exists(state, &to) {
        return Err(SurgeryError::DestinationExists { src: from.to_string(), dst: to.to_string() });
    }
    if let Some(dst_res) = state.resource(&to.resource) {
        if dst_res.provider != provider {
            return Err(SurgeryError::ProviderMismatch {
                src: from.to_string(),
                dst: to.to_string(),
                src_provider: provider,
                dst_provider: dst_res.provider.clone(),
            });
        }
    }
    let Some(instance) = state.remove_instance(&from) else {
        return Err(SurgeryError::SourceMissing { src: from.to_string() });
    };
    state.set_instance(&to, &provider, instance);
    for p in &mut state.pending {
        if p.address.parse::<InstanceAddr>().is_ok_and(|a| a == from) {
            p.address = to.to_string();
        }
    }
    Ok(vec![(from.to_string(), to.to_string())])
}

/// Whether `incoming` may replace `current` in `meshform state push`: refuses a different lineage or
/// a serial that is not newer, unless `force`. Then write with
/// [`StateStore::write`](crate::StateStore::write), or with
/// [`StateStore::write_forced`](crate::StateStore::write_forced) when forcing.
pub fn check_push(
    current: Option<&State>,
    incoming: &State,
    force: bool,
) -> Result<(), SurgeryError> {
    let Some(current) = current else { return Ok(()) };
    if force {
        return Ok(());
    }
    if current.lineage != incoming.lineage {
        return Err(SurgeryError::PushLineageMismatch {
            current: current.lineage.clone(),
            incoming: incoming.lineage.clone(),
        });
    }
    if incoming.serial <= current.serial {
        return Err(SurgeryError::PushNotNewer {
            current: current.serial,
            incoming: incoming.serial,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{InstanceState, InstanceStatus, PendingCreate};

    fn inst() -> InstanceState {
        InstanceState {
            index_key: InstanceKey::None,
            provider: None,
            status: InstanceStatus::Ready,
            attributes: serde_json::json!({"id": "x"}),
            sensitive_attributes: vec![],
            dependencies: vec![],
            create_before_destroy: false,
        }
    }

    fn state(addrs: &[&str]) -> State {
        let mut s = State::new();
        for a in addrs {
            let a: InstanceAddr = a.parse().unwrap();
            s.set_instance(&a, "provider.local", inst());
        }
        s
    }

    fn pats(p: &[&str]) -> Vec<Selector> {
        p.iter().map(|p| p.parse().unwrap()).collect()
    }

    #[test]
    fn list_is_sorted_by_address() {
        let s = state(&["data.t.d", "t.b[10]", "t.b[2]", "t.a", "t.c[\"z\"]", "t.c[\"a\"]"]);
        assert_eq!(list(&s), ["t.a", "t.b[2]", "t.b[10]", "t.c[\"a\"]", "t.c[\"z\"]", "data.t.d"]);
    }

    #[test]
    fn remove_matches_resources_and_instances() {
        let mut s = state(&["t.a", "t.b[0]", "t.b[1]", "t.c[\"k\"]"]);
        let removed = remove(&mut s, &pats(&["t.b", "t.c[\"k\"]"])).unwrap();
        assert_eq!(removed, ["t.b[0]", "t.b[1]", "t.c[\"k\"]"]);
        assert_eq!(list(&s), ["t.a"]);
        assert_eq!(s.resources.len(), 1);
    }

    #[test]
    fn remove_names_every_unmatched_pattern_and_changes_nothing() {
        let mut s = state(&["t.a", "t.b[0]"]);
        let before = s.clone();
        let e = remove(&mut s, &pats(&["t.a", "t.b[5]", "t.zz"])).unwrap_err();
        assert_eq!(e, SurgeryError::NoMatch(vec!["t.b[5]".into(), "t.zz".into()]));
        let m = e.to_string();
        assert!(m.contains("t.b[5]") && m.contains("t.zz") && m.contains("state list"), "{m}");
        assert_eq!(s, before);
    }

    #[test]
    fn modules_are_moved_into_and_out_of_and_removed_whole() {
        let mut s =
            state(&["t.a[0]", "t.a[1]", "module.m[\"x\"].t.b", "module.m[\"y\"].t.b", "t.z"]);
        let moved = move_(&mut s, "t.a", "module.n.t.a").unwrap();
        assert_eq!(moved[0], ("t.a[0]".to_owned(), "module.n.t.a[0]".to_owned()));
        move_(&mut s, "module.m[\"y\"].t.b", "t.y").unwrap();
        assert_eq!(
            list(&s),
            ["t.y", "t.z", "module.m[\"x\"].t.b", "module.n.t.a[0]", "module.n.t.a[1]"]
        );
        // The state stays sorted: every lookup still finds what moved.
        assert!(s.instance(&"module.n.t.a[1]".parse().unwrap()).is_some());
        let removed = remove(&mut s, &pats(&["module.n"])).unwrap();
        assert_eq!(removed, ["module.n.t.a[0]", "module.n.t.a[1]"]);
        let e = remove(&mut s, &pats(&["module.gone"])).unwrap_err();
        assert_eq!(e, SurgeryError::NoMatch(vec!["module.gone".into()]));
    }

    #[test]
    fn an_instance_managed_by_another_provider_instance_keeps_its_own() {
        let mut s = State::new();
        let a: InstanceAddr = "t.a[\"eu\"]".parse().unwrap();
        let b: InstanceAddr = "t.a[\"us\"]".parse().unwrap();
        s.set_instance(&a, "provider.k.by[\"eu\"]", inst());
        s.set_instance(&b, "provider.k.by[\"us\"]", inst());
        let r = s.resource(&a.resource).unwrap();
        let each: Vec<&str> = r.instances.iter().map(|i| r.provider_of(i)).collect();
        assert_eq!(each, ["provider.k.by[\"eu\"]", "provider.k.by[\"us\"]"]);
        // Both moved to one provider instance: the resource's provider again, none of their own.
        s.set_instance(&a, "provider.k.by[\"us\"]", inst());
        let r = s.resource(&a.resource).unwrap();
        assert_eq!(r.provider, "provider.k.by[\"us\"]");
        assert!(r.instances.iter().all(|i| i.provider.is_none()), "{r:?}");
    }

    #[test]
    fn move_resource_renames_and_follows_dependencies() {
        let mut s = state(&["t.a[0]", "t.a[1]", "t.z"]);
        let z: InstanceAddr = "t.z".parse().unwrap();
        let mut zi = inst();
        zi.dependencies = vec!["t.a".into()];
        s.set_instance(&z, "provider.local", zi);
        let moved = move_(&mut s, "t.a", "t.b").unwrap();
        assert_eq!(
            moved,
            [("t.a[0]".to_owned(), "t.b[0]".to_owned()), ("t.a[1]".into(), "t.b[1]".into())]
        );
        assert_eq!(list(&s), ["t.b[0]", "t.b[1]", "t.z"]);
        assert_eq!(s.instance(&z).unwrap().1.dependencies, ["t.b"]);
    }

    #[test]
    fn move_instance_within_and_across_resources() {
        let mut s = state(&["t.a", "t.b[0]"]);
        move_(&mut s, "t.a", "t.a[0]").unwrap();
        assert_eq!(list(&s), ["t.a[0]", "t.b[0]"]);
        move_(&mut s, "t.a[0]", "t.b[\"k\"]").unwrap();
        assert_eq!(list(&s), ["t.b[0]", "t.b[\"k\"]"]);
        let (_, i) = s.instance(&"t.b[\"k\"]".parse().unwrap()).unwrap();
        assert_eq!(i.index_key, InstanceKey::Str("k".into()));
    }

    #[test]
    fn move_refusals_leave_state_unchanged() {
        let mut s = state(&["t.a", "t.b", "u.c[0]", "data.t.d"]);
        s.set_instance(&"t.p".parse().unwrap(), "provider.other", inst());
        let before = s.clone();
        type Check = fn(&SurgeryError) -> bool;
        let cases: &[(&str, &str, Check)] = &[
            ("t.a", "t.b", |e| matches!(e, SurgeryError::DestinationExists { .. })),
            ("t.a", "u.a", |e| matches!(e, SurgeryError::TypeMismatch { .. })),
            ("t.a", "data.t.a", |e| matches!(e, SurgeryError::TypeMismatch { .. })),
            ("t.nope", "t.x", |e| matches!(e, SurgeryError::SourceMissing { .. })),
            ("t.a[3]", "t.x[3]", |e| matches!(e, SurgeryError::SourceMissing { .. })),
            ("u.c[0]", "u.c[0]", |e| matches!(e, SurgeryError::SameAddress { .. })),
            ("t.a", "t.p[1]", |e| matches!(e, SurgeryError::ProviderMismatch { .. })),
            ("t.a", "t.", |e| matches!(e, SurgeryError::InvalidAddress(_))),
        ];
        for (src, dst, ok) in cases {
            let e = move_(&mut s, src, dst).unwrap_err();
            assert!(ok(&e), "{src} -> {dst}: {e:?}");
            assert_eq!(s, before, "{src} -> {dst}");
        }
    }

    #[test]
    fn move_refuses_a_pending_destination_and_moves_pending() {
        let mut s = state(&["t.a"]);
        s.pending.push(PendingCreate {
            address: "t.b".into(),
            provider: "provider.local".into(),
            attributes: serde_json::json!({}),
            sensitive_attributes: vec![],
            started: "2024-01-01T00:00:00Z".into(),
        });
        assert!(matches!(move_(&mut s, "t.a", "t.b"), Err(SurgeryError::DestinationExists { .. })));
        move_(&mut s, "t.b", "t.c").unwrap_err(); // t.b is only pending, not a resource
        move_(&mut s, "t.a", "t.a[0]").unwrap();
        s.pending[0].address = "t.a[1]".into();
        move_(&mut s, "t.a", "t.z").unwrap();
        assert_eq!(s.pending[0].address, "t.z[1]");
    }

    #[test]
    fn push_rules() {
        let cur = state(&["t.a"]);
        let mut next = cur.clone();
        next.serial = cur.serial + 1;
        assert_eq!(check_push(None, &cur, false), Ok(()));
        assert_eq!(check_push(Some(&cur), &next, false), Ok(()));
        let e = check_push(Some(&cur), &cur, false).unwrap_err();
        assert!(matches!(e, SurgeryError::PushNotNewer { .. }));
        assert!(e.to_string().contains("--force"));
        let other = State::new();
        let e = check_push(Some(&cur), &other, false).unwrap_err();
        assert!(matches!(e, SurgeryError::PushLineageMismatch { .. }));
        assert!(e.to_string().contains("--force"));
        assert_eq!(check_push(Some(&cur), &other, true), Ok(()));
        assert_eq!(check_push(Some(&cur), &cur, true), Ok(()));
    }
}
