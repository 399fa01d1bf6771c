//! The runbook's ASM steps, planned and applied through the engine against the emulator.

use meshform_engine::plan::walk::PlanOptions;
use meshform_engine::plan::{Action, PlanMode};
use meshform_sandbox::asm::FaultSettings;

use crate::harness::World;

const CONFIG: &str = r#"
provider "asm" {
  endpoint          = "ENDPOINT"
  access_key_id     = "KEY_ID"
  access_key_secret = "SECRET"
}

resource "pki_root_ca" "root" {}

resource "pki_intermediate_ca" "mesh" {
  for_each      = toset(["1", "2"])
  root_cert_pem = pki_root_ca.root.cert_pem
  root_key_pem  = pki_root_ca.root.key_pem
  locality      = "cluster-${each.key}"
}

locals {
  clusters = {
    "1" = { id = "c-1", region = "cn-hangzhou", vpc = "vpc-1", vsw = "vsw-1", peer = "c-2" }
    "2" = { id = "c-2", region = "cn-shanghai", vpc = "vpc-2", vsw = "vsw-2", peer = "c-1" }
  }
}

resource "asm_service_mesh" "mesh" {
  for_each      = local.clusters
  name          = "mesh-${each.key}"
  region        = each.value.region
  istio_version = "v1.22.6.71-g7d67a80b-aliyun"
  vpc_id        = each.value.vpc
  vswitches     = [each.value.vsw]
  cluster_id    = each.value.id
  ca {
    cert       = pki_intermediate_ca.mesh[each.key].cert_pem
    key        = pki_intermediate_ca.mesh[each.key].key_pem
    root_cert  = pki_root_ca.root.cert_pem
    cert_chain = pki_intermediate_ca.mesh[each.key].cert_chain_pem
  }
}

resource "asm_cluster_attachment" "peer" {
  for_each       = local.clusters
  mesh_id        = asm_service_mesh.mesh[each.key].id
  cluster_id     = each.value.peer
  discovery_only = true
}

resource "asm_multi_cluster_network" "net" {
  for_each = local.clusters
  mesh_id  = asm_service_mesh.mesh[each.key].id
  cluster {
    cluster_id            = "c-1"
    network               = "network1"
    cross_cluster_gateway = NET1_GATEWAY
  }
  cluster {
    cluster_id            = "c-2"
    network               = "network2"
    cross_cluster_gateway = true
  }
  depends_on = [asm_cluster_attachment.peer]
}

resource "asm_sidecar_injection" "default" {
  for_each  = local.clusters
  mesh_id   = asm_service_mesh.mesh[each.key].id
  namespace = "default"
}
"#;

fn config(net1_gateway: bool) -> String {
    CONFIG.replace("NET1_GATEWAY", if net1_gateway { "true" } else { "false" })
}

fn opts() -> PlanOptions {
    PlanOptions::default()
}

