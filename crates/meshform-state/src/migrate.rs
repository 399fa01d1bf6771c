//! Moving a state from one backend to another (`meshform init` after the backend changed): the
//! state keeps its lineage, and a destination that holds a different history is never overwritten.

use crate::format::State;
use crate::store::{StateError, StateStore};

/// What [`migrate`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Migration {
    /// The source holds no state: nothing to move.
    NothingToMigrate,
    /// The state was copied; `serial` is its serial in the destination.
    Copied { serial: u64, instances: usize },
    /// The destination already holds this state at the same or a newer serial: nothing copied.
    UpToDate { source_serial: u64, destination_serial: u64 },
}

/// Copies the state of `from` into `to`. The caller holds both stores' locks.
///
/// Refuses with [`StateError::LineageMismatch`] when the destination holds a state of another
/// lineage (another history: copying would destroy it), unless that state is empty and was never
/// written to by an apply (serial 0 or 1 with no resources and no outputs).
pub fn migrate(from: &dyn StateStore, to: &dyn StateStore) -> Result<Migration, StateError> {
    let Some(source) = from.read()? else { return Ok(Migration::NothingToMigrate) };
    let instances = source.instances().count();
    match to.read()? {
        None => {
            let mut s = source;
            to.write(&mut s)?;
            Ok(Migration::Copied { serial: s.serial, instances })
        }
        Some(dest) if dest.lineage == source.lineage => {
            if dest.serial >= source.serial {
                return Ok(Migration::UpToDate {
                    source_serial: source.serial,
                    destination_serial: dest.serial,
                });
            }
            let mut s = source;
            to.write(&mut s)?;
            Ok(Migration::Copied { serial: s.serial, instances })
        }
        Some(dest) if is_blank(&dest) => {
            let mut s = source;
            to.write_forced(&mut s)?;
            Ok(Migration::Copied { serial: s.serial, instances })
        }
        Some(dest) => Err(StateError::LineageMismatch {
            path: to.describe().into(),
            stored: dest.lineage,
            ours: source.lineage,
        }),
    }
}

/// A state that holds nothing: replacing it loses no history.
fn is_blank(s: &State) -> bool {
    s.is_empty() && s.outputs.is_empty()
}
