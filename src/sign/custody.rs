//! Key custody operations on a keyring directory: generate, rotate, revoke, list.
//!
//! A keyring directory holds `ID.pub.json` key documents, `ID.key.age` secret keys (or
//! those live elsewhere), `OLD--NEW.transition.json` and `ID.revocation.json` statements,
//! and the transcript `ceremony.jsonl`. Every file is written atomically (temp file in
//! the same directory, fsynced, renamed); secrets with mode 0600; nothing is overwritten
//! except the public documents a rotation updates. The library never prompts: callers
//! bring unlocked keys and passphrases.

use std::path::{Path, PathBuf};

use crate::format::canon::{self, Value};
use crate::format::time::Timestamp;
use crate::io::{IoError, write_atomic};
use crate::trust::keys::{KeyDocument, KeyWindow, TrustedKey};
use crate::trust::secret::{Protection, SecretKeyError, SigningKey};
use crate::trust::signer::{Domain, SignError, Signer};
use crate::trust::statements::{self, Reason};
use crate::verify::keyring::{Keyring, KeyringError};

/// Why a custody operation stopped. Carries no secret.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CustodyError {
    /// A file could not be read or written.
    #[error(transparent)]
    Io(#[from] IoError),
    /// The keyring does not load.
    #[error(transparent)]
    Keyring(#[from] KeyringError),
    /// A secret key could not be encrypted or opened.
    #[error("{path}: {source}")]
    Secret {
        /// The key file.
        path: String,
        /// What failed.
        source: SecretKeyError,
    },
    /// The operation is refused (exists, wrong state, mismatch).
    #[error("{0}")]
    Refused(String),
    /// The key id is already in the directory and replacing it was not asked for.
    #[error("refusing to overwrite {}: key {key_id:?} exists", path.display())]
    Exists {
        /// The existing file.
        path: PathBuf,
        /// The key id.
        key_id: String,
    },
    /// A signature could not be made.
    #[error(transparent)]
    Sign(#[from] SignError),
}

/// `ID.pub.json` in `dir`.
pub fn pub_path(dir: &Path, id: &str) -> PathBuf {
    dir.join(format!("{id}.pub.json"))
}

/// `ID.key.age` in `dir`.
pub fn secret_path(dir: &Path, id: &str) -> PathBuf {
    dir.join(format!("{id}.key.age"))
}

/// The default key id for a time: `pith-v1-YYYY-MM`.
pub fn default_key_id(t: &Timestamp) -> String {
    let s = t.fmt_seconds();
    format!("pith-v1-{}", &s[..7])
}

/// What `generate` wrote.
#[derive(Debug)]
pub struct Generated {
    /// The key document.
    pub doc: Value,
    /// Its file.
    pub pub_path: PathBuf,
    /// The encrypted secret.
    pub secret_path: PathBuf,
}

fn check_id(id: &str) -> Result<(), CustodyError> {
    if crate::format::digest::valid_key_id(id) {
        Ok(())
    } else {
        Err(CustodyError::Refused(format!(
            "key id {id:?}: expected 1-64 characters of [A-Za-z0-9._-], not starting with '.'"
        )))
    }
}

fn doc_bytes(v: &Value) -> Vec<u8> {
    let mut b = canon::to_canonical(v);
    b.push(b'\n');
    b
}

/// What a new key's public document says besides the key (spec §7).
#[derive(Clone, Copy, Debug)]
pub struct DocFields<'a> {
    /// `url`.
    pub url: Option<&'a str>,
    /// `notes`.
    pub notes: Option<&'a str>,
    /// `valid_from`: when the key starts signing.
    pub valid_from: &'a Timestamp,
}

/// Write a new key's secret (0600, create-new unless `force`) and public document, and
/// log the generation (signed by the new key, dated `now`) in the directory's transcript.
pub fn write_new_key(
    dir: &Path,
    key: &SigningKey,
    protection: &Protection,
    fields: DocFields<'_>,
    now: &Timestamp,
    force: bool,
) -> Result<Generated, CustodyError> {
    let DocFields {
        url,
        notes,
        valid_from,
    } = fields;
    check_id(key.key_id())?;
    // the same key material never under two ids: the keyring would no longer load
    let mut loaded = None;
    match Keyring::load(dir) {
        Ok(ring) => {
            if let Some(k) = ring.get(key.public().fingerprint())
                && k.doc.key_id != key.key_id()
            {
                return Err(CustodyError::Refused(format!(
                    "this key is already in {} as {:?} ({}): one key has one id",
                    dir.display(),
                    k.doc.key_id,
                    k.file.display()
                )));
            }
            loaded = Some(ring);
        }
        Err(KeyringError::Empty { .. } | KeyringError::Dir { .. }) => {}
        Err(e) => return Err(e.into()),
    }
    let pub_path = pub_path(dir, key.key_id());
    let secret_path = secret_path(dir, key.key_id());
    if !force {
        for p in [&pub_path, &secret_path] {
            if p.exists() {
                return Err(CustodyError::Exists {
                    path: p.clone(),
                    key_id: key.key_id().to_owned(),
                });
            }
        }
    }
    let sealed = key
        .encrypt(protection)
        .map_err(|source| CustodyError::Secret {
            path: secret_path.display().to_string(),
            source,
        })?;
    if force {
        retire(dir, key.key_id(), loaded.as_ref(), now)?;
    }
    write_atomic(&secret_path, &sealed, force, Some(0o600))?;
    let doc = KeyDocument::build(key.key_id(), key.public(), url, notes, Some(valid_from));
    write_atomic(&pub_path, &doc_bytes(&doc), force, Some(0o644))?;
    let protection = match protection {
        Protection::Passphrase { .. } => "passphrase".to_owned(),
        Protection::Recipients(r) => format!("age recipients ({})", r.len()),
    };
    append_transcript(
        dir,
        "generate",
        canon::object([
            ("key", statements::key_ref(key.key_id(), key.public())),
            ("protection", protection.into()),
            ("valid_from", valid_from.to_string().into()),
        ]),
        key,
        now,
    )?;
    Ok(Generated {
        doc,
        pub_path,
        secret_path,
    })
}

/// Record a key generated inside a PKCS#11 token: its public document in `dir` and a
/// `generate` transcript entry signed by the token key itself. The secret never exists
/// outside the token, so there is no secret file; an existing document of the id, or the
/// same key under another id, is refused.
pub fn write_token_key(
    dir: &Path,
    key: &crate::trust::pkcs11::TokenKey,
    fields: DocFields<'_>,
    now: &Timestamp,
) -> Result<(Value, PathBuf), CustodyError> {
    let DocFields {
        url,
        notes,
        valid_from,
    } = fields;
    check_id(key.key_id())?;
    match Keyring::load(dir) {
        Ok(ring) => {
            if let Some(k) = ring.get(key.public().fingerprint()) {
                return Err(CustodyError::Refused(format!(
                    "this key is already in {} as {:?} ({})",
                    dir.display(),
                    k.doc.key_id,
                    k.file.display()
                )));
            }
        }
        Err(KeyringError::Empty { .. } | KeyringError::Dir { .. }) => {}
        Err(e) => return Err(e.into()),
    }
    let pub_path = pub_path(dir, key.key_id());
    if pub_path.exists() {
        return Err(CustodyError::Exists {
            path: pub_path,
            key_id: key.key_id().to_owned(),
        });
    }
    let doc = KeyDocument::build(key.key_id(), key.public(), url, notes, Some(valid_from));
    write_atomic(&pub_path, &doc_bytes(&doc), false, Some(0o644))?;
    append_transcript(
        dir,
        "generate",
        canon::object([
            ("key", statements::key_ref(key.key_id(), key.public())),
            ("protection", format!("pkcs11 token {}", key.token()).into()),
            ("valid_from", valid_from.to_string().into()),
        ]),
        key,
        now,
    )?;
    Ok((doc, pub_path))
}

/// The directory (inside a keyring) where replaced keys are kept.
pub const RETIRED_DIR: &str = "retired";

/// Move key `id`'s files out of the way before a replacement: to `retired/` under names
/// dated `now`, never deleted, so its transcript entries still verify. A key that a
/// statement names is not replaced (rotate from it instead): the statement would no
/// longer verify.
fn retire(
    dir: &Path,
    id: &str,
    ring: Option<&Keyring>,
    now: &Timestamp,
) -> Result<(), CustodyError> {
    let (p, s) = (pub_path(dir, id), secret_path(dir, id));
    if !p.exists() && !s.exists() {
        return Ok(());
    }
    if let Some(ring) = ring
        && let Some(k) = ring.by_id(id)
        && let Some(file) = ring.statement_naming(k.doc.key.fingerprint())
    {
        return Err(CustodyError::Refused(format!(
            "key {id:?} is named by {}: it cannot be replaced; rotate from it to a new key instead",
            file.display()
        )));
    }
    let retired = dir.join(RETIRED_DIR);
    std::fs::create_dir_all(&retired).map_err(|source| IoError::Write {
        path: retired.clone(),
        source,
    })?;
    let stamp = now.fmt_seconds().replace(':', "");
    for (from, suffix) in [(&p, "pub.json"), (&s, "key.age")] {
        if from.exists() {
            let to = retired.join(format!("{id}.{stamp}.{suffix}"));
            if to.exists() {
                return Err(CustodyError::Refused(format!(
                    "{} exists: not replacing a retired key",
                    to.display()
                )));
            }
            std::fs::rename(from, &to).map_err(|source| IoError::Write {
                path: to.clone(),
                source,
            })?;
        }
    }
    Ok(())
}

/// Append one entry, signed by `actor`, to `dir/ceremony.jsonl` (created when absent).
/// An existing transcript must parse; the whole file is rewritten atomically.
pub(crate) fn append_transcript(
    dir: &Path,
    op: &str,
    details: Value,
    actor: &dyn Signer,
    now: &Timestamp,
) -> Result<(), CustodyError> {
    append_log(
        &dir.join(statements::TRANSCRIPT_FILE),
        Domain::Transcript,
        op,
        details,
        actor,
        now,
    )
}

/// Read a hash-chained log (ceremony transcript or signer audit log): its entries; an
/// absent file is empty; a damaged one is refused.
pub fn read_log(path: &Path) -> Result<Vec<Value>, CustodyError> {
    let text = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(IoError::Read {
                path: path.into(),
                source,
            }
            .into());
        }
    };
    let mut out = Vec::new();
    for (n, line) in text.split(|b| *b == b'\n').enumerate() {
        if line.is_empty() {
            continue;
        }
        out.push(canon::parse(line).map_err(|e| {
            CustodyError::Refused(format!(
                "{} line {}: not valid JSON {e}; the log is damaged",
                path.display(),
                n + 1
            ))
        })?);
    }
    Ok(out)
}

