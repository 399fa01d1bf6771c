//! In-place upgrades over HTTP: `upgrading` while it runs, the new version at the end, the mesh's
//! control plane API serving meanwhile, a failure injected mid-upgrade, and the state persisted.

use std::time::Duration;

use meshform_sandbox::asm::{self, MeshState, UpgradeFailure};

use super::client::{account, start, Client};

const V22: &str = "v1.22.6.71-g7d67a80b-aliyun";

async fn running_mesh(c: &Client, name: &str) -> String {
    let c1 = account().clusters[0].clone();
    let vsw = format!("[\"{}\"]", c1.vswitch_id);
    let created = c
        .ok(
            "CreateServiceMesh",
            &[
                ("RegionId", c1.region.as_str()),
                ("VpcId", &c1.vpc_id),
                ("VSwitches", &vsw),
                ("Name", name),
                ("IstioVersion", V22),
            ],
        )
        .await;
    let id = created["ServiceMeshId"].as_str().unwrap().to_owned();
    c.wait_state(&id, "running").await;
    id
}

#[tokio::test]
async fn an_upgrade_moves_to_the_next_version_and_a_fault_mid_upgrade_keeps_the_old_one() {
    let dir = tempfile::tempdir().unwrap();
    let state_file = dir.path().join("asm.json");
    // Long enough that the checks made while `upgrading` happen before it ends.
    let emu = start(&state_file, Duration::from_millis(1500)).await;
    let c = Client::new(&emu);
    let id = running_mesh(&c, "up").await;

    let target = c.ok("DescribeUpgradeVersion", &[("ServiceMeshId", &id)]).await;
    let next = asm::next_istio_version(V22).unwrap();
    assert_eq!(target["Version"]["IstioVersion"], next);
    let listed = c.ok("DescribeServiceMeshes", &[]).await;
    assert_eq!(listed["ServiceMeshes"][0]["Upgradable"], true);

    // A skip is refused with the real code; the body names the allowed target.
    let skip = asm::next_istio_version(next).unwrap();
    let refused = c
        .call("UpgradeMeshEditionPartially", &[("ServiceMeshId", &id), ("ExpectedVersion", skip)])
        .await;
    assert_eq!((refused.status, refused.code()), (400, "UpgradedVersion.NotExpected"));
    assert!(refused.body["Message"].as_str().unwrap().contains(next), "{:?}", refused.body);

    // Booleans as the Python SDK writes them.
    let up =
        [("ServiceMeshId", id.as_str()), ("ExpectedVersion", next), ("ASMGatewayContinue", "True")];
    c.ok("UpgradeMeshEditionPartially", &up).await;
    let detail = c.ok("DescribeServiceMeshDetail", &[("ServiceMeshId", &id)]).await;
    assert_eq!(detail["ServiceMesh"]["ServiceMeshInfo"]["State"], "upgrading");
    assert_eq!(detail["ServiceMesh"]["ServiceMeshInfo"]["Version"], V22);
    let status = c.ok("DescribeServiceMeshUpgradeStatus", &[("ServiceMeshId", &id)]).await;
    assert_eq!(status["UpgradeDetail"]["MeshStatus"], "upgrading");
    assert!(emu.mesh_api(&id).is_some(), "the mesh's API server keeps serving while upgrading");
    c.wait_state(&id, "running").await;
    let detail = c.ok("DescribeServiceMeshDetail", &[("ServiceMeshId", &id)]).await;
    assert_eq!(detail["ServiceMesh"]["ServiceMeshInfo"]["Version"], next);

    // A failure injected while the next upgrade runs.
    let up = [("ServiceMeshId", id.as_str()), ("ExpectedVersion", skip)];
    c.ok("UpgradeMeshEditionPartially", &up).await;
    emu.set_upgrade_failure(Some(UpgradeFailure {
        mesh_id: None,
        message: "istiod did not become ready".into(),
    }));
    let failed = c.wait_state(&id, "upgrading_failed").await;
    let info = &failed["ServiceMesh"]["ServiceMeshInfo"];
    assert_eq!(info["Version"], next, "a failed upgrade keeps the old version");
    assert!(info["ErrorMessage"].as_str().unwrap().contains("istiod did not become ready"));
    let status = c.ok("DescribeServiceMeshUpgradeStatus", &[("ServiceMeshId", &id)]).await;
    assert_eq!(status["UpgradeDetail"]["MeshStatus"], "upgrading_failed");
    assert!(emu.mesh_api(&id).is_some(), "the mesh's API server still serves after the failure");

    // The failed state survives a restart; a retried upgrade then succeeds.
    emu.shutdown().await.unwrap();
    let emu = start(&state_file, Duration::from_millis(200)).await;
    let c = Client::new(&emu);
    assert_eq!(emu.snapshot().mesh(&id).map(|m| m.state), Some(MeshState::UpgradingFailed));
    c.ok("UpgradeMeshEditionPartially", &up).await;
    let done = c.wait_state(&id, "running").await;
    assert_eq!(done["ServiceMesh"]["ServiceMeshInfo"]["Version"], skip);
    assert_eq!(done["ServiceMesh"]["ServiceMeshInfo"]["ErrorMessage"], "");
    emu.shutdown().await.unwrap();
}
