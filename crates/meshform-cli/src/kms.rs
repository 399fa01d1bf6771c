//! The Alibaba Cloud KMS client behind `key_provider "alicloud_kms"`: `GenerateDataKey` and
//! `Decrypt` (product Kms, API version 2016-01-20) through `meshform_acs`'s [`AcsClient`] (signed
//! RPC, retries of throttling, server and transport errors, a debug line per attempt with the request
//! id — never a parameter or an answer field) at the block's `endpoint`, else
//! `ALIBABA_CLOUD_KMS_ENDPOINT`, else `kms.REGION.aliyuncs.com` (the sandbox's emulator and VPC
//! endpoints are given by one of the first two).
//!
//! Credentials come from the Alibaba Cloud credential chain, as for the asm provider: the
//! `ALIBABA_CLOUD_*` variables, OIDC (RRSA), a profile of `~/.aliyun/config.json`, the ECS instance
//! RAM role — resolved once, temporary ones refreshed before they expire.
//!
//! The state layer calls this synchronously, possibly from inside the run's tokio runtime. The
//! calls therefore run on one worker thread of their own, started on first use, with a runtime of its
//! own that keeps the credentials and the clients (and their connections) for the whole run; the
//! caller waits for the answer on a channel and never blocks on a runtime.

use std::collections::{BTreeMap, HashMap};
use std::sync::mpsc;
use std::sync::Mutex;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use meshform_acs::client::{regional_endpoint, AcsClient};
use meshform_acs::credentials::{chain, CredentialProvider, ExplicitCredentials, ProviderEnv};
use meshform_core::sync::lock;
use meshform_state::encryption::{
    DataKey, DataKeyService, GeneratedDataKey, KmsError, KmsKeySettings,
};

/// KMS's API version.
const VERSION: &str = "2016-01-20";
/// The endpoint used when a key provider sets none (before `kms.REGION.aliyuncs.com`), as
/// `ALIBABA_CLOUD_SERVICEMESH_ENDPOINT` is for the asm provider; the sandbox's `sandbox.env` sets it.
pub const ENDPOINT_VARIABLE: &str = "ALIBABA_CLOUD_KMS_ENDPOINT";

/// One call for the worker, and where its answer goes.
struct Job {
    key: KmsKeySettings,
    action: &'static str,
    params: Vec<(String, String)>,
    reply: mpsc::Sender<Result<serde_json::Value, KmsError>>,
}

/// Alibaba Cloud KMS, with the user's credentials.
pub struct AlibabaKms {
    env: ProviderEnv,
    /// The worker's queue, once started.
    jobs: Mutex<Option<mpsc::Sender<Job>>>,
}

impl std::fmt::Debug for AlibabaKms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlibabaKms").finish_non_exhaustive()
    }
}

fn error(key: &KmsKeySettings, action: &str, code: &str, message: String) -> KmsError {
    KmsError {
        action: action.to_owned(),
        key_id: key.key_id.clone(),
        code: code.to_owned(),
        message,
        request_id: None,
    }
}

impl AlibabaKms {
    pub fn new(env: ProviderEnv) -> AlibabaKms {
        AlibabaKms { env, jobs: Mutex::new(None) }
    }

    /// One action (retried by the client's policy), run by the worker.
    fn call(
        &self,
        key: &KmsKeySettings,
        action: &'static str,
        params: Vec<(String, String)>,
    ) -> Result<serde_json::Value, KmsError> {
        let fail = |code: &str, message: &str| error(key, action, code, message.to_owned());
        let (reply, answer) = mpsc::channel();
        let job = Job { key: key.clone(), action, params, reply };
        {
            let mut jobs = lock(&self.jobs);
            let queue = match &*jobs {
                Some(q) => q.clone(),
                None => {
                    let q = start_worker(self.env.clone()).map_err(|e| {
                        fail("Runtime", &format!("cannot start the KMS worker: {e}"))
                    })?;
                    *jobs = Some(q.clone());
                    q
                }
            };
            queue.send(job).map_err(|_| fail("Internal", "the KMS worker has stopped"))?;
        }
        answer.recv().unwrap_or_else(|_| Err(fail("Internal", "the KMS worker has stopped")))
    }
}

/// Starts the worker thread: its runtime, then one job at a time until the queue is dropped.
fn start_worker(env: ProviderEnv) -> std::io::Result<mpsc::Sender<Job>> {
    let (queue, jobs) = mpsc::channel::<Job>();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    std::thread::Builder::new().name("meshform-kms".to_owned()).spawn(move || {
        let mut worker = Worker { env, credentials: None, clients: HashMap::new() };
        while let Ok(job) = jobs.recv() {
            let answer = runtime.block_on(worker.run(&job));
            // The caller may have gone (a second Ctrl-C): nothing to answer then.
            let _ = job.reply.send(answer);
        }
    })?;
    Ok(queue)
}

