//! Signing the log's checkpoints (C2SP tlog-checkpoint in a signed note).

use crate::format::note::{self, Checkpoint, Note, NoteSignature};
use crate::format::time::Timestamp;
use crate::trust::policy::Authorized;
use crate::trust::signer::SignError;

/// The signed note of `checkpoint`, by `key` at `now`: the key name is the origin, the key
/// hash that of an Ed25519 key under that name (C2SP signed-note), so a verifier finds the
/// key among its keyring's by the line alone.
pub fn sign_checkpoint(
    checkpoint: &Checkpoint,
    key: &Authorized,
    now: &Timestamp,
) -> Result<Note, SignError> {
    let body = checkpoint.body();
    let signature = key.sign_note(&body, now)?;
    Ok(Note {
        body,
        signatures: vec![NoteSignature {
            name: checkpoint.origin().to_owned(),
            key_hash: note::key_hash(checkpoint.origin(), note::TYPE_ED25519, key.public().raw()),
            signature: signature.to_vec(),
        }],
    })
}
