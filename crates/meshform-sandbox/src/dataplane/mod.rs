//! The mesh data plane model: what makes `kubectl exec deploy/sleep -- curl helloworld:5000/hello`
//! behave in the sandbox as in real meshes.
//!
//! - [`route`]: endpoint discovery per mesh (discovery-only members included), reachability across
//!   VPCs and networks, the sample images' answers.
//! - [`mtls`]: workload certificates from each mesh's CA, and the real mTLS hop between two pods.
//! - This module: [`DataPlane`] (the exec handler of every emulated cluster, and the reconciler that
//!   makes a managed cluster show its mesh: `istio-system`, injection labels, `istio-ca-root-cert`).

pub mod mtls;
pub mod route;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use meshform_core::sync::lock;

use crate::asm::{AsmEmulator, Injection};
use crate::kube::{run_builtin, ExecHandler, ExecOutput, ExecRequest, INJECTION_LABEL};
use mtls::WorkloadCa;
pub use route::ClusterView;

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
        for c in &self.clusters {
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

    fn cluster(&self, id: &str) -> Option<&ClusterView> {
        self.clusters.iter().find(|c| c.id == id)
    }

    /// `curl` inside a pod of `cluster_id`.
    pub async fn curl(&self, cluster_id: &str, req: &ExecRequest) -> ExecOutput {
        let args = &req.command[1..];
        let mut silent = false;
        let mut fail = false;
        let mut include = false;
        let mut url = None;
        let mut i = 0;
        while i < args.len() {
            let a = args[i].as_str();
            match a {
                "-s" | "--silent" => silent = true,
                "-f" | "--fail" => fail = true,
                "-i" | "--include" => include = true,
                "-S" | "-v" | "-L" | "-k" | "--show-error" => {}
                "-sS" | "-Ss" => silent = true,
                "-sf" | "-fs" => {
                    silent = true;
                    fail = true;
                }
                "-o" | "-m" | "--max-time" | "-H" | "-X" | "-w" | "--connect-timeout" => i += 1,
                _ if a.starts_with('-') => {}
                _ => url = url.or(Some(a.to_owned())),
            }
            i += 1;
        }
        let err = |code: i32, msg: String| {
            ExecOutput::fail(
                code,
                if silent { String::new() } else { format!("curl: ({code}) {msg}\n") },
            )
        };
        let Some(url) = url else { return err(2, "no URL specified".into()) };
        let rest = url.strip_prefix("http://").unwrap_or(&url);
        let (hostport, path) = match rest.find('/') {
            Some(p) => (&rest[..p], rest[p..].to_owned()),
            None => (rest, "/".to_owned()),
        };
        let host = hostport.split(':').next().unwrap_or(hostport);
        let mut labels = host.split('.');
        let svc = labels.next().unwrap_or("").to_owned();
        let ns = labels.next().map(str::to_owned).unwrap_or_else(|| req.namespace().to_owned());
        let Some(from) = self.cluster(cluster_id) else {
            return err(6, format!("Could not resolve host: {host}"));
        };
        let meshed = route::has_sidecar(&req.pod);
        let snap = self.asm.snapshot();
        let Some(eps) = route::discover(&snap, &self.clusters, from, &ns, &svc, meshed) else {
            return err(6, format!("Could not resolve host: {host}"));
        };
        let (status, body) = if eps.is_empty() {
            (503, "no healthy upstream".to_owned())
        } else {
            let key = format!("{cluster_id}/{}/{ns}/{svc}", req.pod_name());
            let n = {
                let mut c = lock(&self.counters);
                let e = c.entry(key).or_insert(0);
                *e += 1;
                *e - 1
            };
            let ep = &eps[n % eps.len()];
            self.hop(&snap, from, req, ep, &path, meshed).await
        };
        if fail && status >= 400 {
            return err(22, format!("The requested URL returned error: {status}"));
        }
        let mut out = String::new();
        if include {
            out.push_str(&format!("HTTP/1.1 {status}\r\n\r\n"));
        }
        out.push_str(&body);
        ExecOutput::ok(out)
    }

    /// One request from the source pod to an endpoint: reachability, then mTLS between sidecars.
    async fn hop(
        &self,
        snap: &crate::asm::AsmSnapshot,
        from: &ClusterView,
        req: &ExecRequest,
        ep: &route::Endpoint,
        path: &str,
        meshed: bool,
    ) -> (u16, String) {
        let Some(to) = self.cluster(&ep.cluster_id) else {
            return (503, "no healthy upstream".into());
        };
        let src_mesh = snap.managing_mesh(&from.id);
        if let Some(why) = route::unreachable_reason(snap, from, to) {
            return (503, format!("upstream connect error or disconnect/reset before headers. reset reason: connection failure, transport failure reason: {why}"));
        }
        let (code, answer) = route::app_answer(&ep.pod, path);
        let dst_mesh = snap.managing_mesh(&to.id);
        let (Some(sm), Some(dm)) =
            (src_mesh.filter(|_| meshed), dst_mesh.filter(|_| route::has_sidecar(&ep.pod)))
        else {
            return (code, answer);
        };
        let spiffe = |pod: &serde_json::Value| {
            format!(
                "spiffe://cluster.local/ns/{}/sa/{}",
                pod["metadata"]["namespace"].as_str().unwrap_or("default"),
                pod["spec"]["serviceAccountName"].as_str().unwrap_or("default")
            )
        };
        let certs = self
            .ca
            .issue(&sm.ca, &spiffe(&req.pod))
            .and_then(|c| Ok((c, self.ca.issue(&dm.ca, &spiffe(&ep.pod))?)));
        let (client, server) = match certs {
            Ok(x) => x,
            Err(e) => return (503, format!("upstream connect error or disconnect/reset before headers. reset reason: connection failure, transport failure reason: {e}")),
        };
        let request = format!("GET {path} HTTP/1.1\r\nHost: {}\r\n\r\n", ep.name());
        match mtls::exchange(&client, &server, request, move |_| answer).await {
            Ok(body) => (code, body),
            Err(e) => (
                503,
                format!(
                    "upstream connect error or disconnect/reset before headers. retried and the latest reset reason: remote connection failure, transport failure reason: TLS_error:|268435581:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED:TLS_error_end ({e}: the meshes of {} and {} do not share a root certificate)",
                    from.name, to.name
                ),
            ),
        }
    }
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
        if argv0 == "curl" {
            return self.dp.curl(&self.cluster_id, request).await;
        }
        run_builtin(self, request).await
    }
}
