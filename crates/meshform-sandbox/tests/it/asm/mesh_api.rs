//! Each mesh's control-plane Kubernetes API: `DescribeServiceMeshKubeconfig` hands out a kubeconfig
//! that reaches it over HTTPS; it serves namespaces and Istio's kinds (server-side apply, every
//! version Istio's CRDs serve) and refuses workloads; its objects survive a restart; it refuses
//! connections during an outage of the mesh and goes away with the mesh. `kubectl` drives it when
//! installed.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use meshform_sandbox::asm::AsmEmulator;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use serde_json::{json, Value};

use super::client::{account, start, Client};

/// The server, CA and token of a kubeconfig as the emulator writes it.
struct Kubeconfig {
    server: String,
    ca_pem: String,
    token: String,
}

impl Kubeconfig {
    fn parse(text: &str) -> Kubeconfig {
        let field = |name: &str| {
            text.lines()
                .find_map(|l| l.trim().strip_prefix(name).map(|v| v.trim().to_owned()))
                .unwrap_or_else(|| panic!("the kubeconfig has no {name}"))
        };
        let ca = base64::engine::general_purpose::STANDARD
            .decode(field("certificate-authority-data:"))
            .expect("CA data is base64");
        Kubeconfig {
            server: field("server:"),
            ca_pem: String::from_utf8(ca).expect("CA is PEM"),
            token: field("token:"),
        }
    }

    fn address(&self) -> String {
        self.server.trim_start_matches("https://").to_owned()
    }

    /// One HTTPS request, verifying the server against the kubeconfig's CA; JSON back.
    async fn call(
        &self,
        method: Method,
        path: &str,
        content_type: &str,
        body: Value,
    ) -> (u16, Value) {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(CertificateDer::from_pem_slice(self.ca_pem.as_bytes()).unwrap()).unwrap();
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
        let tcp = tokio::net::TcpStream::connect(self.address()).await.expect("connect");
        let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(ServerName::try_from("127.0.0.1").unwrap(), tcp)
            .await
            .expect("the server's certificate is signed by the kubeconfig's CA");
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(TokioIo::new(tls)).await.unwrap();
        tokio::spawn(conn);
        let body = if body.is_null() { Vec::new() } else { body.to_string().into_bytes() };
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header("host", self.address())
            .header("authorization", format!("Bearer {}", self.token))
            .header("content-type", content_type)
            .header("accept", "application/json")
            .body(Full::new(Bytes::from(body)))
            .unwrap();
        let resp = sender.send_request(req).await.expect("a response");
        let status = resp.status().as_u16();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        self.call(Method::GET, path, "application/json", Value::Null).await
    }

    /// Server-side apply as `meshform`.
    async fn apply(&self, path: &str, object: Value) -> (u16, Value) {
        let path = format!("{path}?fieldManager=meshform&force=true");
        self.call(Method::PATCH, &path, "application/apply-patch+yaml", object).await
    }
}

const DR_PATH: &str = "/apis/networking.istio.io/v1/namespaces/default/destinationrules/helloworld";

fn destination_rule() -> Value {
    json!({
        "apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
        "metadata": {"name": "helloworld", "namespace": "default"},
        "spec": {"host": "helloworld.default.svc.cluster.local",
                 "trafficPolicy": {"outlierDetection": {"consecutive5xxErrors": 1, "interval": "1s", "baseEjectionTime": "30s"}}},
    })
}

/// Creates a mesh managing cluster `n` (1 or 2) and waits until it is running.
async fn running_mesh(c: &Client, n: usize) -> String {
    let cluster = account().clusters[n - 1].clone();
    let vsw = format!("[\"{}\"]", cluster.vswitch_id);
    let created = c
        .ok(
            "CreateServiceMesh",
            &[
                ("RegionId", &cluster.region),
                ("VpcId", &cluster.vpc_id),
                ("VSwitches", &vsw),
                ("Name", &format!("mesh-{n}")),
                ("GuestCluster", &cluster.id),
            ],
        )
        .await;
    let id = created["ServiceMeshId"].as_str().expect("a mesh id").to_owned();
    c.wait_state(&id, "running").await;
    id
}

async fn kubeconfig(c: &Client, mesh: &str) -> Kubeconfig {
    let out = c
        .ok(
            "DescribeServiceMeshKubeconfig",
            &[("ServiceMeshId", mesh), ("PrivateIpAddress", "True")],
        )
        .await;
    Kubeconfig::parse(out["Kubeconfig"].as_str().expect("Kubeconfig is a string"))
}