/// Append one entry, signed by `actor` as `domain` (which log it is), to the hash-chained
/// log at `path`.
pub(crate) fn append_log(
    path: &Path,
    domain: Domain,
    op: &str,
    details: Value,
    actor: &dyn Signer,
    now: &Timestamp,
) -> Result<(), CustodyError> {
    let path = path.to_path_buf();
    let mut text = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(source) => return Err(IoError::Read { path, source }.into()),
    };
    let mut last = None;
    for (n, line) in text.split(|b| *b == b'\n').enumerate() {
        if line.is_empty() {
            continue;
        }
        last = Some(canon::parse(line).map_err(|e| {
            CustodyError::Refused(format!(
                "{} line {}: not valid JSON {e}; not appending to a damaged transcript",
                path.display(),
                n + 1
            ))
        })?);
    }
    if !text.is_empty() && !text.ends_with(b"\n") {
        text.push(b'\n');
    }
    let entry = statements::transcript_entry(last.as_ref(), op, details, actor, domain, now)?;
    text.extend_from_slice(&canon::to_canonical(&entry));
    text.push(b'\n');
    write_atomic(&path, &text, true, Some(0o644))?;
    Ok(())
}

fn active_at<'a>(
    ring: &'a Keyring,
    id: &str,
    t: &Timestamp,
) -> Result<&'a TrustedKey, CustodyError> {
    let k = ring
        .by_id(id)
        .ok_or_else(|| CustodyError::Refused(format!("key {id:?} is not in the keyring")))?;
    match k.window_at(t) {
        KeyWindow::Valid => Ok(k),
        KeyWindow::Rotated(r) => Err(CustodyError::Refused(format!(
            "key {id:?} was rotated out at {r}"
        ))),
        KeyWindow::Revoked(r, why) => Err(CustodyError::Refused(format!(
            "key {id:?} was revoked at {r} ({why})"
        ))),
        KeyWindow::NotYetValid(f) => Err(CustodyError::Refused(format!(
            "key {id:?} is valid only from {f}"
        ))),
    }
}

