//! The PostgreSQL backend's journal: reading a workspace's row with its journal replayed, and
//! appending one entry in a transaction under the row lock and the lineage and serial checks of a
//! write (see the parent module).

use crate::journal::{replay, JournalEntry, StateChange};
use crate::local::decode_stored;
use crate::store::{Appended, StateError, StateStore};
use crate::State;

use super::{key_halves, PgStore, WriteRefusal::LostLock, WriteRefusal::Refused};

impl PgStore {
    pub(super) fn read_replayed(&self) -> Result<Option<State>, StateError> {
        // One statement: the row and its journal as of one snapshot of the database, whatever a
        // writer commits meanwhile.
        let sql = format!(
            "SELECT 0 AS part, serial, data FROM {states} WHERE workspace = $1 \
             UNION ALL SELECT 1, j.serial, j.data FROM {journal} j JOIN {states} s \
             ON s.workspace = j.workspace WHERE j.workspace = $1 AND j.serial > s.serial \
             ORDER BY part, serial",
            states = self.table("states"),
            journal = self.table("journal"),
        );
        let workspace = self.workspace.clone();
        let rows: Vec<String> = self.with_session(move |c, _| {
            Ok(c.query(sql.as_str(), &[&workspace])?.iter().map(|r| r.get(2)).collect())
        })?;
        let mut rows = rows.into_iter();
        let Some(data) = rows.next() else { return Ok(None) };
        let path = self.pseudo_path();
        let corrupt = |message: String| StateError::Backend {
            backend: self.describe(),
            message: format!(
                "the stored state is corrupt: {message}. It was left untouched; the column \
                 `previous` of the same row holds the version before the last write"
            ),
        };
        let mut state = match decode_stored(&self.encryption, &path, data.as_bytes()) {
            Ok(s) => s.state,
            Err(StateError::Corrupt { message, .. }) => return Err(corrupt(message)),
            Err(e) => return Err(e),
        };
        let entries = rows
            .map(|data| JournalEntry::decode(&self.encryption, &path, data.as_bytes()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| match e {
                StateError::Corrupt { message, .. } => corrupt(message),
                e => e,
            })?;
        replay(&mut state, entries, &path)?;
        Ok(Some(state))
    }

    pub(super) fn append_entry(
        &self,
        lineage: &str,
        serial: u64,
        changes: &[StateChange],
    ) -> Result<Appended, StateError> {
        let states = self.table("states");
        let journal = self.table("journal");
        let workspace = self.workspace.clone();
        let (hi, lo) = key_halves(self.key);
        let path = self.pseudo_path();
        let entry = JournalEntry::next(lineage, serial, changes.to_vec());
        let data = String::from_utf8_lossy(&entry.encode(&self.encryption, &path)?).into_owned();
        let outcome = self.with_session(move |c, locked| {
            // The usual case in one statement (one round trip, its own transaction): the row
            // locked, lineage, serial (the row's or its last entry's) and the run lock checked, the
            // entry inserted. When it inserts nothing, the transaction below finds out why.
            let next = i64::try_from(entry.serial).unwrap_or(i64::MAX);
            let base = i64::try_from(serial).unwrap_or(i64::MAX);
            let inserted = c.execute(
                format!(
                    "WITH s AS (SELECT lineage, serial FROM {states} WHERE workspace = $1 \
                     FOR UPDATE), j AS (SELECT coalesce(max(serial), 0) AS m FROM {journal} \
                     WHERE workspace = $1) \
                     INSERT INTO {journal} (workspace, serial, data) SELECT $1, $2, $3 FROM s, j \
                     WHERE s.lineage = $4 AND greatest(s.serial, j.m) = $5 AND (NOT $6 OR EXISTS \
                     (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted \
                     AND pid = pg_backend_pid() AND classid::bigint = $7 \
                     AND objid::bigint = $8 AND objsubid = 1))"
                )
                .as_str(),
                &[&workspace, &next, &data, &entry.lineage, &base, &locked, &hi, &lo],
            )?;
            if inserted == 1 {
                return Ok(Ok(Appended::Journalled { serial: entry.serial }));
            }
            let mut tx = c.transaction()?;
            if locked && !holds_lock(&mut tx, hi, lo)? {
                return Ok(Err(LostLock));
            }
            let row = tx.query_opt(
                format!("SELECT lineage, serial FROM {states} WHERE workspace = $1 FOR UPDATE")
                    .as_str(),
                &[&workspace],
            )?;
            let Some(row) = row else { return Ok(Ok(Appended::NeedsSnapshot)) };
            let stored_lineage: String = row.get(0);
            let row_serial = u64::try_from(row.get::<_, i64>(1)).unwrap_or(0);
            let stored = row_serial.max(last_journalled(&mut tx, &journal, &workspace)?);
            if stored_lineage != entry.lineage {
                return Ok(Err(Refused(StateError::LineageMismatch {
                    path,
                    stored: stored_lineage,
                    ours: entry.lineage,
                })));
            }
            if stored > serial {
                return Ok(Err(Refused(StateError::SerialConflict { path, stored, ours: serial })));
            }
            if stored < serial {
                // Entries must follow the stored serial without a gap.
                return Ok(Ok(Appended::NeedsSnapshot));
            }
            tx.execute(
                format!("INSERT INTO {journal} (workspace, serial, data) VALUES ($1, $2, $3)")
                    .as_str(),
                &[&workspace, &next, &data],
            )?;
            tx.commit()?;
            Ok(Ok(Appended::Journalled { serial: entry.serial }))
        })?;
        match outcome {
            Ok(appended) => Ok(appended),
            Err(Refused(e)) => Err(e),
            Err(LostLock) => Err(self.lost_lock()),
        }
    }
}

/// Whether this session still holds the workspace's advisory lock (`hi`, `lo`).
pub(super) fn holds_lock(
    tx: &mut postgres::Transaction<'_>,
    hi: i64,
    lo: i64,
) -> Result<bool, postgres::Error> {
    Ok(tx
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' \
             AND granted AND pid = pg_backend_pid() AND classid::bigint = $1 \
             AND objid::bigint = $2 AND objsubid = 1)",
            &[&hi, &lo],
        )?
        .get(0))
}

/// The serial of the workspace's last journal entry (0 without one).
pub(super) fn last_journalled(
    tx: &mut postgres::Transaction<'_>,
    journal: &str,
    workspace: &str,
) -> Result<u64, postgres::Error> {
    let row = tx.query_one(
        format!("SELECT max(serial) FROM {journal} WHERE workspace = $1").as_str(),
        &[&workspace],
    )?;
    Ok(row.get::<_, Option<i64>>(0).and_then(|s| u64::try_from(s).ok()).unwrap_or(0))
}
