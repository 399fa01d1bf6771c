//! The mesh data plane model: what makes `kubectl exec deploy/sleep -- curl helloworld:5000/hello`
//! behave in the sandbox as in real meshes.
//!
//! - [`route`]: endpoint discovery per mesh (discovery-only members included), and
//!   [`route::endpoint_reachable`], the one decision whether a connection to an endpoint succeeds
//!   (VPCs, networks, gateways, cluster outages), with Envoy's words when it does not.
//! - [`mtls`]: workload certificates from each mesh's CA, and the real mTLS hop between two pods.
//! - [`curl`]: the sample `curl` image's options and output; [`http`]: the HTTP/1.1 messages and
//!   Envoy's local replies; [`apps`]: what the sample images answer.
//! - This module: [`DataPlane`] (the exec handler of every emulated cluster, and the reconciler that
//!   makes a managed cluster show its mesh: `istio-system`, injection labels, `istio-ca-root-cert`).
//!
//! A cluster that is down (`meshform sandbox outage --cluster`) runs nothing: its pods take no
//! commands and accept no connections, its gateway is gone, the reconciler leaves it alone. Meshes
//! keep the endpoints they last discovered there (its objects do not change while its API server
//! refuses connections), so requests balanced to them fail as Envoy reports a refused connection.

pub mod apps;
pub mod curl;
pub mod http;
pub mod mtls;
pub mod route;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use meshform_core::sync::lock;

use crate::asm::{AsmEmulator, AsmSnapshot, Injection};
use crate::kube::{run_builtin, ExecHandler, ExecOutput, ExecRequest, INJECTION_LABEL};
use curl::{CurlFailure, Transfer};
use http::{envoy_local_reply, HttpRequest, HttpResponse};
use mtls::WorkloadCa;
pub use route::{ClusterView, ConnectFailure};

/// The field manager the data plane writes with.
const MANAGER: &str = "asm-controlplane";

/// The data plane of the whole sandbox.
pub struct DataPlane {
    asm: Arc<AsmEmulator>,
    clusters: Vec<ClusterView>,
    ca: WorkloadCa,
    counters: Mutex<HashMap<String, usize>>,
    /// Injection labels this data plane set, per cluster, to remove them when injection goes away.
    labelled: Mutex<BTreeMap<String, BTreeSet<String>>>,
}

impl std::fmt::Debug for DataPlane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataPlane")
            .field("clusters", &self.clusters.iter().map(|c| &c.name).collect::<Vec<_>>())
            .finish()
    }
}

impl DataPlane {
    /// Attaches the data plane to the clusters (as their exec handler) and starts reconciling them
    /// with the ASM emulator's meshes.
    pub fn start(
        asm: Arc<AsmEmulator>,
        clusters: Vec<ClusterView>,
    ) -> (Arc<DataPlane>, tokio::task::JoinHandle<()>) {
        let dp = Arc::new(DataPlane {
            asm,
            clusters,
            ca: WorkloadCa::default(),
            counters: Mutex::new(HashMap::new()),
            labelled: Mutex::new(BTreeMap::new()),
        });
        for c in &dp.clusters {
            c.handle.set_exec_handler(Arc::new(PodExec {
                dp: Arc::clone(&dp),
                cluster_id: c.id.clone(),
            }));
        }
        let task_dp = Arc::clone(&dp);
        let task = tokio::spawn(async move {
            let mut changes = task_dp.asm.subscribe();
            loop {
                task_dp.reconcile();
                tokio::select! {
                    r = changes.changed() => if r.is_err() { return },
                    _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                }
            }
        });
        (dp, task)
    }

