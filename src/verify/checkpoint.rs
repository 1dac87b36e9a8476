//! Verifying a log checkpoint against the keyring: the origin the reader expects, a
//! signature by a keyring key valid now, and nothing taken from the note's own claims.

use crate::format::note::{self, Checkpoint, Note, NoteError};
use crate::format::time::Timestamp;
use crate::trust::keys::KeyWindow;
use crate::trust::signer::Message;
use crate::verify::Verified;
use crate::verify::keyring::Keyring;

/// A checkpoint whose note a keyring key signed.
#[derive(Clone, Debug)]
pub struct SignedCheckpoint {
    /// The tree head it states.
    pub checkpoint: Checkpoint,
    /// The note as read.
    pub note: Note,
    /// Key ids of the keyring keys whose signatures verified, each once.
    pub signers: Vec<String>,
    /// Signature lines set aside, in words (other names such as witnesses, keys outside
    /// the keyring, keys not valid now).
    pub notes: Vec<String>,
}

/// Why a checkpoint was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointError {
    /// Not a signed note of a checkpoint.
    #[error("not a checkpoint: {0}")]
    Format(#[from] NoteError),
    /// Another log's checkpoint.
    #[error("the checkpoint is of log {found:?}, not the expected {expected:?}")]
    Origin {
        /// The origin the reader expects.
        expected: String,
        /// The origin line of the note.
        found: String,
    },
    /// A keyring key's signature line does not verify.
    #[error("the checkpoint's signature by key {0} does not verify")]
    BadSignature(String),
    /// No keyring key valid now signed it.
    #[error("the checkpoint is signed by no key of the keyring that is valid now{0}")]
    Unsigned(String),
}

/// Verify `bytes` as a checkpoint of log `origin` signed by a key of `keyring` that is
/// valid at `now` (a checkpoint carries no time, so a revoked or rotated-out key's note is
/// never trusted). Signature lines of other names (witness cosignatures) are left to the
/// witness policy; a keyring key's line that fails refuses the note.
pub fn verify_checkpoint(
    bytes: &[u8],
    keyring: &Keyring,
    origin: &str,
    now: &Timestamp,
) -> Result<Verified<SignedCheckpoint>, CheckpointError> {
    let note = Note::parse(bytes)?;
    let checkpoint = Checkpoint::parse_body(&note.body)?;
    if checkpoint.origin() != origin {
        return Err(CheckpointError::Origin {
            expected: origin.to_owned(),
            found: checkpoint.origin().to_owned(),
        });
    }
    let message = Message::note(&note.body).ok_or_else(|| {
        CheckpointError::Format(NoteError("the note's text is not a checkpoint".into()))
    })?;
    let (mut signers, mut notes) = (Vec::<String>::new(), Vec::new());
    for line in &note.signatures {
        if line.name != origin {
            notes.push(format!(
                "a signature by {:?}, not the log's key",
                crate::format::text::visible(&line.name)
            ));
            continue;
        }
        let key = keyring
            .iter()
            .find(|k| note::key_hash(origin, note::TYPE_ED25519, k.doc.key.raw()) == line.key_hash);
        let Some(key) = key else {
            notes.push(format!(
                "a signature by key hash {} outside the keyring",
                crate::format::digest::hex(&line.key_hash)
            ));
            continue;
        };
        let id = &key.doc.key_id;
        let sig: Option<[u8; 64]> = line.signature.as_slice().try_into().ok();
        if !sig.is_some_and(|s| key.doc.key.verify_message(message.as_bytes(), &s)) {
            return Err(CheckpointError::BadSignature(id.clone()));
        }
        match key.window_at(now) {
            KeyWindow::Valid => {
                if !signers.contains(id) {
                    signers.push(id.clone());
                }
            }
            w => notes.push(
                crate::trust::policy::refusal(id, &w, now)
                    .unwrap_or_else(|| format!("key {id} is not valid now")),
            ),
        }
    }
    if signers.is_empty() {
        let why = if notes.is_empty() {
            String::new()
        } else {
            format!(" ({})", notes.join("; "))
        };
        return Err(CheckpointError::Unsigned(why));
    }
    Ok(Verified(SignedCheckpoint {
        checkpoint,
        note,
        signers,
        notes,
    }))
}
