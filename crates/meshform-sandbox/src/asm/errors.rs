//! Errors of the ASM emulator: [`AsmError`] for starting, persisting and stopping it, and
//! [`ApiError`], an error the emulated API returns on the wire (an HTTP status and the JSON body
//! `{RequestId, HostId, Code, Message, Recommend}` that Alibaba Cloud's gateway sends).
//!
//! Where the reference names a code, the emulator uses it. Where it is silent, the choice is
//! documented at the constructor.

use std::path::PathBuf;

/// Starting, persisting or stopping the emulator failed.
#[derive(Debug, thiserror::Error)]
pub enum AsmError {
    #[error("ASM emulator: {context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("ASM emulator: state file {path} is not a valid emulator state: {message}; move it away to start empty")]
    StateFile { path: PathBuf, message: String },
    #[error("ASM emulator: invalid options: {0}")]
    Options(String),
}

impl AsmError {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        AsmError::Io { context: context.into(), source }
    }
}

/// The host name the real gateway reports in `HostId`.
pub(crate) const HOST_ID: &str = "servicemesh.aliyuncs.com";

/// An error response of the emulated API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ApiError {
    pub status: u16,
    pub code: String,
    pub message: String,
    /// Extra response headers (the throttling headers).
    pub headers: Vec<(&'static str, String)>,
}

impl ApiError {
    pub fn new(status: u16, code: &str, message: impl Into<String>) -> Self {
        ApiError { status, code: code.to_owned(), message: message.into(), headers: Vec::new() }
    }

    pub fn with_header(mut self, name: &'static str, value: String) -> Self {
        self.headers.push((name, value));
        self
    }

    /// The JSON body, as the gateway writes it.
    pub fn body(&self, request_id: &str) -> serde_json::Value {
        serde_json::json!({
            "RequestId": request_id,
            "HostId": HOST_ID,
            "Code": self.code,
            "Message": self.message,
            "Recommend": format!(
                "https://api.alibabacloud.com/troubleshoot?q={}&product=servicemesh&requestId={request_id}",
                self.code
            ),
        })
    }

    // ---- gateway errors -------------------------------------------------------------------

    pub fn missing_parameter(name: &str) -> Self {
        Self::new(400, "MissingParameter", format!("The input parameter \"{name}\" that is mandatory for processing this request is not supplied."))
    }

    pub fn invalid_parameter(message: impl Into<String>) -> Self {
        Self::new(400, "InvalidParameter", message)
    }

    pub fn invalid_version(version: &str) -> Self {
        Self::new(
            400,
            "InvalidVersion",
            format!("Specified parameter Version \"{version}\" is not valid; this service speaks 2020-01-11."),
        )
    }

    pub fn unknown_action(action: &str) -> Self {
        Self::new(
            404,
            "InvalidAction.NotFound",
            format!("Specified api \"{action}\" is not found, please check your url and method."),
        )
    }

    /// A request that carries no signature, or a malformed one (the gateway's code for it).
    pub fn incomplete_signature(what: impl Into<String>) -> Self {
        Self::new(
            400,
            "IncompleteSignature",
            format!("The request signature does not conform to Aliyun standards: {}", what.into()),
        )
    }

