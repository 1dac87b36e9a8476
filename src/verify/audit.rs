//! The log's monitor: everything a served log claims, recomputed from its entries.
//!
//! An auditor trusts only its keyring and what it saw before (its state): the checkpoint
//! must verify, the entries must hash to its root, the served hash tiles must be the
//! entries' hashes, the tree must extend the last one seen (no rollback, no fork), every
//! entry must be one of the decided kinds, every key statement the auditor's keyring
//! trusts must be in the log, and each served bundle's events must be leaves of it.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use crate::format::canon::{self, Value};
use crate::format::digest::Sha256Digest;
use crate::format::note;
use crate::format::rules;
use crate::format::time::Timestamp;
use crate::registry::{merkle, tiles};
use crate::trust::keys::{b64_decode, b64_encode};
use crate::verify::keyring::Keyring;

/// What a monitor remembers of the last log it accepted (**decided**,
/// `rules::MONITOR_STATE_TYPE`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MonitorState {
    /// The log's origin.
    pub origin: String,
    /// Tree size.
    pub size: u64,
    /// Tree head.
    pub root: Sha256Digest,
}

/// Why a state file or a served log could not be read at all.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct AuditError(pub String);

impl MonitorState {
    /// The state file: `{"origin", "root_b64", "state_type", "tree_size"}`.
    pub fn to_value(&self) -> Value {
        canon::object([
            ("origin", self.origin.as_str().into()),
            ("root_b64", b64_encode(&self.root.0).into()),
            ("state_type", rules::MONITOR_STATE_TYPE.into()),
            ("tree_size", self.size.into()),
        ])
    }

    /// Read a state file, closed schema.
    pub fn from_value(v: &Value) -> Result<Self, AuditError> {
        let bad = |w: &str| AuditError(format!("monitor state: {w}"));
        let o = v.as_object().ok_or_else(|| bad("expected an object"))?;
        let fields = ["origin", "root_b64", "state_type", "tree_size"];
        if o.len() != fields.len() || fields.iter().any(|f| !o.contains_key(*f)) {
            return Err(bad(
                "expected exactly origin, root_b64, state_type, tree_size",
            ));
        }
        if o.get("state_type").and_then(Value::as_str) != Some(rules::MONITOR_STATE_TYPE) {
            return Err(bad(&format!(
                "$.state_type: expected {:?}",
                rules::MONITOR_STATE_TYPE
            )));
        }
        let origin = o
            .get("origin")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("$.origin: expected a string"))?
            .to_owned();
        let size = o
            .get("tree_size")
            .and_then(Value::as_int)
            .and_then(|i| u64::try_from(i).ok())
            .ok_or_else(|| bad("$.tree_size: expected a non-negative integer"))?;
        let root = o
            .get("root_b64")
            .and_then(Value::as_str)
            .and_then(|s| b64_decode(s).filter(|b| b64_encode(b) == s))
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .ok_or_else(|| bad("$.root_b64: expected 32 bytes in padded base64"))?;
        Ok(MonitorState {
            origin,
            size,
            root: Sha256Digest(root),
        })
    }
}

/// What an audit found.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct AuditReport {
    /// The log's origin.
    pub origin: String,
    /// The checkpoint's tree size.
    pub tree_size: u64,
    /// The checkpoint's root, hex.
    pub root_hex: String,
    /// The size last seen (the state's), if any.
    pub previous_size: Option<u64>,
    /// Event leaves.
    pub event_leaves: u64,
    /// Key-statement leaves.
    pub statement_leaves: u64,
    /// Served bundles checked against the log.
    pub bundles_checked: u64,
    /// What is wrong: rollback, fork, bad entries, tiles, missing statements, bundle
    /// events never logged. Empty when the log is sound.
    pub problems: Vec<String>,
    /// What a person may want to know (re-signatures, statements the keyring lacks).
    pub notes: Vec<String>,
}

impl AuditReport {
    /// No problem found?
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
    /// The state to remember after a sound audit.
    pub fn state(&self) -> Option<MonitorState> {
        let root = crate::format::digest::unhex(&self.root_hex)?;
        Some(MonitorState {
            origin: self.origin.clone(),
            size: self.tree_size,
            root: Sha256Digest(root.try_into().ok()?),
        })
    }
}

const MAX_PROBLEMS: usize = 50;

fn push(v: &mut Vec<String>, more: &mut u64, s: String) {
    if v.len() < MAX_PROBLEMS {
        v.push(s);
    } else {
        *more += 1;
    }
}

/// One parsed entry.
enum Entry {
    Event { id: String, rest: Vec<u8> },
    Statement(String),
}

