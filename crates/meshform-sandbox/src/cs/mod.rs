//! The emulated Container Service for Kubernetes (ACK) OpenAPI — product `CS`, version
//! `2015-12-15`, ROA style — on its own loopback endpoint, for the sandbox's emulated clusters.
//!
//! It speaks the real wire protocol: REST paths, `ACS3-HMAC-SHA256` signatures over the path
//! (verified with the ASM emulator's verifier, i.e. `meshform-acs`), JSON answers, and ROA error
//! bodies (`{code, message, requestId, status}` with a 4xx/5xx status), so the official Python SDK
//! (`alibabacloud-cs20151215`) and meshform's `ack` provider work against it unchanged. It serves:
//!
//! - `GET /clusters/{ClusterId}` (`DescribeClusterDetail`);
//! - `GET /api/v1/clusters` (`DescribeClustersV1`: `name` fuzzy, `region_id`, `cluster_id`,
//!   `cluster_type`, `page_number`, `page_size`);
//! - `GET /k8s/{ClusterId}/user_config` (`DescribeClusterUserKubeconfig`): a kubeconfig that works
//!   against the emulated API server, for its public endpoint (`https://127.0.0.1:PORT`) or, with
//!   `PrivateIpAddress=true`, its intranet endpoint (the same server reached as
//!   `https://localhost:PORT`); with `TemporaryDurationMinutes` (15–4320) its token expires then
//!   and the API server refuses it with 401 afterwards (`kube::issue_temporary_token`).
//!
//! The endpoint serves every region, as `cs.aliyuncs.com` does; a request sent to a regional host
//! name (`Host: cs.<region>.aliyuncs.com`) sees only that region's clusters. The clusters are the
//! sandbox's (ids, names, regions, VPC and vSwitch ids from its identity); a cluster's zone is the
//! first zone of its region ([`zone_of`]). Modules: `server` (HTTP, checks, routes), `render`
//! (answer shapes).

mod render;
mod server;

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::asm::auth::Verifier;
use crate::kube::Availability;

pub use render::zone_of;

/// The API version the emulator speaks.
pub const API_VERSION: &str = "2015-12-15";

/// One emulated ACK cluster, as the CS API describes it.
#[derive(Clone)]
pub struct CsCluster {
    pub id: String,
    pub name: String,
    pub region: String,
    pub vpc_id: String,
    pub vswitch_id: String,
    /// The API server's address (loopback).
    pub api_server: SocketAddr,
    /// The CA certificate (PEM) of the API server.
    pub ca_pem: String,
    /// The cluster's long-lived bearer token (a secret: never in `Debug` output).
    pub token: String,
    /// Whether the API server is up (an outage makes the cluster `unavailable`).
    pub availability: Option<Availability>,
}

impl fmt::Debug for CsCluster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CsCluster")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("region", &self.region)
            .field("api_server", &self.api_server)
            .finish_non_exhaustive()
    }
}

/// Why the emulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum CsError {
    #[error("CS emulator: reading the listener's address: {0}")]
    Listener(std::io::Error),
}

/// A running CS emulator.
pub struct CsEmulator {
    local_addr: SocketAddr,
    stop: watch::Sender<bool>,
    server: JoinHandle<std::io::Result<()>>,
}

impl fmt::Debug for CsEmulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CsEmulator").field("endpoint", &self.endpoint()).finish_non_exhaustive()
    }
}

/// Starts the emulator on `listener` for an account (its access key) and its clusters.
pub async fn start(
    listener: tokio::net::TcpListener,
    access_key_id: &str,
    access_key_secret: &str,
    clusters: Vec<CsCluster>,
) -> Result<CsEmulator, CsError> {
    let local_addr = listener.local_addr().map_err(CsError::Listener)?;
    let shared = Arc::new(server::Shared {
        verifier: Verifier::new(access_key_id.to_owned(), access_key_secret.to_owned()),
        clusters,
    });
    let (stop, server) = crate::acs_api::serve_until_stopped(listener, server::router(shared));
    Ok(CsEmulator { local_addr, stop, server })
}

impl CsEmulator {
    /// `http://127.0.0.1:PORT`, for `sandbox.json`'s `cs.endpoint`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.local_addr)
    }

    /// Stops serving.
    pub async fn shutdown(self) {
        self.stop.send_replace(true);
        let _ = self.server.await;
    }
}
