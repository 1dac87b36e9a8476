//! The one path from a secret key file to a signing key: `--key FILE` plus a passphrase
//! (file, environment with a warning, or no-echo prompt) or an age identity file.

use std::path::{Path, PathBuf};

use age::secrecy::SecretString;
use pith::trust::secret::{SigningKey, Unlock};
use zeroize::Zeroizing;

use super::Failure;

/// How an existing secret key file is opened.
#[derive(clap::Args, Debug, Clone)]
pub struct UnlockArgs {
    /// Read the passphrase from this file (first line). Else PITH_PASSPHRASE, else a prompt.
    #[arg(long, value_name = "FILE")]
    pub passphrase_file: Option<PathBuf>,
    /// Open a recipient-encrypted key with this age identity file.
    #[arg(long, value_name = "FILE")]
    pub identity: Option<PathBuf>,
    /// For a `pkcs11:` key: the token's user PIN from this file (first line). Else
    /// PITH_PIN, else a prompt.
    #[arg(long, value_name = "FILE")]
    pub pin_file: Option<PathBuf>,
    /// For a `pkcs11:` key: the PKCS#11 module (default: the URI's module-path, else
    /// PITH_PKCS11_MODULE).
    #[arg(long, value_name = "PATH")]
    pub pkcs11_module: Option<PathBuf>,
}

/// The PKCS#11 module and PIN for a token key: module from the flag, the URI or
/// PITH_PKCS11_MODULE; PIN from `--pin-file`, else PITH_PIN (with a warning), else a
/// no-echo prompt.
pub fn token_access(
    uri: &pith::trust::pkcs11::Pkcs11Uri,
    args: &UnlockArgs,
) -> Result<(PathBuf, Zeroizing<String>), Failure> {
    let module = args
        .pkcs11_module
        .clone()
        .or_else(|| uri.module_path.clone())
        .or_else(|| std::env::var_os("PITH_PKCS11_MODULE").map(PathBuf::from))
        .ok_or_else(|| {
            Failure::Usage(
                "a pkcs11: key needs its module: --pkcs11-module PATH, module-path= in the URI, or $PITH_PKCS11_MODULE".into(),
            )
        })?;
    let pin: Zeroizing<String> = if let Some(f) = &args.pin_file {
        let bytes = Zeroizing::new(pith::io::read_input(f)?);
        let text = std::str::from_utf8(&bytes)
            .map_err(|_| Failure::Usage(format!("{}: PIN file is not UTF-8", f.display())))?;
        Zeroizing::new(text.lines().next().unwrap_or("").to_owned())
    } else if let Ok(v) = std::env::var("PITH_PIN") {
        errln!(
            "warning: using the PIN in $PITH_PIN; the environment can leak to other processes (prefer a prompt or --pin-file)"
        );
        Zeroizing::new(v)
    } else {
        Zeroizing::new(
            rpassword::prompt_password(format!("PIN for token {:?}: ", uri.token)).map_err(|e| {
                Failure::Usage(format!(
                    "no PIN for token {:?}: no terminal to ask on ({e}); use --pin-file FILE or $PITH_PIN",
                    uri.token
                ))
            })?,
        )
    };
    if pin.is_empty() {
        return Err(Failure::Usage("empty PIN refused".into()));
    }
    Ok((module, pin))
}

/// A passphrase from a file, the environment, or the terminal.
pub fn passphrase(
    file: Option<&Path>,
    env: &str,
    what: &str,
    confirm: bool,
) -> Result<SecretString, Failure> {
    // the flag that names the file, for the message when there is no terminal
    let flag = if env == "PITH_NEW_PASSPHRASE" {
        "--new-passphrase-file"
    } else {
        "--passphrase-file"
    };
    let p: Zeroizing<String> = if let Some(f) = file {
        let bytes = Zeroizing::new(pith::io::read_input(f)?);
        let text = std::str::from_utf8(&bytes).map_err(|_| {
            Failure::Usage(format!("{}: passphrase file is not UTF-8", f.display()))
        })?;
        Zeroizing::new(text.lines().next().unwrap_or("").to_owned())
    } else if let Ok(v) = std::env::var(env) {
        errln!(
            "warning: using the passphrase in ${env}; the environment can leak to other processes (prefer a prompt or --passphrase-file)"
        );
        Zeroizing::new(v)
    } else {
        let first = Zeroizing::new(
            rpassword::prompt_password(format!("Passphrase for {what}: "))
                .map_err(|e| Failure::Usage(format!("no passphrase for {what}: no terminal to ask on ({e}); use {flag} FILE or ${env}")))?,
        );
        if confirm {
            let again = Zeroizing::new(
                rpassword::prompt_password(format!("Repeat the passphrase for {what}: ")).map_err(
                    |e| Failure::Usage(format!("cannot read the passphrase again: {e}")),
                )?,
            );
            if *again != *first {
                return Err(Failure::Usage(
                    "the two passphrases differ; nothing was written".into(),
                ));
            }
        }
        first
    };
    if p.is_empty() {
        return Err(Failure::Usage(format!(
            "empty passphrase for {what} refused"
        )));
    }
    Ok(SecretString::from(p.as_str().to_owned()))
}

