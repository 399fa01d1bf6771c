//! A ROA request signer (ACS3-HMAC-SHA256 over the path, as the official SDKs sign CS calls) and
//! a sandbox started in a temporary directory for the CS tests.

use meshform_acs as acs;
use meshform_sandbox::{Sandbox, SandboxOptions};

use crate::asm::client::{nonce, now_timestamp, send, RawRequest, Reply};

/// A started sandbox and its directory.
pub struct Started {
    pub sandbox: Sandbox,
    pub dir: tempfile::TempDir,
}

pub async fn sandbox() -> Started {
    sandbox_with(None).await
}

/// A sandbox of `clusters` clusters (`None`: the default).
pub async fn sandbox_with(clusters: Option<usize>) -> Started {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = SandboxOptions::new(dir.path());
    opts.clusters = clusters;
    let sandbox = Sandbox::start(opts).await.expect("the sandbox starts");
    Started { sandbox, dir }
}

impl Started {
    /// `127.0.0.1:PORT` of the CS endpoint.
    pub fn cs_host(&self) -> String {
        let d = self.sandbox.description();
        d.cs.as_ref()
            .expect("sandbox.json describes cs")
            .endpoint
            .trim_start_matches("http://")
            .to_owned()
    }

    pub fn signer(&self) -> Signer {
        Signer {
            host: self.cs_host(),
            key_id: self.sandbox.identity.access_key_id.clone(),
            secret: self.sandbox.identity.access_key_secret.clone(),
        }
    }

    pub async fn shutdown(self) {
        self.sandbox.shutdown().await;
    }
}

pub struct Signer {
    /// Where to connect, and the `host` header signed unless `get_as` names another.
    pub host: String,
    pub key_id: String,
    pub secret: String,
}

impl Signer {
    /// A signed `GET path?query`, with `host` as the Host header.
    pub fn request(
        &self,
        action: &str,
        path: &str,
        query: &[(&str, &str)],
        host: &str,
    ) -> RawRequest {
        let query: Vec<(String, String)> =
            query.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        let mut headers: Vec<(String, String)> = [
            ("host", host),
            ("x-acs-action", action),
            ("x-acs-version", "2015-12-15"),
            ("x-acs-date", &now_timestamp(0)),
            ("x-acs-signature-nonce", &nonce()),
            ("x-acs-content-sha256", &acs::sha256_hex(b"")),
            ("accept", "application/json"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        let signed = acs::default_signed_headers(&headers);
        let (canonical, names) =
            acs::canonical_request("GET", path, &query, &headers, &signed, &acs::sha256_hex(b""));
        let signature = acs::sign_v3(&self.secret, &acs::string_to_sign_v3(&canonical));
        headers.push((
            "authorization".into(),
            acs::authorization_v3(&self.key_id, &names, &signature),
        ));
        let target = if query.is_empty() {
            path.to_owned()
        } else {
            format!("{path}?{}", acs::encode_form(&query))
        };
        RawRequest { method: "GET".into(), target, headers, body: Vec::new() }
    }

    pub async fn get(&self, action: &str, path: &str, query: &[(&str, &str)]) -> Reply {
        send(&self.host, &self.request(action, path, query, &self.host)).await
    }
}
