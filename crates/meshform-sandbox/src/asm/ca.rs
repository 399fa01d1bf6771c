//! Mesh certificate authorities: the `UseExistingCA` parameters of `CreateServiceMesh` decoded and
//! checked (base64 of PEM; certificates must parse as X.509 CA certificates, the key must be a PEM
//! private key and, when it can be read, match the CA certificate), or a self-signed CA generated
//! for a mesh created without them.

use base64::Engine as _;
use x509_parser::pem::Pem;

use super::errors::ApiError;
use super::model::{CaSource, MeshCa, SecretPem};

/// The CA parameters of `CreateServiceMesh`, as received (base64).
#[derive(Clone, Copy)]
pub(crate) struct ExistingCaParams<'a> {
    pub ca_cert: Option<&'a str>,
    pub ca_key: Option<&'a str>,
    pub root_cert: Option<&'a str>,
    pub cert_chain: Option<&'a str>,
}

/// Decodes and checks an existing CA. `CertChain` may be omitted (the chain is then the CA
/// certificate and the root); when given it must hold at least two certificates.
pub(crate) fn existing(p: &ExistingCaParams<'_>) -> Result<MeshCa, ApiError> {
    fn required<'a>(name: &str, v: Option<&'a str>) -> Result<&'a str, ApiError> {
        v.filter(|s| !s.trim().is_empty()).ok_or_else(|| ApiError::missing_parameter(name))
    }
    let ca_pem = decode_base64_pem("ExistingCaCert", required("ExistingCaCert", p.ca_cert)?)?;
    let key_pem = decode_base64_pem("ExistingCaKey", required("ExistingCaKey", p.ca_key)?)?;
    let root_pem =
        decode_base64_pem("ExistingRootCaCert", required("ExistingRootCaCert", p.root_cert)?)?;

    let ca_der = single_ca_certificate("ExistingCaCert", &ca_pem)?;
    single_ca_certificate("ExistingRootCaCert", &root_pem)?;
    check_key("ExistingCaKey", &key_pem, &ca_der)?;

    let chain_pem = match p.cert_chain.filter(|s| !s.trim().is_empty()) {
        Some(b64) => {
            let chain = decode_base64_pem("CertChain", b64)?;
            let certs = certificates("CertChain", &chain)?;
            if certs.len() < 2 {
                return Err(ApiError::invalid_parameter(
                    "CertChain must hold the chain from the CA certificate to the root: at least two PEM certificates",
                ));
            }
            chain
        }
        None => format!("{}\n{}", ca_pem.trim_end(), root_pem.trim_end()),
    };
    Ok(MeshCa {
        source: CaSource::Existing,
        ca_cert_pem: ca_pem,
        ca_key_pem: SecretPem::new(key_pem),
        root_cert_pem: root_pem,
        cert_chain_pem: chain_pem,
    })
}

/// A self-signed CA for a mesh (ECDSA P-256, ten years), standing in for the one ASM generates.
pub(crate) fn generate(mesh_id: &str) -> Result<MeshCa, ApiError> {
    let fail = |e: rcgen::Error| ApiError::internal_error(format!("generating the mesh CA: {e}"));
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(fail)?;
    let mut params = rcgen::CertificateParams::default();
    params.distinguished_name.push(rcgen::DnType::OrganizationName, "Alibaba Cloud Service Mesh");
    params.distinguished_name.push(rcgen::DnType::CommonName, format!("Root CA {mesh_id}"));
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::hours(1);
    params.not_after = now + time::Duration::days(3650);
    let cert = params.self_signed(&key).map_err(fail)?;
    let pem = cert.pem();
    Ok(MeshCa {
        source: CaSource::Generated,
        ca_cert_pem: pem.clone(),
        ca_key_pem: SecretPem::new(key.serialize_pem()),
        root_cert_pem: pem.clone(),
        cert_chain_pem: pem,
    })
}

/// Base64 as returned by `GetCaCert`.
pub(crate) fn to_base64(pem: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(pem.as_bytes())
}

fn decode_base64_pem(param: &str, value: &str) -> Result<String, ApiError> {
    let compact: String = value.chars().filter(|c| !c.is_whitespace()).collect();
    let bytes = base64::engine::general_purpose::STANDARD.decode(compact).map_err(|e| {
        ApiError::invalid_parameter(format!("{param} must be the base64 encoding of PEM text: {e}"))
    })?;
    let text = String::from_utf8(bytes).map_err(|_| {
        ApiError::invalid_parameter(format!(
            "{param} must be the base64 encoding of PEM text (it decodes to binary data)"
        ))
    })?;
    if !text.contains("-----BEGIN ") {
        return Err(ApiError::invalid_parameter(format!(
            "{param} must be the base64 encoding of PEM text (no \"-----BEGIN\" line found)"
        )));
    }
    Ok(text)
}

