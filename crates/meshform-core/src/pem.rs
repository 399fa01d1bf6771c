//! PEM certificates: [`certificates`], the one PEM reader (rustls-pki-types' parser), which reports
//! bad input (a bad base64 body, a block without its end line) instead of skipping it.

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;

/// Why a PEM text could not be read.
#[derive(Debug, thiserror::Error)]
#[error("invalid PEM certificate: {0}")]
pub struct PemError(String);

/// Every `CERTIFICATE` block of `text`, as DER, in order. Other blocks (keys) are passed over, and
/// so is text outside blocks; white space around lines is ignored (PEM pasted with indentation).
/// An empty result means the text holds no certificate.
pub fn certificates(text: &str) -> Result<Vec<Vec<u8>>, PemError> {
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    let normalised = lines.join("\n");
    CertificateDer::pem_slice_iter(normalised.as_bytes())
        .map(|c| c.map(|der| der.as_ref().to_vec()).map_err(|e| PemError(e.to_string())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &str = "MIIBszCCAVmgAwIBAgIUQ0U=";

    fn block(body: &str) -> String {
        format!("-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----\n")
    }

    #[test]
    fn reads_every_certificate_in_order_and_skips_other_blocks() {
        let key = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
        let text =
            format!("leading text\n{}{key}  {}", block(BODY), block("AQID").replace('\n', "\n  "));
        let ders = certificates(&text).unwrap();
        assert_eq!(ders.len(), 2);
        assert_eq!(ders[1], vec![1, 2, 3]);
        assert!(certificates("no pem here").unwrap().is_empty());
    }

    #[test]
    fn bad_base64_is_an_error_not_a_missing_certificate() {
        let text = format!("{}{}", block(BODY), block("not*base64!"));
        let e = certificates(&text).unwrap_err().to_string();
        assert!(e.starts_with("invalid PEM certificate"), "{e}");
    }

    #[test]
    fn a_block_without_its_end_is_an_error() {
        let text = "-----BEGIN CERTIFICATE-----\nAQID\n";
        assert!(certificates(text).is_err());
    }
}
