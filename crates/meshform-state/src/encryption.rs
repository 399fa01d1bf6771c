//! Encryption at rest of state documents and saved plan files, after OpenTofu's design.
//!
//! An [`Encryption`] is what one target (the state, or plan files) is configured with: the method
//! every write uses, and fallback methods that reads try after it (key rotation, and migration from
//! or to plaintext through [`Method::Unencrypted`]). The one encrypting method is AES-256-GCM
//! ([`Method::AesGcm`]) with the key of a [`KeyProvider`]: derived from a passphrase by
//! PBKDF2-HMAC-SHA512 ([`Pbkdf2Key`], aws-lc-rs), or a fresh data key per run from Alibaba Cloud
//! KMS ([`KmsKey`], see [`kms`]).
//!
//! # The envelope
//!
//! An encrypted payload is a JSON document:
//!
//! ```json
//! {"serial": 4, "lineage": "…",
//!  "meta": {"key_provider.pbkdf2.main": "<base64 of {\"salt\":\"<base64>\",\"iterations\":600000,\"hash_function\":\"sha512\",\"key_length\":32}>"},
//!  "encrypted_data": "<base64 of nonce (12 bytes) | ciphertext | tag (16 bytes)>",
//!  "encryption_version": "v0"}
//! ```
//!
//! `serial` and `lineage` are left in clear text for states (a backend may need them) and checked
//! against the decrypted document on read; plan files have neither. The associated data of
//! AES-GCM is `meshform-state-v0` or `meshform-plan-v0`, so that a plan cannot pass for a state.
//! A salt is drawn once per [`Encryption`] (once per run) and the derived keys are cached in memory,
//! so that the many writes of one apply pay for PBKDF2 once. A KMS key provider's meta holds the
//! encrypted data key instead ([`kms`]); the data keys a run generated or decrypted are cached by
//! their encrypted form, so reading back what it wrote costs no `Decrypt`.
//!
//! # Reads
//!
//! - An envelope without an encrypting method configured: [`EncryptionError::NotConfigured`], with
//!   OpenTofu's message.
//! - An envelope: each AES-GCM method of the chain (method, then fallbacks) that finds its metadata
//!   is tried; when none opens it, [`EncryptionError::DecryptionFailed`] (a wrong passphrase shows as
//!   an authentication failure, a KMS refusal with its code and request id).
//! - Plaintext: accepted only when nothing is configured or the chain has
//!   [`Method::Unencrypted`] (OpenTofu's rule); otherwise
//!   [`EncryptionError::UnencryptedNotAllowed`].
//!
//! No passphrase or key ever appears in an error or in `Debug` output.

pub mod kms;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::num::NonZeroU32;
use std::sync::Mutex;

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use aws_lc_rs::pbkdf2;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use meshform_core::sync::lock;
use serde::{Deserialize, Serialize};

use kms::KmsMeta;
pub use kms::{DataKey, DataKeyService, GeneratedDataKey, KmsError, KmsKey, KmsKeySettings};

/// The `encryption_version` this build writes and reads.
pub const ENCRYPTION_VERSION: &str = "v0";
/// OpenTofu's default PBKDF2 work factor (iterations of HMAC-SHA512).
pub const DEFAULT_ITERATIONS: u32 = 600_000;
/// The lowest work factor a configuration may ask for (OpenTofu's minimum).
pub const MIN_ITERATIONS: u32 = 200_000;
/// The highest work factor a stored envelope may ask for: more is taken as a damaged or hostile file.
pub const MAX_ITERATIONS: u32 = 50_000_000;
/// The shortest passphrase accepted (OpenTofu's minimum).
pub const MIN_PASSPHRASE_LEN: usize = 16;
/// The length of the salt drawn for new envelopes.
pub const SALT_LEN: usize = 32;
const KEY_LEN: usize = 32;
/// Payloads sealed with one KMS data key before a new one is generated (random 96-bit nonces stay
/// safe far beyond this).
const MAX_PAYLOADS_PER_DATA_KEY: u64 = 1 << 20;

/// What is encrypted: the words messages use and the associated data that binds a payload to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    State,
    Plan,
}

