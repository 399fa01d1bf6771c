//! The shared state of one emulated cluster: its store, its catalogue of kinds, its exec handler
//! and the signals that wake the controllers and the persister.

use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Duration;

use meshform_core::sync::{self, lock};
use tokio::sync::{watch, Notify};

use super::commands::ExecHandler;
use super::kinds::{Catalogue, ResourceType};
use super::requests::RequestCounter;
use super::status::ApiError;
use super::store::Store;

/// Delays of the emulated controllers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// How long a new pod stays `Pending` before it is `Running` and `Ready`.
    pub pod_start_delay: Duration,
    /// How long a deleted namespace stays `Terminating` before its contents are removed.
    pub namespace_finalize_delay: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            pod_start_delay: Duration::from_millis(300),
            namespace_finalize_delay: Duration::from_millis(1000),
        }
    }
}

/// One cluster's state, shared by the HTTP handlers, the controllers and the hooks.
pub struct Cluster {
    pub name: String,
    pub timing: Timing,
    pub sidecar_image: String,
    store: Mutex<Store>,
    kinds: RwLock<Catalogue>,
    exec: RwLock<Arc<dyn ExecHandler>>,
    pub wake_controllers: Notify,
    pub wake_persister: Notify,
    /// The requests the API server has answered.
    pub requests: RequestCounter,
    /// Set to true when the server shuts down; long-running tasks watch it.
    pub stop: watch::Sender<bool>,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster").field("name", &self.name).finish_non_exhaustive()
    }
}

impl Cluster {
    /// A cluster over a loaded store and catalogue.
    pub fn new(
        name: String,
        timing: Timing,
        sidecar_image: String,
        store: Store,
        kinds: Catalogue,
        exec: Arc<dyn ExecHandler>,
    ) -> Self {
        Cluster {
            name,
            timing,
            sidecar_image,
            store: Mutex::new(store),
            kinds: RwLock::new(kinds),
            exec: RwLock::new(exec),
            wake_controllers: Notify::new(),
            wake_persister: Notify::new(),
            requests: RequestCounter::default(),
            stop: watch::channel(false).0,
        }
    }

    /// The store. A panic elsewhere while it was held leaves it usable (writes are applied whole).
    pub fn store(&self) -> MutexGuard<'_, Store> {
        lock(&self.store)
    }

    /// A copy of the catalogue.
    pub fn catalogue(&self) -> Catalogue {
        sync::read(&self.kinds).clone()
    }

    /// Change the catalogue.
    pub fn with_catalogue<T>(&self, f: impl FnOnce(&mut Catalogue) -> T) -> T {
        let mut k = sync::write(&self.kinds);
        f(&mut k)
    }

    /// The type served at `group/version/plural`.
    pub fn resolve(&self, group: &str, version: &str, plural: &str) -> Option<ResourceType> {
        sync::read(&self.kinds).by_plural(group, version, plural).cloned()
    }

    /// The type of a group and kind.
    pub fn type_of(&self, group: &str, kind: &str) -> Result<ResourceType, ApiError> {
        sync::read(&self.kinds)
            .by_kind(group, kind)
            .cloned()
            .ok_or_else(|| ApiError::not_found(group, &kind.to_lowercase(), ""))
    }

    /// The current exec handler.
    pub fn exec_handler(&self) -> Arc<dyn ExecHandler> {
        sync::read(&self.exec).clone()
    }

    /// Replace the exec handler.
    pub fn set_exec_handler(&self, h: Arc<dyn ExecHandler>) {
        *sync::write(&self.exec) = h;
    }

    /// Something was written: wake the controllers and the persister.
    pub fn changed(&self) {
        self.wake_controllers.notify_one();
        self.wake_persister.notify_one();
    }
}
