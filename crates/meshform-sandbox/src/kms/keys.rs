//! The emulated KMS's keys: customer master keys (a random AES-256 key each, held only here),
//! their aliases, and the two cryptographic operations the state encryption uses. Persisted in the
//! sandbox directory (`kms.json`), so that a state encrypted before a restart still decrypts.
//!
//! A `CiphertextBlob` is, as the real service's are, base64 of the master key's id followed by
//! what it sealed: `key id (36 bytes) | nonce (12) | AES-256-GCM ciphertext and tag`, the
//! associated data being the key id and the canonical JSON of the `EncryptionContext` — so Decrypt
//! finds the key from the blob alone, and a different context does not open it.

use std::collections::BTreeMap;
use std::path::Path;

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::api::KmsApiError;

/// The length of a key id (a UUID in its hyphenated form), the blob's prefix.
const KEY_ID_LEN: usize = 36;

/// One customer master key.
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct MasterKey {
    pub key_id: String,
    pub key_version_id: String,
    /// The key material, base64; it never leaves the emulator.
    material: String,
    pub description: String,
    pub created: String,
}

/// Every key and alias.
#[derive(Clone, Default, Serialize, Deserialize)]
pub(crate) struct KeyRing {
    pub keys: BTreeMap<String, MasterKey>,
    /// `alias/NAME` → key id.
    pub aliases: BTreeMap<String, String>,
}

/// A data key generated under a master key.
pub(crate) struct DataKeyOut {
    pub key_id: String,
    pub key_version_id: String,
    pub plaintext: Vec<u8>,
    pub ciphertext_blob: String,
}

fn random(n: usize) -> Result<Vec<u8>, KmsApiError> {
    let mut out = vec![0u8; n];
    aws_lc_rs::rand::fill(&mut out).map_err(|_| KmsApiError::internal("no random bytes"))?;
    Ok(out)
}

fn aad(key_id: &str, context: &BTreeMap<String, String>) -> Vec<u8> {
    let mut out = key_id.as_bytes().to_vec();
    out.extend_from_slice(&serde_json::to_vec(context).unwrap_or_default());
    out
}

impl MasterKey {
    fn sealer(&self) -> Result<LessSafeKey, KmsApiError> {
        let material = B64.decode(&self.material).map_err(|_| KmsApiError::internal("key"))?;
        let key = UnboundKey::new(&AES_256_GCM, &material)
            .map_err(|_| KmsApiError::internal("key length"))?;
        Ok(LessSafeKey::new(key))
    }
}

impl KeyRing {
    /// Loads the key ring, or an empty one when the file does not exist.
    pub fn load(path: &Path) -> Result<KeyRing, String> {
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| format!("{} is not a KMS key ring: {e}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(KeyRing::default()),
            Err(e) => Err(format!("{}: {e}", path.display())),
        }
    }

    /// Saves it atomically, readable by the owner only.
    pub fn save(&self, path: &Path) -> Result<(), String> {
        let bytes = serde_json::to_vec_pretty(self).map_err(|e| e.to_string())?;
        meshform_core::fsio::write_atomic(path, &bytes, Some(0o600))
            .map_err(|e| format!("{}: {e}", path.display()))
    }

    /// The key an alias names, creating both when the alias is new. Returns the key id.
    pub fn ensure_alias(&mut self, alias: &str, description: &str) -> Result<String, String> {
        if let Some(id) = self.aliases.get(alias) {
            return Ok(id.clone());
        }
        let material = random(32).map_err(|e| e.message)?;
        let key = MasterKey {
            key_id: uuid::Uuid::new_v4().hyphenated().to_string(),
            key_version_id: uuid::Uuid::new_v4().hyphenated().to_string(),
            material: B64.encode(material),
            description: description.to_owned(),
            created: time::OffsetDateTime::now_utc()
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
        };
        let id = key.key_id.clone();
        self.keys.insert(id.clone(), key);
        self.aliases.insert(alias.to_owned(), id.clone());
        Ok(id)
    }

    /// The key a `KeyId` parameter names: an id, an alias (`alias/NAME`) or an alias ARN
    /// (`acs:kms:REGION:ACCOUNT:alias/NAME`).
    pub fn resolve(&self, key_id: &str) -> Result<&MasterKey, KmsApiError> {
        let alias = key_id.find("alias/").map(|i| &key_id[i..]);
        match alias {
            Some(alias) => self
                .aliases
                .get(alias)
                .and_then(|id| self.keys.get(id))
                .ok_or_else(KmsApiError::alias_not_found),
            None => {
                let id = key_id.rsplit('/').next().unwrap_or(key_id);
                self.keys.get(id).ok_or_else(KmsApiError::key_not_found)
            }
        }
    }

