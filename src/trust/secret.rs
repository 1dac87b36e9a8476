//! Signing keys: generation, the secret-key file format, age encryption.
//!
//! A secret key file `ID.key.age` is an age file (encrypted to a passphrase with scrypt,
//! or to the custodians' X25519 recipients). Its plaintext is five text lines, so the stock
//! `age -d` shows it and any Ed25519 implementation can use the seed:
//!
//! ```text
//! pith-secret-key-v1
//! key_id: pith-v1-2026-05
//! algorithm: ed25519
//! created_at: 2026-05-17T12:00:00Z
//! seed_hex: <64 hex characters: the 32-byte RFC 8032 private key seed>
//! ```
//!
//! The seed never leaves this module except inside [`Zeroizing`] buffers, and no `Debug`,
//! `Display` or error message carries it.

use std::io::{Read as _, Write as _};
use std::str::FromStr as _;

use age::secrecy::SecretString;
use zeroize::{Zeroize as _, ZeroizeOnDrop, Zeroizing};

use crate::format::rules;
use crate::format::time::Timestamp;
use crate::trust::keys::PublicKey;

/// First line of the plaintext of a secret key file.
pub(crate) const SECRET_FORMAT: &str = "pith-secret-key-v1";

/// Lowest scrypt work factor (log2 N) pith writes or accepts; age's default aims at ~1 s.
pub const MIN_SCRYPT_LOG_N: u8 = 10;
/// Highest scrypt work factor pith writes: age's one-second calibration is capped here
/// (2^20: 1 GiB, a few seconds), so a fast machine never writes a file a slower one
/// cannot open.
pub const MAX_SCRYPT_WRITE_LOG_N: u8 = 20;
/// Highest scrypt work factor pith accepts when decrypting: what it ever writes plus one.
/// A file demanding more is refused before any work (age checks the header first), so a
/// tampered key file cannot make pith spend 4 GiB and 20 s before the error.
pub const MAX_SCRYPT_LOG_N: u8 = MAX_SCRYPT_WRITE_LOG_N + 1;

/// The scrypt work factor an age file's header names, if it is passphrase-encrypted.
fn scrypt_log_n(age_file: &[u8]) -> Option<u8> {
    let head = &age_file[..age_file.len().min(512)];
    let text = std::str::from_utf8(head.split(|b| *b == b'\n').nth(1)?).ok()?;
    let rest = text.strip_prefix("-> scrypt ")?;
    rest.split(' ').nth(1)?.parse().ok()
}

/// An Ed25519 signing key with its identity. Zeroized on drop; `Debug` shows no secret.
///
/// The secret (seed and its SHA-512 expansion, computed once) lives in a page of its own
/// that is locked in RAM with `mlock` while the key is loaded, so it is never written to
/// swap; where the system refuses the lock (`RLIMIT_MEMLOCK`), the key still works and
/// [`SigningKey::is_locked`] says so.
pub struct SigningKey {
    key_id: String,
    created_at: Timestamp,
    public: PublicKey,
    // dropped before `secret`: the page is unlocked while still allocated, then zeroized
    lock: Option<region::LockGuard>,
    secret: Box<SecretPage>,
}

/// The secret halves of a key, alone in one page-aligned, page-sized allocation so that
/// locking it locks nothing else and no other value shares (or unlocks) its page.
#[repr(C, align(4096))]
struct SecretPage {
    seed: ed25519_dalek::SigningKey,
    expanded: ed25519_dalek::hazmat::ExpandedSecretKey,
}

// ed25519_dalek's SigningKey and ExpandedSecretKey zeroize on drop (feature "zeroize").
impl ZeroizeOnDrop for SigningKey {}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("key_id", &self.key_id)
            .field("fingerprint", &self.public.fingerprint())
            .finish_non_exhaustive()
    }
}

