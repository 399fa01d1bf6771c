//! `asm_service_mesh.kubeconfig`: read from `DescribeServiceMeshKubeconfig` on create and refresh,
//! sensitive everywhere (plans, saved plans), and enough to configure a `kubernetes` provider per
//! mesh that manages the mesh's Istio resources. The mesh exists before the policy is planned (a
//! provider configured from values known only after apply is the engine's concern, tested there).

use meshform_core::Value;
use meshform_engine::plan::walk::PlanOptions;
use meshform_engine::plan::{Action, PlanMode};
use meshform_engine::planfile::PlanFile;
use meshform_sandbox::asm::FaultSettings;

use crate::harness::World;

const MESH: &str = r#"
provider "asm" {
  endpoint          = "ENDPOINT"
  access_key_id     = "KEY_ID"
  access_key_secret = "SECRET"
}

resource "asm_service_mesh" "mesh" {
  for_each   = { "1" = { region = "cn-hangzhou", vpc = "vpc-1", vsw = "vsw-1", cluster = "c-1" } }
  name       = "mesh-${each.key}"
  region     = each.value.region
  vpc_id     = each.value.vpc
  vswitches  = [each.value.vsw]
  cluster_id = each.value.cluster
}
"#;

const POLICY: &str = r#"
provider "kubernetes" {
  alias              = "mesh_1"
  kubeconfig_content = asm_service_mesh.mesh["1"].kubeconfig
}

resource "kubernetes_manifest" "failover" {
  provider = kubernetes.mesh_1
  manifest = {
    apiVersion = "networking.istio.io/v1"
    kind       = "DestinationRule"
    metadata   = { name = "helloworld", namespace = "default" }
    spec = {
      host          = "helloworld.default.svc.cluster.local"
      trafficPolicy = { outlierDetection = { consecutive5xxErrors = 1, interval = "1s", baseEjectionTime = "30s" } }
    }
  }
}
"#;

/// The bearer token of a kubeconfig: what must never show.
fn token(kubeconfig: &str) -> String {
    kubeconfig
        .lines()
        .find_map(|l| l.trim().strip_prefix("token:").map(|t| t.trim().to_owned()))
        .expect("the kubeconfig has a token")
}

/// Everything a plan can be rendered from: its Debug form and the saved plan file's bytes.
fn rendered(planned: &meshform_engine::ops::Planned) -> String {
    let file = PlanFile::new(planned, &PlanOptions::default(), "default").encode();
    format!("{:?}\n{}", planned.plan, String::from_utf8_lossy(&file))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mesh_kubeconfig_configures_a_provider_for_its_istio_resources() {
    let world = World::start(FaultSettings::default()).await;
    world.write(MESH);
    let planned = world.plan(&PlanOptions::default()).await;
    let create = planned.plan.actionable().next().expect("the mesh is created");
    assert_eq!(create.action, Action::Create);
    let after = create.after.as_ref().expect("a planned value");
    let kubeconfig = after.get("kubeconfig").expect("a kubeconfig attribute");
    assert!(kubeconfig.is_sensitive(), "sensitive: {kubeconfig:?}");
    assert_eq!(kubeconfig.unmarked(), &Value::Unknown, "and known after apply");
    world.apply(planned).await;

    let mesh = world.emulator.snapshot().meshes.keys().next().cloned().expect("a mesh");
    let api = world.emulator.mesh_api(&mesh).expect("the mesh's API server runs");
    let state = meshform_engine::ops::read_state(&world.ws).expect("state");
    let instance = state.instances().next().expect("an instance").2;
    assert_eq!(
        instance.attributes["kubeconfig"].as_str(),
        Some(api.kubeconfig()),
        "the kubeconfig DescribeServiceMeshKubeconfig returns"
    );
    assert!(
        instance.sensitive_attributes.iter().any(|p| format!("{p:?}").contains("kubeconfig")),
        "recorded as sensitive: {:?}",
        instance.sensitive_attributes
    );
    let secret = token(api.kubeconfig());

    // The mesh's own provider applies the failover policy to the mesh's control plane.
    world.write(&format!("{MESH}{POLICY}"));
    let planned = world.plan(&PlanOptions::default()).await;
    let actions: Vec<(String, Action)> =
        planned.plan.actionable().map(|c| (c.addr.to_string(), c.action)).collect();
    assert_eq!(actions, vec![("kubernetes_manifest.failover".to_owned(), Action::Create)]);
    let shown = rendered(&planned);
    assert!(!shown.contains(&secret), "the kubeconfig's token shows in the plan");
    assert!(shown.contains("(sensitive value)"), "the kubeconfig shows as a sensitive value");
    world.apply(planned).await;
    let traffic = api.traffic_config();
    assert_eq!(traffic.destination_rules.len(), 1, "the DestinationRule is in the mesh");
    assert_eq!(
        traffic.destination_rules[0]["spec"]["trafficPolicy"]["outlierDetection"]
            ["consecutive5xxErrors"],
        1
    );

    let again = world.plan(&PlanOptions::default()).await;
    assert!(!again.plan.has_changes(), "a plan right after apply has no changes");
    assert!(!rendered(&again).contains(&secret));

    // Destroy: the policy goes through the mesh's provider first, then the mesh and its API.
    let destroy =
        world.plan(&PlanOptions { mode: PlanMode::Destroy, ..PlanOptions::default() }).await;
    world.apply(destroy).await;
    assert!(world.emulator.snapshot().meshes.is_empty());
    world.emulator.settle().await;
    assert!(world.emulator.mesh_api(&mesh).is_none(), "the mesh's API server is gone");
}
