//! A small HTTP/1.1 client over `tokio::net::TcpStream` that signs like Alibaba Cloud's SDKs
//! (V3 and V2, with `meshform-acs`), plus the test fixtures: an account with two clusters in two
//! regions, and an emulator started on a free loopback port.

use std::path::Path;
use std::time::Duration;

use meshform_acs as acs;
use meshform_sandbox::asm::{self, Account, AsmEmulator, AsmOptions, EmulatedCluster};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub const KEY_ID: &str = "LTAI5tSandboxKeyId01";
pub const SECRET: &str = "sandbox-secret-0123456789abcdef";

pub fn account() -> Account {
    let cluster = |n: u8, region: &str| EmulatedCluster {
        id: format!("c{n}0f45444b3da447da60a911390c2a9e{n}"),
        name: format!("cluster-{n}"),
        region: region.into(),
        vpc_id: format!("vpc-sandbox{n}"),
        vswitch_id: format!("vsw-sandbox{n}"),
    };
    Account {
        access_key_id: KEY_ID.into(),
        access_key_secret: SECRET.into(),
        clusters: vec![cluster(1, "cn-hangzhou"), cluster(2, "cn-shanghai")],
    }
}

/// Starts an emulator on `127.0.0.1:0` with `state_file` and `delay` transitions.
pub async fn start(state_file: &Path, delay: Duration) -> AsmEmulator {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
    let opts = AsmOptions { transition_delay: delay, ..AsmOptions::new(state_file) };
    asm::start(listener, account(), opts).await.expect("the emulator starts")
}

/// A request ready to send; tests may tamper with it after signing.
#[derive(Clone, Debug)]
pub struct RawRequest {
    pub method: String,
    /// Path and query.
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawRequest {
    pub fn set_header(&mut self, name: &str, value: &str) {
        self.headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
        self.headers.push((name.to_owned(), value.to_owned()));
    }
}

#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Value,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
    pub fn code(&self) -> &str {
        self.body["Code"].as_str().unwrap_or_default()
    }
}

pub fn now_timestamp(offset_secs: i64) -> String {
    let format =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    (time::OffsetDateTime::now_utc() + time::Duration::seconds(offset_secs))
        .format(format)
        .expect("formattable")
}

pub fn nonce() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
    p.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

/// Signs and sends requests to one emulator.
#[derive(Clone, Debug)]
pub struct Client {
    pub host: String,
    pub key_id: String,
    pub secret: String,
    /// Sign every header, as the official Python SDK does (`accept` included), instead of only
    /// `host`, `content-type` and `x-acs-*`.
    pub sign_every_header: bool,
}

impl Client {
    pub fn new(emu: &AsmEmulator) -> Self {
        Client {
            host: emu.local_addr().to_string(),
            key_id: KEY_ID.into(),
            secret: SECRET.into(),
            sign_every_header: false,
        }
    }

    /// A V3-signed POST with the parameters in a form body.
    pub fn v3(&self, action: &str, form: &[(&str, &str)]) -> RawRequest {
        self.v3_request("POST", action, &[], form, &now_timestamp(0), &nonce())
    }

    /// A V3-signed request (`query` in the URL, `form` as the body when not empty).
    pub fn v3_request(
        &self,
        method: &str,
        action: &str,
        query: &[(&str, &str)],
        form: &[(&str, &str)],
        date: &str,
        nonce: &str,
    ) -> RawRequest {
        let (query, form) = (pairs(query), pairs(form));
        let body = if form.is_empty() { String::new() } else { acs::encode_form(&form) };
        let mut headers = pairs(&[
            ("host", &self.host),
            ("x-acs-action", action),
            ("x-acs-version", "2020-01-11"),
            ("x-acs-date", date),
            ("x-acs-signature-nonce", nonce),
            ("x-acs-content-sha256", &acs::sha256_hex(body.as_bytes())),
            ("accept", "application/json"),
        ]);
        if !form.is_empty() {
            headers.push(("content-type".into(), "application/x-www-form-urlencoded".into()));
        }
        let signed = if self.sign_every_header {
            headers.iter().map(|(k, _)| k.clone()).collect()
        } else {
            acs::default_signed_headers(&headers)
        };
        let hashed = acs::sha256_hex(body.as_bytes());
        let (canonical, signed_names) =
            acs::canonical_request(method, "/", &query, &headers, &signed, &hashed);
        let signature = acs::sign_v3(&self.secret, &acs::string_to_sign_v3(&canonical));
        headers.push((
            "authorization".into(),
            acs::authorization_v3(&self.key_id, &signed_names, &signature),
        ));
        RawRequest {
            method: method.into(),
            target: target(&query),
            headers,
            body: body.into_bytes(),
        }
    }

