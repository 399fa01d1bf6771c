//! The state being applied: kept in memory during a run, each operation's changes appended to the
//! store's journal with group commit, and the whole state written (a compaction) now and then and
//! at the end.
//!
//! An operation calls [`StateWriter::commit`]: its changes are made to the in-memory state at once
//! and queued; a committer thread appends everything queued as one journal entry (one `fsync`, or
//! one PostgreSQL transaction) while the operations that queued it wait. Changes queued while an
//! append is running go together into the next, so concurrent operations share their flushes and
//! the cost of saving an operation does not grow with the state. After about as many changes as the
//! state has instances (at least [`MIN_CHANGES_PER_SNAPSHOT`]), the committer writes the whole state
//! and the store empties the journal, which keeps reads and the total work linear.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;

use meshform_core::sync::lock;
use meshform_state::{Appended, State, StateChange, StateError, StateStore};
use tokio::sync::watch;

/// The fewest changes journalled between two snapshots.
pub const MIN_CHANGES_PER_SNAPSHOT: usize = 1000;

/// The state being applied, saved through the store after every change.
pub struct StateWriter {
    shared: Arc<Shared>,
    committer: Option<JoinHandle<()>>,
}

struct Shared {
    store: Arc<dyn StateStore>,
    inner: Mutex<Inner>,
    /// Signalled when changes are queued, an append ends, or the writer closes.
    wake: Condvar,
    /// How far the queued changes are durable, for the operations waiting on them.
    durable: watch::Sender<Durable>,
}

struct Inner {
    state: State,
    /// Changes made to `state` but not yet saved.
    queue: Vec<StateChange>,
    /// The number of commits queued so far (the last one's sequence number).
    queued: u64,
    /// The committer is appending (outside the lock).
    appending: bool,
    /// Changes journalled since the state was last written whole.
    since_snapshot: usize,
    closing: bool,
}

/// Commits up to `done` are settled: saved, unless they are in a failed range.
#[derive(Clone, Default)]
struct Durable {
    done: u64,
    /// Failed appends: the first and last commit they held, and why they failed.
    failed: Vec<(u64, u64, String)>,
}

impl StateWriter {
    pub fn new(store: Arc<dyn StateStore>, state: State) -> StateWriter {
        let shared = Arc::new(Shared {
            store,
            inner: Mutex::new(Inner {
                state,
                queue: Vec::new(),
                queued: 0,
                appending: false,
                since_snapshot: 0,
                closing: false,
            }),
            wake: Condvar::new(),
            durable: watch::Sender::new(Durable::default()),
        });
        let for_thread = Arc::clone(&shared);
        let committer = std::thread::Builder::new()
            .name("meshform-state-committer".to_owned())
            .spawn(move || for_thread.run_committer())
            .ok();
        StateWriter { shared, committer }
    }

    /// Makes `changes` to the state and returns once they are saved (appended to the journal
    /// together with those of the operations committing at the same time).
    pub async fn commit(&self, changes: Vec<StateChange>) -> Result<(), StateError> {
        let seq = {
            let mut g = lock(&self.shared.inner);
            for c in &changes {
                c.apply(&mut g.state).map_err(|message| StateError::Backend {
                    backend: self.shared.store.describe(),
                    message: format!(
                        "cannot record a change: {message}; this is a bug in meshform"
                    ),
                })?;
            }
            g.queue.extend(changes);
            g.queued += 1;
            g.queued
        };
        self.shared.wake.notify_all();
        if self.committer.is_none() {
            // No thread could be started: save in the caller.
            self.shared.commit_queued();
        }
        let mut rx = self.shared.durable.subscribe();
        let settled = match rx.wait_for(|d| d.done >= seq).await {
            Ok(d) => d.clone(),
            // The sender lives as long as `self`.
            Err(_) => self.shared.durable.borrow().clone(),
        };
        match settled.failed.iter().find(|(from, to, _)| (*from..=*to).contains(&seq)) {
            Some((_, _, message)) => Err(StateError::Backend {
                backend: self.shared.store.describe(),
                message: message.clone(),
            }),
            None => Ok(()),
        }
    }

    /// Changes the state with `f` and writes it whole (with everything queued), atomically.
    pub fn update(&self, f: impl FnOnce(&mut State)) -> Result<(), StateError> {
        let mut g = self.shared.idle();
        f(&mut g.state);
        self.shared.write_whole(&mut g)
    }

