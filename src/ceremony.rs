//! Key ceremonies: key-transition statements, revocations and the transcript (issue 3).
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

use crate::canon::{self, Value};
use crate::check::{Checker, q, show};
use crate::digest::{Sha256Digest, canon_sha256_without, sha256};
use crate::keys::{KeyWindow, Keyring, PublicKey};
use crate::rules;
use crate::secret::SigningKey;
use crate::time::Timestamp;

/// `statement_type` of a key-transition statement.
pub const TRANSITION_TYPE: &str = "pith_key_transition";
/// `statement_type` of a key revocation.
pub const REVOCATION_TYPE: &str = "pith_key_revocation";
/// `statement_version` of both statements.
pub const STATEMENT_VERSION: &str = "1";
/// `transcript_version` of transcript entries.
pub const TRANSCRIPT_VERSION: &str = "1";
/// The transcript's file name inside a keyring directory.
pub const TRANSCRIPT_FILE: &str = "ceremony.jsonl";
/// Members left out of a statement's digest.
const STATEMENT_UNHASHED: &[&str] = &["statement_sha256", "signatures"];
/// Members left out of a transcript entry's digest.
const ENTRY_UNHASHED: &[&str] = &["entry_sha256", "signature"];

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

fn seal(mut body: canon::Map, signers: &[&SigningKey], now: &Timestamp) -> Value {
    let digest = canon_sha256_without(&Value::Object(body.clone()), STATEMENT_UNHASHED);
    body.insert("statement_sha256".into(), digest.hex().into());
    let sigs = signers
        .iter()
        .map(|k| k.signature_object(&digest, rules::LABEL_STATEMENT, now))
        .collect::<Vec<_>>();
    body.insert("signatures".into(), Value::Array(sigs));
    Value::Object(body)
}

/// A key-transition statement from `old` to `new` at `rotates_at`, signed by both.
pub fn transition(
    old: &SigningKey,
    new: &SigningKey,
    rotates_at: &Timestamp,
    now: &Timestamp,
) -> Value {
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
    signer: &SigningKey,
    now: &Timestamp,
) -> Value {
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

/// Check a key reference against the keyring; the fingerprint of the key it names.
fn check_ref(ck: &mut Checker<'_>, m: &canon::Map, path: &str, member: &str) -> Option<String> {
    let p = canon::join_key(path, member);
    let r = ck.obj(m.get(member), &p)?;
    let id = ck.str(r, &p, "key_id")?;
    let fp = ck.str(r, &p, "public_key_fingerprint")?;
    let b64 = ck.str(r, &p, "public_key_b64")?;
    let ring = ck.keyring?;
    let Some(k) = ring.get(fp) else {
        ck.fail(
            "unknown_key",
            canon::join_key(&p, "public_key_fingerprint"),
            "the fingerprint of a key in the keyring",
            q(fp),
        );
        return None;
    };
    let (kid, kb64) = (k.doc.key_id.clone(), k.doc.key.b64());
    if id != kid {
        ck.fail(
            "mismatch",
            canon::join_key(&p, "key_id"),
            format!("{} (the keyring's id for this key)", q(&kid)),
            q(id),
        );
    }
    if b64 != kb64 {
        ck.fail(
            "mismatch",
            canon::join_key(&p, "public_key_b64"),
            q(&kb64),
            q(b64),
        );
    }
    Some(fp.to_owned())
}

/// Check a key statement (transition or revocation) against the checker's keyring.
///
/// Signature windows are not checked here (a statement changes them); the keyring checks
/// that no signer was revoked before the statement was made.
pub fn check_statement(ck: &mut Checker<'_>, v: &Value, _keyring: &Keyring) -> Option<Statement> {
    let m = ck.obj(Some(v), "$")?;
    ck.eq_str(m, "$", "statement_version", STATEMENT_VERSION);
    let digest = canon_sha256_without(v, STATEMENT_UNHASHED);
    if let Some(claimed) = ck.digest(m, "$", "statement_sha256")
        && claimed != digest
    {
        ck.fail(
            "bad_hash",
            "$.statement_sha256",
            format!(
                "{} (sha256 of the statement without statement_sha256 and signatures)",
                digest.hex()
            ),
            q(&claimed.hex()),
        );
    }
    let created = ck.ts(m, "$", "created_at");
    let kind = m.get("statement_type").and_then(Value::as_str);
    let (needed, facts) = match kind {
        Some(TRANSITION_TYPE) => {
            let from = check_ref(ck, m, "$", "from_key");
            let to = check_ref(ck, m, "$", "to_key");
            let at = ck.ts(m, "$", "rotates_at");
            if from.is_some() && from == to {
                ck.fail(
                    "mismatch",
                    "$.to_key",
                    "a key other than from_key",
                    "the same key",
                );
            }
            let facts = match (from.clone(), to.clone(), at) {
                (Some(from), Some(to), Some(rotates_at)) => Some(Statement::Transition {
                    from,
                    to,
                    rotates_at,
                }),
                _ => None,
            };
            (vec![from, to], facts)
        }
        Some(REVOCATION_TYPE) => {
            let key = check_ref(ck, m, "$", "key");
            let at = ck.ts(m, "$", "revoked_at");
            let reason = ck.str(m, "$", "reason").map(str::to_owned);
            if let Some(r) = &reason
                && Reason::parse(r).is_none()
            {
                ck.fail(
                    "malformed",
                    "$.reason",
                    "\"compromised\" or \"superseded\"",
                    q(r),
                );
            }
            let facts = match (key, at, reason) {
                (Some(key), Some(revoked_at), Some(reason)) => Some(Statement::Revocation {
                    key,
                    revoked_at,
                    reason,
                }),
                _ => None,
            };
            (Vec::new(), facts)
        }
        other => {
            ck.fail(
                "malformed",
                "$.statement_type",
                format!("{} or {}", q(TRANSITION_TYPE), q(REVOCATION_TYPE)),
                show(other.map(Value::from).as_ref()),
            );
            return None;
        }
    };
    // signatures: each signer counted once; a transition needs both named keys
    let sigs = match m.get("signatures") {
        Some(Value::Array(a)) if !a.is_empty() => a,
        other => {
            ck.fail(
                "malformed",
                "$.signatures",
                "a non-empty array of signatures",
                show(other),
            );
            return None;
        }
    };
    let mut signers: Vec<String> = Vec::new();
    for (i, s) in sigs.iter().enumerate() {
        let p = canon::join_index("$.signatures", i);
        if let Some(fp) = ck.signature_by(Some(s), &p, &digest, rules::LABEL_STATEMENT, None, false)
        {
            if signers.contains(&fp) {
                ck.fail(
                    "duplicate_signer",
                    &p,
                    "each key signing once",
                    format!("a second signature by {fp}"),
                );
            } else {
                signers.push(fp);
            }
        }
    }
    for fp in needed.into_iter().flatten() {
        if !signers.contains(&fp) {
            ck.fail(
                "missing_signature",
                "$.signatures",
                format!("a valid signature by {fp} (both keys sign a transition)"),
                format!("signers {signers:?}"),
            );
        }
    }
    if let Some(Statement::Revocation { key, .. }) = &facts
        && signers.iter().any(|s| s == key)
        && signers.len() == 1
    {
        ck.warn(
            "self_revocation",
            "$.signatures",
            "a signature by another key of the keyring",
            "signed only by the revoked key itself",
        );
    }
    // no signer may have been revoked before the statement was made
    if let (Some(ring), Some(t)) = (ck.keyring, created) {
        // a self-revocation's own effect does not count against its signer
        let own = match &facts {
            Some(Statement::Revocation { key, .. }) => Some(key.as_str()),
            _ => None,
        };
        for fp in signers.iter().filter(|fp| Some(fp.as_str()) != own) {
            if let Some(k) = ring.get(fp)
                && let KeyWindow::Revoked(r, _) = k.window_at(&t)
            {
                let id = k.doc.key_id.clone();
                ck.fail(
                    "key_revoked",
                    "$.created_at",
                    format!("a time before {r}, when signer {id} was revoked"),
                    t.to_string(),
                );
            }
        }
    }
    if ck.ok() { facts } else { None }
}

/// One transcript entry before sealing: the operation, its time and details.
pub fn transcript_entry(
    prev: Option<&Value>,
    op: &str,
    details: Value,
    actor: &SigningKey,
    now: &Timestamp,
) -> Value {
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
        actor.signature_object(&digest, rules::LABEL_TRANSCRIPT, now),
    );
    Value::Object(body)
}

