//! The closed schemas of every signed kind: each lists its fields once.
//!
//! An object with a field its kind does not define is refused before pith signs it and
//! when pith verifies it (`verify::check::Checker::closed`). The registry's kinds sign a
//! bare SHA-256 digest with one key (spec §4), so a signature carries between kinds
//! exactly when one canonical object is accepted as two kinds; with every kind closed and
//! each requiring a field no other kind allows (`metadata`/`source` for a record,
//! `event_type` for an event, `bundle_type` for a bundle), no object is ever two kinds.

mod artifact;

pub use artifact::{Bundle, Event, Receipt, Record, RecordFacts, State};

/// One kind's fields.
#[derive(Clone, Copy, Debug)]
pub struct Schema {
    /// The kind, for messages.
    pub kind: &'static str,
    /// Every field the kind defines, sorted.
    pub fields: &'static [&'static str],
}

impl Schema {
    /// Does the kind define `field`?
    pub(crate) fn allows(&self, field: &str) -> bool {
        self.fields.binary_search(&field).is_ok()
    }
}

macro_rules! schema {
    ($name:ident, $kind:literal, [$($f:literal),* $(,)?]) => {
        #[doc = concat!("The fields of ", $kind, ".")]
        pub const $name: Schema = Schema { kind: $kind, fields: &[$($f),*] };
    };
}

// spec §6
schema!(
    RECORD,
    "a canonical record",
    ["metadata", "schema_version", "source"]
);
schema!(
    RECORD_SOURCE,
    "a record's source",
    ["id", "kind", "version"]
);
schema!(
    RECORD_METADATA,
    "a record's metadata",
    [
        "abstract_canon_sha256",
        "cross_cats_sorted",
        "license",
        "primary_cat",
        "submitted_at",
        "title_canon_sha256"
    ]
);
// spec §8
schema!(
    RECEIPT,
    "a receipt",
    [
        "algorithm",
        "builder_version",
        "canonical_sha256",
        "first_computed_at",
        "key_id",
        "kind",
        "last_reissued_at",
        "public_key_fingerprint",
        "receipt_version",
        "signature_b64",
        "signature_status",
        "signed_at",
        "signed_message"
    ]
);
// spec §9
schema!(
    EVENT,
    "an event",
    [
        "content_sha256",
        "created_at",
        "event_id",
        "event_type",
        "payload",
        "prev_event",
        "schema_version",
        "signature",
        "signer",
        "subject_pith_number",
        "supersedes",
        "target"
    ]
);
schema!(
    SIGNER,
    "an event's signer",
    [
        "key_id",
        "public_key_fingerprint",
        "signer_id",
        "signer_type"
    ]
);
// spec §4
schema!(
    SIGNATURE,
    "a signature object",
    [
        "algorithm",
        "key_id",
        "public_key_fingerprint",
        "signature_b64",
        "signature_status",
        "signed_at",
        "signed_message"
    ]
);
schema!(
    BUNDLE_SIGNATURE,
    "a bundle signature",
    [
        "algorithm",
        "bundle_sha256",
        "key_id",
        "public_key_fingerprint",
        "signature_b64",
        "signature_status",
        "signed_at",
        "signed_message"
    ]
);
schema!(
    RECORD_CREATED_PAYLOAD,
    "a record_created payload",
    [
        "attestation_state",
        "canonical_record",
        "canonical_sha256",
        "receipt",
        "source_id",
        "source_kind",
        "source_version"
    ]
);
schema!(
    GRAPH_PAYLOAD,
    "a graph_snapshot payload",
    ["graph_snapshot", "verdict_id"]
);
schema!(
    GRAPH_SNAPSHOT,
    "a graph snapshot",
    [
        "author_claims",
        "builder_version",
        "claims",
        "formal_canon",
        "integrity",
        "paper",
        "references",
        "source",
        "verdict"
    ]
);
schema!(
    GRAPH_PAPER,
    "a graph snapshot's paper",
    [
        "abstract_excerpt",
        "authors_text",
        "cross_cats",
        "headline",
        "license",
        "primary_cat",
        "submitted_at",
        "title"
    ]
);
schema!(
    GRAPH_VERDICT,
    "a graph snapshot's verdict",
    [
        "created_at",
        "id",
        "model_set",
        "one_line_summary",
        "pipeline_version",
        "pith_extraction_headline",
        "strongest_claim",
        "weakest_assumption"
    ]
);
schema!(
    GRAPH_CLAIMS,
    "a graph snapshot's claims",
    ["count", "items", "snapshot_sha256"]
);
schema!(
    GRAPH_CLAIM,
    "a claim",
    [
        "attestation",
        "claim_id",
        "kind",
        "source",
        "status",
        "text"
    ]
);
// spec §10
schema!(
    STATE,
    "a state",
    [
        "applied_event_ids",
        "current",
        "equivocation_count",
        "equivocations",
        "event_count",
        "invalid_event_count",
        "invalid_events",
        "merge_version",
        "pith_number",
        "state_sha256",
        "state_type",
        "state_version",
        "valid_event_count"
    ]
);
// spec §11
schema!(
    BUNDLE,
    "a bundle",
    [
        "built_at",
        "bundle_signature",
        "bundle_type",
        "bundle_version",
        "canonical_record",
        "canonical_sha256",
        "events",
        "links",
        "merge_version",
        "mirror_hints",
        "pith_number",
        "public_keys",
        "short_pith_number",
        "source",
        "source_aliases",
        "state",
        "timestamp_proofs"
    ]
);
schema!(
    LINKS,
    "a bundle's links",
    ["bundle", "resolver", "state", "well_known_bundle"]
);
// spec §7, plus pith's `valid_from` (decided)
schema!(
    KEY_DOCUMENT,
    "a key document",
    [
        "algorithm",
        "fingerprint_sha256_b32_first128bits",
        "fingerprint_sha256_hex",
        "format",
        "key_id",
        "notes",
        "public_key_b64",
        "public_key_hex",
        "rotates_at",
        "url",
        "valid_from"
    ]
);
// pith's own formats (decided)
schema!(
    TRANSITION,
    "a key-transition statement",
    [
        "created_at",
        "from_key",
        "rotates_at",
        "signatures",
        "statement_sha256",
        "statement_type",
        "statement_version",
        "to_key"
    ]
);
schema!(
    REVOCATION,
    "a key revocation",
    [
        "created_at",
        "key",
        "reason",
        "revoked_at",
        "signatures",
        "statement_sha256",
        "statement_type",
        "statement_version"
    ]
);
schema!(
    KEY_REF,
    "a key reference",
    ["key_id", "public_key_b64", "public_key_fingerprint"]
);
schema!(
    TRANSCRIPT_ENTRY,
    "a transcript entry",
    [
        "at",
        "details",
        "entry_sha256",
        "key_id",
        "op",
        "prev_sha256",
        "seq",
        "signature",
        "transcript_version"
    ]
);
schema!(
    REQUEST,
    "a signing request",
    [
        "created_at",
        "items",
        "key",
        "request_id",
        "request_type",
        "request_version"
    ]
);
schema!(
    REQUEST_ITEM,
    "a signing request item",
    ["artifact", "digest", "kind", "subject", "title"]
);
schema!(
    RESPONSE,
    "a signing response",
    [
        "key",
        "request_id",
        "response_type",
        "response_version",
        "signatures"
    ]
);

