//! The registry's transparency log in the ledger: every event version stored is appended,
//! in the same transaction, as a leaf of an RFC 9162 Merkle tree (`registry::merkle`).
//!
//! The entry is decided in `format::note::event_entry`: small, canonical, enough to find
//! the event and to see which key signed what. Leaves are never rewritten; the leaf index
//! is the order in which versions were stored.

use rusqlite::{Connection, OptionalExtension as _, params};

use super::{Ledger, LedgerError, StoredEvent};
use crate::format::canon;
use crate::format::digest::Sha256Digest;
use crate::registry::merkle;

pub(super) const SCHEMA_LOG: &str = "
CREATE TABLE IF NOT EXISTS key_statements (
    seq INTEGER PRIMARY KEY,
    statement_sha256 TEXT NOT NULL UNIQUE,
    entry TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS log_leaves (
    idx INTEGER PRIMARY KEY,
    version_seq INTEGER UNIQUE REFERENCES event_versions(seq),
    statement_seq INTEGER UNIQUE REFERENCES key_statements(seq),
    entry TEXT NOT NULL,
    leaf_hash TEXT NOT NULL,
    CHECK ((version_seq IS NULL) <> (statement_seq IS NULL))
);
CREATE TABLE IF NOT EXISTS log_checkpoints (
    seq INTEGER PRIMARY KEY,
    origin TEXT NOT NULL,
    size INTEGER NOT NULL,
    root TEXT NOT NULL,
    signed_at TEXT NOT NULL,
    note TEXT NOT NULL
);
";

/// The log entry of one stored event version (`format::note::event_entry`).
pub(crate) fn entry(e: &StoredEvent) -> Vec<u8> {
    crate::format::note::event_entry(
        &e.event_id,
        &e.event_type,
        &e.signature_b64,
        &e.fingerprint,
        &e.subject,
    )
}

/// Append the leaf of the version just stored as `seq` (inside the caller's transaction).
pub(super) fn append(conn: &Connection, seq: i64, e: &StoredEvent) -> rusqlite::Result<()> {
    let entry = entry(e);
    let leaf = merkle::leaf_hash(&entry);
    conn.prepare_cached(
        "INSERT INTO log_leaves (idx, version_seq, entry, leaf_hash) VALUES ((SELECT coalesce(max(idx) + 1, 0) FROM log_leaves), ?1, ?2, ?3)",
    )?
    .execute(params![seq, canon::into_text(entry), leaf.hex()])?;
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
        q("SELECT (SELECT COUNT(*) FROM event_versions) + (SELECT COUNT(*) FROM key_statements)"),
        q("SELECT coalesce(max(idx), -1) FROM log_leaves"),
    );
    let (leaves, versions, top) = match (leaves, versions, top) {
        (Ok(a), Ok(b), Ok(c)) => (a, b, c),
        (Err(e), ..) | (_, Err(e), _) | (.., Err(e)) => return Err(e.to_string()),
    };
    if leaves != versions {
        return Err(format!(
            "the log has {leaves} leaves for {versions} stored event versions and key statements"
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
        "SELECT l.idx, l.entry, l.leaf_hash, v.event, k.entry FROM log_leaves l LEFT JOIN event_versions v ON v.seq = l.version_seq LEFT JOIN key_statements k ON k.seq = l.statement_seq ORDER BY l.idx",
    )?;
    let mut rows = st.query([])?;
    let (mut out, mut bad, mut expect) = (Vec::new(), 0usize, 0i64);
    while let Some(r) = rows.next()? {
        let (idx, entry, hash, text, statement): (
            i64,
            String,
            String,
            Option<String>,
            Option<String>,
        ) = (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?);
        let logged = match (text, statement) {
            (Some(text), None) => canon::parse(text.as_bytes())
                .map(|v| self::entry(&StoredEvent::of(&v)))
                .ok(),
            (None, Some(st)) => Some(st.into_bytes()),
            _ => None,
        };
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

/// Key statements in the log.
impl Ledger {
    /// Log every key statement `keyring` trusts that the log does not hold yet, each in
    /// its own leaf (the same transaction for all); the number appended.
    pub fn log_statements(
        &mut self,
        keyring: &crate::verify::keyring::Keyring,
    ) -> Result<usize, LedgerError> {
        let todo: Vec<(String, String)> = keyring
            .statement_log_entries()
            .map(|(d, e)| (d.to_owned(), String::from_utf8_lossy(e).into_owned()))
            .collect();
        self.immediate(|c| {
            let mut n = 0;
            for (digest, entry) in &todo {
                let added = c
                    .prepare_cached(
                        "INSERT OR IGNORE INTO key_statements (statement_sha256, entry) VALUES (?1, ?2)",
                    )?
                    .execute(params![digest, entry])?;
                if added == 0 {
                    continue;
                }
                let seq = c.last_insert_rowid();
                let leaf = merkle::leaf_hash(entry.as_bytes());
                c.prepare_cached(
                    "INSERT INTO log_leaves (idx, statement_seq, entry, leaf_hash) VALUES ((SELECT coalesce(max(idx) + 1, 0) FROM log_leaves), ?1, ?2, ?3)",
                )?
                .execute(params![seq, entry, leaf.hex()])?;
                n += 1;
            }
            Ok(n)
        })
    }

    /// The `statement_sha256` of every key statement in the log.
    pub fn logged_statements(&self) -> Result<Vec<String>, LedgerError> {
        self.needs(3)?;
        let sql = self.sql();
        let mut st = self
            .conn
            .prepare("SELECT statement_sha256 FROM key_statements ORDER BY seq")
            .map_err(&sql)?;
        st.query_map([], |r| r.get(0))
            .map_err(&sql)?
            .collect::<Result<_, _>>()
            .map_err(&sql)
    }
}

/// Where the log stands, and the proofs it gives.
impl Ledger {
    /// Every leaf hash, in order (recomputed from the stored entries, so a leaf whose
    /// entry was edited is found: the ledger is refused).
    fn leaves(&self) -> Result<Vec<Sha256Digest>, LedgerError> {
        self.needs(3)?;
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

    /// Every leaf hash, in order, checked against its entry (for serving tiles).
    pub(crate) fn log_leaf_hashes(&self) -> Result<Vec<Sha256Digest>, LedgerError> {
        self.leaves()
    }

    /// The entries of leaves `lo..hi`, in order.
    pub(crate) fn log_entries(&self, lo: u64, hi: u64) -> Result<Vec<String>, LedgerError> {
        self.needs(3)?;
        let sql = self.sql();
        let mut st = self
            .conn
            .prepare("SELECT entry FROM log_leaves WHERE idx >= ?1 AND idx < ?2 ORDER BY idx")
            .map_err(&sql)?;
        let rows = st
            .query_map(params![lo as i64, hi as i64], |r| r.get(0))
            .map_err(&sql)?
            .collect::<Result<Vec<String>, _>>()
            .map_err(&sql)?;
        if rows.len() as u64 != hi.saturating_sub(lo) {
            return Err(self.corrupt(format!("log leaves {lo}..{hi} are not all there")));
        }
        Ok(rows)
    }

    /// The papers with a leaf in `lo..hi`, each with all its leaves below `hi`:
    /// (subject, [(event_id, leaf index)]).
    pub(crate) fn log_papers_touched(
        &self,
        lo: u64,
        hi: u64,
    ) -> Result<Vec<PaperLeaves>, LedgerError> {
        self.needs(3)?;
        let sql = self.sql();
        let mut st = self
            .conn
            .prepare(
                "SELECT e.subject, v.event_id, l.idx FROM log_leaves l
                 JOIN event_versions v ON v.seq = l.version_seq
                 JOIN events e ON e.event_id = v.event_id
                 WHERE l.idx < ?2 AND e.subject IN (
                   SELECT e2.subject FROM log_leaves l2
                   JOIN event_versions v2 ON v2.seq = l2.version_seq
                   JOIN events e2 ON e2.event_id = v2.event_id
                   WHERE l2.idx >= ?1 AND l2.idx < ?2)
                 ORDER BY e.subject, l.idx",
            )
            .map_err(&sql)?;
        let mut rows = st.query(params![lo as i64, hi as i64]).map_err(&sql)?;
        let mut out: Vec<PaperLeaves> = Vec::new();
        while let Some(r) = rows.next().map_err(&sql)? {
            let (subject, id, idx): (String, String, i64) = (
                r.get(0).map_err(&sql)?,
                r.get(1).map_err(&sql)?,
                r.get(2).map_err(&sql)?,
            );
            match out.last_mut() {
                Some((s, v)) if *s == subject => v.push((id, idx as u64)),
                _ => out.push((subject, vec![(id, idx as u64)])),
            }
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
        self.inclusion_where("v.event_id = ?1", event_id)
    }

    /// The same for every stored event version about `subject` (a Pith number).
    pub fn log_inclusion_of_subject(&self, subject: &str) -> Result<Inclusion, LedgerError> {
        self.inclusion_where(
            "v.event_id IN (SELECT event_id FROM events WHERE subject = ?1)",
            subject,
        )
    }

    fn inclusion_where(&self, cond: &str, param: &str) -> Result<Inclusion, LedgerError> {
        let leaves = self.leaves()?;
        let sql = self.sql();
        let mut st = self
            .conn
            .prepare(&format!("SELECT l.idx, l.entry FROM log_leaves l JOIN event_versions v ON v.seq = l.version_seq WHERE {cond} ORDER BY l.idx"))
            .map_err(&sql)?;
        let rows: Vec<(i64, String)> = st
            .query_map(params![param], |r| Ok((r.get(0)?, r.get(1)?)))
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

    /// The newest signed checkpoint kept: (origin, size, note text).
    pub fn log_last_checkpoint(&self) -> Result<Option<(String, u64, String)>, LedgerError> {
        self.needs(3)?;
        let sql = self.sql();
        self.conn
            .query_row(
                "SELECT origin, size, note FROM log_checkpoints ORDER BY seq DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64, r.get(2)?)),
            )
            .optional()
            .map_err(&sql)
    }

    /// The current tree as a checkpoint of `origin` to be signed, refused when it would
    /// move the log back or rename it: a log keeps the origin of its first checkpoint.
    pub fn log_checkpoint_draft(
        &self,
        origin: &str,
    ) -> Result<crate::format::note::Checkpoint, LedgerError> {
        let (size, root) = self.log_head()?;
        self.extends_last(origin, size, self.log_last_checkpoint()?.as_ref())?;
        crate::format::note::Checkpoint::new(origin, size, root)
            .map_err(|e| self.refuse(e.to_string()))
    }

    /// A log of `size` leaves named `origin` may be checkpointed after `last`: the same
    /// origin, and no smaller than the tree `last` signed.
    fn extends_last(
        &self,
        origin: &str,
        size: u64,
        last: Option<&(String, u64, String)>,
    ) -> Result<(), LedgerError> {
        let Some((o, last, _)) = last else {
            return Ok(());
        };
        if o != origin {
            return Err(self.refuse(format!(
                "this log's checkpoints have origin {o:?}; refusing to sign one for {origin:?}"
            )));
        }
        if size < *last {
            return Err(self.refuse(format!(
                "the log has {size} leaves but a checkpoint of {last} was signed: the tree moved back"
            )));
        }
        Ok(())
    }

    /// Keep a signed checkpoint of this log (before it is shown anywhere): its tree must be
    /// this ledger's tree at that size, not smaller than the last one kept, of the same
    /// origin.
    pub fn store_checkpoint(
        &mut self,
        checkpoint: &crate::format::note::Checkpoint,
        note: &crate::format::note::Note,
        signed_at: &crate::format::time::Timestamp,
    ) -> Result<(), LedgerError> {
        let leaves = self.leaves()?;
        let size = usize::try_from(checkpoint.size()).unwrap_or(usize::MAX);
        if size > leaves.len() || merkle::root(&leaves[..size]) != *checkpoint.root() {
            return Err(self.refuse(format!(
                "the checkpoint of {} leaves is not this log's tree",
                checkpoint.size()
            )));
        }
        let last = self.log_last_checkpoint()?;
        self.extends_last(checkpoint.origin(), leaves.len() as u64, last.as_ref())?;
        if let Some((_, last, _)) = &last
            && checkpoint.size() < *last
        {
            return Err(self.refuse(format!(
                "a checkpoint of {last} leaves is already kept; refusing an older one of {}",
                checkpoint.size()
            )));
        }
        let (origin, root, text) = (
            checkpoint.origin().to_owned(),
            checkpoint.root().hex(),
            note.text(),
        );
        if last.is_some_and(|(_, _, last)| last == text) {
            return Ok(());
        }
        let size = checkpoint.size() as i64;
        let at = signed_at.fmt_micros();
        self.immediate(|c| {
            c.execute(
                "INSERT INTO log_checkpoints (origin, size, root, signed_at, note) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![origin, size, root, at, text],
            )
            .map(|_| ())
        })
    }

    fn refuse(&self, what: String) -> LedgerError {
        LedgerError::Log {
            path: self.path().to_path_buf(),
            what,
        }
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

/// A paper's log leaves: (subject, [(event_id, leaf index)]).
pub(crate) type PaperLeaves = (String, Vec<(String, u64)>);

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

impl Inclusion {
    /// The proof document of these leaves (`verify::log`).
    pub fn to_proofs(&self) -> crate::verify::log::InclusionProofs {
        crate::verify::log::InclusionProofs {
            size: self.size,
            root: self.root,
            leaves: self
                .proofs
                .iter()
                .map(|(i, e, p)| crate::verify::log::LeafProof {
                    index: *i,
                    entry: e.as_bytes().to_vec(),
                    path: p.clone(),
                })
                .collect(),
        }
    }
}
