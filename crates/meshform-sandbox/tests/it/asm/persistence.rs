//! The state survives a restart, and transitions in flight complete afterwards.

use std::time::Duration;

use meshform_sandbox::asm::MeshState;

use super::client::{account, start, Client};

#[tokio::test]
async fn state_and_transitions_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let state_file = dir.path().join("state").join("asm.json");
    let c1 = account().clusters[0].clone();
    let vsw = format!("[\"{}\"]", c1.vswitch_id);

    let emu = start(&state_file, Duration::from_millis(1500)).await;
    let c = Client::new(&emu);
    let created = c
        .ok(
            "CreateServiceMesh",
            &[
                ("RegionId", &c1.region),
                ("VpcId", &c1.vpc_id),
                ("VSwitches", &vsw),
                ("Name", "mesh-1"),
                ("GuestCluster", &c1.id),
            ],
        )
        .await;
    let mesh = created["ServiceMeshId"].as_str().unwrap().to_owned();
    let ca_before = emu.snapshot().mesh(&mesh).unwrap().ca.clone();
    emu.shutdown().await.unwrap();
    assert!(state_file.exists());

    // A new emulator on the same file: the mesh is there, still initial, and completes.
    let emu = start(&state_file, Duration::from_millis(1500)).await;
    let c = Client::new(&emu);
    let snap = emu.snapshot();
    let restored = snap.mesh(&mesh).expect("the mesh survives the restart");
    assert_eq!(restored.state, MeshState::Initial);
    assert_eq!(restored.ca, ca_before);
    assert_eq!(snap.managing_mesh(&c1.id).map(|m| m.id.as_str()), Some(mesh.as_str()));
    c.wait_state(&mesh, "running").await;

    // A deletion in flight completes after a restart too.
    c.ok("DeleteServiceMesh", &[("ServiceMeshId", &mesh)]).await;
    emu.shutdown().await.unwrap();
    let emu = start(&state_file, Duration::from_millis(1500)).await;
    assert_eq!(emu.snapshot().mesh(&mesh).map(|m| m.state), Some(MeshState::Deleting));
    let mut changes = emu.subscribe();
    tokio::time::timeout(Duration::from_secs(10), changes.wait_for(|s| s.meshes.is_empty()))
        .await
        .expect("the deletion completes")
        .unwrap();
    emu.shutdown().await.unwrap();
}
