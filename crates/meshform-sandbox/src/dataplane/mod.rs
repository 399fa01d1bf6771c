//! The mesh data plane model: what makes `kubectl exec deploy/sleep -- curl helloworld:5000/hello`
//! behave in the sandbox as in real meshes.
//!
//! - [`discovery`]: what each mesh's control plane last pushed to its proxies (endpoints of every
//!   member cluster, `DestinationRule`s and `VirtualService`s), kept as last seen while a source
//!   is unreachable; where workloads run (localities).
//! - [`route`]: endpoints, and [`route::endpoint_reachable`], the one decision whether a
//!   connection to an endpoint succeeds (VPCs, networks, gateways, cluster outages), with Envoy's
//!   words when it does not.
//! - [`proxy`]: the client's sidecar — [`policy`] (what the rules say for a service),
//!   [`balancer`] (locality priorities, round robin), [`outlier`] (ejections), retries and
//!   timeouts — and its `/stats`; [`clock`]: the time outlier detection runs on.
//! - [`mtls`]: workload certificates from each mesh's CA, and the real mTLS hop between two pods.
//! - [`curl`]: the sample `curl` image's options and output; [`http`]: the HTTP/1.1 messages and
//!   Envoy's local replies; [`apps`]: what the sample images answer.
//! - This module: [`DataPlane`] (the exec handler of every emulated cluster, and the reconciler that
//!   makes a managed cluster show its mesh: `istio-system`, injection labels, `istio-ca-root-cert`,
//!   the injector's values naming the mesh version's proxy image; and its node, labelled with its
//!   region and zone as the cloud's node controller does); [`proxy_version`], what a pod's sidecar
//!   runs.
//!
//! Proxy versions: a pod's `istio-proxy` container runs the image its mesh's injector named when
//! the pod was created, tagged with the mesh's version (`…/proxyv2:v1.22.6.71-g7d67a80b-aliyun`).
//! When the mesh's control plane is upgraded, the injector names the new version from then on, and
//! existing pods keep the old proxy until they are replaced (`kubectl rollout restart`), as in
//! Istio.
//!
//! A cluster that is down (`meshform sandbox outage --cluster`) runs nothing: its pods take no
//! commands and accept no connections, its gateway is gone, the reconciler leaves it alone. Meshes
//! keep the endpoints they last discovered there, so requests balanced to them fail as Envoy
//! reports a refused connection — and are retried, and eject the endpoint, as the policy says.

pub mod apps;
pub mod balancer;
pub mod clock;
pub mod curl;
pub mod discovery;
pub mod http;
pub mod mtls;
pub mod outlier;
pub mod policy;
pub mod proxy;
pub mod route;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use meshform_core::sync::lock;

use crate::asm::{AsmEmulator, AsmSnapshot, Injection};
use crate::kube::{
    run_builtin, ExecHandler, ExecOutput, ExecRequest, Gvk, INJECTION_LABEL, INJECTOR_CONFIG_MAP,
};
pub use clock::Clock;
use curl::{CurlFailure, Transfer};
use http::{envoy_local_reply, HttpRequest, HttpResponse};
use mtls::WorkloadCa;
use policy::ServicePolicy;
pub use route::{ClusterView, ConnectFailure};

/// The field manager the data plane writes with.
const MANAGER: &str = "asm-controlplane";
/// How often the reconciler runs without a change of ASM.
const RECONCILE_PERIOD: Duration = Duration::from_millis(500);
/// How often each mesh pushes what it discovers to its proxies (istiod debounces changes for
/// 100 ms).
const PUSH_PERIOD: Duration = Duration::from_millis(100);
/// The field manager of the nodes' registration.
const NODE_MANAGER: &str = "cloud-node-controller";
/// Where ASM's proxy images are (`<hub>/proxyv2:<mesh version>`).
const PROXY_HUB: &str = "registry-cn-hangzhou.ack.aliyuncs.com/acs";

