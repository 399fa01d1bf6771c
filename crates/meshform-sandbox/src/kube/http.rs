//! HTTP plumbing: response bodies, JSON and `Status` responses, query strings, request bodies
//! (JSON, or YAML for apply patches) with a size limit.

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::{combinators::BoxBody, BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderMap, HeaderValue, CONTENT_TYPE};
use hyper::{Response, StatusCode};
use serde_json::Value;

use super::status::ApiError;

/// The response body type of every handler.
pub type Body = BoxBody<Bytes, Infallible>;

/// The largest request body accepted (the real server's limit is 3 MiB).
pub const MAX_BODY: usize = 3 * 1024 * 1024;

/// A complete body.
pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).boxed()
}

/// A JSON response.
pub fn json(code: u16, v: &Value) -> Response<Body> {
    let mut bytes = serde_json::to_vec(v).unwrap_or_default();
    bytes.push(b'\n');
    with_type(code, "application/json", bytes)
}

/// A response with a content type.
pub fn with_type(code: u16, content_type: &'static str, bytes: impl Into<Bytes>) -> Response<Body> {
    let mut r = Response::new(full(bytes));
    *r.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

/// A `Status` error response.
pub fn error(e: &ApiError) -> Response<Body> {
    json(e.code, &e.to_status())
}

/// Parsed query parameters.
#[derive(Debug, Clone, Default)]
pub struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    /// Parse a raw query string.
    pub fn parse(q: Option<&str>) -> Self {
        let pairs = q
            .map(|q| {
                form_urlencoded::parse(q.as_bytes())
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect()
            })
            .unwrap_or_default();
        Query { pairs }
    }

    /// The first value of a parameter.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// Every value of a parameter.
    pub fn all(&self, name: &str) -> Vec<String> {
        self.pairs.iter().filter(|(k, _)| k == name).map(|(_, v)| v.clone()).collect()
    }

    /// A boolean parameter (`true`, `1`).
    pub fn flag(&self, name: &str) -> bool {
        matches!(self.get(name), Some("true" | "1" | "True"))
    }

    /// `dryRun=All` → true; absent → false; anything else is a 400.
    pub fn dry_run(&self) -> Result<bool, ApiError> {
        match self.all("dryRun").as_slice() {
            [] => Ok(false),
            [v] if v == "All" => Ok(true),
            [v] if v.is_empty() => Ok(false),
            other => Err(ApiError::bad_request(format!(
                "dryRun: Unsupported value: {:?}: supported values: \"All\"",
                other.join(",")
            ))),
        }
    }
}

/// Read a request body, at most [`MAX_BODY`] bytes.
pub async fn read_body(body: Incoming) -> Result<Bytes, ApiError> {
    match Limited::new(body, MAX_BODY).collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            Err(ApiError::too_large("the request body is larger than 3 MiB"))
        }
        Err(e) => Err(ApiError::bad_request(format!("reading the request body failed: {e}"))),
    }
}

/// The media type of a request, without parameters (`application/json`).
pub fn content_type(headers: &HeaderMap) -> String {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
        .unwrap_or_default()
}

/// Decode a body as JSON, or as YAML for YAML media types.
pub fn decode(bytes: &[u8], media: &str) -> Result<Value, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request("the request body is empty; an object was expected"));
    }
    // Protobuf and CBOR bodies are refused with 415; client-go then retries with JSON.
    if media.contains("protobuf") || media.contains("cbor") {
        return Err(ApiError::unsupported_media_type(media));
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(v) => Ok(v),
        Err(json_err) if media.contains("yaml") => {
            let text = std::str::from_utf8(bytes)
                .map_err(|_| ApiError::bad_request("the request body is not UTF-8"))?;
            meshform_core::yaml::kubernetes_document(text).map_err(|e| {
                ApiError::bad_request(format!("error decoding YAML: {e} (as JSON: {json_err})"))
            })
        }
        Err(e) => {
            Err(ApiError::bad_request(format!("error decoding the request body as JSON: {e}")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_bodies_decode_for_yaml_media_types_only() {
        let yaml =
            b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-yaml\ndata:\n  key: value\n";
        let v = decode(yaml, "application/apply-patch+yaml").unwrap();
        assert_eq!(v["metadata"]["name"], "from-yaml", "{v}");
        assert_eq!(v["data"]["key"], "value");
        assert_eq!(decode(yaml, "application/json").unwrap_err().code, 400);
    }
}