fn parse_entry(bytes: &[u8]) -> Result<Entry, String> {
    let v = canon::parse(bytes).map_err(|e| format!("not JSON {e}"))?;
    if canon::to_canonical(&v) != bytes {
        return Err("not canonical JSON".into());
    }
    let o = v.as_object().ok_or("not an object")?;
    let keys: Vec<&str> = o.keys().map(String::as_str).collect();
    let s = |k: &str| o.get(k).and_then(Value::as_str);
    match s("entry_type") {
        Some(rules::LOG_ENTRY_EVENT) => {
            let want = [
                "entry_type",
                "event_id",
                "event_type",
                "signature_b64",
                "signer",
                "subject",
            ];
            if keys != want || want.iter().any(|k| s(k).is_none()) {
                return Err(format!(
                    "an event entry has exactly the string fields {}",
                    want.join(", ")
                ));
            }
            let id = s("event_id").unwrap_or_default().to_owned();
            // what must not change between two leaves of one event: its subject and type
            let rest = format!(
                "{}\n{}",
                s("subject").unwrap_or_default(),
                s("event_type").unwrap_or_default()
            );
            Ok(Entry::Event {
                id,
                rest: rest.into_bytes(),
            })
        }
        Some(rules::LOG_ENTRY_STATEMENT) => {
            let want = [
                "entry_type",
                "keys",
                "signers",
                "statement_sha256",
                "statement_type",
            ];
            if keys != want {
                return Err(format!(
                    "a key-statement entry has exactly the fields {}",
                    want.join(", ")
                ));
            }
            Ok(Entry::Statement(
                s("statement_sha256").unwrap_or_default().to_owned(),
            ))
        }
        other => Err(format!("unknown entry_type {other:?}")),
    }
}

