//! The state directory: atomic writes, loading the saved objects and kinds, and the persister
//! task that saves after changes (and once more at shutdown).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use meshform_core::fsio;
use serde_json::{json, Value};

use super::cluster::Cluster;
use super::kinds::{Catalogue, Gvk};
use super::store::{ObjectKey, Store};

/// The file holding the objects and the resourceVersion counter.
pub const OBJECTS: &str = "objects.json";

/// Writes a file atomically ([`fsio::write_atomic`]), creating its directory first.
pub fn atomic_write(path: &Path, bytes: &[u8], mode: Option<u32>) -> std::io::Result<()> {
    std::fs::create_dir_all(fsio::parent_dir(path))?;
    fsio::write_atomic(path, bytes, mode)
}

/// A file's contents, or `None` when it does not exist.
pub fn read_optional(path: &Path) -> std::io::Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Load the saved store and catalogue from `dir` (empty ones when nothing was saved).
pub fn load(dir: &Path) -> Result<(Store, Catalogue), String> {
    let mut catalogue = Catalogue::default();
    let Some(text) = read_optional(&dir.join(OBJECTS)).map_err(|e| e.to_string())? else {
        return Ok((Store::new(0), catalogue));
    };
    let snapshot: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    for k in snapshot["kinds"].as_array().into_iter().flatten() {
        let (Some(g), Some(kind), Some(plural)) =
            (k["group"].as_str(), k["kind"].as_str(), k["plural"].as_str())
        else {
            continue;
        };
        for v in k["versions"].as_array().into_iter().flatten().filter_map(Value::as_str) {
            catalogue.learn(
                &Gvk::new(g, v, kind),
                plural,
                k["namespaced"].as_bool().unwrap_or(true),
            );
        }
    }
    for o in snapshot["objects"].as_array().into_iter().flatten() {
        if o["kind"] == "CustomResourceDefinition" {
            catalogue.learn_crd(o);
        }
    }
    let cat = catalogue.clone();
    let store = Store::load(&snapshot, |o| {
        let gvk = Gvk::of(o)?;
        let t = cat.by_kind(&gvk.group, &gvk.kind)?;
        let ns = if t.namespaced { o["metadata"]["namespace"].as_str()? } else { "" };
        Some(ObjectKey::new(&t.group, &t.kind, ns, o["metadata"]["name"].as_str()?))
    });
    Ok((store, catalogue))
}

fn snapshot(cluster: &Cluster) -> Vec<u8> {
    let kinds: Vec<Value> = cluster
        .catalogue()
        .all()
        .iter()
        .filter(|t| !t.builtin)
        .map(|t| json!({"group": t.group, "versions": t.versions, "kind": t.kind, "plural": t.plural, "namespaced": t.namespaced}))
        .collect();
    let mut snap = cluster.store().snapshot();
    snap["kinds"] = json!(kinds);
    snap["cluster"] = json!(cluster.name);
    serde_json::to_vec(&snap).unwrap_or_default()
}

/// Save now.
pub fn save(cluster: &Cluster, dir: &Path) -> std::io::Result<()> {
    atomic_write(&dir.join(OBJECTS), &snapshot(cluster), None)
}

/// Save after each burst of changes until the server stops, then save once more.
pub async fn run(cluster: Arc<Cluster>, dir: PathBuf) {
    let mut stop = cluster.stop.subscribe();
    loop {
        tokio::select! {
            _ = cluster.wake_persister.notified() => {}
            _ = stop.wait_for(|stopped| *stopped) => break,
        }
        // Coalesce bursts (a rollout writes many objects at once).
        tokio::time::sleep(Duration::from_millis(50)).await;
        let bytes = snapshot(&cluster);
        let path = dir.join(OBJECTS);
        // A failed save is retried at the next change; the server keeps serving.
        let _ = tokio::task::spawn_blocking(move || atomic_write(&path, &bytes, None)).await;
    }
}