async fn refused(address: &str) -> bool {
    matches!(tokio::net::TcpStream::connect(address).await,
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused)
}

fn mesh_dir(state_file: &Path, mesh: &str) -> PathBuf {
    state_file.parent().unwrap().join("meshes").join(mesh)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_mesh_serves_istio_kinds_through_its_kubeconfig() {
    let dir = tempfile::tempdir().unwrap();
    let emu = start(&dir.path().join("asm.json"), Duration::from_millis(200)).await;
    let c = Client::new(&emu);
    let mesh = running_mesh(&c, 1).await;

    let out = c
        .ok(
            "DescribeServiceMeshKubeconfig",
            &[("ServiceMeshId", &mesh), ("PrivateIpAddress", "false")],
        )
        .await;
    let text = out["Kubeconfig"].as_str().unwrap();
    assert!(text.starts_with("apiVersion: v1\nkind: Config\n"), "{}", text.len());
    let expire = out["ExpireTime"].as_str().unwrap();
    assert!(
        expire.len() == 19 && expire.as_bytes()[10] == b' ' && expire > "2030-01-01",
        "ExpireTime is YYYY-MM-DD hh:mm:ss, years ahead: {expire}"
    );
    let kc = Kubeconfig::parse(text);
    let detail = c.ok("DescribeServiceMeshDetail", &[("ServiceMeshId", &mesh)]).await;
    assert_eq!(detail["ServiceMesh"]["Endpoints"]["IntranetApiServerEndpoint"], kc.server);
    assert_eq!(detail["ServiceMesh"]["Endpoints"]["PublicApiServerEndpoint"], "");
    assert_eq!(emu.mesh_api(&mesh).expect("published").url(), kc.server);

    // Discovery: namespaces and Istio's groups, nothing for workloads.
    let (_, core) = kc.get("/api/v1").await;
    let names: Vec<&str> = core["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["name"].as_str())
        .filter(|n| !n.contains('/'))
        .collect();
    assert_eq!(names, vec!["namespaces"], "no pods, services, secrets, …");
    let (_, groups) = kc.get("/apis").await;
    let groups: Vec<&str> =
        groups["groups"].as_array().unwrap().iter().filter_map(|g| g["name"].as_str()).collect();
    assert!(groups.contains(&"networking.istio.io") && groups.contains(&"security.istio.io"));
    assert!(!groups.contains(&"apps"), "{groups:?}");
    let (_, ns) = kc.get("/api/v1/namespaces/istio-system").await;
    assert_eq!(ns["metadata"]["name"], "istio-system");

    // Server-side apply of Istio kinds, read back in every version Istio serves them in.
    let (status, dr) = kc.apply(DR_PATH, destination_rule()).await;
    assert_eq!(status, 201, "{dr}");
    assert_eq!(dr["metadata"]["managedFields"][0]["manager"], "meshform");
    for version in ["v1beta1", "v1alpha3"] {
        let path = DR_PATH.replace("/v1/", &format!("/{version}/"));
        let (status, got) = kc.get(&path).await;
        assert_eq!(status, 200, "{version}: {got}");
        assert_eq!(got["spec"]["trafficPolicy"]["outlierDetection"]["consecutive5xxErrors"], 1);
    }
    let pa = json!({"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
        "metadata": {"name": "default", "namespace": "istio-system"}, "spec": {"mtls": {"mode": "STRICT"}}});
    let path = "/apis/security.istio.io/v1/namespaces/istio-system/peerauthentications/default";
    assert_eq!(kc.apply(path, pa).await.0, 201);
    let pc = json!({"apiVersion": "networking.istio.io/v1beta1", "kind": "ProxyConfig",
        "metadata": {"name": "default", "namespace": "default"}, "spec": {"concurrency": 2}});
    let path = "/apis/networking.istio.io/v1beta1/namespaces/default/proxyconfigs/default";
    assert_eq!(kc.apply(path, pc).await.0, 201);

    // Workloads and unknown kinds are refused.
    let deploy = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "sleep", "namespace": "default"}, "spec": {}});
    let (status, _) = kc.apply("/apis/apps/v1/namespaces/default/deployments/sleep", deploy).await;
    assert_eq!(status, 404);
    let svc = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x", "namespace": "default"}});
    assert_eq!(kc.apply("/api/v1/namespaces/default/services/x", svc).await.0, 404);
    let odd = json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w", "namespace": "default"}});
    assert_eq!(kc.apply("/apis/example.com/v1/namespaces/default/widgets/w", odd).await.0, 404);

    // What the data plane reads.
    let traffic = emu.mesh_api(&mesh).unwrap().traffic_config();
    assert_eq!(traffic.destination_rules.len(), 1);
    assert_eq!(traffic.destination_rules[0]["metadata"]["name"], "helloworld");
    assert!(traffic.virtual_services.is_empty());

    // A second mesh has its own server and objects.
    let other = running_mesh(&c, 2).await;
    let kc2 = kubeconfig(&c, &other).await;
    assert_ne!(kc2.server, kc.server);
    assert_ne!(kc2.token, kc.token);
    assert_eq!(kc2.get(DR_PATH).await.0, 404);
    assert_eq!(kc.get(DR_PATH).await.0, 200);
    // One mesh's token does not open the other's server.
    let crossed = Kubeconfig { token: kc.token.clone(), ..kc2 };
    assert_eq!(crossed.get("/api/v1/namespaces").await.0, 401);

    // Bad input.
    let r = c.call("DescribeServiceMeshKubeconfig", &[("ServiceMeshId", "c-nope")]).await;
    assert_eq!((r.status, r.code()), (404, "ServiceMesh.NotFound"));
    let r = c.call("DescribeServiceMeshKubeconfig", &[]).await;
    assert_eq!(r.code(), "MissingParameter");
    let r = c
        .call(
            "DescribeServiceMeshKubeconfig",
            &[("ServiceMeshId", &mesh), ("PrivateIpAddress", "yes")],
        )
        .await;
    assert_eq!(r.code(), "InvalidParameter");
    emu.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_survive_a_restart_and_go_with_the_mesh() {
    let dir = tempfile::tempdir().unwrap();
    let state_file = dir.path().join("asm.json");
    let emu = start(&state_file, Duration::from_millis(200)).await;
    let c = Client::new(&emu);
    let mesh = running_mesh(&c, 1).await;
    let kc = kubeconfig(&c, &mesh).await;
    assert_eq!(kc.apply(DR_PATH, destination_rule()).await.0, 201);
    emu.shutdown().await.unwrap();
    assert!(refused(&kc.address()).await, "the API server stops with the emulator");

    let emu = start(&state_file, Duration::from_millis(200)).await;
    let c = Client::new(&emu);
    let after = kubeconfig(&c, &mesh).await;
    assert_eq!(after.server, kc.server, "the same port again, so kubeconfigs stay valid");
    assert_eq!(after.token, kc.token);
    let (status, dr) = after.get(DR_PATH).await;
    assert_eq!(status, 200, "the DestinationRule survives the restart: {dr}");

    c.ok("DeleteServiceMesh", &[("ServiceMeshId", &mesh)]).await;
    let mut changes = emu.subscribe();
    tokio::time::timeout(Duration::from_secs(10), changes.wait_for(|s| s.meshes.is_empty()))
        .await
        .expect("the deletion completes")
        .unwrap();
    emu.settle().await;
    assert!(emu.mesh_api(&mesh).is_none());
    assert!(refused(&kc.address()).await, "the API server goes with the mesh");
    assert!(!mesh_dir(&state_file, &mesh).exists(), "and so does its state");
    emu.shutdown().await.unwrap();
}

