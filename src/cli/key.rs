//! `pith key`: generate, list, rotate, revoke. Passphrases come from a file,
//! the environment (with a warning) or a no-echo TTY prompt; never from argv.

use std::path::PathBuf;

use pith::format::time::Timestamp;
use pith::sign::custody::{self, CustodyError, NewKey};
use pith::trust::secret::{Protection, SigningKey};
use pith::trust::statements::Reason;
use pith::verify::keyring::Keyring;

use super::unlock::{UnlockArgs, passphrase};
use super::{Failure, chain, json_line};

#[derive(clap::Subcommand, Debug)]
pub enum Cmd {
    /// Generate a key pair: ID.pub.json and the age-encrypted ID.key.age.
    Generate(GenerateArgs),
    /// Show every key of a keyring with its status and validity window.
    List(ListArgs),
    /// Rotate from one key to another in a cross-signed ceremony.
    Rotate(RotateArgs),
    /// Revoke a key from a given time on.
    Revoke(RevokeArgs),
    /// Import an existing Ed25519 seed (32 bytes, hex in a file) as ID.pub.json + ID.key.age.
    Import(ImportArgs),
    /// A key is compromised: rotate away from it (with --to) and revoke it from --since,
    /// then say which artifacts (--check) no longer verify.
    Compromise(CompromiseArgs),
}

/// `pith key compromise`.
#[derive(clap::Args, Debug)]
pub struct CompromiseArgs {
    /// The keyring directory.
    #[arg(long)]
    keyring: PathBuf,
    /// The compromised key's id.
    key_id: String,
    /// The earliest time the key may have leaked (UTC); it signs nothing valid from then on.
    #[arg(long, value_name = "TIME")]
    since: String,
    /// Rotate now from the compromised key to this key (existing or generated) first, when
    /// the compromised key is still active; the new key then signs the revocation.
    #[arg(long, value_name = "NEW")]
    to: Option<String>,
    /// Opens the compromised key (it co-signs the rotation) and, without --to, the key
    /// that signs the revocation.
    #[command(flatten)]
    unlock: UnlockArgs,
    /// Opens an existing NEW recipient-encrypted key.
    #[arg(long, value_name = "FILE")]
    to_identity: Option<PathBuf>,
    #[command(flatten)]
    protect: ProtectArgs,
    /// Artifacts (bundles, events, …) to re-verify with the updated keyring: each one that
    /// no longer verifies is listed.
    #[arg(long, value_name = "FILE")]
    check: Vec<PathBuf>,
    /// A registry ledger: every signature it records by the key from --since on is listed.
    #[arg(long, value_name = "DB")]
    registry: Option<PathBuf>,
    /// Machine-readable output: one JSON line per step (rotation, revocation) and a last
    /// one with what was checked and what the ledger holds that is now invalid.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    output: super::ReportOut,
}

/// How a new secret key file is protected.
#[derive(clap::Args, Debug, Clone)]
pub struct ProtectArgs {
    /// Encrypt to this age X25519 recipient (age1...) instead of a passphrase. Repeatable.
    #[arg(long = "recipient", value_name = "AGE1...")]
    recipients: Vec<String>,
    /// Encrypt to the recipients listed in this file (one per line, # comments).
    #[arg(long, value_name = "FILE")]
    recipients_file: Option<PathBuf>,
    /// Read the new key's passphrase from this file (first line); else PITH_NEW_PASSPHRASE
    /// (rotate) or PITH_PASSPHRASE (generate), else a prompt asked twice.
    #[arg(long, value_name = "FILE", hide = false)]
    new_passphrase_file: Option<PathBuf>,
    /// scrypt work factor (log2 N) for the passphrase; default: calibrated to about one
    /// second on this machine. Lower values are for tests only.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u8).range(i64::from(pith::trust::secret::MIN_SCRYPT_LOG_N)..=i64::from(pith::trust::secret::MAX_SCRYPT_WRITE_LOG_N)))]
    scrypt_log_n: Option<u8>,
}

