//! The TLS server: a PostgreSQL started with `ssl = on`, a certificate chain generated for the test
//! process, and a `pg_hba.conf` that accepts TLS connections only.
//!
//! - The server's certificate is for `localhost` and `127.0.0.1`, signed by [`TlsServer::ca`]; a
//!   second, unrelated CA ([`TlsServer::other_ca`]) signed nothing the server has.
//! - `postgres` connects over TLS from loopback without a client certificate (trust).
//! - [`TlsServer::client_user`] must present a client certificate signed by the CA
//!   (`clientcert=verify-ca`): [`TlsServer::client_cert`] and [`TlsServer::client_key`].
//! - [`TlsServer::scram_user`] logs in with a password (SCRAM-SHA-256, which the server offers with
//!   channel binding over TLS).
//! - A connection without TLS finds no `pg_hba.conf` entry and is refused.

use std::path::PathBuf;
use std::sync::OnceLock;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose, SanType,
};

use crate::{bin_dir, or_skip, start, Extra, Server};

/// A running TLS server and the files a client needs to reach it.
#[derive(Debug)]
pub struct TlsServer {
    pub server: Server,
    /// The CA certificate (PEM) that signed the server's and the client's certificates.
    pub ca: PathBuf,
    /// A CA certificate (PEM) that signed neither.
    pub other_ca: PathBuf,
    /// A client certificate (PEM) for [`TlsServer::client_user`], signed by the CA.
    pub client_cert: PathBuf,
    /// Its private key (PKCS#8 PEM, mode 0600).
    pub client_key: PathBuf,
    /// A private key (PKCS#8 PEM, mode 0600) that belongs to no certificate.
    pub stray_key: PathBuf,
    /// The role that may log in only with a client certificate.
    pub client_user: &'static str,
    /// A role that logs in with a password, by SCRAM-SHA-256 (`-PLUS` with channel binding).
    pub scram_user: &'static str,
    pub scram_password: &'static str,
}

impl TlsServer {
    /// A libpq connection string for the superuser `postgres` on loopback, without any TLS setting.
    pub fn conn_str(&self) -> String {
        self.server.conn_str()
    }

    /// The server's port.
    pub fn port(&self) -> u16 {
        self.server.port
    }
}

/// [`tls_server`], or `None` after printing [`crate::skip_message`] to the test's output.
pub fn tls_server_or_skip() -> Option<&'static TlsServer> {
    or_skip(tls_server())
}

/// The test process's TLS server, started on first use; `None` when PostgreSQL is not installed.
pub fn tls_server() -> Option<&'static TlsServer> {
    static SERVER: OnceLock<Option<TlsServer>> = OnceLock::new();
    SERVER.get_or_init(|| bin_dir().map(|bin| start_tls(&bin))).as_ref()
}

const CLIENT_USER: &str = "mtls_client";
const SCRAM_USER: &str = "scram_client";
const SCRAM_PASSWORD: &str = "scram-test-password";

const HBA: &str = "\
local all all trust
hostssl all mtls_client 127.0.0.1/32 trust clientcert=verify-ca
hostssl all scram_client 127.0.0.1/32 scram-sha-256
hostssl all all 127.0.0.1/32 trust
";

fn start_tls(bin: &std::path::Path) -> TlsServer {
    let pki = Pki::generate();
    let extra = Extra {
        files: vec![
            ("ca.crt", pki.ca.clone(), false),
            ("other-ca.crt", pki.other_ca.clone(), false),
            ("server.crt", pki.server_cert.clone(), false),
            ("server.key", pki.server_key.clone(), true),
            ("client.crt", pki.client_cert.clone(), false),
            ("client.key", pki.client_key.clone(), true),
            ("stray.key", pki.stray_key.clone(), true),
            ("pg_hba.conf", HBA.to_owned(), false),
        ],
        options: "-c ssl=on -c ssl_cert_file=$dir/server.crt -c ssl_key_file=$dir/server.key \
                  -c ssl_ca_file=$dir/ca.crt -c hba_file=$dir/pg_hba.conf"
            .to_owned(),
        sql: format!(
            "CREATE ROLE {CLIENT_USER} LOGIN SUPERUSER; \
             CREATE ROLE {SCRAM_USER} LOGIN SUPERUSER PASSWORD '{SCRAM_PASSWORD}';"
        ),
    };
    let server = start(bin, &extra);
    let dir = server.dir.clone();
    TlsServer {
        server,
        ca: dir.join("ca.crt"),
        other_ca: dir.join("other-ca.crt"),
        client_cert: dir.join("client.crt"),
        client_key: dir.join("client.key"),
        stray_key: dir.join("stray.key"),
        client_user: CLIENT_USER,
        scram_user: SCRAM_USER,
        scram_password: SCRAM_PASSWORD,
    }
}

/// The certificates and keys, in PEM.
struct Pki {
    ca: String,
    other_ca: String,
    server_cert: String,
    server_key: String,
    client_cert: String,
    client_key: String,
    stray_key: String,
}

impl Pki {
    fn generate() -> Pki {
        let (ca, ca_issuer) = new_ca("meshform pgtest CA");
        let (other_ca, _) = new_ca("meshform pgtest unrelated CA");

        let mut server = CertificateParams::new(vec!["localhost".to_owned()]).unwrap_or_else(fail);
        server.subject_alt_names.push(SanType::IpAddress(std::net::Ipv4Addr::LOCALHOST.into()));
        server.distinguished_name.push(DnType::CommonName, "localhost");
        let server_key = KeyPair::generate().unwrap_or_else(fail);
        let server_cert = server.signed_by(&server_key, &ca_issuer).unwrap_or_else(fail);

        // PostgreSQL maps a client certificate to a role by its CN.
        let mut client = CertificateParams::default();
        client.distinguished_name.push(DnType::CommonName, CLIENT_USER);
        let client_key = KeyPair::generate().unwrap_or_else(fail);
        let client_cert = client.signed_by(&client_key, &ca_issuer).unwrap_or_else(fail);

        Pki {
            ca,
            other_ca,
            server_cert: server_cert.pem(),
            server_key: server_key.serialize_pem(),
            client_cert: client_cert.pem(),
            client_key: client_key.serialize_pem(),
            stray_key: KeyPair::generate().unwrap_or_else(fail).serialize_pem(),
        }
    }
}

/// A self-signed CA: its certificate in PEM and an issuer for what it signs.
fn new_ca(name: &str) -> (String, Issuer<'static, KeyPair>) {
    let mut params = CertificateParams::default();
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::DigitalSignature];
    let key = KeyPair::generate().unwrap_or_else(fail);
    let cert = params.self_signed(&key).unwrap_or_else(fail);
    (cert.pem(), Issuer::new(params, key))
}

fn fail<T>(e: rcgen::Error) -> T {
    panic!("generating the test certificates: {e}")
}