async fn is_down(emu: &AsmEmulator, mesh: &str, kc: &Kubeconfig) -> bool {
    emu.settle().await;
    emu.mesh_api(mesh).unwrap().is_down() && refused(&kc.address()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_of_the_mesh_takes_its_api_server_down() {
    let dir = tempfile::tempdir().unwrap();
    let emu = start(&dir.path().join("asm.json"), Duration::from_millis(200)).await;
    let c = Client::new(&emu);
    let mesh = running_mesh(&c, 1).await;
    let kc = kubeconfig(&c, &mesh).await;
    assert_eq!(kc.apply(DR_PATH, destination_rule()).await.0, 201);

    emu.outage(&mesh);
    assert!(is_down(&emu, &mesh, &kc).await, "connections are refused during the outage");
    let r = c.call("DescribeServiceMeshKubeconfig", &[("ServiceMeshId", &mesh)]).await;
    assert_eq!((r.status, r.code()), (503, "ServiceUnavailable"));
    let traffic = emu.mesh_api(&mesh).unwrap().traffic_config();
    assert_eq!(traffic.destination_rules.len(), 1, "the last configuration stays readable");

    emu.restore(None);
    emu.settle().await;
    assert!(!emu.mesh_api(&mesh).unwrap().is_down());
    assert_eq!(kc.get(DR_PATH).await.0, 200, "the same kubeconfig works after the restore");

    // A region's outage takes down the control planes of its meshes.
    emu.outage(&account().clusters[0].region);
    assert!(is_down(&emu, &mesh, &kc).await);
    emu.restore(Some(account().clusters[0].region.as_str()));
    emu.settle().await;
    assert_eq!(kc.get(DR_PATH).await.0, 200);
    emu.shutdown().await.unwrap();
}

/// A working kubectl on PATH, if any.
fn find_kubectl() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    let bin = std::env::split_paths(&path).map(|d| d.join("kubectl")).find(|p| p.is_file())?;
    let ok = std::process::Command::new(&bin).args(["version", "--client"]).output().ok()?;
    ok.status.success().then_some(bin)
}

/// `kubectl --kubeconfig FILE ARGS…` with its own HOME; (exit code, stdout, stderr).
async fn kubectl(
    bin: &Path,
    kubeconfig: &Path,
    home: &Path,
    args: &[&str],
) -> (i32, String, String) {
    let mut cmd = tokio::process::Command::new(bin);
    cmd.arg("--kubeconfig").arg(kubeconfig).args(args);
    cmd.env("HOME", home).env_remove("KUBECONFIG").kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(120), cmd.output())
        .await
        .unwrap_or_else(|_| panic!("kubectl {args:?} did not finish in 120 s"))
        .expect("kubectl runs");
    let text = |b: &[u8]| String::from_utf8_lossy(b).to_string();
    (out.status.code().unwrap_or(-1), text(&out.stdout), text(&out.stderr))
}

