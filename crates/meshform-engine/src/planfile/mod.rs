//! Saved plans: what `plan --out FILE` writes, `show FILE` renders and `apply FILE` carries out.
//!
//! # The file
//!
//! ```text
//! meshform-plan 1                      magic and plan format version
//! sha256 <64 hex digits>               checksum of everything after this line
//! { …the plan document, JSON… }
//! ```
//!
//! The document ([`PlanFile`]) holds the plan (every change with its before and after values, drift,
//! output changes), the options it was made with, the state lineage and serial it was made against,
//! a digest of the configuration (and of each file), a salted digest of every variable's value (and
//! the values of the variables that are not sensitive, so that `apply FILE` needs no `--var` for
//! them), and a fingerprint of the prior state of every instance the plan changes.
//!
//! It never holds a secret: sensitive values are replaced by tokens (see [`values`]), sensitive
//! variables are kept only as a salted digest, and provider credentials are not part of a plan. A
//! truncated or edited file fails its checksum and is rejected. The checksum detects accidents and
//! hand edits, not an attacker who recomputes it: keep plan files where only the pipeline can write
//! them (a CI artifact).
//!
//! The same inputs give a byte-identical file (the digests' salt is derived from the lineage and the
//! configuration, not drawn at random), in keeping with plans being deterministic.
//!
//! # Applying
//!
//! [`check::replan`] refuses, naming each reason, when the lineage, the configuration, a variable, or
//! the state of an instance the plan changes is not what the plan saw; then it plans again with the
//! saved options and refuses unless the new plan makes the same changes with the same planned
//! values. The plan applied is that new plan, which carries the configured providers and evaluated
//! values the executor needs. A state write that touches none of the planned instances does not
//! make a plan stale.

pub mod check;
mod options;
pub mod rollout;
pub mod values;

use std::collections::BTreeMap;

use rollout::SavedRollout;

use meshform_core::{InstanceAddr, PathStep, ResourceAddr, Value};
use meshform_state::encryption::Encryption;
use meshform_state::State;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::ops::Planned;
use crate::plan::walk::PlanOptions;
use crate::plan::{
    Action, Adoption, ChangeReason, Drift, OutputChange, Plan, PlanFailure, PlanMode,
    ResourceChange,
};
pub use values::{Redactor, SavedValue};

/// The plan format this build writes and reads.
pub const PLAN_FORMAT_VERSION: u32 = 1;

const MAGIC: &str = "meshform-plan";

/// The digest of a saved variable whose value leaves no trace in the file (an encryption
/// passphrase, see [`PlanFile::without_digests_of`]).
pub const NOT_RECORDED: &str = "not recorded";

/// Why a plan file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum PlanFileError {
    #[error("this is not a meshform plan file (it does not start with \"{MAGIC} <version>\")")]
    NotAPlan,
    #[error(
        "the plan file has plan format {found}, but this meshform ({}) reads format \
         {PLAN_FORMAT_VERSION}: make and apply plans with the same meshform version",
        env!("CARGO_PKG_VERSION")
    )]
    Format { found: String },
    #[error(
        "the plan file is damaged: {0}. It was truncated or edited after it was written; make a \
         new plan with `meshform plan --out FILE`"
    )]
    Damaged(String),
    /// Encrypted without a configuration to read it, a wrong passphrase, or plaintext where the
    /// configuration requires encryption.
    #[error("{0}")]
    Encryption(#[from] meshform_state::encryption::EncryptionError),
}

/// The document inside a plan file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanFile {
    pub format_version: u32,
    /// The meshform that made the plan.
    pub meshform_version: String,
    /// The workspace the plan was made for.
    pub workspace: String,
    /// The salt of the digests below (derived from the lineage and the configuration digest).
    pub salt: String,
    pub config: ConfigDigest,
    pub variables: BTreeMap<String, SavedVariable>,
    pub options: SavedOptions,
    /// Per instance the plan changes: a salted digest of its prior state (instance, pending create
    /// and deposed objects at that address), or `absent`.
    pub prior: BTreeMap<String, String>,
    pub plan: SavedPlan,
}

/// The configuration a plan was made from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigDigest {
    /// `Config::source_digest()`.
    pub digest: String,
    /// Each file's SHA-256, to say which file changed.
    pub files: BTreeMap<String, String>,
}