/// What the worker keeps between calls.
struct Worker {
    env: ProviderEnv,
    credentials: Option<CredentialProvider>,
    /// One client per endpoint.
    clients: HashMap<String, AcsClient>,
}

impl Worker {
    async fn run(&mut self, job: &Job) -> Result<serde_json::Value, KmsError> {
        let (key, action) = (&job.key, job.action);
        let credentials = match &self.credentials {
            Some(c) => c.clone(),
            None => {
                let c = chain(&ExplicitCredentials::default(), &self.env)
                    .await
                    .map_err(|e| error(key, action, &e.code, e.message))?;
                self.credentials = Some(c.clone());
                c
            }
        };
        let endpoint = key
            .endpoint
            .clone()
            .or_else(|| {
                self.env.vars.get(ENDPOINT_VARIABLE).filter(|e| !e.trim().is_empty()).cloned()
            })
            .unwrap_or_else(|| regional_endpoint("kms", &key.region));
        let client = match self.clients.get(&endpoint) {
            Some(c) => c.clone(),
            None => {
                let c = AcsClient::new(&endpoint, VERSION, credentials)
                    .map_err(|m| error(key, action, "InvalidEndpoint", m))?;
                self.clients.insert(endpoint, c.clone());
                c
            }
        };
        client.rpc(action, &job.params).await.map_err(|e| {
            let message = e.message.strip_prefix(&format!("{action}: ")).unwrap_or(&e.message);
            KmsError {
                action: action.to_owned(),
                key_id: key.key_id.clone(),
                code: e.code.clone(),
                message: message.to_owned(),
                request_id: e.request_id.clone(),
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// As the state layer calls it: synchronously, from inside a runtime (a naive `block_on` here
    /// would panic), against the sandbox's KMS on a runtime of its own.
    #[test]
    fn calls_from_inside_a_runtime_generate_and_decrypt_data_keys() {
        let server = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a runtime for the emulator");
        let dir = tempfile::tempdir().expect("a temporary directory");
        let emulator = server.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
            let opts = meshform_sandbox::kms::KmsOptions {
                state_file: dir.path().join("kms.json"),
                region: "cn-hangzhou".to_owned(),
                access_key_id: "LTAI5tKmsTest".to_owned(),
                access_key_secret: "kms-test-secret".to_owned(),
            };
            meshform_sandbox::kms::start(listener, opts).await.expect("the emulator starts")
        });
        let vars = BTreeMap::from([
            ("ALIBABA_CLOUD_ACCESS_KEY_ID".to_owned(), "LTAI5tKmsTest".to_owned()),
            ("ALIBABA_CLOUD_ACCESS_KEY_SECRET".to_owned(), "kms-test-secret".to_owned()),
        ]);
        let kms = AlibabaKms::new(ProviderEnv { vars, home: None });
        let key = KmsKeySettings {
            name: "state".to_owned(),
            key_id: meshform_sandbox::kms::DEFAULT_ALIAS.to_owned(),
            key_spec: "AES_256".to_owned(),
            region: "cn-hangzhou".to_owned(),
            endpoint: Some(emulator.endpoint()),
            encryption_context: BTreeMap::from([("purpose".to_owned(), "test".to_owned())]),
        };
        let caller = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("the caller's runtime");
        let (generated, decrypted) = caller.block_on(async {
            let g = kms.generate_data_key(&key).expect("a data key");
            let d = kms
                .decrypt_data_key(&key, &g.ciphertext_blob, &key.encryption_context)
                .expect("decrypted");
            (g, d)
        });
        assert_eq!(generated.plaintext.expose().len(), 32);
        assert_eq!(generated.plaintext, decrypted);
        assert_eq!(generated.key_id, emulator.default_key_id());
        let e = kms
            .decrypt_data_key(&key, &generated.ciphertext_blob, &BTreeMap::new())
            .expect_err("another context");
        assert_eq!(e.code, "InvalidParameter");
        assert!(e.request_id.is_some(), "{e}");
        let unknown = KmsKeySettings { key_id: "alias/none".to_owned(), ..key };
        let e = kms.generate_data_key(&unknown).expect_err("no such alias");
        assert_eq!((e.code.as_str(), e.key_id.as_str()), ("Forbidden.AliasNotFound", "alias/none"));
        server.block_on(emulator.shutdown());
    }
}
