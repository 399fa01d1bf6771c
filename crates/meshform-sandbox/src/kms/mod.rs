//! The emulated Alibaba Cloud Key Management Service (product Kms, API version `2016-01-20`), on
//! loopback: what the `alicloud_kms` key provider of state encryption calls.
//!
//! It speaks the real wire protocol — RPC style on `/`, V3 (`ACS3-HMAC-SHA256`) and V2
//! (`HMAC-SHA1`) signatures checked by the ASM emulator's verifier (`meshform-acs`), JSON answers
//! and error bodies with `RequestId` — so a client that works against it works against the cloud.
//! Its master keys are real AES-256 keys held in `kms.json` of the sandbox directory (`keys`);
//! a customer master key with the alias [`DEFAULT_ALIAS`] exists from the start and is named in
//! `sandbox.json` (`kms.key_id`, `kms.alias`). Actions and error codes: `api`.

mod api;
mod keys;

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use meshform_core::sync::lock;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::acs_api::{self, now_unix_ms, wire_request};
use crate::asm::auth::{Scheme, Verifier};
use api::KmsApiError;
use keys::KeyRing;

/// The API version the emulator speaks.
pub const API_VERSION: &str = "2016-01-20";
/// The alias of the master key created at start.
pub const DEFAULT_ALIAS: &str = "alias/meshform-state";

/// How to start the emulator.
#[derive(Clone, Debug)]
pub struct KmsOptions {
    /// The key ring's file (created on first start).
    pub state_file: PathBuf,
    /// The region the emulator stands for (its `HostId` is `kms.REGION.aliyuncs.com`).
    pub region: String,
    pub access_key_id: String,
    pub access_key_secret: String,
}

/// Starting the emulator failed.
#[derive(Debug, thiserror::Error)]
#[error("KMS emulator: {0}")]
pub struct KmsStartError(String);

struct Shared {
    verifier: Verifier,
    ring: Mutex<KeyRing>,
    host_id: String,
}

/// A running emulator; [`KmsEmulator::shutdown`] stops it.
pub struct KmsEmulator {
    local_addr: SocketAddr,
    default_key_id: String,
    region: String,
    stop: watch::Sender<bool>,
    server: JoinHandle<std::io::Result<()>>,
}

impl fmt::Debug for KmsEmulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KmsEmulator").field("endpoint", &self.endpoint()).finish_non_exhaustive()
    }
}

/// Starts the emulator on `listener`, loading its key ring and creating [`DEFAULT_ALIAS`]'s key
/// the first time.
pub async fn start(
    listener: tokio::net::TcpListener,
    opts: KmsOptions,
) -> Result<KmsEmulator, KmsStartError> {
    let local_addr = listener.local_addr().map_err(|e| KmsStartError(e.to_string()))?;
    let mut ring = KeyRing::load(&opts.state_file).map_err(KmsStartError)?;
    let default_key_id = ring
        .ensure_alias(DEFAULT_ALIAS, "meshform state encryption (sandbox)")
        .map_err(KmsStartError)?;
    ring.save(&opts.state_file).map_err(KmsStartError)?;
    let shared = Arc::new(Shared {
        verifier: Verifier::new(opts.access_key_id, opts.access_key_secret),
        ring: Mutex::new(ring),
        host_id: format!("kms.{}.aliyuncs.com", opts.region),
    });
    let app = axum::Router::new().fallback(handle).with_state(shared);
    let (stop, server) = acs_api::serve_until_stopped(listener, app);
    Ok(KmsEmulator { local_addr, default_key_id, region: opts.region, stop, server })
}

impl KmsEmulator {
    /// `http://127.0.0.1:PORT`, for a key provider's `endpoint`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.local_addr)
    }

    /// The id of the master key [`DEFAULT_ALIAS`] names.
    pub fn default_key_id(&self) -> &str {
        &self.default_key_id
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    /// Stops serving.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.server.await;
    }
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request_id = acs_api::request_id();
    let (status, body) = match serve(&shared, method, &uri, &headers, &body) {
        Ok(mut fields) => {
            if let Some(o) = fields.as_object_mut() {
                o.insert("RequestId".to_owned(), request_id.clone().into());
            }
            (StatusCode::OK, fields)
        }
        Err(e) => (
            StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            e.body(&request_id, &shared.host_id),
        ),
    };
    acs_api::json_reply(status, &body, Some(&request_id))
}

/// Order of checks: path and method → action and version → signature → the action.
fn serve(
    shared: &Shared,
    method: Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<serde_json::Value, KmsApiError> {
    if method != Method::GET && method != Method::POST {
        return Err(KmsApiError::unsupported_method(&method));
    }
    let req = wire_request(&method, uri, headers, body);
    let scheme = Scheme::of(&req).map_err(KmsApiError::from)?;
    let (action, version) = match scheme {
        Scheme::V3 => (req.header("x-acs-action"), req.header("x-acs-version")),
        Scheme::V2 => (req.param("Action"), req.param("Version")),
    };
    let action = action.ok_or_else(|| KmsApiError::missing("Action"))?;
    let version = version.ok_or_else(|| KmsApiError::missing("Version"))?;
    if version != API_VERSION {
        return Err(KmsApiError::new(
            400,
            "InvalidVersion",
            format!(
                "Specified parameter Version is not valid: {version} (KMS speaks {API_VERSION})."
            ),
        ));
    }
    if req.path != "/" || !api::is_action(action) {
        return Err(KmsApiError::action_not_found(action));
    }
    shared.verifier.verify(&req, scheme, now_unix_ms()).map_err(KmsApiError::from)?;
    let param = |name: &str| req.param(name).map(str::to_owned);
    let ring = lock(&shared.ring);
    api::run(action, &param, &ring)
}
