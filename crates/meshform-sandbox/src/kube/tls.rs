//! The cluster's TLS identity: a self-signed CA made at first start and kept in the state
//! directory, a server certificate for `127.0.0.1` and `localhost` signed by it at each start, and
//! the bearer token clients must present.

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use super::persist::{atomic_write, read_optional};

/// What the server and its kubeconfig need.
pub struct Identity {
    /// The CA certificate (PEM), for `certificate-authority-data`.
    pub ca_pem: String,
    /// The bearer token.
    pub token: String,
    /// The rustls configuration (HTTP/1.1 only: websocket exec and watch framing rely on it).
    pub server_config: Arc<rustls::ServerConfig>,
}

const CA_CERT: &str = "ca.crt";
const CA_KEY: &str = "ca.key";
const TOKEN: &str = "token";

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// Load the CA and token from `dir`, making them on first start, and issue a server certificate.
pub fn load_or_create(dir: &Path, cluster: &str) -> Result<Identity, String> {
    let (ca_pem, ca_key_pem) =
        match (read_optional(&dir.join(CA_CERT)), read_optional(&dir.join(CA_KEY))) {
            (Ok(Some(c)), Ok(Some(k))) => (c, k),
            (Err(e), _) | (_, Err(e)) => return Err(format!("reading the CA: {e}")),
            _ => {
                let (c, k) = new_ca(cluster)?;
                atomic_write(&dir.join(CA_KEY), k.as_bytes(), None).map_err(err)?;
                atomic_write(&dir.join(CA_CERT), c.as_bytes(), None).map_err(err)?;
                (c, k)
            }
        };
    let token = match read_optional(&dir.join(TOKEN)).map_err(err)? {
        Some(t) if !t.trim().is_empty() => t.trim().to_string(),
        _ => {
            let t = format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
            atomic_write(&dir.join(TOKEN), t.as_bytes(), None).map_err(err)?;
            t
        }
    };
    let ca_key =
        KeyPair::from_pem(&ca_key_pem).map_err(|e| format!("the CA key is not valid: {e}"))?;
    let issuer = Issuer::from_ca_cert_pem(&ca_pem, ca_key)
        .map_err(|e| format!("the CA certificate is not valid: {e}"))?;

    let mut params = CertificateParams::new(vec![
        "localhost".to_string(),
        "kubernetes".to_string(),
        "kubernetes.default".to_string(),
    ])
    .map_err(err)?;
    params.subject_alt_names.push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
    params.distinguished_name.push(DnType::CommonName, "kube-apiserver");
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::days(1);
    params.not_after = now + time::Duration::days(365);
    let key = KeyPair::generate().map_err(err)?;
    let cert = params.signed_by(&key, &issuer).map_err(err)?;

    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(err)?
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(cert.der().to_vec())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )
        .map_err(err)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Identity { ca_pem, token, server_config: Arc::new(config) })
}

fn new_ca(cluster: &str) -> Result<(String, String), String> {
    let mut params = CertificateParams::default();
    params.distinguished_name.push(DnType::CommonName, format!("{cluster}-ca"));
    params.distinguished_name.push(DnType::OrganizationName, "meshform sandbox");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::days(1);
    params.not_after = now + time::Duration::days(3650);
    let key = KeyPair::generate().map_err(err)?;
    let cert = params.self_signed(&key).map_err(err)?;
    Ok((cert.pem(), key.serialize_pem()))
}
