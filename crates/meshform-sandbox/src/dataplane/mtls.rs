//! Real mutual TLS between two workloads: each side gets a SPIFFE workload certificate issued by the
//! CA of the mesh that manages its cluster, and each verifies the other's chain against its own mesh's
//! root — meshes with different roots fail exactly as Envoy does (`CERTIFICATE_VERIFY_FAILED`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use meshform_core::sync::lock;
use rcgen::{
    CertificateParams, ExtendedKeyUsagePurpose, Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::asm::MeshCa;

/// A workload's identity: its certificate chain (leaf, then the mesh's chain) and key.
#[derive(Clone)]
pub struct WorkloadCert {
    pub chain: Vec<CertificateDer<'static>>,
    pub key_der: Vec<u8>,
    pub root: CertificateDer<'static>,
}

/// The certificates of a PEM bundle; bad PEM is an error naming `what`.
fn pem_certs(pem: &str, what: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let ders = meshform_core::pem::certificates(pem).map_err(|e| format!("{what}: {e}"))?;
    Ok(ders.into_iter().map(CertificateDer::from).collect())
}

/// Issues (and caches) workload certificates per mesh CA and SPIFFE identity.
#[derive(Default)]
pub struct WorkloadCa {
    cache: Mutex<HashMap<(String, String), WorkloadCert>>,
}

impl WorkloadCa {
    /// The certificate of `spiffe` issued by `ca` (a mesh's signing CA).
    pub fn issue(&self, ca: &MeshCa, spiffe: &str) -> Result<WorkloadCert, String> {
        let key = (ca.ca_cert_pem.clone(), spiffe.to_owned());
        if let Some(c) = lock(&self.cache).get(&key) {
            return Ok(c.clone());
        }
        let ca_key = KeyPair::from_pem(ca.ca_key_pem.expose())
            .map_err(|e| format!("the mesh CA key is unusable: {e}"))?;
        let issuer = Issuer::from_ca_cert_pem(&ca.ca_cert_pem, ca_key)
            .map_err(|e| format!("the mesh CA certificate is unusable: {e}"))?;
        let leaf_key = KeyPair::generate().map_err(|e| e.to_string())?;
        let mut p = CertificateParams::default();
        p.distinguished_name = rcgen::DistinguishedName::new();
        p.subject_alt_names = vec![SanType::URI(
            spiffe.to_owned().try_into().map_err(|_| format!("bad SPIFFE id {spiffe}"))?,
        )];
        p.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
        p.extended_key_usages =
            vec![ExtendedKeyUsagePurpose::ServerAuth, ExtendedKeyUsagePurpose::ClientAuth];
        let now = time::OffsetDateTime::now_utc();
        p.not_before = now - time::Duration::minutes(5);
        p.not_after = now + time::Duration::hours(24);
        p.use_authority_key_identifier_extension = true;
        let leaf = p.signed_by(&leaf_key, &issuer).map_err(|e| format!("issuing {spiffe}: {e}"))?;
        let mut chain = vec![leaf.der().clone()];
        let mesh_chain = pem_certs(&ca.cert_chain_pem, "the mesh's certificate chain")?;
        chain.extend(if mesh_chain.is_empty() {
            pem_certs(&ca.ca_cert_pem, "the mesh CA certificate")?
        } else {
            mesh_chain
        });
        let root = pem_certs(&ca.root_cert_pem, "the mesh's root certificate")?
            .into_iter()
            .next()
            .ok_or("the mesh has no root certificate")?;
        let cert = WorkloadCert { chain, key_der: leaf_key.serialize_der(), root };
        lock(&self.cache).insert(key, cert.clone());
        Ok(cert)
    }
}

fn roots(root: &CertificateDer<'static>) -> Result<Arc<RootCertStore>, String> {
    let mut store = RootCertStore::empty();
    store.add(root.clone()).map_err(|e| format!("bad root: {e}"))?;
    Ok(Arc::new(store))
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// Verifies the server the way Istio does: the chain against the mesh root, no host name (the
/// identity is the SPIFFE URI).
#[derive(Debug)]
struct SpiffeServerVerifier(Arc<dyn rustls::server::danger::ClientCertVerifier>);

impl rustls::client::danger::ServerCertVerifier for SpiffeServerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        now: UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        self.0.verify_client_cert(end_entity, intermediates, now)?;
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// Sends `request` from `client` to `server` over real mTLS on loopback; the server answers with
/// `answer(request)`: the bytes to write back, after the time the application takes. Returns the
/// answer, or the TLS error as Envoy words it.
pub async fn exchange(
    client: &WorkloadCert,
    server: &WorkloadCert,
    request: String,
    answer: impl FnOnce(&str) -> (String, std::time::Duration) + Send + 'static,
) -> Result<String, String> {
    let server_verifier =
        WebPkiClientVerifier::builder_with_provider(roots(&server.root)?, provider())
            .build()
            .map_err(|e| e.to_string())?;
    let server_cfg = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_client_cert_verifier(server_verifier)
        .with_single_cert(server.chain.clone(), PrivateKeyDer::Pkcs8(server.key_der.clone().into()))
        .map_err(|e| e.to_string())?;
    let client_check =
        WebPkiClientVerifier::builder_with_provider(roots(&client.root)?, provider())
            .build()
            .map_err(|e| e.to_string())?;
    let client_cfg = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(SpiffeServerVerifier(client_check)))
        .with_client_auth_cert(
            client.chain.clone(),
            PrivateKeyDer::Pkcs8(client.key_der.clone().into()),
        )
        .map_err(|e| e.to_string())?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server_cfg));
    let server_task = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.map_err(|e| e.to_string())?;
        let mut tls = acceptor.accept(tcp).await.map_err(|e| e.to_string())?;
        let mut buf = vec![0u8; 8192];
        let n = tls.read(&mut buf).await.map_err(|e| e.to_string())?;
        let req = String::from_utf8_lossy(&buf[..n]).into_owned();
        let (body, delay) = answer(&req);
        tokio::time::sleep(delay).await;
        tls.write_all(body.as_bytes()).await.map_err(|e| e.to_string())?;
        tls.shutdown().await.map_err(|e| e.to_string())?;
        Ok::<(), String>(())
    });
    let connector = tokio_rustls::TlsConnector::from(Arc::new(client_cfg));
    let tcp = tokio::net::TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let name = ServerName::try_from("outbound.mesh").map_err(|e| e.to_string())?;
    let result = async {
        let mut tls = connector.connect(name, tcp).await.map_err(|e| e.to_string())?;
        tls.write_all(request.as_bytes()).await.map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        tls.read_to_end(&mut out).await.map_err(|e| e.to_string())?;
        Ok::<String, String>(String::from_utf8_lossy(&out).into_owned())
    }
    .await;
    let server_result = server_task.await.unwrap_or_else(|e| Err(e.to_string()));
    match (result, server_result) {
        (Ok(body), Ok(())) => Ok(body),
        (Err(e), _) | (_, Err(e)) => Err(e),
    }
}
