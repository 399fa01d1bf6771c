//! The Alibaba Cloud KMS client behind `key_provider "alicloud_kms"`: `GenerateDataKey` and
//! `Decrypt` (product Kms, API version 2016-01-20), signed RPC calls over HTTPS to
//! `kms.REGION.aliyuncs.com` or the block's `endpoint` (the sandbox's emulator, a VPC endpoint).
//!
//! Credentials come from the same chain as the asm provider's: `ALIBABA_CLOUD_ACCESS_KEY_ID`,
//! `ALIBABA_CLOUD_ACCESS_KEY_SECRET` (and `ALIBABA_CLOUD_SECURITY_TOKEN`), else a profile of
//! `~/.aliyun/config.json`. The state layer calls this synchronously, possibly from inside the
//! run's tokio runtime: each call therefore runs on a thread of its own with a small runtime of its
//! own, never blocking on the caller's. Throttling, server errors and transport failures are tried
//! again (three attempts in all). The debug log (`MESHFORM_LOG=debug`) records the action, the key,
//! the outcome, the request id and the duration — never a parameter or a response field that holds
//! key material.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use meshform_acs::rpc::{signed_headers, RpcCall, Signer};
use meshform_provider_asm::credentials::{resolve, Credentials, ExplicitCredentials, ProviderEnv};
use meshform_state::encryption::{
    DataKey, DataKeyService, GeneratedDataKey, KmsError, KmsKeySettings,
};

/// KMS's API version.
const VERSION: &str = "2016-01-20";
/// Attempts per call, for errors that may pass.
const ATTEMPTS: u32 = 3;

/// Alibaba Cloud KMS, with the user's credentials.
#[derive(Debug)]
pub struct AlibabaKms {
    env: ProviderEnv,
}

impl AlibabaKms {
    pub fn new(env: ProviderEnv) -> AlibabaKms {
        AlibabaKms { env }
    }

    /// One action, retried as [`ATTEMPTS`] allows, on a thread of its own.
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
        let endpoint = match &key.endpoint {
            Some(e) if e.contains("://") => e.trim_end_matches('/').to_owned(),
            Some(e) => format!("https://{}", e.trim_end_matches('/')),
            None => format!("https://kms.{}.aliyuncs.com", key.region),
        };
        let host = endpoint.split("://").nth(1).unwrap_or_default().split('/').next();
        let host = host.filter(|h| !h.is_empty()).map(str::to_owned).ok_or_else(|| {
            fail("InvalidEndpoint", format!("{endpoint:?} is not an endpoint URL"))
        })?;
        let request = Request { action, key_id: &key.key_id, endpoint, host, params, creds };
        std::thread::scope(|s| {
            s.spawn(|| {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| fail("Runtime", format!("cannot start an I/O runtime: {e}")))?;
                runtime.block_on(request.send_with_retries())
            })
            .join()
            .unwrap_or_else(|_| Err(fail("Internal", "the KMS call panicked".to_owned())))
        })
    }
}

/// One action to send.
struct Request<'a> {
    action: &'a str,
    key_id: &'a str,
    endpoint: String,
    host: String,
    params: Vec<(String, String)>,
    creds: Credentials,
}

impl Request<'_> {
    async fn send_with_retries(&self) -> Result<serde_json::Value, KmsError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("meshform/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| self.error("Transport", format!("cannot build the HTTP client: {e}")))?;
        let mut attempt = 1;
        loop {
            let started = Instant::now();
            let result = self.send(&http).await;
            let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
            let (status, request_id) = match &result {
                Ok(v) => ("ok", v.get("RequestId").and_then(|r| r.as_str()).unwrap_or("")),
                Err((e, _)) => (e.code.as_str(), e.request_id.as_deref().unwrap_or("")),
            };
            tracing::debug!(
                target: "meshform::kms",
                action = self.action,
                key_id = self.key_id,
                endpoint = %self.endpoint,
                attempt,
                status,
                request_id,
                duration_ms,
                "call"
            );
            match result {
                Ok(v) => return Ok(v),
                Err((_, true)) if attempt < ATTEMPTS => {
                    tokio::time::sleep(Duration::from_millis(200 << attempt)).await;
                    attempt += 1;
                }
                Err((e, _)) => return Err(e),
            }
        }
    }

    fn error(&self, code: &str, message: String) -> KmsError {
        KmsError {
            action: self.action.to_owned(),
            key_id: self.key_id.to_owned(),
            code: code.to_owned(),
            message,
            request_id: None,
        }
    }

    /// One signed request; the error says whether trying again may help.
    async fn send(&self, http: &reqwest::Client) -> Result<serde_json::Value, (KmsError, bool)> {
        let body = meshform_acs::encode_form(&self.params);
        let now = time::OffsetDateTime::now_utc();
        let date = format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            now.year(),
            now.month() as u8,
            now.day(),
            now.hour(),
            now.minute(),
            now.second()
        );
        let nonce = uuid::Uuid::new_v4().simple().to_string();
        let call = RpcCall {
            host: &self.host,
            action: self.action,
            version: VERSION,
            body: &body,
            date: &date,
            nonce: &nonce,
        };
        let signer = Signer {
            access_key_id: &self.creds.access_key_id,
            access_key_secret: self.creds.access_key_secret.expose(),
            security_token: self.creds.security_token.as_ref().map(|t| t.expose()),
        };
        let mut req = http.post(format!("{}/", self.endpoint));
        for (k, v) in signed_headers(&call, &signer) {
            req = req.header(k, v);
        }
        let transport = |e: reqwest::Error| {
            (self.error("Transport", format!("cannot reach {}: {e}", self.endpoint)), true)
        };
        let resp = req.body(body).send().await.map_err(transport)?;
        let status = resp.status().as_u16();
        let text = resp.text().await.map_err(transport)?;
        let json: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(
            |_| serde_json::json!({ "Message": text.chars().take(300).collect::<String>() }),
        );
        if (200..300).contains(&status) {
            return Ok(json);
        }
        let field = |a: &str| json.get(a).and_then(|v| v.as_str()).map(str::to_owned);
        let code = field("Code").unwrap_or_else(|| format!("HTTP{status}"));
        let transient = status >= 500 || code.starts_with("Throttling");
        let mut e = self.error(&code, field("Message").unwrap_or_else(|| format!("HTTP {status}")));
        e.request_id = field("RequestId");
        Err((e, transient))
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
