//! Building signed objects: receipts (spec §8) and events (spec §9).
//!
//! Every signature here is made through an [`Authorized`] key (the key-validity policy,
//! `trust::policy`) over a digest computed by [`crate::format::digest`]; the verifier checks
//! exactly these forms.

use crate::format::canon::{self, Value};
use crate::format::digest::{PithNumber, Sha256Digest, canon_sha256, canon_sha256_without};
use crate::format::rules::{self, EventType};
use crate::format::time::Timestamp;
use crate::trust::policy::Authorized;
use crate::trust::signer::{Domain, SignError};

/// The key a signature will be made with, named before signing (offline requests).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyRef {
    /// `key_id`.
    pub key_id: String,
    /// `public_key_fingerprint` (32 hex).
    pub fingerprint: String,
}

impl From<&Authorized> for KeyRef {
    fn from(k: &Authorized) -> Self {
        KeyRef {
            key_id: k.key_id().to_owned(),
            fingerprint: k.public().fingerprint().to_owned(),
        }
    }
}

/// A receipt with every member but `signature_b64` and `signed_at` (spec §8).
pub fn unsigned_receipt(
    key: &KeyRef,
    canonical_sha256: &Sha256Digest,
    first_computed_at: &Timestamp,
    last_reissued_at: &Timestamp,
) -> Value {
    canon::object([
        ("kind", rules::RECEIPT_KIND.into()),
        ("key_id", key.key_id.as_str().into()),
        ("algorithm", rules::ALGORITHM.into()),
        ("signed_message", rules::LABEL_RECEIPT.into()),
        ("builder_version", rules::BUILDER_VERSION.into()),
        ("receipt_version", rules::RECEIPT_VERSION.into()),
        ("canonical_sha256", canonical_sha256.hex().into()),
        ("first_computed_at", first_computed_at.fmt_micros().into()),
        ("last_reissued_at", last_reissued_at.fmt_micros().into()),
        ("signature_status", rules::SIGNATURE_STATUS.into()),
        ("public_key_fingerprint", key.fingerprint.as_str().into()),
    ])
}

/// Sign a receipt in place: `signature_b64` over `digest`, and `signed_at`. `protected`
/// is the time its key must be valid at: the `created_at` of its `record_created` event.
pub(crate) fn sign_receipt(
    receipt: &mut Value,
    key: &Authorized,
    digest: &Sha256Digest,
    protected: &Timestamp,
    signed_at: &Timestamp,
) -> Result<(), SignError> {
    let sig = key.signature_object(Domain::Receipt, digest, protected, signed_at)?;
    if let (Some(m), Some(s)) = (receipt.as_object_mut(), sig.as_object()) {
        for k in ["signature_b64", "signed_at"] {
            if let Some(v) = s.get(k) {
                m.insert(k.into(), v.clone());
            }
        }
    }
    Ok(())
}

/// A signed receipt over a record's `canonical_sha256` (spec §8).
pub fn receipt(
    key: &Authorized,
    canonical_sha256: &Sha256Digest,
    first_computed_at: &Timestamp,
    last_reissued_at: &Timestamp,
    signed_at: &Timestamp,
) -> Result<Value, SignError> {
    let mut r = unsigned_receipt(
        &KeyRef::from(key),
        canonical_sha256,
        first_computed_at,
        last_reissued_at,
    );
    sign_receipt(&mut r, key, canonical_sha256, signed_at, signed_at)?;
    Ok(r)
}

/// The `signer` block of an event (spec §7).
pub(crate) fn signer_block(key: &KeyRef, signer_id: &str) -> Value {
    canon::object([
        ("signer_id", signer_id.into()),
        ("signer_type", rules::SIGNER_TYPE.into()),
        ("key_id", key.key_id.as_str().into()),
        ("public_key_fingerprint", key.fingerprint.as_str().into()),
    ])
}

/// What an event is about, before it is signed.
#[derive(Clone, Debug)]
pub struct EventDraft {
    /// `event_type` (spec §9); it fixes the `target`.
    pub event_type: EventType,
    /// `subject_pith_number`.
    pub subject: PithNumber,
    /// `payload`.
    pub payload: Value,
    /// `created_at` (whole seconds; the protected time).
    pub created_at: Timestamp,
    /// `supersedes`: event ids.
    pub supersedes: Vec<String>,
    /// `prev_event`.
    pub prev_event: Option<String>,
    /// `signer.signer_id`.
    pub signer_id: String,
}

/// An event without `signature`, `content_sha256` and `event_id`: what an offline signer
/// completes with [`finish_event`].
pub fn unsigned_event(d: &EventDraft, key: &KeyRef) -> Value {
    event_with(d, d.payload.clone(), key)
}

/// The unsigned event of `d` carrying `payload` (in place of `d.payload`).
fn event_with(d: &EventDraft, payload: Value, key: &KeyRef) -> Value {
    canon::object([
        ("event_type", d.event_type.as_str().into()),
        ("subject_pith_number", d.subject.to_string().into()),
        ("target", d.event_type.target().into()),
        ("payload", payload),
        ("signer", signer_block(key, &d.signer_id)),
        ("created_at", d.created_at.fmt_seconds().into()),
        (
            "supersedes",
            Value::Array(d.supersedes.iter().map(|s| s.as_str().into()).collect()),
        ),
        (
            "prev_event",
            d.prev_event.as_deref().map_or(Value::Null, Value::from),
        ),
        ("schema_version", rules::SCHEMA_VERSION.into()),
    ])
}

/// The `content_sha256` of an event (spec §3): the digest of the event without
/// `signature`, `content_sha256` and `event_id`.
pub fn content_sha256(ev: &Value) -> Sha256Digest {
    canon_sha256_without(ev, &rules::EVENT_UNHASHED)
}

