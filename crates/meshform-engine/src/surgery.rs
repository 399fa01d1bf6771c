//! The `meshform state` operations on a workspace's store: list, show, remove, move, pull and push.
//! The pure edits are `meshform_state::surgery`; these read the state, apply them and write the
//! result. The caller holds the state lock for the ones that write ([`remove`], [`move_`], [`push`]).

use meshform_core::{InstanceAddr, Selector, Value};
use meshform_state::{surgery, State, StateError, SurgeryError};

use crate::ops::{read_state, Workspace};

/// Why a state operation did not change the state.
#[derive(Debug, thiserror::Error)]
pub enum SurgeryOpError {
    /// Reading or writing the store failed.
    #[error(transparent)]
    State(#[from] StateError),
    /// The operation does not apply to this state (no such address, a push of another lineage…).
    #[error(transparent)]
    Refused(#[from] SurgeryError),
}

/// The addresses of the state's instances, sorted, those matching one of `patterns` (all when
/// there are none).
pub fn list(ws: &Workspace, patterns: &[Selector]) -> Result<Vec<String>, StateError> {
    let state = read_state(ws)?;
    Ok(surgery::list(&state)
        .into_iter()
        .filter(|addr| {
            patterns.is_empty()
                || addr
                    .parse::<InstanceAddr>()
                    .is_ok_and(|ia| patterns.iter().any(|p| p.matches(&ia)))
        })
        .collect())
}

/// One instance as the state holds it.
#[derive(Clone, Debug)]
pub struct ShownInstance {
    /// The resource type (`TYPE` of `TYPE.NAME`).
    pub ty: String,
    /// The resource name (`NAME`).
    pub name: String,
    /// Its attributes (sensitive ones marked).
    pub value: Value,
}

/// The instance at `addr`, or `None` when the state does not hold it.
pub fn show(ws: &Workspace, addr: &InstanceAddr) -> Result<Option<ShownInstance>, StateError> {
    let state = read_state(ws)?;
    Ok(state.instance(addr).map(|(r, inst)| ShownInstance {
        ty: r.ty.clone(),
        name: r.name.clone(),
        value: inst.value(),
    }))
}

/// Forgets the instances matching `patterns` (the objects stay); returns their addresses.
pub fn remove(ws: &Workspace, patterns: &[Selector]) -> Result<Vec<String>, SurgeryOpError> {
    let mut state = read_state(ws)?;
    let removed = surgery::remove(&mut state, patterns)?;
    ws.store.write(&mut state)?;
    Ok(removed)
}

/// `meshform taint` / `untaint`: marks one instance for replacement by the next plan, or clears the
/// mark; returns whether the state changed (it is written only then).
pub fn set_tainted(
    ws: &Workspace,
    addr: &InstanceAddr,
    tainted: bool,
) -> Result<bool, SurgeryOpError> {
    let mut state = read_state(ws)?;
    let changed = surgery::set_tainted(&mut state, addr, tainted)?;
    if changed {
        ws.store.write(&mut state)?;
    }
    Ok(changed)
}

/// Renames `source` to `destination` in the state; returns each instance moved (from, to).
pub fn move_(
    ws: &Workspace,
    source: &str,
    destination: &str,
) -> Result<Vec<(String, String)>, SurgeryOpError> {
    let mut state = read_state(ws)?;
    let moved = surgery::move_(&mut state, source, destination)?;
    ws.store.write(&mut state)?;
    Ok(moved)
}

/// The stored state document as its file bytes, or `None` when there is no state.
pub fn pull(ws: &Workspace) -> Result<Option<Vec<u8>>, PullError> {
    match ws.store.read()? {
        Some(s) => Ok(Some(meshform_state::encode_state(&s).map_err(PullError::Encode)?)),
        None => Ok(None),
    }
}

/// Why [`pull`] gave no document.
#[derive(Debug, thiserror::Error)]
pub enum PullError {
    #[error(transparent)]
    State(#[from] StateError),
    #[error("cannot encode state: {0}")]
    Encode(serde_json::Error),
}

/// Makes `incoming` the stored state; returns its serial there. Without `force`, it must be the
/// same lineage as the stored state and not older ([`surgery::check_push`]), and it becomes the
/// next version of the stored one; with `force`, it replaces whatever is stored (kept as the backup).
pub fn push(ws: &Workspace, mut incoming: State, force: bool) -> Result<u64, SurgeryOpError> {
    let current = ws.store.read()?;
    surgery::check_push(current.as_ref(), &incoming, force)?;
    if force {
        ws.store.write_forced(&mut incoming)?;
    } else {
        // A write bumps the serial: the pushed document keeps the serial it has.
        incoming.serial = incoming.serial.saturating_sub(1);
        ws.store.write(&mut incoming)?;
    }
    Ok(incoming.serial)
}