/// Audit the log served under `tree/log/` (and the bundles under `tree/pith/`) against
/// `keyring`, expecting `origin`, after `state` (the last log this monitor accepted).
pub fn audit(
    tree: &Path,
    keyring: &Keyring,
    origin: &str,
    state: Option<&MonitorState>,
    now: &Timestamp,
) -> Result<AuditReport, AuditError> {
    let log = tree.join("log");
    let cp_path = log.join("checkpoint");
    let bytes = crate::io::read_input(&cp_path).map_err(|e| AuditError(e.to_string()))?;
    let mut r = AuditReport {
        origin: origin.to_owned(),
        previous_size: state.map(|s| s.size),
        ..Default::default()
    };
    let cp = match crate::verify::checkpoint::verify_checkpoint(&bytes, keyring, origin, now) {
        Ok(c) => c,
        Err(e) => {
            r.problems.push(format!("{}: {e}", cp_path.display()));
            return Ok(r);
        }
    };
    let cp = &cp.checkpoint;
    r.tree_size = cp.size();
    r.root_hex = cp.root().hex();
    let size = cp.size();
    let mut more = 0u64;
    // every entry, from the entry tiles
    let mut leaves = Vec::with_capacity(usize::try_from(size).unwrap_or(0).min(1 << 24));
    let mut seen_entries: HashSet<Vec<u8>> = HashSet::new();
    let mut events: HashMap<String, Vec<u8>> = HashMap::new();
    let mut statements: HashSet<String> = HashSet::new();
    let w = tiles::TILE_WIDTH;
    for n in 0..size.div_ceil(w) {
        let width = (size - n * w).min(w);
        let rel = tiles::tile_path(None, n, width);
        let data = crate::io::read_input(&log.join(&rel))
            .map_err(|e| AuditError(format!("the log's entry tile {rel}: {e}")))?;
        let Some(entries) = tiles::read_entry_bundle(&data, width) else {
            r.problems
                .push(format!("{rel}: not {width} length-prefixed entries"));
            return Ok(r);
        };
        for (k, e) in entries.into_iter().enumerate() {
            let idx = n * w + k as u64;
            leaves.push(merkle::leaf_hash(e));
            match parse_entry(e) {
                Ok(Entry::Event { id, rest }) => {
                    r.event_leaves += 1;
                    match events.get(&id) {
                        Some(prev) if *prev != rest => push(
                            &mut r.problems,
                            &mut more,
                            format!(
                                "leaf {idx}: event {id} was logged before with another subject or type"
                            ),
                        ),
                        Some(_) => push(
                            &mut r.notes,
                            &mut more,
                            format!("leaf {idx}: a new signature of event {id}"),
                        ),
                        None => {
                            events.insert(id, rest);
                        }
                    }
                }
                Ok(Entry::Statement(d)) => {
                    r.statement_leaves += 1;
                    if !statements.insert(d.clone()) {
                        push(
                            &mut r.problems,
                            &mut more,
                            format!("leaf {idx}: key statement {d} logged twice"),
                        );
                    }
                }
                Err(why) => push(&mut r.problems, &mut more, format!("leaf {idx}: {why}")),
            }
            seen_entries.insert(e.to_vec());
        }
    }
    let root = merkle::root(&leaves);
    if root != *cp.root() {
        r.problems.push(format!(
            "the {size} served entries hash to {}, not to the checkpoint's root {}",
            root.hex(),
            cp.root().hex()
        ));
    }
    // the hash tiles readers use must be the entries' hashes
    for (rel, want) in tiles::hash_tiles(&leaves, 0) {
        match crate::io::read_input(&log.join(&rel)) {
            Ok(got) if got == want => {}
            Ok(_) => push(
                &mut r.problems,
                &mut more,
                format!("{rel}: not the hashes of the served entries"),
            ),
            Err(e) => push(&mut r.problems, &mut more, format!("{rel}: {e}")),
        }
    }
    // the tree must extend the last one this monitor accepted
    if let Some(s) = state {
        if s.origin != origin {
            r.problems.push(format!(
                "the state is of log {:?}, not {origin:?}",
                s.origin
            ));
        } else if s.size > size {
            r.problems.push(format!(
                "rollback: the log had {} leaves when last audited, its checkpoint now says {size}",
                s.size
            ));
        } else if merkle::root(&leaves[..s.size as usize]) != s.root {
            r.problems.push(format!(
                "fork: the first {} leaves no longer hash to the root seen before ({})",
                s.size,
                s.root.hex()
            ));
        }
    }
    // every statement the auditor trusts is in the log; those it lacks are worth knowing
    let trusted: HashSet<&str> = keyring.statement_log_entries().map(|(d, _)| d).collect();
    for d in &trusted {
        if !statements.contains(*d) {
            push(
                &mut r.problems,
                &mut more,
                format!("key statement {d} is trusted by the keyring but not in the log"),
            );
        }
    }
    for d in &statements {
        if !trusted.contains(d.as_str()) {
            push(
                &mut r.notes,
                &mut more,
                format!("the log holds key statement {d}, which the keyring does not: fetch it"),
            );
        }
    }
    // every served bundle: each of its events a leaf of the log
    let mut dirs: Vec<std::path::PathBuf> = match std::fs::read_dir(tree.join("pith")) {
        Ok(rd) => rd.filter_map(Result::ok).map(|e| e.path()).collect(),
        Err(_) => Vec::new(),
    };
    dirs.sort();
    // each canonical record is one number, and each number one canonical record
    let mut numbers_of: HashMap<String, String> = HashMap::new();
    for dir in dirs {
        let p = dir.join("bundle.json");
        if std::fs::symlink_metadata(&p).is_err() {
            continue;
        }
        let v = match crate::io::read_input(&p).map(|b| canon::parse(&b)) {
            Ok(Ok(v)) => v,
            _ => {
                push(
                    &mut r.problems,
                    &mut more,
                    format!("{}: unreadable or not JSON", p.display()),
                );
                continue;
            }
        };
        let b = match crate::verify::verify_bundle(v, keyring) {
            Ok(b) => b,
            Err(rep) => {
                push(
                    &mut r.problems,
                    &mut more,
                    format!(
                        "{}: does not verify: {}",
                        p.display(),
                        rep.failures
                            .first()
                            .map(ToString::to_string)
                            .unwrap_or_default()
                    ),
                );
                continue;
            }
        };
        if dir.file_name().and_then(|n| n.to_str()) != Some(b.number().code.as_str()) {
            push(
                &mut r.problems,
                &mut more,
                format!(
                    "{}: the bundle of {} is served under another number",
                    p.display(),
                    b.number()
                ),
            );
        }
        r.bundles_checked += 1;
        let mut records: Vec<&str> = b
            .value()
            .get("events")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|e| e.get("event_type").and_then(Value::as_str) == Some("record_created"))
            .filter_map(|e| e.get("payload")?.get("canonical_sha256")?.as_str())
            .collect();
        records.sort_unstable();
        records.dedup();
        if records.len() > 1 {
            push(
                &mut r.problems,
                &mut more,
                format!(
                    "{}: issued for {} different canonical records ({})",
                    b.number(),
                    records.len(),
                    records.join(", ")
                ),
            );
        }
        for rec in records {
            let n = b.number().to_string();
            match numbers_of.get(rec) {
                Some(other) if *other != n => push(
                    &mut r.problems,
                    &mut more,
                    format!("canonical record {rec} was issued as two numbers: {other} and {n}"),
                ),
                Some(_) => {}
                None => {
                    numbers_of.insert(rec.to_owned(), n);
                }
            }
        }
        for ev in b
            .value()
            .get("events")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if !seen_entries.contains(&note::event_entry_of(ev)) {
                push(
                    &mut r.problems,
                    &mut more,
                    format!(
                        "{}: event {} is served but not in the log",
                        b.number(),
                        ev.get("event_id")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                    ),
                );
            }
        }
    }
    if more > 0 {
        r.notes.push(format!("{more} more findings not listed"));
    }
    Ok(r)
}
