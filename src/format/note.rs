//! The transparency log's formats: its entries, and its signed checkpoints (C2SP
//! `tlog-checkpoint` bodies in C2SP `signed-note`s).
//!
//! A checkpoint body is three lines, `<origin>\n<tree size>\n<base64 root>\n`; a note is
//! the body, a blank line, and one line per signature, `— <name> <base64(key hash ‖
//! signature)>\n`, where the key hash is the first four bytes of `SHA-256(name ‖ 0x0A ‖
//! type ‖ public key)`. Parsing is strict and bounded (**decided**, `rules`): one form for
//! each value, no extension lines, no control characters.

use sha2::{Digest as _, Sha256};

use crate::format::digest::Sha256Digest;
use crate::format::rules;
use crate::trust::keys::{b64_decode, b64_encode};

/// The log entry of one signed event version (**decided**, `rules::LOG_ENTRY_EVENT`): its
/// `event_id`, `event_type`, `signature_b64`, the signature's key fingerprint as
/// `signer`, and `subject`, as canonical JSON.
pub fn event_entry(
    event_id: &str,
    event_type: &str,
    signature_b64: &str,
    signer: &str,
    subject: &str,
) -> Vec<u8> {
    crate::format::canon::to_canonical(&crate::format::canon::object([
        ("entry_type", rules::LOG_ENTRY_EVENT.into()),
        ("event_id", event_id.into()),
        ("event_type", event_type.into()),
        ("signature_b64", signature_b64.into()),
        ("signer", signer.into()),
        ("subject", subject.into()),
    ]))
}

/// The log entry of a signed event as it appears in a bundle or a file.
pub fn event_entry_of(ev: &crate::format::canon::Value) -> Vec<u8> {
    use crate::format::canon::Value;
    let s = |v: Option<&Value>, k: &str| {
        v.and_then(|x| x.get(k))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let sig = ev.get("signature");
    event_entry(
        &s(Some(ev), "event_id"),
        &s(Some(ev), "event_type"),
        &s(sig, "signature_b64"),
        &s(sig, "public_key_fingerprint"),
        &s(Some(ev), "subject_pith_number"),
    )
}

/// The log entry of a verified key statement (**decided**, `rules::LOG_ENTRY_STATEMENT`):
/// `{"entry_type", "keys", "signers", "statement_sha256", "statement_type"}`, `keys` the
/// fingerprints it is about (old and new key of a transition, the revoked key), `signers`
/// the fingerprints of its signatures, sorted.
pub fn statement_entry(
    v: &crate::format::canon::Value,
    st: &crate::trust::statements::Statement,
) -> Vec<u8> {
    use crate::format::canon::Value;
    use crate::trust::statements::Statement;
    let keys: Vec<Value> = match st {
        Statement::Transition { from, to, .. } => vec![from.as_str().into(), to.as_str().into()],
        Statement::Revocation { key, .. } => vec![key.as_str().into()],
    };
    let mut signers: Vec<String> = v
        .get("signatures")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|s| s.get("public_key_fingerprint").and_then(Value::as_str))
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    signers.sort();
    signers.dedup();
    let s = |k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    crate::format::canon::to_canonical(&crate::format::canon::object([
        ("entry_type", rules::LOG_ENTRY_STATEMENT.into()),
        ("keys", Value::Array(keys)),
        (
            "signers",
            Value::Array(signers.into_iter().map(Value::from).collect()),
        ),
        ("statement_sha256", s("statement_sha256").into()),
        ("statement_type", s("statement_type").into()),
    ]))
}

/// The signature type byte of an Ed25519 note signature (C2SP signed-note).
pub const TYPE_ED25519: u8 = 0x01;
/// The signature type byte of a witness cosignature (C2SP tlog-cosignature).
pub const TYPE_COSIGNATURE: u8 = 0x04;

/// Why a note or checkpoint was refused: the line and what was expected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct NoteError(pub String);

fn bad(what: impl Into<String>) -> NoteError {
    NoteError(what.into())
}

/// A tree head as a log states it: origin, size and root hash (C2SP tlog-checkpoint).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    origin: String,
    size: u64,
    root: Sha256Digest,
}

