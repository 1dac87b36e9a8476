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

/// Why a witness refused to cosign.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WitnessError {
    /// The checkpoint is not the log's.
    #[error(transparent)]
    Checkpoint(#[from] crate::verify::checkpoint::CheckpointError),
    /// The log moved back, forked, or gave no proof that it grew from what was cosigned.
    #[error("{0}")]
    Inconsistent(String),
    /// The witness key may not sign.
    #[error(transparent)]
    Sign(#[from] SignError),
}

/// A witness: its name in cosignature lines and its key.
pub struct Witness<'a> {
    /// The name (`format::note::check_name`).
    pub name: &'a str,
    /// The key, admitted by the witness's keyring.
    pub key: &'a Authorized,
}

/// Cosign a log's checkpoint as witness `name` (C2SP tlog-cosignature): only when it is
/// the log's (signed by a key of `log_keyring` under `origin`) and extends the checkpoint
/// this witness cosigned last (`last`), shown by `proof` when it grew. Returns the note
/// with the cosignature line appended and the state to keep (before the note is shown).
pub fn witness_cosign(
    note_bytes: &[u8],
    log_keyring: &crate::verify::keyring::Keyring,
    origin: &str,
    last: Option<&crate::verify::audit::MonitorState>,
    proof: Option<&crate::verify::log::ConsistencyProof>,
    witness: &Witness<'_>,
    now: &Timestamp,
) -> Result<(Note, crate::verify::audit::MonitorState), WitnessError> {
    let (name, key) = (witness.name, witness.key);
    let bad = |s: String| WitnessError::Inconsistent(s);
    note::check_name(name).map_err(|e| bad(format!("witness name: {e}")))?;
    let v = crate::verify::checkpoint::verify_checkpoint(note_bytes, log_keyring, origin, now)?;
    let cp = &v.checkpoint;
    if let Some(last) = last {
        if last.origin != origin {
            return Err(bad(format!(
                "the witness state is of log {:?}, not {origin:?}",
                last.origin
            )));
        }
        if cp.size() < last.size {
            return Err(bad(format!(
                "the log moved back: {} leaves, after a cosigned checkpoint of {}",
                cp.size(),
                last.size
            )));
        }
        if cp.size() == last.size && *cp.root() != last.root {
            return Err(bad(format!(
                "a fork: another tree of {} leaves than the one cosigned",
                cp.size()
            )));
        }
        if cp.size() > last.size && last.size > 0 {
            let Some(p) = proof else {
                return Err(bad(format!(
                    "the log grew from {} to {} leaves: a consistency proof from {} is needed (pith log prove --from {})",
                    last.size,
                    cp.size(),
                    last.size,
                    last.size
                )));
            };
            let ok = p.old_size == last.size
                && p.size == cp.size()
                && p.root == *cp.root()
                && crate::registry::merkle::verify_consistency(
                    last.size,
                    cp.size(),
                    &last.root,
                    cp.root(),
                    &p.path,
                );
            if !ok {
                return Err(bad(format!(
                    "the consistency proof does not show the tree of {} leaves cosigned before is a prefix of this one",
                    last.size
                )));
            }
        }
    }
    let time = u64::try_from(now.micros() / 1_000_000).unwrap_or(0);
    let msg = note::cosignature_message(&v.note.body, time);
    let sig = key.sign_note(&msg, now)?;
    let mut signature = time.to_be_bytes().to_vec();
    signature.extend_from_slice(&sig);
    let mut out = v.note.clone();
    // a witness's earlier line for this key is replaced, as signed_note does
    let key_hash = note::key_hash(name, note::TYPE_COSIGNATURE, key.public().raw());
    out.signatures
        .retain(|l| !(l.name == name && l.key_hash == key_hash));
    out.signatures.push(NoteSignature {
        name: name.to_owned(),
        key_hash,
        signature,
    });
    let state = crate::verify::audit::MonitorState {
        origin: origin.to_owned(),
        size: cp.size(),
        root: *cp.root(),
    };
    Ok((out, state))
}
