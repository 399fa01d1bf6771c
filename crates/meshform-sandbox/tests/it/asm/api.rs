//! The runbook's ASM steps over signed HTTP, and what observers see meanwhile.

use std::time::Duration;

use meshform_sandbox::asm::{Injection, MeshState};
use serde_json::Value;

use super::client::{account, start, Client};

const V122: &str = "v1.22.6.71-g7d67a80b-aliyun";

#[tokio::test]
async fn runbook_lifecycle_over_signed_v3_requests() {
    let dir = tempfile::tempdir().unwrap();
    let emu = start(&dir.path().join("asm.json"), Duration::from_millis(600)).await;
    let c = Client::new(&emu);
    let mut changes = emu.subscribe();
    let [c1, c2] = [account().clusters[0].clone(), account().clusters[1].clone()];

    let versions = c.ok("DescribeVersions", &[]).await;
    assert!(versions["VersionInfo"][0]["Versions"].as_array().unwrap().iter().any(|v| v == V122));

    let vswitches = format!("[\"{}\"]", c1.vswitch_id);
    let created = c
        .ok(
            "CreateServiceMesh",
            &[
                ("RegionId", &c1.region),
                ("VpcId", &c1.vpc_id),
                ("VSwitches", &vswitches),
                ("Name", "mesh-1"),
                ("IstioVersion", V122),
                ("GuestCluster", &c1.id),
                ("Tag.1.Key", "purpose"),
                ("Tag.1.Value", "dr"),
            ],
        )
        .await;
    let request_id = created["RequestId"].as_str().unwrap();
    assert_eq!(request_id.len(), 36, "a UUID: {request_id}");
    let mesh = created["ServiceMeshId"].as_str().unwrap().to_owned();
    assert!(mesh.len() == 33 && mesh.starts_with('c'));

    // Observers are told, and see the managed member at once.
    changes.changed().await.unwrap();
    let snap = changes.borrow_and_update().clone();
    assert_eq!(snap.managing_mesh(&c1.id).map(|m| m.id.as_str()), Some(mesh.as_str()));

    let detail = c.wait_state(&mesh, "running").await;
    let sm = &detail["ServiceMesh"];
    assert_eq!(sm["ServiceMeshInfo"]["Name"], "mesh-1");
    assert_eq!(sm["ServiceMeshInfo"]["Version"], V122);
    assert_eq!(sm["Clusters"], serde_json::json!([c1.id]));
    assert_eq!(sm["Spec"]["Network"]["VpcId"], c1.vpc_id.as_str());
    assert_eq!(emu.snapshot().mesh(&mesh).unwrap().state, MeshState::Running);

    // Add cluster-2 for service discovery only: upgrading, then running again.
    let added = c
        .ok(
            "AddClusterIntoServiceMesh",
            &[("ServiceMeshId", &mesh), ("ClusterId", &c2.id), ("DiscoveryOnly", "true")],
        )
        .await;
    assert_eq!(added["Code"], 200);
    let state = c.ok("DescribeServiceMeshDetail", &[("ServiceMeshId", &mesh)]).await;
    assert_eq!(state["ServiceMesh"]["ServiceMeshInfo"]["State"], "upgrading");
    c.wait_state(&mesh, "running").await;
    let again = c
        .call("AddClusterIntoServiceMesh", &[("ServiceMeshId", &mesh), ("ClusterId", &c2.id)])
        .await;
    assert_eq!((again.status, again.code()), (400, "ClusterAlreadyExist"));
    let members = c.ok("DescribeClustersInServiceMesh", &[("ServiceMeshId", &mesh)]).await;
    let ids: Vec<&Value> =
        members["Clusters"].as_array().unwrap().iter().map(|m| &m["ClusterId"]).collect();
    assert_eq!(ids, [&Value::from(c1.id.clone()), &Value::from(c2.id.clone())]);
    let snap = emu.snapshot();
    let m = snap.mesh(&mesh).unwrap();
    assert_eq!(m.discovery_only_clusters().collect::<Vec<_>>(), [c2.id.as_str()]);
    assert!(snap.managing_mesh(&c2.id).is_none());

    // The multi-cluster network.
    let networks = format!(
        r#"{{"{}":{{"Network":"network1","EnableGateway":true}},"{}":{{"Network":"network2"}}}}"#,
        c1.id, c2.id
    );
    c.ok(
        "UpdateMeshMultiClusterNetwork",
        &[("ServiceMeshId", &mesh), ("MultiClusterNetworks", &networks)],
    )
    .await;
    let got = c.ok("DescribeMeshMultiClusterNetwork", &[("ServiceMeshId", &mesh)]).await;
    let nets = &got["MultiClusterNetworks"];
    assert_eq!(nets[&c1.id]["Network"], "network1");
    assert_eq!(nets[&c1.id]["GatewayName"], format!("asm-cross-network-{mesh}"));
    assert_eq!(nets[&c2.id]["EnableGateway"], false);

    // Injection for `default`, read back through the namespace labels.
    c.ok(
        "UpdateIstioInjectionConfig",
        &[("ServiceMeshId", &mesh), ("Namespace", "default"), ("EnableIstioInjection", "true")],
    )
    .await;
    let ns = c
        .ok(
            "DescribeGuestClusterNamespaces",
            &[("ServiceMeshId", &mesh), ("GuestClusterID", &c1.id), ("ShowNsLabels", "true")],
        )
        .await;
    assert_eq!(ns["NsLabels"]["default"]["istio-injection"], "enabled");
    assert_eq!(emu.snapshot().mesh(&mesh).unwrap().injection["default"], Injection::Enabled);

    // The CA certificate, never the key.
    let ca = c.ok("GetCaCert", &[("ServiceMeshId", &mesh)]).await;
    assert!(ca["CaCert"].as_str().is_some_and(|s| !s.is_empty()));
    assert!(!ca.to_string().contains("PRIVATE"));

    // The list is a GET with query parameters.
    let list = c.v3_request(
        "GET",
        "DescribeServiceMeshes",
        &[],
        &[],
        &super::client::now_timestamp(0),
        &super::client::nonce(),
    );
    let list = c.send(&list).await;
    assert_eq!(list.status, 200, "{:?}", list.body);
    assert_eq!(list.body["ServiceMeshes"][0]["Tag"][0]["Value"], "dr");
    assert!(list.header("x-acs-request-id").is_some());

    // Delete: deleting, then gone.
    c.ok("DeleteServiceMesh", &[("ServiceMeshId", &mesh)]).await;
    c.wait_state(&mesh, "deleting").await;
    let mut gone = None;
    for _ in 0..100 {
        let r = c.call("DescribeServiceMeshDetail", &[("ServiceMeshId", &mesh)]).await;
        if r.status != 200 {
            gone = Some(r);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let gone = gone.expect("the mesh disappears");
    assert_eq!((gone.status, gone.code()), (404, "ServiceMesh.NotFound"));
    assert!(gone.body["RequestId"].is_string() && gone.body["HostId"].is_string());
    assert!(emu.snapshot().meshes.is_empty());
    emu.shutdown().await.unwrap();
}

#[tokio::test]
async fn validation_errors_and_lifecycle_conflicts() {
    let dir = tempfile::tempdir().unwrap();
    let emu = start(&dir.path().join("asm.json"), Duration::from_millis(400)).await;
    let c = Client::new(&emu);
    let c1 = account().clusters[0].clone();
    let vsw = format!("[\"{}\"]", c1.vswitch_id);

    let missing =
        c.call("CreateServiceMesh", &[("RegionId", &c1.region), ("VpcId", &c1.vpc_id)]).await;
    assert_eq!((missing.status, missing.code()), (400, "MissingParameter"));
    assert!(missing.body["Message"].as_str().unwrap().contains("VSwitches"));
    let base = [
        ("RegionId", c1.region.as_str()),
        ("VpcId", &c1.vpc_id),
        ("VSwitches", &vsw),
        ("Name", "m"),
    ];
    let mesh = c.ok("CreateServiceMesh", &base).await["ServiceMeshId"].as_str().unwrap().to_owned();
    let dup = c.call("CreateServiceMesh", &base).await;
    assert_eq!((dup.status, dup.code()), (400, "NameAlreadyExist"));
    let early = c.call("DeleteServiceMesh", &[("ServiceMeshId", &mesh)]).await;
    assert_eq!((early.status, early.code()), (400, "StillInitializing"));
    let unknown = c.call("DescribeServiceMeshDetail", &[("ServiceMeshId", "c0000")]).await;
    assert_eq!((unknown.status, unknown.code()), (404, "ServiceMesh.NotFound"));
    let bad_version = c
        .call(
            "CreateServiceMesh",
            &[base[0], base[1], base[2], ("Name", "n"), ("IstioVersion", "1.0")],
        )
        .await;
    assert_eq!((bad_version.status, bad_version.code()), (400, "InvalidParameter"));
    assert_eq!(emu.snapshot().meshes.len(), 1, "failed calls created nothing");
    emu.shutdown().await.unwrap();
}
