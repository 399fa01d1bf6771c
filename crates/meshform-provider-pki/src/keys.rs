//! Key algorithms and key generation.

use rcgen::{KeyPair, RsaKeySize, SignatureAlgorithm};

/// The key algorithms a CA may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyAlgorithm {
    EcdsaP256,
    EcdsaP384,
    Rsa2048,
    Rsa4096,
}

pub const NAMES: &[&str] = &["ecdsa_p256", "ecdsa_p384", "rsa_2048", "rsa_4096"];

impl KeyAlgorithm {
    pub fn parse(s: &str) -> Result<KeyAlgorithm, String> {
        match s {
            "ecdsa_p256" => Ok(KeyAlgorithm::EcdsaP256),
            "ecdsa_p384" => Ok(KeyAlgorithm::EcdsaP384),
            "rsa_2048" => Ok(KeyAlgorithm::Rsa2048),
            "rsa_4096" => Ok(KeyAlgorithm::Rsa4096),
            other => {
                Err(format!("unknown key_algorithm {other:?}; use one of {}", NAMES.join(", ")))
            }
        }
    }

    fn signature(self) -> &'static SignatureAlgorithm {
        match self {
            KeyAlgorithm::EcdsaP256 => &rcgen::PKCS_ECDSA_P256_SHA256,
            KeyAlgorithm::EcdsaP384 => &rcgen::PKCS_ECDSA_P384_SHA384,
            KeyAlgorithm::Rsa2048 | KeyAlgorithm::Rsa4096 => &rcgen::PKCS_RSA_SHA256,
        }
    }

    /// Generates a fresh key pair (RSA 4096 takes a moment: call from a blocking task).
    pub fn generate(self) -> Result<KeyPair, rcgen::Error> {
        match self {
            KeyAlgorithm::Rsa2048 => KeyPair::generate_rsa_for(self.signature(), RsaKeySize::_2048),
            KeyAlgorithm::Rsa4096 => KeyPair::generate_rsa_for(self.signature(), RsaKeySize::_4096),
            _ => KeyPair::generate_for(self.signature()),
        }
    }
}
