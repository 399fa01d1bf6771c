//! TLS to PostgreSQL with rustls (aws-lc-rs; no OpenSSL): the `sslmode`, `sslrootcert`, `sslcert`
//! and `sslkey` settings as libpq interprets them ([`TlsOptions`]), the connector the `postgres`
//! crate drives ([`RustlsConnect`]), and what to tell the user when a TLS connection fails
//! ([`explain_failure`]).
//!
//! libpq's meaning, kept here:
//!
//! - `disable`: plain only. `allow`: plain first, TLS if the server refuses plain.
//! - `prefer` (the default): TLS when the server offers it, plain when it does not or when the
//!   handshake fails. `require`: TLS or nothing.
//! - `prefer`, `require` and `allow` do not check the server's certificate, unless `sslrootcert` is
//!   given: then, as in libpq, they check it like `verify-ca`.
//! - `verify-ca`: the certificate chains to a CA in `sslrootcert`. `verify-full`: and it is valid for
//!   the host name connected to (`host`, not `hostaddr`).
//! - `sslcert`/`sslkey`: a client certificate, sent when the server asks for one. The key file must
//!   not be readable by group or others (0600; 0640 when owned by root), as libpq requires.
//!
//! Unlike libpq, nothing is read from `~/.postgresql/` (this library never looks at the home
//! directory): the CA and the client certificate are named explicitly.

use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect, TlsStream};
use postgres::Socket;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};
use sha2::Digest;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// libpq's `sslmode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum SslMode {
    Disable,
    Allow,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    pub(super) fn parse(s: &str) -> Option<SslMode> {
        Some(match s {
            "disable" => SslMode::Disable,
            "allow" => SslMode::Allow,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            _ => return None,
        })
    }

    pub(super) fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Allow => "allow",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

/// How the server's certificate is checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Verify {
    /// Encrypted, but anyone may be at the other end (libpq's `require` without a CA).
    Nothing,
    /// The chain, up to a CA in `sslrootcert`.
    Chain,
    /// The chain and the host name.
    ChainAndName,
}

/// The TLS settings of a connection: the mode and the files, never their contents.
#[derive(Clone, Debug)]
pub(super) struct TlsOptions {
    pub mode: SslMode,
    pub root_cert: Option<PathBuf>,
    /// The client certificate and its key (both or neither).
    pub client: Option<(PathBuf, PathBuf)>,
}

impl TlsOptions {
    /// The options from the connection string's values, else the PG* variables' (`get` gives
    /// either, connection string first), checked for what libpq would refuse too.
    pub(super) fn resolve(get: impl Fn(&str, &str) -> Option<String>) -> Result<Self, String> {
        let mode = match get("sslmode", "PGSSLMODE") {
            None => SslMode::Prefer,
            Some(m) => SslMode::parse(&m).ok_or_else(|| {
                format!(
                    "invalid sslmode {m:?}: use disable, allow, prefer, require, verify-ca or \
                     verify-full"
                )
            })?,
        };
        let root_cert = get("sslrootcert", "PGSSLROOTCERT").map(PathBuf::from);
        if root_cert.as_deref() == Some(Path::new("system")) {
            return Err("sslrootcert=system is not supported: name the CA certificate file (PEM) \
                        that issued the server's certificate"
                .to_owned());
        }
        if matches!(mode, SslMode::VerifyCa | SslMode::VerifyFull) && root_cert.is_none() {
            return Err(format!(
                "sslmode={} needs the CA certificate that issued the server's certificate: set \
                 sslrootcert=/path/to/ca.pem in the connection string or PGSSLROOTCERT (meshform \
                 does not read ~/.postgresql/root.crt), or use sslmode=require to encrypt without \
                 checking the server",
                mode.as_str()
            ));
        }
        let client = match (get("sslcert", "PGSSLCERT"), get("sslkey", "PGSSLKEY")) {
            (Some(c), Some(k)) => Some((PathBuf::from(c), PathBuf::from(k))),
            (None, None) => None,
            (Some(_), None) => {
                return Err("sslcert is set but sslkey is not: name the client certificate's \
                            private key with sslkey (or PGSSLKEY)"
                    .to_owned())
            }
            (None, Some(_)) => {
                return Err("sslkey is set but sslcert is not: name the client certificate with \
                            sslcert (or PGSSLCERT)"
                    .to_owned())
            }
        };
        Ok(TlsOptions { mode, root_cert, client })
    }

    fn verify(&self) -> Verify {
        match (self.mode, &self.root_cert) {
            (SslMode::VerifyFull, _) => Verify::ChainAndName,
            (_, Some(_)) => Verify::Chain,
            (_, None) => Verify::Nothing,
        }
    }

