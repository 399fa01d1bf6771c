//! The Alibaba Cloud KMS client behind `key_provider "alicloud_kms"`: `GenerateDataKey` and
//! `Decrypt` (product Kms, API version 2016-01-20) through `meshform_acs`'s [`AcsClient`] (signed
//! RPC, retries of throttling, server and transport errors, a debug line per attempt with the request
//! id — never a parameter or an answer field) at `kms.REGION.aliyuncs.com` or the block's
//! `endpoint` (the sandbox's emulator, a VPC endpoint).
//!
//! Credentials come from the same chain as the asm provider's: `ALIBABA_CLOUD_ACCESS_KEY_ID`,
//! `ALIBABA_CLOUD_ACCESS_KEY_SECRET` (and `ALIBABA_CLOUD_SECURITY_TOKEN`), else a profile of
//! `~/.aliyun/config.json`. The state layer calls this synchronously, possibly from inside the
//! run's tokio runtime: each call therefore runs on a thread of its own with a small runtime of its
//! own, never blocking on the caller's.

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use meshform_acs::client::{regional_endpoint, AcsClient};
use meshform_acs::credentials::{resolve, CredentialProvider, ExplicitCredentials, ProviderEnv};
use meshform_state::encryption::{
    DataKey, DataKeyService, GeneratedDataKey, KmsError, KmsKeySettings,
};

/// KMS's API version.
const VERSION: &str = "2016-01-20";

/// Alibaba Cloud KMS, with the user's credentials.
#[derive(Debug)]
pub struct AlibabaKms {
    env: ProviderEnv,
}

impl AlibabaKms {
    pub fn new(env: ProviderEnv) -> AlibabaKms {
        AlibabaKms { env }
    }

    /// One action (retried by the client's policy), on a thread of its own.
    fn call(
        &self,
        key: &KmsKeySettings,
        action: &str,
        params: Vec<(String, String)>,
    ) -> Result<serde_json::Value, KmsError> {
        let fail = |code: &str, message: String| KmsError {
            action: action.to_owned(),
            key_id: key.key_id.clone(),
            code: code.to_owned(),
            message,
            request_id: None,
        };
        let creds = resolve(&ExplicitCredentials::default(), &self.env)
            .map_err(|m| fail("Credentials", m))?;
        let endpoint =
            key.endpoint.clone().unwrap_or_else(|| regional_endpoint("kms", &key.region));
        let client = AcsClient::new(&endpoint, VERSION, CredentialProvider::fixed(creds))
            .map_err(|m| fail("InvalidEndpoint", m))?;
        std::thread::scope(|s| {
            s.spawn(|| {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| fail("Runtime", format!("cannot start an I/O runtime: {e}")))?;
                runtime.block_on(client.rpc(action, &params)).map_err(|e| KmsError {
                    action: action.to_owned(),
                    key_id: key.key_id.clone(),
                    code: e.code.clone(),
                    message: e
                        .message
                        .strip_prefix(&format!("{action}: "))
                        .unwrap_or(&e.message)
                        .to_owned(),
                    request_id: e.request_id.clone(),
                })
            })
            .join()
            .unwrap_or_else(|_| Err(fail("Internal", "the KMS call panicked".to_owned())))
        })
    }
}

/// `EncryptionContext` as the API takes it: a JSON object, or nothing when empty.
fn context_param(context: &BTreeMap<String, String>) -> Option<(String, String)> {
    (!context.is_empty()).then(|| {
        ("EncryptionContext".to_owned(), serde_json::to_string(context).unwrap_or_default())
    })
}

/// The base64 `Plaintext` of a response, as a key.
fn plaintext(
    v: &serde_json::Value,
    action: &str,
    key: &KmsKeySettings,
) -> Result<DataKey, KmsError> {
    let invalid = |message: &str| KmsError {
        action: action.to_owned(),
        key_id: key.key_id.clone(),
        code: "InvalidResponse".to_owned(),
        message: message.to_owned(),
        request_id: v.get("RequestId").and_then(|r| r.as_str()).map(str::to_owned),
    };
    let text =
        v.get("Plaintext").and_then(|p| p.as_str()).ok_or_else(|| invalid("no Plaintext"))?;
    B64.decode(text).map(DataKey::new).map_err(|_| invalid("Plaintext is not base64"))
}

impl DataKeyService for AlibabaKms {
    fn generate_data_key(&self, key: &KmsKeySettings) -> Result<GeneratedDataKey, KmsError> {
        let mut params = vec![
            ("KeyId".to_owned(), key.key_id.clone()),
            ("KeySpec".to_owned(), key.key_spec.clone()),
        ];
        params.extend(context_param(&key.encryption_context));
        let v = self.call(key, "GenerateDataKey", params)?;
        let data_key = plaintext(&v, "GenerateDataKey", key)?;
        let field = |name: &str| v.get(name).and_then(|x| x.as_str()).map(str::to_owned);
        let blob = field("CiphertextBlob").ok_or_else(|| KmsError {
            action: "GenerateDataKey".to_owned(),
            key_id: key.key_id.clone(),
            code: "InvalidResponse".to_owned(),
            message: "no CiphertextBlob".to_owned(),
            request_id: field("RequestId"),
        })?;
        Ok(GeneratedDataKey {
            plaintext: data_key,
            ciphertext_blob: blob,
            key_id: field("KeyId").unwrap_or_else(|| key.key_id.clone()),
        })
    }

    fn decrypt_data_key(
        &self,
        key: &KmsKeySettings,
        ciphertext_blob: &str,
        encryption_context: &BTreeMap<String, String>,
    ) -> Result<DataKey, KmsError> {
        let mut params = vec![("CiphertextBlob".to_owned(), ciphertext_blob.to_owned())];
        params.extend(context_param(encryption_context));
        let v = self.call(key, "Decrypt", params)?;
        plaintext(&v, "Decrypt", key)
    }
}