async fn full_cycle(world: &World) {
    world.write(&config(true));
    let planned = world.plan(&opts()).await;
    assert_eq!(
        planned.plan.summary().0,
        11,
        "root, 2 intermediates, 2 meshes, 2 attachments, 2 networks, 2 injections"
    );
    let out = world.apply(planned).await;
    assert_eq!(out.added, 11);

    let snap = world.emulator.snapshot();
    assert_eq!(snap.meshes.len(), 2, "exactly two meshes, no duplicates");
    let roots: Vec<&str> = snap.meshes.values().map(|m| m.ca.root_cert_pem.as_str()).collect();
    assert!(!roots[0].is_empty() && roots[0] == roots[1], "both meshes share the root");
    for m in snap.meshes.values() {
        assert_eq!(m.managed_clusters().count(), 1);
        assert_eq!(m.discovery_only_clusters().count(), 1, "the peer cluster is discovery-only");
        assert_eq!(m.networks.len(), 2);
    }

    let again = world.plan(&opts()).await;
    assert!(
        !again.plan.has_changes(),
        "a plan right after apply has no changes: {:?}",
        again.plan.actionable().map(|c| (c.addr.to_string(), c.action)).collect::<Vec<_>>()
    );

    // One cluster's network changes: one in-place update per mesh, nothing else.
    world.write(&config(false));
    let planned = world.plan(&opts()).await;
    let changes: Vec<(String, Action)> =
        planned.plan.actionable().map(|c| (c.addr.to_string(), c.action)).collect();
    assert_eq!(
        changes,
        vec![
            ("asm_multi_cluster_network.net[\"1\"]".to_owned(), Action::Update),
            ("asm_multi_cluster_network.net[\"2\"]".to_owned(), Action::Update)
        ]
    );
    world.apply(planned).await;
    for m in world.emulator.snapshot().meshes.values() {
        assert!(!m.networks["c-1"].enable_gateway, "the change reached the emulator");
    }
    assert!(!world.plan(&opts()).await.plan.has_changes());

    let destroy = world.plan(&PlanOptions { mode: PlanMode::Destroy, ..opts() }).await;
    world.apply(destroy).await;
    assert!(world.emulator.snapshot().meshes.is_empty(), "destroy leaves no mesh");
    let state = meshform_engine::ops::read_state(&world.ws).expect("state");
    assert!(state.resources.is_empty(), "and an empty state");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runbook_cycle_with_shared_root() {
    let world = World::start(FaultSettings::default()).await;
    full_cycle(&world).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn converges_under_throttling_and_server_errors() {
    let faults =
        FaultSettings { throttle_rate: 0.2, server_error_rate: 0.05, ..FaultSettings::default() };
    let world = World::start(faults).await;
    full_cycle(&world).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mesh_deleted_behind_meshforms_back_is_drift_and_recreated() {
    let world = World::start(FaultSettings::default()).await;
    world.write(
        r#"
provider "asm" {
  endpoint          = "ENDPOINT"
  access_key_id     = "KEY_ID"
  access_key_secret = "SECRET"
}
resource "asm_service_mesh" "m" {
  name       = "mesh-1"
  region     = "cn-hangzhou"
  vpc_id     = "vpc-1"
  vswitches  = ["vsw-1"]
  cluster_id = "c-1"
}
"#,
    );
    let p = world.plan(&opts()).await;
    world.apply(p).await;
    let id = world.emulator.snapshot().meshes.keys().next().cloned().expect("a mesh");
    // Someone deletes it in the console (here: through the API with the same credentials).
    let client = meshform_provider_asm::client::AsmClient::new(
        &world.emulator.endpoint(),
        meshform_provider_asm::credentials::resolve(
            &meshform_provider_asm::credentials::ExplicitCredentials {
                access_key_id: Some(crate::harness::KEY_ID.into()),
                access_key_secret: Some(crate::harness::SECRET.into()),
                ..Default::default()
            },
            &Default::default(),
        )
        .expect("credentials"),
        3,
    )
    .expect("client");
    meshform_provider_asm::mesh::delete(
        &client,
        &meshform_core::Value::map([("id", meshform_core::Value::string(id.clone()))]),
        &meshform_provider::NoProgress,
    )
    .await
    .expect("deleted outside meshform");
    let p = world.plan(&opts()).await;
    assert_eq!(p.plan.drift.len(), 1);
    assert!(p.plan.drift[0].after.is_none(), "drift shows the deletion");
    assert_eq!(p.plan.actionable().map(|c| c.action).collect::<Vec<_>>(), vec![Action::Create]);
    world.apply(p).await;
    let snap = world.emulator.snapshot();
    assert_eq!(snap.meshes.len(), 1);
    assert!(!snap.meshes.contains_key(&id), "a new mesh replaced the deleted one");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_secret_is_a_clear_error_that_does_not_print_the_secret() {
    let world = World::start(FaultSettings::default()).await;
    world.write(
        r#"
provider "asm" {
  endpoint          = "ENDPOINT"
  access_key_id     = "KEY_ID"
  access_key_secret = "wrong-secret-value"
}
data "asm_versions" "v" {}
"#,
    );
    let err = match meshform_engine::ops::plan(
        &world.ws,
        &Default::default(),
        &opts(),
        &meshform_engine::SilentReporter,
    )
    .await
    {
        Ok(p) => p.plan.failures.iter().map(|f| f.message.clone()).collect::<Vec<_>>().join("\n"),
        Err(meshform_engine::ops::PlanError::Diagnostics(d)) => {
            d.iter().map(|x| x.to_string()).collect::<Vec<_>>().join("\n")
        }
        Err(e) => format!("{e:?}"),
    };
    assert!(err.contains("SignatureDoesNotMatch"), "{err}");
    assert!(!err.contains("wrong-secret-value"), "{err}");
}
