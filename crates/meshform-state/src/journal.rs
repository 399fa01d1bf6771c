//! The state journal: small [`StateChange`]s appended between two snapshots of the state, so that
//! a run saves each operation in time that does not grow with the state.
//!
//! A journal belongs to one snapshot: every [`JournalEntry`] carries the snapshot's lineage and the
//! serial the state has once the entry is applied (the snapshot's serial plus its position), so that
//! reading a state is "the snapshot, then each entry whose serial comes next". Entries whose serial
//! the snapshot already covers were folded into it by a compaction that was interrupted before the
//! journal was emptied; they are skipped. A newer journal format is refused, never skipped.
//!
//! On a byte stream (the local backend's `<file>.journal`), entries are framed ([`encode_frame`],
//! [`scan_frames`]): `MFJ1`, the payload length (u32, little-endian), the first 8 bytes of the
//! payload's SHA-256, then the payload. A frame that is cut short or whose checksum does not match
//! ends the journal: it is a record torn by a crash while it was written, whose operation was never
//! reported saved, and is ignored — never misread.
//!
//! A payload is the entry's JSON, encrypted as the state is when encryption is configured (its
//! records hold resource attributes, private keys included).

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::encryption::Encryption;
use crate::format::{DeposedObject, InstanceState, OutputState, PendingCreate, State};
use crate::store::StateError;

/// The journal format version this build reads and writes.
pub const JOURNAL_FORMAT_VERSION: u32 = 1;

/// The magic bytes that start every frame.
const FRAME_MAGIC: &[u8; 4] = b"MFJ1";
/// Magic, length and checksum.
const FRAME_HEADER_LEN: usize = 16;
/// A payload larger than this is not one meshform wrote (a single change is far smaller).
const MAX_PAYLOAD_LEN: usize = 256 * 1024 * 1024;

/// One change to a state, as the apply makes it: small, and applied in time independent of the
/// number of instances in the state (but for a resource's first or last instance).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case", deny_unknown_fields)]
pub enum StateChange {
    /// Inserts or replaces the instance at `address` (`local_file.a[3]`), managed by `provider`.
    SetInstance { address: String, provider: String, instance: InstanceState },
    /// Removes the instance at `address`, if it is there.
    RemoveInstance { address: String },
    /// Records the intent to create (replacing any earlier intent for the same address).
    AddPending { pending: PendingCreate },
    /// Forgets the intent to create at `address`.
    RemovePending { address: String },
    /// Sets aside an object replaced at its address until it is deleted.
    AddDeposed { deposed: DeposedObject },
    /// Forgets a deposed object of `address` (it was deleted or restored): the one deposed last
    /// when `newest`, else the first.
    RemoveDeposed { address: String, newest: bool },
    /// Replaces every output.
    SetOutputs { outputs: BTreeMap<String, OutputState> },
}

impl StateChange {
    /// Applies the change to `state`.
    ///
    /// Fails only when an address is not an instance address, which a change made by meshform
    /// never has.
    pub fn apply(&self, state: &mut State) -> Result<(), String> {
        let parse = |address: &str| {
            address
                .parse::<meshform_core::InstanceAddr>()
                .map_err(|e| format!("invalid instance address {address:?}: {e}"))
        };
        match self {
            StateChange::SetInstance { address, provider, instance } => {
                state.set_instance(&parse(address)?, provider, instance.clone());
            }
            StateChange::RemoveInstance { address } => {
                state.remove_instance(&parse(address)?);
            }
            StateChange::AddPending { pending } => {
                state.pending.retain(|p| p.address != pending.address);
                state.pending.push(pending.clone());
            }
            StateChange::RemovePending { address } => {
                state.pending.retain(|p| p.address != *address);
            }
            StateChange::AddDeposed { deposed } => state.deposed.push(deposed.clone()),
            StateChange::RemoveDeposed { address, newest } => {
                let mut matching =
                    state.deposed.iter().enumerate().filter(|(_, d)| d.address == *address);
                let found = if *newest { matching.next_back() } else { matching.next() };
                if let Some((i, _)) = found {
                    state.deposed.remove(i);
                }
            }
            StateChange::SetOutputs { outputs } => state.outputs = outputs.clone(),
        }
        Ok(())
    }
}

/// One append to a journal: the changes of one durable write.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JournalEntry {
    /// [`JOURNAL_FORMAT_VERSION`].
    pub version: u32,
    /// The lineage of the state the entry applies to.
    pub lineage: String,
    /// The state's serial once this entry is applied.
    pub serial: u64,
    pub changes: Vec<StateChange>,
}

