//! Typed views over verified artifacts: the canonical value (its exact bytes are its
//! canonical form) with the facts verification established, so no consumer re-derives
//! them from untyped JSON.

use crate::format::canon::Value;
use crate::format::digest::{PithNumber, Sha256Digest};
use crate::format::rules::EventType;
use crate::format::time::Timestamp;

/// A signed bundle (spec §11).
#[derive(Clone, Debug)]
pub struct Bundle {
    value: Value,
    number: PithNumber,
    built_at: Timestamp,
    signer: String,
    event_ids: Vec<String>,
}

impl Bundle {
    pub(crate) fn new(
        value: Value,
        number: PithNumber,
        built_at: Timestamp,
        signer: String,
        event_ids: Vec<String>,
    ) -> Self {
        Bundle {
            value,
            number,
            built_at,
            signer,
            event_ids,
        }
    }
    /// The whole bundle.
    pub fn value(&self) -> &Value {
        &self.value
    }
    /// Its Pith number, derived from its record.
    pub fn number(&self) -> &PithNumber {
        &self.number
    }
    /// `built_at`, its protected time.
    pub fn built_at(&self) -> &Timestamp {
        &self.built_at
    }
    /// Fingerprint of the key that signed it.
    pub fn signer(&self) -> &str {
        &self.signer
    }
    /// The ids of its events, in file order.
    pub fn event_ids(&self) -> &[String] {
        &self.event_ids
    }
    /// Its state.
    pub fn state(&self) -> Option<&Value> {
        self.value.get("state")
    }
}

/// A signed event (spec §9).
#[derive(Clone, Debug)]
pub struct Event {
    value: Value,
    event_type: EventType,
    event_id: String,
    subject: PithNumber,
}

impl Event {
    pub(crate) fn new(
        value: Value,
        event_type: EventType,
        event_id: String,
        subject: PithNumber,
    ) -> Self {
        Event {
            value,
            event_type,
            event_id,
            subject,
        }
    }
    /// The whole event.
    pub fn value(&self) -> &Value {
        &self.value
    }
    /// Its kind.
    pub fn event_type(&self) -> EventType {
        self.event_type
    }
    /// `event_id`, as recomputed.
    pub fn event_id(&self) -> &str {
        &self.event_id
    }
    /// The paper it is about.
    pub fn subject(&self) -> &PithNumber {
        &self.subject
    }
}

/// What a well-formed canonical record derives (spec §6): its digest and Pith number.
#[derive(Clone, Debug)]
pub struct RecordFacts {
    /// `canonical_sha256`.
    pub sha256: Sha256Digest,
    /// The Pith number derived from it.
    pub number: PithNumber,
    /// `source.id`.
    pub source_id: String,
    /// `source.version`.
    pub version: i128,
    /// `source.kind`.
    pub kind: String,
    /// `metadata.title_canon_sha256`.
    pub title_sha256: String,
}

/// A well-formed canonical record (spec §6): the value, whose canonical bytes are hashed,
/// and what it derives. Records are not signed; [`crate::verify::record`] makes one.
#[derive(Clone, Debug)]
pub struct Record {
    value: Value,
    facts: RecordFacts,
}

impl Record {
    pub(crate) fn new(value: Value, facts: RecordFacts) -> Self {
        Record { value, facts }
    }
    /// The whole record.
    pub fn value(&self) -> &Value {
        &self.value
    }
    /// The record, moved out.
    pub fn into_value(self) -> Value {
        self.value
    }
    /// What it derives.
    pub fn facts(&self) -> &RecordFacts {
        &self.facts
    }
    /// `canonical_sha256`: what its receipt signs.
    pub fn sha256(&self) -> &Sha256Digest {
        &self.facts.sha256
    }
    /// Its Pith number.
    pub fn number(&self) -> &PithNumber {
        &self.facts.number
    }
    /// `source.id` (the arXiv id without version).
    pub fn source_id(&self) -> &str {
        &self.facts.source_id
    }
    /// `source.version`.
    pub fn version(&self) -> i128 {
        self.facts.version
    }
}

/// A signed standalone receipt (spec §8) over a record's digest.
#[derive(Clone, Debug)]
pub struct Receipt {
    value: Value,
    canonical_sha256: Sha256Digest,
    first_computed_at: Timestamp,
    last_reissued_at: Timestamp,
    signer: String,
}

impl Receipt {
    pub(crate) fn new(
        value: Value,
        canonical_sha256: Sha256Digest,
        first_computed_at: Timestamp,
        last_reissued_at: Timestamp,
        signer: String,
    ) -> Self {
        Receipt {
            value,
            canonical_sha256,
            first_computed_at,
            last_reissued_at,
            signer,
        }
    }
    /// The whole receipt.
    pub fn value(&self) -> &Value {
        &self.value
    }
    /// The record digest it signs.
    pub fn canonical_sha256(&self) -> &Sha256Digest {
        &self.canonical_sha256
    }
    /// When the registry first computed the number.
    pub fn first_computed_at(&self) -> &Timestamp {
        &self.first_computed_at
    }
    /// When it was last issued again.
    pub fn last_reissued_at(&self) -> &Timestamp {
        &self.last_reissued_at
    }
    /// Fingerprint of the key that signed it.
    pub fn signer(&self) -> &str {
        &self.signer
    }
}

/// A paper's state (spec §10): the merge of its events, `state_sha256` included.
#[derive(Clone, Debug, PartialEq)]
pub struct State {
    value: Value,
    sha256: Sha256Digest,
}

impl State {
    pub(crate) fn new(value: Value, sha256: Sha256Digest) -> Self {
        State { value, sha256 }
    }
    /// The whole state.
    pub fn value(&self) -> &Value {
        &self.value
    }
    /// The state, moved out.
    pub fn into_value(self) -> Value {
        self.value
    }
    /// `state_sha256`.
    pub fn sha256(&self) -> &Sha256Digest {
        &self.sha256
    }
    /// `applied_event_ids`, in application order.
    pub fn applied_event_ids(&self) -> impl Iterator<Item = &str> {
        self.value
            .get("applied_event_ids")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
    }
}
