//! Building signed objects: receipts (spec §8) and events (spec §9).
//!
//! One signing path: every signature pith makes goes through [`SigningKey::signature_object`]
//! over a digest computed by [`crate::digest`]; the verifier checks exactly these forms.

use crate::canon::{self, Value};
use crate::digest::{PithNumber, Sha256Digest, canon_sha256, canon_sha256_without};
use crate::rules;
use crate::secret::SigningKey;
use crate::time::Timestamp;

/// A signed receipt over a record's `canonical_sha256` (spec §8).
pub fn receipt(
    key: &SigningKey,
    canonical_sha256: &Sha256Digest,
    first_computed_at: &Timestamp,
    last_reissued_at: &Timestamp,
    signed_at: &Timestamp,
) -> Value {
    let sig = key.signature_object(canonical_sha256, rules::LABEL_RECEIPT, signed_at);
    let Value::Object(mut m) = sig else {
        unreachable!("signature objects are objects")
    };
    m.insert("kind".into(), rules::RECEIPT_KIND.into());
    m.insert("builder_version".into(), rules::BUILDER_VERSION.into());
    m.insert("receipt_version".into(), rules::RECEIPT_VERSION.into());
    m.insert("canonical_sha256".into(), canonical_sha256.hex().into());
    m.insert(
        "first_computed_at".into(),
        first_computed_at.fmt_micros().into(),
    );
    m.insert(
        "last_reissued_at".into(),
        last_reissued_at.fmt_micros().into(),
    );
    Value::Object(m)
}

/// The `signer` block of an event (spec §7).
pub fn signer_block(key: &SigningKey, signer_id: &str) -> Value {
    canon::object([
        ("signer_id", signer_id.into()),
        ("signer_type", rules::SIGNER_TYPE.into()),
        ("key_id", key.key_id().into()),
        ("public_key_fingerprint", key.public().fingerprint().into()),
    ])
}

/// What an event is about, before it is signed.
#[derive(Clone, Debug)]
pub struct EventDraft {
    /// `event_type` (spec §9).
    pub event_type: String,
    /// `subject_pith_number`.
    pub subject: PithNumber,
    /// `target`.
    pub target: String,
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

/// Sign an event: `content_sha256` over the event without `signature`, `content_sha256`
/// and `event_id` (spec §3), `event_id` = `sha256:` + it, signature over its 32 bytes.
pub fn sign_event(d: &EventDraft, key: &SigningKey, signed_at: &Timestamp) -> Value {
    let mut ev = canon::object([
        ("event_type", d.event_type.as_str().into()),
        ("subject_pith_number", d.subject.to_string().into()),
        ("target", d.target.as_str().into()),
        ("payload", d.payload.clone()),
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
    ]);
    let content = canon_sha256_without(&ev, &rules::EVENT_UNHASHED);
    if let Some(m) = ev.as_object_mut() {
        m.insert("content_sha256".into(), content.hex().into());
        m.insert(
            "event_id".into(),
            format!("sha256:{}", content.hex()).into(),
        );
        m.insert(
            "signature".into(),
            key.signature_object(&content, rules::LABEL_EVENT, signed_at),
        );
    }
    ev
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
/// `event_id` stays the same (spec §3). None when `event` is not an object.
pub fn resign_event(event: &Value, key: &SigningKey, signed_at: &Timestamp) -> Option<Value> {
    let content = canon_sha256_without(event, &rules::EVENT_UNHASHED);
    let mut ev = event.clone();
    let m = ev.as_object_mut()?;
    m.insert("content_sha256".into(), content.hex().into());
    m.insert(
        "event_id".into(),
        format!("sha256:{}", content.hex()).into(),
    );
    m.insert(
        "signature".into(),
        key.signature_object(&content, rules::LABEL_EVENT, signed_at),
    );
    Some(ev)
}
