//! The registry's transparency log in the ledger: every event version stored is appended,
//! in the same transaction, as a leaf of an RFC 9162 Merkle tree (`registry::merkle`).
//!
//! The entry (decided): the canonical JSON object `{"entry_type": "pith_log_event_v1",
//! "event_id", "event_type", "signature_b64", "signer", "subject"}` (`signer` is the
//! signature's key fingerprint): small, canonical, enough to find the event and to see
//! which key signed what. Leaves are never rewritten; the leaf index is the order in
//! which versions were stored.

use rusqlite::{Connection, params};

use super::{Ledger, LedgerError, StoredEvent};
use crate::format::canon;
use crate::format::digest::Sha256Digest;
use crate::registry::merkle;

/// `entry_type` of an event leaf.
pub const ENTRY_EVENT: &str = "pith_log_event_v1";

pub(super) const SCHEMA_LOG: &str = "
CREATE TABLE IF NOT EXISTS log_leaves (
    idx INTEGER PRIMARY KEY,
    version_seq INTEGER NOT NULL UNIQUE REFERENCES event_versions(seq),
    entry TEXT NOT NULL,
    leaf_hash TEXT NOT NULL
);
";

/// The log entry of one stored event version.
pub(crate) fn entry(e: &StoredEvent) -> Vec<u8> {
    canon::to_canonical(&canon::object([
        ("entry_type", ENTRY_EVENT.into()),
        ("event_id", e.event_id.as_str().into()),
        ("event_type", e.event_type.as_str().into()),
        ("signature_b64", e.signature_b64.as_str().into()),
        ("signer", e.fingerprint.as_str().into()),
        ("subject", e.subject.as_str().into()),
    ]))
}

/// Append the leaf of the version just stored as `seq` (inside the caller's transaction).
pub(super) fn append(conn: &Connection, seq: i64, e: &StoredEvent) -> rusqlite::Result<()> {
    let entry = entry(e);
    let leaf = merkle::leaf_hash(&entry);
    conn.prepare_cached(
        "INSERT INTO log_leaves (idx, version_seq, entry, leaf_hash) VALUES ((SELECT coalesce(max(idx) + 1, 0) FROM log_leaves), ?1, ?2, ?3)",
    )?
    .execute(params![seq, String::from_utf8_lossy(&entry), leaf.hex()])?;
    Ok(())
}

/// Append leaves for stored versions that have none (a ledger made before the log), in
/// store order.
pub(super) fn backfill(conn: &Connection) -> rusqlite::Result<usize> {
    let mut st = conn.prepare(
        "SELECT v.seq, v.event FROM event_versions v WHERE NOT EXISTS (SELECT 1 FROM log_leaves l WHERE l.version_seq = v.seq) ORDER BY v.seq",
    )?;
    let rows: Vec<(i64, String)> = st
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    for (seq, text) in &rows {
        // a stored version that is not canonical JSON is a damaged ledger, never a guess
        let v = canon::parse(text.as_bytes()).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(
                4,
                rusqlite::types::Type::Text,
                format!("event version {seq} is not canonical JSON: {e}").into(),
            )
        })?;
        append(conn, *seq, &StoredEvent::of(&v))?;
    }
    Ok(rows.len())
}

