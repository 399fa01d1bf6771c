//! A provider configured from `kubeconfig_content` (a kubeconfig document in a sensitive variable,
//! as `asm_service_mesh.x.kubeconfig` gives one) managing a mesh's control-plane API: Istio
//! resources are applied there, workloads are refused, and the document never shows.

use meshform_config::vars::VarInputs;
use meshform_engine::ops::{self, Planned};
use meshform_engine::plan::walk::PlanOptions;
use meshform_engine::SilentReporter;
use meshform_sandbox::kube::{self, ClusterOptions, Gvk, KindSet, KubeApiServer};

use crate::harness::{actionable, World};

const CONFIG: &str = r#"
variable "mesh_kubeconfig" {
  type      = string
  sensitive = true
}

provider "kubernetes" {
  alias              = "mesh_1"
  kubeconfig_content = var.mesh_kubeconfig
}

resource "kubernetes_manifest" "failover" {
  provider = kubernetes.mesh_1
  manifest = {
    apiVersion = "networking.istio.io/v1"
    kind       = "DestinationRule"
    metadata   = { name = "helloworld", namespace = "default" }
    spec = {
      host = "helloworld.default.svc.cluster.local"
      trafficPolicy = {
        outlierDetection = { consecutive5xxErrors = 1, interval = "1s", baseEjectionTime = "30s" }
      }
    }
  }
}
"#;

/// A mesh control plane's API server (what ASM runs per mesh) in `dir`.
async fn control_plane(dir: &std::path::Path) -> KubeApiServer {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let mut opts = ClusterOptions::new("mesh-1", dir.join("mesh-1"));
    opts.kinds = KindSet::MeshControlPlane;
    kube::start(listener, opts).await.expect("the control plane starts")
}

/// Plans with the kubeconfig document as `var.mesh_kubeconfig`; the error messages on failure.
async fn plan(w: &World, kubeconfig: &str) -> Result<Planned, String> {
    let vars = VarInputs {
        cli: vec![("mesh_kubeconfig".to_owned(), kubeconfig.to_owned())],
        ..VarInputs::default()
    };
    match ops::plan(&w.ws, &vars, &PlanOptions::default(), &SilentReporter).await {
        Ok(p) if p.diags.has_errors() || !p.plan.failures.is_empty() => {
            let mut msgs: Vec<String> = p.diags.iter().map(|d| d.to_string()).collect();
            msgs.extend(p.plan.failures.iter().map(|f| format!("{}: {}", f.address, f.message)));
            Err(msgs.join("\n"))
        }
        Ok(p) => Ok(p),
        Err(ops::PlanError::Diagnostics(d)) => {
            Err(d.iter().map(|x| x.to_string()).collect::<Vec<_>>().join("\n"))
        }
        Err(ops::PlanError::State(e)) => Err(format!("state: {e}")),
    }
}

#[tokio::test]
async fn a_destination_rule_is_applied_through_a_kubeconfig_document() {
    let w = World::start().await;
    let mesh = control_plane(w._dir.path()).await;
    let kubeconfig = mesh.kubeconfig_yaml();
    w.write(CONFIG);

    let p = plan(&w, &kubeconfig).await.unwrap_or_else(|e| panic!("plan failed:\n{e}"));
    assert_eq!(actionable(&p).len(), 1);
    let shown = format!("{:?}", p.plan);
    assert!(!shown.contains(mesh.token()), "the kubeconfig's token shows in the plan");
    w.apply(p).await;
    let dr = Gvk::new("networking.istio.io", "v1", "DestinationRule");
    let got = mesh.handle().get(&dr, Some("default"), "helloworld").expect("applied to the mesh");
    assert_eq!(got["spec"]["trafficPolicy"]["outlierDetection"]["baseEjectionTime"], "30s");
    assert!(
        w.server.handle().get(&dr, Some("default"), "helloworld").is_none(),
        "not to the cluster"
    );
    let state = std::fs::read_to_string(w.ws.dir.join("meshform.state.json")).unwrap();
    assert!(!state.contains(mesh.token()), "the provider's configuration is not kept in state");

    let again = plan(&w, &kubeconfig).await.unwrap_or_else(|e| panic!("plan failed:\n{e}"));
    assert!(actionable(&again).is_empty(), "no changes after apply");

    // Workloads belong in the data-plane clusters: the mesh's API refuses them, and says which.
    w.write(&CONFIG.replace(
        "resource \"kubernetes_manifest\" \"failover\" {",
        "resource \"kubernetes_manifest\" \"app\" {\n  provider = kubernetes.mesh_1\n  manifest = { apiVersion = \"apps/v1\", kind = \"Deployment\", metadata = { name = \"sleep\", namespace = \"default\" }, spec = {} }\n}\n\nresource \"kubernetes_manifest\" \"failover\" {",
    ));
    let err = match plan(&w, &kubeconfig).await {
        Ok(p) => {
            panic!("a Deployment on a mesh control plane should not plan: {:?}", p.plan.changes)
        }
        Err(e) => e,
    };
    assert!(err.contains("Deployment"), "{err}");
    assert!(!err.contains(mesh.token()), "{err}");
}

#[tokio::test]
async fn a_path_and_a_document_together_are_refused_without_showing_the_document() {
    let w = World::start().await;
    let mesh = control_plane(w._dir.path()).await;
    w.write(&CONFIG.replace(
        "kubeconfig_content = var.mesh_kubeconfig",
        "kubeconfig_content = var.mesh_kubeconfig\n  kubeconfig         = \"KUBECONFIG\"",
    ));
    let err = match plan(&w, &mesh.kubeconfig_yaml()).await {
        Ok(_) => panic!("kubeconfig and kubeconfig_content together should not plan"),
        Err(e) => e,
    };
    assert!(err.contains("mutually exclusive"), "{err}");
    assert!(!err.contains(mesh.token()), "{err}");

    let err = match plan(&w, "clusters: [not a kubeconfig").await {
        Ok(_) => panic!("an invalid document should not plan"),
        Err(e) => e,
    };
    assert!(err.contains("mutually exclusive"), "the exclusion is checked first: {err}");
    w.write(CONFIG);
    let err = match plan(&w, "clusters: [not a kubeconfig").await {
        Ok(_) => panic!("an invalid document should not plan"),
        Err(e) => e,
    };
    assert!(err.contains("kubeconfig_content is not a kubeconfig document"), "{err}");
    assert!(!err.contains("not a kubeconfig\""), "the document is not quoted: {err}");
}