impl crate::trust::signer::Signer for SigningKey {
    fn key_id(&self) -> &str {
        &self.key_id
    }
    fn public(&self) -> &PublicKey {
        &self.public
    }
    fn sign(
        &self,
        message: &crate::trust::signer::Message,
    ) -> Result<[u8; 64], crate::trust::signer::SignError> {
        // the RFC 8032 signature ed25519_dalek's `sign` makes, without re-expanding the seed
        Ok(ed25519_dalek::hazmat::raw_sign::<sha2::Sha512>(
            &self.secret.expanded,
            message.as_bytes(),
            self.public.verifying_key(),
        )
        .to_bytes())
    }
}

/// What went wrong with a secret key. Never carries secret bytes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SecretKeyError {
    /// The passphrase or identity does not open the file.
    #[error("cannot decrypt: wrong passphrase or identity ({0})")]
    Decrypt(String),
    /// Encryption failed.
    #[error("cannot encrypt the secret key: {0}")]
    Encrypt(String),
    /// The decrypted plaintext is not a pith secret key.
    #[error("not a pith secret key: {0}")]
    Format(String),
    /// A recipient is not an age X25519 recipient.
    #[error("not an age X25519 recipient (age1...): {0}")]
    Recipient(String),
    /// An identity file cannot be used.
    #[error("identity file: {0}")]
    Identity(String),
    /// The file is encrypted to age recipients, and a passphrase was given.
    #[error("the file is encrypted to age recipients, not a passphrase: an identity opens it")]
    NeedsIdentity,
    /// The passphrase is empty.
    #[error("empty passphrase refused")]
    EmptyPassphrase,
}

impl SigningKey {
    /// A new key from the operating system's CSPRNG.
    pub fn generate(key_id: &str, created_at: Timestamp) -> Self {
        let inner = ed25519_dalek::SigningKey::generate(&mut getrandom::rand_core::UnwrapErr(
            getrandom::SysRng,
        ));
        Self::wrap(key_id, created_at, inner)
    }

    /// A key from its 32-byte seed (RFC 8032 private key).
    pub fn from_seed(key_id: &str, created_at: Timestamp, seed: &[u8; 32]) -> Self {
        Self::wrap(
            key_id,
            created_at,
            ed25519_dalek::SigningKey::from_bytes(seed),
        )
    }

    fn wrap(key_id: &str, created_at: Timestamp, seed: ed25519_dalek::SigningKey) -> Self {
        let raw = seed.verifying_key().to_bytes();
        // a public key derived from a seed always decodes
        let public = PublicKey::from_verifying_key(seed.verifying_key());
        debug_assert_eq!(public.raw(), &raw);
        let expanded = ed25519_dalek::hazmat::ExpandedSecretKey::from(seed.as_bytes());
        let secret = Box::new(SecretPage { seed, expanded });
        let lock = region::lock(&*secret as *const SecretPage, size_of::<SecretPage>()).ok();
        SigningKey {
            key_id: key_id.to_owned(),
            created_at,
            public,
            lock,
            secret,
        }
    }

    /// Whether the secret's page is locked in RAM (not swappable).
    pub fn is_locked(&self) -> bool {
        self.lock.is_some()
    }

    /// The key id.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }
    /// When the key was created.
    pub fn created_at(&self) -> &Timestamp {
        &self.created_at
    }
    /// The public half.
    pub fn public(&self) -> &PublicKey {
        &self.public
    }

    /// The plaintext of the secret key file (module docs).
    pub(crate) fn to_plaintext(&self) -> Zeroizing<Vec<u8>> {
        let mut seed_hex = Zeroizing::new(String::with_capacity(64));
        for b in self.secret.seed.as_bytes() {
            seed_hex.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
            seed_hex.push(char::from(b"0123456789abcdef"[usize::from(b & 15)]));
        }
        let mut out = Zeroizing::new(Vec::with_capacity(200));
        out.extend_from_slice(
            format!(
                "{SECRET_FORMAT}\nkey_id: {}\nalgorithm: {}\ncreated_at: {}\nseed_hex: ",
                self.key_id,
                rules::ALGORITHM,
                self.created_at.fmt_seconds()
            )
            .as_bytes(),
        );
        out.extend_from_slice(seed_hex.as_bytes());
        out.push(b'\n');
        out
    }

