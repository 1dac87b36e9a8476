//! Key ceremonies: key-transition statements, revocations and the transcript.
//!
//! All three are pith's own formats (**decided**, see `rules.rs`), built like the
//! registry's objects: a digest over the canonical form without the digest and signature
//! members, signed as 32 raw bytes (spec §4).
//!
//! - A **key-transition statement** names the old and the new key and `rotates_at`, and is
//!   signed by both keys. From `rotates_at` on, only the new key signs.
//! - A **revocation** names a key, `revoked_at` and a reason, signed by another key of the
//!   keyring (or by the key itself, which verifiers accept with a warning).
//! - The **ceremony transcript** (`ceremony.jsonl`) logs every key operation, one JSON
//!   object per line; each entry carries the SHA-256 of the previous line's canonical bytes
//!   and is signed by the acting key, so a changed, dropped or reordered line is detected.

use crate::format::canon::{self, Value};
use crate::format::digest::{Sha256Digest, canon_sha256_without, sha256};
use crate::format::time::Timestamp;
use crate::trust::keys::PublicKey;
use crate::trust::signer::{self, Domain, SignError, Signer};

/// `statement_type` of a key-transition statement.
pub(crate) const TRANSITION_TYPE: &str = "pith_key_transition";
/// `statement_type` of a key revocation.
pub(crate) const REVOCATION_TYPE: &str = "pith_key_revocation";
/// `statement_version` of both statements.
pub(crate) const STATEMENT_VERSION: &str = "1";
/// `transcript_version` of transcript entries.
pub(crate) const TRANSCRIPT_VERSION: &str = "1";
/// The transcript's file name inside a keyring directory.
pub const TRANSCRIPT_FILE: &str = "ceremony.jsonl";
/// Members left out of a statement's digest.
pub(crate) const STATEMENT_UNHASHED: &[&str] = &["statement_sha256", "signatures"];
/// Members left out of a transcript entry's digest.
pub(crate) const ENTRY_UNHASHED: &[&str] = &["entry_sha256", "signature"];

/// Why a key was revoked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// The secret key is (or may be) known to someone else.
    Compromised,
    /// The key was replaced and should no longer be used.
    Superseded,
}

impl Reason {
    /// The wire string.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Compromised => "compromised",
            Reason::Superseded => "superseded",
        }
    }
    /// From the wire string.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "compromised" => Some(Reason::Compromised),
            "superseded" => Some(Reason::Superseded),
            _ => None,
        }
    }
}

/// How a statement names a key: id, fingerprint and the key itself.
pub fn key_ref(key_id: &str, key: &PublicKey) -> Value {
    canon::object([
        ("key_id", key_id.into()),
        ("public_key_b64", key.b64().into()),
        ("public_key_fingerprint", key.fingerprint().into()),
    ])
}

fn seal(
    mut body: canon::Map,
    signers: &[&dyn Signer],
    now: &Timestamp,
) -> Result<Value, SignError> {
    let digest = canon_sha256_without(&Value::Object(body.clone()), STATEMENT_UNHASHED);
    body.insert("statement_sha256".into(), digest.hex().into());
    let sigs = signers
        .iter()
        .map(|k| signer::signature_object(*k, Domain::KeyStatement, &digest, now))
        .collect::<Result<Vec<_>, _>>()?;
    body.insert("signatures".into(), Value::Array(sigs));
    Ok(Value::Object(body))
}

/// A key-transition statement from `old` to `new` at `rotates_at`, signed by both.
pub fn transition(
    old: &dyn Signer,
    new: &dyn Signer,
    rotates_at: &Timestamp,
    now: &Timestamp,
) -> Result<Value, SignError> {
    let Value::Object(body) = canon::object([
        ("statement_type", TRANSITION_TYPE.into()),
        ("statement_version", STATEMENT_VERSION.into()),
        ("from_key", key_ref(old.key_id(), old.public())),
        ("to_key", key_ref(new.key_id(), new.public())),
        ("rotates_at", rotates_at.to_string().into()),
        ("created_at", now.fmt_seconds().into()),
    ]) else {
        unreachable!("object() builds an object")
    };
    seal(body, &[old, new], now)
}

/// A revocation of `key` at `revoked_at`, signed by `signer`.
pub fn revocation(
    key_id: &str,
    key: &PublicKey,
    revoked_at: &Timestamp,
    reason: Reason,
    signer: &dyn Signer,
    now: &Timestamp,
) -> Result<Value, SignError> {
    let Value::Object(body) = canon::object([
        ("statement_type", REVOCATION_TYPE.into()),
        ("statement_version", STATEMENT_VERSION.into()),
        ("key", key_ref(key_id, key)),
        ("revoked_at", revoked_at.to_string().into()),
        ("reason", reason.as_str().into()),
        ("created_at", now.fmt_seconds().into()),
    ]) else {
        unreachable!("object() builds an object")
    };
    seal(body, &[signer], now)
}

/// What a verified statement says.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Statement {
    /// `from` stops signing at `rotates_at`; `to` signs from then on.
    Transition {
        /// Fingerprint of the old key.
        from: String,
        /// Fingerprint of the new key.
        to: String,
        /// The rotation time.
        rotates_at: Timestamp,
    },
    /// `key` signs nothing at or after `revoked_at`.
    Revocation {
        /// Fingerprint of the revoked key.
        key: String,
        /// The revocation time.
        revoked_at: Timestamp,
        /// Why.
        reason: String,
    },
}

/// One transcript entry before sealing: the operation, its time and details.
pub(crate) fn transcript_entry(
    prev: Option<&Value>,
    op: &str,
    details: Value,
    actor: &dyn Signer,
    domain: Domain,
    now: &Timestamp,
) -> Result<Value, SignError> {
    let seq = prev
        .and_then(|p| p.get("seq"))
        .and_then(Value::as_int)
        .map_or(0, |s| s + 1) as i64;
    let prev_sha = prev.map_or(Value::Null, |p| {
        sha256(&canon::to_canonical(p)).hex().into()
    });
    let Value::Object(mut body) = canon::object([
        ("transcript_version", TRANSCRIPT_VERSION.into()),
        ("seq", seq.into()),
        ("op", op.into()),
        ("at", now.fmt_seconds().into()),
        ("key_id", actor.key_id().into()),
        ("details", details),
        ("prev_sha256", prev_sha),
    ]) else {
        unreachable!("object() builds an object")
    };
    let digest: Sha256Digest = canon_sha256_without(&Value::Object(body.clone()), ENTRY_UNHASHED);
    body.insert("entry_sha256".into(), digest.hex().into());
    body.insert(
        "signature".into(),
        signer::signature_object(actor, domain, &digest, now)?,
    );
    Ok(Value::Object(body))
}
