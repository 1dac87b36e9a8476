//! Typed views over verified artifacts: the canonical value (its exact bytes are its
//! canonical form) with the facts verification established, so no consumer re-derives
//! them from untyped JSON.

use crate::format::canon::Value;
use crate::format::digest::PithNumber;
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
