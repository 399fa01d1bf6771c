//! Test support: start an emulated cluster on 127.0.0.1:0 in a temporary directory, and a small
//! HTTPS client (hyper over rustls, trusting the cluster's CA) for REST calls, watches and exec.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use meshform_sandbox::kube::{self, ClusterOptions, KubeApiServer, Timing};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use serde_json::Value;
use tempfile::TempDir;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

/// Fast controllers for tests.
pub fn fast() -> Timing {
    Timing {
        pod_start_delay: Duration::from_millis(50),
        namespace_finalize_delay: Duration::from_millis(200),
    }
}

/// A cluster in its own temporary directory.
pub struct TestCluster {
    pub server: KubeApiServer,
    pub dir: TempDir,
    pub client: Client,
}

impl TestCluster {
    pub async fn start() -> TestCluster {
        let dir = tempfile::tempdir().expect("tempdir");
        let server = start_in(dir.path(), fast()).await;
        let client = Client::for_server(&server);
        TestCluster { server, dir, client }
    }
}

/// Start a cluster whose state lives in `dir`.
pub async fn start_in(dir: &Path, timing: Timing) -> KubeApiServer {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let mut opts = ClusterOptions::new("cluster-1", dir);
    opts.timing = timing;
    kube::start(listener, opts).await.expect("the cluster starts")
}

/// A response.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: hyper::HeaderMap,
    pub body: Bytes,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).to_string()
    }
}

/// An HTTPS client for one cluster.
#[derive(Clone)]
pub struct Client {
    pub addr: SocketAddr,
    pub token: String,
    connector: TlsConnector,
}

impl Client {
    pub fn for_server(server: &KubeApiServer) -> Client {
        let mut roots = rustls::RootCertStore::empty();
        let ca = CertificateDer::from_pem_slice(server.ca_pem().as_bytes()).expect("CA PEM");
        roots.add(ca).expect("CA accepted");
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("protocols")
            .with_root_certificates(roots)
            .with_no_client_auth();
        Client {
            addr: server.local_addr(),
            token: server.token().to_string(),
            connector: TlsConnector::from(Arc::new(config)),
        }
    }

    /// A TLS connection that verifies the server's certificate for 127.0.0.1.
    pub async fn connect(&self) -> TlsStream<TcpStream> {
        let tcp = TcpStream::connect(self.addr).await.expect("connect");
        let name = ServerName::try_from("127.0.0.1").expect("server name");
        self.connector.connect(name, tcp).await.expect("TLS handshake")
    }

    /// Send a request and return the response head with the streaming body.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> hyper::Response<Incoming> {
        let tls = self.connect().await;
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(TokioIo::new(tls)).await.expect("http handshake");
        tokio::spawn(conn);
        let mut b =
            Request::builder().method(method).uri(path).header("host", self.addr.to_string());
        let has_auth = headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("authorization"));
        if !has_auth {
            b = b.header("authorization", format!("Bearer {}", self.token));
        }
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        let req = b.body(Full::new(Bytes::from(body.unwrap_or_default()))).expect("request");
        sender.send_request(req).await.expect("response")
    }

    /// Send a request and read the whole response.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> Resp {
        let r = self.send(method, path, headers, body).await;
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let body = r.into_body().collect().await.expect("body").to_bytes();
        Resp { status, headers, body }
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.call(Method::GET, path, &[], None).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Resp {
        self.call(
            Method::POST,
            path,
            &[("content-type", "application/json")],
            Some(body.to_string().into_bytes()),
        )
        .await
    }

    pub async fn put(&self, path: &str, body: &Value) -> Resp {
        self.call(
            Method::PUT,
            path,
            &[("content-type", "application/json")],
            Some(body.to_string().into_bytes()),
        )
        .await
    }

    pub async fn patch(&self, path: &str, content_type: &str, body: &Value) -> Resp {
        self.call(
            Method::PATCH,
            path,
            &[("content-type", content_type)],
            Some(body.to_string().into_bytes()),
        )
        .await
    }

    /// Server-side apply as `manager`.
    pub async fn apply(&self, path: &str, manager: &str, force: bool, body: &Value) -> Resp {
        let p = format!("{path}?fieldManager={manager}&force={force}");
        self.patch(&p, "application/apply-patch+yaml", body).await
    }

    pub async fn delete(&self, path: &str, body: Option<&Value>) -> Resp {
        let body = body.map(|b| b.to_string().into_bytes());
        self.call(Method::DELETE, path, &[("content-type", "application/json")], body).await
    }

    /// Poll `path` until `pred` holds for the JSON body, or panic after `secs`.
    pub async fn wait_for(&self, path: &str, secs: u64, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        loop {
            let r = self.get(path).await;
            let v: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
            if pred(&v) {
                return v;
            }
            if tokio::time::Instant::now() > deadline {
                panic!("timed out waiting on {path}; last: {v}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// A watch stream read line by line.
pub struct Lines {
    body: Incoming,
    buf: Vec<u8>,
}

impl Lines {
    pub fn new(body: Incoming) -> Lines {
        Lines { body, buf: Vec::new() }
    }

    /// The next JSON line, or `None` when the stream ends or nothing comes within `secs`.
    pub async fn next(&mut self, secs: u64) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(i) = self.buf.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=i).collect();
                return Some(serde_json::from_slice(&line).expect("each line is one JSON object"));
            }
            let frame = tokio::time::timeout_at(deadline, self.body.frame()).await.ok()??.ok()?;
            if let Ok(data) = frame.into_data() {
                self.buf.extend_from_slice(&data);
            }
        }
    }
}
