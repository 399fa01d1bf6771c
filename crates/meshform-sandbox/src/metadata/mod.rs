//! The emulated ECS instance metadata service (what answers on `http://100.100.100.200` of an ECS
//! instance), on loopback: the RAM role attached to the instance and its temporary credentials, in
//! the hardened mode — `PUT /latest/api/token` (header `X-aliyun-ecs-metadata-token-ttl-seconds`,
//! 1 to 21600) gives a session token that every read must carry in `X-aliyun-ecs-metadata-token`
//! (a read without one, or with an expired one, is `401`), unless started with plain reads allowed.
//! The credentials are issued like the STS emulator's ([`crate::sts::token`]), so every emulator of
//! the account accepts them until they expire.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use meshform_core::sync::lock;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::acs_api::{self, now_unix_ms};
use crate::sts::roles;

/// How to start the service.
#[derive(Clone, Debug)]
pub struct MetadataOptions {
    /// The account's AccessKey (its secret seals the credentials handed out).
    pub access_key_id: String,
    pub access_key_secret: String,
    /// The role attached to the instance (`None`: no role attached).
    pub role_name: Option<String>,
    /// Refuse reads without a session token (the hardened mode enforced).
    pub require_token: bool,
    /// How long handed-out credentials live (ECS: 6 hours).
    pub lifetime: Duration,
}

impl MetadataOptions {
    /// An instance with [`roles::ECS_ROLE`] attached, in the enforced hardened mode.
    pub fn new(access_key_id: &str, access_key_secret: &str) -> MetadataOptions {
        MetadataOptions {
            access_key_id: access_key_id.to_owned(),
            access_key_secret: access_key_secret.to_owned(),
            role_name: Some(roles::ECS_ROLE.to_owned()),
            require_token: true,
            lifetime: Duration::from_secs(6 * 3600),
        }
    }
}

struct Shared {
    opts: MetadataOptions,
    account_id: String,
    /// Session tokens and when they expire (unix ms).
    tokens: Mutex<HashMap<String, i64>>,
}

/// A running service; [`MetadataService::shutdown`] stops it.
#[derive(Debug)]
pub struct MetadataService {
    local_addr: SocketAddr,
    stop: watch::Sender<bool>,
    server: JoinHandle<std::io::Result<()>>,
}

/// Starts the service on `listener`.
pub async fn start(
    listener: tokio::net::TcpListener,
    opts: MetadataOptions,
) -> std::io::Result<MetadataService> {
    let local_addr = listener.local_addr()?;
    let shared = Arc::new(Shared {
        account_id: roles::account_id(&opts.access_key_id),
        opts,
        tokens: Mutex::default(),
    });
    let app = axum::Router::new()
        .route("/latest/api/token", put(issue_token))
        .route("/latest/meta-data/ram/security-credentials/", get(role_name))
        .route("/latest/meta-data/ram/security-credentials/{role}", get(role_credentials))
        .with_state(shared);
    let (stop, server) = acs_api::serve_until_stopped(listener, app);
    Ok(MetadataService { local_addr, stop, server })
}

impl MetadataService {
    /// `http://127.0.0.1:PORT`, for `ALIBABA_CLOUD_ECS_METADATA_ENDPOINT`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.local_addr)
    }

    /// Stops serving.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.server.await;
    }
}

async fn issue_token(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let ttl = headers
        .get("x-aliyun-ecs-metadata-token-ttl-seconds")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok());
    let Some(ttl) = ttl.filter(|t| (1..=21600).contains(t)) else {
        return (
            StatusCode::BAD_REQUEST,
            "X-aliyun-ecs-metadata-token-ttl-seconds must be 1 to 21600",
        )
            .into_response();
    };
    let token = uuid::Uuid::new_v4().simple().to_string();
    let mut tokens = lock(&shared.tokens);
    let now = now_unix_ms();
    tokens.retain(|_, expires| *expires > now);
    tokens.insert(token.clone(), now + ttl * 1000);
    token.into_response()
}

/// Whether a read may go on: `Err` is the `401` of a missing or expired token.
fn check_token(shared: &Shared, headers: &HeaderMap) -> Result<(), Response> {
    let token = headers.get("x-aliyun-ecs-metadata-token").and_then(|v| v.to_str().ok());
    let valid =
        token.is_some_and(|t| lock(&shared.tokens).get(t).is_some_and(|e| *e > now_unix_ms()));
    if valid || (token.is_none() && !shared.opts.require_token) {
        return Ok(());
    }
    Err((StatusCode::UNAUTHORIZED, "a valid X-aliyun-ecs-metadata-token is required")
        .into_response())
}

async fn role_name(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if let Err(r) = check_token(&shared, &headers) {
        return r;
    }
    match &shared.opts.role_name {
        Some(r) => r.clone().into_response(),
        None => (StatusCode::NOT_FOUND, "Not Found").into_response(),
    }
}

async fn role_credentials(
    State(shared): State<Arc<Shared>>,
    Path(role): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = check_token(&shared, &headers) {
        return r;
    }
    if shared.opts.role_name.as_deref() != Some(role.as_str()) {
        return (StatusCode::NOT_FOUND, "Not Found").into_response();
    }
    let now = now_unix_ms();
    let lifetime = i64::try_from(shared.opts.lifetime.as_millis()).unwrap_or(i64::MAX / 2);
    let arn = roles::role_arn(&shared.account_id, &role);
    let answer =
        roles::credentials_answer(&shared.opts.access_key_secret, &arn, "ecs", now + lifetime);
    let mut c = answer["Credentials"].clone();
    c["LastUpdated"] = roles::iso8601(now).into();
    c["Code"] = "Success".into();
    (StatusCode::OK, [("content-type", "text/plain")], c.to_string()).into_response()
}