/// Open a key for the key-custody commands: a `pkcs11:` URI as a token key (module and
/// PIN from `token`), else a secret key file.
pub fn open_signer(
    path: &Path,
    identity: Option<&Path>,
    pass_file: Option<&Path>,
    env: &str,
    what: &str,
    token: &UnlockArgs,
) -> Result<Box<dyn pith::trust::signer::Signer>, Failure> {
    if let Some(uri) = path
        .to_str()
        .filter(|s| pith::trust::pkcs11::Pkcs11Uri::is_uri(s))
    {
        let uri = pith::trust::pkcs11::Pkcs11Uri::parse(uri)
            .map_err(|e| Failure::Usage(e.to_string()))?;
        let (module, pin) = token_access(&uri, token)?;
        let key = pith::trust::pkcs11::TokenKey::open(&module, &uri, &pin)
            .map_err(|e| Failure::Usage(e.to_string()))?;
        return Ok(Box::new(key));
    }
    Ok(Box::new(unlock(path, identity, pass_file, env, what)?))
}

/// Open a secret key file.
pub fn unlock(
    path: &Path,
    identity: Option<&Path>,
    pass_file: Option<&Path>,
    env: &str,
    what: &str,
) -> Result<SigningKey, Failure> {
    let sealed = pith::io::read_input(path)?;
    let how = match identity {
        Some(i) => {
            let bytes = Zeroizing::new(pith::io::read_input(i)?);
            Unlock::Identities(
                pith::trust::secret::parse_identity_file(&bytes)
                    .map_err(|e| Failure::Usage(format!("{}: {e}", i.display())))?,
            )
        }
        None => Unlock::Passphrase(passphrase(pass_file, env, what, false)?),
    };
    SigningKey::decrypt(&sealed, &how).map_err(|e| {
        let hint = match e {
            pith::trust::secret::SecretKeyError::NeedsIdentity => " (pass --identity FILE)",
            _ => "",
        };
        Failure::Usage(format!("{}: {e}{hint}", path.display()))
    })
}

/// Open a secret key file and admit it under the library's key-validity policy at `now`:
/// with `--keyring DIR` when given, else the keyring beside the key file. A revoked,
/// rotated-out or not-yet-valid key, or a secret that disagrees with its public document,
/// is refused (exit 1) before anything is signed.
pub fn signing_key(
    path: &Path,
    args: &UnlockArgs,
    keyring: Option<&Path>,
    now: &pith::format::time::Timestamp,
) -> Result<
    (
        pith::trust::policy::Authorized,
        pith::verify::keyring::Keyring,
    ),
    Failure,
> {
    if let Some(uri) = path
        .to_str()
        .filter(|s| pith::trust::pkcs11::Pkcs11Uri::is_uri(s))
    {
        let uri = pith::trust::pkcs11::Pkcs11Uri::parse(uri)
            .map_err(|e| Failure::Usage(e.to_string()))?;
        let Some(dir) = keyring else {
            return Err(Failure::Usage(
                "a pkcs11: key needs --keyring DIR, the keyring holding its public document".into(),
            ));
        };
        let ring = pith::verify::keyring::Keyring::load(dir)
            .map_err(|e| Failure::Usage(super::chain(&e)))?;
        let (module, pin) = token_access(&uri, args)?;
        let key = pith::trust::pkcs11::TokenKey::open(&module, &uri, &pin)
            .map_err(|e| Failure::Usage(e.to_string()))?;
        let auth = ring
            .authorize(Box::new(key), now)
            .map_err(|e| Failure::Refused(format!("{}: {e}", path.display())))?;
        return Ok((auth, ring));
    }
    // a key file that is not there is said so, before any keyring is looked for
    if let Err(source) = std::fs::metadata(path) {
        return Err(pith::io::IoError::Read {
            path: path.to_path_buf(),
            source,
        }
        .into());
    }
    let ring = pith::verify::keyring::Keyring::for_signing(path, keyring).map_err(|e| {
        let hint = if keyring.is_none() {
            " (the key's public document and statements are looked for beside the key file; name another keyring with --keyring DIR)"
        } else {
            ""
        };
        Failure::Usage(format!("{}{hint}", super::chain(&e)))
    })?;
    let key = unlock(
        path,
        args.identity.as_deref(),
        args.passphrase_file.as_deref(),
        "PITH_PASSPHRASE",
        &format!("signing key {}", path.display()),
    )?;
    let auth = ring
        .authorize(Box::new(key), now)
        .map_err(|e| Failure::Refused(format!("{}: {e}", path.display())))?;
    Ok((auth, ring))
}