/// Complete an event with its digests and a signature object `sig` over them.
pub(crate) fn seal_event(ev: &mut Value, content: &Sha256Digest, sig: Value) {
    if let Some(m) = ev.as_object_mut() {
        m.insert("content_sha256".into(), content.hex().into());
        m.insert(
            "event_id".into(),
            format!("sha256:{}", content.hex()).into(),
        );
        m.insert("signature".into(), sig);
    }
}

/// The protected time of an unsigned event: its `created_at` (spec §12).
fn created_at(ev: &Value) -> Result<Timestamp, SignError> {
    ev.get("created_at")
        .and_then(Value::as_str)
        .and_then(Timestamp::parse)
        .ok_or_else(|| SignError::NotValid("the event has no valid created_at".into()))
}

/// Complete an event: `content_sha256` (spec §3), `event_id` = `sha256:` + it, and the
/// signature over its 32 bytes by a key valid at the event's `created_at`.
pub(crate) fn finish_event(
    ev: &mut Value,
    key: &Authorized,
    signed_at: &Timestamp,
) -> Result<Sha256Digest, SignError> {
    let protected = created_at(ev)?;
    finish_at(ev, key, &protected, signed_at)
}

/// [`finish_event`] for an event whose protected time is already known: a draft's
/// `created_at`, as the event writes it (whole seconds), not parsed back from the event.
fn finish_at(
    ev: &mut Value,
    key: &Authorized,
    protected: &Timestamp,
    signed_at: &Timestamp,
) -> Result<Sha256Digest, SignError> {
    crate::verify::check::event_fields(ev)
        .map_err(|f| SignError::NotValid(format!("not signing: {f}")))?;
    let content = content_sha256(ev);
    let sig = key.signature_object(Domain::Event, &content, protected, signed_at)?;
    seal_event(ev, &content, sig);
    Ok(content)
}

/// Sign an event, taking its draft (the payload is moved, not copied).
pub fn sign_event_owned(
    mut d: EventDraft,
    key: &Authorized,
    signed_at: &Timestamp,
) -> Result<Value, SignError> {
    let payload = std::mem::replace(&mut d.payload, Value::Null);
    let mut ev = event_with(&d, payload, &KeyRef::from(key));
    finish_at(&mut ev, key, &d.created_at.to_seconds(), signed_at)?;
    Ok(ev)
}

/// Sign an event (see [`finish_event`]).
pub fn sign_event(
    d: &EventDraft,
    key: &Authorized,
    signed_at: &Timestamp,
) -> Result<Value, SignError> {
    let mut ev = unsigned_event(d, &KeyRef::from(key));
    finish_at(&mut ev, key, &d.created_at.to_seconds(), signed_at)?;
    Ok(ev)
}

/// The `record_created` draft of an issuance (spec §8, §9), the one place it is built:
/// the record and its receipt (signed or not yet), created at `now` in whole seconds.
pub fn record_created_draft(
    number: &PithNumber,
    record: &Value,
    sha: &Sha256Digest,
    receipt: Value,
    now: &Timestamp,
    signer_id: &str,
) -> EventDraft {
    EventDraft {
        event_type: EventType::RecordCreated,
        subject: number.clone(),
        // written once here, copied into the event digest, the state and the bundle
        payload: record_created_payload(record, sha, receipt).memo(),
        created_at: now.to_seconds(),
        supersedes: Vec::new(),
        prev_event: None,
        signer_id: signer_id.to_owned(),
    }
}

/// The payload of a `record_created` event (spec §9).
pub fn record_created_payload(
    record: &Value,
    canonical_sha256: &Sha256Digest,
    receipt: Value,
) -> Value {
    let source = record.get("source");
    canon::object([
        ("canonical_record", record.clone()),
        ("canonical_sha256", canonical_sha256.hex().into()),
        ("receipt", receipt),
        (
            "source_kind",
            source
                .and_then(|s| s.get("kind"))
                .cloned()
                .unwrap_or(Value::Null),
        ),
        (
            "source_id",
            source
                .and_then(|s| s.get("id"))
                .cloned()
                .unwrap_or(Value::Null),
        ),
        (
            "source_version",
            source
                .and_then(|s| s.get("version"))
                .cloned()
                .unwrap_or(Value::Null),
        ),
        ("attestation_state", "computed".into()),
    ])
}

/// The digest and Pith number of a canonical record (spec §3).
pub fn number_of(record: &Value) -> Option<(Sha256Digest, PithNumber)> {
    let d = canon_sha256(record);
    let submitted = record.get("metadata")?.get("submitted_at")?.as_str()?;
    let t = Timestamp::parse(submitted)?;
    Some((d, PithNumber::derive(rules::pith_year(&t), &d)))
}

/// Re-sign an event: a new signature over its (unchanged) content digest, so its
/// `event_id` stays the same (spec §3). The key must be valid now, when it signs; the
/// event keeps its first signer, of whose key this one must be a successor to verify.
pub fn resign_event(
    event: &Value,
    key: &Authorized,
    signed_at: &Timestamp,
) -> Result<Value, SignError> {
    let mut ev = event.clone();
    if ev.as_object_mut().is_none() {
        return Err(SignError::NotValid("an event must be a JSON object".into()));
    }
    crate::verify::check::event_fields(&ev)
        .map_err(|f| SignError::NotValid(format!("not re-signing: {f}")))?;
    let content = content_sha256(&ev);
    let sig = key.resignature_object(Domain::Event, &content, signed_at)?;
    seal_event(&mut ev, &content, sig);
    Ok(ev)
}
