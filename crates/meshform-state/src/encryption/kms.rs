//! Key providers backed by a key management service: `key_provider "alicloud_kms" "NAME"`.
//!
//! Every run asks the service for a fresh data key (`GenerateDataKey`, once per run, as a
//! passphrase is derived once per run: an apply journals thousands of entries), seals each payload
//! with its plaintext and a fresh nonce and keeps only its encrypted form
//! (the `CiphertextBlob`) in the envelope's meta; a read asks the service to `Decrypt` that blob.
//! The meta of `key_provider.alicloud_kms.NAME` is the base64 of
//! `{"ciphertext_blob": "…", "key_id": "…", "encryption_context": {…}}`: the context a key was
//! generated under is the one its decryption is asked with, so changing the configured context
//! later does not lock the old state out (OpenTofu learnt this the hard way).
//!
//! The service itself is a [`DataKeyService`] trait object, synchronous like the rest of this
//! module: the implementation (in the binary, over the signed RPC API) does its network I/O on a
//! thread of its own, outside the caller's runtime. No data key ever appears in `Debug` output or in
//! an error; errors name the key id, the API's error code and its request id.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// The length of the data keys AES-256-GCM uses.
pub const DATA_KEY_LEN: usize = 32;

/// What a `key_provider "alicloud_kms" "NAME"` block says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KmsKeySettings {
    /// The block's name (`key_provider.alicloud_kms.NAME`).
    pub name: String,
    /// The customer master key: its id or an alias (`alias/…`).
    pub key_id: String,
    /// The data key's kind; `AES_256` (a 32-byte key) is the one AES-256-GCM takes.
    pub key_spec: String,
    /// The region of the KMS endpoint (`kms.REGION.aliyuncs.com`).
    pub region: String,
    /// An endpoint overriding the region's (`https://kms-vpc.…` or a sandbox's `http://127.0.0.1:…`).
    pub endpoint: Option<String>,
    /// Key-value pairs bound to every data key generated (KMS's `EncryptionContext`).
    pub encryption_context: BTreeMap<String, String>,
}

/// A data key in clear: never shown, overwritten when dropped.
#[derive(Clone, PartialEq, Eq)]
pub struct DataKey(Vec<u8>);

impl DataKey {
    pub fn new(bytes: Vec<u8>) -> DataKey {
        DataKey(bytes)
    }

    /// The raw key, for sealing and opening only.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl Drop for DataKey {
    /// Overwrites the key before its memory is freed (`black_box` keeps the writes).
    fn drop(&mut self) {
        self.0.fill(0);
        std::hint::black_box(&self.0);
    }
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DataKey({} bytes, sensitive)", self.0.len())
    }
}

/// A data key the service generated: its plaintext and what to store.
#[derive(Debug)]
pub struct GeneratedDataKey {
    pub plaintext: DataKey,
    /// The data key encrypted under the master key (base64, as the API returns it).
    pub ciphertext_blob: String,
    /// The id of the master key (the API resolves an alias to it).
    pub key_id: String,
}

/// A failed call to the key management service. Never holds key material.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{action} with KMS key {key_id} failed: {code}: {message}{}", request_suffix(.request_id))]
pub struct KmsError {
    /// `GenerateDataKey` or `Decrypt`.
    pub action: String,
    pub key_id: String,
    /// The API's error code (`Forbidden.KeyNotFound`, …) or what went wrong on the way
    /// (`Transport`, `Credentials`, `InvalidResponse`).
    pub code: String,
    pub message: String,
    pub request_id: Option<String>,
}

fn request_suffix(id: &Option<String>) -> String {
    id.as_ref().map(|id| format!(" (request {id})")).unwrap_or_default()
}

/// The two calls a KMS key provider makes. Implementations are synchronous and may be called from
/// inside an async runtime: they do their I/O elsewhere (a thread of their own).
pub trait DataKeyService: Send + Sync {
    /// A fresh data key under `key` (`GenerateDataKey`).
    fn generate_data_key(&self, key: &KmsKeySettings) -> Result<GeneratedDataKey, KmsError>;

    /// The plaintext of a stored data key (`Decrypt`), with the context it was generated under.
    fn decrypt_data_key(
        &self,
        key: &KmsKeySettings,
        ciphertext_blob: &str,
        encryption_context: &BTreeMap<String, String>,
    ) -> Result<DataKey, KmsError>;
}