/// Every schema, for the tests that prove the kinds disjoint.
pub const ALL: &[Schema] = &[
    RECORD,
    RECORD_SOURCE,
    RECORD_METADATA,
    RECEIPT,
    EVENT,
    SIGNER,
    SIGNATURE,
    BUNDLE_SIGNATURE,
    RECORD_CREATED_PAYLOAD,
    GRAPH_PAYLOAD,
    GRAPH_SNAPSHOT,
    GRAPH_PAPER,
    GRAPH_VERDICT,
    GRAPH_CLAIMS,
    GRAPH_CLAIM,
    STATE,
    BUNDLE,
    LINKS,
    KEY_DOCUMENT,
    TRANSITION,
    REVOCATION,
    KEY_REF,
    TRANSCRIPT_ENTRY,
    REQUEST,
    REQUEST_ITEM,
    RESPONSE,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_sorted_and_unique() {
        for s in ALL {
            assert!(s.fields.windows(2).all(|w| w[0] < w[1]), "{}", s.kind);
        }
    }

    #[test]
    fn each_signed_kind_requires_a_field_no_other_signed_kind_allows() {
        // record: source + metadata; event: event_type; bundle: bundle_type; statements:
        // statement_type; transcript: transcript_version
        let kinds = [
            (RECORD, "metadata"),
            (EVENT, "event_type"),
            (BUNDLE, "bundle_type"),
            (TRANSITION, "from_key"),
            (REVOCATION, "revoked_at"),
            (TRANSCRIPT_ENTRY, "transcript_version"),
        ];
        for (a, own) in kinds {
            assert!(a.allows(own));
            for (b, _) in kinds {
                if a.kind != b.kind {
                    assert!(!b.allows(own), "{} allows {own} of {}", b.kind, a.kind);
                }
            }
        }
    }
}