    /// `sslmode=verify-full with sslrootcert "/x/ca.pem"`, for messages.
    pub(super) fn describe(&self) -> String {
        match &self.root_cert {
            Some(ca) if self.mode != SslMode::Disable => {
                format!("sslmode={} with sslrootcert {:?}", self.mode.as_str(), ca.display())
            }
            _ => format!("sslmode={}", self.mode.as_str()),
        }
    }

    /// The connector: reads the CA and client files (again on every connection, so that renewed
    /// files are picked up). Errors name the file and what is wrong, never its contents.
    pub(super) fn connector(&self) -> Result<RustlsConnect, String> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let verifier: Arc<dyn ServerCertVerifier> = match (&self.root_cert, self.verify()) {
            (_, Verify::Nothing) | (None, _) => {
                Arc::new(Relaxed { provider: Arc::clone(&provider), chain: None })
            }
            (Some(path), verify) => {
                let webpki = WebPkiServerVerifier::builder_with_provider(
                    Arc::new(root_store(path)?),
                    Arc::clone(&provider),
                )
                .build()
                .map_err(|e| format!("sslrootcert {:?}: {e}", path.display()))?;
                if verify == Verify::ChainAndName {
                    webpki
                } else {
                    Arc::new(Relaxed { provider: Arc::clone(&provider), chain: Some(webpki) })
                }
            }
        };
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS setup: {e}"))?
            .dangerous()
            .with_custom_certificate_verifier(verifier);
        let mut config = match &self.client {
            None => builder.with_no_client_auth(),
            Some((cert, key)) => {
                let chain = certificates(cert, "sslcert")?;
                builder.with_client_auth_cert(chain, private_key(key)?).map_err(|e| {
                    format!(
                        "sslcert {:?} and sslkey {:?} do not make a usable client certificate \
                         ({e}); check that the key is the certificate's",
                        cert.display(),
                        key.display()
                    )
                })?
            }
        };
        // PostgreSQL 17 requires this ALPN for direct TLS (sslnegotiation=direct); older servers
        // ignore it.
        config.alpn_protocols = vec![b"postgresql".to_vec()];
        Ok(RustlsConnect { config: Arc::new(config) })
    }
}

fn root_store(path: &Path) -> Result<rustls::RootCertStore, String> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in certificates(path, "sslrootcert")? {
        roots.add(cert).map_err(|e| {
            format!("sslrootcert {:?} holds a certificate that is not usable: {e}", path.display())
        })?;
    }
    Ok(roots)
}

/// The PEM certificates of a file (at least one).
fn certificates(path: &Path, setting: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let bytes = read(path, setting)?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| format!("{setting} {:?} is not a PEM certificate file", path.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "{setting} {:?} holds no certificate (expected PEM: -----BEGIN CERTIFICATE-----)",
            path.display()
        ));
    }
    Ok(certs)
}

/// The client's private key, refused (as libpq refuses it) when others may read it.
fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>, String> {
    #[cfg(unix)]
    if let Ok(meta) = std::fs::metadata(path) {
        use std::os::unix::fs::MetadataExt;
        let mode = meta.mode() & 0o777;
        let allowed = if meta.uid() == 0 { 0o640 } else { 0o600 };
        if mode & !allowed != 0 {
            return Err(format!(
                "sslkey {:?} can be read by other users (mode {mode:04o}): restrict it with \
                 `chmod 600` (libpq refuses such a key too)",
                path.display()
            ));
        }
    }
    let bytes = read(path, "sslkey")?;
    // The parser's error is not shown: it could quote the key.
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|_| {
        format!(
            "sslkey {:?} is not an unencrypted PEM private key (PKCS#8, PKCS#1 or SEC1)",
            path.display()
        )
    })
}

fn read(path: &Path, setting: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("{setting} {:?}: cannot read: {e}", path.display()))
}

/// The server check below `verify-full`. Without a chain (`require` without a CA) the server's
/// signature over the handshake is checked, its certificate is not (libpq's meaning: encryption
/// without authentication). With one (`verify-ca`): the full check, less the host name (webpki
/// checks the chain first, then the name, so a name mismatch means the chain was good). Either
/// way the handshake signature is checked with the provider's algorithms, as webpki checks it.
#[derive(Debug)]
struct Relaxed {
    provider: Arc<CryptoProvider>,
    /// `None`: any certificate is accepted.
    chain: Option<Arc<WebPkiServerVerifier>>,
}

impl ServerCertVerifier for Relaxed {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(webpki) = &self.chain else {
            return Ok(ServerCertVerified::assertion());
        };
        match webpki.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

/// The `postgres` crate's TLS hook, backed by rustls.
#[derive(Clone)]
pub(super) struct RustlsConnect {
    config: Arc<rustls::ClientConfig>,
}

impl MakeTlsConnect<Socket> for RustlsConnect {
    type Stream = RustlsStream;
    type TlsConnect = RustlsHandshake;
    type Error = io::Error;