impl Target {
    fn aad(self) -> &'static [u8] {
        match self {
            Target::State => b"meshform-state-v0",
            Target::Plan => b"meshform-plan-v0",
        }
    }

    fn noun(self) -> &'static str {
        match self {
            Target::State => "state",
            Target::Plan => "plan file",
        }
    }
}

/// A `key_provider "pbkdf2" "NAME"`: a passphrase and a work factor. `Debug` never shows the
/// passphrase.
#[derive(Clone)]
pub struct Pbkdf2Key {
    name: String,
    passphrase: String,
    iterations: NonZeroU32,
}

impl fmt::Debug for Pbkdf2Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pbkdf2Key")
            .field("name", &self.name)
            .field("passphrase", &"(sensitive)")
            .field("iterations", &self.iterations)
            .finish()
    }
}

impl Pbkdf2Key {
    /// The key provider `key_provider.pbkdf2.NAME`. The configuration layer enforces
    /// [`MIN_ITERATIONS`]; here only a passphrase of at least [`MIN_PASSPHRASE_LEN`] characters and
    /// a non-zero work factor up to [`MAX_ITERATIONS`] are required.
    pub fn new(
        name: &str,
        passphrase: &str,
        iterations: u32,
    ) -> Result<Pbkdf2Key, EncryptionError> {
        let invalid = |message: String| EncryptionError::Invalid { message };
        if passphrase.chars().count() < MIN_PASSPHRASE_LEN {
            return Err(invalid(format!(
                "the passphrase of key_provider.pbkdf2.{name} is shorter than \
                 {MIN_PASSPHRASE_LEN} characters"
            )));
        }
        let iterations =
            NonZeroU32::new(iterations).filter(|n| n.get() <= MAX_ITERATIONS).ok_or_else(|| {
                invalid(format!(
                    "key_provider.pbkdf2.{name}: iterations must be between 1 and {MAX_ITERATIONS}"
                ))
            })?;
        Ok(Pbkdf2Key { name: name.to_owned(), passphrase: passphrase.to_owned(), iterations })
    }

    /// The key of this provider's entry in an envelope's `meta`.
    pub fn meta_key(&self) -> String {
        format!("key_provider.pbkdf2.{}", self.name)
    }
}

/// Where an `aes_gcm` method's key comes from.
#[derive(Clone, Debug)]
pub enum KeyProvider {
    /// `key_provider "pbkdf2"`: derived from a passphrase.
    Pbkdf2(Pbkdf2Key),
    /// `key_provider "alicloud_kms"`: a fresh data key per run from Alibaba Cloud KMS.
    AlicloudKms(KmsKey),
}

impl KeyProvider {
    /// The key of this provider's entry in an envelope's `meta`.
    pub fn meta_key(&self) -> String {
        match self {
            KeyProvider::Pbkdf2(k) => k.meta_key(),
            KeyProvider::AlicloudKms(k) => k.meta_key(),
        }
    }
}

impl From<Pbkdf2Key> for KeyProvider {
    fn from(k: Pbkdf2Key) -> KeyProvider {
        KeyProvider::Pbkdf2(k)
    }
}

impl From<KmsKey> for KeyProvider {
    fn from(k: KmsKey) -> KeyProvider {
        KeyProvider::AlicloudKms(k)
    }
}

/// An encryption method.
#[derive(Clone, Debug)]
pub enum Method {
    /// `method "unencrypted"`: plaintext, for migrating to or from encryption.
    Unencrypted,
    /// `method "aes_gcm"`: AES-256-GCM with the key its provider gives.
    AesGcm(KeyProvider),
}

