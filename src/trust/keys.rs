//! Public key documents and the operator's keyring (spec §7, §12).
//!
//! A verifier trusts only keys from a keyring the operator names: a directory of key
//! documents (`*.pub.json`). Keys a bundle carries in `public_keys` are compared against
//! the keyring, never trusted on their own.

use std::path::PathBuf;

use base64::Engine as _;
use ed25519_dalek::VerifyingKey;

use crate::format::canon::{self, Value};
use crate::format::digest::{hex, key_fingerprints};
use crate::format::rules;
use crate::format::time::Timestamp;

/// An Ed25519 public key with its derived fingerprints (spec §3).
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    raw: [u8; 32],
    key: VerifyingKey,
    /// The key is of small order (`verify_strict` refuses every signature by it);
    /// decided once here rather than on every verification.
    weak: bool,
    fingerprint_hex: String,
    fingerprint_b32: String,
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublicKey")
            .field("fingerprint", &self.fingerprint_hex)
            .finish()
    }
}

impl PublicKey {
    /// From the 32 raw bytes; None when they are not a valid curve point encoding.
    pub(crate) fn from_raw(raw: [u8; 32]) -> Option<Self> {
        let key = VerifyingKey::from_bytes(&raw).ok()?;
        let (fingerprint_hex, fingerprint_b32) = key_fingerprints(&raw);
        Some(PublicKey {
            raw,
            weak: key.is_weak(),
            key,
            fingerprint_hex,
            fingerprint_b32,
        })
    }
    /// From a dalek verifying key.
    pub(crate) fn from_verifying_key(key: ed25519_dalek::VerifyingKey) -> Self {
        let raw = key.to_bytes();
        let (fingerprint_hex, fingerprint_b32) = key_fingerprints(&raw);
        PublicKey {
            raw,
            weak: key.is_weak(),
            key,
            fingerprint_hex,
            fingerprint_b32,
        }
    }
    /// The raw 32 bytes.
    pub fn raw(&self) -> &[u8; 32] {
        &self.raw
    }
    /// The dalek verifying key.
    pub(crate) fn verifying_key(&self) -> &VerifyingKey {
        &self.key
    }
    /// 32 hex chars of sha256(raw) (`public_key_fingerprint`).
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint_hex
    }
    /// 26 base32 chars of sha256(raw).
    pub fn fingerprint_b32(&self) -> &str {
        &self.fingerprint_b32
    }
    /// Standard base64 with padding.
    pub fn b64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.raw)
    }
    /// Strict Ed25519 verification of a signature over a 32-byte digest (spec §4).
    ///
    /// Accepts exactly what ed25519-dalek's `verify_strict` accepts (see
    /// [`Self::verify_message`]): rejects small-order keys and R, and non-canonical S.
    pub fn verify_digest(&self, digest: &[u8; 32], sig: &[u8; 64]) -> bool {
        self.verify_message(digest, sig)
    }
    /// Strict Ed25519 verification of a signature over arbitrary bytes: the one
    /// verification primitive every check goes through.
    ///
    /// Accepts exactly what ed25519-dalek's `verify_strict` accepts, computed with less
    /// work: `verify_strict` is (S canonical, R' = [S]B - [k]A encodes to R) — dalek's
    /// `raw_verify` — and neither A nor R of small order. A's order is decided once, when
    /// the key is made. R need not be decompressed: R' is always a canonical encoding, so
    /// the equation can only hold when R is canonical, and a canonical R is of small order
    /// exactly when it is one of the eight encodings of the 8-torsion points. The test
    /// `fast_strict_equals_verify_strict` checks the equivalence on every Ed25519 vector
    /// and on crafted small-order and non-canonical cases.
    pub fn verify_message(&self, msg: &[u8], sig: &[u8; 64]) -> bool {
        if self.weak || small_order_encodings().iter().any(|t| sig[..32] == t[..]) {
            return false;
        }
        let sig = ed25519_dalek::Signature::from_bytes(sig);
        ed25519_dalek::hazmat::raw_verify::<sha2::Sha512>(&self.key, msg, &sig).is_ok()
    }
}