fn matches_ring(key: &dyn Signer, ring: &Keyring, path: &Path) -> Result<(), CustodyError> {
    match ring.by_id(key.key_id()) {
        Some(k) if k.doc.key.raw() == key.public().raw() => Ok(()),
        Some(_) => Err(CustodyError::Refused(format!(
            "{}: the secret key does not match the keyring's document for {:?}",
            path.display(),
            key.key_id()
        ))),
        None => Err(CustodyError::Refused(format!(
            "{}: key {:?} is not in the keyring",
            path.display(),
            key.key_id()
        ))),
    }
}

/// The new key of a rotation.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // made once per rotation; a box would buy nothing
pub enum NewKey<'a> {
    /// Generated in this step: written to the keyring with this protection.
    Generate {
        /// The fresh key.
        key: SigningKey,
        /// How its secret file is protected.
        protection: &'a Protection,
        /// `url` of its document.
        url: Option<&'a str>,
        /// `notes` of its document.
        notes: Option<&'a str>,
    },
    /// Already in the keyring (unlocked by the caller: a key file or a token key).
    Existing(Box<dyn Signer>),
}

/// What a rotation wrote.
#[derive(Debug)]
pub struct Rotated {
    /// The statement file.
    pub statement_path: PathBuf,
    /// The statement.
    pub statement: Value,
    /// The new key's id.
    pub new_id: String,
}