fn blocks(param: &str, pem: &str) -> Result<Vec<Pem>, ApiError> {
    Pem::iter_from_buffer(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ApiError::invalid_parameter(format!("{param} is not valid PEM: {e}")))
}

/// Every block must be a certificate that parses; returns their DER.
fn certificates(param: &str, pem: &str) -> Result<Vec<Vec<u8>>, ApiError> {
    let blocks = blocks(param, pem)?;
    if blocks.is_empty() {
        return Err(ApiError::invalid_parameter(format!("{param} holds no PEM certificate")));
    }
    blocks
        .into_iter()
        .map(|b| {
            if b.label != "CERTIFICATE" {
                return Err(ApiError::invalid_parameter(format!(
                    "{param} must hold PEM certificates, found a \"{}\" block",
                    b.label
                )));
            }
            b.parse_x509().map_err(|e| {
                ApiError::invalid_parameter(format!(
                    "{param} holds a certificate that does not parse: {e}"
                ))
            })?;
            Ok(b.contents)
        })
        .collect()
}

/// Exactly one certificate, and a CA certificate (basic constraints `CA:TRUE`).
fn single_ca_certificate(param: &str, pem: &str) -> Result<Vec<u8>, ApiError> {
    let mut certs = certificates(param, pem)?;
    if certs.len() != 1 {
        return Err(ApiError::invalid_parameter(format!(
            "{param} must hold exactly one certificate, found {}",
            certs.len()
        )));
    }
    let der = certs.remove(0);
    let is_ca = x509_parser::parse_x509_certificate(&der).map(|(_, c)| c.is_ca()).unwrap_or(false);
    if !is_ca {
        return Err(ApiError::invalid_parameter(format!(
            "{param} must be a CA certificate (basic constraints CA:TRUE)"
        )));
    }
    Ok(der)
}

/// The key must be one PEM private key; when it is PKCS#8 (readable here) it must match the CA
/// certificate's public key.
fn check_key(param: &str, pem: &str, ca_der: &[u8]) -> Result<(), ApiError> {
    let blocks = blocks(param, pem)?;
    let [block] = blocks.as_slice() else {
        return Err(ApiError::invalid_parameter(format!(
            "{param} must hold exactly one PEM private key"
        )));
    };
    if !block.label.ends_with("PRIVATE KEY") {
        return Err(ApiError::invalid_parameter(format!(
            "{param} must hold a PEM private key, found a \"{}\" block",
            block.label
        )));
    }
    if let Ok(key) = rcgen::KeyPair::from_pem(pem) {
        use rcgen::PublicKeyData as _;
        let spki = x509_parser::parse_x509_certificate(ca_der)
            .map(|(_, c)| c.public_key().raw.to_vec())
            .unwrap_or_default();
        if key.subject_public_key_info() != spki {
            return Err(ApiError::invalid_parameter(format!(
                "{param} does not match the public key of ExistingCaCert"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        to_base64(s)
    }

    #[test]
    fn generated_ca_is_accepted_as_existing() {
        let root = generate("c1").unwrap();
        let other = generate("c2").unwrap();
        let (cert, key) = (b64(&root.ca_cert_pem), b64(root.ca_key_pem.expose()));
        let ok = ExistingCaParams {
            ca_cert: Some(&cert),
            ca_key: Some(&key),
            root_cert: Some(&cert),
            cert_chain: None,
        };
        let ca = existing(&ok).unwrap();
        assert_eq!(ca.source, CaSource::Existing);
        assert_eq!(certificates("x", &ca.cert_chain_pem).unwrap().len(), 2);

        let wrong_key = b64(other.ca_key_pem.expose());
        let err = existing(&ExistingCaParams { ca_key: Some(&wrong_key), ..ok }).unwrap_err();
        assert!(err.message.contains("does not match"), "{err:?}");
        let short_chain = cert.clone();
        let err = existing(&ExistingCaParams { cert_chain: Some(&short_chain), ..ok }).unwrap_err();
        assert!(err.message.contains("at least two"), "{err:?}");
        let err = existing(&ExistingCaParams { ca_cert: Some("not base64!"), ..ok }).unwrap_err();
        assert_eq!(err.code, "InvalidParameter");
        let err = existing(&ExistingCaParams { ca_cert: Some(&key), ..ok }).unwrap_err();
        assert!(err.message.contains("PRIVATE KEY"), "{err:?}");
        let err = existing(&ExistingCaParams { root_cert: None, ..ok }).unwrap_err();
        assert_eq!(err.code, "MissingParameter");
    }
}
