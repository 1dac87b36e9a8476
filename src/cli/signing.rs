//! What the signing commands share: the key or signing-request mode, output, requests.

use std::path::PathBuf;

use pith::format::canon::{self, Value};
use pith::format::time::Timestamp;
use pith::sign::issue::EventDraft;

use super::unlock::UnlockArgs;
use super::{Failure, emit};

/// The default registry base URL for links and mirror hints.
pub const DEFAULT_BASE_URL: &str = "https://pith.science";

/// Sign now, or write a signing request.
pub enum Mode {
    /// Sign with this key, authorized by this keyring.
    Key(
        Box<pith::trust::policy::Authorized>,
        Box<pith::verify::keyring::Keyring>,
    ),
    /// Write a request to this file for this key.
    Request(PathBuf, pith::sign::issue::KeyRef),
}

/// The named key of a keyring, for a request.
pub fn key_ref(dir: &std::path::Path, id: &str) -> Result<pith::sign::issue::KeyRef, Failure> {
    let ring = pith::verify::keyring::Keyring::load(dir)?;
    let k = ring.by_id(id).ok_or_else(|| {
        Failure::Usage(format!("--signer {id:?}: no such key in {}", dir.display()))
    })?;
    Ok(pith::sign::issue::KeyRef {
        key_id: k.doc.key_id.clone(),
        fingerprint: k.doc.key.fingerprint().to_owned(),
    })
}

/// Write a signing request (atomic; never over an existing file).
pub fn write_request(
    path: &std::path::Path,
    key: &pith::sign::issue::KeyRef,
    items: &[pith::sign::offline::Item],
) -> Result<u8, Failure> {
    let req = pith::sign::offline::request(key, items, &Timestamp::now());
    let mut b = canon::to_canonical(&req);
    b.push(b'\n');
    pith::io::write_output(Some(path), &b, false)?;
    let id = req
        .get("request_id")
        .and_then(Value::as_str)
        .unwrap_or_default();
    errln!(
        "wrote signing request {} ({} item(s)) for key {}: {}",
        path.display(),
        items.len(),
        key.key_id,
        id
    );
    errln!("  read-out: {}", pith::sign::offline::words(id));
    Ok(0)
}

pub fn now_s() -> Timestamp {
    let n = Timestamp::now();
    n.to_seconds()
}

pub fn out_value(v: &Value, out: Option<&PathBuf>, force: bool) -> Result<u8, Failure> {
    let mut b = canon::to_canonical(v);
    b.push(b'\n');
    emit(out, force, &b)?;
    Ok(0)
}

/// The signing key and where its output goes (shared by the signing commands).
#[derive(clap::Args, Debug)]
pub struct SignArgs {
    /// The signing key: an age-encrypted ID.key.age, or a `pkcs11:` URI of a token key.
    #[arg(long, value_name = "FILE", required_unless_present = "request")]
    pub key: Option<PathBuf>,
    /// Instead of signing, write a signing request for an offline signer.
    #[arg(long, value_name = "FILE", conflicts_with = "key", requires_all = ["signer", "keyring"])]
    pub request: Option<PathBuf>,
    /// With --request: the id of the key that will sign.
    #[arg(long, value_name = "KEY_ID")]
    pub signer: Option<String>,
    /// The keyring holding the signing key's document and statements, which decide
    /// whether it may sign (default: the key file's directory); with --request, the
    /// keyring holding the signer's key document.
    #[arg(long, value_name = "DIR")]
    pub keyring: Option<PathBuf>,
    #[command(flatten)]
    pub unlock: UnlockArgs,
    /// `signer.signer_id` of new events.
    #[arg(long, default_value = pith::format::rules::SIGNER_ID)]
    pub signer_id: String,
    /// Write here instead of stdout.
    #[arg(short = 'o', long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Replace an existing --out file.
    #[arg(long)]
    pub force: bool,
    /// The registry ledger that stores every event signed (default: PITH_REGISTRY, else
    /// ./pith-registry.sqlite).
    #[arg(long, value_name = "DB")]
    pub registry: Option<PathBuf>,
}

/// Store a freshly signed event in the registry ledger, then write it out: nothing signed
/// is reported before it is kept. It is verified with the keyring that authorized its key
/// first, so what is stored and printed is what a verifier accepts.
pub fn store_and_out(
    sign: &SignArgs,
    ev: Value,
    ring: &pith::verify::keyring::Keyring,
) -> Result<u8, Failure> {
    let verified = pith::verify::verify_event(ev, ring).map_err(|r| {
        Failure::Refused(format!(
            "the event just signed does not verify: {}",
            r.failures
                .first()
                .map(ToString::to_string)
                .unwrap_or_default()
        ))
    })?;
    let path = sign
        .registry
        .clone()
        .unwrap_or_else(pith::registry::ledger::default_path);
    let mut ledger = pith::registry::ledger::Ledger::open(&path).map_err(|e| Failure::of(&e))?;
    let put = ledger.store_event(&verified).map_err(|e| Failure::of(&e))?;
    out_value(verified.value(), sign.out.as_ref(), sign.force)?;
    infoln!(
        "{} event {} about {} ({}) in {}",
        match put {
            pith::registry::ledger::Put::New => "stored",
            pith::registry::ledger::Put::Resigned => "stored a new signature of",
            pith::registry::ledger::Put::Already => "already stored:",
        },
        verified.event_id(),
        verified.subject(),
        verified.event_type().as_str(),
        super::shown(&path)
    );
    Ok(0)
}

impl SignArgs {
    pub fn mode(&self) -> Result<Mode, Failure> {
        match (&self.key, &self.request) {
            (Some(k), _) => {
                let (key, ring) = super::unlock::signing_key(
                    k,
                    &self.unlock,
                    self.keyring.as_deref(),
                    &Timestamp::now(),
                )?;
                Ok(Mode::Key(Box::new(key), Box::new(ring)))
            }
            (None, Some(r)) => {
                let (Some(id), Some(dir)) = (&self.signer, &self.keyring) else {
                    return Err(Failure::Usage(
                        "--request needs --signer KEY_ID and --keyring DIR".into(),
                    ));
                };
                Ok(Mode::Request(r.clone(), key_ref(dir, id)?))
            }
            (None, None) => Err(Failure::Usage(
                "give --key FILE, or --request FILE with --signer and --keyring".into(),
            )),
        }
    }
}

/// Sign an event now, or write a request for it.
pub fn sign_or_request(
    sign: &SignArgs,
    draft: &EventDraft,
    title: Option<String>,
) -> Result<u8, Failure> {
    match sign.mode()? {
        Mode::Key(key, ring) => store_and_out(
            sign,
            pith::sign::issue::sign_event(draft, &key, &Timestamp::now())
                .map_err(|e| Failure::Refused(e.to_string()))?,
            &ring,
        ),
        Mode::Request(path, kr) => {
            let ev = pith::sign::issue::unsigned_event(draft, &kr);
            let digest = pith::format::digest::canon_sha256_without(
                &ev,
                &pith::format::rules::EVENT_UNHASHED,
            );
            let item = pith::sign::offline::Item {
                kind: pith::sign::offline::ItemKind::Event,
                subject: draft.subject.to_string(),
                title,
                digest,
                artifact: ev,
            };
            write_request(&path, &kr, &[item])
        }
    }
}