#[allow(clippy::print_stderr)] // the skip notice is for whoever runs the tests
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_manages_istio_resources_through_the_mesh_kubeconfig() {
    let Some(bin) = find_kubectl() else {
        eprintln!("SKIPPED asm::mesh_api kubectl: kubectl not found on PATH");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let emu = start(&dir.path().join("asm.json"), Duration::from_millis(200)).await;
    let c = Client::new(&emu);
    let mesh = running_mesh(&c, 1).await;
    let out = c.ok("DescribeServiceMeshKubeconfig", &[("ServiceMeshId", &mesh)]).await;
    let kubeconfig = dir.path().join("mesh.kubeconfig");
    std::fs::write(&kubeconfig, out["Kubeconfig"].as_str().unwrap()).unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let manifest = dir.path().join("destinationrule.yaml");
    std::fs::write(
        &manifest,
        "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata:\n  name: helloworld\n  namespace: default\nspec:\n  host: helloworld.default.svc.cluster.local\n  trafficPolicy:\n    outlierDetection:\n      consecutive5xxErrors: 1\n      interval: 1s\n      baseEjectionTime: 30s\n",
    )
    .unwrap();
    let run = |args: &'static [&'static str]| kubectl(&bin, &kubeconfig, &home, args);
    let manifest_arg = manifest.to_string_lossy().to_string();
    let ok = |(code, out, err): (i32, String, String)| {
        assert_eq!(code, 0, "kubectl failed:\n{out}\n{err}");
        out
    };

    let apply = kubectl(&bin, &kubeconfig, &home, &["apply", "-f", &manifest_arg]).await;
    assert!(ok(apply).contains("destinationrule.networking.istio.io/helloworld created"));
    let got = ok(run(&["get", "destinationrules", "-n", "default"]).await);
    assert!(got.contains("helloworld"), "{got}");
    let got = ok(run(&[
        "get",
        "dr",
        "helloworld",
        "-o",
        "jsonpath={.spec.trafficPolicy.outlierDetection.baseEjectionTime}",
    ])
    .await);
    assert_eq!(got, "30s");
    let resources = ok(run(&["api-resources"]).await);
    for kind in ["DestinationRule", "VirtualService", "PeerAuthentication", "Namespace"] {
        assert!(resources.contains(kind), "api-resources lists {kind}:\n{resources}");
    }
    assert!(!resources.contains("Deployment"), "{resources}");
    let (code, _, err) = run(&["get", "deployments"]).await;
    assert_ne!(code, 0, "no Deployments on a mesh's control plane");
    assert!(err.contains("the server doesn't have a resource type"), "{err}");
    let ssa =
        kubectl(&bin, &kubeconfig, &home, &["apply", "--server-side", "-f", &manifest_arg]).await;
    assert!(ok(ssa).contains("serverside-applied"));
    let deleted = kubectl(&bin, &kubeconfig, &home, &["delete", "-f", &manifest_arg]).await;
    assert!(ok(deleted).contains("deleted"));
    assert!(emu.mesh_api(&mesh).unwrap().traffic_config().destination_rules.is_empty());
    emu.shutdown().await.unwrap();
}
