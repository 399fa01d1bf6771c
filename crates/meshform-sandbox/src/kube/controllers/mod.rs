//! The emulated controllers: deployments → replica sets → pods, the kubelet (pods become Running
//! and Ready), endpoints, load balancer addresses, namespace finalization and garbage collection.
//! One loop runs them all after every change, and again when timed work (a pod starting, a
//! namespace draining) is due.

mod deployment;
mod endpoints;
mod gc;
mod kubelet;
mod namespace;
mod replicaset;
mod services;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::time::Instant;

use super::cluster::Cluster;
use super::kinds::ResourceType;
use super::meta;
use super::objects::WriteOptions;
use super::selectors::{FieldSelector, LabelSelector};

/// The field manager the controllers write as.
pub const CONTROLLER: &str = "kube-controller-manager";

/// Memory the controllers keep between passes.
#[derive(Default)]
pub struct Controllers {
    /// When each pod (by uid) was first seen Pending.
    pod_seen: HashMap<String, Instant>,
    /// When each namespace (by uid) was first seen Terminating.
    namespace_seen: HashMap<String, Instant>,
}

/// When the next timed piece of work is due.
#[derive(Default)]
pub struct Due(Option<Instant>);

impl Due {
    fn at(&mut self, t: Instant) {
        self.0 = Some(self.0.map_or(t, |x| x.min(t)));
    }
}

/// Run the controllers until the server stops.
pub async fn run(cluster: Arc<Cluster>) {
    let mut stop = cluster.stop.subscribe();
    let mut state = Controllers::default();
    loop {
        let mut due = Due::default();
        pass(&cluster, &mut state, &mut due);
        let wait = due
            .0
            .map(|t| t.saturating_duration_since(Instant::now()))
            .unwrap_or(Duration::from_secs(5));
        tokio::select! {
            _ = cluster.wake_controllers.notified() => {}
            _ = tokio::time::sleep(wait.max(Duration::from_millis(10))) => {}
            _ = stop.wait_for(|stopped| *stopped) => return,
        }
    }
}

/// One pass of every controller.
pub fn pass(cluster: &Cluster, state: &mut Controllers, due: &mut Due) {
    namespace::reconcile(cluster, state, due);
    gc::reconcile(cluster);
    deployment::reconcile(cluster);
    replicaset::reconcile(cluster);
    kubelet::reconcile(cluster, state, due);
    endpoints::reconcile(cluster);
    services::reconcile(cluster);
}

fn opts<'a>(manager: &'a str, subresource: &'a str) -> WriteOptions<'a> {
    WriteOptions { manager, dry_run: false, subresource }
}

/// Every object of a built-in kind, in all namespaces.
fn all(cluster: &Cluster, group: &str, kind: &str) -> (Option<ResourceType>, Vec<Value>) {
    let Ok(rt) = cluster.type_of(group, kind) else { return (None, vec![]) };
    let (items, _) =
        cluster.list_objects(&rt, None, &LabelSelector::default(), &FieldSelector::default());
    (Some(rt), items)
}

/// Whether `o` is controlled by the object with this uid.
fn controlled_by(o: &Value, uid: &str) -> bool {
    o["metadata"]["ownerReferences"]
        .as_array()
        .is_some_and(|refs| refs.iter().any(|r| r["uid"] == uid && r["controller"] == true))
}

/// An ownerReference to `owner` as its controller.
fn owner_ref(owner: &Value) -> Value {
    json!({
        "apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": meta::name(owner),
        "uid": meta::uid(owner), "controller": true, "blockOwnerDeletion": true,
    })
}

/// A condition list with one condition set; transition and update times change only when the
/// condition does.
fn set_condition(
    conds: &[Value],
    ty: &str,
    status: &str,
    reason: &str,
    message: &str,
    with_update_time: bool,
) -> Vec<Value> {
    let now = meta::now();
    let mut out: Vec<Value> = conds.iter().filter(|c| c["type"] != ty).cloned().collect();
    let old = conds.iter().find(|c| c["type"] == ty);
    let same = old
        .is_some_and(|c| c["status"] == status && c["reason"] == reason && c["message"] == message);
    let c = match old {
        Some(c) if same => c.clone(),
        _ => {
            let transition = match old {
                Some(c) if c["status"] == status => c["lastTransitionTime"].clone(),
                _ => json!(now),
            };
            let mut c = json!({"type": ty, "status": status, "reason": reason, "message": message,
                               "lastTransitionTime": transition});
            if with_update_time {
                c["lastUpdateTime"] = json!(now);
            }
            c
        }
    };
    out.push(c);
    out.sort_by_key(|c| c["type"].as_str().map(condition_rank).unwrap_or(99));
    out
}

fn condition_rank(t: &str) -> u8 {
    match t {
        "Available" => 0,
        "Progressing" => 1,
        "PodReadyToStartContainers" => 2,
        "Initialized" => 3,
        "Ready" => 4,
        "ContainersReady" => 5,
        "PodScheduled" => 6,
        _ => 50,
    }
}

/// Drop zero and empty fields, as the real status structs' `omitempty` does.
fn omit_zero(mut v: Value) -> Value {
    if let Some(m) = v.as_object_mut() {
        m.retain(|_, x| !(x == &json!(0) || x.is_null()));
    }
    v
}
