//! The apply's state writer over a journal: operations committing at the same time share one
//! append (group commit), a failed append fails the operations it held while their changes are
//! saved with the next, and everything is in the stored state once the writer is gone.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use meshform_engine::apply::StateWriter;
use meshform_state::{
    Appended, InstanceState, LocalStore, LockInfo, State, StateChange, StateError, StateLock,
    StateStore,
};

/// A local store whose appends take `delay`, counted; the first `fail_first` of them fail, and
/// every whole write too when `fail_writes`.
struct SlowJournal {
    inner: LocalStore,
    delay: Duration,
    appends: AtomicUsize,
    fail_first: usize,
    fail_writes: bool,
}

impl StateStore for SlowJournal {
    fn describe(&self) -> String {
        self.inner.describe()
    }
    fn read(&self) -> Result<Option<State>, StateError> {
        self.inner.read()
    }
    fn write(&self, state: &mut State) -> Result<(), StateError> {
        if self.fail_writes {
            return Err(StateError::Io {
                path: "state".into(),
                source: std::io::Error::other("key not found"),
            });
        }
        self.inner.write(state)
    }
    fn append(
        &self,
        lineage: &str,
        serial: u64,
        changes: &[StateChange],
    ) -> Result<Appended, StateError> {
        std::thread::sleep(self.delay);
        if self.appends.fetch_add(1, Ordering::SeqCst) < self.fail_first {
            return Err(StateError::Io {
                path: "journal".into(),
                source: std::io::Error::other("disk full"),
            });
        }
        self.inner.append(lineage, serial, changes)
    }
    fn lock(&self, info: LockInfo, timeout: Duration) -> Result<Box<dyn StateLock>, StateError> {
        self.inner.lock(info, timeout)
    }
    fn force_unlock(&self, id: &str) -> Result<(), StateError> {
        self.inner.force_unlock(id)
    }
}

fn set(i: usize) -> StateChange {
    let address = format!("test_thing.f[{i}]");
    let key = address.parse::<meshform_core::InstanceAddr>().expect("address").key;
    let mut instance = InstanceState::new(key);
    instance.attributes = serde_json::json!({ "name": format!("f{i}") });
    StateChange::SetInstance { address, provider: "provider.test".into(), instance }
}

fn setup(delay: Duration, fail_first: usize) -> (tempfile::TempDir, Arc<SlowJournal>, State) {
    let dir = tempfile::tempdir().expect("tempdir");
    let inner = LocalStore::new(dir.path().join("meshform.state.json"));
    let mut state = State::new();
    inner.write(&mut state).expect("a first snapshot");
    let store = Arc::new(SlowJournal {
        inner,
        delay,
        appends: AtomicUsize::new(0),
        fail_first,
        fail_writes: false,
    });
    (dir, store, state)
}

#[tokio::test]
async fn operations_committing_together_share_one_append() {
    let (_dir, store, state) = setup(Duration::from_millis(30), 0);
    let writer = StateWriter::new(Arc::clone(&store) as Arc<dyn StateStore>, state);
    let commits = (0..40).map(|i| writer.commit(vec![set(i)]));
    for r in futures::future::join_all(commits).await {
        r.expect("saved");
    }
    let appends = store.appends.load(Ordering::SeqCst);
    assert!(appends <= 3, "40 concurrent commits took {appends} appends");
    // Saved when `commit` returned: the journal has them before any whole write.
    let stored = store.read().expect("read").expect("state");
    assert_eq!(stored.instances().count(), 40);
    assert_eq!(stored, writer.snapshot());
}

#[tokio::test]
async fn a_failed_append_fails_its_operations_and_the_next_saves_their_changes() {
    let (_dir, store, state) = setup(Duration::ZERO, 1);
    let writer = StateWriter::new(Arc::clone(&store) as Arc<dyn StateStore>, state);
    let e = writer.commit(vec![set(0)]).await.expect_err("the first append fails");
    assert!(e.to_string().contains("disk full"), "{e}");
    writer.commit(vec![set(1)]).await.expect("the next append works");
    let stored = store.read().expect("read").expect("state");
    let names: Vec<String> = stored.instances().map(|(a, _, _)| a.to_string()).collect();
    assert_eq!(names, ["test_thing.f[0]", "test_thing.f[1]"], "nothing made in memory is lost");
    // A whole write (the end of a run) empties the journal.
    writer.update(|_| {}).expect("written");
    drop(writer);
    let journal = std::fs::metadata(store.inner.journal_path()).expect("journal").len();
    assert_eq!(journal, 0);
    assert_eq!(store.read().expect("read").expect("state").instances().count(), 2);
}

#[tokio::test]
async fn a_store_that_keeps_failing_is_not_retried_in_a_loop_and_the_writer_closes() {
    let (_dir, store, state) = setup(Duration::ZERO, usize::MAX);
    let store = Arc::new(SlowJournal {
        inner: LocalStore::new(store.inner.path().to_owned()),
        delay: Duration::ZERO,
        appends: AtomicUsize::new(0),
        fail_first: usize::MAX,
        fail_writes: true,
    });
    let writer = StateWriter::new(Arc::clone(&store) as Arc<dyn StateStore>, state);
    writer.commit(vec![set(0)]).await.expect_err("the append fails");
    writer.update(|_| {}).expect_err("and so does the whole write");
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(store.appends.load(Ordering::SeqCst), 1, "no retry without a new commit");
    writer.commit(vec![set(1)]).await.expect_err("the next fails too");
    let closed = std::thread::spawn(move || drop(writer));
    std::thread::sleep(Duration::from_millis(500));
    assert!(closed.is_finished(), "the writer closes instead of retrying forever");
    assert!(store.appends.load(Ordering::SeqCst) <= 3);
}
