//! Assembling and signing bundles (spec §11).

use std::collections::BTreeMap;

use crate::format::canon::{self, Value};
use crate::format::digest::{canon_sha256_without, links, mirror_hint, source_aliases};
use crate::format::rules::{self, EventType};
use crate::format::time::Timestamp;
use crate::model::Record;
use crate::trust::policy::Authorized;
use crate::trust::signer::{Domain, SignError};
use crate::verify::check::{Checker, Finding};
use crate::verify::keyring::Keyring;
use crate::verify::merge;

/// Why a bundle cannot be assembled.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BundleError {
    /// No well-formed `record_created` event among the inputs.
    #[error("no well-formed record_created event: a bundle needs the record it is about")]
    NoRecord,
    /// Some events do not verify against the keyring: nothing is bundled.
    #[error("{} event check(s) failed; the first: {}", .0.len(), .0.first().map(ToString::to_string).unwrap_or_default())]
    BadEvents(Vec<Finding>),
    /// The signing key is not in the keyring.
    #[error("the bundle signing key {0} is not in the keyring")]
    UnknownSigner(String),
}

/// Assemble an unsigned bundle (no `bundle_signature`) from events (spec §11).
///
/// The events must all verify against `keyring`; they appear in application order,
/// duplicates once. `public_keys` are the keyring's documents of every key that signed an
/// event, plus `signer` (the key that will sign the bundle), sorted by key id.
pub fn assemble(
    events: &[Value],
    keyring: &Keyring,
    base_url: &str,
    built_at: &Timestamp,
    signer: Option<&str>,
) -> Result<Value, BundleError> {
    let subject = merge::subject_of(events).ok_or(BundleError::NoRecord)?;
    let merged = merge::merge(&subject, events, Some(keyring), &|i| {
        canon::join_index("$.events", i)
    });
    let problems: Vec<Finding> = merged.problems.into_values().flatten().collect();
    if !problems.is_empty() {
        return Err(BundleError::BadEvents(problems));
    }
    let by_id: BTreeMap<&str, &Value> = events
        .iter()
        .filter_map(|e| Some((e.get("event_id")?.as_str()?, e)))
        .collect();
    let applied: Vec<Value> = merged
        .state
        .applied_event_ids()
        .filter_map(|id| by_id.get(id).map(|e| (*e).clone()))
        .collect();
    // equivocating events are part of the record too: keep every distinct valid event
    let mut ordered = applied;
    for e in events {
        let id = e.get("event_id");
        if !ordered.iter().any(|o| o.get("event_id") == id) {
            ordered.push(e.clone());
        }
    }
    let (record, created) = record_of(&ordered)?;
    // keys that signed something
    let mut fps: Vec<String> = ordered
        .iter()
        .filter_map(|e| {
            e.get("signature")
                .and_then(|s| s.get("public_key_fingerprint"))
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .collect();
    if let Some(id) = signer {
        let k = keyring
            .by_id(id)
            .ok_or_else(|| BundleError::UnknownSigner(id.to_owned()))?;
        fps.push(k.doc.key.fingerprint().to_owned());
    }
    let mut docs: Vec<Value> = Vec::new();
    let mut seen = Vec::new();
    for fp in fps {
        if seen.contains(&fp) {
            continue;
        }
        if let Some(k) = keyring.get(&fp) {
            docs.push(k.doc.raw.clone());
        }
        seen.push(fp);
    }
    docs.sort_by(|a, b| {
        a.get("key_id")
            .and_then(Value::as_str)
            .cmp(&b.get("key_id").and_then(Value::as_str))
    });
    Ok(build(
        &record,
        &created,
        ordered,
        docs,
        merged.state.into_value(),
        base_url,
        built_at,
    ))
}

/// The bundle object (spec §11) from its parts.
#[allow(clippy::too_many_arguments)]
fn build(
    record: &Record,
    created: &str,
    ordered: Vec<Value>,
    docs: Vec<Value>,
    state: Value,
    base_url: &str,
    built_at: &Timestamp,
) -> Value {
    let facts = record.facts();
    let code = facts.number.code.clone();
    canon::object([
        ("bundle_type", rules::BUNDLE_TYPE.into()),
        ("bundle_version", rules::BUNDLE_VERSION.into()),
        ("pith_number", facts.number.to_string().into()),
        ("short_pith_number", facts.number.short().into()),
        ("canonical_record", record.value().clone()),
        ("canonical_sha256", facts.sha256.hex().into()),
        (
            "source",
            record.value().get("source").cloned().unwrap_or(Value::Null),
        ),
        (
            "source_aliases",
            source_aliases(&facts.source_id, facts.version, &code, created),
        ),
        ("events", Value::Array(ordered)),
        ("timestamp_proofs", Value::Array(Vec::new())),
        (
            "mirror_hints",
            Value::Array(vec![mirror_hint(base_url, &code)]),
        ),
        ("public_keys", Value::Array(docs)),
        ("merge_version", rules::MERGE_VERSION.into()),
        ("built_at", built_at.fmt_seconds().into()),
        ("links", links(base_url, &code)),
        ("state", state),
    ])
}

/// Assemble a bundle from events this process has just made and signed with the key of
/// `key_doc` (bulk issuing): the same object as [`assemble`], without re-verifying our own
/// signatures; `public_keys` is `[key_doc]`. The events are moved into the bundle.
pub(crate) fn assemble_own(
    events: Vec<Value>,
    key_doc: &Value,
    base_url: &str,
    built_at: &Timestamp,
) -> Result<Value, BundleError> {
    let subject = merge::subject_of(&events).ok_or(BundleError::NoRecord)?;
    let merged = merge::merge_own(&subject, &events);
    let problems: Vec<Finding> = merged.problems.into_values().flatten().collect();
    if !problems.is_empty() {
        return Err(BundleError::BadEvents(problems));
    }
    let (record, created) = record_of(&events)?;
    // the events in the merge's order, moved (each applied id is one event's)
    let order: Vec<usize> = merged
        .state
        .applied_event_ids()
        .filter_map(|id| {
            events
                .iter()
                .position(|e| e.get("event_id").and_then(Value::as_str) == Some(id))
        })
        .collect();
    let mut slots: Vec<Option<Value>> = events.into_iter().map(Some).collect();
    let ordered: Vec<Value> = order
        .into_iter()
        .filter_map(|i| slots.get_mut(i).and_then(Option::take))
        .collect();
    Ok(build(
        &record,
        &created,
        ordered,
        vec![key_doc.clone()],
        merged.state.into_value(),
        base_url,
        built_at,
    ))
}

/// The record of the `record_created` event among `events`, and that event's `created_at`.
fn record_of(events: &[Value]) -> Result<(Record, String), BundleError> {
    let rc = events
        .iter()
        .find(|e| {
            e.get("event_type").and_then(Value::as_str) == Some(EventType::RecordCreated.as_str())
        })
        .ok_or(BundleError::NoRecord)?;
    let record = rc
        .get("payload")
        .and_then(|p| p.get("canonical_record"))
        .cloned()
        .ok_or(BundleError::NoRecord)?;
    let record = crate::verify::record(record).map_err(|_| BundleError::NoRecord)?;
    let created = rc
        .get("created_at")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    Ok((record, created))
}

/// `bundle_sha256`: the digest of the bundle without `bundle_signature` (spec §3).
pub fn bundle_sha256(bundle: &Value) -> crate::format::digest::Sha256Digest {
    canon_sha256_without(bundle, &["bundle_signature"])
}

/// Sign an assembled bundle: `bundle_signature` over `bundle_sha256`, `signed_at` given
/// (its whole seconds must be `built_at`).
pub fn sign(
    mut bundle: Value,
    key: &Authorized,
    signed_at: &Timestamp,
) -> Result<Value, SignError> {
    let digest = bundle_sha256(&bundle);
    let sig = signature(key, &digest, &built_at(&bundle)?, signed_at)?;
    if let Some(m) = bundle.as_object_mut() {
        m.insert("bundle_signature".into(), sig);
    }
    Ok(bundle)
}

/// A `bundle_signature` (spec §11): the signature object over `digest` plus
/// `bundle_sha256`, by a key valid at `built_at`. The one place it is built.
pub fn signature(
    key: &Authorized,
    digest: &crate::format::digest::Sha256Digest,
    built_at: &Timestamp,
    signed_at: &Timestamp,
) -> Result<Value, SignError> {
    let mut sig = key.signature_object(Domain::Bundle, digest, built_at, signed_at)?;
    if let Some(m) = sig.as_object_mut() {
        m.insert("bundle_sha256".into(), digest.hex().into());
    }
    Ok(sig)
}

/// The protected time of an unsigned bundle: its `built_at` (spec §12); and the check
/// that it has no field a bundle does not define, made before it is signed.
fn built_at(bundle: &Value) -> Result<Timestamp, SignError> {
    if let Some(m) = bundle.as_object() {
        let mut ck = Checker::new(None);
        ck.closed(m, "$", &crate::model::BUNDLE);
        if let Some(f) = ck.failures.first() {
            return Err(SignError::NotValid(format!("not signing: {f}")));
        }
    }
    bundle
        .get("built_at")
        .and_then(Value::as_str)
        .and_then(Timestamp::parse)
        .ok_or_else(|| SignError::NotValid("the bundle has no valid built_at".into()))
}

/// Sign an assembled bundle and return its canonical bytes, serializing it only once:
/// `bundle_signature` sorts right after `built_at`, the first member, so it is spliced
/// into the unsigned bytes (bulk issuing). Same bytes as `to_canonical(sign(..))`.
pub fn sign_to_bytes(
    unsigned: &Value,
    key: &Authorized,
    signed_at: &Timestamp,
) -> Result<(crate::format::digest::Sha256Digest, Vec<u8>), SignError> {
    let bytes = canon::to_canonical(unsigned);
    let digest = crate::format::digest::sha256(&bytes);
    let sig = signature(key, &digest, &built_at(unsigned)?, signed_at)?;
    // `{"built_at":"YYYY-MM-DDTHH:MM:SSZ",` is 35 bytes; splice after it
    let head = b"{\"built_at\":\"";
    let cut = head.len() + 20 + 2;
    if bytes.len() > cut
        && bytes.starts_with(head)
        && bytes.get(cut - 2..cut) == Some(b"\",".as_slice())
    {
        let mut out = Vec::with_capacity(bytes.len() + 512);
        out.extend_from_slice(&bytes[..cut]);
        out.extend_from_slice(b"\"bundle_signature\":");
        canon::write_canonical(&sig, &mut out);
        out.push(b',');
        out.extend_from_slice(&bytes[cut..]);
        return Ok((digest, out));
    }
    let mut v = unsigned.clone();
    if let Some(m) = v.as_object_mut() {
        m.insert("bundle_signature".into(), sig);
    }
    Ok((digest, canon::to_canonical(&v)))
}
