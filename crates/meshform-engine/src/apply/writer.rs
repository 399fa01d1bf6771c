//! The state being applied: kept in memory during a run and written through the [`StateStore`]
//! after every change.

use std::sync::{Arc, Mutex};

use meshform_state::{State, StateError, StateStore};

/// The state being applied, written through the store after every change.
pub struct StateWriter {
    store: Arc<dyn StateStore>,
    state: Mutex<State>,
}

impl StateWriter {
    pub fn new(store: Arc<dyn StateStore>, state: State) -> StateWriter {
        StateWriter { store, state: Mutex::new(state) }
    }

    /// Changes the state and saves it atomically.
    pub fn update(&self, f: impl FnOnce(&mut State)) -> Result<(), StateError> {
        let mut s = meshform_core::sync::lock(&self.state);
        f(&mut s);
        self.store.write(&mut s)
    }

    /// A copy of the current state.
    pub fn snapshot(&self) -> State {
        meshform_core::sync::lock(&self.state).clone()
    }
}
