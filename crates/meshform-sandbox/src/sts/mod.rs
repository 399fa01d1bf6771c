//! The emulated Security Token Service (STS, API version `2015-04-01`), on loopback: `AssumeRole`
//! (signed, V3 or V2, by the account's AccessKey or by temporary credentials it issued — role
//! chaining) and `AssumeRoleWithOIDC` (unsigned, with an OIDC token of the sandbox's RRSA issuer).
//! Accepts what the official SDKs send: `GET /` with everything in the query (Python), `POST /` with a
//! form body (Go), or V3 with the action in `x-acs-action`. Answers and errors have the real shapes
//! (`Credentials` with a strict `Expiration`; `EntityNotExist.Role`, `NoPermission`,
//! `InvalidParameter.*`, `AuthenticationFail.OIDCToken.*`). The credentials it issues are accepted by
//! every emulator of the account until they expire ([`token`]). Roles: [`roles`].

pub mod oidc;
pub mod roles;
pub mod token;

use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::acs_api::{self, now_unix_ms, wire_request};
use crate::asm::auth::{Scheme, Verifier};
use roles::{Caller, RoleError};

/// The API version the emulator speaks.
pub const API_VERSION: &str = "2015-04-01";

/// How to start the emulator.
#[derive(Clone, Debug)]
pub struct StsOptions {
    pub access_key_id: String,
    pub access_key_secret: String,
    /// The longest lifetime of issued credentials, whatever `DurationSeconds` asks (a short one lets a
    /// test see credentials expire during an apply); `None`: as asked.
    pub max_lifetime: Option<Duration>,
}

/// A running emulator; [`StsEmulator::shutdown`] stops it.
pub struct StsEmulator {
    local_addr: SocketAddr,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    server: JoinHandle<std::io::Result<()>>,
}

struct Shared {
    verifier: Verifier,
    opts: StsOptions,
    account_id: String,
    issued: AtomicUsize,
}

impl fmt::Debug for StsEmulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StsEmulator").field("endpoint", &self.endpoint()).finish_non_exhaustive()
    }
}

/// Starting the emulator failed.
#[derive(Debug, thiserror::Error)]
#[error("STS emulator: {0}")]
pub struct StsStartError(String);

/// Starts the emulator on `listener`.
pub async fn start(
    listener: tokio::net::TcpListener,
    opts: StsOptions,
) -> Result<StsEmulator, StsStartError> {
    let local_addr = listener.local_addr().map_err(|e| StsStartError(e.to_string()))?;
    let shared = Arc::new(Shared {
        verifier: Verifier::new(opts.access_key_id.clone(), opts.access_key_secret.clone()),
        account_id: roles::account_id(&opts.access_key_id),
        opts,
        issued: AtomicUsize::new(0),
    });
    let app = axum::Router::new().fallback(handle).with_state(Arc::clone(&shared));
    let (stop, server) = acs_api::serve_until_stopped(listener, app);
    Ok(StsEmulator { local_addr, shared, stop, server })
}

impl StsEmulator {
    /// `http://127.0.0.1:PORT`, for `sts_endpoint` / `ALIBABA_CLOUD_STS_ENDPOINT`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.local_addr)
    }

    /// The emulated account's id (in its role ARNs).
    pub fn account_id(&self) -> &str {
        &self.shared.account_id
    }

    /// How many sets of credentials it has issued.
    pub fn issued(&self) -> usize {
        self.shared.issued.load(Ordering::SeqCst)
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
    let (status, body) = match serve(&shared, &method, &uri, &headers, &body) {
        Ok(mut fields) => {
            shared.issued.fetch_add(1, Ordering::SeqCst);
            fields["RequestId"] = request_id.clone().into();
            (StatusCode::OK, fields)
        }
        Err(e) => (
            StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            serde_json::json!({
                "RequestId": request_id,
                "HostId": "sts.aliyuncs.com",
                "Code": e.code,
                "Message": e.message,
                "Recommend": format!("https://api.alibabacloud.com/troubleshoot?q={}&product=Sts&requestId={request_id}", e.code),
            }),
        ),
    };
    acs_api::json_reply(status, &body, None)
}