    /// Makes every cluster show the meshes that manage it.
    pub fn reconcile(&self) {
        let snap = self.asm.snapshot();
        // A down cluster's API server cannot be reached, by ASM either.
        for c in self.clusters.iter().filter(|c| !c.is_down()) {
            let mesh = snap.managing_mesh(&c.id);
            let mut want: BTreeMap<String, (String, String)> = BTreeMap::new();
            if let Some(m) = mesh {
                let _ = c.handle.ensure_namespace("istio-system");
                let root =
                    BTreeMap::from([("root-cert.pem".to_owned(), m.ca.root_cert_pem.clone())]);
                let _ =
                    c.handle.put_config_map(MANAGER, "istio-system", "istio-ca-root-cert", &root);
                for (ns, inj) in &m.injection {
                    let label = match inj {
                        Injection::Enabled => {
                            Some((INJECTION_LABEL.to_owned(), "enabled".to_owned()))
                        }
                        Injection::Revision(rev) => Some(("istio.io/rev".to_owned(), rev.clone())),
                        Injection::Disabled => None,
                    };
                    if let Some(l) = label {
                        want.insert(ns.clone(), l);
                        let _ = c.handle.put_config_map(MANAGER, ns, "istio-ca-root-cert", &root);
                    }
                }
            }
            let mut labelled = lock(&self.labelled);
            let had = labelled.entry(c.id.clone()).or_default();
            for (ns, (k, v)) in &want {
                if c.handle.set_namespace_label(MANAGER, ns, k, Some(v)).is_ok() {
                    had.insert(ns.clone());
                }
            }
            let stale: Vec<String> =
                had.iter().filter(|ns| !want.contains_key(*ns)).cloned().collect();
            for ns in stale {
                let _ = c.handle.set_namespace_label(MANAGER, &ns, INJECTION_LABEL, None);
                let _ = c.handle.set_namespace_label(MANAGER, &ns, "istio.io/rev", None);
                had.remove(&ns);
            }
        }
    }

    /// The clusters it serves.
    pub fn clusters(&self) -> &[ClusterView] {
        &self.clusters
    }

    fn cluster(&self, id: &str) -> Option<&ClusterView> {
        self.clusters.iter().find(|c| c.id == id)
    }

    /// `curl` inside a pod of `cluster_id`: its options ([`curl::parse`]), the transfer through the
    /// pod's sidecar under `--max-time`, and what curl prints ([`curl::render`]).
    pub async fn curl(&self, cluster_id: &str, req: &ExecRequest) -> ExecOutput {
        let opts = match curl::parse(req.command.get(1..).unwrap_or_default()) {
            Ok(o) => o,
            Err(e) => return e.output(),
        };
        let start = Instant::now();
        let mut transfer = Transfer {
            target: None,
            request: None,
            remote_ip: None,
            outcome: Err(CurlFailure::new(2, "no URL specified!")),
            elapsed: Duration::ZERO,
        };
        match curl::target(opts.url.as_deref().unwrap_or_default()) {
            Err(f) => transfer.outcome = Err(f),
            Ok(target) => {
                let request = curl::request(&opts, &target);
                let routed = self.route(cluster_id, req, &target);
                transfer.remote_ip = routed.as_ref().ok().and_then(|r| r.remote_ip.clone());
                transfer.outcome = match routed {
                    Err(f) => Err(f),
                    Ok(routed) => {
                        let send = self.send(routed, req, &target, &request);
                        within(opts.max_time, start, send).await
                    }
                };
                transfer.target = Some(target);
                transfer.request = Some(request);
            }
        }
        transfer.elapsed = start.elapsed();
        curl::render(&opts, &transfer)
    }