/// One variable's value as the plan saw it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedVariable {
    pub sensitive: bool,
    /// Salted SHA-256 of the value.
    pub digest: String,
    /// The value itself, only when it holds nothing sensitive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<serde_json::Value>,
}

/// The planning options `apply FILE` plans with again.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedOptions {
    pub mode: PlanMode,
    pub refresh: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub excludes: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replace: Vec<String>,
}

/// A [`Plan`] without secrets.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedPlan {
    pub mode: PlanMode,
    pub lineage: String,
    pub serial: u64,
    pub changes: Vec<SavedChange>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub drift: Vec<SavedDrift>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outputs: Vec<SavedOutput>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failures: Vec<SavedFailure>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub adoptions: Vec<SavedAdoption>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub abandoned: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rollouts: Vec<SavedRollout>,
    /// `moved` blocks' renames: (from, to) instance addresses.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub moves: Vec<(String, String)>,
    /// Objects `removed` blocks forget (same shape as an adoption: address, provider, value).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub forgotten: Vec<SavedAdoption>,
    /// Objects `import` blocks import: (id, the object as read).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub imports: Vec<(String, SavedAdoption)>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedChange {
    pub address: String,
    pub provider: String,
    pub action: Action,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<SavedValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<SavedValue>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replace_paths: Vec<Vec<PathStep>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<ChangeReason>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dependencies: Vec<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub create_before_destroy: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deposed: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedDrift {
    pub address: String,
    pub provider: String,
    pub before: SavedValue,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<SavedValue>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedOutput {
    pub name: String,
    pub sensitive: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<SavedValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<SavedValue>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedFailure {
    pub address: String,
    pub provider: String,
    pub message: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedAdoption {
    pub address: String,
    pub provider: String,
    pub value: SavedValue,
}

impl SavedPlan {
    /// Encodes a plan, its secrets replaced by tokens.
    pub fn from_plan(plan: &Plan) -> SavedPlan {
        let mut r = Redactor::default();
        let mut enc = |v: &Value| r.encode(v);
        SavedPlan {
            mode: plan.mode,
            lineage: plan.lineage.clone(),
            serial: plan.serial,
            changes: plan
                .changes
                .iter()
                .map(|c| SavedChange {
                    address: c.addr.to_string(),
                    provider: c.provider.clone(),
                    action: c.action,
                    before: c.before.as_ref().map(&mut enc),
                    after: c.after.as_ref().map(&mut enc),
                    replace_paths: c.replace_paths.clone(),
                    reason: c.reason.clone(),
                    dependencies: c.dependencies.iter().map(ToString::to_string).collect(),
                    create_before_destroy: c.create_before_destroy,
                    deposed: c.deposed,
                })
                .collect(),
            drift: plan
                .drift
                .iter()
                .map(|d| SavedDrift {
                    address: d.addr.to_string(),
                    provider: d.provider.clone(),
                    before: enc(&d.before),
                    after: d.after.as_ref().map(&mut enc),
                })
                .collect(),
            outputs: plan
                .outputs
                .iter()
                .map(|o| SavedOutput {
                    name: o.name.clone(),
                    sensitive: o.sensitive,
                    before: o.before.as_ref().map(&mut enc),
                    after: o.after.as_ref().map(&mut enc),
                })
                .collect(),
            failures: plan
                .failures
                .iter()
                .map(|f| SavedFailure {
                    address: f.address.clone(),
                    provider: f.provider.clone(),
                    message: f.message.clone(),
                })
                .collect(),
            skipped: plan.skipped.clone(),
            adoptions: plan
                .adoptions
                .iter()
                .map(|a| SavedAdoption {
                    address: a.addr.to_string(),
                    provider: a.provider.clone(),
                    value: enc(&a.value),
                })
                .collect(),
            abandoned: plan.abandoned.clone(),
            rollouts: plan.rollouts.iter().map(SavedRollout::from_rollout).collect(),
            moves: plan.moves.iter().map(|m| (m.from.to_string(), m.to.to_string())).collect(),
            imports: plan
                .imports
                .iter()
                .map(|i| {
                    let value = enc(&i.value);
                    let saved = SavedAdoption {
                        address: i.addr.to_string(),
                        provider: i.provider.clone(),
                        value,
                    };
                    (i.id.clone(), saved)
                })
                .collect(),
            forgotten: plan
                .forgotten
                .iter()
                .map(|f| SavedAdoption {
                    address: f.addr.to_string(),
                    provider: f.provider.clone(),
                    value: enc(&f.before),
                })
                .collect(),
        }
    }

    /// The plan again, secrets as placeholders that render as `(sensitive value)`.
    pub fn to_plan(&self) -> Result<Plan, PlanFileError> {
        let addr = |s: &str| {
            s.parse::<InstanceAddr>()
                .map_err(|e| PlanFileError::Damaged(format!("invalid address {s:?}: {e}")))
        };
        let resource = |s: &str| -> Result<ResourceAddr, PlanFileError> { Ok(addr(s)?.resource) };
        let decode = |v: &Option<SavedValue>| v.as_ref().map(SavedValue::decode);
        let mut changes = Vec::new();
        for c in &self.changes {
            changes.push(ResourceChange {
                addr: addr(&c.address)?,
                provider: c.provider.clone(),
                action: c.action,
                before: decode(&c.before),
                after: decode(&c.after),
                replace_paths: c.replace_paths.clone(),
                reason: c.reason.clone(),
                dependencies: c
                    .dependencies
                    .iter()
                    .map(|d| resource(d))
                    .collect::<Result<_, _>>()?,
                create_before_destroy: c.create_before_destroy,
                deposed: c.deposed,
            });
        }
        let mut drift = Vec::new();
        for d in &self.drift {
            drift.push(Drift {
                addr: addr(&d.address)?,
                provider: d.provider.clone(),
                before: d.before.decode(),
                after: decode(&d.after),
            });
        }
        let mut adoptions = Vec::new();
        for a in &self.adoptions {
            adoptions.push(Adoption {
                addr: addr(&a.address)?,
                provider: a.provider.clone(),
                value: a.value.decode(),
            });
        }
        let mut moves = Vec::new();
        for (from, to) in &self.moves {
            moves.push(crate::plan::moved::Move { from: addr(from)?, to: addr(to)? });
        }
        let mut forgotten = Vec::new();
        for f in &self.forgotten {
            forgotten.push(crate::plan::Forget {
                addr: addr(&f.address)?,
                provider: f.provider.clone(),
                before: f.value.decode(),
            });
        }
        let mut imports = Vec::new();
        for (id, i) in &self.imports {
            imports.push(crate::plan::Import {
                addr: addr(&i.address)?,
                id: id.clone(),
                provider: i.provider.clone(),
                value: i.value.decode(),
            });
        }
        Ok(Plan {
            mode: self.mode,
            moves,
            forgotten,
            imports,
            changes,
            drift,
            outputs: self
                .outputs
                .iter()
                .map(|o| OutputChange {
                    name: o.name.clone(),
                    before: decode(&o.before),
                    after: decode(&o.after),
                    sensitive: o.sensitive,
                })
                .collect(),
            failures: self
                .failures
                .iter()
                .map(|f| PlanFailure {
                    address: f.address.clone(),
                    provider: f.provider.clone(),
                    message: f.message.clone(),
                })
                .collect(),
            skipped: self.skipped.clone(),
            adoptions,
            abandoned: self.abandoned.clone(),
            rollouts: self
                .rollouts
                .iter()
                .map(SavedRollout::to_rollout)
                .collect::<Result<_, _>>()?,
            lineage: self.lineage.clone(),
            serial: self.serial,
        })
    }
}

impl PlanFile {
    /// The plan file of a plan just made (`plan --out`).
    pub fn new(planned: &Planned, opts: &PlanOptions, workspace: &str) -> PlanFile {
        let config = &planned.loaded.config;
        let digest = config.source_digest();
        let lineage = stored_lineage(&planned.state);
        let salt = meshform_core::hex::encode(&sha256(&[
            b"meshform plan salt",
            lineage.as_bytes(),
            digest.as_bytes(),
        ]))[..32]
            .to_owned();
        let files = config
            .files
            .iter()
            .map(|f| (f.name.clone(), meshform_core::hex::encode(&sha256(&[f.text.as_bytes()]))))
            .collect();
        let variables =
            planned.vars.iter().map(|(k, v)| (k.clone(), saved_variable(&salt, k, v))).collect();
        let prior = touched(&planned.plan)
            .into_iter()
            .map(|a| {
                let fp = fingerprint(&salt, &planned.state, &a);
                (a, fp)
            })
            .collect();
        PlanFile {
            format_version: PLAN_FORMAT_VERSION,
            meshform_version: env!("CARGO_PKG_VERSION").to_owned(),
            workspace: workspace.to_owned(),
            salt,
            config: ConfigDigest { digest, files },
            variables,
            options: SavedOptions::from_options(opts),
            prior,
            plan: SavedPlan { lineage: lineage.to_owned(), ..SavedPlan::from_plan(&planned.plan) },
        }
    }

    /// The non-sensitive variable values, for planning again.
    pub fn saved_values(&self) -> Vec<(String, Value)> {
        self.variables
            .iter()
            .filter_map(|(k, v)| v.value.as_ref().map(|j| (k.clone(), Value::from_json(j))))
            .collect()
    }

    /// The file's bytes: header lines, then the document.
    pub fn encode(&self) -> Vec<u8> {
        // Serialising plain data structures cannot fail.
        let mut body = serde_json::to_vec_pretty(self).unwrap_or_default();
        body.push(b'\n');
        let mut out = format!(
            "{MAGIC} {PLAN_FORMAT_VERSION}\nsha256 {}\n",
            meshform_core::hex::encode(&sha256(&[&body]))
        )
        .into_bytes();
        out.extend_from_slice(&body);
        out
    }

    /// Writes the file to `path` atomically ([`meshform_core::fsio::write_atomic`]): a reader sees
    /// the previous file or this one, never a part.
    pub fn write(&self, path: &std::path::Path) -> std::io::Result<()> {
        meshform_core::fsio::write_atomic(path, &self.encode(), None)
    }

    /// This file without the digests of the variables `names` (encryption passphrases): a salted
    /// SHA-256 of a passphrase would let whoever holds the file test guesses far faster than PBKDF2
    /// allows. Nothing is then compared for them when the plan is applied.
    pub fn without_digests_of(mut self, names: &std::collections::BTreeSet<String>) -> PlanFile {
        for (name, v) in &mut self.variables {
            if names.contains(name) {
                v.digest = NOT_RECORDED.to_owned();
                v.value = None;
                v.sensitive = true;
            }
        }
        self
    }

    /// The file's bytes encrypted as `encryption` says (an envelope without serial and lineage;
    /// unchanged when it does not encrypt).
    pub fn encode_encrypted(&self, encryption: &Encryption) -> Result<Vec<u8>, PlanFileError> {
        Ok(encryption.encrypt(&self.encode(), None, None)?)
    }

    /// [`write`](PlanFile::write), encrypted as `encryption` says.
    pub fn write_encrypted(
        &self,
        path: &std::path::Path,
        encryption: &Encryption,
    ) -> std::io::Result<()> {
        let bytes = self.encode_encrypted(encryption).map_err(std::io::Error::other)?;
        meshform_core::fsio::write_atomic(path, &bytes, None)
    }

    /// [`decode`](PlanFile::decode) after decrypting as `encryption` allows: an encrypted file
    /// without a configuration, or with a wrong passphrase, is refused.
    pub fn decode_encrypted(
        bytes: &[u8],
        encryption: &Encryption,
    ) -> Result<PlanFile, PlanFileError> {
        PlanFile::decode(&encryption.decrypt(bytes)?.plaintext)
    }

    /// Reads a plan file, checking its magic, format version and checksum before its content.
    pub fn decode(bytes: &[u8]) -> Result<PlanFile, PlanFileError> {
        if meshform_state::encryption::is_encrypted(bytes) {
            return Err(meshform_state::encryption::EncryptionError::NotConfigured {
                target: meshform_state::encryption::Target::Plan,
            }
            .into());
        }
        let mut parts = bytes.splitn(3, |b| *b == b'\n');
        let (Some(first), Some(second), Some(body)) = (parts.next(), parts.next(), parts.next())
        else {
            let prefix = &bytes[..bytes.len().min(MAGIC.len())];
            return Err(if !bytes.is_empty() && MAGIC.as_bytes().starts_with(prefix) {
                PlanFileError::Damaged("it ends inside its header".into())
            } else {
                PlanFileError::NotAPlan
            });
        };
        let first = std::str::from_utf8(first).map_err(|_| PlanFileError::NotAPlan)?;
        let version = first.strip_prefix(MAGIC).and_then(|r| r.strip_prefix(' '));
        let Some(version) = version else { return Err(PlanFileError::NotAPlan) };
        if version != PLAN_FORMAT_VERSION.to_string() {
            return Err(PlanFileError::Format { found: version.to_owned() });
        }
        let expected = std::str::from_utf8(second)
            .ok()
            .and_then(|l| l.strip_prefix("sha256 "))
            .ok_or_else(|| PlanFileError::Damaged("its checksum line is missing".into()))?;
        if meshform_core::hex::encode(&sha256(&[body])) != expected {
            return Err(PlanFileError::Damaged("its checksum does not match its content".into()));
        }
        let file: PlanFile = serde_json::from_slice(body)
            .map_err(|e| PlanFileError::Damaged(format!("its content is not a plan: {e}")))?;
        if file.format_version != PLAN_FORMAT_VERSION {
            return Err(PlanFileError::Format { found: file.format_version.to_string() });
        }
        Ok(file)
    }
}

/// The lineage of the stored state, or `""` when none was stored yet (planning then works on a fresh,
/// unsaved state whose random lineage means nothing).
pub fn stored_lineage(state: &State) -> &str {
    if state.serial == 0 {
        ""
    } else {
        &state.lineage
    }
}

fn saved_variable(salt: &str, name: &str, v: &Value) -> SavedVariable {
    let sensitive = v.contains_sensitive();
    SavedVariable {
        sensitive,
        digest: variable_digest(salt, name, v),
        value: (!sensitive).then(|| v.expose_json()),
    }
}

pub(crate) fn variable_digest(salt: &str, name: &str, v: &Value) -> String {
    let exposed = serde_json::to_vec(&v.expose_json()).unwrap_or_default();
    let sensitive = if v.contains_sensitive() { b"s" } else { b"p" };
    meshform_core::hex::encode(&sha256(&[
        salt.as_bytes(),
        b"\0var\0",
        name.as_bytes(),
        b"\0",
        sensitive,
        &exposed,
    ]))
}

/// The instances whose prior state the plan's apply reads or replaces: every change that does
/// something, adopted and abandoned creates, and in refresh-only plans the drifted instances.
pub(crate) fn touched(plan: &Plan) -> std::collections::BTreeSet<String> {
    let mut out: std::collections::BTreeSet<String> = plan
        .changes
        .iter()
        .filter(|c| !matches!(c.action, Action::NoOp | Action::Read))
        .map(|c| c.addr.to_string())
        .collect();
    out.extend(plan.adoptions.iter().map(|a| a.addr.to_string()));
    out.extend(plan.abandoned.iter().cloned());
    if plan.mode == PlanMode::RefreshOnly {
        out.extend(plan.drift.iter().map(|d| d.addr.to_string()));
    }
    out
}

/// A salted digest of everything the state holds at one address.
pub(crate) fn fingerprint(salt: &str, state: &State, address: &str) -> String {
    let instance = address
        .parse::<InstanceAddr>()
        .ok()
        .and_then(|a| state.instance(&a).map(|(r, i)| (r.provider_of(i).to_owned(), i.clone())));
    let pending: Vec<_> = state.pending.iter().filter(|p| p.address == address).collect();
    let deposed: Vec<_> = state.deposed.iter().filter(|d| d.address == address).collect();
    if instance.is_none() && pending.is_empty() && deposed.is_empty() {
        return "absent".to_owned();
    }
    let doc = serde_json::json!({"instance": instance, "pending": pending, "deposed": deposed});
    let bytes = serde_json::to_vec(&doc).unwrap_or_default();
    meshform_core::hex::encode(&sha256(&[
        salt.as_bytes(),
        b"\0state\0",
        address.as_bytes(),
        b"\0",
        &bytes,
    ]))
}

pub(crate) fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encrypted_files_round_trip_and_are_refused_without_the_key() {
        use meshform_state::encryption::{Method, Pbkdf2Key, Target};
        let aes = |pass: &str| {
            let key = Pbkdf2Key::new("main", pass, 1_000).expect("valid");
            Encryption::new(Target::Plan, Some(Method::AesGcm(key.into())), vec![])
        };
        let enc = aes("the plan passphrase");
        let f = sample();
        let bytes = f.encode_encrypted(&enc).unwrap();
        assert!(!bytes.starts_with(b"meshform-plan"));
        assert!(!String::from_utf8_lossy(&bytes).contains("the plan passphrase"));
        assert_eq!(PlanFile::decode_encrypted(&bytes, &enc).unwrap(), f);
        let m = PlanFile::decode(&bytes).unwrap_err().to_string();
        assert!(
            m.contains("the given plan file is encrypted and requires a valid encryption"),
            "{m}"
        );
        let none = Encryption::none(Target::Plan);
        assert!(PlanFile::decode_encrypted(&bytes, &none).is_err());
        let m = PlanFile::decode_encrypted(&bytes, &aes("another passphrase!!")).unwrap_err();
        assert!(m.to_string().contains("authentication failed"), "{m}");
        let m = PlanFile::decode_encrypted(&f.encode(), &enc).unwrap_err().to_string();
        assert!(m.contains("unencrypted payload"), "{m}");
        assert_eq!(PlanFile::decode_encrypted(&f.encode(), &none).unwrap(), f);
    }

    #[test]
    fn passphrase_variables_leave_no_digest() {
        let mut f = sample();
        let v = Value::string("the passphrase").sensitive();
        f.variables.insert("pass".into(), saved_variable(&f.salt, "pass", &v));
        let f = f.without_digests_of(&["pass".to_owned()].into());
        let text = String::from_utf8(f.encode()).unwrap();
        assert!(!text.contains(&variable_digest(&f.salt, "pass", &v)), "{text}");
        assert_eq!(f.variables["pass"].digest, NOT_RECORDED);
        let now = BTreeMap::from([("pass".to_owned(), Value::string("changed").sensitive())]);
        let changes = check::variable_changes(&f, &now);
        assert!(!changes.iter().any(|c| c.contains("\"pass\"")), "{changes:?}");
        let mut other = f.clone();
        other.variables.insert("token".into(), saved_variable(&f.salt, "token", &v));
        let now = BTreeMap::from([("token".to_owned(), Value::string("changed").sensitive())]);
        let changes = check::variable_changes(&other, &now);
        assert!(changes.iter().any(|c| c.contains("\"token\" (sensitive) has a different")));
    }

    fn sample() -> PlanFile {
        let plan = Plan { lineage: "l".into(), serial: 3, ..Plan::default() };
        PlanFile {
            format_version: PLAN_FORMAT_VERSION,
            meshform_version: "0.0.0".into(),
            workspace: "default".into(),
            salt: "00".into(),
            config: ConfigDigest { digest: "d".into(), files: BTreeMap::new() },
            variables: BTreeMap::from([(
                "v".to_owned(),
                saved_variable("00", "v", &Value::string("x")),
            )]),
            options: SavedOptions::from_options(&PlanOptions::default()),
            prior: BTreeMap::new(),
            plan: SavedPlan::from_plan(&plan),
        }
    }

    #[test]
    fn files_round_trip_and_damage_is_detected() {
        let f = sample();
        let bytes = f.encode();
        assert!(bytes.starts_with(b"meshform-plan 1\nsha256 "));
        assert_eq!(PlanFile::decode(&bytes).unwrap(), f);
        let cut = &bytes[..bytes.len() - 5];
        assert!(matches!(PlanFile::decode(cut), Err(PlanFileError::Damaged(_))));
        assert!(matches!(PlanFile::decode(b"meshform-pl"), Err(PlanFileError::Damaged(_))));
        assert!(matches!(PlanFile::decode(b"{}\n"), Err(PlanFileError::NotAPlan)));
        let text = String::from_utf8(bytes).unwrap();
        let newer = text.replacen("meshform-plan 1", "meshform-plan 2", 1);
        assert!(matches!(PlanFile::decode(newer.as_bytes()), Err(PlanFileError::Format { .. })));
    }

    #[test]
    fn sensitive_variables_keep_only_a_digest() {
        let secret = saved_variable("salt", "pw", &Value::string("hunter2").sensitive());
        assert!(secret.sensitive && secret.value.is_none());
        assert_ne!(
            secret.digest,
            saved_variable("salt", "pw", &Value::string("other").sensitive()).digest
        );
        assert_ne!(
            secret.digest,
            saved_variable("pepper", "pw", &Value::string("hunter2").sensitive()).digest
        );
        let plain = saved_variable("salt", "region", &Value::string("cn-hangzhou"));
        assert_eq!(plain.value, Some(serde_json::json!("cn-hangzhou")));
    }
}
