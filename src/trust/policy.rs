//! The key-validity policy: which key may sign at which time.
//!
//! One rule for every signature pith makes (spec §12, decided): a key signs only inside
//! its validity window — from `valid_from`, before `rotates_at`, before a revocation — as
//! the keyring's documents and statements set it. [`Authorized`] is the only way to a
//! registry signature, and it is made only after the check, so no command can skip it.

use crate::format::canon::Value;
use crate::format::digest::Sha256Digest;
use crate::format::time::Timestamp;
use crate::trust::keys::{KeyWindow, PublicKey, TrustedKey};
use crate::trust::signer::{self, Domain, SignError, Signer};

/// Why a key may not sign at a time, in words with the times (never Debug text).
pub fn refusal(key_id: &str, window: &KeyWindow, at: &Timestamp) -> Option<String> {
    match window {
        KeyWindow::Valid => None,
        KeyWindow::Rotated(r) => Some(format!(
            "key {key_id} cannot sign at {at}: it was rotated out at {r}"
        )),
        KeyWindow::Revoked(r, why) => Some(format!(
            "key {key_id} cannot sign at {at}: it was revoked at {r} ({why})"
        )),
        KeyWindow::NotYetValid(f) => Some(format!(
            "key {key_id} cannot sign at {at}: it is valid only from {f}"
        )),
    }
}

/// May `key` sign at `at`? The one policy function every signing path calls.
pub fn may_sign(key: &TrustedKey, at: &Timestamp) -> Result<(), SignError> {
    match refusal(&key.doc.key_id, &key.window_at(at), at) {
        None => Ok(()),
        Some(why) => Err(SignError::NotValid(why)),
    }
}

/// A signer that the policy admitted: its trusted key document names the same key and
/// id, and the key was valid when it was authorized. Every receipt, event and bundle
/// signature is made through one, and each is checked again at its own protected time.
pub struct Authorized {
    signer: Box<dyn Signer>,
    key: TrustedKey,
}

impl std::fmt::Debug for Authorized {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authorized")
            .field("key_id", &self.key.doc.key_id)
            .field("fingerprint", &self.key.doc.key.fingerprint())
            .finish_non_exhaustive()
    }
}

impl Authorized {
    /// Admit `signer` under its trusted document `key` at `now`.
    ///
    /// Refused when the document is for another key or another id (a secret file that
    /// disagrees with its public document), or when the key may not sign at `now`.
    pub fn new(
        signer: Box<dyn Signer>,
        key: TrustedKey,
        now: &Timestamp,
    ) -> Result<Self, SignError> {
        if key.doc.key.raw() != signer.public().raw() {
            return Err(SignError::NotValid(format!(
                "the secret key {} ({}) is not the key of its public document {} ({})",
                signer.key_id(),
                signer.public().fingerprint(),
                key.doc.key_id,
                key.doc.key.fingerprint()
            )));
        }
        if key.doc.key_id != signer.key_id() {
            return Err(SignError::NotValid(format!(
                "the secret key file names key id {:?}, its public document {:?}",
                signer.key_id(),
                key.doc.key_id
            )));
        }
        may_sign(&key, now)?;
        Ok(Authorized { signer, key })
    }

    /// The key id.
    pub fn key_id(&self) -> &str {
        &self.key.doc.key_id
    }
    /// The signer itself, for pith's own formats, whose custody rules are their own.
    pub(crate) fn signer(&self) -> &dyn Signer {
        &*self.signer
    }
    /// The public key.
    pub fn public(&self) -> &PublicKey {
        &self.key.doc.key
    }
    /// The trusted key (document, window).
    pub fn trusted(&self) -> &TrustedKey {
        &self.key
    }
    /// The key's public document as it is served (spec §7).
    pub fn document(&self) -> &Value {
        &self.key.doc.raw
    }

    /// A signature object over `digest` as `domain` (a registry kind), after checking that
    /// the key may sign at `protected`, the artifact's authenticated time (spec §12).
    pub(crate) fn signature_object(
        &self,
        domain: Domain,
        digest: &Sha256Digest,
        protected: &Timestamp,
        signed_at: &Timestamp,
    ) -> Result<Value, SignError> {
        may_sign(&self.key, protected)?;
        signer::signature_object(&*self.signer, domain, digest, signed_at)
    }

    /// A re-signature over an existing artifact's digest: the key must be valid when it
    /// signs (`signed_at`); the artifact's own time is older and belongs to its first
    /// signer, whose successor this key may be (spec §3).
    pub(crate) fn resignature_object(
        &self,
        domain: Domain,
        digest: &Sha256Digest,
        signed_at: &Timestamp,
    ) -> Result<Value, SignError> {
        may_sign(&self.key, signed_at)?;
        signer::signature_object(&*self.signer, domain, digest, signed_at)
    }

    /// An Ed25519 signature over a note's text (a log checkpoint), made at `now`: the key
    /// must be valid then, as for every other signature.
    pub(crate) fn sign_note(&self, text: &str, now: &Timestamp) -> Result<[u8; 64], SignError> {
        may_sign(&self.key, now)?;
        let Some(m) = signer::Message::note(text) else {
            return Err(SignError::NotValid(
                "the note's text could be read as another kind of signed message".into(),
            ));
        };
        self.signer.sign(&m)
    }
}