/// Rotate from `old` to a new key at `at`: write the new key (if generated) with
/// `valid_from = at`, the transition statement signed by both keys, OLD's document with
/// `rotates_at = at`, and the transcript entries (dated now, when the acts happen). An
/// existing new key keeps its window. The keyring is reloaded at the end and
/// must verify.
pub fn rotate(
    dir: &Path,
    old: &dyn Signer,
    old_path: &Path,
    new: NewKey<'_>,
    at: &Timestamp,
    now: &Timestamp,
) -> Result<Rotated, CustodyError> {
    let ring = Keyring::load(dir)?;
    matches_ring(old, &ring, old_path)?;
    active_at(&ring, old.key_id(), now)?;
    active_at(&ring, old.key_id(), at)?;
    if at.micros() < now.micros() {
        return Err(CustodyError::Refused(format!(
            "the rotation time {at} is in the past: a rotation cannot take effect before it is made (now {now})"
        )));
    }
    let new_key = match new {
        NewKey::Generate {
            key,
            protection,
            url,
            notes,
        } => {
            if ring.by_id(key.key_id()).is_some() {
                return Err(CustodyError::Refused(format!(
                    "key {:?} is already in the keyring",
                    key.key_id()
                )));
            }
            let fields = DocFields {
                url,
                notes,
                valid_from: at,
            };
            write_new_key(dir, &key, protection, fields, now, false)?;
            Box::new(key) as Box<dyn Signer>
        }
        NewKey::Existing(key) => {
            matches_ring(&*key, &ring, &secret_path(dir, key.key_id()))?;
            key
        }
    };
    if new_key.public().raw() == old.public().raw() {
        return Err(CustodyError::Refused("the new key is the old key".into()));
    }
    let statement = statements::transition(old, &*new_key, at, now)?;
    let statement_path = dir.join(format!(
        "{}--{}.transition.json",
        old.key_id(),
        new_key.key_id()
    ));
    write_atomic(&statement_path, &doc_bytes(&statement), false, Some(0o644))?;
    // the documents follow the statement (the keyring applies the statement regardless)
    let set = |id: &str, member: &str, t: &Timestamp| -> Result<(), CustodyError> {
        let path = pub_path(dir, id);
        let bytes = crate::io::read_input(&path)?;
        let mut v = canon::parse(&bytes).map_err(|source| KeyringError::Parse {
            path: path.clone(),
            source,
        })?;
        if let Some(m) = v.as_object_mut() {
            m.insert(member.into(), t.to_string().into());
        }
        write_atomic(&path, &doc_bytes(&v), true, Some(0o644))?;
        Ok(())
    };
    // only OLD's window narrows; an existing NEW keeps its own (its earlier signatures
    // stay valid: no operation but a revocation invalidates a signature)
    set(old.key_id(), "rotates_at", at)?;
    let digest = statement
        .get("statement_sha256")
        .cloned()
        .unwrap_or(Value::Null);
    append_transcript(
        dir,
        "rotate",
        canon::object([
            ("from_key", statements::key_ref(old.key_id(), old.public())),
            (
                "to_key",
                statements::key_ref(new_key.key_id(), new_key.public()),
            ),
            ("rotates_at", at.to_string().into()),
            ("statement_sha256", digest),
        ]),
        old,
        now,
    )?;
    Keyring::load(dir)?;
    Ok(Rotated {
        statement_path,
        statement,
        new_id: new_key.key_id().to_owned(),
    })
}