    /// Parse the plaintext of a secret key file.
    pub fn from_plaintext(text: &[u8]) -> Result<Self, SecretKeyError> {
        let bad = |m: &str| SecretKeyError::Format(m.to_owned());
        let text = std::str::from_utf8(text).map_err(|_| bad("not UTF-8"))?;
        let mut lines = text.lines();
        if lines.next() != Some(SECRET_FORMAT) {
            return Err(bad(&format!("line 1: expected {SECRET_FORMAT:?}")));
        }
        let mut field = |n: usize, name: &str| -> Result<&str, SecretKeyError> {
            lines
                .next()
                .and_then(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(": ")))
                .ok_or_else(|| bad(&format!("line {n}: expected \"{name}: ...\"")))
        };
        let key_id = field(2, "key_id")?.to_owned();
        if field(3, "algorithm")? != rules::ALGORITHM {
            return Err(bad("line 3: expected algorithm ed25519"));
        }
        let created = field(4, "created_at")?;
        let created_at =
            Timestamp::parse(created).ok_or_else(|| bad("line 4: expected a UTC timestamp"))?;
        let seed_hex = field(5, "seed_hex")?;
        let mut seed = Zeroizing::new([0u8; 32]);
        if seed_hex.len() != 64 {
            return Err(bad("line 5: expected 64 hex characters"));
        }
        for (i, pair) in seed_hex.as_bytes().chunks(2).enumerate() {
            let d = |c: u8| match c {
                b'0'..=b'9' => Some(c - b'0'),
                b'a'..=b'f' => Some(c - b'a' + 10),
                _ => None,
            };
            match (d(pair[0]), d(pair[1])) {
                (Some(h), Some(l)) => seed[i] = h << 4 | l,
                _ => return Err(bad("line 5: expected lower-case hex")),
            }
        }
        if lines.any(|l| !l.is_empty()) {
            return Err(bad("unexpected text after line 5"));
        }
        if !crate::format::digest::valid_key_id(&key_id) {
            return Err(bad("line 2: key id has characters outside [A-Za-z0-9._-]"));
        }
        Ok(Self::from_seed(&key_id, created_at, &seed))
    }

    /// Encrypt to an age file as `protection` says.
    pub fn encrypt(&self, protection: &Protection) -> Result<Vec<u8>, SecretKeyError> {
        let enc = |e: &dyn std::fmt::Display| SecretKeyError::Encrypt(e.to_string());
        let encryptor = match protection {
            Protection::Passphrase { passphrase, log_n } => {
                use age::secrecy::ExposeSecret as _;
                if passphrase.expose_secret().is_empty() {
                    return Err(SecretKeyError::EmptyPassphrase);
                }
                let mut r = age::scrypt::Recipient::new(passphrase.clone());
                if let Some(n) = log_n {
                    if !(MIN_SCRYPT_LOG_N..=MAX_SCRYPT_WRITE_LOG_N).contains(n) {
                        return Err(SecretKeyError::Encrypt(format!(
                            "scrypt work factor 2^{n} outside 2^{MIN_SCRYPT_LOG_N}..=2^{MAX_SCRYPT_WRITE_LOG_N}"
                        )));
                    }
                    r.set_work_factor(*n);
                }
                age::Encryptor::with_recipients(std::iter::once(&r as &dyn age::Recipient))
                    .map_err(|e| enc(&e))?
            }
            Protection::Recipients(rs) => {
                if rs.is_empty() {
                    return Err(SecretKeyError::Recipient("no recipients".into()));
                }
                age::Encryptor::with_recipients(rs.iter().map(|r| r as &dyn age::Recipient))
                    .map_err(|e| enc(&e))?
            }
        };
        let mut out = Vec::new();
        let mut w = encryptor.wrap_output(&mut out).map_err(|e| enc(&e))?;
        w.write_all(&self.to_plaintext()).map_err(|e| enc(&e))?;
        w.finish().map_err(|e| enc(&e))?;
        if let Protection::Passphrase {
            passphrase,
            log_n: None,
        } = protection
            && scrypt_log_n(&out).is_some_and(|n| n > MAX_SCRYPT_WRITE_LOG_N)
        {
            // calibrated above the cap: write at the cap instead
            return self.encrypt(&Protection::Passphrase {
                passphrase: passphrase.clone(),
                log_n: Some(MAX_SCRYPT_WRITE_LOG_N),
            });
        }
        Ok(out)
    }

    /// Decrypt an age file holding a secret key.
    pub fn decrypt(ciphertext: &[u8], unlock: &Unlock) -> Result<Self, SecretKeyError> {
        let dec = |e: &dyn std::fmt::Display| SecretKeyError::Decrypt(e.to_string());
        let d = age::Decryptor::new_buffered(ciphertext)
            .map_err(|e| SecretKeyError::Format(format!("not an age file: {e}")))?;
        let mut reader = match unlock {
            Unlock::Passphrase(p) => {
                if !d.is_scrypt() {
                    return Err(SecretKeyError::NeedsIdentity);
                }
                let mut id = age::scrypt::Identity::new(p.clone());
                id.set_max_work_factor(MAX_SCRYPT_LOG_N);
                d.decrypt(std::iter::once(&id as &dyn age::Identity))
                    .map_err(|e| SecretKeyError::Decrypt(describe(&e)))?
            }
            Unlock::Identities(ids) => {
                if d.is_scrypt() {
                    return Err(SecretKeyError::Decrypt(
                        "the file is encrypted to a passphrase, not to recipients".into(),
                    ));
                }
                d.decrypt(ids.iter().map(|i| i.as_ref() as &dyn age::Identity))
                    .map_err(|e| dec(&e))?
            }
        };
        let mut plain = Zeroizing::new(Vec::with_capacity(256));
        if let Err(e) = reader.read_to_end(&mut plain) {
            plain.zeroize();
            return Err(dec(&e));
        }
        Self::from_plaintext(&plain)
    }
}

