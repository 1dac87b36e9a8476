//! The registry ledger: what the registry has issued, in an embedded SQLite database.
//!
//! Every issued number with its canonical record and hash, source id and version,
//! `first_computed_at` and `last_reissued_at` (spec §8), every receipt, and an audit row
//! for every signature made. Each record is issued in one `BEGIN IMMEDIATE` transaction
//! (WAL mode, busy timeout), so concurrent issuers on one ledger serialise per record and a
//! crash keeps every committed record and leaves no half entry.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension as _, TransactionBehavior, params};

use crate::format::canon::{self, Value};
use crate::format::digest::{PithNumber, Sha256Digest};
use crate::format::rules;
use crate::format::time::Timestamp;
use crate::model::Event;
use crate::sign::issue;
use crate::verify::Verified;

mod log;
mod splice;
mod store;
pub use log::Inclusion;
pub(crate) use splice::Spliced;
pub use store::{
    AppliedOutcome, Check, EXPORT_FORMAT, EventKey, ImportError, Put, Select, StoredBundle,
    StoredEvent,
};

/// The page size of a new ledger (bytes).
const PAGE_SIZE: i64 = 16 << 10;

/// The ledger's schema version (table `meta`).
pub const SCHEMA_VERSION: i64 = 4;
/// The environment variable naming the default ledger.
pub(crate) const ENV_REGISTRY: &str = "PITH_REGISTRY";
/// The ledger file used when neither `--registry` nor `PITH_REGISTRY` is given.
pub(crate) const DEFAULT_FILE: &str = "pith-registry.sqlite";

/// A ledger failure, naming the database file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LedgerError {
    /// SQLite failed.
    #[error("registry ledger {}: {}", path.display(), sqlite_message(cause))]
    Sql {
        /// The database file.
        path: PathBuf,
        /// SQLite's error (shown once, by the message above; not a separate source).
        cause: rusqlite::Error,
    },
    /// Two different canonical records share a 26-character code: refused.
    #[error(
        "registry ledger {}: code collision: {number} is already issued for canonical_sha256 {existing}, refusing a different record with canonical_sha256 {new}",
        path.display()
    )]
    Collision {
        /// The database file.
        path: PathBuf,
        /// The number both would get.
        number: String,
        /// The hash on file.
        existing: String,
        /// The hash refused.
        new: String,
    },
    /// The ledger says a number was first computed after the time of this issue (a clock
    /// set back, or `--at` in the past): refused rather than sign an impossible receipt.
    #[error("registry ledger {}: {number} was first computed at {first}, after this issue's time {now}: refusing to reissue it (clock set back, or a fixed issue time in the past?)", path.display())]
    Clock {
        /// The database file.
        path: PathBuf,
        /// The number.
        number: String,
        /// Its first_computed_at.
        first: String,
        /// This issue's time.
        now: String,
    },
    /// A signed `record_created` whose receipt's `first_computed_at` is not the ledger's:
    /// planned before the number was issued here (or against another ledger).
    #[error("registry ledger {}: {number} was first computed at {ledger}, but this signed receipt says {receipt}: the signing request is stale; make a new one against this ledger and sign it again", path.display())]
    Stale {
        /// The database file.
        path: PathBuf,
        /// The number.
        number: String,
        /// The ledger's first_computed_at.
        ledger: String,
        /// The receipt's.
        receipt: String,
    },
    /// The log refused: a checkpoint that would move it back, rename it, or is not its tree.
    #[error("registry ledger {}: {what}", path.display())]
    Log {
        /// The database file.
        path: PathBuf,
        /// What was refused.
        what: String,
    },
    /// The database is not a pith ledger, or a newer one.
    #[error("registry ledger {}: {what}", path.display())]
    Schema {
        /// The database file.
        path: PathBuf,
        /// What is wrong.
        what: String,
    },
}

/// SQLite's own message once (rusqlite's display repeats the code's description after it),
/// and what a file that is not a database means here.
fn sqlite_message(e: &rusqlite::Error) -> String {
    match e {
        rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::NotADatabase => {
            "not a SQLite database (not a pith ledger)".into()
        }
        rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::CannotOpen => {
            "cannot open the database file (does its directory exist, and may pith write there?)"
                .into()
        }
        rusqlite::Error::SqliteFailure(_, Some(m)) => m.clone(),
        rusqlite::Error::SqliteFailure(f, None) => f.to_string(),
        other => other.to_string(),
    }
}

/// A ledger is a file: a directory named as one is refused by name, not as SQLite's
/// "disk I/O error".
fn not_a_directory(path: &Path) -> Result<(), LedgerError> {
    if path.is_dir() {
        return Err(LedgerError::Schema {
            path: path.into(),
            what: "is a directory; expected a ledger file".into(),
        });
    }
    Ok(())
}

/// The default ledger path: `PITH_REGISTRY`, else `pith-registry.sqlite` in the current
/// directory.
pub fn default_path() -> PathBuf {
    std::env::var_os(ENV_REGISTRY).map_or_else(|| PathBuf::from(DEFAULT_FILE), PathBuf::from)
}

/// An open ledger.
#[derive(Debug)]
pub struct Ledger {
    conn: Connection,
    path: PathBuf,
    /// A bulk transaction held open across batches (see [`Ledger::hold_transactions`]).
    held: Option<Held>,
    /// Records a bulk transaction may gather before it commits (0: every batch commits).
    hold_limit: usize,
    /// Batches started so far (see [`Ledger::batch`]).
    batches: u64,
    /// The schema it holds: [`SCHEMA_VERSION`] once opened for writing; an older one when
    /// opened read-only, which cannot upgrade it.
    schema: i64,
}

/// An open bulk transaction: the time it took the write lock, the records recorded in it,
/// and every code planned in it and not yet committed (digest, `first_computed_at`, and
/// the plan batch it was planned in), recorded yet or not.
#[derive(Clone, Debug)]
struct Held {
    now: Timestamp,
    /// `now` is the run's fixed time (`--at`), not the clock's.
    fixed: bool,
    /// Which batch this is: a new one each time a transaction starts afresh.
    batch: u64,
    records: usize,
    planned: HashMap<String, (Sha256Digest, Timestamp, u64)>,
    /// [`Ledger::plan_batch`] calls so far in the batch, and [`Ledger::record_batch`]
    /// calls: plans are recorded in the order they were made, so the plans of call
    /// `n > recorded` are still outstanding.
    plan_calls: u64,
    recorded: u64,
}