    /// A V2-signed GET with every parameter in the query.
    pub fn v2_get(&self, action: &str, params: &[(&str, &str)]) -> RawRequest {
        let mut all = pairs(params);
        all.extend(pairs(&[
            ("Action", action),
            ("Version", "2020-01-11"),
            ("Format", "JSON"),
            ("AccessKeyId", &self.key_id),
            ("SignatureMethod", "HMAC-SHA1"),
            ("SignatureVersion", "1.0"),
            ("SignatureNonce", &nonce()),
            ("Timestamp", &now_timestamp(0)),
        ]));
        let signature = acs::sign_v2(&self.secret, &acs::string_to_sign_v2("GET", &all));
        all.push(("Signature".into(), signature));
        RawRequest {
            method: "GET".into(),
            target: target(&all),
            headers: pairs(&[("host", &self.host)]),
            body: Vec::new(),
        }
    }

    pub async fn call(&self, action: &str, form: &[(&str, &str)]) -> Reply {
        self.send(&self.v3(action, form)).await
    }

    /// Calls and expects HTTP 200.
    pub async fn ok(&self, action: &str, form: &[(&str, &str)]) -> Value {
        let reply = self.call(action, form).await;
        assert_eq!(reply.status, 200, "{action} failed: {:?}", reply.body);
        reply.body
    }

    pub async fn send(&self, req: &RawRequest) -> Reply {
        send(&self.host, req).await
    }

    /// Polls `DescribeServiceMeshDetail` until the mesh reaches `state` (10 s at most).
    pub async fn wait_state(&self, mesh: &str, state: &str) -> Value {
        for _ in 0..200 {
            let detail = self.ok("DescribeServiceMeshDetail", &[("ServiceMeshId", mesh)]).await;
            if detail["ServiceMesh"]["ServiceMeshInfo"]["State"] == state {
                return detail;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("mesh {mesh} did not reach {state}");
    }
}

fn target(query: &[(String, String)]) -> String {
    if query.is_empty() {
        "/".into()
    } else {
        format!("/?{}", acs::encode_form(query))
    }
}

/// One request per connection (`connection: close`).
pub async fn send(host: &str, req: &RawRequest) -> Reply {
    let mut stream = tokio::net::TcpStream::connect(host).await.expect("connect to the emulator");
    let mut head = format!("{} {} HTTP/1.1\r\n", req.method, req.target);
    for (k, v) in &req.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!("content-length: {}\r\nconnection: close\r\n\r\n", req.body.len()));
    stream.write_all(head.as_bytes()).await.expect("write");
    stream.write_all(&req.body).await.expect("write");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.expect("read");
    parse_response(&raw)
}

fn parse_response(raw: &[u8]) -> Reply {
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("a response head");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("a status");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    if headers.iter().any(|(k, v)| k == "transfer-encoding" && v.contains("chunked")) {
        body = dechunk(&body);
    }
    let body = serde_json::from_slice(&body).unwrap_or_else(|e| {
        panic!("the body is not JSON ({e}): {}", String::from_utf8_lossy(&body))
    });
    Reply { status, headers, body }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(line_end) = data.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(String::from_utf8_lossy(&data[..line_end]).trim(), 16)
            .expect("a chunk size");
        if size == 0 {
            break;
        }
        let start = line_end + 2;
        out.extend_from_slice(&data[start..start + size]);
        data = &data[start + size + 2..];
    }
    out
}