    fn make_tls_connect(&mut self, domain: &str) -> Result<RustlsHandshake, io::Error> {
        // Unix sockets come with no name; PostgreSQL never offers TLS there, so none is needed.
        let name = ServerName::try_from(domain.to_owned()).ok();
        Ok(RustlsHandshake { config: Arc::clone(&self.config), name })
    }
}

pub(super) struct RustlsHandshake {
    config: Arc<rustls::ClientConfig>,
    name: Option<ServerName<'static>>,
}

type Handshake = Pin<Box<dyn Future<Output = io::Result<RustlsStream>> + Send>>;

impl TlsConnect<Socket> for RustlsHandshake {
    type Stream = RustlsStream;
    type Error = io::Error;
    type Future = Handshake;

    fn connect(self, stream: Socket) -> Handshake {
        Box::pin(async move {
            let name = self.name.ok_or_else(|| {
                io::Error::new(io::ErrorKind::InvalidInput, "no host name to check the server by")
            })?;
            let connector = tokio_rustls::TlsConnector::from(self.config);
            Ok(RustlsStream(connector.connect(name, stream).await?))
        })
    }
}

pub(super) struct RustlsStream(tokio_rustls::client::TlsStream<Socket>);

impl TlsStream for RustlsStream {
    /// `tls-server-end-point` (RFC 5929): SCRAM-SHA-256-PLUS then ties the password exchange to
    /// this TLS session, so that even under `sslmode=require` a server in the middle cannot replay
    /// it. Certificates whose signature names no usable hash get none (SCRAM without `-PLUS`).
    fn channel_binding(&self) -> ChannelBinding {
        let end_point = self.0.get_ref().1.peer_certificates().and_then(|certs| {
            let cert = certs.first()?;
            Some(match signature_hash(cert)? {
                Hash::Sha256 => sha2::Sha256::digest(cert).to_vec(),
                Hash::Sha384 => sha2::Sha384::digest(cert).to_vec(),
                Hash::Sha512 => sha2::Sha512::digest(cert).to_vec(),
            })
        });
        end_point.map_or_else(ChannelBinding::none, ChannelBinding::tls_server_end_point)
    }
}

impl AsyncRead for RustlsStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_read(cx, buf)
    }
}

impl AsyncWrite for RustlsStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_shutdown(cx)
    }
}

enum Hash {
    Sha256,
    Sha384,
    Sha512,
}

/// The hash of a certificate's signature algorithm, as RFC 5929 uses it (MD5 and SHA-1 become
/// SHA-256); `None` for algorithms without one of their own (Ed25519, RSA-PSS) or unreadable DER.
fn signature_hash(cert: &[u8]) -> Option<Hash> {
    // Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm SEQUENCE { OID, … }, … }
    let (_, certificate, _) = der(cert)?;
    let (_, _tbs, rest) = der(certificate)?;
    let (_, algorithm, _) = der(rest)?;
    let (tag, oid, _) = der(algorithm)?;
    const RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01];
    const ECDSA_SHA2: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03];
    const ECDSA_SHA1: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x01];
    if tag != 0x06 {
        return None;
    }
    match oid {
        o if o == ECDSA_SHA1 => Some(Hash::Sha256),
        [prefix @ .., last] if prefix == RSA => match last {
            0x04 | 0x05 | 0x0b => Some(Hash::Sha256),
            0x0c => Some(Hash::Sha384),
            0x0d => Some(Hash::Sha512),
            _ => None,
        },
        [prefix @ .., last] if prefix == ECDSA_SHA2 => match last {
            0x02 => Some(Hash::Sha256),
            0x03 => Some(Hash::Sha384),
            0x04 => Some(Hash::Sha512),
            _ => None,
        },
        _ => None,
    }
}

/// One DER element: its tag, its contents and what follows it.
fn der(bytes: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = bytes.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n].iter().fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, &rest[n..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

/// The rustls error behind a connection failure, if TLS is what failed.
pub(super) fn rustls_error(e: &postgres::Error) -> Option<&rustls::Error> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if let Some(r) = s.downcast_ref::<rustls::Error>() {
            return Some(r);
        }
        // io::Error's `source` skips the error it wraps: look inside.
        if let Some(inner) = s.downcast_ref::<io::Error>().and_then(|io| io.get_ref()) {
            if let Some(r) = inner.downcast_ref::<rustls::Error>() {
                return Some(r);
            }
        }
        source = s.source();
    }
    None
}

