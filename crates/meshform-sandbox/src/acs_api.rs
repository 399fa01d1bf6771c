//! What the loopback Alibaba Cloud API emulators (KMS, STS, CS, instance metadata) share: reading a
//! request as the verifier does (`crate::asm::auth::WireRequest`), request ids, the JSON reply with
//! `x-acs-request-id`, the error answer's status, code and message ([`AcsError`]), the clock, and
//! serving until stopped.

use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::asm::auth::WireRequest;

/// Milliseconds since the Unix epoch (0 before it, `i64::MAX` past it).
pub(crate) fn now_unix_ms() -> i64 {
    let since =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
}

/// A new request id, as Alibaba Cloud writes them (upper-case hyphenated UUID).
pub(crate) fn request_id() -> String {
    uuid::Uuid::new_v4().hyphenated().to_string().to_ascii_uppercase()
}

/// The request as the verifier reads it: query, form body (when form-encoded), lower-case headers.
pub(crate) fn wire_request(
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> WireRequest {
    let headers: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| {
            (k.as_str().to_ascii_lowercase(), String::from_utf8_lossy(v.as_bytes()).into_owned())
        })
        .collect();
    let is_form = headers.iter().any(|(k, v)| {
        k == "content-type"
            && v.trim().to_ascii_lowercase().starts_with("application/x-www-form-urlencoded")
    });
    let form =
        if is_form { meshform_acs::parse_form(&String::from_utf8_lossy(body)) } else { Vec::new() };
    WireRequest {
        method: method.as_str().to_owned(),
        path: uri.path().to_owned(),
        query: uri.query().map(meshform_acs::parse_form).unwrap_or_default(),
        form,
        headers,
        body: body.to_vec(),
    }
}

/// A JSON answer (`application/json;charset=utf-8`), carrying `request_id` in `x-acs-request-id`
/// when given.
pub(crate) fn json_reply(
    status: StatusCode,
    body: &serde_json::Value,
    request_id: Option<&str>,
) -> Response {
    let mut response = (status, body.to_string()).into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json;charset=utf-8"));
    if let Some(Ok(v)) = request_id.map(HeaderValue::from_str) {
        h.insert(HeaderName::from_static("x-acs-request-id"), v);
    }
    response
}

/// Serves `app` on `listener` until `true` is sent on the returned sender.
pub(crate) fn serve_until_stopped(
    listener: tokio::net::TcpListener,
    app: axum::Router,
) -> (watch::Sender<bool>, JoinHandle<std::io::Result<()>>) {
    let (stop, mut stopped) = watch::channel(false);
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stopped.wait_for(|s| *s).await;
            })
            .await
    });
    (stop, server)
}

/// An error answer of an emulated API: HTTP status, code and message (each API writes its body);
/// a signature the verifier refused converts into one (`From<ApiError>`, in `crate::asm::errors`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct AcsError {
    pub status: u16,
    pub code: String,
    pub message: String,
}

impl AcsError {
    pub fn new(status: u16, code: &str, message: impl Into<String>) -> AcsError {
        AcsError { status, code: code.to_owned(), message: message.into() }
    }

    pub fn missing(name: &str) -> AcsError {
        AcsError::new(
            400,
            "MissingParameter",
            format!(
                "The input parameter \"{name}\" that is mandatory for processing this request is \
                 not supplied."
            ),
        )
    }

    /// An RPC API's answer to a method other than GET or POST.
    pub fn unsupported_method(method: &Method) -> AcsError {
        AcsError::new(
            405,
            "UnsupportedHTTPMethod",
            format!("This http method {method} is not supported."),
        )
    }

    /// An RPC API's answer to an action it does not have.
    pub fn action_not_found(action: &str) -> AcsError {
        AcsError::new(
            404,
            "InvalidAction.NotFound",
            format!("Specified api {action} is not found, please check your url and method."),
        )
    }
}