#[derive(clap::Args, Debug)]
// the new key's passphrase is --passphrase-file here; the shared flag stays accepted
#[command(mut_arg("new_passphrase_file", |a| a.hide(true)))]
pub struct GenerateArgs {
    /// Key id (default pith-v1-YYYY-MM of now, UTC).
    #[arg(long)]
    key_id: Option<String>,
    /// Directory to write ID.pub.json, ID.key.age and the ceremony transcript into.
    #[arg(long)]
    out_dir: PathBuf,
    /// `url` of the key document.
    #[arg(long)]
    url: Option<String>,
    /// `notes` of the key document.
    #[arg(long)]
    notes: Option<String>,
    /// Read the passphrase from this file (first line). Else PITH_PASSPHRASE, else a prompt
    /// (asked twice).
    #[arg(long, value_name = "FILE", conflicts_with = "new_passphrase_file")]
    passphrase_file: Option<PathBuf>,
    #[command(flatten)]
    protect: ProtectArgs,
    /// Replace an existing key of the same id (the new files are complete before the old
    /// ones are replaced).
    #[arg(long, conflicts_with = "pkcs11")]
    force: bool,
    /// Generate the key inside this PKCS#11 token instead (`pkcs11:token=…;object=ID`):
    /// sensitive, never extractable; only its public document and a transcript entry are
    /// written.
    #[arg(long, value_name = "URI")]
    pkcs11: Option<String>,
    /// With --pkcs11: the token's user PIN from this file (first line). Else PITH_PIN, else
    /// a prompt.
    #[arg(long, value_name = "FILE", requires = "pkcs11")]
    pin_file: Option<PathBuf>,
    /// With --pkcs11: the PKCS#11 module (default: the URI's module-path, else
    /// PITH_PKCS11_MODULE).
    #[arg(long, value_name = "PATH", requires = "pkcs11")]
    pkcs11_module: Option<PathBuf>,
    /// Machine-readable output.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args, Debug)]
pub struct ListArgs {
    /// The keyring directory.
    #[arg(long)]
    keyring: PathBuf,
    /// Machine-readable output.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    output: super::ReportOut,
}

#[derive(clap::Args, Debug)]
pub struct RotateArgs {
    /// The keyring directory.
    #[arg(long)]
    keyring: PathBuf,
    /// The key being retired.
    #[arg(long = "from", value_name = "OLD")]
    from: String,
    /// The key taking over: generated in this step unless the keyring has it.
    #[arg(long = "to", value_name = "NEW")]
    to: String,
    /// When NEW takes over (UTC, YYYY-MM-DDTHH:MM:SSZ); default now.
    #[arg(long)]
    at: Option<String>,
    /// OLD's secret key file or `pkcs11:` URI (default KEYRING/OLD.key.age).
    #[arg(long, value_name = "FILE")]
    from_key: Option<PathBuf>,
    #[command(flatten)]
    unlock: UnlockArgs,
    /// An existing NEW's secret key file or `pkcs11:` URI (default KEYRING/NEW.key.age).
    #[arg(long, value_name = "FILE")]
    to_key: Option<PathBuf>,
    /// Open an existing recipient-encrypted NEW with this identity file.
    #[arg(long, value_name = "FILE")]
    to_identity: Option<PathBuf>,
    #[command(flatten)]
    protect: ProtectArgs,
    /// `url` of a generated NEW's document.
    #[arg(long)]
    url: Option<String>,
    /// `notes` of a generated NEW's document.
    #[arg(long)]
    notes: Option<String>,
    /// Also append the new key statement to this registry ledger's transparency log now
    /// (else it is logged with the next `pith log checkpoint`).
    #[arg(long, value_name = "DB")]
    registry: Option<PathBuf>,
    /// Machine-readable output.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    output: super::ReportOut,
}

#[derive(clap::Args, Debug)]
pub struct RevokeArgs {
    /// The keyring directory.
    #[arg(long)]
    keyring: PathBuf,
    /// The key to revoke.
    key_id: String,
    /// From when on its signatures are rejected (UTC, YYYY-MM-DDTHH:MM:SSZ).
    #[arg(long)]
    at: String,
    /// Why: compromised or superseded.
    #[arg(long, value_parser = ["compromised", "superseded"])]
    reason: String,
    /// The key signing the revocation (default: another active key; the key itself only
    /// when it is the only one).
    #[arg(long)]
    signer: Option<String>,
    /// The signer's secret key file or `pkcs11:` URI (default KEYRING/SIGNER.key.age).
    #[arg(long, value_name = "FILE")]
    signer_key: Option<PathBuf>,
    #[command(flatten)]
    unlock: UnlockArgs,
    /// Also append the new key statement to this registry ledger's transparency log now
    /// (else it is logged with the next `pith log checkpoint`).
    #[arg(long, value_name = "DB")]
    registry: Option<PathBuf>,
    /// Machine-readable output.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    output: super::ReportOut,
}

pub fn run(cmd: Cmd) -> Result<u8, Failure> {
    match cmd {
        Cmd::Generate(a) => generate(a),
        Cmd::List(a) => list(a),
        Cmd::Rotate(a) => rotate(a),
        Cmd::Revoke(a) => revoke(a),
        Cmd::Import(a) => import(a),
        Cmd::Compromise(a) => compromise(a),
    }
}

impl From<CustodyError> for Failure {
    fn from(e: CustodyError) -> Self {
        match e {
            CustodyError::Refused(m) => Failure::Refused(m),
            e @ CustodyError::Exists { .. } => {
                Failure::Refused(format!("{e}; pass --force to replace it"))
            }
            other => Failure::Usage(chain(&other)),
        }
    }
}

/// Now, to whole seconds.
fn now() -> Timestamp {
    let n = Timestamp::now();
    n.to_seconds()
}

fn parse_time(s: &str, flag: &str) -> Result<Timestamp, Failure> {
    Timestamp::parse(s).ok_or_else(|| {
        Failure::Usage(format!(
            "{flag} {s:?}: expected a UTC time YYYY-MM-DDTHH:MM:SS[.ffffff]Z"
        ))
    })
}

fn protection(a: &ProtectArgs, what: &str, env: &str) -> Result<Protection, Failure> {
    let mut rs = Vec::new();
    for r in &a.recipients {
        rs.push(
            pith::trust::secret::parse_recipient(r).map_err(|e| Failure::Usage(e.to_string()))?,
        );
    }
    if let Some(f) = &a.recipients_file {
        let bytes = pith::io::read_input(f)?;
        let text = String::from_utf8_lossy(&bytes);
        rs.extend(
            pith::trust::secret::parse_recipients_file(&text)
                .map_err(|e| Failure::Usage(format!("{}: {e}", f.display())))?,
        );
    }
    if !rs.is_empty() {
        if a.new_passphrase_file.is_some() {
            return Err(Failure::Usage(
                "give recipients or a passphrase, not both".into(),
            ));
        }
        return Ok(Protection::Recipients(rs));
    }
    let passphrase = passphrase(a.new_passphrase_file.as_deref(), env, what, true)?;
    Ok(Protection::Passphrase {
        passphrase,
        log_n: a.scrypt_log_n,
    })
}

fn generate(mut a: GenerateArgs) -> Result<u8, Failure> {
    let now = now();
    if let Some(uri) = a.pkcs11.clone() {
        return generate_in_token(&a, &uri, &now);
    }
    if a.passphrase_file.is_some() {
        a.protect.new_passphrase_file = a.passphrase_file.take();
    }
    let id = a
        .key_id
        .clone()
        .unwrap_or_else(|| custody::default_key_id(&now));
    if !pith::format::digest::valid_key_id(&id) {
        return Err(Failure::Usage(format!(
            "--key-id {id:?}: expected 1-64 characters of [A-Za-z0-9._-], not starting with '.'"
        )));
    }
    // refuse before asking for a passphrase
    if !a.force {
        for p in [
            custody::pub_path(&a.out_dir, &id),
            custody::secret_path(&a.out_dir, &id),
        ] {
            if p.exists() {
                return Err(Failure::Refused(format!(
                    "refusing to overwrite {}: key {id:?} exists; pass --force to replace it",
                    p.display()
                )));
            }
        }
    }
    let protect = protection(&a.protect, &format!("new key {id}"), "PITH_PASSPHRASE")?;
    // the directory only once the passphrase is in hand: a refused run leaves nothing
    std::fs::create_dir_all(&a.out_dir)
        .map_err(|e| Failure::Usage(format!("cannot create {}: {e}", a.out_dir.display())))?;
    let key = SigningKey::generate(&id, now);
    let g = custody::write_new_key(
        &a.out_dir,
        &key,
        &protect,
        custody::DocFields {
            url: a.url.as_deref(),
            notes: a.notes.as_deref(),
            valid_from: &now,
        },
        &now,
        a.force,
    )?;
    report_new_key("generated", &id, &key, &g, a.json);
    Ok(0)
}

fn list(mut a: ListArgs) -> Result<u8, Failure> {
    let o = std::mem::take(&mut a.output);
    o.run(|| list_to(a))
}

fn list_to(a: ListArgs) -> Result<u8, Failure> {
    let ring = Keyring::load(&a.keyring)?;
    let rows = custody::list(&ring, &Timestamp::now());
    if a.json {
        outp!(
            "{}",
            json_line(&serde_json::to_value(&rows).map_err(|e| Failure::Usage(e.to_string()))?)
        );
        return Ok(0);
    }
    let mut table = vec![[
        "KEY ID".to_owned(),
        "FINGERPRINT (HEX)".to_owned(),
        "FINGERPRINT (BASE32)".to_owned(),
        "STATUS".to_owned(),
        "VALID".to_owned(),
        "SECRET".to_owned(),
    ]];
    for r in rows {
        let status = match r.status {
            "rotated" => format!("rotated at {}", r.rotates_at.as_deref().unwrap_or("?")),
            "revoked" => format!(
                "revoked at {} ({})",
                r.revoked_at.as_deref().unwrap_or("?"),
                r.revocation_reason.as_deref().unwrap_or("?")
            ),
            "not_yet_valid" => format!(
                "not yet valid (from {})",
                r.valid_from.as_deref().unwrap_or("?")
            ),
            s => s.to_owned(),
        };
        table.push([
            pith::format::text::visible_line(&r.key_id).into_owned(),
            r.fingerprint_sha256_hex,
            r.fingerprint_sha256_b32_first128bits,
            status,
            format!(
                "[{} .. {})",
                r.valid_from.as_deref().unwrap_or("-"),
                r.valid_until.as_deref().unwrap_or("-")
            ),
            pith::format::text::visible_line(&r.location).into_owned(),
        ]);
    }
    // aligned columns, as ssh-keygen -l and gpg --list-keys print them
    let mut width = [0usize; 6];
    for row in &table {
        for (w, c) in width.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    for row in &table {
        let mut line = String::new();
        for (i, (c, w)) in row.iter().zip(width).enumerate() {
            if i + 1 == row.len() {
                line.push_str(c);
            } else {
                line.push_str(&format!("{c:<w$}  "));
            }
        }
        outln!("{line}");
    }
    Ok(0)
}

fn rotate(mut a: RotateArgs) -> Result<u8, Failure> {
    let o = std::mem::take(&mut a.output);
    o.run(|| rotate_to(a))
}

fn rotate_to(a: RotateArgs) -> Result<u8, Failure> {
    let now = now();
    let at = match &a.at {
        Some(s) => parse_time(s, "--at")?,
        None => now,
    };
    let dir = &a.keyring;
    let ring = Keyring::load(dir)?;
    if ring.by_id(&a.from).is_none() {
        return Err(Failure::Refused(format!(
            "key {:?} is not in the keyring {}",
            a.from,
            dir.display()
        )));
    }
    let from_path = a
        .from_key
        .clone()
        .unwrap_or_else(|| custody::secret_path(dir, &a.from));
    let old = super::unlock::open_signer(
        &from_path,
        a.unlock.identity.as_deref(),
        a.unlock.passphrase_file.as_deref(),
        "PITH_PASSPHRASE",
        &format!("key {}", a.from),
        &a.unlock,
    )?;
    if old.key_id() != a.from {
        return Err(Failure::Refused(format!(
            "{}: holds key {:?}, not {:?}",
            from_path.display(),
            old.key_id(),
            a.from
        )));
    }
    let protect;
    let new = if ring.by_id(&a.to).is_some() {
        let to_path = a
            .to_key
            .clone()
            .unwrap_or_else(|| custody::secret_path(dir, &a.to));
        let k = super::unlock::open_signer(
            &to_path,
            a.to_identity.as_deref(),
            a.protect.new_passphrase_file.as_deref(),
            "PITH_NEW_PASSPHRASE",
            &format!("key {}", a.to),
            &a.unlock,
        )?;
        if k.key_id() != a.to {
            return Err(Failure::Refused(format!(
                "{}: holds key {:?}, not {:?}",
                to_path.display(),
                k.key_id(),
                a.to
            )));
        }
        NewKey::Existing(k)
    } else {
        if !pith::format::digest::valid_key_id(&a.to) {
            return Err(Failure::Usage(format!(
                "--to {:?}: expected 1-64 characters of [A-Za-z0-9._-], not starting with '.'",
                a.to
            )));
        }
        protect = protection(
            &a.protect,
            &format!("new key {}", a.to),
            "PITH_NEW_PASSPHRASE",
        )?;
        NewKey::Generate {
            key: SigningKey::generate(&a.to, at),
            protection: &protect,
            url: a.url.as_deref(),
            notes: a.notes.as_deref(),
        }
    };
    let r = custody::rotate(dir, &*old, &from_path, new, &at, &now)?;
    if a.json {
        outp!(
            "{}",
            json_line(&serde_json::json!({
                "from": a.from, "to": r.new_id, "rotates_at": at.to_string(),
                "statement_file": r.statement_path.display().to_string(),
                "statement_sha256": r.statement.get("statement_sha256").and_then(pith::format::canon::Value::as_str),
            }))
        );
    } else {
        outln!("rotated {} -> {} at {at}", a.from, r.new_id);
        outln!(
            "  transition statement (signed by both keys): {}",
            r.statement_path.display()
        );
        outln!(
            "  transcript: {}",
            dir.join(pith::trust::statements::TRANSCRIPT_FILE).display()
        );
    }
    log_statements(a.registry.as_ref(), dir)?;
    Ok(0)
}

fn revoke(mut a: RevokeArgs) -> Result<u8, Failure> {
    let o = std::mem::take(&mut a.output);
    o.run(|| revoke_to(a))
}

fn revoke_to(a: RevokeArgs) -> Result<u8, Failure> {
    let now = now();
    let at = parse_time(&a.at, "--at")?;
    let reason = Reason::parse(&a.reason).ok_or_else(|| {
        Failure::Usage(format!(
            "--reason {:?}: expected compromised or superseded",
            a.reason
        ))
    })?;
    let dir = &a.keyring;
    let ring = Keyring::load(dir)?;
    if ring.by_id(&a.key_id).is_none() {
        return Err(Failure::Refused(format!(
            "key {:?} is not in the keyring {}",
            a.key_id,
            dir.display()
        )));
    }
    let signer_id = match &a.signer {
        Some(s) => s.clone(),
        None => custody::revocation_signer(&ring, &a.key_id, &now)
            .map_or_else(|| a.key_id.clone(), |k| k.doc.key_id.clone()),
    };
    let signer_path = a
        .signer_key
        .clone()
        .unwrap_or_else(|| custody::secret_path(dir, &signer_id));
    let signer = super::unlock::open_signer(
        &signer_path,
        a.unlock.identity.as_deref(),
        a.unlock.passphrase_file.as_deref(),
        "PITH_PASSPHRASE",
        &format!("key {signer_id}"),
        &a.unlock,
    )?;
    let r = custody::revoke(dir, &a.key_id, &at, reason, &*signer, &signer_path, &now)?;
    if r.self_signed {
        errln!(
            "warning: no other key may sign the revocation of {} (none is valid now, and it has no successor): it is signed by the revoked key itself",
            a.key_id
        );
    }
    if a.json {
        outp!(
            "{}",
            json_line(&serde_json::json!({
                "key_id": a.key_id, "revoked_at": at.to_string(), "reason": reason.as_str(),
                "signer": signer.key_id(), "self_signed": r.self_signed,
                "statement_file": r.statement_path.display().to_string(),
            }))
        );
    } else {
        outln!(
            "revoked {} at {at} ({}), signed by {}",
            a.key_id,
            reason.as_str(),
            signer.key_id()
        );
        outln!("  revocation statement: {}", r.statement_path.display());
    }
    log_statements(a.registry.as_ref(), dir)?;
    Ok(0)
}

#[derive(clap::Args, Debug)]
// the new key's passphrase is --passphrase-file here; the shared flag stays accepted
#[command(mut_arg("new_passphrase_file", |a| a.hide(true)))]
pub struct ImportArgs {
    /// Key id.
    #[arg(long)]
    key_id: String,
    /// File holding the 32-byte seed as 64 hex characters (never on the command line).
    #[arg(long, value_name = "FILE")]
    seed_file: PathBuf,
    /// Directory to write ID.pub.json and ID.key.age into.
    #[arg(long)]
    out_dir: PathBuf,
    /// Passphrase for the new key file (first line).
    #[arg(long, value_name = "FILE", conflicts_with = "new_passphrase_file")]
    passphrase_file: Option<PathBuf>,
    #[command(flatten)]
    protect: ProtectArgs,
    /// `valid_from` of the key document (default now).
    #[arg(long, value_name = "TIME")]
    valid_from: Option<String>,
    /// Machine-readable output.
    #[arg(long)]
    json: bool,
}

/// The report of a key made or imported in software: what an operator writes down.
fn report_new_key(verb: &str, id: &str, key: &SigningKey, g: &custody::Generated, json: bool) {
    if json {
        outp!(
            "{}",
            json_line(&serde_json::json!({
                "key_id": id,
                "fingerprint_sha256_hex": key.public().fingerprint(),
                "fingerprint_sha256_b32_first128bits": key.public().fingerprint_b32(),
                "public_key_b64": key.public().b64(),
                "public_key_file": g.pub_path.display().to_string(),
                "secret_key_file": g.secret_path.display().to_string(),
            }))
        );
    } else {
        outln!(
            "{verb} {id}  fingerprint {} ({})",
            key.public().fingerprint(),
            key.public().fingerprint_b32()
        );
        outln!("  public key document: {}", g.pub_path.display());
        outln!(
            "  secret key (age-encrypted, 0600): {}",
            g.secret_path.display()
        );
    }
}

fn import(mut a: ImportArgs) -> Result<u8, Failure> {
    if a.passphrase_file.is_some() {
        a.protect.new_passphrase_file = a.passphrase_file.take();
    }
    if !pith::format::digest::valid_key_id(&a.key_id) {
        return Err(Failure::Usage(format!(
            "--key-id {:?}: expected 1-64 characters of [A-Za-z0-9._-], not starting with '.'",
            a.key_id
        )));
    }
    let raw = zeroize::Zeroizing::new(pith::io::read_input(&a.seed_file)?);
    let text = std::str::from_utf8(&raw)
        .map_err(|_| {
            Failure::Usage(format!(
                "{}: expected 64 hex characters",
                a.seed_file.display()
            ))
        })?
        .trim();
    let mut seed = zeroize::Zeroizing::new([0u8; 32]);
    let bytes = zeroize::Zeroizing::new(pith::format::digest::unhex(text).unwrap_or_default());
    if bytes.len() != 32 {
        return Err(Failure::Usage(format!(
            "{}: expected 64 hex characters (a 32-byte Ed25519 seed)",
            a.seed_file.display()
        )));
    }
    seed.copy_from_slice(&bytes);
    let valid_from = match &a.valid_from {
        Some(t) => parse_time(t, "--valid-from")?,
        None => now(),
    };
    let key = SigningKey::from_seed(&a.key_id, valid_from, &seed);
    let protect = protection(
        &a.protect,
        &format!("imported key {}", a.key_id),
        "PITH_PASSPHRASE",
    )?;
    std::fs::create_dir_all(&a.out_dir)
        .map_err(|e| Failure::Usage(format!("cannot create {}: {e}", a.out_dir.display())))?;
    let g = custody::write_new_key(
        &a.out_dir,
        &key,
        &protect,
        custody::DocFields {
            url: None,
            notes: None,
            valid_from: &valid_from,
        },
        &now(),
        false,
    )
    .map_err(|e| match e {
        // import never replaces a key: no --force to offer
        e @ CustodyError::Exists { .. } => Failure::Refused(e.to_string()),
        e => e.into(),
    })?;
    report_new_key("imported", &a.key_id, &key, &g, a.json);
    Ok(0)
}

/// The compromise procedure of SECURITY.md as one command: rotate (when asked and the key
/// is still active), revoke from `--since` (signed by the successor, else by the key the
/// policy picks), then re-verify the artifacts given.
fn compromise(mut a: CompromiseArgs) -> Result<u8, Failure> {
    let o = std::mem::take(&mut a.output);
    o.run(|| compromise_to(a))
}

fn compromise_to(a: CompromiseArgs) -> Result<u8, Failure> {
    let now = now();
    let since = parse_time(&a.since, "--since")?;
    let dir = &a.keyring;
    let ring = Keyring::load(dir)?;
    let Some(k) = ring.by_id(&a.key_id) else {
        return Err(Failure::Refused(format!(
            "key {:?} is not in the keyring {}",
            a.key_id,
            dir.display()
        )));
    };
    // a retry, or a compromise already covered by an earlier revocation: nothing to sign,
    // but the artifacts are still checked
    let covered = k
        .revoked
        .as_ref()
        .filter(|(t, _)| t.micros() <= since.micros())
        .cloned();
    let active = k.window_at(&now) == pith::trust::keys::KeyWindow::Valid;
    let signer = match &a.to {
        _ if covered.is_some() => None,
        Some(to) if active => {
            rotate_to(RotateArgs {
                output: super::ReportOut::default(),
                keyring: dir.clone(),
                from: a.key_id.clone(),
                to: to.clone(),
                at: None,
                from_key: None,
                unlock: a.unlock.clone(),
                to_key: None,
                to_identity: a.to_identity.clone(),
                protect: a.protect.clone(),
                url: None,
                notes: None,
                json: a.json,
                registry: None,
            })?;
            Some(to.clone())
        }
        Some(to) => {
            errln!(
                "note: {} is not active now: no rotation; {to} signs the revocation",
                a.key_id
            );
            Some(to.clone())
        }
        None => None,
    };
    // the new key's passphrase opens it to sign the revocation
    let unlock = match &signer {
        Some(_) => UnlockArgs {
            passphrase_file: a.protect.new_passphrase_file.clone(),
            identity: a.to_identity.clone(),
            pin_file: a.unlock.pin_file.clone(),
            pkcs11_module: a.unlock.pkcs11_module.clone(),
        },
        None => a.unlock.clone(),
    };
    match &covered {
        Some((t, reason)) => errln!(
            "note: {} is already revoked from {t} ({}): nothing new to sign",
            a.key_id,
            super::vis(reason)
        ),
        None => {
            revoke_to(RevokeArgs {
                output: super::ReportOut::default(),
                keyring: dir.clone(),
                key_id: a.key_id.clone(),
                at: since.to_string(),
                reason: "compromised".into(),
                signer,
                signer_key: None,
                unlock,
                json: a.json,
                registry: None,
            })?;
        }
    }
    let ring = Keyring::load(dir)?;
    let mut invalid = 0usize;
    let mut checked = Vec::new();
    for f in &a.check {
        let v = super::read_json(f)?;
        let r = pith::verify::verify_value(&v, &ring, None)
            .map_err(|e| Failure::Usage(format!("{}: {e}", super::shown(f))))?;
        let first = r.failures.first().map(ToString::to_string);
        invalid += usize::from(!r.ok());
        if a.json {
            checked.push(serde_json::json!({"file": super::shown(f), "valid": r.ok(), "first_failure": first}));
        } else if let Some(first) = first {
            outln!("now invalid: {}: {first}", super::shown(f));
        } else {
            outln!("still valid: {}", super::shown(f));
        }
    }
    if !a.check.is_empty() && !a.json {
        outln!(
            "{invalid} of {} checked artifact(s) no longer verify",
            a.check.len()
        );
    }
    let mut ledger_report = serde_json::Value::Null;
    if let Some(db) = &a.registry {
        let ledger =
            pith::registry::ledger::Ledger::open_read_only(db).map_err(|e| Failure::of(&e))?;
        let fp = k.doc.key.fingerprint().to_owned();
        let mut papers = std::collections::BTreeSet::new();
        let mut rows = Vec::new();
        let n = ledger
            .signatures_since(&fp, &since, &mut |row| {
                if a.json {
                    rows.push(serde_json::json!({"subject": row.subject, "signed_message": row.signed_message, "signed_at": row.signed_at.to_string()}));
                } else {
                    outln!(
                        "now invalid: {} {} signed at {}",
                        super::vis(&row.subject),
                        super::vis(&row.signed_message),
                        row.signed_at
                    );
                }
                papers.insert(row.subject);
            })
            .map_err(|e| Failure::of(&e))?;
        if a.json {
            ledger_report = serde_json::json!({"ledger": super::shown(db), "invalid_signatures": rows, "papers": papers.len()});
        } else {
            outln!(
                "{n} signature(s) by {} in {} made from {since} on are now invalid ({} paper(s)): re-sign them with the successor key",
                a.key_id,
                super::shown(db),
                papers.len()
            );
        }
    }
    if a.json {
        outp!(
            "{}",
            json_line(&serde_json::json!({
                "key_id": a.key_id,
                "compromised_since": since.to_string(),
                "already_revoked": covered.is_some(),
                "checked": checked,
                "registry": ledger_report,
            }))
        );
    }
    Ok(0)
}

/// Append the keyring's key statements not yet logged to the ledger's transparency log.
fn log_statements(db: Option<&PathBuf>, dir: &std::path::Path) -> Result<(), Failure> {
    let Some(db) = db else { return Ok(()) };
    let ring = pith::verify::keyring::Keyring::load(dir)?;
    let mut ledger = pith::registry::ledger::Ledger::open(db).map_err(|e| Failure::of(&e))?;
    let n = ledger.log_statements(&ring).map_err(|e| Failure::of(&e))?;
    infoln!("logged {n} key statement(s) in {}", super::shown(db));
    Ok(())
}

/// `key generate --pkcs11 URI`: the key pair made inside the token.
fn generate_in_token(a: &GenerateArgs, uri: &str, now: &Timestamp) -> Result<u8, Failure> {
    let uri =
        pith::trust::pkcs11::Pkcs11Uri::parse(uri).map_err(|e| Failure::Usage(e.to_string()))?;
    let Some(id) = uri.object.clone() else {
        return Err(Failure::Usage(
            "--pkcs11: name the key with object=ID (its key id)".into(),
        ));
    };
    if a.key_id.as_ref().is_some_and(|k| *k != id) {
        return Err(Failure::Usage(format!(
            "--key-id {:?} differs from the URI's object={id:?}",
            a.key_id.as_deref().unwrap_or_default()
        )));
    }
    if !pith::format::digest::valid_key_id(&id) {
        return Err(Failure::Usage(format!(
            "object={id:?}: expected 1-64 characters of [A-Za-z0-9._-], not starting with '.'"
        )));
    }
    if custody::pub_path(&a.out_dir, &id).exists() {
        return Err(Failure::Refused(format!(
            "refusing to overwrite {}: key {id:?} exists",
            custody::pub_path(&a.out_dir, &id).display()
        )));
    }
    let access = UnlockArgs {
        passphrase_file: None,
        identity: None,
        pin_file: a.pin_file.clone(),
        pkcs11_module: a.pkcs11_module.clone(),
    };
    let (module, pin) = super::unlock::token_access(&uri, &access)?;
    // the directory before the key, so that a key made in the token always gets its
    // document; a token that refuses leaves no new directory behind
    let created = !a.out_dir.exists();
    std::fs::create_dir_all(&a.out_dir)
        .map_err(|e| Failure::Usage(format!("cannot create {}: {e}", a.out_dir.display())))?;
    if let Err(e) = pith::trust::pkcs11::generate(&module, &uri, &pin) {
        if created {
            let _ = std::fs::remove_dir(&a.out_dir);
        }
        return Err(Failure::Usage(e.to_string()));
    }
    let key = pith::trust::pkcs11::TokenKey::open(&module, &uri, &pin)
        .map_err(|e| Failure::Usage(e.to_string()))?;
    let (_, path) = custody::write_token_key(
        &a.out_dir,
        &key,
        custody::DocFields {
            url: a.url.as_deref(),
            notes: a.notes.as_deref(),
            valid_from: now,
        },
        now,
    )?;
    use pith::trust::signer::Signer as _;
    if a.json {
        outp!(
            "{}",
            json_line(&serde_json::json!({
                "key_id": id,
                "token": key.token(),
                "fingerprint_sha256_hex": key.public().fingerprint(),
                "fingerprint_sha256_b32_first128bits": key.public().fingerprint_b32(),
                "public_key_document": path.display().to_string(),
            }))
        );
    } else {
        outln!(
            "generated {id} in token {:?}  fingerprint {} ({})",
            key.token(),
            key.public().fingerprint(),
            key.public().fingerprint_b32()
        );
        outln!("  public key document: {}", path.display());
        outln!("  secret key: inside the token (sensitive, not extractable)");
    }
    Ok(0)
}
