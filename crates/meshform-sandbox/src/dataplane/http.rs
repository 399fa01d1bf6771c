//! The HTTP/1.1 messages of the data plane: what `curl` sends, what crosses the mTLS hop as bytes
//! (written and parsed here), what the applications answer, and Envoy's local replies.

use std::time::SystemTime;

/// A request as a client sends it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpRequest {
    pub method: String,
    /// The path with its query (`/hello`).
    pub path: String,
    /// Header fields in order, `Host` first.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl HttpRequest {
    /// The value of a header (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }

    /// The request line (`GET /hello HTTP/1.1`).
    pub fn request_line(&self) -> String {
        format!("{} {} HTTP/1.1", self.method, self.path)
    }

    /// The bytes on the wire.
    pub fn to_wire(&self) -> String {
        let mut s = self.request_line();
        s.push_str("\r\n");
        for (k, v) in &self.headers {
            s.push_str(&format!("{k}: {v}\r\n"));
        }
        s.push_str("\r\n");
        s.push_str(&self.body);
        s
    }

    /// Parses what [`HttpRequest::to_wire`] wrote; `None` for anything else.
    pub fn parse(wire: &str) -> Option<HttpRequest> {
        let (head, body) = wire.split_once("\r\n\r\n")?;
        let mut lines = head.split("\r\n");
        let mut first = lines.next()?.split(' ');
        let (method, path) = (first.next()?.to_owned(), first.next()?.to_owned());
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
            .collect();
        Some(HttpRequest { method, path, headers, body: body.to_owned() })
    }
}

/// A response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: u16,
    /// Header fields in order.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl HttpResponse {
    /// A response with `Content-Type` and `Content-Length` set.
    pub fn new(status: u16, content_type: &str, body: impl Into<String>) -> HttpResponse {
        let body = body.into();
        HttpResponse {
            status,
            headers: vec![
                ("content-type".into(), content_type.into()),
                ("content-length".into(), body.len().to_string()),
            ],
            body,
        }
    }

    /// The value of a header (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }

    /// Sets a header, replacing any of the same name.
    pub fn set_header(&mut self, name: &str, value: impl Into<String>) {
        self.headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
        self.headers.push((name.to_owned(), value.into()));
    }

    /// The status line (`HTTP/1.1 200 OK`).
    pub fn status_line(&self) -> String {
        format!("HTTP/1.1 {} {}", self.status, reason(self.status))
    }

    /// The status line and headers, each line ending in CRLF, then the empty line.
    pub fn head(&self) -> String {
        let mut s = self.status_line();
        s.push_str("\r\n");
        for (k, v) in &self.headers {
            s.push_str(&format!("{k}: {v}\r\n"));
        }
        s.push_str("\r\n");
        s
    }

    /// The bytes on the wire.
    pub fn to_wire(&self) -> String {
        format!("{}{}", self.head(), self.body)
    }

    /// Parses what [`HttpResponse::to_wire`] wrote; `None` for anything else.
    pub fn parse(wire: &str) -> Option<HttpResponse> {
        let (head, body) = wire.split_once("\r\n\r\n")?;
        let mut lines = head.split("\r\n");
        let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
            .collect();
        Some(HttpResponse { status, headers, body: body.to_owned() })
    }

    /// What a client sees of an application's answer through the sidecars (Envoy's HTTP/1.1
    /// codec): header names in lower case, `server: envoy`, and the upstream's service time.
    pub fn through_envoy(mut self, service_time_ms: u128) -> HttpResponse {
        for (k, _) in &mut self.headers {
            k.make_ascii_lowercase();
        }
        self.set_header("server", "envoy");
        self.set_header("x-envoy-upstream-service-time", service_time_ms.to_string());
        self
    }
}

/// Envoy's local reply (reference §4): plain text, `server: envoy`.
pub fn envoy_local_reply(status: u16, body: impl Into<String>) -> HttpResponse {
    let mut r = HttpResponse::new(status, "text/plain", body);
    r.set_header("date", http_date(SystemTime::now()));
    r.set_header("server", "envoy");
    r
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

/// The reason phrase of a status code.
pub fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        418 => "I'm a Teapot",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Unknown",
    }
}

/// An HTTP date (`Tue, 15 Nov 1994 08:12:31 GMT`).
pub fn http_date(t: SystemTime) -> String {
    let secs = t.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let format = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    i64::try_from(secs)
        .ok()
        .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok())
        .and_then(|d| d.format(format).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_survive_the_wire() {
        let req = HttpRequest {
            method: "GET".into(),
            path: "/headers".into(),
            headers: vec![("Host".into(), "httpbin:8000".into()), ("X-A".into(), "b: c".into())],
            body: String::new(),
        };
        assert_eq!(HttpRequest::parse(&req.to_wire()), Some(req.clone()));
        assert_eq!(req.header("x-a"), Some("b: c"));
        let resp = HttpResponse::new(404, "text/html", "<h1>Not Found</h1>\n");
        assert_eq!(HttpResponse::parse(&resp.to_wire()), Some(resp.clone()));
        assert_eq!(resp.status_line(), "HTTP/1.1 404 Not Found");
        assert_eq!(HttpResponse::parse("garbage"), None);
        let through = resp.through_envoy(3);
        assert_eq!(through.header("server"), Some("envoy"));
        assert_eq!(through.header("x-envoy-upstream-service-time"), Some("3"));
    }

    #[test]
    fn dates_are_http_dates() {
        let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(784_887_151);
        assert_eq!(http_date(t), "Tue, 15 Nov 1994 08:12:31 GMT");
    }
}