/// Check a log origin or note key name (**decided**, stricter than C2SP's "no spaces,
/// no plus"): printable ASCII, no space or `+`, at most `rules::MAX_ORIGIN` bytes, and
/// never the start of a framing pith or the registry signs otherwise
/// (`rules::DOMAIN_PREFIX`, a JSON document, a cosignature), so a note's signed text is
/// never another kind's message.
pub fn check_name(name: &str) -> Result<(), NoteError> {
    if name.is_empty() || name.len() > rules::MAX_ORIGIN {
        return Err(bad(format!(
            "a log origin or key name is 1 to {} bytes, not {}",
            rules::MAX_ORIGIN,
            name.len()
        )));
    }
    if let Some(c) = name.chars().find(|c| !c.is_ascii_graphic() || *c == '+') {
        return Err(bad(format!(
            "a log origin or key name is printable ASCII without spaces or '+', not {:?}",
            c
        )));
    }
    if name.starts_with(rules::DOMAIN_PREFIX) || name.starts_with('{') || name == "cosignature/v1" {
        return Err(bad(format!(
            "{name:?} is reserved: it begins another kind of signed message"
        )));
    }
    Ok(())
}

impl Checkpoint {
    /// A checkpoint of `origin`'s tree of `size` leaves with head `root`.
    pub fn new(origin: &str, size: u64, root: Sha256Digest) -> Result<Self, NoteError> {
        check_name(origin)?;
        Ok(Checkpoint {
            origin: origin.to_owned(),
            size,
            root,
        })
    }
    /// The origin line: the log's name.
    pub fn origin(&self) -> &str {
        &self.origin
    }
    /// The tree size.
    pub fn size(&self) -> u64 {
        self.size
    }
    /// The tree head.
    pub fn root(&self) -> &Sha256Digest {
        &self.root
    }
    /// The note text the log signs.
    pub fn body(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            b64_encode(&self.root.0)
        )
    }

    /// Parse a checkpoint body: exactly three lines, the size in decimal without leading
    /// zeros, the root in padded standard base64 of 32 bytes.
    pub fn parse_body(body: &str) -> Result<Self, NoteError> {
        let Some(text) = body.strip_suffix('\n') else {
            return Err(bad("a checkpoint ends with a newline"));
        };
        let lines: Vec<&str> = text.split('\n').collect();
        if lines.len() != 3 {
            return Err(bad(format!(
                "a checkpoint has 3 lines (origin, size, root; pith writes no extension lines), not {}",
                lines.len()
            )));
        }
        check_name(lines[0]).map_err(|e| bad(format!("line 1 (origin): {e}")))?;
        let size_ok = !lines[1].is_empty()
            && lines[1].len() <= 20
            && lines[1].bytes().all(|b| b.is_ascii_digit())
            && (lines[1] == "0" || !lines[1].starts_with('0'));
        let size = size_ok
            .then(|| lines[1].parse::<u64>().ok())
            .flatten()
            .ok_or_else(|| {
                bad(format!(
                    "line 2 (tree size): expected a decimal number without leading zeros, found {:?}",
                    crate::format::text::visible(lines[1])
                ))
            })?;
        let root = b64_decode(lines[2])
            .filter(|b| b.len() == 32 && b64_encode(b) == lines[2])
            .ok_or_else(|| {
                bad(format!(
                    "line 3 (root hash): expected 32 bytes in padded base64, found {:?}",
                    crate::format::text::visible(lines[2])
                ))
            })?;
        Ok(Checkpoint {
            origin: lines[0].to_owned(),
            size,
            root: Sha256Digest(root.try_into().unwrap_or([0; 32])),
        })
    }
}

/// The text a witness signs for a checkpoint at `time` (unix seconds; C2SP
/// tlog-cosignature `cosignature/v1`): `cosignature/v1\ntime <time>\n` and the body.
pub fn cosignature_message(body: &str, time: u64) -> String {
    format!("cosignature/v1\ntime {time}\n{body}")
}

/// The 4-byte key hash that names a key in a note's signature line.
pub fn key_hash(name: &str, sig_type: u8, public: &[u8; 32]) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([b'\n', sig_type]);
    h.update(public);
    let d = h.finalize();
    [d[0], d[1], d[2], d[3]]
}

/// One signature line of a note.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoteSignature {
    /// The key name.
    pub name: String,
    /// The key hash (`key_hash`).
    pub key_hash: [u8; 4],
    /// The signature bytes after the key hash (64 for Ed25519, 72 for a cosignature).
    pub signature: Vec<u8>,
}

