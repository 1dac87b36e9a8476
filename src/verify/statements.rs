//! Checking key statements and the ceremony transcript (pith's own formats, `rules.rs`).

use crate::format::canon::{self, Value};
use crate::format::digest::{canon_sha256_without, sha256};
use crate::trust::keys::KeyWindow;
use crate::trust::signer::Domain;
use crate::trust::statements::{
    ENTRY_UNHASHED, REVOCATION_TYPE, Reason, STATEMENT_UNHASHED, STATEMENT_VERSION, Statement,
    TRANSCRIPT_VERSION, TRANSITION_TYPE,
};
use crate::verify::check::{Checker, q, show};
use crate::verify::keyring::Keyring;

/// Check a key reference against the keyring; the fingerprint of the key it names.
fn check_ref(ck: &mut Checker<'_>, m: &canon::Map, path: &str, member: &str) -> Option<String> {
    let p = canon::join_key(path, member);
    let r = ck.obj(m.get(member), &p)?;
    ck.closed(r, &p, &crate::model::KEY_REF);
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
pub(crate) fn check_statement(
    ck: &mut Checker<'_>,
    v: &Value,
    _keyring: &Keyring,
) -> Option<Statement> {
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
    match kind {
        Some(TRANSITION_TYPE) => ck.closed(m, "$", &crate::model::TRANSITION),
        Some(REVOCATION_TYPE) => ck.closed(m, "$", &crate::model::REVOCATION),
        _ => {}
    }
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
        if let Some(fp) = ck.signature_by(Some(s), &p, &digest, Domain::KeyStatement, None, false) {
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
    // a revocation is signed by a key valid when it was made, or by the revoked key's
    // successor (decided), or by the key itself; nothing else
    if let (Some(ring), Some(t), Some(Statement::Revocation { key, .. })) =
        (ck.keyring, created, &facts)
    {
        for fp in signers.iter().filter(|fp| *fp != key) {
            if let Some(k) = ring.get(fp)
                && !matches!(k.window_at(&t), KeyWindow::Valid | KeyWindow::Revoked(..))
                && !ring.succeeds(key, fp)
            {
                let why = crate::trust::policy::refusal(&k.doc.key_id, &k.window_at(&t), &t)
                    .unwrap_or_default();
                ck.fail(
                    "signer_not_valid",
                    "$.signatures",
                    "a signer valid when the revocation was made, or the revoked key's successor",
                    why,
                );
            }
        }
    }
    // no signer may have been revoked before the statement was made
    if let (Some(ring), Some(t)) = (ck.keyring, created) {
        // a self-revocation's own effect does not count against its signer
        let own = match &facts {
            Some(Statement::Revocation { key, .. }) => Some(key.as_str()),
            _ => None,
        };
        // a transition co-signed by an unrevoked successor stays valid when the old key
        // is revoked from a time before it (decided): the successor vouches for it
        let vouched = match &facts {
            Some(Statement::Transition { from, to, .. })
                if signers.contains(to)
                    && ring
                        .get(to)
                        .is_some_and(|k| !matches!(k.window_at(&t), KeyWindow::Revoked(..))) =>
            {
                Some(from.as_str())
            }
            _ => None,
        };
        for fp in signers
            .iter()
            .filter(|fp| Some(fp.as_str()) != own && Some(fp.as_str()) != vouched)
        {
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

/// Does a later entry revoke the key with fingerprint `fp`?
fn revoked_later(later: &[Value], fp: &str) -> bool {
    later.iter().any(|e| {
        e.get("op").and_then(Value::as_str) == Some("revoke")
            && e.get("details")
                .and_then(|d| d.get("key"))
                .and_then(|k| k.get("public_key_fingerprint"))
                .and_then(Value::as_str)
                == Some(fp)
    })
}

/// Check a whole hash-chained log — the ceremony transcript or the offline signer's audit
/// log, `domain` saying which — : chain, sequence, digests, signatures by keyring keys.
pub(crate) fn check_transcript(
    ck: &mut Checker<'_>,
    entries: &[Value],
    domain: Domain,
    name: &dyn Fn(usize) -> String,
) {
    let mut prev: Option<&Value> = None;
    for (i, e) in entries.iter().enumerate() {
        let path = name(i);
        let Some(m) = ck.obj(Some(e), &path) else {
            return;
        };
        ck.closed(m, &path, &crate::model::TRANSCRIPT_ENTRY);
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
        if let Some(fp) = ck.signature_by(m.get("signature"), &sp, &digest, domain, None, false)
            && let (Some(ring), Some(t)) = (ck.keyring, at)
            && let Some(k) = ring.get(&fp)
            && let KeyWindow::Revoked(r, _) = k.window_at(&t)
            // an entry the chain places before the key's revocation entry was made before
            // the revocation was known; the later entries' signatures vouch for it (a
            // backdated compromise does not rewrite the ceremony's history)
            && !revoked_later(&entries[i + 1..], &fp)
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