impl JournalEntry {
    /// The entry that takes the state of `lineage` from `serial` to the next.
    pub fn next(lineage: &str, serial: u64, changes: Vec<StateChange>) -> JournalEntry {
        JournalEntry {
            version: JOURNAL_FORMAT_VERSION,
            lineage: lineage.to_owned(),
            serial: serial + 1,
            changes,
        }
    }

    /// The payload as stored: JSON, encrypted as `encryption` says (serial and lineage in clear).
    pub fn encode(&self, encryption: &Encryption, path: &Path) -> Result<Vec<u8>, StateError> {
        let json = serde_json::to_vec(self)
            .map_err(|source| StateError::Encode { path: path.to_owned(), source })?;
        encryption
            .encrypt(&json, Some(self.serial), Some(&self.lineage))
            .map_err(|source| StateError::Encryption { path: path.to_owned(), source })
    }

    /// Decrypts and decodes a payload, checking its format version before its shape.
    pub fn decode(
        encryption: &Encryption,
        path: &Path,
        payload: &[u8],
    ) -> Result<JournalEntry, StateError> {
        let corrupt = |message: String| StateError::Corrupt { path: path.to_owned(), message };
        let d = encryption
            .decrypt(payload)
            .map_err(|source| StateError::Encryption { path: path.to_owned(), source })?;
        let doc: serde_json::Value = serde_json::from_slice(&d.plaintext)
            .map_err(|e| corrupt(format!("a journal record is not JSON: {e}")))?;
        let version = doc.get("version").and_then(serde_json::Value::as_u64).unwrap_or(0);
        if version > u64::from(JOURNAL_FORMAT_VERSION) {
            return Err(StateError::UnsupportedVersion {
                path: path.to_owned(),
                found: version,
                supported: JOURNAL_FORMAT_VERSION,
            });
        }
        let entry: JournalEntry = serde_json::from_value(doc)
            .map_err(|e| corrupt(format!("a journal record is not one meshform wrote: {e}")))?;
        if entry.version == 0 {
            return Err(corrupt("a journal record has no format version".to_owned()));
        }
        let clear_ok = d.serial.is_none_or(|s| s == entry.serial)
            && d.lineage.as_ref().is_none_or(|l| *l == entry.lineage);
        if !clear_ok {
            return Err(corrupt(
                "the clear-text serial or lineage of an encrypted journal record differs from the \
                 record's"
                    .to_owned(),
            ));
        }
        Ok(entry)
    }
}

/// Frames a payload for a byte-stream journal.
pub fn encode_frame(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(FRAME_HEADER_LEN + payload.len());
    out.extend_from_slice(FRAME_MAGIC);
    // A payload over 4 GiB cannot be framed; `MAX_PAYLOAD_LEN` is far below and a change is small.
    out.extend_from_slice(&u32::try_from(payload.len()).unwrap_or(u32::MAX).to_le_bytes());
    out.extend_from_slice(&checksum(payload));
    out.extend_from_slice(payload);
    out
}

/// The complete, intact frames at the start of `bytes`, as (offset just past the frame, payload),
/// and the length of that valid prefix. Whatever follows it is a torn record.
pub fn scan_frames(bytes: &[u8]) -> (Vec<(usize, &[u8])>, usize) {
    let mut frames = Vec::new();
    let mut at = 0;
    while let Some(header) = bytes.get(at..at + FRAME_HEADER_LEN) {
        if &header[..4] != FRAME_MAGIC {
            break;
        }
        let len = u32::from_le_bytes([header[4], header[5], header[6], header[7]]) as usize;
        if len > MAX_PAYLOAD_LEN {
            break;
        }
        let start = at + FRAME_HEADER_LEN;
        let Some(payload) = bytes.get(start..start + len) else { break };
        if checksum(payload) != header[8..16] {
            break;
        }
        at = start + len;
        frames.push((at, payload));
    }
    (frames, at)
}

/// The first 8 bytes of the SHA-256 of `payload`.
fn checksum(payload: &[u8]) -> [u8; 8] {
    let digest = Sha256::digest(payload);
    let mut out = [0u8; 8];
    out.copy_from_slice(&digest[..8]);
    out
}