    /// Reads the current state (with every change made so far, saved or not).
    pub fn with_state<T>(&self, f: impl FnOnce(&State) -> T) -> T {
        f(&lock(&self.shared.inner).state)
    }

    /// A copy of the current state.
    pub fn snapshot(&self) -> State {
        lock(&self.shared.inner).state.clone()
    }
}

impl Drop for StateWriter {
    fn drop(&mut self) {
        lock(&self.shared.inner).closing = true;
        self.shared.wake.notify_all();
        if let Some(t) = self.committer.take() {
            // The committer saves what is still queued, then ends.
            let _ = t.join();
        }
    }
}

impl Shared {
    fn run_committer(&self) {
        let mut g = lock(&self.inner);
        // After a failed save, the changes put back are tried again only with the next commit (or
        // a whole write), not in a loop against a store that keeps failing; a closing writer tries
        // once more, then gives up (what is lost is what was reported failed).
        let mut retry_after: Option<u64> = None;
        loop {
            let waiting = retry_after.is_some_and(|seq| g.queued == seq);
            if g.queue.is_empty() || waiting {
                if g.closing && (g.queue.is_empty() || retry_after.is_some()) {
                    return;
                }
                g = self.wake.wait(g).unwrap_or_else(std::sync::PoisonError::into_inner);
                continue;
            }
            let seq = g.queued;
            drop(g);
            let saved = self.commit_queued();
            g = lock(&self.inner);
            retry_after = (!saved).then_some(seq);
        }
    }

    /// Appends everything queued as one journal entry, settles the commits it holds, and writes
    /// the whole state when enough has been journalled since the last time.
    fn commit_queued(&self) -> bool {
        let mut g = lock(&self.inner);
        while g.appending {
            g = self.wake.wait(g).unwrap_or_else(std::sync::PoisonError::into_inner);
        }
        if g.queue.is_empty() {
            return true;
        }
        let changes = std::mem::take(&mut g.queue);
        let last = g.queued;
        let first = self.durable.borrow().done + 1;
        let (lineage, serial) = (g.state.lineage.clone(), g.state.serial);
        g.appending = true;
        drop(g);
        let appended = self.store.append(&lineage, serial, &changes);
        let mut g = lock(&self.inner);
        g.appending = false;
        let result = match appended {
            Ok(Appended::Journalled { serial }) => {
                g.state.serial = serial;
                g.since_snapshot += changes.len();
                if g.since_snapshot >= MIN_CHANGES_PER_SNAPSHOT
                    && g.since_snapshot >= instance_count(&g.state)
                {
                    self.write_whole(&mut g)
                } else {
                    Ok(())
                }
            }
            Ok(Appended::NeedsSnapshot) => {
                let written = self.write_whole(&mut g);
                if written.is_err() {
                    requeue(&mut g, changes);
                }
                written
            }
            Err(e) => {
                requeue(&mut g, changes);
                Err(e)
            }
        };
        let saved = result.is_ok();
        self.settle(first, last, result.err().map(|e| e.to_string()));
        drop(g);
        self.wake.notify_all();
        saved
    }

    /// Waits until no append is running, and returns the locked state.
    fn idle(&self) -> MutexGuard<'_, Inner> {
        let mut g = lock(&self.inner);
        while g.appending {
            g = self.wake.wait(g).unwrap_or_else(std::sync::PoisonError::into_inner);
        }
        g
    }

    /// Writes the whole state (which holds every queued change) and settles the commits queued.
    fn write_whole(&self, g: &mut MutexGuard<'_, Inner>) -> Result<(), StateError> {
        self.store.write(&mut g.state)?;
        g.queue.clear();
        g.since_snapshot = 0;
        let (first, last) = (self.durable.borrow().done + 1, g.queued);
        if first <= last {
            self.settle(first, last, None);
        }
        Ok(())
    }

    fn settle(&self, first: u64, last: u64, failure: Option<String>) {
        self.durable.send_modify(|d| {
            d.done = d.done.max(last);
            if let Some(message) = failure {
                d.failed.push((first, last, message));
            }
        });
    }
}

/// Puts back in front of the queue changes that could not be saved: they are made in memory, and
/// are saved with the next append or write.
fn requeue(g: &mut Inner, changes: Vec<StateChange>) {
    let later = std::mem::replace(&mut g.queue, changes);
    g.queue.extend(later);
}

/// The number of instances in the state (a snapshot costs about as much).
fn instance_count(state: &State) -> usize {
    state.resources.iter().map(|r| r.instances.len()).sum()
}
