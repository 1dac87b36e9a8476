//! Merging events into a state: `pith-open-graph-merge-v1` (spec §10).

use std::collections::{BTreeMap, HashSet};

use crate::format::canon::{self, Map, Value};
use crate::format::digest::{PithNumber, canon_sha256_without, source_aliases};
use crate::format::rules;
use crate::verify::check::{self, Checker, Finding};
use crate::verify::keyring::Keyring;

/// The result of a merge: the state and what was wrong with each rejected event.
#[derive(Debug)]
pub struct Merged {
    /// The state, `state_sha256` included.
    pub state: crate::model::State,
    /// Failures of the events that were not applied, by input index.
    pub problems: BTreeMap<usize, Vec<Finding>>,
    /// Warnings about the events (unauthenticated fields).
    pub warnings: Vec<Finding>,
    /// Notes from checking the events (see `check::Checker::notes`).
    pub notes: Vec<Finding>,
}

/// Merge `events` about `subject` (spec §10).
///
/// With `keyring` None, signatures are not checked (everything else is). `path_of(i)`
/// names event `i` in findings (`$.events[3]`, `events.jsonl:4`, ...).
pub fn merge(
    subject: &PithNumber,
    events: &[Value],
    keyring: Option<&Keyring>,
    path_of: &dyn Fn(usize) -> String,
) -> Merged {
    merge_with(subject, events, keyring, path_of, false)
}

/// Merge events this process has just built and signed (bulk issuing): the same state as
/// [`merge`], without re-deriving each event's digests. Never use it on events read from
/// outside.
pub(crate) fn merge_own(subject: &PithNumber, events: &[Value]) -> Merged {
    merge_with(
        subject,
        events,
        None,
        &|i| canon::join_index("$.events", i),
        true,
    )
}

fn own_facts(ev: &Value) -> Option<check::EventFacts> {
    Some(check::EventFacts {
        event_id: ev.get("event_id")?.as_str()?.to_owned(),
        event_type: ev.get("event_type")?.as_str()?.to_owned(),
        created_at: crate::format::time::Timestamp::parse(ev.get("created_at")?.as_str()?)?,
    })
}