/// The cheap check made at every open: one leaf per stored version, indices contiguous
/// from 0, and the newest leaf's hash that of its entry. (`Ledger::check` and every log
/// read recompute the whole tree.)
pub(super) fn check_shape(conn: &Connection) -> Result<(), String> {
    let q = |s: &str| conn.query_row(s, [], |r| r.get::<_, i64>(0));
    let (leaves, versions, top) = (
        q("SELECT COUNT(*) FROM log_leaves"),
        q("SELECT COUNT(*) FROM event_versions"),
        q("SELECT coalesce(max(idx), -1) FROM log_leaves"),
    );
    let (leaves, versions, top) = match (leaves, versions, top) {
        (Ok(a), Ok(b), Ok(c)) => (a, b, c),
        (Err(e), ..) | (_, Err(e), _) | (.., Err(e)) => return Err(e.to_string()),
    };
    if leaves != versions {
        return Err(format!(
            "the log has {leaves} leaves for {versions} stored event versions"
        ));
    }
    if top + 1 != leaves {
        return Err(format!(
            "the log's leaf indices are not 0..{leaves} (largest {top})"
        ));
    }
    if leaves > 0 {
        let (entry, hash): (String, String) = conn
            .query_row(
                "SELECT entry, leaf_hash FROM log_leaves WHERE idx = ?1",
                params![top],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(|e| e.to_string())?;
        if merkle::leaf_hash(entry.as_bytes()).hex() != hash {
            return Err(format!("log leaf {top}: its hash is not that of its entry"));
        }
    }
    Ok(())
}

/// Problems found by recomputing every leaf from the event version it logs (for
/// `Ledger::check`): at most `limit` are described, all are counted.
pub(super) fn check_all(conn: &Connection, limit: usize) -> rusqlite::Result<Vec<String>> {
    let mut st = conn.prepare(
        "SELECT l.idx, l.entry, l.leaf_hash, v.event FROM log_leaves l JOIN event_versions v ON v.seq = l.version_seq ORDER BY l.idx",
    )?;
    let mut rows = st.query([])?;
    let (mut out, mut bad, mut expect) = (Vec::new(), 0usize, 0i64);
    while let Some(r) = rows.next()? {
        let (idx, entry, hash, text): (i64, String, String, String) =
            (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?);
        let logged = canon::parse(text.as_bytes())
            .map(|v| self::entry(&StoredEvent::of(&v)))
            .ok();
        let ok = idx == expect
            && logged.as_deref() == Some(entry.as_bytes())
            && merkle::leaf_hash(entry.as_bytes()).hex() == hash;
        if !ok {
            bad += 1;
            if out.len() < limit {
                out.push(format!(
                    "log leaf {idx}: not the entry of the event version it logs"
                ));
            }
        }
        expect = idx + 1;
    }
    if bad > out.len() {
        out.push(format!("{} more log leaves are wrong", bad - out.len()));
    }
    Ok(out)
}

/// Where the log stands, and the proofs it gives.
impl Ledger {
    /// Every leaf hash, in order (recomputed from the stored entries, so a leaf whose
    /// entry was edited is found: the ledger is refused).
    fn leaves(&self) -> Result<Vec<Sha256Digest>, LedgerError> {
        let sql = self.sql();
        let mut st = self
            .conn
            .prepare("SELECT idx, entry, leaf_hash FROM log_leaves ORDER BY idx")
            .map_err(&sql)?;
        let mut rows = st.query([]).map_err(&sql)?;
        let mut out = Vec::new();
        while let Some(r) = rows.next().map_err(&sql)? {
            let (idx, entry, hash): (i64, String, String) = (
                r.get(0).map_err(&sql)?,
                r.get(1).map_err(&sql)?,
                r.get(2).map_err(&sql)?,
            );
            let leaf = merkle::leaf_hash(entry.as_bytes());
            if idx != out.len() as i64 || leaf.hex() != hash {
                return Err(self.corrupt(format!(
                    "log leaf {idx}: the stored tree disagrees with its entries"
                )));
            }
            out.push(leaf);
        }
        Ok(out)
    }

    /// The log's size and tree head.
    pub fn log_head(&self) -> Result<(u64, Sha256Digest), LedgerError> {
        let leaves = self.leaves()?;
        Ok((leaves.len() as u64, merkle::root(&leaves)))
    }

    /// For each stored version of `event_id`: its leaf index, entry, and inclusion proof
    /// in the current tree, with the tree's size and head.
    pub fn log_inclusion(&self, event_id: &str) -> Result<Inclusion, LedgerError> {
        let leaves = self.leaves()?;
        let sql = self.sql();
        let mut st = self
            .conn
            .prepare("SELECT l.idx, l.entry FROM log_leaves l JOIN event_versions v ON v.seq = l.version_seq WHERE v.event_id = ?1 ORDER BY l.idx")
            .map_err(&sql)?;
        let rows: Vec<(i64, String)> = st
            .query_map(params![event_id], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(&sql)?
            .collect::<Result<_, _>>()
            .map_err(&sql)?;
        let mut proofs = Vec::new();
        for (idx, entry) in rows {
            let i = usize::try_from(idx).map_err(|_| self.corrupt(format!("log index {idx}")))?;
            let proof = merkle::inclusion_proof(i, &leaves)
                .ok_or_else(|| self.corrupt(format!("log index {idx} beyond the tree")))?;
            proofs.push((idx as u64, entry, proof));
        }
        Ok(Inclusion {
            size: leaves.len() as u64,
            root: merkle::root(&leaves),
            proofs,
        })
    }

    /// The consistency proof from the tree of `old` leaves to the current tree.
    pub fn log_consistency(
        &self,
        old: u64,
    ) -> Result<Option<(u64, Sha256Digest, Vec<Sha256Digest>)>, LedgerError> {
        let leaves = self.leaves()?;
        let Ok(m) = usize::try_from(old) else {
            return Ok(None);
        };
        Ok(merkle::consistency_proof(m, &leaves)
            .map(|p| (leaves.len() as u64, merkle::root(&leaves), p)))
    }
}

/// Inclusion proofs of one event's versions.
#[derive(Clone, Debug)]
pub struct Inclusion {
    /// Tree size.
    pub size: u64,
    /// Tree head.
    pub root: Sha256Digest,
    /// (leaf index, entry, proof) for each version.
    pub proofs: Vec<(u64, String, Vec<Sha256Digest>)>,
}