/// Why a payload could not be encrypted or decrypted. No message holds a passphrase or a key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EncryptionError {
    #[error("{}", not_configured(*target))]
    NotConfigured { target: Target },

    #[error(
        "encountered unencrypted payload without unencrypted method configured: this {} is not \
         encrypted, but the encryption configuration has no `unencrypted` method to read it with. \
         To encrypt an existing {0}, add `method \"unencrypted\" \"NAME\" {{}}` and \
         `fallback {{ method = method.unencrypted.NAME }}` to its block, run `meshform init`, then \
         remove the fallback",
        target.noun()
    )]
    UnencryptedNotAllowed { target: Target },

    #[error(
        "decryption failed for all provided methods: {}. Check the passphrase or the KMS key; \
         nothing was changed",
        reasons.join("; ")
    )]
    DecryptionFailed { target: Target, reasons: Vec<String> },

    #[error("{meta_key}: no data key for the encrypted {}: {message}; nothing was written", target.noun())]
    KeyUnavailable { target: Target, meta_key: String, message: String },

    #[error("the encrypted {} is damaged: {message}", target.noun())]
    Malformed { target: Target, message: String },

    #[error("invalid encryption configuration: {message}")]
    Invalid { message: String },

    #[error("encryption failed: {message}")]
    Crypto { message: String },
}

impl EncryptionError {
    /// Whether a key management service refused or could not be reached (rather than a
    /// passphrase not matching): what to check is then the key and the cloud credentials.
    pub fn involves_kms(&self) -> bool {
        match self {
            EncryptionError::KeyUnavailable { .. } => true,
            EncryptionError::DecryptionFailed { reasons, .. } => {
                reasons.iter().any(|r| r.starts_with("key_provider.alicloud_kms."))
            }
            _ => false,
        }
    }
}

fn not_configured(target: Target) -> &'static str {
    match target {
        Target::State => {
            "This state file is encrypted and can not be read without an encryption configuration"
        }
        Target::Plan => {
            "the given plan file is encrypted and requires a valid encryption configuration to \
             decrypt"
        }
    }
}

/// A decrypted payload.
#[derive(Debug)]
pub struct Decrypted {
    pub plaintext: Vec<u8>,
    /// Whether the payload was an envelope (false: it was read as plaintext).
    pub was_encrypted: bool,
    /// The clear-text `serial` and `lineage` of a state envelope, to check against the document.
    pub serial: Option<u64>,
    pub lineage: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct Envelope {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    serial: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    lineage: Option<String>,
    meta: BTreeMap<String, String>,
    encrypted_data: String,
    encryption_version: String,
}

#[derive(Serialize, Deserialize)]
struct Pbkdf2Meta {
    salt: String,
    iterations: u32,
    hash_function: String,
    key_length: usize,
}

/// Whether `bytes` is an encrypted envelope (a JSON object with a non-empty `encryption_version`).
pub fn is_encrypted(bytes: &[u8]) -> bool {
    #[derive(Deserialize)]
    struct Probe {
        #[serde(default)]
        encryption_version: Option<serde_json::Value>,
    }
    let starts_like_json = bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    starts_like_json
        && serde_json::from_slice::<Probe>(bytes).is_ok_and(|p| match p.encryption_version {
            Some(serde_json::Value::String(s)) => !s.is_empty(),
            Some(serde_json::Value::Null) | None => false,
            Some(_) => true,
        })
}

/// Derived keys by (provider meta key, salt, iterations).
type KeyCache = HashMap<(String, Vec<u8>, u32), [u8; KEY_LEN]>;

/// The encryption of one target: the method writes use and the fallbacks reads also try.
pub struct Encryption {
    target: Target,
    method: Option<Method>,
    fallbacks: Vec<Method>,
    /// The salt of this run's envelopes, drawn on first use.
    salt: Mutex<Option<Vec<u8>>>,
    /// Derived keys, so that PBKDF2 runs once per salt.
    keys: Mutex<KeyCache>,
    /// KMS data keys by their encrypted form: what this run generated or decrypted.
    data_keys: Mutex<HashMap<String, DataKey>>,
    /// The KMS data key sealing this run's payloads (its stored form, and how many it sealed):
    /// one `GenerateDataKey` per run, not per write, as PBKDF2 derives one key per run — a
    /// 10,000-operation apply appends thousands of journal entries.
    kms_sealing: Mutex<Option<(KmsMeta, u64)>>,
}

impl fmt::Debug for Encryption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Encryption")
            .field("target", &self.target)
            .field("method", &self.method)
            .field("fallbacks", &self.fallbacks)
            .finish_non_exhaustive()
    }
}