    /// Where a request from a pod of `cluster_id` to `target` goes: the Service's endpoints as the
    /// pod's mesh discovers them, and the one this request is balanced to (round robin per pod).
    fn route(
        &self,
        cluster_id: &str,
        req: &ExecRequest,
        target: &curl::Target,
    ) -> Result<Routed, CurlFailure> {
        let mut labels = target.host.split('.');
        let svc = labels.next().unwrap_or("").to_owned();
        let ns = labels.next().map(str::to_owned).unwrap_or_else(|| req.namespace().to_owned());
        let unresolved = || CurlFailure::new(6, format!("Could not resolve host: {}", target.host));
        let from = self.cluster(cluster_id).ok_or_else(unresolved)?.clone();
        let meshed = route::has_sidecar(&req.pod);
        let snap = self.asm.snapshot();
        let eps = route::discover(&snap, &self.clusters, &from, &ns, &svc, meshed)
            .ok_or_else(unresolved)?;
        let remote_ip = route::service_ip(&from, &ns, &svc);
        let endpoint = (!eps.is_empty()).then(|| {
            let key = format!("{cluster_id}/{}/{ns}/{svc}", req.pod_name());
            let mut counters = lock(&self.counters);
            let n = counters.entry(key).or_insert(0);
            *n += 1;
            eps[(*n - 1) % eps.len()].clone()
        });
        Ok(Routed { snap, from, meshed, endpoint, remote_ip })
    }

    /// Sends the request: through the source's sidecar when it has one (Envoy's local replies for
    /// what fails before the application answers), straight to the pod otherwise.
    async fn send(
        &self,
        routed: Routed,
        req: &ExecRequest,
        target: &curl::Target,
        request: &HttpRequest,
    ) -> Result<HttpResponse, CurlFailure> {
        let Routed { snap, from, meshed, endpoint, remote_ip } = routed;
        let connect_failed = || {
            CurlFailure::new(
                7,
                format!(
                    "Failed to connect to {} port {} after 0 ms: Couldn't connect to server",
                    remote_ip.as_deref().unwrap_or(&target.host),
                    target.port
                ),
            )
        };
        let Some(ep) = endpoint else {
            return if meshed {
                Ok(envoy_local_reply(503, "no healthy upstream"))
            } else {
                Err(connect_failed())
            };
        };
        if let Err(failure) = self.endpoint_reachable(&snap, &from, &ep) {
            return if meshed {
                Ok(envoy_local_reply(ConnectFailure::STATUS, failure.body()))
            } else {
                Err(connect_failed())
            };
        }
        let started = Instant::now();
        let to_mesh = self.cluster(&ep.cluster_id).and_then(|to| snap.managing_mesh(&to.id));
        let src_mesh = snap.managing_mesh(&from.id).filter(|_| meshed);
        let (Some(sm), Some(dm)) = (src_mesh, to_mesh.filter(|_| route::has_sidecar(&ep.pod)))
        else {
            let answer = apps::answer(&ep.pod, request);
            tokio::time::sleep(answer.delay).await;
            let response = answer.response;
            return Ok(if meshed {
                response.through_envoy(started.elapsed().as_millis())
            } else {
                response
            });
        };
        let spiffe = |pod: &serde_json::Value| {
            format!(
                "spiffe://cluster.local/ns/{}/sa/{}",
                pod["metadata"]["namespace"].as_str().unwrap_or("default"),
                pod["spec"]["serviceAccountName"].as_str().unwrap_or("default")
            )
        };
        let (client_id, server_id) = (spiffe(&req.pod), spiffe(&ep.pod));
        let certs = self
            .ca
            .issue(&sm.ca, &client_id)
            .and_then(|c| Ok((c, self.ca.issue(&dm.ca, &server_id)?)));
        let (client, server) = match certs {
            Ok(x) => x,
            Err(e) => {
                let f = ConnectFailure {
                    reset_reason: "connection failure".into(),
                    transport_failure: e,
                };
                return Ok(envoy_local_reply(ConnectFailure::STATUS, f.body()));
            }
        };
        let upstream = upstream_request(request, &client_id, &server_id, &client.chain[0]);
        let wire = upstream.to_wire();
        let pod = ep.pod.clone();
        let answer = move |wire: &str| {
            let received = HttpRequest::parse(wire).unwrap_or_else(|| upstream.clone());
            let a = apps::answer(&pod, &received);
            (a.response.to_wire(), a.delay)
        };
        match mtls::exchange(&client, &server, wire, answer).await {
            Ok(wire) => Ok(HttpResponse::parse(&wire)
                .unwrap_or_else(|| envoy_local_reply(502, "upstream connect error or disconnect/reset before headers. reset reason: protocol error"))
                .through_envoy(started.elapsed().as_millis())),
            Err(e) => Ok(envoy_local_reply(ConnectFailure::STATUS,
                format!(
                    "upstream connect error or disconnect/reset before headers. retried and the latest reset reason: remote connection failure, transport failure reason: TLS_error:|268435581:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED:TLS_error_end ({e}: the meshes of {} and {} do not share a root certificate)",
                    from.name, self.cluster(&ep.cluster_id).map_or("", |c| c.name.as_str())
                ),
            )),
        }
    }