impl NoteSignature {
    /// The line, with its newline.
    pub fn line(&self) -> String {
        let mut b = self.key_hash.to_vec();
        b.extend_from_slice(&self.signature);
        format!("\u{2014} {} {}\n", self.name, b64_encode(&b))
    }
}

/// A parsed note: its signed text and its signature lines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    /// The text that is signed, ending in a newline.
    pub body: String,
    /// The signature lines, in order.
    pub signatures: Vec<NoteSignature>,
}

impl Note {
    /// The note as it is written: body, blank line, signature lines.
    pub fn text(&self) -> String {
        let mut s = self.body.clone();
        s.push('\n');
        for sig in &self.signatures {
            s.push_str(&sig.line());
        }
        s
    }

    /// Parse a signed note, bounded (`rules::MAX_NOTE` bytes, `rules::MAX_NOTE_SIGNATURES`
    /// signatures): UTF-8 without control characters but newlines, the body ended by the
    /// last blank line, at least one signature line, nothing after the last.
    pub fn parse(bytes: &[u8]) -> Result<Note, NoteError> {
        if bytes.len() > rules::MAX_NOTE {
            return Err(bad(format!(
                "a signed note is at most {} bytes, this one {}",
                rules::MAX_NOTE,
                bytes.len()
            )));
        }
        let text = std::str::from_utf8(bytes).map_err(|e| {
            bad(format!(
                "a signed note is UTF-8; byte {} is not",
                e.valid_up_to()
            ))
        })?;
        if let Some((i, c)) = text
            .char_indices()
            .find(|(_, c)| (c.is_control() && *c != '\n') || is_bidi(*c))
        {
            let line = text[..i].matches('\n').count() + 1;
            return Err(bad(format!(
                "line {line}: control character {} in a signed note",
                crate::format::text::visible(&c.to_string())
            )));
        }
        let Some((body, sigs)) = text.rsplit_once("\n\n") else {
            return Err(bad(
                "a signed note is its text, a blank line, then signature lines; found no blank line",
            ));
        };
        let body_lines = body.matches('\n').count() + 1;
        let Some(sigs) = sigs.strip_suffix('\n') else {
            return Err(bad("a signed note ends with a newline"));
        };
        let mut signatures = Vec::new();
        for (n, line) in sigs.split('\n').enumerate() {
            let at = body_lines + 2 + n;
            if signatures.len() == rules::MAX_NOTE_SIGNATURES {
                return Err(bad(format!(
                    "line {at}: more than {} signatures",
                    rules::MAX_NOTE_SIGNATURES
                )));
            }
            signatures.push(parse_signature(line).map_err(|e| bad(format!("line {at}: {e}")))?);
        }
        Ok(Note {
            body: format!("{body}\n"),
            signatures,
        })
    }
}

fn is_bidi(c: char) -> bool {
    matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}')
}

fn parse_signature(line: &str) -> Result<NoteSignature, NoteError> {
    let Some(rest) = line.strip_prefix("\u{2014} ") else {
        return Err(bad(
            "a signature line begins with \"\u{2014} \" (an em dash and a space)",
        ));
    };
    let Some((name, b64)) = rest.split_once(' ') else {
        return Err(bad("a signature line is \"\u{2014} NAME BASE64\""));
    };
    check_name(name)?;
    let raw = b64_decode(b64)
        .filter(|b| b.len() > 4 && b64_encode(b) == b64)
        .ok_or_else(|| bad("the signature is not padded base64 of a key hash and a signature"))?;
    Ok(NoteSignature {
        name: name.to_owned(),
        key_hash: [raw[0], raw[1], raw[2], raw[3]],
        signature: raw[4..].to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_round_trips_and_refuses_other_forms() {
        let cp = Checkpoint::new("pith.science/log", 12, Sha256Digest([9; 32])).unwrap();
        assert_eq!(Checkpoint::parse_body(&cp.body()).unwrap(), cp);
        let root = b64_encode(&[9; 32]);
        for body in [
            format!("o\n012\n{root}\n"),
            format!("o\n12\n{root}"),
            format!("o\n12\n{root}\next\n"),
            format!("o\n+12\n{root}\n"),
            format!("o\n18446744073709551616\n{root}\n"),
            format!("o o\n12\n{root}\n"),
            "o\n12\nAAAA\n".to_owned(),
            format!("pith-domain-v1:x\n1\n{root}\n"),
        ] {
            assert!(Checkpoint::parse_body(&body).is_err(), "{body:?}");
        }
    }
}
