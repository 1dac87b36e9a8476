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

/// Which witnesses a reader requires (**decided**, `rules::WITNESS_POLICY_TYPE`): `quorum`
/// of the named `witnesses` must have cosigned the checkpoint.
#[derive(Clone, Debug)]
pub struct WitnessPolicy {
    /// How many distinct witnesses.
    pub quorum: usize,
    /// (name, public key) of each witness.
    pub witnesses: Vec<(String, crate::trust::keys::PublicKey)>,
}

impl WitnessPolicy {
    /// Read a policy: `{"policy_type", "quorum", "witnesses": [{"name",
    /// "public_key_b64"}]}`, closed; a quorum of 1 to the number of distinct witnesses.
    pub fn from_value(v: &crate::format::canon::Value) -> Result<Self, String> {
        use crate::format::canon::Value;
        let o = v.as_object().ok_or("$: expected a witness policy object")?;
        let want = ["policy_type", "quorum", "witnesses"];
        if o.len() != 3 || want.iter().any(|k| !o.contains_key(*k)) {
            return Err("$: a witness policy has exactly policy_type, quorum, witnesses".into());
        }
        if o.get("policy_type").and_then(Value::as_str)
            != Some(crate::format::rules::WITNESS_POLICY_TYPE)
        {
            return Err(format!(
                "$.policy_type: expected {:?}",
                crate::format::rules::WITNESS_POLICY_TYPE
            ));
        }
        let arr = o
            .get("witnesses")
            .and_then(Value::as_array)
            .ok_or("$.witnesses: expected an array")?;
        let mut witnesses: Vec<(String, crate::trust::keys::PublicKey)> = Vec::new();
        for (i, w) in arr.iter().enumerate() {
            let wo = w.as_object().filter(|m| m.len() == 2).ok_or(format!(
                "$.witnesses[{i}]: expected exactly name, public_key_b64"
            ))?;
            let name = wo
                .get("name")
                .and_then(Value::as_str)
                .ok_or(format!("$.witnesses[{i}].name: expected a string"))?;
            note::check_name(name).map_err(|e| format!("$.witnesses[{i}].name: {e}"))?;
            let key = wo
                .get("public_key_b64")
                .and_then(Value::as_str)
                .and_then(|b| {
                    let raw = crate::trust::keys::b64_decode(b)
                        .filter(|r| crate::trust::keys::b64_encode(r) == b)?;
                    crate::trust::keys::PublicKey::from_raw(raw.try_into().ok()?)
                })
                .ok_or(format!(
                    "$.witnesses[{i}].public_key_b64: expected an Ed25519 public key"
                ))?;
            if witnesses
                .iter()
                .any(|(n, k)| n == name || k.raw() == key.raw())
            {
                return Err(format!("$.witnesses[{i}]: a witness named twice"));
            }
            witnesses.push((name.to_owned(), key));
        }
        let quorum = o
            .get("quorum")
            .and_then(Value::as_int)
            .and_then(|q| usize::try_from(q).ok())
            .filter(|q| *q >= 1 && *q <= witnesses.len())
            .ok_or(format!(
                "$.quorum: expected 1 to {} (the witnesses named)",
                witnesses.len()
            ))?;
        Ok(WitnessPolicy { quorum, witnesses })
    }
}

/// The policy's witnesses whose cosignatures (C2SP tlog-cosignature) of the checkpoint
/// verify, each counted once; refused unless they reach the quorum.
pub fn check_witnesses(
    cp: &Verified<SignedCheckpoint>,
    policy: &WitnessPolicy,
) -> Result<Vec<String>, String> {
    let mut ok = Vec::new();
    for (name, key) in &policy.witnesses {
        let hash = note::key_hash(name, note::TYPE_COSIGNATURE, key.raw());
        let good = cp.note.signatures.iter().any(|l| {
            if l.name != *name || l.key_hash != hash || l.signature.len() != 72 {
                return false;
            }
            let mut t = [0u8; 8];
            t.copy_from_slice(&l.signature[..8]);
            let mut sig = [0u8; 64];
            sig.copy_from_slice(&l.signature[8..]);
            let msg = note::cosignature_message(&cp.note.body, u64::from_be_bytes(t));
            Message::note(&msg).is_some_and(|m| key.verify_message(m.as_bytes(), &sig))
        });
        if good {
            ok.push(name.clone());
        }
    }
    if ok.len() < policy.quorum {
        return Err(format!(
            "the checkpoint is cosigned by {} of the policy's witnesses ({}), {} required",
            ok.len(),
            if ok.is_empty() {
                "none".to_owned()
            } else {
                ok.join(", ")
            },
            policy.quorum
        ));
    }
    Ok(ok)
}