/// The canonical encodings of the eight points of order dividing 8.
fn small_order_encodings() -> &'static [[u8; 32]; 8] {
    static ENCODINGS: std::sync::OnceLock<[[u8; 32]; 8]> = std::sync::OnceLock::new();
    ENCODINGS
        .get_or_init(|| curve25519_dalek::constants::EIGHT_TORSION.map(|p| p.compress().to_bytes()))
}

/// Strict Ed25519 verification from raw bytes (a key that does not decode never verifies).
///
/// Accepts exactly what [`PublicKey::verify_message`] accepts; the Ed25519 vector tests
/// (RFC 8032, Wycheproof, CCTV) pin that set.
pub fn verify_strict_raw(public_key: &[u8], msg: &[u8], sig: &[u8]) -> bool {
    let (Ok(pk), Ok(sig)) = (<[u8; 32]>::try_from(public_key), <[u8; 64]>::try_from(sig)) else {
        return false;
    };
    PublicKey::from_raw(pk).is_some_and(|k| k.verify_message(msg, &sig))
}

/// Decode standard base64 with padding, strictly.
pub(crate) fn b64_decode(s: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::STANDARD.decode(s).ok()
}

/// Encode standard base64 with padding.
pub fn b64_encode(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

/// A problem with a key document: JSON path, what was expected, what was found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyDocProblem {
    /// JSON path inside the document.
    pub path: String,
    /// What was expected.
    pub expected: String,
    /// What was found.
    pub found: String,
}

/// A parsed public key document (spec §7). The wire form is kept whole in `raw`.
#[derive(Clone, Debug)]
pub struct KeyDocument {
    /// `key_id`.
    pub key_id: String,
    /// The key.
    pub key: PublicKey,
    /// `rotates_at`: the time after which the key no longer signs.
    pub rotates_at: Option<Timestamp>,
    /// `valid_from` (pith extension, decided): when the key starts signing.
    pub valid_from: Option<Timestamp>,
    /// The document as read.
    pub raw: Value,
}

impl KeyDocument {
    /// Parse and check a key document: every derived field must match the key.
    pub fn from_value(v: &Value, path: &str) -> Result<Self, Vec<KeyDocProblem>> {
        let mut probs = Vec::new();
        let mut p = |field: &str, expected: &str, found: String| {
            probs.push(KeyDocProblem {
                path: canon::join_key(path, field),
                expected: expected.into(),
                found,
            })
        };
        let Some(m) = v.as_object() else {
            return Err(vec![KeyDocProblem {
                path: path.into(),
                expected: "a key document object".into(),
                found: v.type_name().into(),
            }]);
        };
        let schema = crate::model::KEY_DOCUMENT;
        for k in m.keys().filter(|k| !schema.allows(k)) {
            p(
                k,
                &format!(
                    "only the fields of a key document ({})",
                    schema.fields.join(", ")
                ),
                format!("the field {k:?}"),
            );
        }
        let s = |k: &str| m.get(k).and_then(Value::as_str);
        let found = |k: &str| m.get(k).map_or("nothing".to_owned(), Value::brief);
        let key_id = s("key_id").map(str::to_owned);
        // decided: key ids name files (keyring, resolver tree), so no separators or dots first
        if !key_id
            .as_deref()
            .is_some_and(crate::format::digest::valid_key_id)
        {
            p(
                "key_id",
                "1-64 characters of [A-Za-z0-9._-], not starting with '.'",
                found("key_id"),
            );
        }
        if s("algorithm") != Some(rules::ALGORITHM) {
            p("algorithm", "\"ed25519\"", found("algorithm"));
        }
        if s("format") != Some("raw") {
            p("format", "\"raw\"", found("format"));
        }
        let raw: Option<[u8; 32]> = s("public_key_b64")
            .and_then(b64_decode)
            .and_then(|b| b.try_into().ok());
        let key = match raw {
            None => {
                p(
                    "public_key_b64",
                    "base64 of 32 bytes",
                    found("public_key_b64"),
                );
                None
            }
            Some(r) => match PublicKey::from_raw(r) {
                None => {
                    p(
                        "public_key_b64",
                        "a valid Ed25519 point",
                        found("public_key_b64"),
                    );
                    None
                }
                Some(k) => Some(k),
            },
        };
        if let Some(k) = &key {
            if s("public_key_hex") != Some(&hex(k.raw())) {
                p(
                    "public_key_hex",
                    &format!("{:?} (the key in public_key_b64)", hex(k.raw())),
                    found("public_key_hex"),
                );
            }
            if s("fingerprint_sha256_hex") != Some(k.fingerprint()) {
                p(
                    "fingerprint_sha256_hex",
                    &format!("{:?}", k.fingerprint()),
                    found("fingerprint_sha256_hex"),
                );
            }
            if s("fingerprint_sha256_b32_first128bits") != Some(k.fingerprint_b32()) {
                p(
                    "fingerprint_sha256_b32_first128bits",
                    &format!("{:?}", k.fingerprint_b32()),
                    found("fingerprint_sha256_b32_first128bits"),
                );
            }
        }
        let mut time_field = |k: &str| match m.get(k) {
            None | Some(Value::Null) => None,
            Some(Value::String(t)) => Timestamp::parse(t).or_else(|| {
                p(k, "null or a UTC timestamp", found(k));
                None
            }),
            Some(_) => {
                p(k, "null or a UTC timestamp", found(k));
                None
            }
        };
        let rotates_at = time_field("rotates_at");
        let valid_from = time_field("valid_from");
        if !m.contains_key("rotates_at") {
            p("rotates_at", "null or a UTC timestamp", "nothing".into());
        }
        match (key_id, key) {
            (Some(key_id), Some(key)) if probs.is_empty() => Ok(KeyDocument {
                key_id,
                key,
                rotates_at,
                valid_from,
                raw: v.clone(),
            }),
            _ => Err(probs),
        }
    }

