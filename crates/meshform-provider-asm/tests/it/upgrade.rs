//! `asm_service_mesh.istio_version` changes in place: an update to the next version ASM offers,
//! refused at plan time for a skip or a downgrade, and a failed upgrade that leaves the old version in
//! the state and on the mesh.

use meshform_engine::plan::walk::PlanOptions;
use meshform_engine::plan::{Action, ChangeReason};
use meshform_sandbox::asm::{self, FaultSettings, MeshState, UpgradeFailure};

use crate::harness::{mesh_config, World};

const V22: &str = "v1.22.6.71-g7d67a80b-aliyun";

fn opts() -> PlanOptions {
    PlanOptions::default()
}

/// A world with one mesh on V22, applied.
async fn mesh_on_v22() -> (World, String) {
    let world = World::start(FaultSettings::default()).await;
    world.write(&mesh_config(V22, ""));
    let p = world.plan(&opts()).await;
    world.apply(p).await;
    let id = world.emulator.snapshot().meshes.keys().next().cloned().expect("a mesh");
    (world, id)
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
async fn a_version_change_upgrades_the_mesh_in_place() {
    let (world, id) = mesh_on_v22().await;
    let next = asm::next_istio_version(V22).expect("a newer version");
    world.write(&mesh_config(next, "upgrade_gateways = true"));
    let planned = world.plan(&opts()).await;
    let changes: Vec<_> = planned.plan.actionable().collect();
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].action, Action::Update, "an upgrade, not a replacement");
    let after = changes[0].after.as_ref().expect("after");
    assert_eq!(after.get_str("version"), Some(next), "the plan shows the version it will run");
    let out = world.apply(planned).await;
    assert_eq!((out.added, out.changed, out.destroyed), (0, 1, 0));

    let snap = world.emulator.snapshot();
    let mesh = snap.mesh(&id).expect("the same mesh, not a new one");
    assert_eq!(snap.meshes.len(), 1);
    assert_eq!((mesh.state, mesh.istio_version.as_str()), (MeshState::Running, next));
    assert_eq!(mesh.gateways_version(), next, "upgrade_gateways took the gateways along");
    assert_eq!(state_version(&world), next);
    assert!(!world.plan(&opts()).await.plan.has_changes(), "nothing left to do");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_skip_or_a_downgrade_is_refused_at_plan_time_naming_the_allowed_version() {
    let (world, id) = mesh_on_v22().await;
    let next = asm::next_istio_version(V22).expect("a newer version");
    let skip = asm::next_istio_version(next).expect("a version after that");
    let older =
        asm::istio_versions().iter().copied().find(|v| asm::next_istio_version(v) == Some(V22));
    let older = older.expect("an older version");
    for (target, says) in [(skip, "one version at a time"), (older, "cannot downgrade")] {
        world.write(&mesh_config(target, ""));
        let errors = world.try_plan(&opts()).await.err().expect("the plan is refused");
        let text = errors.join("\n");
        assert!(text.contains(says) && text.contains(next), "{target}: {text}");
        assert!(text.contains("istio_version"), "{text}");
    }
    let mesh = world.emulator.snapshot().mesh(&id).cloned().expect("the mesh");
    assert_eq!((mesh.state, mesh.istio_version.as_str()), (MeshState::Running, V22));

    // What ASM cannot change still replaces the mesh, and the plan says why.
    world.write(&mesh_config(V22, "").replace("vsw-1", "vsw-9"));
    let planned = world.plan(&opts()).await;
    let change = planned.plan.actionable().next().expect("a change");
    assert_eq!(change.action, Action::DeleteThenCreate);
    match &change.reason {
        Some(ChangeReason::Provider(why)) => assert!(why.contains("vswitches"), "{why}"),
        other => panic!("expected the provider's reason, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_upgrade_is_an_error_and_the_old_version_stays() {
    let (world, id) = mesh_on_v22().await;
    let next = asm::next_istio_version(V22).expect("a newer version");
    world.write(&mesh_config(next, ""));
    let planned = world.plan(&opts()).await;
    // Decided when the upgrade would complete: the upgrade starts, then fails.
    world.emulator.set_upgrade_failure(Some(UpgradeFailure {
        mesh_id: Some(id.clone()),
        message: "istiod did not become ready".into(),
    }));
    let out = world.try_apply(planned).await;
    let errors: Vec<String> = out.diags.iter().map(|d| d.to_string()).collect();
    let text = errors.join("\n");
    assert!(out.diags.has_errors(), "the apply fails");
    assert!(
        text.contains("istiod did not become ready") && text.contains("upgrading_failed"),
        "{text}"
    );
    let mesh = world.emulator.snapshot().mesh(&id).cloned().expect("the mesh is still there");
    assert_eq!((mesh.state, mesh.istio_version.as_str()), (MeshState::UpgradingFailed, V22));
    assert_eq!(state_version(&world), V22, "the state keeps the old version");

    // Once the cause is gone, the next apply retries the upgrade.
    world.emulator.set_upgrade_failure(None);
    let planned = world.plan(&opts()).await;
    let actions: Vec<Action> = planned.plan.actionable().map(|c| c.action).collect();
    assert_eq!(actions, vec![Action::Update]);
    world.apply(planned).await;
    assert_eq!(
        world.emulator.snapshot().mesh(&id).map(|m| m.istio_version.clone()).as_deref(),
        Some(next)
    );
    assert_eq!(state_version(&world), next);
}
