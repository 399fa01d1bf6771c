//! Issuing CA certificates with Istio's plug-in CA profile, and inspecting PEM certificates and keys.

use meshform_core::hex;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType, SerialNumber,
};
use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::keys::KeyAlgorithm;

/// What to put in a CA certificate.
#[derive(Clone, Debug)]
pub struct CaSpec {
    pub common_name: String,
    pub organization: String,
    pub locality: Option<String>,
    pub dns_names: Vec<String>,
    pub key: KeyAlgorithm,
    pub validity: Duration,
}

/// A freshly issued certificate and its private key, PEM-encoded.
#[derive(Clone)]
pub struct Issued {
    pub cert_pem: String,
    pub key_pem: String,
}

fn params(
    spec: &CaSpec,
    path_len: Option<u8>,
    now: OffsetDateTime,
) -> Result<CertificateParams, String> {
    let mut p = CertificateParams::default();
    p.distinguished_name = rcgen::DistinguishedName::new();
    p.distinguished_name.push(DnType::OrganizationName, spec.organization.clone());
    p.distinguished_name.push(DnType::CommonName, spec.common_name.clone());
    if let Some(l) = &spec.locality {
        p.distinguished_name.push(DnType::LocalityName, l.clone());
    }
    p.is_ca = match path_len {
        Some(n) => IsCa::Ca(BasicConstraints::Constrained(n)),
        None => IsCa::Ca(BasicConstraints::Unconstrained),
    };
    p.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::ContentCommitment,
        KeyUsagePurpose::KeyEncipherment,
        KeyUsagePurpose::KeyCertSign,
    ];
    for d in &spec.dns_names {
        let name = d.clone().try_into().map_err(|_| format!("{d:?} is not a valid DNS name"))?;
        p.subject_alt_names.push(SanType::DnsName(name));
    }
    let start = now.replace_nanosecond(0).unwrap_or(now);
    p.not_before = start;
    p.not_after = start + spec.validity;
    p.serial_number = Some(random_serial(&spec.common_name, now));
    Ok(p)
}

/// A positive 128-bit serial number, unique per issuance.
fn random_serial(seed: &str, now: OffsetDateTime) -> SerialNumber {
    let mut nonce = [0u8; 16];
    // A fresh key's bytes are random; hashing one with the time and name gives an unpredictable serial.
    let entropy = KeyPair::generate().map(|k| k.serialize_der()).unwrap_or_default();
    let digest = Sha256::new()
        .chain_update(seed.as_bytes())
        .chain_update(now.unix_timestamp_nanos().to_be_bytes())
        .chain_update(&entropy)
        .finalize();
    nonce.copy_from_slice(&digest[..16]);
    nonce[0] &= 0x7f;
    nonce[0] |= 0x01;
    SerialNumber::from_slice(&nonce)
}

/// Issues a self-signed root CA.
pub fn issue_root(spec: &CaSpec) -> Result<Issued, String> {
    let key = spec.key.generate().map_err(|e| format!("key generation failed: {e}"))?;
    let p = params(spec, None, OffsetDateTime::now_utc())?;
    let cert = p.self_signed(&key).map_err(|e| format!("signing failed: {e}"))?;
    Ok(Issued { cert_pem: cert.pem(), key_pem: key.serialize_pem() })
}

/// Issues an intermediate CA (pathlen 0) signed by the given root.
pub fn issue_intermediate(
    spec: &CaSpec,
    root_cert_pem: &str,
    root_key_pem: &str,
) -> Result<Issued, String> {
    let root_key = parse_key(root_key_pem)?;
    let issuer = Issuer::from_ca_cert_pem(root_cert_pem, root_key)
        .map_err(|e| format!("cannot use the root certificate: {e}"))?;
    let key = spec.key.generate().map_err(|e| format!("key generation failed: {e}"))?;
    let mut p = params(spec, Some(0), OffsetDateTime::now_utc())?;
    p.use_authority_key_identifier_extension = true;
    let cert = p.signed_by(&key, &issuer).map_err(|e| format!("signing failed: {e}"))?;
    Ok(Issued { cert_pem: cert.pem(), key_pem: key.serialize_pem() })
}

