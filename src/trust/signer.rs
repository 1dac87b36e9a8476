//! The one signing path: what a signature is over, and the trait every key implements.
//!
//! The registry's kinds sign the 32 raw bytes of a SHA-256 digest (spec §4), with no
//! label in the signed bytes; a receipt, an event and a bundle are kept apart only by
//! their closed schemas (`crate::model::schema`), which no object can satisfy for two
//! kinds at once. pith's own formats bind their kind into the signed bytes (**decided**,
//! [`Domain::message`]), so none of their signatures is ever a valid registry signature
//! or a signature of another of pith's kinds.

use crate::format::canon::{self, Value};
use crate::format::digest::Sha256Digest;
use crate::format::rules;
use crate::format::time::Timestamp;
use crate::trust::keys::{PublicKey, b64_encode};

/// What a signature is over: the kind of artifact whose digest is signed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Domain {
    /// A receipt over `canonical_sha256` (spec §4).
    Receipt,
    /// An event over its `content_sha256` (spec §4).
    Event,
    /// A bundle over its `bundle_sha256` (spec §4).
    Bundle,
    /// A key-transition statement or revocation (pith's own, decided).
    KeyStatement,
    /// A ceremony transcript entry (pith's own, decided).
    Transcript,
    /// An entry of the offline signer's audit log (pith's own, decided).
    Audit,
}

impl Domain {
    /// The `signed_message` label written in the signature object.
    pub fn label(self) -> &'static str {
        match self {
            Domain::Receipt => rules::LABEL_RECEIPT,
            Domain::Event => rules::LABEL_EVENT,
            Domain::Bundle => rules::LABEL_BUNDLE,
            Domain::KeyStatement => rules::LABEL_STATEMENT,
            Domain::Transcript => rules::LABEL_TRANSCRIPT,
            Domain::Audit => rules::LABEL_AUDIT,
        }
    }

    /// Whether the registry's wire format fixes this kind (no label in the signed bytes).
    pub(crate) fn is_registry_kind(self) -> bool {
        matches!(self, Domain::Receipt | Domain::Event | Domain::Bundle)
    }

    /// The exact bytes an Ed25519 signature of this kind covers.
    ///
    /// Registry kinds: the 32 digest bytes (spec §4). pith's own kinds (**decided**,
    /// `rules::DOMAIN_PREFIX`): `pith-domain-v1:` ‖ label ‖ 0x00 ‖ the 32 digest bytes —
    /// never 32 bytes long, so never a registry message, and distinct per label.
    pub fn message(self, digest: &Sha256Digest) -> Message {
        if self.is_registry_kind() {
            return Message(digest.0.to_vec());
        }
        let label = self.label().as_bytes();
        let mut m = Vec::with_capacity(rules::DOMAIN_PREFIX.len() + label.len() + 33);
        m.extend_from_slice(rules::DOMAIN_PREFIX.as_bytes());
        m.extend_from_slice(label);
        m.push(0);
        m.extend_from_slice(&digest.0);
        Message(m)
    }
}

/// The bytes of one signature, framed by [`Domain::message`]; nothing else makes one, so
/// no [`Signer`] can be asked to sign bytes outside the framing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message(Vec<u8>);

impl Message {
    /// The text of a signed note (a log checkpoint, a cosignature), signed as it is
    /// (C2SP signed-note); None when the text could be another kind's message: 32 bytes
    /// long (a registry digest) or framed as pith's own kinds. `format::note::check_name`
    /// keeps every origin and name clear of both.
    pub(crate) fn note(text: &str) -> Option<Message> {
        (text.len() != 32 && !text.starts_with(rules::DOMAIN_PREFIX))
            .then(|| Message(text.as_bytes().to_vec()))
    }

    /// Any bytes, for the known-answer tests only: outside tests nothing unframed is signed.
    #[cfg(test)]
    pub(crate) fn raw(bytes: Vec<u8>) -> Message {
        Message(bytes)
    }

    /// The bytes to sign or verify.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

/// Why a signature could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SignError {
    /// The key is not allowed to sign at this time (revoked, rotated out, not yet valid).
    #[error("{0}")]
    NotValid(String),
    /// The device holding the key failed.
    #[error("the key's device failed: {0}")]
    Device(String),
}

/// A private key that signs: in memory ([`crate::trust::secret::SigningKey`]) or in a
/// hardware token.
pub trait Signer: Send + Sync + std::fmt::Debug {
    /// The key id of its public document.
    fn key_id(&self) -> &str;
    /// The public key.
    fn public(&self) -> &PublicKey;
    /// Ed25519 (RFC 8032, pure) over the message.
    fn sign(&self, message: &Message) -> Result<[u8; 64], SignError>;
}

/// Sign `digest` as `domain`: the raw signature.
pub(crate) fn sign_digest(
    signer: &dyn Signer,
    domain: Domain,
    digest: &Sha256Digest,
) -> Result<[u8; 64], SignError> {
    signer.sign(&domain.message(digest))
}

/// A signature object (spec §4) over `digest` as `domain`.
pub(crate) fn signature_object(
    signer: &dyn Signer,
    domain: Domain,
    digest: &Sha256Digest,
    signed_at: &Timestamp,
) -> Result<Value, SignError> {
    let sig = sign_digest(signer, domain, digest)?;
    Ok(canon::object([
        ("algorithm", rules::ALGORITHM.into()),
        ("key_id", signer.key_id().into()),
        (
            "public_key_fingerprint",
            signer.public().fingerprint().into(),
        ),
        ("signature_b64", b64_encode(&sig).into()),
        ("signature_status", rules::SIGNATURE_STATUS.into()),
        ("signed_at", signed_at.fmt_micros().into()),
        ("signed_message", domain.label().into()),
    ]))
}

/// Verify a signature of `domain` over `digest` strictly.
pub fn verify_digest(
    key: &PublicKey,
    domain: Domain,
    digest: &Sha256Digest,
    sig: &[u8; 64],
) -> bool {
    key.verify_message(domain.message(digest).as_bytes(), sig)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pith_kinds_never_frame_like_registry_kinds_or_each_other() {
        let d = Sha256Digest([7; 32]);
        let all = [
            Domain::Receipt,
            Domain::Event,
            Domain::Bundle,
            Domain::KeyStatement,
            Domain::Transcript,
            Domain::Audit,
        ];
        for a in all {
            let m = a.message(&d);
            assert_eq!(m.as_bytes().len() == 32, a.is_registry_kind());
            for b in all {
                if !a.is_registry_kind() && a != b {
                    assert_ne!(m, b.message(&d), "{a:?} vs {b:?}");
                }
            }
        }
    }
}
