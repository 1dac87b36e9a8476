//! Constants of the wire format and every rule the spec marks **decided**, in one place.
//!
//! Changing a decided rule means changing it here and nowhere else.

/// `schema_version` of canonical records and events (spec §6, §9).
pub(crate) const SCHEMA_VERSION: &str = "1.0";
/// `receipt_version` (spec §8).
pub(crate) const RECEIPT_VERSION: &str = "0.3";
/// `bundle_version` (spec §11).
pub(crate) const BUNDLE_VERSION: &str = "1.0";
/// `state_version` (spec §10).
pub(crate) const STATE_VERSION: &str = "1.0";
/// `merge_version` (spec §10).
pub(crate) const MERGE_VERSION: &str = "pith-open-graph-merge-v1";
/// `builder_version` written by this implementation (the seeds' value, spec §8).
pub(crate) const BUILDER_VERSION: &str = "pith-number-builder-2026-05-17-v1";
/// `signature_status` of every signature (spec §4).
pub(crate) const SIGNATURE_STATUS: &str = "signed_v1";
/// The only algorithm (spec §4).
pub(crate) const ALGORITHM: &str = "ed25519";
/// `signed_message` label of receipts (spec §4).
pub(crate) const LABEL_RECEIPT: &str = "canonical_sha256_bytes";
/// `signed_message` label of event signatures (spec §4).
pub(crate) const LABEL_EVENT: &str = "open_graph_event_sha256_bytes";
/// `signed_message` label of bundle signatures (spec §4).
pub(crate) const LABEL_BUNDLE: &str = "bundle_sha256_bytes";
/// **decided**: `signed_message` of key-transition and revocation statements.
pub(crate) const LABEL_STATEMENT: &str = "key_statement_sha256_bytes";
/// **decided**: `signed_message` of ceremony transcript entries.
pub(crate) const LABEL_TRANSCRIPT: &str = "ceremony_entry_sha256_bytes";
/// **decided**: `signed_message` of the offline signer's audit log entries.
pub(crate) const LABEL_AUDIT: &str = "signer_audit_entry_sha256_bytes";
/// **decided**: pith's own formats sign `DOMAIN_PREFIX` ‖ label ‖ 0x00 ‖ the 32 digest
/// bytes, never the bare digest the registry's kinds sign, so no signature carries
/// between a registry kind and one of pith's, or between two of pith's.
pub(crate) const DOMAIN_PREFIX: &str = "pith-domain-v1:";
/// **decided**: the largest keyring file (key document, statement) read; the largest pith
/// writes is a few KiB.
pub(crate) const MAX_KEYRING_FILE: usize = 64 << 10;
/// **decided**: `entry_type` of a transparency-log leaf logging one signed event version:
/// the canonical object `{"entry_type", "event_id", "event_type", "signature_b64",
/// "signer", "subject"}` (`signer` the signature's key fingerprint), at most a few hundred
/// bytes, far under the tiles' 64 KiB entry limit.
pub(crate) const LOG_ENTRY_EVENT: &str = "pith_log_event_v1";
/// **decided**: `proof_type` of the inclusion-proof document `pith log prove` writes.
pub(crate) const LOG_PROOF_TYPE: &str = "pith_log_inclusion_v1";
/// **decided**: `proof_type` of the consistency-proof document `pith log prove --from`.
pub(crate) const LOG_CONSISTENCY_TYPE: &str = "pith_log_consistency_v1";
/// **decided**: `entry_type` of a log leaf recording a key statement (transition,
/// revocation) the registry's keyring trusts.
pub(crate) const LOG_ENTRY_STATEMENT: &str = "pith_log_key_statement_v1";
/// **decided**: `state_type` of the state file `pith log audit --state` keeps.
pub(crate) const MONITOR_STATE_TYPE: &str = "pith_log_monitor_state_v1";
/// **decided**: `policy_type` of the witness policy `verify --witness-policy` reads.
pub(crate) const WITNESS_POLICY_TYPE: &str = "pith_witness_policy_v1";
/// **decided**: the log's origin line when the operator names none.
pub const LOG_ORIGIN: &str = "pith.science/log";
/// **decided**: the longest log origin or note key name.
pub(crate) const MAX_ORIGIN: usize = 255;
/// **decided**: the largest signed note (checkpoint with cosignatures) read.
pub(crate) const MAX_NOTE: usize = 64 << 10;
/// **decided**: the most signature lines a note may carry.
pub(crate) const MAX_NOTE_SIGNATURES: usize = 64;
/// The tile height of the served log (C2SP tlog-tiles: 2^8 hashes or entries per tile).
pub(crate) const TILE_HEIGHT: u32 = 8;
/// `signer_id` of the registry (spec §7).
pub const SIGNER_ID: &str = "pith.science";
/// `signer_type` of the registry (spec §7).
pub(crate) const SIGNER_TYPE: &str = "pith_registry";
/// `bundle_type` (spec §11).
pub(crate) const BUNDLE_TYPE: &str = "pith_open_graph_bundle";
/// `state_type` (spec §10).
pub(crate) const STATE_TYPE: &str = "pith_open_graph_state";
/// `kind` of a receipt (spec §8).
pub(crate) const RECEIPT_KIND: &str = "pith_receipt";
/// Prefix of the DataCite DOI alias (spec §10).
pub(crate) const DOI_PREFIX: &str = "10.48550/arxiv.";
/// `name` of the registry's mirror hint (spec §11).
pub(crate) const MIRROR_NAME: &str = "Pith Resolver";
/// Keys left out of an event's content hash (spec §3).
pub const EVENT_UNHASHED: [&str; 3] = ["signature", "content_sha256", "event_id"];