/// A `key_provider "alicloud_kms" "NAME"`: its settings and the service that holds its master key.
#[derive(Clone)]
pub struct KmsKey {
    settings: KmsKeySettings,
    service: Arc<dyn DataKeyService>,
}

impl fmt::Debug for KmsKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KmsKey").field("settings", &self.settings).finish_non_exhaustive()
    }
}

impl KmsKey {
    pub fn new(settings: KmsKeySettings, service: Arc<dyn DataKeyService>) -> KmsKey {
        KmsKey { settings, service }
    }

    pub fn settings(&self) -> &KmsKeySettings {
        &self.settings
    }

    /// The key of this provider's entry in an envelope's `meta`.
    pub fn meta_key(&self) -> String {
        format!("key_provider.alicloud_kms.{}", self.settings.name)
    }

    /// A fresh data key and the meta that lets a later read recover it.
    pub(super) fn generate(&self) -> Result<(DataKey, KmsMeta), String> {
        let generated =
            self.service.generate_data_key(&self.settings).map_err(|e| e.to_string())?;
        if generated.plaintext.expose().len() != DATA_KEY_LEN {
            return Err(format!(
                "GenerateDataKey with KMS key {} returned a {}-byte key; AES-256-GCM needs \
                 {DATA_KEY_LEN} (key_spec = \"AES_256\")",
                self.settings.key_id,
                generated.plaintext.expose().len()
            ));
        }
        let meta = KmsMeta {
            ciphertext_blob: generated.ciphertext_blob,
            key_id: generated.key_id,
            encryption_context: self.settings.encryption_context.clone(),
        };
        Ok((generated.plaintext, meta))
    }

    /// The data key `meta` holds in encrypted form.
    pub(super) fn recover(&self, meta: &KmsMeta) -> Result<DataKey, String> {
        let key = self
            .service
            .decrypt_data_key(&self.settings, &meta.ciphertext_blob, &meta.encryption_context)
            .map_err(|e| e.to_string())?;
        if key.expose().len() != DATA_KEY_LEN {
            return Err(format!(
                "Decrypt with KMS key {} returned a {}-byte key; AES-256-GCM needs {DATA_KEY_LEN}",
                meta.key_id,
                key.expose().len()
            ));
        }
        Ok(key)
    }
}

/// The meta of a KMS key provider in an envelope.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) struct KmsMeta {
    pub ciphertext_blob: String,
    #[serde(default)]
    pub key_id: String,
    #[serde(default)]
    pub encryption_context: BTreeMap<String, String>,
}

#[cfg(test)]
pub(crate) mod tests {
    //! [`FakeKms`]: an in-process service with a real master key, for the tests of this module.

    use std::sync::atomic::{AtomicUsize, Ordering};

    use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
    use base64::engine::general_purpose::STANDARD as B64;
    use base64::Engine as _;

    use super::*;

    /// Seals data keys under one master key, binding the context; counts the calls.
    pub(crate) struct FakeKms {
        pub key_id: String,
        master: [u8; 32],
        pub generated: AtomicUsize,
        pub decrypted: AtomicUsize,
    }

    impl FakeKms {
        pub(crate) fn new(key_id: &str) -> Arc<FakeKms> {
            let mut master = [0u8; 32];
            aws_lc_rs::rand::fill(&mut master).expect("random");
            Arc::new(FakeKms {
                key_id: key_id.to_owned(),
                master,
                generated: AtomicUsize::new(0),
                decrypted: AtomicUsize::new(0),
            })
        }