/// The version of a pod's sidecar: the tag of its `istio-proxy` container's image (`None` without
/// a sidecar, or for an image without a tag).
pub fn proxy_version(pod: &serde_json::Value) -> Option<&str> {
    let proxy =
        pod["spec"]["containers"].as_array()?.iter().find(|c| c["name"] == "istio-proxy")?;
    let image = proxy["image"].as_str()?;
    let (_, tag) = image.rsplit_once(':')?;
    (!tag.is_empty() && !tag.contains('/')).then_some(tag)
}

/// The injector's values for a mesh on `version` (the ConfigMap `istio-sidecar-injector`'s `values`
/// key: the Helm values istiod injects with).
fn injector_values(version: &str) -> String {
    serde_json::json!({
        "global": {"hub": PROXY_HUB, "tag": version, "proxy": {"image": "proxyv2"}},
        "revision": "default",
    })
    .to_string()
}

/// The data plane of the whole sandbox.
pub struct DataPlane {
    asm: Arc<AsmEmulator>,
    clusters: Vec<ClusterView>,
    ca: WorkloadCa,
    /// Round-robin counters of pods without a sidecar (kube-proxy), by client and Service.
    counters: Mutex<HashMap<String, usize>>,
    /// Injection labels this data plane set, per cluster, to remove them when injection goes away.
    labelled: Mutex<BTreeMap<String, BTreeSet<String>>>,
    discovery: discovery::Discovery,
    sidecars: proxy::Sidecars,
    clock: Clock,
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
            discovery: discovery::Discovery::default(),
            sidecars: proxy::Sidecars::default(),
            clock: Clock::default(),
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
            let mut last_reconcile: Option<Instant> = None;
            let mut changed = true;
            loop {
                if changed || last_reconcile.is_none_or(|t| t.elapsed() >= RECONCILE_PERIOD) {
                    task_dp.reconcile();
                    last_reconcile = Some(Instant::now());
                }
                task_dp.push();
                changed = tokio::select! {
                    r = changes.changed() => if r.is_err() { return } else { true },
                    _ = tokio::time::sleep(PUSH_PERIOD) => false,
                };
            }
        });
        (dp, task)
    }

    /// Makes every cluster show the meshes that manage it.
    pub fn reconcile(&self) {
        let snap = self.asm.snapshot();
        // A down cluster's API server cannot be reached, by ASM either.
        for c in self.clusters.iter().filter(|c| !c.is_down()) {
            let node = discovery::node_name(&c.name);
            if c.handle.get(&Gvk::new("", "v1", "Node"), None, &node).is_none() {
                let region = discovery::region_of(&snap, &c.id);
                let _ = c.handle.apply(NODE_MANAGER, &discovery::node(&c.name, &region));
            }
            let mesh = snap.managing_mesh(&c.id);
            let mut want: BTreeMap<String, (String, String)> = BTreeMap::new();
            if let Some(m) = mesh {
                let _ = c.handle.ensure_namespace("istio-system");
                let root =
                    BTreeMap::from([("root-cert.pem".to_owned(), m.ca.root_cert_pem.clone())]);
                let _ =
                    c.handle.put_config_map(MANAGER, "istio-system", "istio-ca-root-cert", &root);
                // The control plane's version (it changes when an upgrade completes): pods
                // created from now on get its proxy.
                let values =
                    BTreeMap::from([("values".to_owned(), injector_values(&m.istio_version))]);
                let _ =
                    c.handle.put_config_map(MANAGER, "istio-system", INJECTOR_CONFIG_MAP, &values);
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

    /// Every mesh pushes what it discovers now (the reconciler does every 100 ms): from the
    /// sources that answer; the rest stays as last seen ([`discovery`]).
    pub fn push(&self) {
        let snap = self.asm.snapshot();
        self.discovery.retain(&snap);
        for mesh in snap.meshes.values() {
            let api = self.asm.mesh_api(&mesh.id);
            self.discovery.pushed(&snap, mesh, api.as_ref(), &self.clusters);
        }
    }

    /// The clock outlier detection runs on: tests pause and advance it.
    pub fn clock(&self) -> &Clock {
        &self.clock
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
                if matches!(target.host.as_str(), "localhost" | "127.0.0.1") {
                    transfer.remote_ip = Some("127.0.0.1".to_owned());
                    transfer.outcome = self.sidecar_admin(cluster_id, req, &target, &request);
                } else {
                    let routed = self.route(cluster_id, req, &target);
                    transfer.remote_ip = routed.as_ref().ok().and_then(|r| r.remote_ip.clone());
                    transfer.outcome = match routed {
                        Err(f) => Err(f),
                        Ok(routed) => {
                            let send = self.send(routed, req, &target, &request);
                            within(opts.max_time, start, send).await
                        }
                    };
                }
                transfer.target = Some(target);
                transfer.request = Some(request);
            }
        }
        transfer.elapsed = start.elapsed();
        curl::render(&opts, &transfer)
    }

    /// `curl localhost:15000/…` in a pod with a sidecar: Envoy's admin endpoint (`/stats`,
    /// `/stats?filter=TEXT`: the counters of the sidecar's upstream clusters).
    fn sidecar_admin(
        &self,
        cluster_id: &str,
        req: &ExecRequest,
        target: &curl::Target,
        request: &HttpRequest,
    ) -> Result<HttpResponse, CurlFailure> {
        if target.port != 15000 || !route::has_sidecar(&req.pod) {
            return Err(CurlFailure::new(
                7,
                format!(
                    "Failed to connect to {} port {} after 0 ms: Couldn't connect to server",
                    target.host, target.port
                ),
            ));
        }
        let (path, query) = request.path.split_once('?').unwrap_or((&request.path, ""));
        if path != "/stats" {
            return Ok(HttpResponse::new(
                404,
                "text/plain",
                "invalid path. admin commands are:\n  /stats: print server stats\n",
            ));
        }
        let filter = form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k == "filter")
            .map(|(_, v)| v.into_owned());
        let client = client_key(cluster_id, req);
        let mut r = HttpResponse::new(
            200,
            "text/plain; charset=UTF-8",
            self.sidecars.stats(&client, filter.as_deref()),
        );
        r.set_header("server", "envoy");
        Ok(r)
    }

    /// Where a request from a pod of `cluster_id` to `target` goes: the Service's endpoints and
    /// traffic policy as the pod's mesh last pushed them (a pod without a sidecar sees its own
    /// cluster's endpoints, as kube-proxy does).
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
        let mesh = if meshed { snap.managing_mesh(&from.id) } else { None };
        let (endpoints, policy) = match mesh {
            Some(m) => {
                let api = self.asm.mesh_api(&m.id);
                let pushed = self.discovery.pushed(&snap, m, api.as_ref(), &self.clusters);
                let eps = pushed.endpoints(&self.clusters, &ns, &svc).ok_or_else(unresolved)?;
                (eps, policy::for_service(&pushed.traffic, &ns, &svc, &target.path))
            }
            None => (
                route::service_endpoints(&from, &ns, &svc).ok_or_else(unresolved)?,
                ServicePolicy::default(),
            ),
        };
        let remote_ip = route::service_ip(&from, &ns, &svc);
        Ok(Routed { snap, from, meshed, endpoints, policy, remote_ip, ns, svc })
    }

    /// Sends the request: through the source's sidecar when it has one ([`proxy`]: balancing,
    /// retries, outlier detection, Envoy's local replies), else straight to a pod chosen round
    /// robin, once.
    async fn send(
        &self,
        routed: Routed,
        req: &ExecRequest,
        target: &curl::Target,
        request: &HttpRequest,
    ) -> Result<HttpResponse, CurlFailure> {
        let Routed { snap, from, meshed, endpoints, policy, remote_ip, ns, svc } = routed;
        let ctx = AttemptContext { snap: &snap, from: &from, client_pod: &req.pod, request };
        if meshed {
            let call = proxy::Call {
                client: client_key(&from.id, req),
                client_placement: discovery::client_placement(&snap, &from, &req.pod),
                cluster_name: format!("outbound|{}||{svc}.{ns}.svc.cluster.local", target.port),
                endpoints,
                policy,
                attempt: ctx,
            };
            return Ok(self.through_sidecar(&call).await);
        }
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
        let ep = (!endpoints.is_empty()).then(|| {
            let key = format!("{}/{ns}/{svc}", client_key(&from.id, req));
            let mut counters = lock(&self.counters);
            let n = counters.entry(key).or_insert(0);
            *n += 1;
            endpoints[(*n - 1) % endpoints.len()].clone()
        });
        let Some(ep) = ep else { return Err(connect_failed()) };
        self.attempt(&ctx, &ep, 1).await.map_err(|_| connect_failed())
    }

    /// One attempt to `ep`: the connection ([`route::endpoint_reachable`]), the mTLS hop when
    /// both ends have sidecars (a handshake failure is a failed connection, as Envoy reports
    /// it), and the application's answer — as the client's sidecar passes it on when it has one.
    async fn attempt(
        &self,
        ctx: &AttemptContext<'_>,
        ep: &route::Endpoint,
        n: u32,
    ) -> Result<HttpResponse, ConnectFailure> {
        let AttemptContext { snap, from, client_pod, request } = *ctx;
        self.endpoint_reachable(snap, from, ep)?;
        let meshed = route::has_sidecar(client_pod);
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
        let (client_id, server_id) = (spiffe(client_pod), spiffe(&ep.pod));
        let (client, server) = self
            .ca
            .issue(&sm.ca, &client_id)
            .and_then(|c| Ok((c, self.ca.issue(&dm.ca, &server_id)?)))
            .map_err(|e| ConnectFailure {
                reset_reason: "connection failure".into(),
                transport_failure: e,
            })?;
        let upstream = upstream_request(request, &client_id, &server_id, &client.chain[0], n);
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
            Err(e) => Err(ConnectFailure {
                reset_reason: "remote connection failure".into(),
                transport_failure: format!(
                    "TLS_error:|268435581:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED:TLS_error_end ({e}: the meshes of {} and {} do not share a root certificate)",
                    from.name, self.cluster(&ep.cluster_id).map_or("", |c| c.name.as_str())
                ),
            }),
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

/// A client pod's identity in the sidecars' state: `cluster-id/namespace/pod`.
fn client_key(cluster_id: &str, req: &ExecRequest) -> String {
    format!("{cluster_id}/{}/{}", req.namespace(), req.pod_name())
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
    /// The Service's endpoints as the client knows them; empty when it has none.
    endpoints: Vec<route::Endpoint>,
    policy: ServicePolicy,
    /// The Service's cluster IP, what curl connects to.
    remote_ip: Option<String>,
    ns: String,
    svc: String,
}

/// What an attempt needs besides its endpoint.
#[derive(Clone, Copy)]
pub(crate) struct AttemptContext<'a> {
    snap: &'a AsmSnapshot,
    from: &'a ClusterView,
    client_pod: &'a serde_json::Value,
    request: &'a HttpRequest,
}

/// The request as the destination's application receives it from its sidecar: what curl sent plus
/// the headers Envoy adds (`x-forwarded-proto`, `x-request-id`, `x-envoy-attempt-count`, and
/// `x-forwarded-client-cert` naming both workloads and the client certificate's SHA-256).
fn upstream_request(
    request: &HttpRequest,
    client_id: &str,
    server_id: &str,
    client_cert: &[u8],
    attempt: u32,
) -> HttpRequest {
    use sha2::Digest;
    let mut r = request.clone();
    let hash = meshform_core::hex::encode(&sha2::Sha256::digest(client_cert));
    r.headers.extend([
        ("x-forwarded-proto".to_owned(), "http".to_owned()),
        ("x-request-id".to_owned(), uuid::Uuid::new_v4().to_string()),
        ("x-envoy-attempt-count".to_owned(), attempt.to_string()),
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