impl Encryption {
    /// No encryption configured: plaintext is written and read, envelopes are refused.
    pub fn none(target: Target) -> Encryption {
        Encryption::new(target, None, Vec::new())
    }

    /// `method` for writes (`None`: nothing configured), and `fallbacks` tried after it on reads.
    pub fn new(target: Target, method: Option<Method>, fallbacks: Vec<Method>) -> Encryption {
        Encryption {
            target,
            method,
            fallbacks,
            salt: Mutex::new(None),
            keys: Mutex::new(HashMap::new()),
            data_keys: Mutex::new(HashMap::new()),
            kms_sealing: Mutex::new(None),
        }
    }

    /// Whether a `state`/`plan` block configures this target (plaintext or not).
    pub fn is_configured(&self) -> bool {
        self.method.is_some()
    }

    /// The same method without its fallbacks: what reads succeed with once a migration or a
    /// rotation is complete.
    pub fn without_fallbacks(&self) -> Encryption {
        Encryption::new(self.target, self.method.clone(), Vec::new())
    }

    pub fn target(&self) -> Target {
        self.target
    }

    /// Whether writes produce envelopes.
    pub fn encrypts(&self) -> bool {
        matches!(self.method, Some(Method::AesGcm(_)))
    }

    /// The payload as stored: an envelope (with `serial` and `lineage` in clear when given) when the
    /// write method encrypts, else `plaintext` unchanged.
    pub fn encrypt(
        &self,
        plaintext: &[u8],
        serial: Option<u64>,
        lineage: Option<&str>,
    ) -> Result<Vec<u8>, EncryptionError> {
        let Some(Method::AesGcm(provider)) = &self.method else { return Ok(plaintext.to_vec()) };
        let crypto = |what: &str| EncryptionError::Crypto { message: what.to_owned() };
        let (key, meta) = match provider {
            KeyProvider::Pbkdf2(p) => self.pbkdf2_sealing_key(p)?,
            KeyProvider::AlicloudKms(k) => self.kms_sealing_key(k)?,
        };
        let mut nonce = [0u8; NONCE_LEN];
        aws_lc_rs::rand::fill(&mut nonce).map_err(|_| crypto("no random bytes for the nonce"))?;
        let mut sealed = plaintext.to_vec();
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(self.target.aad()),
            &mut sealed,
        )
        .map_err(|_| crypto("AES-GCM sealing failed"))?;
        let mut data = nonce.to_vec();
        data.extend_from_slice(&sealed);
        let envelope = Envelope {
            serial,
            lineage: lineage.map(str::to_owned),
            meta: BTreeMap::from([(provider.meta_key(), B64.encode(meta))]),
            encrypted_data: B64.encode(data),
            encryption_version: ENCRYPTION_VERSION.to_owned(),
        };
        let mut out = serde_json::to_vec_pretty(&envelope).map_err(|e| crypto(&e.to_string()))?;
        out.push(b'\n');
        Ok(out)
    }

    /// The key of this run's salt for `provider`, and the meta that records how it was derived.
    /// This run's KMS data key (generated on first use, and again after
    /// [`MAX_PAYLOADS_PER_DATA_KEY`] payloads, far below where random nonces could repeat) and its
    /// stored form.
    fn kms_sealing_key(&self, k: &KmsKey) -> Result<(LessSafeKey, Vec<u8>), EncryptionError> {
        let crypto = |what: &str| EncryptionError::Crypto { message: what.to_owned() };
        let mut slot = lock(&self.kms_sealing);
        let reusable = slot.as_ref().and_then(|(meta, sealed)| {
            let key = lock(&self.data_keys).get(&meta.ciphertext_blob).cloned()?;
            (*sealed < MAX_PAYLOADS_PER_DATA_KEY).then(|| (meta.clone(), key))
        });
        let (meta, data_key) = match reusable {
            Some(found) => found,
            None => {
                let (data_key, meta) =
                    k.generate().map_err(|message| EncryptionError::KeyUnavailable {
                        target: self.target,
                        meta_key: k.meta_key(),
                        message,
                    })?;
                lock(&self.data_keys).insert(meta.ciphertext_blob.clone(), data_key.clone());
                *slot = Some((meta.clone(), 0));
                (meta, data_key)
            }
        };
        if let Some((_, sealed)) = slot.as_mut() {
            *sealed += 1;
        }
        let key = aes_key(data_key.expose())?;
        Ok((key, serde_json::to_vec(&meta).map_err(|e| crypto(&e.to_string()))?))
    }

    fn pbkdf2_sealing_key(
        &self,
        provider: &Pbkdf2Key,
    ) -> Result<(LessSafeKey, Vec<u8>), EncryptionError> {
        let crypto = |what: &str| EncryptionError::Crypto { message: what.to_owned() };
        let salt = {
            let mut slot = lock(&self.salt);
            match &*slot {
                Some(s) => s.clone(),
                None => {
                    let mut s = vec![0u8; SALT_LEN];
                    aws_lc_rs::rand::fill(&mut s)
                        .map_err(|_| crypto("no random bytes for the salt"))?;
                    *slot = Some(s.clone());
                    s
                }
            }
        };
        let key = self.key(provider, &salt, provider.iterations)?;
        let meta = Pbkdf2Meta {
            salt: B64.encode(&salt),
            iterations: provider.iterations.get(),
            hash_function: "sha512".to_owned(),
            key_length: KEY_LEN,
        };
        let meta = serde_json::to_vec(&meta).map_err(|e| crypto(&e.to_string()))?;
        Ok((key, meta))
    }

    /// The plaintext of a stored payload, following the rules of the module documentation.
    pub fn decrypt(&self, bytes: &[u8]) -> Result<Decrypted, EncryptionError> {
        let target = self.target;
        if !is_encrypted(bytes) {
            let plaintext_allowed =
                self.method.is_none() || self.chain().any(|m| matches!(m, Method::Unencrypted));
            if !plaintext_allowed {
                return Err(EncryptionError::UnencryptedNotAllowed { target });
            }
            return Ok(Decrypted {
                plaintext: bytes.to_vec(),
                was_encrypted: false,
                serial: None,
                lineage: None,
            });
        }
        if !self.chain().any(|m| matches!(m, Method::AesGcm(_))) {
            return Err(EncryptionError::NotConfigured { target });
        }
        let malformed = |message: String| EncryptionError::Malformed { target, message };
        let env: Envelope = serde_json::from_slice(bytes)
            .map_err(|e| malformed(format!("not an encryption envelope: {e}")))?;
        if env.encryption_version != ENCRYPTION_VERSION {
            return Err(malformed(format!(
                "encryption_version {:?} is not one this meshform reads (it reads {:?})",
                env.encryption_version, ENCRYPTION_VERSION
            )));
        }
        let data = B64
            .decode(env.encrypted_data.as_bytes())
            .map_err(|e| malformed(format!("encrypted_data is not base64: {e}")))?;
        let mut reasons = Vec::new();
        for provider in self.chain().filter_map(|m| match m {
            Method::AesGcm(p) => Some(p),
            Method::Unencrypted => None,
        }) {
            let meta_key = provider.meta_key();
            let Some(meta) = env.meta.get(&meta_key) else {
                reasons.push(format!("{meta_key}: the envelope has no metadata for it"));
                continue;
            };
            match self.open(provider, meta, &data) {
                Ok(plaintext) => {
                    return Ok(Decrypted {
                        plaintext,
                        was_encrypted: true,
                        serial: env.serial,
                        lineage: env.lineage,
                    })
                }
                Err(reason) => reasons.push(format!("{meta_key}: {reason}")),
            }
        }
        Err(EncryptionError::DecryptionFailed { target, reasons })
    }

    fn chain(&self) -> impl Iterator<Item = &Method> {
        self.method.iter().chain(&self.fallbacks)
    }

    /// Opens `data` with `provider`'s key under the stored `meta`; the error is a reason.
    fn open(&self, provider: &KeyProvider, meta: &str, data: &[u8]) -> Result<Vec<u8>, String> {
        let meta = B64.decode(meta.as_bytes()).map_err(|e| format!("metadata not base64: {e}"))?;
        if data.len() < NONCE_LEN + AES_256_GCM.tag_len() {
            return Err("encrypted_data is too short".to_owned());
        }
        let (key, failure) = match provider {
            KeyProvider::Pbkdf2(p) => (
                self.pbkdf2_opening_key(p, &meta)?,
                "authentication failed (wrong passphrase, or the data was altered)",
            ),
            KeyProvider::AlicloudKms(k) => {
                (self.kms_opening_key(k, &meta)?, "authentication failed (the data was altered)")
            }
        };
        let (nonce, sealed) = data.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| "bad nonce".to_owned())?;
        let mut buf = sealed.to_vec();
        let plain = key
            .open_in_place(nonce, Aad::from(self.target.aad()), &mut buf)
            .map_err(|_| failure.to_owned())?;
        Ok(plain.to_vec())
    }

    /// The data key a KMS provider's `meta` holds encrypted, from this run's cache or `Decrypt`.
    fn kms_opening_key(&self, provider: &KmsKey, meta: &[u8]) -> Result<LessSafeKey, String> {
        let meta: KmsMeta =
            serde_json::from_slice(meta).map_err(|e| format!("metadata unreadable: {e}"))?;
        let cached = lock(&self.data_keys).get(&meta.ciphertext_blob).cloned();
        let data_key = match cached {
            Some(k) => k,
            None => {
                let k = provider.recover(&meta)?;
                lock(&self.data_keys).insert(meta.ciphertext_blob.clone(), k.clone());
                k
            }
        };
        aes_key(data_key.expose()).map_err(|e| e.to_string())
    }

    /// The key a passphrase provider's `meta` (salt and work factor) derives.
    fn pbkdf2_opening_key(&self, provider: &Pbkdf2Key, meta: &[u8]) -> Result<LessSafeKey, String> {
        let meta: Pbkdf2Meta =
            serde_json::from_slice(meta).map_err(|e| format!("metadata unreadable: {e}"))?;
        if meta.hash_function != "sha512" || meta.key_length != KEY_LEN {
            return Err(format!(
                "metadata asks for hash {:?} and key length {}; meshform reads sha512 and {KEY_LEN}",
                meta.hash_function, meta.key_length
            ));
        }
        let iterations = NonZeroU32::new(meta.iterations)
            .filter(|n| n.get() <= MAX_ITERATIONS)
            .ok_or_else(|| format!("metadata iterations {} out of range", meta.iterations))?;
        let salt = B64.decode(meta.salt.as_bytes()).map_err(|e| format!("salt not base64: {e}"))?;
        self.key(provider, &salt, iterations).map_err(|e| e.to_string())
    }

    /// The AES key of `provider` for `salt` and `iterations`, derived once and then cached.
    fn key(
        &self,
        provider: &Pbkdf2Key,
        salt: &[u8],
        iterations: NonZeroU32,
    ) -> Result<LessSafeKey, EncryptionError> {
        let id = (provider.meta_key(), salt.to_vec(), iterations.get());
        let mut keys = lock(&self.keys);
        let bytes = keys.entry(id).or_insert_with(|| {
            let mut out = [0u8; KEY_LEN];
            pbkdf2::derive(
                pbkdf2::PBKDF2_HMAC_SHA512,
                iterations,
                salt,
                provider.passphrase.as_bytes(),
                &mut out,
            );
            out
        });
        aes_key(bytes.as_slice())
    }
}