    /// `GenerateDataKey`: `len` random bytes, sealed under the key for `context`.
    pub fn generate_data_key(
        &self,
        key_id: &str,
        len: usize,
        context: &BTreeMap<String, String>,
    ) -> Result<DataKeyOut, KmsApiError> {
        let key = self.resolve(key_id)?;
        let plaintext = random(len)?;
        let ciphertext_blob = seal(key, &plaintext, context)?;
        Ok(DataKeyOut {
            key_id: key.key_id.clone(),
            key_version_id: key.key_version_id.clone(),
            plaintext,
            ciphertext_blob,
        })
    }

    /// `Decrypt`: the key the blob names opens it for `context`, or the call is refused.
    pub fn decrypt(
        &self,
        blob: &str,
        context: &BTreeMap<String, String>,
    ) -> Result<(&MasterKey, Vec<u8>), KmsApiError> {
        let invalid = || KmsApiError::invalid_ciphertext("the CiphertextBlob is not one KMS made");
        let bytes = B64.decode(blob.trim()).map_err(|_| invalid())?;
        if bytes.len() < KEY_ID_LEN + NONCE_LEN + AES_256_GCM.tag_len() {
            return Err(invalid());
        }
        let (id, rest) = bytes.split_at(KEY_ID_LEN);
        let id = std::str::from_utf8(id).map_err(|_| invalid())?;
        let key = self.keys.get(id).ok_or_else(KmsApiError::key_not_found)?;
        let (nonce, sealed) = rest.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| invalid())?;
        let mut buf = sealed.to_vec();
        let plain = key
            .sealer()?
            .open_in_place(nonce, Aad::from(aad(&key.key_id, context)), &mut buf)
            .map_err(|_| {
                KmsApiError::invalid_ciphertext(
                    "the CiphertextBlob does not decrypt with this EncryptionContext, or was \
                     altered",
                )
            })?;
        Ok((key, plain.to_vec()))
    }
}

fn seal(
    key: &MasterKey,
    plaintext: &[u8],
    context: &BTreeMap<String, String>,
) -> Result<String, KmsApiError> {
    let nonce: [u8; NONCE_LEN] =
        random(NONCE_LEN)?.try_into().map_err(|_| KmsApiError::internal("nonce length"))?;
    let mut sealed = plaintext.to_vec();
    key.sealer()?
        .seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad(&key.key_id, context)),
            &mut sealed,
        )
        .map_err(|_| KmsApiError::internal("sealing failed"))?;
    let mut blob = key.key_id.as_bytes().to_vec();
    blob.extend_from_slice(&nonce);
    blob.extend_from_slice(&sealed);
    Ok(B64.encode(blob))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(v: &str) -> BTreeMap<String, String> {
        BTreeMap::from([("purpose".to_owned(), v.to_owned())])
    }

    #[test]
    fn a_data_key_decrypts_only_with_its_context_and_its_master_key() {
        let mut ring = KeyRing::default();
        let id = ring.ensure_alias("alias/state", "test").expect("created");
        assert_eq!(ring.ensure_alias("alias/state", "again").expect("kept"), id);
        let out = ring.generate_data_key("alias/state", 32, &ctx("state")).expect("generated");
        assert_eq!((out.key_id.as_str(), out.plaintext.len()), (id.as_str(), 32));
        let raw = B64.decode(&out.ciphertext_blob).expect("b64");
        assert!(raw.starts_with(id.as_bytes()), "the blob names its key");
        let (key, plain) = ring.decrypt(&out.ciphertext_blob, &ctx("state")).expect("opened");
        assert_eq!((key.key_id.as_str(), plain), (id.as_str(), out.plaintext));
        let e = ring.decrypt(&out.ciphertext_blob, &ctx("plan")).err().expect("other context");
        assert_eq!((e.status, e.code.as_str()), (400, "InvalidParameter"));
        let other = KeyRing::default();
        assert_eq!(
            other.decrypt(&out.ciphertext_blob, &ctx("state")).err().unwrap().code,
            "Forbidden.KeyNotFound"
        );
        assert_eq!(ring.decrypt("bm9wZQ==", &ctx("state")).err().unwrap().code, "InvalidParameter");
        assert_eq!(ring.resolve("alias/none").err().unwrap().code, "Forbidden.AliasNotFound");
        assert_eq!(
            ring.resolve("7d0c5b0e-0000-4000-8000-000000000000").err().unwrap().code,
            "Forbidden.KeyNotFound"
        );
        assert!(ring.resolve(&format!("acs:kms:cn-hangzhou:123:key/{id}")).is_ok());
        assert!(ring.resolve("acs:kms:cn-hangzhou:123:alias/state").is_ok());
    }
}
