//! The registry's event store: every event the registry signs or applies and every bundle
//! it builds, in the ledger, in the same transaction as what they record.
//!
//! An event is kept once per `event_id`; each signature of it (a re-signature by a
//! successor key) adds a version, the whole signed event as its canonical bytes, never a
//! second event. A paper's current events are the newest version of each; a bundle is
//! rebuilt from them exactly as from files.

use rusqlite::{Connection, OptionalExtension as _, params};

use super::{Ledger, LedgerError};
use crate::format::canon::{self, Value};
use crate::format::digest::PithNumber;
use crate::format::time::Timestamp;
use crate::model::{Bundle, Event};
use crate::verify::Verified;

/// The store's tables (schema 2).
pub(super) const SCHEMA_V2: &str = "
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY,
    event_id TEXT NOT NULL UNIQUE,
    subject TEXT NOT NULL,
    event_type TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_subject ON events(subject, seq);
CREATE TABLE IF NOT EXISTS event_versions (
    seq INTEGER PRIMARY KEY,
    event_id TEXT NOT NULL REFERENCES events(event_id),
    public_key_fingerprint TEXT NOT NULL,
    signed_at TEXT NOT NULL,
    signature_b64 TEXT NOT NULL,
    event TEXT NOT NULL,
    UNIQUE (event_id, signature_b64)
);
CREATE INDEX IF NOT EXISTS event_versions_event ON event_versions(event_id, seq);
CREATE TABLE IF NOT EXISTS bundles (
    seq INTEGER PRIMARY KEY,
    bundle_sha256 TEXT NOT NULL UNIQUE,
    pith_number TEXT NOT NULL,
    built_at TEXT NOT NULL,
    events_seq INTEGER NOT NULL,
    bundle TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS bundles_number ON bundles(pith_number, seq);
";

/// A signed event as the store keeps it: the facts it is found by and its canonical bytes.
#[derive(Clone, Debug, Default)]
pub struct StoredEvent {
    /// `event_id`.
    pub event_id: String,
    /// `subject_pith_number`.
    pub subject: String,
    /// `event_type`.
    pub event_type: String,
    /// `created_at`.
    pub created_at: String,
    /// `signature.public_key_fingerprint`.
    pub fingerprint: String,
    /// `signature.signed_at`.
    pub signed_at: String,
    /// `signature.signature_b64`.
    pub signature_b64: String,
    /// The whole event, canonical.
    pub text: String,
}

impl StoredEvent {
    /// The store's view of a signed event (one this process signed, or a verified one).
    pub(crate) fn of(ev: &Value) -> Self {
        let s = |v: Option<&Value>, k: &str| {
            v.and_then(|x| x.get(k))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let sig = ev.get("signature");
        StoredEvent {
            event_id: s(Some(ev), "event_id"),
            subject: s(Some(ev), "subject_pith_number"),
            event_type: s(Some(ev), "event_type"),
            created_at: s(Some(ev), "created_at"),
            fingerprint: s(sig, "public_key_fingerprint"),
            signed_at: s(sig, "signed_at"),
            signature_b64: s(sig, "signature_b64"),
            text: String::from_utf8_lossy(&canon::to_canonical(ev)).into_owned(),
        }
    }
}

/// A built bundle as the store keeps it.
#[derive(Clone, Debug, Default)]
pub struct StoredBundle {
    /// `bundle_signature.bundle_sha256`.
    pub sha256: String,
    /// `pith_number`.
    pub number: String,
    /// `built_at`.
    pub built_at: String,
    /// The whole bundle, canonical.
    pub text: String,
}

/// What storing an event did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Put {
    /// A new event.
    New,
    /// A new signature of an event already stored (a re-signature).
    Resigned,
    /// Already stored with this signature: nothing written.
    Already,
}

/// Store one event version on `conn` (inside the caller's transaction).
pub(super) fn put_event(conn: &Connection, e: &StoredEvent) -> rusqlite::Result<Put> {
    let new = conn
        .prepare_cached(
            "INSERT INTO events (event_id, subject, event_type, created_at) VALUES (?1, ?2, ?3, ?4) ON CONFLICT (event_id) DO NOTHING",
        )?
        .execute(params![e.event_id, e.subject, e.event_type, e.created_at])?;
    let version = conn
        .prepare_cached(
            "INSERT INTO event_versions (event_id, public_key_fingerprint, signed_at, signature_b64, event) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (event_id, signature_b64) DO NOTHING",
        )?
        .execute(params![e.event_id, e.fingerprint, e.signed_at, e.signature_b64, e.text])?;
    Ok(match (new, version) {
        (1, _) => Put::New,
        (_, 1) => Put::Resigned,
        _ => Put::Already,
    })
}

/// Store one bundle on `conn`; false when it was already stored. `from_store`: it was
/// assembled from every event the store holds about its paper (so the paper has nothing
/// pending); a bundle assembled from files may lack some, and leaves them pending.
pub(super) fn put_bundle(
    conn: &Connection,
    b: &StoredBundle,
    from_store: bool,
) -> rusqlite::Result<bool> {
    let covered: i64 = if from_store {
        conn.prepare_cached(
            "SELECT coalesce(max(v.seq), 0) FROM events e JOIN event_versions v ON v.event_id = e.event_id WHERE e.subject = ?1",
        )?
        .query_row(params![b.number], |r| r.get(0))?
    } else {
        0
    };
    let n = conn
        .prepare_cached(
            "INSERT INTO bundles (bundle_sha256, pith_number, built_at, events_seq, bundle) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (bundle_sha256) DO NOTHING",
        )?
        .execute(params![b.sha256, b.number, b.built_at, covered, b.text])?;
    Ok(n == 1)
}

/// Which papers a walk of the store visits.
#[derive(Clone, Debug)]
pub enum Select {
    /// Every paper with events.
    All,
    /// Papers with an event created at or after this time.
    Since(Timestamp),
    /// Papers with an event version newer than their newest bundle built from the store.
    Pending,
}

/// What [`Ledger::record_applied`] did with one artifact.
#[derive(Clone, Debug)]
pub enum AppliedOutcome {
    /// A `record_created`: the number issued, reissued, or already recorded.
    Issued(super::Issued),
    /// Another event.
    Event(Put),
    /// A bundle: false when already stored.
    Bundle(bool),
}

/// `meta` key: the newest bundle `seq` written to the published tree.
const PUBLISHED_SEQ: &str = "published_bundle_seq";

impl Ledger {
    /// Store a verified event (any kind), in its own transaction.
    pub fn store_event(&mut self, ev: &Verified<Event>) -> Result<Put, LedgerError> {
        let e = StoredEvent::of(ev.value());
        self.immediate(|c| put_event(c, &e))
    }

    /// Record what an offline signer's response brought (`apply`): a `record_created`
    /// issues or reissues its number with its receipt ([`Self::record_event`]); every
    /// other event and every bundle is stored. Applying the same response again writes
    /// nothing and says so.
    pub fn record_applied(
        &mut self,
        a: &crate::sign::offline::Applied,
    ) -> Result<AppliedOutcome, LedgerError> {
        use crate::sign::offline::Applied;
        Ok(match a {
            Applied::Event(e)
                if e.event_type() == crate::format::rules::EventType::RecordCreated =>
            {
                AppliedOutcome::Issued(self.record_event(e)?)
            }
            Applied::Event(e) => AppliedOutcome::Event(self.store_event(e)?),
            Applied::Bundle(b) => AppliedOutcome::Bundle(self.store_bundle(b, false)?),
        })
    }

    /// Store a verified bundle, in its own transaction; false when already stored.
    /// `from_store`: assembled from [`Self::events_of`] its paper.
    pub fn store_bundle(
        &mut self,
        b: &Verified<Bundle>,
        from_store: bool,
    ) -> Result<bool, LedgerError> {
        let sb = StoredBundle {
            sha256: crate::sign::bundle::bundle_sha256(b.value()).hex(),
            number: b.number().to_string(),
            built_at: b.built_at().fmt_seconds(),
            text: String::from_utf8_lossy(&canon::to_canonical(b.value())).into_owned(),
        };
        self.immediate(|c| put_bundle(c, &sb, from_store))
    }

    fn immediate<T>(
        &mut self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, LedgerError> {
        let path = self.path.clone();
        let sql = |source| LedgerError::Sql {
            path: path.clone(),
            source,
        };
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(&sql)?;
        let out = f(&tx).map_err(&sql)?;
        tx.commit().map_err(&sql)?;
        Ok(out)
    }

    fn corrupt(&self, what: String) -> LedgerError {
        LedgerError::Schema {
            path: self.path.clone(),
            what,
        }
    }

    /// The current events about `number`: the newest version of each, in store order.
    pub fn events_of(&self, number: &PithNumber) -> Result<Vec<Value>, LedgerError> {
        let sql = self.sql();
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT e.event_id, (SELECT v.event FROM event_versions v WHERE v.event_id = e.event_id ORDER BY v.seq DESC LIMIT 1) FROM events e WHERE e.subject = ?1 ORDER BY e.seq",
            )
            .map_err(&sql)?;
        let mut rows = st.query(params![number.to_string()]).map_err(&sql)?;
        let mut out = Vec::new();
        while let Some(r) = rows.next().map_err(&sql)? {
            let id: String = r.get(0).map_err(&sql)?;
            let text: Option<String> = r.get(1).map_err(&sql)?;
            let text = text.ok_or_else(|| self.corrupt(format!("event {id} has no version")))?;
            let v = canon::parse(text.as_bytes())
                .map_err(|e| self.corrupt(format!("stored event {id}: {e}")))?;
            out.push(v);
        }
        Ok(out)
    }

    /// A page of the Pith numbers that have stored events, in order of their first
    /// event, after the one whose first event is `after` (0 to start): `(seq, number)`,
    /// at most `limit`. `select` narrows them. Paged, so a ledger of all arXiv is walked
    /// in bounded memory.
    pub fn numbers_page(
        &self,
        after: i64,
        select: &Select,
        limit: usize,
    ) -> Result<Vec<(i64, PithNumber)>, LedgerError> {
        let sql = self.sql();
        let mut q = String::from(
            "SELECT e.seq, e.subject FROM events e WHERE e.seq > ?1 AND e.seq = (SELECT min(f.seq) FROM events f WHERE f.subject = e.subject)",
        );
        match select {
            // created_at is whole seconds in one format (spec §9): text order is time order
            Select::Since(_) => q.push_str(" AND EXISTS (SELECT 1 FROM events g WHERE g.subject = e.subject AND g.created_at >= ?3)"),
            Select::Pending => q.push_str(" AND (SELECT max(v.seq) FROM events g JOIN event_versions v ON v.event_id = g.event_id WHERE g.subject = e.subject) > coalesce((SELECT max(b.events_seq) FROM bundles b WHERE b.pith_number = e.subject), 0) AND ?3 = ?3"),
            Select::All => q.push_str(" AND ?3 = ?3"),
        }
        q.push_str(" ORDER BY e.seq LIMIT ?2");
        let since = match select {
            Select::Since(t) => t.fmt_seconds(),
            _ => String::new(),
        };
        let mut st = self.conn.prepare_cached(&q).map_err(&sql)?;
        let mut rows = st
            .query(params![after, limit as i64, since])
            .map_err(&sql)?;
        let mut out = Vec::new();
        while let Some(r) = rows.next().map_err(&sql)? {
            let (seq, subject): (i64, String) = (r.get(0).map_err(&sql)?, r.get(1).map_err(&sql)?);
            let n = PithNumber::parse(&subject)
                .ok_or_else(|| self.corrupt(format!("events.subject {subject:?}")))?;
            out.push((seq, n));
        }
        Ok(out)
    }

    /// The `seq` of the newest bundle already in the published tree (0: none).
    pub fn published_seq(&self) -> Result<i64, LedgerError> {
        let sql = self.sql();
        self.conn
            .query_row(
                "SELECT value FROM meta WHERE key = ?1",
                params![PUBLISHED_SEQ],
                |r| r.get::<_, String>(0),
            )
            .optional()
            .map_err(&sql)?
            .map_or(Ok(0), |s| {
                s.parse()
                    .map_err(|_| self.corrupt(format!("meta {PUBLISHED_SEQ} {s:?}")))
            })
    }

    /// A page of the bundles to publish: each paper's newest stored bundle whose `seq` is
    /// after `after`, in store order, at most `limit`, as `(seq, bundle)`.
    pub fn bundles_page(&self, after: i64, limit: usize) -> Result<Vec<(i64, Value)>, LedgerError> {
        let sql = self.sql();
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT b.seq, b.bundle FROM bundles b WHERE b.seq > ?1 AND b.seq = (SELECT max(c.seq) FROM bundles c WHERE c.pith_number = b.pith_number) ORDER BY b.seq LIMIT ?2",
            )
            .map_err(&sql)?;
        let mut rows = st.query(params![after, limit as i64]).map_err(&sql)?;
        let mut out = Vec::new();
        while let Some(r) = rows.next().map_err(&sql)? {
            let (seq, text): (i64, String) = (r.get(0).map_err(&sql)?, r.get(1).map_err(&sql)?);
            let v = canon::parse(text.as_bytes())
                .map_err(|e| self.corrupt(format!("stored bundle {seq}: {e}")))?;
            out.push((seq, v));
        }
        Ok(out)
    }

    /// Note that every bundle up to `seq` is in the published tree (never moves back).
    pub fn mark_published(&mut self, seq: i64) -> Result<(), LedgerError> {
        self.immediate(|c| {
            c.execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = max(CAST(value AS INTEGER), CAST(excluded.value AS INTEGER))",
                params![PUBLISHED_SEQ, seq.to_string()],
            )
        })?;
        Ok(())
    }

    /// Row counts of the store: (events, event versions, bundles).
    pub fn store_counts(&self) -> Result<(i64, i64, i64), LedgerError> {
        let sql = self.sql();
        let c = |t: &str| {
            self.conn
                .query_row(&format!("SELECT COUNT(*) FROM {t}"), [], |r| {
                    r.get::<_, i64>(0)
                })
                .map_err(&sql)
        };
        Ok((c("events")?, c("event_versions")?, c("bundles")?))
    }
}