    pub fn access_key_not_found() -> Self {
        Self::new(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
    }

    pub fn signature_mismatch(detail: impl Into<String>) -> Self {
        Self::new(400, "SignatureDoesNotMatch", detail)
    }

    pub fn timestamp_expired(value: &str) -> Self {
        Self::new(
            400,
            "InvalidTimeStamp.Expired",
            format!("Specified time stamp or date value \"{value}\" is expired: it must be within 15 minutes of the server's clock (UTC)."),
        )
    }

    pub fn timestamp_format(value: &str) -> Self {
        Self::new(
            400,
            "InvalidTimeStamp.Format",
            format!("Specified time stamp or date value \"{value}\" is not well formatted; use YYYY-MM-DDThh:mm:ssZ (UTC)."),
        )
    }

    pub fn nonce_used() -> Self {
        Self::new(400, "SignatureNonceUsed", "Specified signature nonce was used already.")
    }

    /// The emulator knows no STS tokens: every security token is refused.
    pub fn security_token_expired() -> Self {
        Self::new(400, "InvalidSecurityToken.Expired", "Specified SecurityToken is expired.")
    }

    pub fn throttled() -> Self {
        Self::new(429, "Throttling.User", "Request was denied due to user flow control.")
    }

    pub fn service_unavailable() -> Self {
        Self::new(
            503,
            "ServiceUnavailable",
            "The request has failed due to a temporary failure of the server.",
        )
    }

    pub fn internal_error(detail: impl Into<String>) -> Self {
        Self::new(
            500,
            "InternalError",
            format!(
                "The request processing has failed due to some unknown error, exception or failure. ({})",
                detail.into()
            ),
        )
    }

    pub fn unsupported_method(method: &str) -> Self {
        Self::new(
            400,
            "UnsupportedHTTPMethod",
            format!("HTTP method {method} is not supported; use GET or POST."),
        )
    }

    // ---- ASM errors -----------------------------------------------------------------------

    pub fn mesh_not_found(id: &str) -> Self {
        Self::new(404, "ServiceMesh.NotFound", format!("The service mesh {id} does not exist."))
    }

    /// A cluster the account does not have. The reference is silent; ASM's generic not-found code
    /// `ERR404` is used, distinct from `ServiceMesh.NotFound`.
    pub fn cluster_not_found(id: &str) -> Self {
        Self::new(404, "ERR404", format!("The cluster {id} does not exist in this account."))
    }

    /// Removing a cluster that is not a member: `ERR404` too, so a retried remove can treat it as
    /// done.
    pub fn not_a_member(cluster: &str, mesh: &str) -> Self {
        Self::new(
            404,
            "ERR404",
            format!("The cluster {cluster} is not a member of service mesh {mesh}."),
        )
    }

    pub fn name_already_exists(name: &str, region: &str) -> Self {
        Self::new(
            400,
            "NameAlreadyExist",
            format!("A service mesh named \"{name}\" already exists in region {region}; choose another name."),
        )
    }

    /// Adding a cluster that is already a member. The reference is silent; the code mirrors
    /// `NameAlreadyExist`.
    pub fn cluster_already_member(cluster: &str, mesh: &str) -> Self {
        Self::new(
            400,
            "ClusterAlreadyExist",
            format!("The cluster {cluster} is already a member of service mesh {mesh}."),
        )
    }

    /// Adding a cluster as a managed member when another mesh already manages it (that mesh's
    /// `istio-system` is there).
    pub fn cluster_managed_elsewhere(cluster: &str, other: &str) -> Self {
        Self::new(
            400,
            "RelatedResourceReused",
            format!("The cluster {cluster} is already managed by service mesh {other}; add it for service discovery only, or remove it from {other} first."),
        )
    }

    /// A mutation on a mesh that is not `running`. The reference only says "InvalidActiveState-style";
    /// this is the code the emulator uses.
    pub fn not_running(mesh: &str, state: &str) -> Self {
        Self::new(
            400,
            "InvalidActiveState.ServiceMesh",
            format!("The service mesh {mesh} is in state \"{state}\"; retry when it is running."),
        )
    }

    pub fn still_initializing(mesh: &str) -> Self {
        Self::new(
            400,
            "StillInitializing",
            format!("The service mesh {mesh} is still initializing; retry the deletion when it is running."),
        )
    }
}

/// A refusal of the verifier (`super::auth`), as the error of another emulated API (KMS, STS).
impl From<ApiError> for crate::acs_api::AcsError {
    fn from(e: ApiError) -> Self {
        crate::acs_api::AcsError::new(e.status, &e.code, e.message)
    }
}