/// An age decryption error as text. `ExcessiveWork` is described here: age 0.11's own
/// message computes `1 << (required - target)` and panics for a file demanding a huge
/// scrypt work factor (found by the `key_decrypt` fuzz target).
fn describe(e: &age::DecryptError) -> String {
    match e {
        age::DecryptError::ExcessiveWork { required, .. } => {
            format!(
                "the file demands an scrypt work factor of 2^{required}, more than the 2^{MAX_SCRYPT_LOG_N} pith accepts"
            )
        }
        other => other.to_string(),
    }
}

/// How to protect a secret key file.
pub enum Protection {
    /// scrypt passphrase; `log_n` None lets age calibrate to about one second.
    Passphrase {
        /// The passphrase.
        passphrase: SecretString,
        /// Work factor override (log2 N).
        log_n: Option<u8>,
    },
    /// The custodians' age X25519 recipients.
    Recipients(Vec<age::x25519::Recipient>),
}

impl std::fmt::Debug for Protection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Protection::Passphrase { log_n, .. } => f
                .debug_struct("Passphrase")
                .field("log_n", log_n)
                .finish_non_exhaustive(),
            Protection::Recipients(r) => f.debug_tuple("Recipients").field(&r.len()).finish(),
        }
    }
}

/// How to open a secret key file.
pub enum Unlock {
    /// The passphrase.
    Passphrase(SecretString),
    /// age identities (X25519 secret keys).
    Identities(Vec<Box<dyn age::Identity>>),
}

impl std::fmt::Debug for Unlock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unlock::Passphrase(_) => f.write_str("Passphrase(..)"),
            Unlock::Identities(i) => f.debug_tuple("Identities").field(&i.len()).finish(),
        }
    }
}

/// Parse one `age1...` recipient.
pub fn parse_recipient(s: &str) -> Result<age::x25519::Recipient, SecretKeyError> {
    age::x25519::Recipient::from_str(s.trim())
        .map_err(|e| SecretKeyError::Recipient(format!("{s:?}: {e}")))
}

/// Parse a recipients file: one `age1...` per line; blank lines and `#` comments skipped.
pub fn parse_recipients_file(text: &str) -> Result<Vec<age::x25519::Recipient>, SecretKeyError> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .map(|(n, l)| {
            parse_recipient(l)
                .map_err(|e| SecretKeyError::Recipient(format!("line {}: {e}", n + 1)))
        })
        .collect()
}