        fn sealer(&self) -> LessSafeKey {
            LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &self.master).expect("key"))
        }

        fn error(&self, action: &str, key: &KmsKeySettings, code: &str) -> KmsError {
            KmsError {
                action: action.to_owned(),
                key_id: key.key_id.clone(),
                code: code.to_owned(),
                message: "refused".to_owned(),
                request_id: Some("REQ-1".to_owned()),
            }
        }
    }

    fn aad(context: &BTreeMap<String, String>) -> Vec<u8> {
        serde_json::to_vec(context).expect("JSON")
    }

    impl DataKeyService for FakeKms {
        fn generate_data_key(&self, key: &KmsKeySettings) -> Result<GeneratedDataKey, KmsError> {
            if key.key_id != self.key_id {
                return Err(self.error("GenerateDataKey", key, "Forbidden.KeyNotFound"));
            }
            self.generated.fetch_add(1, Ordering::SeqCst);
            let mut plain = vec![0u8; DATA_KEY_LEN];
            aws_lc_rs::rand::fill(&mut plain).expect("random");
            let mut nonce = [0u8; NONCE_LEN];
            aws_lc_rs::rand::fill(&mut nonce).expect("random");
            let mut sealed = plain.clone();
            self.sealer()
                .seal_in_place_append_tag(
                    Nonce::assume_unique_for_key(nonce),
                    Aad::from(aad(&key.encryption_context)),
                    &mut sealed,
                )
                .expect("seal");
            let blob = [nonce.as_slice(), &sealed].concat();
            Ok(GeneratedDataKey {
                plaintext: DataKey::new(plain),
                ciphertext_blob: B64.encode(blob),
                key_id: self.key_id.clone(),
            })
        }

        fn decrypt_data_key(
            &self,
            key: &KmsKeySettings,
            ciphertext_blob: &str,
            encryption_context: &BTreeMap<String, String>,
        ) -> Result<DataKey, KmsError> {
            self.decrypted.fetch_add(1, Ordering::SeqCst);
            let blob = B64
                .decode(ciphertext_blob)
                .map_err(|_| self.error("Decrypt", key, "InvalidParameter"))?;
            if blob.len() < NONCE_LEN {
                return Err(self.error("Decrypt", key, "InvalidParameter"));
            }
            let (nonce, sealed) = blob.split_at(NONCE_LEN);
            let mut buf = sealed.to_vec();
            let nonce = Nonce::try_assume_unique_for_key(nonce).expect("nonce");
            let plain = self
                .sealer()
                .open_in_place(nonce, Aad::from(aad(encryption_context)), &mut buf)
                .map_err(|_| self.error("Decrypt", key, "InvalidParameter"))?;
            Ok(DataKey::new(plain.to_vec()))
        }
    }

    pub(crate) fn settings(name: &str, key_id: &str) -> KmsKeySettings {
        KmsKeySettings {
            name: name.to_owned(),
            key_id: key_id.to_owned(),
            key_spec: "AES_256".to_owned(),
            region: "cn-hangzhou".to_owned(),
            endpoint: None,
            encryption_context: BTreeMap::from([("purpose".to_owned(), "state".to_owned())]),
        }
    }

    #[test]
    fn errors_name_the_key_the_code_and_the_request_but_no_key_material() {
        let e = KmsError {
            action: "Decrypt".into(),
            key_id: "alias/state".into(),
            code: "Forbidden.KeyNotFound".into(),
            message: "The specified Key is not found.".into(),
            request_id: Some("7021B6EC".into()),
        };
        assert_eq!(
            e.to_string(),
            "Decrypt with KMS key alias/state failed: Forbidden.KeyNotFound: The specified Key \
             is not found. (request 7021B6EC)"
        );
        assert_eq!(format!("{:?}", DataKey::new(vec![7; 32])), "DataKey(32 bytes, sensitive)");
    }

    mod with_encryption {
        use super::super::super::{
            Encryption, EncryptionError, KeyProvider, Method, Pbkdf2Key, Target,
        };
        use super::*;

        fn kms_method(service: &Arc<FakeKms>, name: &str, key_id: &str) -> Method {
            let service: Arc<dyn DataKeyService> = service.clone();
            Method::AesGcm(KeyProvider::AlicloudKms(KmsKey::new(settings(name, key_id), service)))
        }

        fn passphrase() -> Method {
            let k = Pbkdf2Key::new("main", "correct horse battery staple", 1_000).expect("valid");
            Method::AesGcm(k.into())
        }

        /// One `GenerateDataKey` per run, as OpenTofu's key providers (and as a passphrase is
        /// derived once per run): a 10,000-operation apply appends thousands of journal entries.
        #[test]
        fn a_run_seals_with_one_data_key_and_a_new_run_decrypts_it_once() {
            let kms = FakeKms::new("key-1");
            let enc =
                Encryption::new(Target::State, Some(kms_method(&kms, "main", "key-1")), vec![]);
            let secret = b"-----BEGIN PRIVATE KEY-----\nMIIE";
            let first = enc.encrypt(secret, Some(1), Some("L")).expect("encrypted");
            let second = enc.encrypt(secret, Some(2), Some("L")).expect("encrypted");
            assert_eq!(kms.generated.load(Ordering::SeqCst), 1, "one data key per run");
            let blob = |out: &[u8]| {
                let doc: serde_json::Value = serde_json::from_slice(out).expect("JSON");
                let meta = doc["meta"]["key_provider.alicloud_kms.main"].as_str().expect("meta");
                let meta: serde_json::Value =
                    serde_json::from_slice(&B64.decode(meta).expect("b64")).expect("JSON");
                assert_eq!(meta["key_id"], "key-1");
                assert_eq!(meta["encryption_context"]["purpose"], "state");
                meta["ciphertext_blob"].as_str().expect("blob").to_owned()
            };
            assert_eq!(blob(&first), blob(&second));
            let data = |out: &[u8]| {
                let doc: serde_json::Value = serde_json::from_slice(out).expect("JSON");
                doc["encrypted_data"].as_str().expect("data").to_owned()
            };
            assert_ne!(data(&first), data(&second), "a fresh nonce per payload");
            assert!(!String::from_utf8_lossy(&first).contains("PRIVATE KEY"));
            // Reading back what this run wrote needs no call; a new run decrypts each key once.
            assert_eq!(enc.decrypt(&second).expect("read back").plaintext, secret);
            assert_eq!(kms.decrypted.load(Ordering::SeqCst), 0);
            let next =
                Encryption::new(Target::State, Some(kms_method(&kms, "main", "key-1")), vec![]);
            assert_eq!(next.decrypt(&first).expect("new run").plaintext, secret);
            assert_eq!(next.decrypt(&second).expect("again").plaintext, secret);
            assert_eq!(kms.decrypted.load(Ordering::SeqCst), 1);
            // The next run's writes use a data key of their own.
            let third = next.encrypt(secret, Some(3), Some("L")).expect("encrypted");
            assert_eq!(kms.generated.load(Ordering::SeqCst), 2);
            assert_ne!(blob(&third), blob(&first));
        }

        #[test]
        fn an_unknown_key_fails_the_write_naming_the_key_code_and_request() {
            let kms = FakeKms::new("key-1");
            let enc = Encryption::new(
                Target::State,
                Some(kms_method(&kms, "main", "alias/nope")),
                vec![],
            );
            let e = enc.encrypt(b"{}", None, None).expect_err("refused");
            assert!(matches!(e, EncryptionError::KeyUnavailable { .. }), "{e}");
            let m = e.to_string();
            for part in
                ["key_provider.alicloud_kms.main", "alias/nope", "Forbidden.KeyNotFound", "REQ-1"]
            {
                assert!(m.contains(part), "{m}");
            }
        }

        #[test]
        fn another_master_key_or_an_altered_blob_cannot_open_the_state() {
            let kms = FakeKms::new("key-1");
            let enc =
                Encryption::new(Target::State, Some(kms_method(&kms, "main", "key-1")), vec![]);
            let out = enc.encrypt(b"{}", None, None).expect("encrypted");
            let other = FakeKms::new("key-1");
            let wrong =
                Encryption::new(Target::State, Some(kms_method(&other, "main", "key-1")), vec![]);
            let m = wrong.decrypt(&out).expect_err("another master key").to_string();
            assert!(m.contains("Decrypt with KMS key key-1 failed: InvalidParameter"), "{m}");
        }

        #[test]
        fn rotation_from_a_passphrase_to_kms_and_back_goes_through_fallbacks() {
            let kms = FakeKms::new("key-1");
            let old = Encryption::new(Target::State, Some(passphrase()), vec![]);
            let by_passphrase = old.encrypt(b"{\"a\":1}", None, None).expect("encrypted");
            let to_kms = Encryption::new(
                Target::State,
                Some(kms_method(&kms, "main", "key-1")),
                vec![passphrase()],
            );
            assert_eq!(to_kms.decrypt(&by_passphrase).expect("fallback").plaintext, b"{\"a\":1}");
            let by_kms = to_kms.encrypt(b"{\"a\":2}", None, None).expect("encrypted");
            let m = old.decrypt(&by_kms).expect_err("the passphrase alone").to_string();
            assert!(m.contains("key_provider.pbkdf2.main: the envelope has no metadata"), "{m}");
            let back = Encryption::new(
                Target::State,
                Some(passphrase()),
                vec![kms_method(&kms, "main", "key-1")],
            );
            assert_eq!(back.decrypt(&by_kms).expect("fallback").plaintext, b"{\"a\":2}");
        }
    }
}