/// An AES-256-GCM key from raw bytes.
fn aes_key(bytes: &[u8]) -> Result<LessSafeKey, EncryptionError> {
    let unbound = UnboundKey::new(&AES_256_GCM, bytes)
        .map_err(|_| EncryptionError::Crypto { message: "bad AES key length".to_owned() })?;
    Ok(LessSafeKey::new(unbound))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fast work factor for tests; one test below uses the default.
    const FAST: u32 = 1_000;
    const PASS: &str = "correct horse battery staple";

    fn key(name: &str, pass: &str) -> Pbkdf2Key {
        Pbkdf2Key::new(name, pass, FAST).expect("valid key provider")
    }

    fn aes(name: &str, pass: &str) -> Method {
        Method::AesGcm(key(name, pass).into())
    }

    #[test]
    fn round_trip_hides_the_plaintext_and_keeps_serial_and_lineage_in_clear() {
        let enc = Encryption::new(Target::State, Some(aes("main", PASS)), vec![]);
        let secret = b"-----BEGIN PRIVATE KEY-----\nMIIE...\n";
        let out = enc.encrypt(secret, Some(7), Some("L-1")).expect("encrypted");
        assert!(is_encrypted(&out));
        let text = String::from_utf8(out.clone()).expect("JSON text");
        assert!(!text.contains("PRIVATE KEY") && !text.contains(PASS), "{text}");
        let doc: serde_json::Value = serde_json::from_slice(&out).expect("JSON");
        assert_eq!(doc["serial"], 7);
        assert_eq!(doc["lineage"], "L-1");
        assert_eq!(doc["encryption_version"], "v0");
        assert!(doc["meta"]["key_provider.pbkdf2.main"].is_string());
        let d = enc.decrypt(&out).expect("decrypted");
        assert_eq!(d.plaintext, secret);
        assert!(d.was_encrypted);
        assert_eq!((d.serial, d.lineage.as_deref()), (Some(7), Some("L-1")));
        // A fresh run (new salt, empty key cache) reads it too.
        let other = Encryption::new(Target::State, Some(aes("main", PASS)), vec![]);
        assert_eq!(other.decrypt(&out).expect("decrypted").plaintext, secret);
        // Two encryptions of the same plaintext differ (random nonce).
        assert_ne!(out, enc.encrypt(secret, Some(7), Some("L-1")).expect("encrypted"));
    }

    #[test]
    fn the_default_work_factor_round_trips() {
        let k = Pbkdf2Key::new("main", PASS, DEFAULT_ITERATIONS).expect("valid");
        let enc = Encryption::new(Target::Plan, Some(Method::AesGcm(k.into())), vec![]);
        let out = enc.encrypt(b"meshform-plan", None, None).expect("encrypted");
        let doc: serde_json::Value = serde_json::from_slice(&out).expect("JSON");
        assert!(doc.get("serial").is_none() && doc.get("lineage").is_none(), "{doc}");
        assert_eq!(enc.decrypt(&out).expect("decrypted").plaintext, b"meshform-plan");
    }

    #[test]
    fn a_wrong_passphrase_is_an_authentication_failure_that_names_no_secret() {
        let enc = Encryption::new(Target::State, Some(aes("main", PASS)), vec![]);
        let out = enc.encrypt(b"{}", Some(1), Some("L")).expect("encrypted");
        let wrong =
            Encryption::new(Target::State, Some(aes("main", "another passphrase!")), vec![]);
        let e = wrong.decrypt(&out).expect_err("refused");
        let m = e.to_string();
        assert!(matches!(e, EncryptionError::DecryptionFailed { .. }), "{m}");
        assert!(
            m.contains("authentication failed") && m.contains("key_provider.pbkdf2.main"),
            "{m}"
        );
        assert!(!m.contains(PASS) && !m.contains("another passphrase"), "{m}");
        assert!(!format!("{wrong:?}").contains("another passphrase"));
    }

    #[test]
    fn altered_ciphertext_and_a_plan_passed_as_state_are_refused() {
        let enc = Encryption::new(Target::State, Some(aes("main", PASS)), vec![]);
        let out = enc.encrypt(b"{\"a\":1}", None, None).expect("encrypted");
        let mut doc: serde_json::Value = serde_json::from_slice(&out).expect("JSON");
        let mut data = B64.decode(doc["encrypted_data"].as_str().expect("str")).expect("b64");
        let last = data.len() - 1;
        data[last] ^= 1;
        doc["encrypted_data"] = B64.encode(data).into();
        let altered = serde_json::to_vec(&doc).expect("JSON");
        assert!(matches!(enc.decrypt(&altered), Err(EncryptionError::DecryptionFailed { .. })));
        let plan = Encryption::new(Target::Plan, Some(aes("main", PASS)), vec![]);
        assert!(matches!(plan.decrypt(&out), Err(EncryptionError::DecryptionFailed { .. })));
    }

    #[test]
    fn an_envelope_without_configuration_is_refused_with_opentofus_message() {
        let enc = Encryption::new(Target::State, Some(aes("main", PASS)), vec![]);
        let out = enc.encrypt(b"{}", None, None).expect("encrypted");
        let m = Encryption::none(Target::State).decrypt(&out).expect_err("refused").to_string();
        assert_eq!(
            m,
            "This state file is encrypted and can not be read without an encryption configuration"
        );
        let only_plain = Encryption::new(Target::Plan, Some(Method::Unencrypted), vec![]);
        let m = only_plain.decrypt(&out).expect_err("refused").to_string();
        assert!(m.starts_with("the given plan file is encrypted and requires"), "{m}");
    }

    #[test]
    fn plaintext_needs_no_configuration_or_an_unencrypted_method() {
        let none = Encryption::none(Target::State);
        assert!(!none.encrypts());
        assert_eq!(none.encrypt(b"{}", Some(1), None).expect("unchanged"), b"{}");
        assert!(!none.decrypt(b"{}").expect("plaintext").was_encrypted);
        let strict = Encryption::new(Target::State, Some(aes("main", PASS)), vec![]);
        let e = strict.decrypt(b"{\"version\": 1}").expect_err("refused").to_string();
        assert!(e.starts_with("encountered unencrypted payload without unencrypted"), "{e}");
        assert!(
            e.contains("To encrypt an existing state, add") && e.contains("meshform init"),
            "{e}"
        );
        let migrating =
            Encryption::new(Target::State, Some(aes("main", PASS)), vec![Method::Unencrypted]);
        assert_eq!(migrating.decrypt(b"{}").expect("plaintext").plaintext, b"{}");
        assert!(migrating.encrypts());
    }

    #[test]
    fn a_fallback_key_reads_what_the_old_key_wrote() {
        let old = Encryption::new(Target::State, Some(aes("old", PASS)), vec![]);
        let out = old.encrypt(b"{}", None, None).expect("encrypted");
        let rotated = Encryption::new(
            Target::State,
            Some(aes("new", "a brand new passphrase")),
            vec![aes("old", PASS)],
        );
        assert_eq!(rotated.decrypt(&out).expect("via fallback").plaintext, b"{}");
        let rewritten = rotated.encrypt(b"{}", None, None).expect("encrypted");
        let doc: serde_json::Value = serde_json::from_slice(&rewritten).expect("JSON");
        assert!(doc["meta"].get("key_provider.pbkdf2.new").is_some(), "{doc}");
        let e = old.decrypt(&rewritten).expect_err("old key alone cannot read it").to_string();
        assert!(e.contains("no metadata"), "{e}");
    }

    #[test]
    fn damaged_envelopes_are_errors_not_panics() {
        let enc = Encryption::new(Target::State, Some(aes("main", PASS)), vec![]);
        for bad in [
            &br#"{"encryption_version":"v0"}"#[..],
            br#"{"encryption_version":"v9","meta":{},"encrypted_data":""}"#,
            br#"{"encryption_version":"v0","meta":{},"encrypted_data":"!!"}"#,
            br#"{"encryption_version":"v0","meta":{"key_provider.pbkdf2.main":"e30="},"encrypted_data":"AAAA"}"#,
            br#"{"encryption_version":1,"meta":{},"encrypted_data":""}"#,
        ] {
            assert!(enc.decrypt(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
        let meta = B64.encode(
            br#"{"salt":"AAAA","iterations":4294967295,"hash_function":"sha512","key_length":32}"#,
        );
        let hostile = format!(
            r#"{{"encryption_version":"v0","meta":{{"key_provider.pbkdf2.main":"{meta}"}},"encrypted_data":"{}"}}"#,
            B64.encode([0u8; 40])
        );
        let m = enc.decrypt(hostile.as_bytes()).expect_err("refused").to_string();
        assert!(m.contains("out of range"), "{m}");
    }

    #[test]
    fn short_passphrases_and_zero_iterations_are_invalid() {
        assert!(Pbkdf2Key::new("k", "short", FAST).is_err());
        assert!(Pbkdf2Key::new("k", PASS, 0).is_err());
        assert!(!is_encrypted(b"meshform-plan\x00"));
        assert!(!is_encrypted(br#"{"encryption_version": ""}"#));
    }
}
