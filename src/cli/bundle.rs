//! `pith bundle`: merge events and assemble a signed bundle (spec §10, §11).

use std::path::PathBuf;

use pith::format::canon::Value;
use pith::format::time::Timestamp;

use super::signing::{DEFAULT_BASE_URL, key_ref, now_s, out_value, write_request};
use super::unlock::UnlockArgs;
use super::{Failure, chain, shown};

#[derive(clap::Args, Debug)]
pub struct BundleArgs {
    /// Event files: one event, a JSON array, or JSON lines (`-` for stdin).
    #[arg(required = true)]
    events: Vec<PathBuf>,
    /// The keyring the events must verify against; `public_keys` come from it.
    #[arg(long)]
    keyring: PathBuf,
    /// The registry's base URL for links and mirror hints.
    #[arg(long, default_value = DEFAULT_BASE_URL)]
    base_url: String,
    /// `built_at` (whole seconds); default now. The signature's signed_at is this time.
    #[arg(long)]
    built_at: Option<String>,
    /// Write the bundle without bundle_signature (for an offline signer).
    #[arg(long)]
    unsigned: bool,
    /// Write a signing request for the bundle instead (needs --signer-key-id).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["unsigned", "key"], requires = "signer_key_id")]
    request: Option<PathBuf>,
    /// The bundle signing key (not needed with --unsigned or --request).
    #[arg(long, value_name = "FILE", required_unless_present_any = ["unsigned", "request"])]
    key: Option<PathBuf>,
    #[command(flatten)]
    unlock: UnlockArgs,
    /// With --unsigned: the key id that will sign it, so its document is in public_keys.
    #[arg(long)]
    signer_key_id: Option<String>,
    /// Write here instead of stdout.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Replace an existing --out file.
    #[arg(long)]
    force: bool,
    /// Accepted for uniformity: the output is the bundle JSON.
    #[arg(long)]
    json: bool,
}

/// `--built-at` (whole seconds, default now), the signing key admitted now and at
/// `built_at` (the bundle's protected time), and the signer's key id.
fn built_and_key(
    a: &BundleArgs,
) -> Result<
    (
        Timestamp,
        Option<pith::trust::policy::Authorized>,
        Option<String>,
    ),
    Failure,
> {
    let built = match &a.built_at {
        Some(s) => Timestamp::parse(s)
            .filter(Timestamp::whole_seconds)
            .ok_or_else(|| {
                Failure::Usage(format!(
                    "--built-at {s:?}: expected whole seconds, YYYY-MM-DDTHH:MM:SSZ"
                ))
            })?,
        None => now_s(),
    };
    let key = match (&a.key, a.unsigned) {
        (Some(k), false) => {
            let (k, _) =
                super::unlock::signing_key(k, &a.unlock, Some(&a.keyring), &Timestamp::now())?;
            pith::trust::policy::may_sign(k.trusted(), &built)
                .map_err(|e| Failure::Refused(e.to_string()))?;
            Some(k)
        }
        _ => None,
    };
    let signer = key
        .as_ref()
        .map(|k| k.key_id().to_owned())
        .or(a.signer_key_id.clone());
    Ok((built, key, signer))
}

pub fn bundle(a: BundleArgs) -> Result<u8, Failure> {
    let keyring = pith::verify::keyring::Keyring::load(&a.keyring)?;
    if a.events.len() == 1 && a.request.is_none() && is_lines_of_arrays(&a.events[0]) {
        return bundle_bulk(&a, &keyring);
    }
    let mut events = Vec::new();
    for f in &a.events {
        let bytes = pith::io::read_input(f)?;
        events.extend(
            pith::verify::merge::read_events(&bytes)
                .map_err(|e| Failure::Usage(format!("{}: not valid events JSON {e}", shown(f))))?,
        );
    }
    let (built, key, signer) = built_and_key(&a)?;
    let unsigned =
        pith::sign::bundle::assemble(&events, &keyring, &a.base_url, &built, signer.as_deref())
            .map_err(|e| Failure::Refused(chain(&e)))?;
    if let Some(path) = &a.request {
        let kr = key_ref(&a.keyring, signer.as_deref().unwrap_or_default())?;
        let subject = unsigned
            .get("pith_number")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let item = pith::sign::offline::Item {
            kind: pith::sign::offline::ItemKind::Bundle,
            subject,
            title: None,
            digest: pith::sign::bundle::bundle_sha256(&unsigned),
            artifact: unsigned,
        };
        return write_request(path, &kr, &[item]);
    }
    let out = match &key {
        Some(k) => {
            // signed_at within built_at's second: the current sub-second when built now
            let now = Timestamp::now();
            let signed_at = if now.fmt_seconds() == built.fmt_seconds() {
                now
            } else {
                built
            };
            pith::sign::bundle::sign(unsigned, k, &signed_at)
                .map_err(|e| Failure::Refused(e.to_string()))?
        }
        None => unsigned,
    };
    out_value(&out, a.out.as_ref(), a.force)
}
/// A JSON-lines file whose first line is a JSON array: one record's events per line.
fn is_lines_of_arrays(f: &std::path::Path) -> bool {
    use std::io::BufRead as _;
    let Ok(file) = std::fs::File::open(f) else {
        return false;
    };
    let mut r = std::io::BufReader::new(file);
    let mut first = Vec::new();
    if r.read_until(b'\n', &mut first).is_err() || !first.ends_with(b"\n") {
        return false;
    }
    first.trim_ascii_start().starts_with(b"[")
        && pith::format::canon::parse(first.trim_ascii()).is_ok_and(|v| v.as_array().is_some())
}

/// `pith bundle EVENTS.jsonl`: one bundle per line of event arrays, streamed on every core.
fn bundle_bulk(a: &BundleArgs, keyring: &pith::verify::keyring::Keyring) -> Result<u8, Failure> {
    let (built, key, signer) = built_and_key(a)?;
    let f = &a.events[0];
    let name = shown(f);
    let file = std::fs::File::open(f).map_err(|source| {
        Failure::from(pith::io::IoError::Read {
            path: f.clone(),
            source,
        })
    })?;
    let mut input = std::io::BufReader::with_capacity(1 << 20, file);
    let mut sink = super::bulkio::Sink::open(a.out.as_deref(), a.force)?;
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let signed_at = built;
    let sum = pith::registry::bulk::bundle_lines(
        &mut input,
        &name,
        keyring,
        key.as_ref(),
        signer.as_deref(),
        &a.base_url,
        &built,
        &signed_at,
        threads,
        sink.writer(),
        &mut |no, e| errln!("refused: {name}:{no}: {}", super::vis(&e)),
    )
    .map_err(|e| Failure::of(&e))?;
    sink.finish()?;
    errln!("{} bundled, {} refused", sum.done, sum.refused);
    Ok(u8::from(sum.refused > 0))
}