fn merge_with(
    subject: &PithNumber,
    events: &[Value],
    keyring: Option<&Keyring>,
    path_of: &dyn Fn(usize) -> String,
    own: bool,
) -> Merged {
    let mut problems = BTreeMap::new();
    let mut warnings = Vec::new();
    let mut notes = Vec::new();
    let mut invalid = Vec::new();
    let mut valid: Vec<(i64, String, &Value)> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    let mut seen_invalid: HashSet<String> = HashSet::new();
    for (i, ev) in events.iter().enumerate() {
        let mut ck = Checker::new(keyring);
        let facts = if own {
            own_facts(ev)
        } else {
            check::event(&mut ck, ev, &path_of(i), Some(subject))
        };
        warnings.append(&mut ck.warnings);
        notes.append(&mut ck.notes);
        match facts {
            Some(f) => {
                // the same event twice is counted once (spec §10, decided)
                if seen.insert(f.event_id.clone()) {
                    let (t, id) = rules::event_order_key(&f.created_at, &f.event_id);
                    valid.push((t, id, ev));
                }
            }
            None => {
                let eid = ev.get("event_id").cloned().unwrap_or(Value::Null);
                let key = eid.brief();
                let first = ck.failures.first().map_or("malformed", |f| f.code);
                problems.insert(i, ck.failures);
                if seen_invalid.insert(key) {
                    invalid.push(canon::object([("event_id", eid), ("reason", first.into())]));
                }
            }
        }
    }
    valid.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));

    let mut record_created: Option<Value> = None;
    let mut lists: BTreeMap<&str, Vec<Value>> = rules::EVENT_KINDS
        .iter()
        .filter_map(|k| k.2)
        .map(|l| (l, Vec::new()))
        .collect();
    let mut equivocations = Vec::new();
    let mut applied: Vec<Value> = Vec::new();
    let mut seen_prev: BTreeMap<(String, String, String), String> = BTreeMap::new();
    // ids of the entries in `current` so far, and of those a later event superseded: each
    // `supersedes` id costs one lookup, so merging is linear in events plus ids named
    let mut present: std::collections::HashSet<String> = std::collections::HashSet::new();
    let mut superseded: std::collections::HashSet<String> = std::collections::HashSet::new();
    for (_, eid, ev) in &valid {
        let s = |k: &str| {
            ev.get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let (et, target) = (s("event_type"), s("target"));
        let signer_id = ev
            .get("signer")
            .and_then(|x| x.get("signer_id"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        if let Some(prev) = ev.get("prev_event").and_then(Value::as_str) {
            let k = (signer_id, target.clone(), prev.to_owned());
            if let Some(first) = seen_prev.get(&k) {
                equivocations.push(canon::object([
                    (
                        "event_ids",
                        Value::Array(vec![first.as_str().into(), eid.as_str().into()]),
                    ),
                    ("reason", "same signer, target and prev_event".into()),
                ]));
                continue;
            }
            seen_prev.insert(k, eid.clone());
        }
        if et == crate::format::rules::EventType::RecordCreated.as_str()
            && let Some(first) = &record_created
        {
            equivocations.push(canon::object([
                (
                    "event_ids",
                    Value::Array(vec![
                        first.get("event_id").cloned().unwrap_or(Value::Null),
                        eid.as_str().into(),
                    ]),
                ),
                (
                    "reason",
                    "two record_created events with different content".into(),
                ),
            ]));
            continue;
        }
        let entry = canon::object([
            ("event_id", eid.as_str().into()),
            ("target", target.into()),
            (
                "created_at",
                ev.get("created_at").cloned().unwrap_or(Value::Null),
            ),
            ("signer", ev.get("signer").cloned().unwrap_or(Value::Null)),
            ("payload", ev.get("payload").cloned().unwrap_or(Value::Null)),
        ]);
        if let Some(Value::Array(sup)) = ev.get("supersedes") {
            for old in sup.iter().filter_map(Value::as_str) {
                // only what is in `current` now: a later event of that id is not removed
                if present.remove(old) {
                    superseded.insert(old.to_owned());
                }
                if record_created
                    .as_ref()
                    .and_then(|r| r.get("event_id"))
                    .and_then(Value::as_str)
                    == Some(old)
                {
                    record_created = None;
                }
            }
        }
        match rules::event_kind(&et) {
            Some((_, Some(list))) => {
                present.insert(eid.clone());
                lists.entry(list).or_default().push(entry);
            }
            _ => record_created = Some(entry),
        }
        applied.push(eid.as_str().into());
    }

    let mut current = Map::new();
    let (rec, aliases) = match &record_created {
        Some(rc) => {
            let rec = rc
                .get("payload")
                .and_then(|p| p.get("canonical_record"))
                .cloned()
                .unwrap_or(Value::Null);
            let created = rc
                .get("created_at")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let src = rec.get("source");
            let sid = src
                .and_then(|s| s.get("id"))
                .and_then(Value::as_str)
                .unwrap_or_default();
            let ver = src
                .and_then(|s| s.get("version"))
                .and_then(Value::as_int)
                .unwrap_or_default();
            let code = crate::format::digest::code26(&crate::format::digest::canon_sha256(&rec));
            let aliases = source_aliases(sid, ver, &code, created);
            (rec, aliases)
        }
        None => (Value::Null, Value::Array(vec![])),
    };
    current.insert("canonical_record".into(), rec);
    current.insert("source_aliases".into(), aliases);
    current.insert(
        "record_created".into(),
        record_created.unwrap_or(Value::Null),
    );
    for (k, mut v) in lists {
        if !superseded.is_empty() {
            v.retain(|e| {
                e.get("event_id")
                    .and_then(Value::as_str)
                    .is_none_or(|id| !superseded.contains(id))
            });
        }
        current.insert(k.into(), Value::Array(v));
    }
    let n_valid = valid.len() as i64;
    let n_invalid = invalid.len() as i64;
    let mut state = Map::new();
    state.insert("state_type".into(), rules::STATE_TYPE.into());
    state.insert("state_version".into(), rules::STATE_VERSION.into());
    state.insert("pith_number".into(), subject.to_string().into());
    state.insert("merge_version".into(), rules::MERGE_VERSION.into());
    state.insert("event_count".into(), (n_valid + n_invalid).into());
    state.insert("valid_event_count".into(), n_valid.into());
    state.insert("invalid_event_count".into(), n_invalid.into());
    state.insert(
        "equivocation_count".into(),
        (equivocations.len() as i64).into(),
    );
    state.insert("current".into(), Value::Object(current));
    state.insert("equivocations".into(), Value::Array(equivocations));
    state.insert("invalid_events".into(), Value::Array(invalid));
    state.insert("applied_event_ids".into(), Value::Array(applied));
    let mut state = Value::Object(state);
    let sha = canon_sha256_without(&state, &["state_sha256"]);
    if let Some(m) = state.as_object_mut() {
        m.insert("state_sha256".into(), sha.hex().into());
    }
    Merged {
        state: crate::model::State::new(state, sha),
        problems,
        warnings,
        notes,
    }
}

/// The subject of a set of events: derived from a well-formed `record_created` record,
/// else the first parseable `subject_pith_number`.
pub fn subject_of(events: &[Value]) -> Option<PithNumber> {
    for ev in events {
        if ev.get("event_type").and_then(Value::as_str)
            == Some(crate::format::rules::EventType::RecordCreated.as_str())
        {
            let mut ck = Checker::new(None);
            if let Some(f) = check::record(
                &mut ck,
                ev.get("payload").and_then(|p| p.get("canonical_record")),
                "$",
            ) {
                return Some(f.number);
            }
        }
    }
    events.iter().find_map(|e| {
        e.get("subject_pith_number")
            .and_then(Value::as_str)
            .and_then(PithNumber::parse)
    })
}

/// Read events from bytes: one event object, a JSON array of events, or JSON lines.
pub fn read_events(bytes: &[u8]) -> Result<Vec<Value>, crate::format::canon::CanonError> {
    match canon::parse(bytes) {
        Ok(Value::Array(a)) => Ok(a),
        Ok(v) => Ok(vec![v]),
        Err(whole) => {
            // JSON lines: every non-empty line one event; report the line of a bad one
            let mut out = Vec::new();
            let mut offset = 0;
            let mut lines = 0;
            for (n, line) in bytes.split(|b| *b == b'\n').enumerate() {
                let trimmed = line.strip_suffix(b"\r").unwrap_or(line);
                if !trimmed.iter().all(u8::is_ascii_whitespace) {
                    lines += 1;
                    match canon::parse(trimmed) {
                        Ok(v) => out.push(v),
                        Err(mut e) => {
                            if lines == 1 && n == 0 && !bytes[..].contains(&b'\n') {
                                return Err(whole);
                            }
                            e.path = format!("line {} {}", n + 1, e.path);
                            e.offset += offset;
                            return Err(e);
                        }
                    }
                }
                offset += line.len() + 1;
            }
            if lines < 2 {
                return Err(whole);
            }
            Ok(out)
        }
    }
}