/// What a revocation wrote.
#[derive(Debug)]
pub struct Revoked {
    /// The statement file.
    pub statement_path: PathBuf,
    /// Signed by the revoked key itself (no other key was available).
    pub self_signed: bool,
}

/// The key that should sign a revocation of `target` now: another key of the keyring
/// that is valid now (the one valid from latest); None when there is no other.
pub fn revocation_signer<'a>(
    ring: &'a Keyring,
    target: &str,
    now: &Timestamp,
) -> Option<&'a TrustedKey> {
    let successor = ring.by_id(target).and_then(|t| {
        ring.iter()
            .filter(|k| {
                may_revoke(ring, t, k, now)
                    && ring.succeeds(t.doc.key.fingerprint(), k.doc.key.fingerprint())
            })
            .max_by_key(|k| {
                k.doc
                    .valid_from
                    .map_or(i128::MIN, |t| i128::from(t.micros()))
            })
    });
    successor.or_else(|| {
        ring.iter()
            .filter(|k| k.doc.key_id != target && k.window_at(now) == KeyWindow::Valid)
            .max_by_key(|k| {
                k.doc
                    .valid_from
                    .map_or(i128::MIN, |t| i128::from(t.micros()))
            })
    })
}

/// May `signer` sign the revocation of `target` now (decided)? Any other key valid now,
/// or `target`'s successor (through verified transitions) that is not revoked, even
/// before its own window opens — so a compromise found before a rotation takes effect is
/// revoked by the successor, not by the compromised key.
fn may_revoke(ring: &Keyring, target: &TrustedKey, signer: &TrustedKey, now: &Timestamp) -> bool {
    if signer.doc.key_id == target.doc.key_id || signer.revoked.is_some() {
        return false;
    }
    signer.window_at(now) == KeyWindow::Valid
        || ring.succeeds(target.doc.key.fingerprint(), signer.doc.key.fingerprint())
}

/// Revoke `target` from `at` on, signed by `signer` (another active key, or the key
/// itself when it is the only one: then [`Revoked::self_signed`] is set).
pub fn revoke(
    dir: &Path,
    target: &str,
    at: &Timestamp,
    reason: Reason,
    signer: &dyn Signer,
    signer_path: &Path,
    now: &Timestamp,
) -> Result<Revoked, CustodyError> {
    check_id(target)?;
    let ring = Keyring::load(dir)?;
    matches_ring(signer, &ring, signer_path)?;
    let t = ring
        .by_id(target)
        .ok_or_else(|| CustodyError::Refused(format!("key {target:?} is not in the keyring")))?;
    if let Some((r, why)) = &t.revoked {
        return Err(CustodyError::Refused(format!(
            "key {target:?} is already revoked at {r} ({why})"
        )));
    }
    let self_signed = signer.key_id() == target;
    if self_signed {
        if let Some(other) = revocation_signer(&ring, target, now) {
            return Err(CustodyError::Refused(format!(
                "key {:?} is active: the revocation must be signed by it, not by the revoked key",
                other.doc.key_id
            )));
        }
    } else {
        let s = ring.get(signer.public().fingerprint()).ok_or_else(|| {
            CustodyError::Refused(format!("key {:?} is not in the keyring", signer.key_id()))
        })?;
        if !may_revoke(&ring, t, s, now) {
            active_at(&ring, signer.key_id(), now)?;
            return Err(CustodyError::Refused(format!(
                "key {:?} may not sign this revocation",
                signer.key_id()
            )));
        }
    }
    let statement = statements::revocation(target, &t.doc.key, at, reason, signer, now)?;
    let statement_path = dir.join(format!("{target}.revocation.json"));
    write_atomic(&statement_path, &doc_bytes(&statement), false, Some(0o644))?;
    // the keyring must load with the statement; otherwise take it back (it was create-new)
    if let Err(e) = Keyring::load(dir) {
        let _ = std::fs::remove_file(&statement_path);
        return Err(e.into());
    }
    append_transcript(
        dir,
        "revoke",
        canon::object([
            ("key", statements::key_ref(target, &t.doc.key)),
            ("reason", reason.as_str().into()),
            ("revoked_at", at.to_string().into()),
            (
                "statement_sha256",
                statement
                    .get("statement_sha256")
                    .cloned()
                    .unwrap_or(Value::Null),
            ),
        ]),
        signer,
        now,
    )?;
    Keyring::load(dir)?;
    Ok(Revoked {
        statement_path,
        self_signed,
    })
}