/// Event kinds: `(event_type, target, list in state.current)` (spec §9, §10).
///
/// **decided** (spec §9): kinds never seen use the singular of their state list as both
/// `event_type` and `target`.
pub(crate) const EVENT_KINDS: [(&str, &str, Option<&str>); 9] = [
    ("record_created", "record", None),
    ("graph_snapshot", "graph", Some("graph_snapshots")),
    (
        "author_attestation",
        "author_attestation",
        Some("author_attestations"),
    ),
    (
        "timestamp_anchor",
        "timestamp_anchor",
        Some("timestamp_anchors"),
    ),
    (
        "storage_attestation",
        "storage_attestation",
        Some("storage_attestations"),
    ),
    (
        "citation_signature",
        "citation_signature",
        Some("citation_signatures"),
    ),
    (
        "replication_record",
        "replication_record",
        Some("replication_records"),
    ),
    ("correction", "correction", Some("corrections")),
    ("mirror_hint", "mirror_hint", Some("mirror_hints")),
];

/// The kinds of event (spec §9), one variant per row of [`EVENT_KINDS`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventType {
    /// `record_created`: the receipt of a Pith number.
    RecordCreated,
    /// `graph_snapshot`.
    GraphSnapshot,
    /// `author_attestation`.
    AuthorAttestation,
    /// `timestamp_anchor`.
    TimestampAnchor,
    /// `storage_attestation`.
    StorageAttestation,
    /// `citation_signature`.
    CitationSignature,
    /// `replication_record`.
    ReplicationRecord,
    /// `correction`.
    Correction,
    /// `mirror_hint`.
    MirrorHint,
}

impl EventType {
    /// Every kind, in [`EVENT_KINDS`] order.
    pub const ALL: [EventType; 9] = [
        EventType::RecordCreated,
        EventType::GraphSnapshot,
        EventType::AuthorAttestation,
        EventType::TimestampAnchor,
        EventType::StorageAttestation,
        EventType::CitationSignature,
        EventType::ReplicationRecord,
        EventType::Correction,
        EventType::MirrorHint,
    ];
    fn row(self) -> &'static (&'static str, &'static str, Option<&'static str>) {
        &EVENT_KINDS[self as usize]
    }
    /// The wire `event_type`.
    pub fn as_str(self) -> &'static str {
        self.row().0
    }
    /// Its `target`.
    pub fn target(self) -> &'static str {
        self.row().1
    }
    /// Its list in `state.current` (None: `record_created`, held as one object).
    pub fn state_list(self) -> Option<&'static str> {
        self.row().2
    }
    /// From the wire `event_type`.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl std::fmt::Display for EventType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Look up an event kind: `(target, state list)`.
pub(crate) fn event_kind(event_type: &str) -> Option<(&'static str, Option<&'static str>)> {
    EventType::parse(event_type).map(|k| (k.target(), k.state_list()))
}

/// **decided** (spec §3): YEAR of a Pith number is the UTC year of `metadata.submitted_at`.
pub(crate) fn pith_year(submitted_at: &crate::format::time::Timestamp) -> i32 {
    submitted_at.year()
}

/// **decided** (spec §10): events apply in order of (`created_at` as an instant,
/// then `event_id`).
pub(crate) fn event_order_key(
    created_at: &crate::format::time::Timestamp,
    event_id: &str,
) -> (i64, String) {
    (created_at.micros(), event_id.to_owned())
}

/// **decided** (spec §12): how far an unprotected `signed_at` may lie after its protected
/// time before a warning: the protected field's precision (1 s for whole seconds).
pub(crate) fn signed_at_agrees(
    protected: &crate::format::time::Timestamp,
    signed_at: &crate::format::time::Timestamp,
) -> bool {
    let d = signed_at.micros() - protected.micros();
    let precision = if protected.whole_seconds() {
        1_000_000
    } else {
        1
    };
    (0..precision).contains(&d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_types_follow_the_table() {
        for (i, k) in EventType::ALL.into_iter().enumerate() {
            assert_eq!(k as usize, i);
            assert_eq!(EventType::parse(k.as_str()), Some(k));
        }
    }
}
