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
    bundle TEXT NOT NULL,
    refs TEXT
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
            text: canon::to_canonical_text(ev),
        }
    }
}

/// Which stored event version a bundle carries: its `event_id` and `signature_b64`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EventKey {
    /// `event_id`.
    pub event_id: String,
    /// `signature.signature_b64`.
    pub signature_b64: String,
}

impl EventKey {
    /// The keys of the events in a bundle's `events`, in order (those without both
    /// fields are left out: they cannot be stored events).
    pub(crate) fn all_of(bundle: &Value) -> Vec<Self> {
        let s = |v: Option<&Value>, k: &str| {
            v.and_then(|x| x.get(k))
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        bundle
            .get("events")
            .and_then(Value::as_array)
            .map(|evs| {
                evs.iter()
                    .filter_map(|e| {
                        Some(EventKey {
                            event_id: s(Some(e), "event_id")?,
                            signature_b64: s(e.get("signature"), "signature_b64")?,
                        })
                    })
                    .collect()
            })
            .unwrap_or_default()
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
    /// The whole bundle, canonical (empty once [`Self::set_text_cut`] has cut it).
    pub text: String,
    /// The events it carries, looked up in the store to keep them once, by reference;
    /// not needed once [`Self::set_text_cut`] has cut it against them.
    pub events: Vec<EventKey>,
    /// Its text already cut against the events signed with it ([`Self::set_text_cut`]).
    pub(crate) spliced: Option<super::Spliced>,
}

impl StoredBundle {
    /// Give it its canonical `text`, with the copies of `events` (the canonical texts of
    /// the events signed with it, stored in the same transaction) cut out now, off the
    /// ledger's write path; storing then only names their `seq`s. The whole text is kept
    /// only when nothing could be cut.
    pub(crate) fn set_text_cut(&mut self, text: &str, events: &[&str]) {
        self.spliced = super::splice::cut(text, events);
        self.text = if self.spliced.is_some() {
            String::new()
        } else {
            text.to_owned()
        };
    }
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
    put_event_seq(conn, e).map(|(put, _)| put)
}

/// Store one event version on `conn` ([`put_event`]); also gives the version's `seq`.
pub(super) fn put_event_seq(conn: &Connection, e: &StoredEvent) -> rusqlite::Result<(Put, i64)> {
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
    let seq = if version == 1 {
        let seq = conn.last_insert_rowid();
        // the log's leaf, in the same transaction: nothing stored is left out of it
        super::log::append(conn, seq, e)?;
        seq
    } else {
        conn.prepare_cached(
            "SELECT seq FROM event_versions WHERE event_id = ?1 AND signature_b64 = ?2",
        )?
        .query_row(params![e.event_id, e.signature_b64], |r| r.get(0))?
    };
    let put = match (new, version) {
        (1, _) => Put::New,
        (_, 1) => Put::Resigned,
        _ => Put::Already,
    };
    Ok((put, seq))
}

/// Store one bundle on `conn`; false when it was already stored. `from_store`: it was
/// assembled from every event the store holds about its paper (so the paper has nothing
/// pending; the same bundle stored before from files learns so); a bundle assembled
/// from files may lack some, and leaves them pending.
pub(super) fn put_bundle(
    conn: &Connection,
    b: &StoredBundle,
    from_store: bool,
) -> rusqlite::Result<bool> {
    let (spliced, seqs) = cut_held(conn, &b.text, &b.events)?;
    put_bundle_as(conn, b, from_store, spliced.as_ref(), &seqs)
}

/// Store one bundle on `conn` ([`put_bundle`]) cut by [`StoredBundle::set_text_cut`]
/// the events whose `seq`s are `seqs`, in the order they were given to it.
pub(super) fn put_bundle_of(
    conn: &Connection,
    b: &StoredBundle,
    from_store: bool,
    seqs: &[i64],
) -> rusqlite::Result<bool> {
    put_bundle_as(conn, b, from_store, b.spliced.as_ref(), seqs)
}

fn put_bundle_as(
    conn: &Connection,
    b: &StoredBundle,
    from_store: bool,
    spliced: Option<&super::Spliced>,
    seqs: &[i64],
) -> rusqlite::Result<bool> {
    let covered: i64 = if from_store {
        conn.prepare_cached(
            "SELECT coalesce(max(v.seq), 0) FROM events e JOIN event_versions v ON v.event_id = e.event_id WHERE e.subject = ?1",
        )?
        .query_row(params![b.number], |r| r.get(0))?
    } else {
        0
    };
    let (text, refs) = columns(&b.text, spliced, seqs)?;
    let n = conn
        .prepare_cached(
            "INSERT INTO bundles (bundle_sha256, pith_number, built_at, events_seq, bundle, refs) VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (bundle_sha256) DO UPDATE SET events_seq = max(events_seq, excluded.events_seq) WHERE excluded.events_seq > events_seq",
        )?
        .execute(params![b.sha256, b.number, b.built_at, covered, text, refs])?;
    Ok(n == 1)
}

/// `text` cut against those of `events` the store holds, and their `seq`s in order.
fn cut_held(
    conn: &Connection,
    text: &str,
    events: &[EventKey],
) -> rusqlite::Result<(Option<super::Spliced>, Vec<i64>)> {
    let mut st = conn.prepare_cached(
        "SELECT seq, event FROM event_versions WHERE event_id = ?1 AND signature_b64 = ?2",
    )?;
    let mut held: Vec<(i64, String)> = Vec::with_capacity(events.len());
    for k in events {
        if let Some(row) = st
            .query_row(params![k.event_id, k.signature_b64], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?
        {
            held.push(row);
        }
    }
    let texts: Vec<&str> = held.iter().map(|(_, t)| t.as_str()).collect();
    let spliced = super::splice::cut(text, &texts);
    Ok((spliced, held.into_iter().map(|(seq, _)| seq).collect()))
}

/// The `bundle` and `refs` columns of a bundle whose whole text is `whole`: the text
/// as cut (`spliced`, against the event versions `seqs`) and its references, or the
/// whole text and none.
fn columns<'a>(
    whole: &'a str,
    spliced: Option<&'a super::Spliced>,
    seqs: &[i64],
) -> rusqlite::Result<(&'a str, Option<String>)> {
    let Some(s) = spliced else {
        return Ok((whole, None));
    };
    let refs = s.refs(seqs).ok_or_else(|| {
        rusqlite::Error::ToSqlConversionFailure(
            "internal: a bundle cut against more events than were stored".into(),
        )
    })?;
    Ok((s.skeleton(), Some(refs)))
}

/// A stored bundle's whole bytes: `text` as stored, with the event versions `refs`
/// names put back (`refs` None: the text is whole).
pub(super) fn joined(
    conn: &Connection,
    text: String,
    refs: Option<&str>,
) -> Result<String, String> {
    let Some(refs) = refs else {
        return Ok(text);
    };
    let mut st = conn
        .prepare_cached("SELECT event FROM event_versions WHERE seq = ?1")
        .map_err(|e| e.to_string())?;
    super::splice::join(&text, refs, |seq| {
        st.query_row(params![seq], |r| r.get(0))
            .optional()
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("it refers to event version {seq}, which is not stored"))
    })
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

/// What [`Ledger::check`] found.
#[derive(Clone, Debug)]
pub struct Check {
    /// What is wrong; empty when the ledger is whole.
    pub problems: Vec<String>,
    /// Receipts whose event the store does not hold.
    pub receipts_without_event: i64,
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
            text: canon::to_canonical_text(b.value()),
            events: EventKey::all_of(b.value()),
            spliced: None,
        };
        self.immediate(|c| put_bundle(c, &sb, from_store))
    }