/// Check a whole transcript: hash chain, sequence, digests, signatures by keyring keys.
pub fn check_transcript(ck: &mut Checker<'_>, entries: &[Value], name: &dyn Fn(usize) -> String) {
    let mut prev: Option<&Value> = None;
    for (i, e) in entries.iter().enumerate() {
        let path = name(i);
        let Some(m) = ck.obj(Some(e), &path) else {
            return;
        };
        ck.eq_str(m, &path, "transcript_version", TRANSCRIPT_VERSION);
        let want_seq = i as i64;
        if m.get("seq").and_then(Value::as_int) != Some(i128::from(want_seq)) {
            ck.fail(
                "bad_chain",
                canon::join_key(&path, "seq"),
                want_seq.to_string(),
                show(m.get("seq")),
            );
        }
        let want_prev = prev.map_or(Value::Null, |p| {
            sha256(&canon::to_canonical(p)).hex().into()
        });
        if m.get("prev_sha256") != Some(&want_prev) {
            ck.fail(
                "bad_chain",
                canon::join_key(&path, "prev_sha256"),
                format!("{} (the previous entry's sha256)", want_prev.brief()),
                show(m.get("prev_sha256")),
            );
        }
        ck.str(m, &path, "op");
        let at = ck.ts(m, &path, "at");
        let digest = canon_sha256_without(e, ENTRY_UNHASHED);
        if let Some(claimed) = ck.digest(m, &path, "entry_sha256")
            && claimed != digest
        {
            ck.fail(
                "bad_hash",
                canon::join_key(&path, "entry_sha256"),
                digest.hex(),
                q(&claimed.hex()),
            );
        }
        let sp = canon::join_key(&path, "signature");
        if let Some(fp) = ck.signature_by(
            m.get("signature"),
            &sp,
            &digest,
            rules::LABEL_TRANSCRIPT,
            None,
            false,
        ) && let (Some(ring), Some(t)) = (ck.keyring, at)
            && let Some(k) = ring.get(&fp)
            && let KeyWindow::Revoked(r, _) = k.window_at(&t)
        {
            let id = k.doc.key_id.clone();
            ck.fail(
                "key_revoked",
                canon::join_key(&path, "at"),
                format!("a time before {r}, when {id} was revoked"),
                t.to_string(),
            );
        }
        prev = Some(e);
    }
}