/// Order of checks: method → action and version → signature (AssumeRole) → parameters → the role.
fn serve(
    shared: &Shared,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<serde_json::Value, RoleError> {
    if method != Method::GET && method != Method::POST {
        return Err(RoleError::unsupported_method(method));
    }
    let req = wire_request(method, uri, headers, body);
    let action = req.header("x-acs-action").or_else(|| req.param("Action"));
    let version = req.header("x-acs-version").or_else(|| req.param("Version"));
    let action = action.ok_or_else(|| RoleError::missing("Action"))?;
    if version != Some(API_VERSION) {
        return Err(RoleError::new(
            400,
            "InvalidVersion",
            format!(
                "Specified parameter Version is not valid: {} (STS speaks {API_VERSION}).",
                version.unwrap_or("")
            ),
        ));
    }
    let now_ms = now_unix_ms();
    let caller = match action {
        "AssumeRole" => {
            let scheme = Scheme::of(&req).map_err(RoleError::from)?;
            shared.verifier.verify(&req, scheme, now_ms).map_err(RoleError::from)?;
            let ak = match scheme {
                Scheme::V3 => meshform_acs::parse_authorization_v3(
                    req.header("authorization").unwrap_or_default(),
                )
                .map(|a| a.access_key_id)
                .unwrap_or_default(),
                Scheme::V2 => req.param("AccessKeyId").unwrap_or_default().to_owned(),
            };
            Caller::AccessKey(ak)
        }
        "AssumeRoleWithOIDC" => {
            let token = req.param("OIDCToken").ok_or_else(|| RoleError::missing("OIDCToken"))?;
            let provider = req
                .param("OIDCProviderArn")
                .ok_or_else(|| RoleError::missing("OIDCProviderArn"))?;
            Caller::Oidc { provider_arn: provider.to_owned(), token: token.to_owned() }
        }
        other => {
            return Err(RoleError::action_not_found(other));
        }
    };
    let param = |name: &str| req.param(name).map(str::to_owned);
    roles::assume(&shared.opts, &shared.account_id, &caller, &param, now_ms)
}

/// The identity services of the sandbox (`sandbox.json` `sts`): where STS is, and what a user of
/// each credential mode needs — the role to assume with the account's AccessKey, and for RRSA the
/// OIDC provider, the role it may assume and a service-account token file.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct StsDescription {
    pub endpoint: String,
    pub account_id: String,
    /// [`roles::OPERATOR_ROLE`]'s ARN (trusts the account).
    pub role_arn: String,
    /// [`roles::CI_ROLE`]'s ARN (trusts the OIDC provider).
    pub oidc_role_arn: String,
    pub oidc_provider_arn: String,
    /// A token of the sandbox's RRSA issuer, valid a day from the sandbox's start.
    pub oidc_token_file: String,
}

/// The emulated ECS instance metadata service (`sandbox.json` `metadata`).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct MetadataDescription {
    pub endpoint: String,
    pub role_name: String,
}

/// Starts STS and the instance metadata service for the account, writes the RRSA token file in
/// `dir`, and describes them.
pub async fn start_identity_services(
    dir: &std::path::Path,
    access_key_id: &str,
    access_key_secret: &str,
) -> Result<
    (StsEmulator, crate::metadata::MetadataService, StsDescription, MetadataDescription),
    StsStartError,
> {
    let err = |e: std::io::Error| StsStartError(e.to_string());
    let sts = start(
        tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(err)?,
        StsOptions {
            access_key_id: access_key_id.to_owned(),
            access_key_secret: access_key_secret.to_owned(),
            max_lifetime: None,
        },
    )
    .await?;
    let metadata = crate::metadata::start(
        tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(err)?,
        crate::metadata::MetadataOptions::new(access_key_id, access_key_secret),
    )
    .await
    .map_err(err)?;
    let token_file = dir.join("rrsa").join("token");
    let now_s = now_unix_ms() / 1000;
    let token = oidc::token(
        access_key_secret,
        "system:serviceaccount:default:meshform-ci",
        now_s,
        now_s + 86400,
    );
    std::fs::create_dir_all(dir.join("rrsa")).map_err(err)?;
    meshform_core::fsio::write_atomic(&token_file, token.as_bytes(), Some(0o600)).map_err(err)?;
    let account = sts.account_id().to_owned();
    let description = StsDescription {
        endpoint: sts.endpoint(),
        role_arn: roles::role_arn(&account, roles::OPERATOR_ROLE),
        oidc_role_arn: roles::role_arn(&account, roles::CI_ROLE),
        oidc_provider_arn: oidc::provider_arn(&account),
        oidc_token_file: token_file.display().to_string(),
        account_id: account,
    };
    let md = MetadataDescription {
        endpoint: metadata.endpoint(),
        role_name: roles::ECS_ROLE.to_owned(),
    };
    Ok((sts, metadata, description, md))
}