    /// Store bundles built from files (bulk `bundle`), in one transaction.
    pub fn store_bundles(&mut self, bundles: &[&StoredBundle]) -> Result<(), LedgerError> {
        if bundles.is_empty() {
            return Ok(());
        }
        self.immediate(|c| {
            for b in bundles {
                put_bundle(c, b, false)?;
            }
            Ok(())
        })
    }

    pub(super) fn immediate<T>(
        &mut self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, LedgerError> {
        let path = self.path.clone();
        let sql = |source| LedgerError::Sql {
            path: path.clone(),
            cause: source,
        };
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(&sql)?;
        let out = f(&tx).map_err(&sql)?;
        tx.commit().map_err(&sql)?;
        Ok(out)
    }

    pub(super) fn corrupt(&self, what: String) -> LedgerError {
        LedgerError::Schema {
            path: self.path.clone(),
            what,
        }
    }

    /// The current events about `number`: the newest version of each, in store order.
    pub fn events_of(&self, number: &PithNumber) -> Result<Vec<Value>, LedgerError> {
        self.needs(2)?;
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
            .prepare_cached(&format!(
                "SELECT b.seq, b.bundle, {} FROM bundles b WHERE b.seq > ?1 AND b.seq = (SELECT max(c.seq) FROM bundles c WHERE c.pith_number = b.pith_number) ORDER BY b.seq LIMIT ?2",
                self.refs_column("b.")
            ))
            .map_err(&sql)?;
        let mut rows = st.query(params![after, limit as i64]).map_err(&sql)?;
        let mut out = Vec::new();
        while let Some(r) = rows.next().map_err(&sql)? {
            let seq: i64 = r.get(0).map_err(&sql)?;
            let text = self.bundle_text(seq, r.get(1).map_err(&sql)?, r.get(2).map_err(&sql)?)?;
            let v = canon::parse(text.as_bytes())
                .map_err(|e| self.corrupt(format!("stored bundle {seq}: {e}")))?;
            out.push((seq, v));
        }
        Ok(out)
    }

    /// Where a stored bundle's references are: `refs` from schema 4; none before.
    fn refs_column(&self, table: &str) -> String {
        if self.schema() >= 4 {
            format!("{table}refs")
        } else {
            "NULL".into()
        }
    }

    /// Stored bundle `seq`'s whole bytes (see [`joined`]).
    fn bundle_text(
        &self,
        seq: i64,
        text: String,
        refs: Option<String>,
    ) -> Result<String, LedgerError> {
        joined(&self.conn, text, refs.as_deref())
            .map_err(|e| self.corrupt(format!("stored bundle {seq}: {e}")))
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

    /// Check the ledger whole: SQLite's `integrity_check` and `foreign_key_check`, every
    /// event with a version, every version's bytes its event's; and how many receipts have
    /// no stored event (a ledger older than the store, until `registry add`).
    pub fn check(&self) -> Result<Check, LedgerError> {
        let sql = self.sql();
        let mut problems = Vec::new();
        let integrity: String = self
            .conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .map_err(&sql)?;
        if integrity != "ok" {
            problems.push(format!("integrity_check: {integrity}"));
        }
        let fk: i64 = self
            .conn
            .query_row("SELECT COUNT(*) FROM pragma_foreign_key_check", [], |r| {
                r.get(0)
            })
            .map_err(&sql)?;
        if fk > 0 {
            problems.push(format!("{fk} row(s) fail foreign_key_check"));
        }
        let q = |s: &str| -> Result<i64, LedgerError> {
            self.conn.query_row(s, [], |r| r.get(0)).map_err(&sql)
        };
        if self.schema() < 2 {
            // an older ledger read-only: no store to check; every receipt lacks its event
            return Ok(Check {
                problems,
                receipts_without_event: q("SELECT COUNT(*) FROM receipts")?,
            });
        }
        let bare = q(
            "SELECT COUNT(*) FROM events e WHERE NOT EXISTS (SELECT 1 FROM event_versions v WHERE v.event_id = e.event_id)",
        )?;
        if bare > 0 {
            problems.push(format!("{bare} event(s) without a signed version"));
        }
        let mut st = self
            .conn
            .prepare("SELECT v.seq, v.event_id, v.event FROM event_versions v ORDER BY v.seq")
            .map_err(&sql)?;
        let mut rows = st.query([]).map_err(&sql)?;
        let mut bad = 0usize;
        while let Some(r) = rows.next().map_err(&sql)? {
            let (seq, id, text): (i64, String, String) = (
                r.get(0).map_err(&sql)?,
                r.get(1).map_err(&sql)?,
                r.get(2).map_err(&sql)?,
            );
            let ok = canon::parse(text.as_bytes()).is_ok_and(|v| {
                v.get("event_id").and_then(Value::as_str) == Some(id.as_str())
                    && format!(
                        "sha256:{}",
                        crate::format::digest::canon_sha256_without(
                            &v,
                            &crate::format::rules::EVENT_UNHASHED
                        )
                        .hex()
                    ) == id
            });
            if !ok {
                bad += 1;
                if bad <= 5 {
                    problems.push(format!("event version {seq}: its bytes are not event {id}"));
                }
            }
        }
        if self.schema() >= 3 {
            problems.extend(super::log::check_all(&self.conn, 5).map_err(&sql)?);
        }
        if self.schema() >= 4 {
            problems.extend(self.check_bundles(5)?);
        }
        let receipts_without_event = q(
            "SELECT COUNT(*) FROM receipts r WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.event_id = r.event_id)",
        )?;
        Ok(Check {
            problems,
            receipts_without_event,
        })
    }

    /// Every bundle kept by reference joins back to bytes that parse as a bundle of its
    /// paper with its digest; at most `limit` problems are named, the rest counted.
    fn check_bundles(&self, limit: usize) -> Result<Vec<String>, LedgerError> {
        let sql = self.sql();
        let mut st = self
            .conn
            .prepare("SELECT seq, bundle_sha256, pith_number, bundle, refs FROM bundles WHERE refs IS NOT NULL ORDER BY seq")
            .map_err(&sql)?;
        let mut rows = st.query([]).map_err(&sql)?;
        let (mut problems, mut bad) = (Vec::new(), 0usize);
        while let Some(r) = rows.next().map_err(&sql)? {
            let (seq, sha, number): (i64, String, String) = (
                r.get(0).map_err(&sql)?,
                r.get(1).map_err(&sql)?,
                r.get(2).map_err(&sql)?,
            );
            let refs: String = r.get(4).map_err(&sql)?;
            let whole = joined(&self.conn, r.get(3).map_err(&sql)?, Some(&refs)).and_then(|t| {
                let v = canon::parse(t.as_bytes()).map_err(|e| e.to_string())?;
                let ok = v.get("pith_number").and_then(Value::as_str) == Some(number.as_str())
                    && crate::sign::bundle::bundle_sha256(&v).hex() == sha;
                ok.then_some(())
                    .ok_or_else(|| "its joined bytes are not its bundle".to_owned())
            });
            if let Err(e) = whole {
                bad += 1;
                if bad <= limit {
                    problems.push(format!("bundle {seq}: {e}"));
                }
            }
        }
        if bad > limit {
            problems.push(format!(
                "{} more bundle(s) that do not join back",
                bad - limit
            ));
        }
        Ok(problems)
    }

    /// Row counts of the store: (events, event versions, bundles).
    pub fn store_counts(&self) -> Result<(i64, i64, i64), LedgerError> {
        if self.schema() < 2 {
            return Ok((0, 0, 0));
        }
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

/// The first line of an export: what it is and which schema wrote it.
pub const EXPORT_FORMAT: &str = "pith-registry-export";

impl Ledger {
    /// Stream the whole ledger as export lines (`pith registry export`), each a canonical
    /// object tagged by `kind`: the header, then records, receipts, signature audit rows,
    /// event versions and bundles, each in store order. Import of it into an empty ledger
    /// and export again gives the same bytes.
    pub fn export(
        &self,
        each: &mut dyn FnMut(&Value) -> std::io::Result<()>,
    ) -> Result<u64, LedgerError> {
        let sql = self.sql();
        let io = |e: std::io::Error| LedgerError::Schema {
            path: self.path.clone(),
            what: format!("export: {e}"),
        };
        let parse = |t: &str, what: &str| {
            canon::parse(t.as_bytes()).map_err(|e| self.corrupt(format!("stored {what}: {e}")))
        };
        each(&canon::object([
            ("kind", EXPORT_FORMAT.into()),
            ("schema_version", super::SCHEMA_VERSION.into()),
        ]))
        .map_err(io)?;
        let mut n = 0u64;
        let has_store: bool = self
            .conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE name = 'event_versions')",
                [],
                |r| r.get(0),
            )
            .map_err(&sql)?;
        let mut st = self.conn.prepare(
            "SELECT pith_number, canonical_sha256, canonical_record, source_kind, source_id, source_version, first_computed_at, last_reissued_at, replaces FROM records ORDER BY rowid",
        ).map_err(&sql)?;
        let mut rows = st.query([]).map_err(&sql)?;
        while let Some(r) = rows.next().map_err(&sql)? {
            let g = |i| r.get::<_, String>(i).map_err(&sql);
            let v = canon::object([
                ("kind", "record".into()),
                ("pith_number", g(0)?.into()),
                ("canonical_sha256", g(1)?.into()),
                ("canonical_record", parse(&g(2)?, "record")?),
                ("source_kind", g(3)?.into()),
                ("source_id", g(4)?.into()),
                ("source_version", r.get::<_, i64>(5).map_err(&sql)?.into()),
                ("first_computed_at", g(6)?.into()),
                ("last_reissued_at", g(7)?.into()),
                (
                    "replaces",
                    r.get::<_, Option<String>>(8)
                        .map_err(&sql)?
                        .map_or(Value::Null, Value::from),
                ),
            ]);
            each(&v).map_err(io)?;
            n += 1;
        }
        let mut st = self
            .conn
            .prepare("SELECT pith_number, issued_at, event_id, receipt FROM receipts ORDER BY id")
            .map_err(&sql)?;
        let mut rows = st.query([]).map_err(&sql)?;
        while let Some(r) = rows.next().map_err(&sql)? {
            let g = |i| r.get::<_, String>(i).map_err(&sql);
            let v = canon::object([
                ("kind", "receipt".into()),
                ("pith_number", g(0)?.into()),
                ("issued_at", g(1)?.into()),
                ("event_id", g(2)?.into()),
                ("receipt", parse(&g(3)?, "receipt")?),
            ]);
            each(&v).map_err(io)?;
            n += 1;
        }
        let mut st = self
            .conn
            .prepare("SELECT signed_at, key_id, public_key_fingerprint, signed_message, digest, subject FROM signatures ORDER BY id")
            .map_err(&sql)?;
        let mut rows = st.query([]).map_err(&sql)?;
        while let Some(r) = rows.next().map_err(&sql)? {
            let g = |i| r.get::<_, String>(i).map_err(&sql);
            let v = canon::object([
                ("kind", "signature".into()),
                ("signed_at", g(0)?.into()),
                ("key_id", g(1)?.into()),
                ("public_key_fingerprint", g(2)?.into()),
                ("signed_message", g(3)?.into()),
                ("digest", g(4)?.into()),
                ("subject", g(5)?.into()),
            ]);
            each(&v).map_err(io)?;
            n += 1;
        }
        if !has_store {
            return Ok(n);
        }
        let mut st = self
            .conn
            .prepare("SELECT seq, event FROM event_versions ORDER BY seq")
            .map_err(&sql)?;
        let mut rows = st.query([]).map_err(&sql)?;
        while let Some(r) = rows.next().map_err(&sql)? {
            let v = canon::object([
                ("kind", "event".into()),
                ("seq", r.get::<_, i64>(0).map_err(&sql)?.into()),
                (
                    "event",
                    parse(&r.get::<_, String>(1).map_err(&sql)?, "event")?,
                ),
            ]);
            each(&v).map_err(io)?;
            n += 1;
        }
        let mut st = self
            .conn
            .prepare(&format!(
                "SELECT seq, events_seq, bundle, {} FROM bundles ORDER BY seq",
                self.refs_column("")
            ))
            .map_err(&sql)?;
        let mut rows = st.query([]).map_err(&sql)?;
        while let Some(r) = rows.next().map_err(&sql)? {
            let seq: i64 = r.get(0).map_err(&sql)?;
            let text = self.bundle_text(seq, r.get(2).map_err(&sql)?, r.get(3).map_err(&sql)?)?;
            let v = canon::object([
                ("kind", "bundle".into()),
                ("seq", seq.into()),
                ("events_seq", r.get::<_, i64>(1).map_err(&sql)?.into()),
                ("bundle", parse(&text, "bundle")?),
            ]);
            each(&v).map_err(io)?;
            n += 1;
        }
        Ok(n)
    }

    /// Load an export into this ledger, which must be empty (a mirror's setup), in one
    /// transaction: every record's digest is recomputed, every receipt, event and bundle
    /// verified with `keyring`; the first line that fails aborts the import, naming it.
    pub fn import(
        &mut self,
        lines: &mut dyn Iterator<Item = Result<Value, String>>,
        keyring: &crate::verify::keyring::Keyring,
    ) -> Result<u64, ImportError> {
        let (records, receipts, sigs) = self.counts()?;
        let (events, _, bundles) = self.store_counts()?;
        if records + receipts + sigs + events + bundles > 0 {
            return Err(ImportError::NotEmpty(self.path.clone()));
        }
        let path = self.path.clone();
        let sql = |source| LedgerError::Sql {
            path: path.clone(),
            cause: source,
        };
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(sql)?;
        let mut n = 0u64;
        for (i, line) in lines.enumerate() {
            let no = i + 1;
            let bad = |what: String| ImportError::Line { line: no, what };
            let v = line.map_err(bad)?;
            let kind = v.get("kind").and_then(Value::as_str).unwrap_or_default();
            let s = |k: &str| -> Result<String, ImportError> {
                v.get(k)
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .ok_or_else(|| bad(format!("$.{k}: expected a string")))
            };
            let int = |k: &str| -> Result<i64, ImportError> {
                v.get(k)
                    .and_then(Value::as_int)
                    .and_then(|x| i64::try_from(x).ok())
                    .ok_or_else(|| bad(format!("$.{k}: expected an integer")))
            };
            if no == 1 {
                // schema 2 exports hold the same lines (the log is made from the events)
                if kind != EXPORT_FORMAT
                    || !(2..=super::SCHEMA_VERSION).contains(&int("schema_version")?)
                {
                    return Err(bad(format!(
                        "expected the header {{\"kind\":\"{EXPORT_FORMAT}\",\"schema_version\":{}}}",
                        super::SCHEMA_VERSION
                    )));
                }
                continue;
            }
            match kind {
                "record" => {
                    let rec = v
                        .get("canonical_record")
                        .cloned()
                        .ok_or_else(|| bad("$.canonical_record: missing".into()))?;
                    let r = crate::verify::record(rec)
                        .map_err(|f| bad(format!("$.canonical_record: {f}")))?;
                    let number = s("pith_number")?;
                    if r.number().to_string() != number
                        || r.sha256().hex() != s("canonical_sha256")?
                    {
                        return Err(bad(
                            "pith_number or canonical_sha256 is not the record's".into()
                        ));
                    }
                    let replaces = v.get("replaces").and_then(Value::as_str);
                    tx.execute(
                        "INSERT INTO records (code, pith_number, canonical_sha256, canonical_record, source_kind, source_id, source_version, first_computed_at, last_reissued_at, replaces) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                        params![
                            r.number().code,
                            number,
                            r.sha256().hex(),
                            canon::to_canonical_text(r.value()),
                            s("source_kind")?,
                            s("source_id")?,
                            int("source_version")?,
                            s("first_computed_at")?,
                            s("last_reissued_at")?,
                            replaces
                        ],
                    )
                    .map_err(|e| bad(e.to_string()))?;
                }
                "receipt" => {
                    let number = s("pith_number")?;
                    // read back from the import so far, so memory stays flat however large
                    let text: Option<String> = tx
                        .query_row(
                            "SELECT canonical_record FROM records WHERE pith_number = ?1",
                            params![number],
                            |r| r.get(0),
                        )
                        .optional()
                        .map_err(|e| bad(e.to_string()))?;
                    let text = text.ok_or_else(|| {
                        bad(format!(
                            "a receipt of {number}, whose record is not before it"
                        ))
                    })?;
                    let rec = canon::parse(text.as_bytes())
                        .map_err(|e| bad(e.to_string()))
                        .and_then(|v| crate::verify::record(v).map_err(|f| bad(f.to_string())))?;
                    let rec = &rec;
                    let receipt = v.get("receipt").cloned().unwrap_or(Value::Null);
                    let ok = crate::verify::verify_receipt(receipt, rec, keyring).map_err(|r| {
                        bad(format!(
                            "$.receipt does not verify: {}",
                            r.failures
                                .first()
                                .map(ToString::to_string)
                                .unwrap_or_default()
                        ))
                    })?;
                    tx.execute(
                        "INSERT INTO receipts (pith_number, issued_at, receipt, event_id) VALUES (?1, ?2, ?3, ?4)",
                        params![number, s("issued_at")?, canon::to_canonical_text(ok.value()), s("event_id")?],
                    )
                    .map_err(|e| bad(e.to_string()))?;
                }
                "signature" => {
                    tx.execute(
                        "INSERT INTO signatures (signed_at, key_id, public_key_fingerprint, signed_message, digest, subject) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                        params![s("signed_at")?, s("key_id")?, s("public_key_fingerprint")?, s("signed_message")?, s("digest")?, s("subject")?],
                    )
                    .map_err(|e| bad(e.to_string()))?;
                }
                "event" => {
                    let ev = v.get("event").cloned().unwrap_or(Value::Null);
                    let ok = crate::verify::verify_event(ev, keyring).map_err(|r| {
                        bad(format!(
                            "$.event does not verify: {}",
                            r.failures
                                .first()
                                .map(ToString::to_string)
                                .unwrap_or_default()
                        ))
                    })?;
                    let seq = int("seq")?;
                    let e = StoredEvent::of(ok.value());
                    put_event(&tx, &e).map_err(|e| bad(e.to_string()))?;
                    let got: i64 = tx
                        .query_row("SELECT max(seq) FROM event_versions", [], |r| r.get(0))
                        .map_err(|e| bad(e.to_string()))?;
                    if got != seq {
                        return Err(bad(format!(
                            "$.seq: expected {got} (versions in store order, each once), found {seq}"
                        )));
                    }
                }
                "bundle" => {
                    let b = v.get("bundle").cloned().unwrap_or(Value::Null);
                    let ok = crate::verify::verify_bundle(b, keyring).map_err(|r| {
                        bad(format!(
                            "$.bundle does not verify: {}",
                            r.failures
                                .first()
                                .map(ToString::to_string)
                                .unwrap_or_default()
                        ))
                    })?;
                    let seq = int("seq")?;
                    let whole = canon::to_canonical_text(ok.value());
                    let (spliced, seqs) = cut_held(&tx, &whole, &EventKey::all_of(ok.value()))
                        .map_err(|e| bad(e.to_string()))?;
                    let (text, refs) =
                        columns(&whole, spliced.as_ref(), &seqs).map_err(|e| bad(e.to_string()))?;
                    tx.execute(
                        "INSERT INTO bundles (seq, bundle_sha256, pith_number, built_at, events_seq, bundle, refs) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                        params![
                            seq,
                            crate::sign::bundle::bundle_sha256(ok.value()).hex(),
                            ok.number().to_string(),
                            ok.built_at().fmt_seconds(),
                            int("events_seq")?,
                            text,
                            refs
                        ],
                    )
                    .map_err(|e| bad(e.to_string()))?;
                }
                other => {
                    return Err(bad(format!(
                        "$.kind: expected record, receipt, signature, event or bundle, found {other:?}"
                    )));
                }
            }
            n += 1;
        }
        tx.commit().map_err(sql)?;
        Ok(n)
    }
}

/// Why an import was refused (nothing is written).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    /// The ledger already holds something.
    #[error("registry ledger {}: not empty; import loads into an empty ledger only", .0.display())]
    NotEmpty(std::path::PathBuf),
    /// A line of the export is not what it should be.
    #[error("line {line}: {what}")]
    Line {
        /// 1-based.
        line: usize,
        /// What is wrong.
        what: String,
    },
    /// The ledger failed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}
