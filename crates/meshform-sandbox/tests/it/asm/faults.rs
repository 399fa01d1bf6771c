//! Injected faults over HTTP: decided before the action, so a faulted call has no effect.

use std::time::{Duration, Instant};

use meshform_sandbox::asm::{FaultSettings, MeshState};

use super::client::{account, start, Client};

#[tokio::test]
async fn full_rate_faults_refuse_calls_without_side_effects() {
    let dir = tempfile::tempdir().unwrap();
    let state_file = dir.path().join("asm.json");
    let emu = start(&state_file, Duration::from_millis(200)).await;
    let c = Client::new(&emu);
    let c1 = account().clusters[0].clone();
    let vsw = format!("[\"{}\"]", c1.vswitch_id);
    let create = [
        ("RegionId", c1.region.as_str()),
        ("VpcId", &c1.vpc_id),
        ("VSwitches", &vsw),
        ("Name", "m"),
    ];

    emu.set_faults(FaultSettings { throttle_rate: 1.0, ..FaultSettings::default() }).unwrap();
    let throttled = c.call("CreateServiceMesh", &create).await;
    assert_eq!((throttled.status, throttled.code()), (429, "Throttling.User"));
    assert_eq!(throttled.body["Message"], "Request was denied due to user flow control.");
    let limit = throttled.header("x-ratelimit-user").expect("the throttling header");
    assert!(limit.starts_with("Limit:10,Remain:0,TimeLeft:"), "{limit}");
    assert!(limit.contains(",Reset:"), "{limit}");

    emu.set_faults(FaultSettings { server_error_rate: 1.0, ..FaultSettings::default() }).unwrap();
    for _ in 0..6 {
        let failed = c.call("CreateServiceMesh", &create).await;
        let expected = match failed.status {
            503 => "ServiceUnavailable",
            500 => "InternalError",
            other => panic!("expected a 5xx, got {other}: {:?}", failed.body),
        };
        assert_eq!(failed.code(), expected);
    }
    assert!(emu.snapshot().meshes.is_empty(), "a faulted create created a mesh");
    assert!(!state_file.exists(), "a faulted create changed the state file");

    // Latency.
    emu.set_faults(FaultSettings {
        latency: Duration::from_millis(300),
        ..FaultSettings::default()
    })
    .unwrap();
    let t = Instant::now();
    c.ok("DescribeVersions", &[]).await;
    assert!(t.elapsed() >= Duration::from_millis(300));

    // Stuck in `initial` until the fault is cleared.
    emu.set_faults(FaultSettings { stuck_initial: true, ..FaultSettings::default() }).unwrap();
    let mesh =
        c.ok("CreateServiceMesh", &create).await["ServiceMeshId"].as_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_millis(800)).await;
    let detail = c.ok("DescribeServiceMeshDetail", &[("ServiceMeshId", &mesh)]).await;
    assert_eq!(detail["ServiceMesh"]["ServiceMeshInfo"]["State"], "initial");
    emu.set_faults(FaultSettings::default()).unwrap();
    c.wait_state(&mesh, "running").await;
    assert_eq!(emu.snapshot().mesh(&mesh).unwrap().state, MeshState::Running);

    assert!(emu
        .set_faults(FaultSettings { throttle_rate: 1.5, ..FaultSettings::default() })
        .is_err());
    emu.shutdown().await.unwrap();
}