/// Parse an age identity file (`AGE-SECRET-KEY-1...` lines).
pub fn parse_identity_file(bytes: &[u8]) -> Result<Vec<Box<dyn age::Identity>>, SecretKeyError> {
    let f = age::IdentityFile::from_buffer(bytes)
        .map_err(|e| SecretKeyError::Identity(e.to_string()))?;
    let ids = f
        .into_identities()
        .map_err(|e| SecretKeyError::Identity(e.to_string()))?;
    if ids.is_empty() {
        return Err(SecretKeyError::Identity("no identity in the file".into()));
    }
    Ok(ids)
}

/// Keep secrets out of core dumps: set the core-file limit to zero and (Linux) mark the
/// process non-dumpable, which also stops other processes of the same user from
/// attaching to it. The `pith` binary calls this before anything else.
pub fn harden_process() -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use rustix::process::{Resource, Rlimit, setrlimit};
        setrlimit(
            Resource::Core,
            Rlimit {
                current: Some(0),
                maximum: Some(0),
            },
        )?;
        #[cfg(target_os = "linux")]
        rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// pith's signing path (the seed expanded once, `raw_sign`) makes SUPERCOP's
    /// known-answer signatures, all 1,024, from the seed alone: signatures checked
    /// against bytes another implementation produced, not against dalek's own.
    #[test]
    fn signs_the_supercop_known_answers() {
        use crate::trust::signer::Signer as _;
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/crypto/sign.input"
        ))
        .unwrap();
        let hex = |s: &str| crate::format::digest::unhex(s).unwrap();
        let mut n = 0;
        for line in text.lines() {
            let f: Vec<&str> = line.split(':').collect();
            let (sk, pk, msg, sm) = (hex(f[0]), hex(f[1]), hex(f[2]), hex(f[3]));
            let seed: [u8; 32] = sk[..32].try_into().unwrap();
            let k = SigningKey::from_seed("kat", Timestamp::now(), &seed);
            assert_eq!(
                k.public().verifying_key().as_bytes(),
                &pk[..],
                "line {}",
                n + 1
            );
            let sig = k
                .sign(&crate::trust::signer::Message::raw(msg.clone()))
                .unwrap();
            assert_eq!(sig[..], sm[..64], "line {}", n + 1);
            assert_eq!(sm[64..], msg[..], "line {}", n + 1);
            n += 1;
        }
        assert_eq!(n, 1024);
    }

    #[test]
    fn the_work_factor_is_read_from_the_header_and_capped() {
        let k = SigningKey::from_seed("t", Timestamp::now(), &[1; 32]);
        let out = k
            .encrypt(&Protection::Passphrase {
                passphrase: "p".to_owned().into(),
                log_n: Some(12),
            })
            .unwrap();
        assert_eq!(scrypt_log_n(&out), Some(12));
        // a tampered header demanding 2^22 (4 GiB): refused by the work-factor check, which
        // age makes before deriving anything
        let text = out.clone();
        let nl = text.iter().skip(1).position(|b| *b == b'\n').unwrap() + 1;
        let second = text[nl + 1..].iter().position(|b| *b == b'\n').unwrap() + nl + 1;
        let line = std::str::from_utf8(&text[nl + 1..second])
            .unwrap()
            .to_owned();
        let forged_line = line.replacen(" 12", " 22", 1);
        let mut forged = text[..nl + 1].to_vec();
        forged.extend_from_slice(forged_line.as_bytes());
        forged.extend_from_slice(&text[second..]);
        let e =
            SigningKey::decrypt(&forged, &Unlock::Passphrase("p".to_owned().into())).unwrap_err();
        assert!(e.to_string().contains("2^22"), "{e}");

        assert!(
            k.encrypt(&Protection::Passphrase {
                passphrase: "p".to_owned().into(),
                log_n: Some(MAX_SCRYPT_WRITE_LOG_N + 1),
            })
            .is_err()
        );
    }
}