/// Issues a workload certificate (SPIFFE URI SAN, serverAuth and clientAuth) from a CA, as a mesh's
/// control plane does for its proxies.
pub fn issue_workload(
    spiffe_uri: &str,
    ca_cert_pem: &str,
    ca_key_pem: &str,
    validity: Duration,
) -> Result<Issued, String> {
    let ca_key = parse_key(ca_key_pem)?;
    let issuer = Issuer::from_ca_cert_pem(ca_cert_pem, ca_key)
        .map_err(|e| format!("cannot use the CA certificate: {e}"))?;
    let key =
        KeyAlgorithm::EcdsaP256.generate().map_err(|e| format!("key generation failed: {e}"))?;
    let mut p = CertificateParams::default();
    p.distinguished_name = rcgen::DistinguishedName::new();
    let uri = spiffe_uri
        .to_owned()
        .try_into()
        .map_err(|_| format!("{spiffe_uri:?} is not a valid URI"))?;
    p.subject_alt_names = vec![SanType::URI(uri)];
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
    p.extended_key_usages =
        vec![ExtendedKeyUsagePurpose::ServerAuth, ExtendedKeyUsagePurpose::ClientAuth];
    let now = OffsetDateTime::now_utc();
    p.not_before = now - Duration::minutes(1);
    p.not_after = now + validity;
    p.use_authority_key_identifier_extension = true;
    let cert = p.signed_by(&key, &issuer).map_err(|e| format!("signing failed: {e}"))?;
    Ok(Issued { cert_pem: cert.pem(), key_pem: key.serialize_pem() })
}

/// Parses a private key (PKCS#8, or PKCS#1 RSA / SEC1 EC as Istio accepts).
pub fn parse_key(pem: &str) -> Result<KeyPair, String> {
    KeyPair::from_pem(pem).map_err(|e| {
        format!("cannot parse the private key ({e}); give a PEM key, e.g. convert with `openssl pkcs8 -topk8 -nocrypt`")
    })
}

/// What meshform shows about a certificate.
#[derive(Clone, Debug, PartialEq)]
pub struct CertInfo {
    pub fingerprint_sha256: String,
    pub serial: String,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    pub is_ca: bool,
    pub subject: String,
    pub public_key: Vec<u8>,
    der: Vec<u8>,
}

/// The DER of the first certificate in a PEM text.
fn first_der(pem_text: &str) -> Result<Vec<u8>, String> {
    pem_blocks(pem_text)?
        .into_iter()
        .next()
        .ok_or_else(|| "no PEM certificate found (expected -----BEGIN CERTIFICATE-----)".to_owned())
}

/// Every certificate of a PEM bundle, as DER. Bad PEM (a body that is not base64, a block without
/// its end line) is an error, not a missing certificate.
pub fn pem_blocks(pem_text: &str) -> Result<Vec<Vec<u8>>, String> {
    meshform_core::pem::certificates(pem_text).map_err(|e| e.to_string())
}

/// Parses a PEM certificate.
pub fn inspect(pem_text: &str) -> Result<CertInfo, String> {
    let der = first_der(pem_text)?;
    let (_, x) = X509Certificate::from_der(&der)
        .map_err(|e| format!("cannot parse the certificate: {e}"))?;
    let v = x.validity();
    Ok(CertInfo {
        fingerprint_sha256: hex::encode(&Sha256::digest(&der)),
        serial: x.raw_serial_as_string().replace(':', ""),
        not_before: v.not_before.to_datetime(),
        not_after: v.not_after.to_datetime(),
        is_ca: x.is_ca(),
        subject: x.subject().to_string(),
        public_key: x.public_key().subject_public_key.data.to_vec(),
        der: der.clone(),
    })
}

/// Whether `cert` carries a valid signature by `issuer`'s key.
pub fn signed_by(cert: &CertInfo, issuer: &CertInfo) -> bool {
    let (Ok((_, c)), Ok((_, i))) =
        (X509Certificate::from_der(&cert.der), X509Certificate::from_der(&issuer.der))
    else {
        return false;
    };
    c.verify_signature(Some(i.public_key())).is_ok()
}

/// Whether a private key belongs to a certificate.
pub fn key_matches(cert: &CertInfo, key_pem: &str) -> Result<bool, String> {
    let key = parse_key(key_pem)?;
    Ok(key.public_key_raw() == cert.public_key.as_slice())
}

/// RFC 3339 without fractions.
pub fn rfc3339(t: OffsetDateTime) -> String {
    t.replace_nanosecond(0)
        .unwrap_or(t)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_certificate_with_bad_base64_is_reported_not_skipped() {
        let bad = "-----BEGIN CERTIFICATE-----\nnot*base64!\n-----END CERTIFICATE-----\n";
        let e = inspect(bad).unwrap_err();
        assert!(e.contains("invalid PEM certificate"), "{e}");
        assert!(pem_blocks(bad).is_err());
        assert_eq!(pem_blocks("").unwrap(), Vec::<Vec<u8>>::new());
    }
}
