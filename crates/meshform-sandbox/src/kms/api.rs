//! The emulated KMS actions and their errors, in the shapes of the real API (version 2016-01-20):
//! `GenerateDataKey` (KeyId, KeySpec `AES_256`/`AES_128` or NumberOfBytes 1–1024,
//! EncryptionContext) → KeyId, KeyVersionId, Plaintext, CiphertextBlob; `Decrypt`
//! (CiphertextBlob, EncryptionContext) → KeyId, KeyVersionId, Plaintext; `DescribeKey`.
//!
//! Error codes: the reference names `Forbidden.KeyNotFound` (404, "The specified Key is not
//! found.") and `Forbidden.AliasNotFound`; for a blob that does not open (another context, altered
//! bytes) it is silent, and the emulator answers `InvalidParameter` (400), the generic code of
//! KMS's error list, with a message that says why.

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde_json::{json, Value};

use super::keys::KeyRing;

/// An error answer of the emulated API (body: [`KmsApiError::body`]).
pub(crate) use crate::acs_api::AcsError as KmsApiError;

impl KmsApiError {
    pub fn key_not_found() -> KmsApiError {
        KmsApiError::new(404, "Forbidden.KeyNotFound", "The specified Key is not found.")
    }

    pub fn alias_not_found() -> KmsApiError {
        KmsApiError::new(404, "Forbidden.AliasNotFound", "The specified Alias is not found.")
    }

    pub fn invalid_parameter(detail: impl std::fmt::Display) -> KmsApiError {
        KmsApiError::new(
            400,
            "InvalidParameter",
            format!("The specified parameter is not valid: {detail}."),
        )
    }

    pub fn invalid_ciphertext(detail: &str) -> KmsApiError {
        KmsApiError::invalid_parameter(format!("CiphertextBlob: {detail}"))
    }

    pub fn internal(what: &str) -> KmsApiError {
        KmsApiError::new(
            500,
            "InternalFailure",
            format!("The request processing has failed due to some unknown error ({what})."),
        )
    }

    /// The JSON body, as the gateway writes it.
    pub fn body(&self, request_id: &str, host_id: &str) -> Value {
        json!({
            "RequestId": request_id,
            "HostId": host_id,
            "Code": self.code,
            "Message": self.message,
            "Recommend": format!(
                "https://api.alibabacloud.com/troubleshoot?q={}&product=Kms&requestId={request_id}",
                self.code
            ),
        })
    }
}

/// The actions the emulator answers.
pub(crate) fn is_action(name: &str) -> bool {
    matches!(name, "GenerateDataKey" | "Decrypt" | "DescribeKey")
}

/// Runs `action` with `param` (a request parameter by name) against `ring`.
pub(crate) fn run(
    action: &str,
    param: &dyn Fn(&str) -> Option<String>,
    ring: &KeyRing,
) -> Result<Value, KmsApiError> {
    let required = |name: &str| {
        param(name).filter(|v| !v.is_empty()).ok_or_else(|| KmsApiError::missing(name))
    };
    match action {
        "GenerateDataKey" => {
            let len = match (param("NumberOfBytes"), param("KeySpec").as_deref()) {
                (Some(n), _) => match n.parse::<usize>() {
                    Ok(n) if (1..=1024).contains(&n) => n,
                    _ => {
                        return Err(KmsApiError::invalid_parameter(
                            "NumberOfBytes must be 1 to 1024",
                        ))
                    }
                },
                (None, None | Some("AES_256")) => 32,
                (None, Some("AES_128")) => 16,
                (None, Some(other)) => {
                    return Err(KmsApiError::invalid_parameter(format!(
                        "KeySpec {other:?} (AES_256 or AES_128)"
                    )))
                }
            };
            let context = context(param("EncryptionContext"))?;
            let out = ring.generate_data_key(&required("KeyId")?, len, &context)?;
            Ok(json!({
                "KeyId": out.key_id,
                "KeyVersionId": out.key_version_id,
                "Plaintext": B64.encode(&out.plaintext),
                "CiphertextBlob": out.ciphertext_blob,
            }))
        }
        "Decrypt" => {
            let context = context(param("EncryptionContext"))?;
            let (key, plain) = ring.decrypt(&required("CiphertextBlob")?, &context)?;
            Ok(json!({
                "KeyId": key.key_id,
                "KeyVersionId": key.key_version_id,
                "Plaintext": B64.encode(plain),
            }))
        }
        "DescribeKey" => {
            let key = ring.resolve(&required("KeyId")?)?;
            Ok(json!({ "KeyMetadata": {
                "KeyId": key.key_id,
                "KeyState": "Enabled",
                "KeyUsage": "ENCRYPT/DECRYPT",
                "KeySpec": "Aliyun_AES_256",
                "Description": key.description,
                "CreationDate": key.created,
                "PrimaryKeyVersion": key.key_version_id,
            }}))
        }
        other => Err(KmsApiError::action_not_found(other)),
    }
}

/// `EncryptionContext`: a JSON object of strings (absent: empty).
fn context(raw: Option<String>) -> Result<BTreeMap<String, String>, KmsApiError> {
    match raw.as_deref().map(str::trim) {
        None | Some("") => Ok(BTreeMap::new()),
        Some(text) => serde_json::from_str(text).map_err(|_| {
            KmsApiError::invalid_parameter("EncryptionContext must be a JSON object of strings")
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generate_then_decrypt_through_the_actions() {
        let mut ring = KeyRing::default();
        ring.ensure_alias("alias/s", "test").expect("created");
        let params = |pairs: Vec<(&'static str, String)>| {
            move |name: &str| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| v.clone())
        };
        let gen = params(vec![
            ("KeyId", "alias/s".to_owned()),
            ("EncryptionContext", r#"{"a":"b"}"#.to_owned()),
        ]);
        let out = run("GenerateDataKey", &gen, &ring).expect("generated");
        assert_eq!(B64.decode(out["Plaintext"].as_str().unwrap()).unwrap().len(), 32);
        let blob = out["CiphertextBlob"].as_str().unwrap().to_owned();
        let dec = params(vec![
            ("CiphertextBlob", blob.clone()),
            ("EncryptionContext", r#"{"a":"b"}"#.to_owned()),
        ]);
        assert_eq!(run("Decrypt", &dec, &ring).expect("decrypted")["Plaintext"], out["Plaintext"]);
        let wrong = params(vec![("CiphertextBlob", blob)]);
        assert_eq!(run("Decrypt", &wrong, &ring).unwrap_err().code, "InvalidParameter");
        let bad_spec = params(vec![("KeyId", "alias/s".into()), ("KeySpec", "RSA".into())]);
        assert_eq!(run("GenerateDataKey", &bad_spec, &ring).unwrap_err().status, 400);
        let none = params(vec![]);
        assert_eq!(run("GenerateDataKey", &none, &ring).unwrap_err().code, "MissingParameter");
    }
}