/// One key's status for `pith key list`.
#[derive(Clone, Debug, serde::Serialize)]
pub struct KeyStatus {
    /// The key id.
    pub key_id: String,
    /// Where the secret lives: `file` (an age file beside its document), `token LABEL` (a
    /// PKCS#11 token, as its transcript entry records), or `elsewhere` (not here).
    pub location: String,
    /// 32-hex fingerprint.
    pub fingerprint_sha256_hex: String,
    /// 26-char base32 fingerprint.
    pub fingerprint_sha256_b32_first128bits: String,
    /// `active`, `not_yet_valid`, `rotated`, `revoked`.
    pub status: &'static str,
    /// Start of the validity window, when bounded.
    pub valid_from: Option<String>,
    /// End of the validity window (exclusive): rotation or revocation, the earlier.
    pub valid_until: Option<String>,
    /// Rotation time.
    pub rotates_at: Option<String>,
    /// Revocation time.
    pub revoked_at: Option<String>,
    /// Revocation reason.
    pub revocation_reason: Option<String>,
    /// The key document's file.
    pub file: String,
}

/// The status of every key of a keyring at `now`.
pub fn list(ring: &Keyring, now: &Timestamp) -> Vec<KeyStatus> {
    // the tokens the transcripts beside the documents record keys as generated in
    let mut tokens: std::collections::HashMap<String, String> = Default::default();
    let mut dirs: Vec<PathBuf> = ring
        .iter()
        .filter_map(|k| k.file.parent().map(Path::to_path_buf))
        .collect();
    dirs.sort();
    dirs.dedup();
    for d in dirs {
        let Ok(bytes) = crate::io::read_input(&d.join(statements::TRANSCRIPT_FILE)) else {
            continue;
        };
        for line in bytes.split(|b| *b == b'\n') {
            let Ok(v) = canon::parse(line) else { continue };
            let details = v.get("details");
            let fp = details
                .and_then(|d| d.get("key"))
                .and_then(|k| k.get("public_key_fingerprint"))
                .and_then(Value::as_str);
            let token = details
                .and_then(|d| d.get("protection"))
                .and_then(Value::as_str)
                .and_then(|p| p.strip_prefix("pkcs11 token "));
            if v.get("op").and_then(Value::as_str) == Some("generate")
                && let (Some(fp), Some(t)) = (fp, token)
            {
                tokens.insert(fp.to_owned(), t.to_owned());
            }
        }
    }
    ring.iter()
        .map(|k| {
            let location = match (
                k.file
                    .parent()
                    .map(|d| secret_path(d, &k.doc.key_id))
                    .is_some_and(|p| p.exists()),
                tokens.get(k.doc.key.fingerprint()),
            ) {
                (true, _) => "file".to_owned(),
                (false, Some(t)) => format!("token {t}"),
                (false, None) => "elsewhere".to_owned(),
            };
            let status = match k.window_at(now) {
                KeyWindow::Valid => "active",
                KeyWindow::NotYetValid(_) => "not_yet_valid",
                KeyWindow::Rotated(_) => "rotated",
                KeyWindow::Revoked(..) => "revoked",
            };
            let ends = [k.doc.rotates_at, k.revoked.as_ref().map(|r| r.0)];
            let until = ends
                .iter()
                .flatten()
                .min_by_key(|t| t.micros())
                .map(ToString::to_string);
            KeyStatus {
                key_id: k.doc.key_id.clone(),
                location,
                fingerprint_sha256_hex: k.doc.key.fingerprint().to_owned(),
                fingerprint_sha256_b32_first128bits: k.doc.key.fingerprint_b32().to_owned(),
                status,
                valid_from: k.doc.valid_from.map(|t| t.to_string()),
                valid_until: until,
                rotates_at: k.doc.rotates_at.map(|t| t.to_string()),
                revoked_at: k.revoked.as_ref().map(|r| r.0.to_string()),
                revocation_reason: k.revoked.as_ref().map(|r| r.1.clone()),
                file: k.file.display().to_string(),
            }
        })
        .collect()
}