    /// Whether a sidecar in `from` can connect to `ep` ([`route::endpoint_reachable`]); an endpoint
    /// of a cluster the sandbox does not know is refused.
    pub fn endpoint_reachable(
        &self,
        snapshot: &AsmSnapshot,
        from: &ClusterView,
        ep: &route::Endpoint,
    ) -> Result<(), ConnectFailure> {
        let to = self.cluster(&ep.cluster_id).ok_or_else(ConnectFailure::refused)?;
        route::endpoint_reachable(snapshot, from, to)
    }
}

/// The transfer, cut short after `--max-time` as curl does (exit 28).
async fn within(
    limit: Option<Duration>,
    start: Instant,
    transfer: impl std::future::Future<Output = Result<HttpResponse, CurlFailure>>,
) -> Result<HttpResponse, CurlFailure> {
    let Some(limit) = limit else { return transfer.await };
    tokio::time::timeout(limit, transfer).await.unwrap_or_else(|_| {
        let ms = start.elapsed().as_millis();
        Err(CurlFailure::new(
            28,
            format!("Operation timed out after {ms} milliseconds with 0 bytes received"),
        ))
    })
}

/// Where one request goes ([`DataPlane::route`]).
struct Routed {
    snap: Arc<AsmSnapshot>,
    from: ClusterView,
    meshed: bool,
    /// `None` when the Service has no endpoints.
    endpoint: Option<route::Endpoint>,
    /// The Service's cluster IP, what curl connects to.
    remote_ip: Option<String>,
}

/// The request as the destination's application receives it from its sidecar: what curl sent plus
/// the headers Envoy adds (`x-forwarded-proto`, `x-request-id`, `x-envoy-attempt-count`, and
/// `x-forwarded-client-cert` naming both workloads and the client certificate's SHA-256).
fn upstream_request(
    request: &HttpRequest,
    client_id: &str,
    server_id: &str,
    client_cert: &[u8],
) -> HttpRequest {
    use sha2::Digest;
    let mut r = request.clone();
    let hash = meshform_core::hex::encode(&sha2::Sha256::digest(client_cert));
    r.headers.extend([
        ("x-forwarded-proto".to_owned(), "http".to_owned()),
        ("x-request-id".to_owned(), uuid::Uuid::new_v4().to_string()),
        ("x-envoy-attempt-count".to_owned(), "1".to_owned()),
        (
            "x-forwarded-client-cert".to_owned(),
            format!("By={server_id};Hash={hash};Subject=\"\";URI={client_id}"),
        ),
    ]);
    r
}

/// The exec handler of one cluster's pods.
struct PodExec {
    dp: Arc<DataPlane>,
    cluster_id: String,
}

#[async_trait]
impl ExecHandler for PodExec {
    async fn exec(&self, request: &ExecRequest) -> ExecOutput {
        let argv0 = request
            .command
            .first()
            .map(|a| a.rsplit('/').next().unwrap_or(a).to_owned())
            .unwrap_or_default();
        if self.dp.cluster(&self.cluster_id).is_some_and(ClusterView::is_down) {
            // Reached only in process (kubectl cannot reach a down cluster's API server).
            return ExecOutput::fail(
                137,
                format!("the pod {} does not run: its cluster is down\n", request.pod_name()),
            );
        }
        if argv0 == "curl" {
            return self.dp.curl(&self.cluster_id, request).await;
        }
        run_builtin(self, request).await
    }
}