/// Applies to `state` (a snapshot) the entries that follow it, in order: entries of another lineage
/// or whose serial the snapshot already has are skipped; replay stops at a gap in the serials.
/// Returns how many entries were applied.
pub fn replay(
    state: &mut State,
    entries: impl IntoIterator<Item = JournalEntry>,
    path: &Path,
) -> Result<usize, StateError> {
    let mut applied = 0;
    for entry in entries {
        if entry.lineage != state.lineage || entry.serial <= state.serial {
            continue;
        }
        if entry.serial != state.serial + 1 {
            break;
        }
        for change in &entry.changes {
            change
                .apply(state)
                .map_err(|message| StateError::Corrupt { path: path.to_owned(), message })?;
        }
        state.serial = entry.serial;
        applied += 1;
    }
    Ok(applied)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encryption::Target;
    use meshform_core::{InstanceKey, Value};

    fn set(address: &str, content: &str) -> StateChange {
        let key = address
            .parse::<meshform_core::InstanceAddr>()
            .map(|a| a.key)
            .unwrap_or(InstanceKey::None);
        let mut instance = InstanceState::new(key);
        instance.set_value(&Value::map([("content", Value::string(content))]));
        StateChange::SetInstance {
            address: address.to_owned(),
            provider: "provider.local".to_owned(),
            instance,
        }
    }

    #[test]
    fn frames_round_trip_and_a_torn_or_damaged_tail_ends_the_journal() {
        let mut bytes = encode_frame(b"first");
        bytes.extend(encode_frame(b"second"));
        let whole = bytes.len();
        let (frames, valid) = scan_frames(&bytes);
        assert_eq!(frames.iter().map(|f| f.1).collect::<Vec<_>>(), [&b"first"[..], b"second"]);
        assert_eq!(valid, whole);
        // Every cut inside the second frame leaves exactly the first.
        let first = encode_frame(b"first").len();
        for cut in first..whole {
            let (frames, valid) = scan_frames(&bytes[..cut]);
            assert_eq!((frames.len(), valid), (1, first), "cut at {cut}");
        }
        // A flipped bit in the second payload is detected by its checksum.
        let mut damaged = bytes.clone();
        damaged[whole - 1] ^= 1;
        assert_eq!(scan_frames(&damaged).1, first);
        // Zeros after the last frame (a file extended by a crash) are not a frame.
        let mut padded = bytes.clone();
        padded.extend([0u8; 64]);
        assert_eq!(scan_frames(&padded).1, whole);
    }

    #[test]
    fn replay_applies_what_follows_the_snapshot_and_skips_what_it_has() {
        let mut state = State::new();
        state.serial = 5;
        let entry = |serial, changes| JournalEntry {
            version: JOURNAL_FORMAT_VERSION,
            lineage: state.lineage.clone(),
            serial,
            changes,
        };
        let entries = vec![
            // Folded into the snapshot by a compaction the crash interrupted.
            entry(5, vec![set("local_file.a[0]", "stale")]),
            entry(6, vec![set("local_file.a[0]", "zero"), set("local_file.a[1]", "one")]),
            entry(7, vec![StateChange::RemoveInstance { address: "local_file.a[0]".into() }]),
            // A gap: never applied.
            entry(9, vec![set("local_file.a[2]", "two")]),
        ];
        let other = JournalEntry { lineage: "another".into(), ..entry(6, vec![]) };
        let mut replayed = state.clone();
        let n = replay(&mut replayed, std::iter::once(other).chain(entries), Path::new("j"))
            .expect("replayed");
        assert_eq!(n, 2);
        assert_eq!(replayed.serial, 7);
        let addrs: Vec<String> = replayed.instances().map(|(a, _, _)| a.to_string()).collect();
        assert_eq!(addrs, ["local_file.a[1]"]);
    }

    #[test]
    fn a_newer_journal_record_is_refused() {
        let enc = Encryption::none(Target::State);
        let payload = br#"{"version": 2, "lineage": "l", "serial": 1, "changes": [], "new": 1}"#;
        let e = JournalEntry::decode(&enc, Path::new("s.json.journal"), payload).unwrap_err();
        assert!(matches!(e, StateError::UnsupportedVersion { found: 2, .. }), "{e}");
        assert!(e.to_string().contains("s.json.journal"), "{e}");
    }

    #[test]
    fn pending_and_deposed_changes_replace_and_remove_by_address() {
        let mut state = State::new();
        let planned = Value::map([("filename", Value::string("a.txt"))]);
        let pending = PendingCreate::new("local_file.a".into(), "provider.local".into(), &planned);
        for c in [
            StateChange::AddPending { pending: pending.clone() },
            StateChange::AddPending { pending: pending.clone() },
        ] {
            c.apply(&mut state).expect("applied");
        }
        assert_eq!(state.pending.len(), 1, "an intent is recorded once per address");
        StateChange::RemovePending { address: "local_file.a".into() }
            .apply(&mut state)
            .expect("applied");
        assert!(state.pending.is_empty());
        let bad = StateChange::RemoveInstance { address: "not an address".into() };
        assert!(bad.apply(&mut state).is_err());
    }
}
