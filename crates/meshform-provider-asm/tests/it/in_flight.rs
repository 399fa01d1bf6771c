//! Plans and applies of `istio_version` against a mesh whose upgrade did not come from this plan: one
//! in flight (started by an apply that died, another run, the console) is waited for when it goes to
//! the configured version and refused at plan time, naming both versions, when it goes elsewhere; one
//! already over when the update runs is only recorded.

use std::time::{Duration, Instant};

use meshform_engine::plan::walk::PlanOptions;
use meshform_engine::plan::Action;
use meshform_provider_asm::client::{AsmClient, Retry};
use meshform_provider_asm::credentials::{Credentials, ProviderEnv};
use meshform_sandbox::asm::{self, FaultSettings, MeshState};

use crate::harness::{mesh_config, World, KEY_ID, SECRET};

const V22: &str = "v1.22.6.71-g7d67a80b-aliyun";

/// A world whose ASM transitions (an upgrade among them) take `transition`, with one mesh on V22.
async fn mesh_on_v22(transition: Duration) -> (World, String) {
    let world =
        World::start_with(FaultSettings::default(), ProviderEnv::default(), transition).await;
    world.write(&mesh_config(V22, ""));
    let p = world.plan(&PlanOptions::default()).await;
    world.apply(p).await;
    let id = world.emulator.snapshot().meshes.keys().next().cloned().expect("a mesh");
    (world, id)
}

/// A client of the emulator of its own: what another run or the console does to the mesh.
fn outsider(world: &World) -> AsmClient {
    let creds = Credentials::access_key(KEY_ID, SECRET, None, "test");
    AsmClient::new(&world.emulator.endpoint(), creds, 2).expect("a client")
}

/// Starts the upgrade of mesh `id` to `to` behind meshform's back.
async fn upgrade_outside(world: &World, id: &str, to: &str) {
    let params = [
        ("ServiceMeshId".to_owned(), id.to_owned()),
        ("ExpectedVersion".to_owned(), to.to_owned()),
    ];
    outsider(world)
        .call("UpgradeMeshEditionPartially", &params, Retry::Once)
        .await
        .expect("the upgrade starts");
}

/// `(State, Version)` of mesh `id`, asked through the API (which completes due transitions).
async fn live(world: &World, id: &str) -> (String, String) {
    let params = [("ServiceMeshId".to_owned(), id.to_owned())];
    let d = outsider(world)
        .call("DescribeServiceMeshDetail", &params, Retry::Idempotent)
        .await
        .expect("the mesh is described");
    let field = |k: &str| {
        d.pointer(&format!("/ServiceMesh/ServiceMeshInfo/{k}"))
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_owned()
    };
    (field("State"), field("Version"))
}

fn state_version(world: &World) -> String {
    let state = meshform_engine::ops::read_state(&world.ws).expect("state");
    let doc = serde_json::to_value(&state).expect("state as JSON");
    doc.pointer("/resources/0/instances/0/attributes/istio_version")
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upgrade_in_flight_to_the_target_is_planned_as_in_progress_and_waited_for() {
    let (world, id) = mesh_on_v22(Duration::from_secs(4)).await;
    let next = asm::next_istio_version(V22).expect("a newer version");
    let skip = asm::next_istio_version(next).expect("a version after that");
    upgrade_outside(&world, &id, next).await;
    assert_eq!(live(&world, &id).await.0, "upgrading");

    // Another target while the upgrade runs: refused, naming both versions and what to do.
    world.write(&mesh_config(skip, ""));
    let errors = world.try_plan(&PlanOptions::default()).await.err().expect("the plan is refused");
    let text = errors.join("\n");
    for needle in [V22, next, skip, "is upgrading from", "Set istio_version to"] {
        assert!(text.contains(needle), "{needle:?} in {text}");
    }

    // The target of the upgrade in flight: an update the plan says is already under way.
    world.write(&mesh_config(next, ""));
    let planned = world.plan(&PlanOptions::default()).await;
    let changes: Vec<_> = planned.plan.actionable().collect();
    assert_eq!(changes.iter().map(|c| c.action).collect::<Vec<_>>(), vec![Action::Update]);
    let after = changes[0].after.as_ref().expect("after");
    assert_eq!((after.get_str("version"), after.get_str("state")), (Some(next), Some("running")));
    let notes: Vec<String> = planned.diags.iter().map(|d| d.to_string()).collect();
    assert!(!planned.diags.has_errors(), "{notes:?}");
    assert!(
        notes.iter().any(|n| n.contains(&format!("is already upgrading from {V22} to {next}"))),
        "the plan says the upgrade is in progress: {notes:?}"
    );
    assert_eq!(live(&world, &id).await.0, "upgrading", "planned while the upgrade ran");

    // Apply waits for that upgrade: the mesh ends on the target, not one further.
    let out = world.apply(planned).await;
    assert_eq!((out.added, out.changed, out.destroyed), (0, 1, 0));
    assert_eq!(live(&world, &id).await, ("running".to_owned(), next.to_owned()));
    assert_eq!(state_version(&world), next);
    assert!(!world.plan(&PlanOptions::default()).await.plan.has_changes(), "nothing left to do");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upgrade_already_over_when_the_update_runs_is_recorded_without_another() {
    let (world, id) = mesh_on_v22(Duration::from_millis(300)).await;
    let next = asm::next_istio_version(V22).expect("a newer version");
    world.write(&mesh_config(next, ""));
    let planned = world.plan(&PlanOptions::default()).await;
    assert!(planned.diags.is_empty(), "an ordinary upgrade, nothing noted");

    // Between plan and apply, the mesh is upgraded to the target by someone else.
    upgrade_outside(&world, &id, next).await;
    let start = Instant::now();
    while live(&world, &id).await != ("running".to_owned(), next.to_owned()) {
        assert!(start.elapsed() < Duration::from_secs(30), "the outside upgrade finishes");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A plan from the saved state alone (as `verify` plans) notes it instead of refusing the
    // version after it as a skip.
    let stale = world.plan(&PlanOptions { refresh: false, ..PlanOptions::default() }).await;
    let notes: Vec<String> = stale.diags.iter().map(|d| d.to_string()).collect();
    assert!(notes.iter().any(|n| n.contains(&format!("already runs {next}"))), "{notes:?}");

    let out = world.apply(planned).await;
    assert_eq!((out.added, out.changed, out.destroyed), (0, 1, 0));
    let snap = world.emulator.snapshot();
    let mesh = snap.mesh(&id).expect("the mesh");
    assert_eq!((mesh.state, mesh.istio_version.as_str()), (MeshState::Running, next));
    assert_eq!(state_version(&world), next);
    assert!(!world.plan(&PlanOptions::default()).await.plan.has_changes(), "nothing left to do");
}