/// What failed and what to do, when a connection failed for a TLS reason; `None` otherwise.
pub(super) fn explain_failure(e: &postgres::Error, tls: &TlsOptions) -> Option<String> {
    let settings = tls.describe();
    if let Some(err) = rustls_error(e) {
        return Some(explain_rustls(err, tls, &settings));
    }
    if let Some(db) = e.as_db_error() {
        let message = db.message();
        if message.contains("no encryption") && matches!(tls.mode, SslMode::Disable) {
            return Some(format!(
                "the server accepts only TLS connections for this user and database ({message}; \
                 {settings}): use sslmode=verify-full with sslrootcert set to the server's CA \
                 (or sslmode=require to encrypt without checking the server)"
            ));
        }
        if message.contains("certificate") {
            let have = match &tls.client {
                Some((cert, _)) => {
                    format!("the one sent, sslcert {:?}, was refused", cert.display())
                }
                None => "none was sent".to_owned(),
            };
            return Some(format!(
                "the server requires a client certificate for this user ({message}; {settings}); \
                 {have}: set sslcert and sslkey (or PGSSLCERT and PGSSLKEY) to a certificate \
                 whose common name is the user name, signed by a CA the server trusts"
            ));
        }
        return None;
    }
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(&format!(": {s}"));
        source = s.source();
    }
    if text.contains("server does not support TLS") {
        return Some(format!(
            "the server does not offer TLS ({settings}): enable ssl on the server, or choose \
             sslmode=prefer or disable if the network to it is trusted"
        ));
    }
    None
}

fn explain_rustls(err: &rustls::Error, tls: &TlsOptions, settings: &str) -> String {
    let ca = tls.root_cert.as_ref().map_or_else(String::new, |p| format!("{:?}", p.display()));
    match err {
        rustls::Error::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
        ) => {
            let names = match err {
                rustls::Error::InvalidCertificate(CertificateError::NotValidForNameContext {
                    expected,
                    presented,
                }) => format!(
                    "it is valid for {}, not for {}",
                    presented.iter().map(|n| plain_name(n)).collect::<Vec<_>>().join(", "),
                    expected.to_str()
                ),
                _ => "it does not name the host connected to".to_owned(),
            };
            format!(
                "the server's TLS certificate was refused: {names} ({settings}). Connect with a \
                 host name the certificate names (host=…, with hostaddr=… if that name does not \
                 resolve here), or use sslmode=verify-ca to check only that the CA issued it"
            )
        }
        rustls::Error::InvalidCertificate(
            CertificateError::UnknownIssuer | CertificateError::BadSignature,
        ) => format!(
            "the server's TLS certificate was refused: it was not issued by the CA in \
             sslrootcert {ca} (sslmode={}). Set sslrootcert (or PGSSLROOTCERT) to the CA \
             certificate that issued the server's certificate (for Alibaba Cloud RDS, the CA \
             bundle downloaded from the instance's SSL settings)",
            tls.mode.as_str()
        ),
        rustls::Error::InvalidCertificate(
            CertificateError::Expired
            | CertificateError::ExpiredContext { .. }
            | CertificateError::NotValidYet
            | CertificateError::NotValidYetContext { .. },
        ) => format!(
            "the server's TLS certificate was refused: it has expired or is not valid yet \
             ({err}; {settings}). Renew the server's certificate, or check this machine's clock"
        ),
        rustls::Error::InvalidCertificate(other) => format!(
            "the server's TLS certificate was refused: {other:?} ({settings}). Check that \
             sslrootcert names the CA of the server's certificate, and that the certificate is \
             a server certificate for this host"
        ),
        rustls::Error::AlertReceived(alert) => {
            let sent = match &tls.client {
                Some((cert, _)) => format!("the client certificate sslcert {:?}", cert.display()),
                None => "no client certificate".to_owned(),
            };
            format!(
                "the server ended the TLS handshake ({alert:?}) after this client sent {sent} \
                 ({settings}). If the server requires client certificates, set sslcert and \
                 sslkey (or PGSSLCERT and PGSSLKEY) to a certificate signed by a CA it trusts"
            )
        }
        other => format!(
            "the TLS handshake failed: {other} ({settings}). Check that the server speaks TLS \
             1.2 or 1.3 on this port"
        ),
    }
}

/// `localhost` for rustls' `DnsName("localhost")`, `127.0.0.1` for `IpAddress(127.0.0.1)`.
fn plain_name(presented: &str) -> &str {
    let inner = presented
        .strip_prefix("DnsName(")
        .or_else(|| presented.strip_prefix("IpAddress("))
        .and_then(|rest| rest.strip_suffix(')'));
    inner.map_or(presented, |name| name.trim_matches('"'))
}