/// What issuing a record would do (see [`Ledger::plan`]).
#[derive(Clone, Debug)]
pub struct Plan {
    /// `canonical_sha256`.
    pub sha: Sha256Digest,
    /// The Pith number.
    pub number: PithNumber,
    /// `first_computed_at` for the receipt.
    pub first: Timestamp,
    /// `last_reissued_at` for the receipt.
    pub now: Timestamp,
    /// First issue of this number.
    pub new: bool,
    /// A previous number for the same source id and version.
    pub replaces: Option<String>,
}

/// The (kind, id, version) of a record's source.
fn source_of(record: &Value) -> (String, String, i64) {
    let source = record.get("source");
    let kind = source
        .and_then(|s| s.get("kind"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let sid = source
        .and_then(|s| s.get("id"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let ver = source
        .and_then(|s| s.get("version"))
        .and_then(Value::as_int)
        .and_then(|v| i64::try_from(v).ok())
        .unwrap_or(0);
    (kind, sid, ver)
}

/// A record made ready for the ledger before the write lock is taken (bulk paths, in
/// parallel): its canonical text, digest, number and source, computed once.
#[derive(Clone, Debug)]
pub struct Prepared {
    /// Canonical JSON of the record (spec §2).
    pub text: String,
    /// `canonical_sha256`: SHA-256 of `text`.
    pub sha: Sha256Digest,
    /// The Pith number.
    pub number: PithNumber,
    /// (kind, id, version) of its source.
    pub source: (String, String, i64),
}

impl Prepared {
    /// Prepare a checked canonical record; None when it has no valid `submitted_at`.
    pub fn new(record: &Value) -> Option<Self> {
        let text = String::from_utf8(canon::to_canonical(record)).ok()?;
        let sha = crate::format::digest::sha256(text.as_bytes());
        let submitted = record.get("metadata")?.get("submitted_at")?.as_str()?;
        let t = Timestamp::parse(submitted)?;
        let number = PithNumber::derive(rules::pith_year(&t), &sha);
        Some(Prepared {
            text,
            sha,
            number,
            source: source_of(record),
        })
    }
}

/// The audit facts of one signature (the `signatures` table).
#[derive(Clone, Debug, Default)]
pub struct SignatureRow {
    /// `signed_at`.
    pub signed_at: String,
    /// `key_id`.
    pub key_id: String,
    /// `public_key_fingerprint`.
    pub fingerprint: String,
    /// The signed-message label.
    pub label: &'static str,
    /// The signed digest (hex).
    pub digest: String,
}

/// What a bulk signing pass hands the ledger for one record, made outside the write lock:
/// the receipt's text, the event id, and one audit row per signature made.
#[derive(Clone, Debug, Default)]
pub struct SignedRows {
    /// Canonical JSON of the receipt.
    pub receipt: String,
    /// The `record_created` event's `event_id`.
    pub event_id: String,
    /// Every signature made for the record: receipt, event, then any others.
    pub signatures: Vec<SignatureRow>,
    /// Every event signed for the record, for the store: `record_created` first.
    pub events: Vec<StoredEvent>,
    /// The bundle built, if any.
    pub bundle: Option<StoredBundle>,
}

impl SignedRows {
    /// The rows of a signed `record_created` event (its receipt and its own signature),
    /// plus `extra` signatures (label, digest) made with the event's key and time.
    pub(crate) fn of_event(
        ev: &Value,
        sha: &Sha256Digest,
        extra: Vec<(&'static str, String)>,
    ) -> Self {
        let receipt = ev.get("payload").and_then(|p| p.get("receipt"));
        let sig = ev.get("signature");
        let sg = |o: Option<&Value>, k: &str| {
            o.and_then(|x| x.get(k))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let row = |o: Option<&Value>, label: &'static str, digest: String| SignatureRow {
            signed_at: sg(o, "signed_at"),
            key_id: sg(o, "key_id"),
            fingerprint: sg(o, "public_key_fingerprint"),
            label,
            digest,
        };
        let mut signatures = vec![
            row(receipt, rules::LABEL_RECEIPT, sha.hex()),
            row(sig, rules::LABEL_EVENT, sg(Some(ev), "content_sha256")),
        ];
        signatures.extend(extra.into_iter().map(|(l, d)| row(sig, l, d)));
        SignedRows {
            receipt: receipt.map_or_else(|| "null".into(), text),
            event_id: sg(Some(ev), "event_id"),
            signatures,
            events: vec![StoredEvent::of(ev)],
            bundle: None,
        }
    }
}

/// One signature the ledger records, as read back.
#[derive(Clone, Debug)]
pub struct SignedBy {
    /// The Pith number it is about.
    pub subject: String,
    /// What it signs (`signed_message`: the receipt's or the event's label).
    pub signed_message: String,
    /// When it was made.
    pub signed_at: Timestamp,
}

/// What issuing one record did.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Issued {
    /// The Pith number.
    pub pith_number: String,
    /// `canonical_sha256`.
    pub canonical_sha256: String,
    /// First issue of this number (false: a reissue).
    pub new: bool,
    /// When the number was first computed.
    pub first_computed_at: String,
    /// This issue's time.
    pub last_reissued_at: String,
    /// A previous number for the same source id and version (changed metadata).
    pub replaces: Option<String>,
    /// The same signed event was recorded before: nothing was written (a retry).
    pub already: bool,
}

/// The newest number issued for a source id and version (what changed metadata replaces).
const SQL_PREVIOUS_NUMBER: &str = "SELECT pith_number FROM records WHERE source_kind = ?1 AND source_id = ?2 AND source_version = ?3 ORDER BY first_computed_at DESC LIMIT 1";

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS records (
    code TEXT PRIMARY KEY,
    pith_number TEXT NOT NULL UNIQUE,
    canonical_sha256 TEXT NOT NULL UNIQUE,
    canonical_record TEXT NOT NULL,
    source_kind TEXT NOT NULL,
    source_id TEXT NOT NULL,
    source_version INTEGER NOT NULL,
    first_computed_at TEXT NOT NULL,
    last_reissued_at TEXT NOT NULL,
    replaces TEXT REFERENCES records(pith_number)
);
CREATE INDEX IF NOT EXISTS records_source ON records(source_kind, source_id, source_version);
CREATE TABLE IF NOT EXISTS receipts (
    id INTEGER PRIMARY KEY,
    pith_number TEXT NOT NULL REFERENCES records(pith_number),
    issued_at TEXT NOT NULL,
    receipt TEXT NOT NULL,
    event_id TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS receipts_number ON receipts(pith_number);
CREATE TABLE IF NOT EXISTS signatures (
    id INTEGER PRIMARY KEY,
    signed_at TEXT NOT NULL,
    key_id TEXT NOT NULL,
    public_key_fingerprint TEXT NOT NULL,
    signed_message TEXT NOT NULL,
    digest TEXT NOT NULL,
    subject TEXT NOT NULL
);
";

impl Ledger {
    /// Open an existing ledger for reading only (`registry show`, `export`): nothing is
    /// written, not even the journal mode, so a ledger on read-only media or a copy
    /// without write permission opens. Where even SQLite's read-only mode cannot work
    /// (no write access for the WAL's shared-memory file), it is opened immutable.
    pub fn open_read_only(path: &Path) -> Result<Self, LedgerError> {
        use rusqlite::OpenFlags;
        not_a_directory(path)?;
        let sql = |source| LedgerError::Sql {
            path: path.into(),
            cause: source,
        };
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI;
        let uri = |extra: &str| {
            let mut u = String::from("file:");
            for b in path.to_string_lossy().bytes() {
                match b {
                    b'%' | b'?' | b'#' => u.push_str(&format!("%{b:02X}")),
                    _ => u.push(char::from(b)),
                }
            }
            u.push_str(extra);
            u
        };
        let try_open = |extra: &str| -> Result<Connection, rusqlite::Error> {
            let c = Connection::open_with_flags(uri(extra), flags)?;
            c.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
                r.get::<_, i64>(0)
            })?;
            Ok(c)
        };
        let conn = match try_open("?mode=ro") {
            Ok(c) => c,
            Err(_) => try_open("?mode=ro&immutable=1").map_err(sql)?,
        };
        let v: Option<String> = conn
            .query_row(
                "SELECT value FROM meta WHERE key = 'schema_version'",
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(sql)?;
        // schemas 1 (records and receipts), 2 (no log yet) and 3 (whole bundles) read too
        let schema: i64 = v.as_deref().and_then(|s| s.parse().ok()).unwrap_or(0);
        if v.as_deref() != Some(schema.to_string().as_str())
            || !(1..=SCHEMA_VERSION).contains(&schema)
        {
            return Err(LedgerError::Schema {
                path: path.into(),
                what: format!(
                    "schema version {}, this pith knows {SCHEMA_VERSION}",
                    v.as_deref().unwrap_or("none")
                ),
            });
        }
        if schema >= 3 {
            log::check_shape(&conn).map_err(|what| LedgerError::Schema {
                path: path.into(),
                what,
            })?;
        }
        Ok(Ledger {
            conn,
            path: path.into(),
            held: None,
            hold_limit: 0,
            batches: 0,
            schema,
        })
    }

    /// Plan against the ledger at `path` without writing anything: the existing ledger
    /// read-only, or, where none exists yet, an empty one in memory (named `path` in
    /// messages), so that planning a signing request never creates a ledger.
    pub fn open_for_planning(path: &Path) -> Result<Self, LedgerError> {
        if path.exists() {
            return Self::open_read_only(path);
        }
        let sql = |source| LedgerError::Sql {
            path: path.into(),
            cause: source,
        };
        let conn = Connection::open_in_memory().map_err(sql)?;
        let mut l = Ledger {
            conn,
            path: path.into(),
            held: None,
            hold_limit: 0,
            batches: 0,
            schema: SCHEMA_VERSION,
        };
        l.migrate()?;
        Ok(l)
    }

    /// Open (creating when absent) the ledger at `path`.
    pub fn open(path: &Path) -> Result<Self, LedgerError> {
        not_a_directory(path)?;
        let sql = |source| LedgerError::Sql {
            path: path.into(),
            cause: source,
        };
        let conn = Connection::open(path).map_err(sql)?;
        conn.busy_timeout(Duration::from_secs(60)).map_err(sql)?;
        // a new ledger's pages: a stored bundle (~14 kB) spans one page and an overflow
        // page instead of four, and a bulk run makes a third of the write and read calls;
        // an existing ledger keeps its page size
        conn.pragma_update(None, "page_size", PAGE_SIZE)
            .map_err(sql)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(sql)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(sql)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(sql)?;
        let mut l = Ledger {
            conn,
            path: path.into(),
            held: None,
            hold_limit: 0,
            batches: 0,
            schema: SCHEMA_VERSION,
        };
        l.migrate()?;
        Ok(l)
    }

    fn sql(&self) -> impl Fn(rusqlite::Error) -> LedgerError + '_ {
        |source| LedgerError::Sql {
            path: self.path.clone(),
            cause: source,
        }
    }

    fn migrate(&mut self) -> Result<(), LedgerError> {
        let path = self.path.clone();
        let sql = |source| LedgerError::Sql {
            path: path.clone(),
            cause: source,
        };
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql)?;
        tx.execute_batch(SCHEMA).map_err(sql)?;
        let v: Option<String> = tx
            .query_row(
                "SELECT value FROM meta WHERE key = 'schema_version'",
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(sql)?;
        let user: i64 = tx
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(sql)?;
        // schema 1 (receipts only), 2 (the store without its log) and 3 (bundles kept
        // whole) upgrade in place: the store's tables and the log are added, the log
        // backfilled in store order, bundles' references column added (the rows already
        // stored stay whole); a newer schema than this pith knows is refused, never written
        match (v.as_deref(), user) {
            (None, 0) | (Some("1"), 0) | (Some("2"), 2) | (Some("3"), 3) => {}
            (Some(s), u) if s == SCHEMA_VERSION.to_string() && u == SCHEMA_VERSION => {}
            (s, u) => {
                return Err(LedgerError::Schema {
                    path,
                    what: format!(
                        "schema version {} (user_version {u}), this pith knows {SCHEMA_VERSION}",
                        s.unwrap_or("none")
                    ),
                });
            }
        }
        tx.execute_batch(store::SCHEMA_V2).map_err(sql)?;
        // schema 4: bundles may be kept by reference to stored events; older rows stay whole
        let has_refs: bool = tx
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM pragma_table_info('bundles') WHERE name = 'refs')",
                [],
                |r| r.get(0),
            )
            .map_err(sql)?;
        if !has_refs {
            tx.execute_batch("ALTER TABLE bundles ADD COLUMN refs TEXT")
                .map_err(sql)?;
        }
        tx.execute_batch(log::SCHEMA_LOG).map_err(sql)?;
        // only an upgrade fills the log in: a schema 3 ledger missing a leaf is refused
        if user < 3 {
            log::backfill(&tx).map_err(sql)?;
        }
        log::check_shape(&tx).map_err(|what| LedgerError::Schema {
            path: path.clone(),
            what,
        })?;
        tx.execute(
            "INSERT INTO meta (key, value) VALUES ('schema_version', ?1) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![SCHEMA_VERSION.to_string()],
        )
        .map_err(sql)?;
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)
            .map_err(sql)?;
        tx.commit().map_err(sql)
    }

    /// The schema this ledger holds (an older ledger opened read-only keeps its own).
    pub fn schema(&self) -> i64 {
        self.schema
    }

    /// Refuse clearly what an older ledger, opened read-only, does not hold yet: the event
    /// store (schema 2) or the transparency log (schema 3).
    pub(crate) fn needs(&self, schema: i64) -> Result<(), LedgerError> {
        if self.schema >= schema {
            return Ok(());
        }
        let what = if schema >= 3 {
            "transparency log"
        } else {
            "event store"
        };
        Err(LedgerError::Schema {
            path: self.path.clone(),
            what: format!(
                "schema {} has no {what} yet; its next write (`pith registry add`, `pith issue`, `pith log checkpoint`) upgrades it in place{}",
                self.schema,
                if schema >= 3 {
                    " and fills the log in"
                } else {
                    ""
                }
            ),
        })
    }

    /// The ledger's file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Let bulk transactions gather up to `records` records over several batches before
    /// committing (0, the default: each [`Self::issue_batch`] commits).
    ///
    /// A large ledger's random-key indexes (code, number, digest, receipts) take a few
    /// pages per record; a transaction writes each dirty page once, so fewer, larger
    /// transactions write far less. [`Self::commit`] ends the held transaction; one not
    /// committed is rolled back when the ledger is dropped, as after a crash.
    pub fn hold_transactions(&mut self, records: usize) {
        self.hold_limit = records;
        if records > 1 {
            // a bulk run's working set: the random-key index pages stay cached instead of
            // being read back each batch, and the WAL is copied into the database once per
            // 32 MiB rather than per 4 MiB, so a hot page is copied once, not eight times
            // (about a third of the run's system time); both bounded, peak RSS stays low
            let _ = self.conn.pragma_update(None, "cache_size", -8192);
            let _ = self
                .conn
                .pragma_update(None, "wal_autocheckpoint", (32 << 20) / PAGE_SIZE);
        }
    }

    /// Commit the bulk transaction held open, if any.
    pub fn commit(&mut self) -> Result<(), LedgerError> {
        if self.held.take().is_some() {
            self.conn.execute_batch("COMMIT").map_err(self.sql())?;
        }
        Ok(())
    }

    /// Commit the held transaction once it holds [`Self::hold_transactions`] records, and
    /// go on in a new one at once, so that plans made but not yet recorded stay good.
    ///
    /// They stay good only if no other writer committed between the two transactions:
    /// `PRAGMA data_version`, read under the write lock before the commit and after the
    /// next `BEGIN IMMEDIATE`, says so. Then the batch goes on (its outstanding plans are
    /// recorded with the time they were made, which is still no later than anything
    /// committed; new plans take the clock's time again). If another writer did commit,
    /// the new transaction is given up and the batch ends: [`Self::holds_batch`] then
    /// says its outstanding plans are void and must be made again.
    pub(crate) fn commit_if_full(&mut self) -> Result<(), LedgerError> {
        let Some(h) = &self.held else {
            return Ok(());
        };
        if h.records < self.hold_limit {
            return Ok(());
        }
        if self.hold_limit == 0 {
            // not a bulk run: each batch is its own transaction, nothing goes on
            return self.commit();
        }
        self.commit_and_go_on(|| {})
    }

    /// [`Self::commit_if_full`] once full; `between` runs between the commit and the next
    /// `BEGIN IMMEDIATE` (the tests let another writer in there).
    fn commit_and_go_on(&mut self, between: impl FnOnce()) -> Result<(), LedgerError> {
        let version =
            |c: &Connection| c.query_row("PRAGMA data_version", [], |r| r.get::<_, i64>(0));
        let res = (|| {
            let before = version(&self.conn)?;
            self.conn.execute_batch("COMMIT")?;
            between();
            self.conn.execute_batch("BEGIN IMMEDIATE")?;
            Ok(before == version(&self.conn)?)
        })();
        match res {
            Ok(true) => {
                if let Some(h) = &mut self.held {
                    h.records = 0;
                    // what is committed the ledger now answers for; only the codes of
                    // plans still outstanding are held, so a long run holds no more
                    let recorded = h.recorded;
                    h.planned.retain(|_, e| e.2 > recorded);
                    if !h.fixed {
                        // never back, even if the clock steps back
                        let t = Timestamp::now();
                        if t.micros() > h.now.micros() {
                            h.now = t;
                        }
                    }
                }
                Ok(())
            }
            Ok(false) => {
                self.held = None;
                self.conn.execute_batch("ROLLBACK").map_err(self.sql())
            }
            Err(e) => {
                // the commit or the begin failed: nothing is held any more
                if self.held.take().is_some() && !self.conn.is_autocommit() {
                    let _ = self.conn.execute_batch("ROLLBACK");
                }
                Err(self.sql()(e))
            }
        }
    }

    /// The batch the plans of [`Self::plan_batch`] belong to.
    pub(crate) fn batch(&self) -> Option<u64> {
        self.held.as_ref().map(|h| h.batch)
    }

    /// Whether plans made in `batch` can still be recorded (see [`Self::commit_if_full`]).
    pub(crate) fn holds_batch(&self, batch: Option<u64>) -> bool {
        batch.is_some() && self.batch() == batch
    }

    /// Issue many records in one transaction (bulk paths): [`Self::plan_batch`], let
    /// `sign` make the signed `record_created` events for all of them at once (in
    /// parallel, each with its ledger rows already written out), [`Self::record_batch`],
    /// then [`Self::commit_if_full`]; only SQL runs under the write lock. A crash keeps
    /// committed transactions whole and the open one not at all; so does an error here,
    /// which rolls the open transaction back. Returns one result per record, in order; a
    /// code collision refuses that record only.
    pub fn issue_batch<F>(
        &mut self,
        records: &[&Prepared],
        at: Option<&Timestamp>,
        sign: F,
    ) -> Result<Vec<Result<Issued, LedgerError>>, LedgerError>
    where
        F: FnOnce(&[Option<Plan>]) -> Vec<Option<SignedRows>>,
    {
        let plans = self.plan_batch(records, at)?;
        let ok_plans: Vec<Option<Plan>> = plans.iter().map(|p| p.as_ref().ok().cloned()).collect();
        let signed = sign(&ok_plans);
        let out = self.record_batch(records, plans, signed)?;
        self.commit_if_full()?;
        Ok(out)
    }

    /// The first half of issuing a batch: begin (or continue) the transaction, whose time
    /// is read once it holds the write lock, and plan every record against the ledger and
    /// the records planned earlier in the transaction. Each plan must then be given to
    /// [`Self::record_batch`], in order, before the transaction commits.
    pub(crate) fn plan_batch(
        &mut self,
        records: &[&Prepared],
        at: Option<&Timestamp>,
    ) -> Result<Vec<Result<Plan, LedgerError>>, LedgerError> {
        if self.held.is_none() {
            self.conn
                .execute_batch("BEGIN IMMEDIATE")
                .map_err(self.sql())?;
            // the issue time is read once the write lock is held, so concurrent issuers
            // on one ledger never reissue "before" a first issue another one committed
            self.batches += 1;
            self.held = Some(Held {
                now: at.copied().unwrap_or_else(Timestamp::now),
                fixed: at.is_some(),
                batch: self.batches,
                records: 0,
                planned: HashMap::new(),
                plan_calls: 0,
                recorded: 0,
            });
        }
        let res = self.plan_in_transaction(records);
        self.rollback_on_error(res)
    }

    /// The second half of issuing a batch: record the signed rows of the plans
    /// [`Self::plan_batch`] made for `records` (`None`: not signed, refused).
    pub(crate) fn record_batch(
        &mut self,
        records: &[&Prepared],
        plans: Vec<Result<Plan, LedgerError>>,
        signed: Vec<Option<SignedRows>>,
    ) -> Result<Vec<Result<Issued, LedgerError>>, LedgerError> {
        let res = self.record_in_transaction(records, plans, signed);
        let out = self.rollback_on_error(res)?;
        if let Some(h) = &mut self.held {
            h.records += records.len();
            h.recorded += 1;
        }
        Ok(out)
    }

    /// An error ends the held transaction: rolled back, its plans forgotten.
    fn rollback_on_error<T>(&mut self, res: Result<T, LedgerError>) -> Result<T, LedgerError> {
        if res.is_err() && self.held.take().is_some() {
            // the error is the one to report; a failed rollback ends with the connection
            let _ = self.conn.execute_batch("ROLLBACK");
        }
        res
    }

    fn plan_in_transaction(
        &mut self,
        records: &[&Prepared],
    ) -> Result<Vec<Result<Plan, LedgerError>>, LedgerError> {
        let path = self.path.clone();
        let sql = |source| LedgerError::Sql {
            path: path.clone(),
            cause: source,
        };
        let Some(held) = self.held.as_mut() else {
            return Err(LedgerError::Schema {
                path: path.clone(),
                what: "internal: planning outside a transaction".into(),
            });
        };
        held.plan_calls += 1;
        let (now, planned, call) = (&held.now, &mut held.planned, held.plan_calls);
        let tx = &self.conn;
        let mut plans: Vec<Result<Plan, LedgerError>> = Vec::with_capacity(records.len());
        {
            let mut find = tx
                .prepare_cached(
                    "SELECT canonical_sha256, first_computed_at FROM records WHERE code = ?1",
                )
                .map_err(sql)?;
            let mut prev = tx.prepare_cached(SQL_PREVIOUS_NUMBER).map_err(sql)?;
            for rec in records {
                let (sha, number) = (rec.sha, rec.number.clone());
                let existing: Option<(String, String)> = match planned.get(number.code.as_str()) {
                    Some((h, f, _)) => Some((h.hex(), f.fmt_micros())),
                    None => find
                        .query_row(params![number.code], |r| Ok((r.get(0)?, r.get(1)?)))
                        .optional()
                        .map_err(sql)?,
                };
                let plan = match plan_issue(&path, &sha, number, now, existing) {
                    Ok(Planned::Ready(p)) => Ok(p),
                    Ok(Planned::First(mut p)) => {
                        let (kind, sid, ver) = &rec.source;
                        p.replaces = prev
                            .query_row(params![kind, sid, ver], |r| r.get(0))
                            .optional()
                            .map_err(sql)?;
                        Ok(p)
                    }
                    Err(e) => Err(e),
                };
                if let Ok(p) = &plan {
                    planned
                        .entry(rec.number.code.clone())
                        .and_modify(|e| e.2 = call)
                        .or_insert((rec.sha, p.first, call));
                }
                plans.push(plan);
            }
        }
        Ok(plans)
    }

    fn record_in_transaction(
        &mut self,
        records: &[&Prepared],
        plans: Vec<Result<Plan, LedgerError>>,
        signed: Vec<Option<SignedRows>>,
    ) -> Result<Vec<Result<Issued, LedgerError>>, LedgerError> {
        let path = self.path.clone();
        let sql = |source| LedgerError::Sql {
            path: path.clone(),
            cause: source,
        };
        if self.held.is_none() {
            return Err(LedgerError::Schema {
                path: path.clone(),
                what: "internal: recording outside a transaction".into(),
            });
        }
        let tx = &self.conn;
        let mut out = Vec::with_capacity(records.len());
        {
            let mut ins = tx
                .prepare_cached(
                    "INSERT INTO records (code, pith_number, canonical_sha256, canonical_record, source_kind, source_id, source_version, first_computed_at, last_reissued_at, replaces)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, ?9)",
                )
                .map_err(sql)?;
            let mut upd = tx
                .prepare_cached("UPDATE records SET last_reissued_at = ?1 WHERE code = ?2")
                .map_err(sql)?;
            let mut prev = tx.prepare_cached(SQL_PREVIOUS_NUMBER).map_err(sql)?;
            let mut rct = tx.prepare_cached("INSERT INTO receipts (pith_number, issued_at, receipt, event_id) VALUES (?1, ?2, ?3, ?4)").map_err(sql)?;
            let mut aud = tx
                .prepare_cached("INSERT INTO signatures (signed_at, key_id, public_key_fingerprint, signed_message, digest, subject) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
                .map_err(sql)?;
            for ((rec, plan), rows) in records
                .iter()
                .zip(plans)
                .zip(signed.into_iter().chain(std::iter::repeat_with(|| None)))
            {
                let plan = match plan {
                    Ok(p) => p,
                    Err(e) => {
                        out.push(Err(e));
                        continue;
                    }
                };
                let Some(rows) = rows else {
                    out.push(Err(LedgerError::Schema {
                        path: path.clone(),
                        what: format!("{}: not signed", plan.number),
                    }));
                    continue;
                };
                let number = plan.number.to_string();
                // the time the plan was made (the batch's when it was made)
                let now_text = plan.now.fmt_micros();
                // The first plan of a code in the transaction is the new one; a later plan
                // of it finds no row when that first one was refused (not signed): it is
                // then the first issue, and is recorded as one.
                let mut replaces = plan.replaces.clone();
                let mut first_insert = plan.new;
                if !first_insert {
                    let updated = upd
                        .execute(params![now_text, plan.number.code])
                        .map_err(sql)?;
                    if updated == 0 {
                        let (kind, sid, ver) = &rec.source;
                        replaces = prev
                            .query_row(params![kind, sid, ver], |r| r.get(0))
                            .optional()
                            .map_err(sql)?;
                        first_insert = true;
                    }
                }
                if first_insert {
                    let (kind, sid, ver) = &rec.source;
                    ins.execute(params![
                        plan.number.code,
                        number,
                        plan.sha.hex(),
                        rec.text,
                        kind,
                        sid,
                        ver,
                        now_text,
                        replaces
                    ])
                    .map_err(sql)?;
                }
                rct.execute(params![number, now_text, rows.receipt, rows.event_id])
                    .map_err(sql)?;
                for r in &rows.signatures {
                    aud.execute(params![
                        r.signed_at,
                        r.key_id,
                        r.fingerprint,
                        r.label,
                        r.digest,
                        number
                    ])
                    .map_err(sql)?;
                }
                let mut stored = Vec::with_capacity(rows.events.len());
                for e in &rows.events {
                    stored.push(store::put_event_seq(tx, e).map_err(sql)?.1);
                }
                if let Some(b) = &rows.bundle {
                    store::put_bundle_of(tx, b, true, &stored).map_err(sql)?;
                }
                out.push(Ok(Issued {
                    pith_number: number,
                    canonical_sha256: plan.sha.hex(),
                    new: first_insert,
                    first_computed_at: plan.first.fmt_micros(),
                    last_reissued_at: now_text.clone(),
                    replaces,
                    already: false,
                }));
            }
        }
        Ok(out)
    }

    /// What issuing `record` now would give: its number, `first_computed_at` (kept from
    /// the ledger on a reissue), whether it is new, and the number it replaces. Read-only:
    /// for signing requests, whose signatures come back later through [`Self::record_event`].
    pub fn plan(&self, record: &Value) -> Result<Plan, LedgerError> {
        self.plan_at(record, &Timestamp::now())
    }

    /// [`Self::plan`] at a given time (`issue --request --at`): the request's receipt
    /// times are `now`, and a record first computed after it is refused as in bulk.
    pub fn plan_at(&self, record: &Value, now: &Timestamp) -> Result<Plan, LedgerError> {
        let sql = self.sql();
        let Some((sha, number)) = issue::number_of(record) else {
            return Err(LedgerError::Schema {
                path: self.path.clone(),
                what: "internal: planning a record that was not checked".into(),
            });
        };
        let (kind, sid, ver) = source_of(record);
        let now = *now;
        let existing: Option<(String, String)> = self
            .conn
            .query_row(
                "SELECT canonical_sha256, first_computed_at FROM records WHERE code = ?1",
                params![number.code],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(&sql)?;
        match plan_issue(&self.path, &sha, number, &now, existing)? {
            Planned::Ready(p) => Ok(p),
            Planned::First(mut p) => {
                p.replaces = self
                    .conn
                    .query_row(SQL_PREVIOUS_NUMBER, params![kind, sid, ver], |r| r.get(0))
                    .optional()
                    .map_err(&sql)?;
                Ok(p)
            }
        }
    }

    /// Record a `record_created` event signed elsewhere (an offline signer): in one
    /// transaction, the record (first issue) or its new `last_reissued_at`, the receipt,
    /// and audit rows for its two signatures. The event must already be verified.
    pub fn record_event(&mut self, event: &Verified<Event>) -> Result<Issued, LedgerError> {
        let event = event.value();
        let path = self.path.clone();
        let sql = |source| LedgerError::Sql {
            path: path.clone(),
            cause: source,
        };
        let pl = event.get("payload");
        let record = pl
            .and_then(|p| p.get("canonical_record"))
            .cloned()
            .unwrap_or(Value::Null);
        let receipt = pl
            .and_then(|p| p.get("receipt"))
            .cloned()
            .unwrap_or(Value::Null);
        let Some((sha, number)) = issue::number_of(&record) else {
            return Err(LedgerError::Schema {
                path,
                what: "internal: recording an event without a record".into(),
            });
        };
        let (kind, sid, ver) = source_of(&record);
        let rs = |k: &str| {
            receipt
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let (first_r, last_r) = (rs("first_computed_at"), rs("last_reissued_at"));
        let stored = StoredEvent::of(event);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql)?;
        let existing: Option<(String, String)> = tx
            .query_row(
                "SELECT canonical_sha256, first_computed_at FROM records WHERE code = ?1",
                params![number.code],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(sql)?;
        let seen: bool = tx
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM event_versions WHERE event_id = ?1 AND signature_b64 = ?2)",
                params![stored.event_id, stored.signature_b64],
                |r| r.get(0),
            )
            .map_err(sql)?;
        if seen {
            // a retry of the same response: exactly what was recorded, nothing new
            let (h, first) = existing.unwrap_or_default();
            let _ = h;
            return Ok(Issued {
                pith_number: number.to_string(),
                canonical_sha256: sha.hex(),
                new: false,
                first_computed_at: first,
                last_reissued_at: last_r,
                replaces: None,
                already: true,
            });
        }
        if let Some((h, first)) = &existing
            && *h == sha.hex()
            && *first != first_r
        {
            // planned before the ledger's first issue (or against another ledger): its
            // receipt would contradict the ledger's first_computed_at
            return Err(LedgerError::Stale {
                path: path.clone(),
                number: number.to_string(),
                ledger: first.clone(),
                receipt: first_r,
            });
        }
        let (new, first, replaces) = match existing {
            Some((h, _)) if h != sha.hex() => {
                return Err(LedgerError::Collision {
                    path: path.clone(),
                    number: number.to_string(),
                    existing: h,
                    new: sha.hex(),
                });
            }
            Some((_, first)) => {
                tx.execute("UPDATE records SET last_reissued_at = max(last_reissued_at, ?1) WHERE code = ?2", params![last_r, number.code]).map_err(sql)?;
                (false, first, None)
            }
            None => {
                let prev: Option<String> = tx
                    .query_row(SQL_PREVIOUS_NUMBER, params![kind, sid, ver], |r| r.get(0))
                    .optional()
                    .map_err(sql)?;
                tx.execute(
                    "INSERT INTO records (code, pith_number, canonical_sha256, canonical_record, source_kind, source_id, source_version, first_computed_at, last_reissued_at, replaces)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                    params![number.code, number.to_string(), sha.hex(), text(&record), kind, sid, ver, first_r, last_r, prev],
                )
                .map_err(sql)?;
                (true, first_r.clone(), prev)
            }
        };
        let event_id = event
            .get("event_id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        tx.execute(
            "INSERT INTO receipts (pith_number, issued_at, receipt, event_id) VALUES (?1, ?2, ?3, ?4)",
            params![number.to_string(), last_r, text(&receipt), event_id],
        )
        .map_err(sql)?;
        let sig = event.get("signature");
        let sg = |o: Option<&Value>, k: &str| {
            o.and_then(|x| x.get(k))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        for (obj, label, digest) in [
            (Some(&receipt), rules::LABEL_RECEIPT, sha.hex()),
            (
                sig,
                rules::LABEL_EVENT,
                event
                    .get("content_sha256")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
            ),
        ] {
            tx.execute(
                "INSERT INTO signatures (signed_at, key_id, public_key_fingerprint, signed_message, digest, subject) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![sg(obj, "signed_at"), sg(obj, "key_id"), sg(obj, "public_key_fingerprint"), label, digest, number.to_string()],
            )
            .map_err(sql)?;
        }
        store::put_event(&tx, &stored).map_err(sql)?;
        tx.commit().map_err(sql)?;
        Ok(Issued {
            pith_number: number.to_string(),
            canonical_sha256: sha.hex(),
            new,
            first_computed_at: first,
            last_reissued_at: last_r,
            replaces,
            already: false,
        })
    }

    /// Records matching a Pith number (full or short), or an arXiv id (`2605.18404`, with
    /// or without `vN`), as ledger rows.
    pub fn show(&self, query: &str) -> Result<Vec<Value>, LedgerError> {
        let (clause, arg) = if let Some(n) = PithNumber::parse(query) {
            ("pith_number = ?1", n.to_string())
        } else if let Some(code) = query
            .strip_prefix("pith:")
            .filter(|c| c.len() >= 8 && !c.contains(':'))
        {
            ("code LIKE ?1 || '%'", code.to_owned())
        } else {
            ("source_id = ?1", strip_version(query).0)
        };
        let version = strip_version(query).1;
        let q = format!(
            "SELECT pith_number, canonical_sha256, canonical_record, source_kind, source_id, source_version, first_computed_at, last_reissued_at, replaces FROM records WHERE {clause} ORDER BY source_id, source_version, first_computed_at"
        );
        let mut rows = self.rows(&q, &arg)?;
        if let Some(v) = version.filter(|_| PithNumber::parse(query).is_none()) {
            rows.retain(|r| r.get("source_version").and_then(Value::as_int) == Some(i128::from(v)));
        }
        for r in &mut rows {
            let n = r
                .get("pith_number")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            let receipts = self.receipts(&n)?;
            if let Some(m) = r.as_object_mut() {
                m.insert("receipts".into(), Value::Array(receipts));
            }
        }
        Ok(rows)
    }

    fn receipts(&self, number: &str) -> Result<Vec<Value>, LedgerError> {
        let sql = self.sql();
        let mut st = self.conn.prepare("SELECT issued_at, event_id, receipt FROM receipts WHERE pith_number = ?1 ORDER BY id").map_err(&sql)?;
        let it = st
            .query_map(params![number], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })
            .map_err(&sql)?;
        let mut out = Vec::new();
        for row in it {
            let (at, id, rc) = row.map_err(&sql)?;
            out.push(canon::object([
                ("issued_at", at.into()),
                ("event_id", id.into()),
                ("receipt", parse_stored(&rc)),
            ]));
        }
        Ok(out)
    }

    fn rows(&self, q: &str, arg: &str) -> Result<Vec<Value>, LedgerError> {
        let sql = self.sql();
        let mut st = self.conn.prepare(q).map_err(&sql)?;
        let it = st
            .query_map(params![arg], |r| {
                Ok(canon::object([
                    ("pith_number", r.get::<_, String>(0)?.into()),
                    ("canonical_sha256", r.get::<_, String>(1)?.into()),
                    ("canonical_record", parse_stored(&r.get::<_, String>(2)?)),
                    ("source_kind", r.get::<_, String>(3)?.into()),
                    ("source_id", r.get::<_, String>(4)?.into()),
                    ("source_version", r.get::<_, i64>(5)?.into()),
                    ("first_computed_at", r.get::<_, String>(6)?.into()),
                    ("last_reissued_at", r.get::<_, String>(7)?.into()),
                    (
                        "replaces",
                        r.get::<_, Option<String>>(8)?
                            .map_or(Value::Null, Value::from),
                    ),
                ]))
            })
            .map_err(&sql)?;
        it.collect::<Result<Vec<_>, _>>().map_err(&sql)
    }

    /// Every signature the ledger records as made by the key `fingerprint` at or after
    /// `since`, in time order: what revoking that key from `since` invalidates.
    ///
    /// Each row is visited once through `each` (a ledger of all arXiv holds millions).
    pub fn signatures_since(
        &self,
        fingerprint: &str,
        since: &Timestamp,
        each: &mut dyn FnMut(SignedBy),
    ) -> Result<usize, LedgerError> {
        let sql = self.sql();
        let mut st = self
            .conn
            .prepare("SELECT subject, signed_message, signed_at FROM signatures WHERE public_key_fingerprint = ?1 ORDER BY id")
            .map_err(&sql)?;
        let mut rows = st.query(params![fingerprint]).map_err(&sql)?;
        let mut n = 0;
        while let Some(r) = rows.next().map_err(&sql)? {
            let (subject, label, at): (String, String, String) = (
                r.get(0).map_err(&sql)?,
                r.get(1).map_err(&sql)?,
                r.get(2).map_err(&sql)?,
            );
            let Some(t) = Timestamp::parse(&at) else {
                return Err(LedgerError::Schema {
                    path: self.path.clone(),
                    what: format!("signatures.signed_at {at:?} of {subject} is not a time"),
                });
            };
            if t.micros() >= since.micros() {
                n += 1;
                each(SignedBy {
                    subject,
                    signed_message: label,
                    signed_at: t,
                });
            }
        }
        Ok(n)
    }

    /// Row counts: (records, receipts, signatures).
    pub fn counts(&self) -> Result<(i64, i64, i64), LedgerError> {
        let sql = self.sql();
        let c = |t: &str| {
            self.conn
                .query_row(&format!("SELECT COUNT(*) FROM {t}"), [], |r| {
                    r.get::<_, i64>(0)
                })
                .map_err(&sql)
        };
        Ok((c("records")?, c("receipts")?, c("signatures")?))
    }
}

/// What [`plan_issue`] decided: a reissue, or a first issue whose `replaces` link the
/// caller looks up.
enum Planned {
    Ready(Plan),
    First(Plan),
}

/// The one issuance rule (spec §8), for every path that issues (single, bulk, offline):
/// a number already issued for another record is a collision; a reissue keeps the
/// stored `first_computed_at`, which must be a valid time not after `now` (a clock set
/// back is refused, a corrupt stored time is an error, never replaced); a new number is
/// first computed now.
fn plan_issue(
    path: &Path,
    sha: &Sha256Digest,
    number: PithNumber,
    now: &Timestamp,
    existing: Option<(String, String)>,
) -> Result<Planned, LedgerError> {
    match existing {
        Some((h, _)) if h != sha.hex() => Err(LedgerError::Collision {
            path: path.into(),
            number: number.to_string(),
            existing: h,
            new: sha.hex(),
        }),
        Some((_, first_text)) => {
            let Some(first) = Timestamp::parse(&first_text) else {
                return Err(LedgerError::Schema {
                    path: path.into(),
                    what: format!(
                        "{number}: stored first_computed_at {first_text:?} is not a valid time; the ledger is damaged"
                    ),
                });
            };
            if first.micros() > now.micros() {
                return Err(LedgerError::Clock {
                    path: path.into(),
                    number: number.to_string(),
                    first: first.fmt_micros(),
                    now: now.fmt_micros(),
                });
            }
            Ok(Planned::Ready(Plan {
                sha: *sha,
                number,
                first,
                now: *now,
                new: false,
                replaces: None,
            }))
        }
        None => Ok(Planned::First(Plan {
            sha: *sha,
            number,
            first: *now,
            now: *now,
            new: true,
            replaces: None,
        })),
    }
}

fn text(v: &Value) -> String {
    canon::to_canonical_text(v)
}

fn parse_stored(s: &str) -> Value {
    canon::parse(s.as_bytes()).unwrap_or_else(|_| Value::String(s.to_owned()))
}

/// `2605.18404v2` → (`2605.18404`, Some(2)).
fn strip_version(id: &str) -> (String, Option<u32>) {
    if let Some(i) = id.rfind('v') {
        let (a, b) = (&id[..i], &id[i + 1..]);
        if !a.is_empty()
            && !b.is_empty()
            && b.bytes().all(|c| c.is_ascii_digit())
            && a.bytes().last().is_some_and(|c| c.is_ascii_digit())
        {
            return (a.to_owned(), b.parse().ok());
        }
    }
    (id.to_owned(), None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str) -> Prepared {
        let text = std::fs::read_to_string("tests/data/pith-bundle-2605.18404v1.json").unwrap();
        let b = canon::parse(text.as_bytes()).unwrap();
        let mut r = b.get("canonical_record").unwrap().clone();
        let src = r.as_object_mut().unwrap().get_mut("source").unwrap();
        src.as_object_mut().unwrap().insert("id".into(), id.into());
        Prepared::new(&r).unwrap()
    }

    #[test]
    fn a_batch_goes_on_across_commits_unless_another_writer_came_between() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("l.sqlite");
        let mut l = Ledger::open(&path).unwrap();
        l.hold_transactions(2);
        let (a, b) = (record("2605.00001"), record("2605.00002"));
        let first = l.plan_batch(&[&a], None).unwrap();
        let batch = l.batch();
        assert!(batch.is_some());
        // nobody else wrote: the same batch, its plans good, the time never back
        l.commit_and_go_on(|| {}).unwrap();
        assert!(l.holds_batch(batch));
        assert!(!l.conn.is_autocommit());
        let t0 = first[0].as_ref().unwrap().now;
        let again = l.plan_batch(&[&b], None).unwrap();
        assert!(again[0].as_ref().unwrap().now.micros() >= t0.micros());
        // neither plan is recorded: both codes stay held across the commit
        let held = |l: &Ledger| l.held.as_ref().map_or(0, |h| h.planned.len());
        l.held.as_mut().unwrap().records = 2;
        l.commit_and_go_on(|| {}).unwrap();
        assert_eq!(held(&l), 2);
        // once recorded and committed, a code is the ledger's to answer for, not held
        l.held.as_mut().unwrap().recorded = 1;
        l.commit_and_go_on(|| {}).unwrap();
        assert_eq!(held(&l), 1);
        // another writer committed between: the batch ends, its plans are void
        let other = Connection::open(&path).unwrap();
        l.commit_and_go_on(|| {
            other
                .execute("INSERT INTO meta (key, value) VALUES ('x', 'y')", [])
                .unwrap();
        })
        .unwrap();
        assert!(!l.holds_batch(batch));
        assert_eq!(l.batch(), None);
        assert!(l.conn.is_autocommit(), "the write lock is given up");
        // the next plan starts a new batch, after the other writer
        l.plan_batch(&[&b], None).unwrap();
        assert!(l.batch().is_some() && !l.holds_batch(batch));
        l.commit().unwrap();
        let x: String = other
            .query_row("SELECT value FROM meta WHERE key = 'x'", [], |r| r.get(0))
            .unwrap();
        assert_eq!(x, "y");
    }
}