    /// Build the document of a key (spec §7).
    pub fn build(
        key_id: &str,
        key: &PublicKey,
        url: Option<&str>,
        notes: Option<&str>,
        valid_from: Option<&Timestamp>,
    ) -> Value {
        let mut m = canon::Map::new();
        m.insert("key_id".into(), key_id.into());
        m.insert("algorithm".into(), rules::ALGORITHM.into());
        m.insert("format".into(), "raw".into());
        m.insert("public_key_b64".into(), key.b64().into());
        m.insert("public_key_hex".into(), hex(key.raw()).into());
        m.insert(
            "fingerprint_sha256_b32_first128bits".into(),
            key.fingerprint_b32().into(),
        );
        m.insert("fingerprint_sha256_hex".into(), key.fingerprint().into());
        m.insert("rotates_at".into(), Value::Null);
        m.insert("url".into(), url.map(Value::from).unwrap_or(Value::Null));
        m.insert(
            "notes".into(),
            notes.map(Value::from).unwrap_or(Value::Null),
        );
        if let Some(t) = valid_from {
            m.insert("valid_from".into(), t.fmt_seconds().into());
        }
        Value::Object(m)
    }
}

/// Why a signing key was not valid at a time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyWindow {
    /// Valid.
    Valid,
    /// The time is before the key's `valid_from`.
    NotYetValid(Timestamp),
    /// The time is at or after `rotates_at` (OLD signs only before it).
    Rotated(Timestamp),
    /// The time is at or after a revocation.
    Revoked(Timestamp, String),
}

/// A key the operator trusts, with its history.
#[derive(Clone, Debug)]
pub struct TrustedKey {
    /// The key document from the keyring.
    pub doc: KeyDocument,
    /// Revocation time and reason, when revoked.
    pub revoked: Option<(Timestamp, String)>,
    /// The file it came from.
    pub file: PathBuf,
}

impl TrustedKey {
    /// Was the key allowed to sign at `t`? (spec §12: the protected time)
    pub fn window_at(&self, t: &Timestamp) -> KeyWindow {
        if let Some((r, why)) = &self.revoked
            && t.micros() >= r.micros()
        {
            return KeyWindow::Revoked(*r, why.clone());
        }
        if let Some(r) = &self.doc.rotates_at
            && t.micros() >= r.micros()
        {
            return KeyWindow::Rotated(*r);
        }
        if let Some(f) = &self.doc.valid_from
            && t.micros() < f.micros()
        {
            return KeyWindow::NotYetValid(*f);
        }
        KeyWindow::Valid
    }
}
