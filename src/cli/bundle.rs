//! `pith bundle`: merge events and assemble a signed bundle (spec §10, §11).

use std::path::PathBuf;

use pith::format::canon::Value;
use pith::format::time::Timestamp;

use super::signing::{DEFAULT_BASE_URL, key_ref, now_s, out_value, write_request};
use super::unlock::UnlockArgs;
use super::{Failure, chain, shown};

#[derive(clap::Args, Debug)]
pub struct BundleArgs {
    /// Event files: one event, a JSON array, or JSON lines (`-` for stdin); or Pith
    /// numbers, whose bundles are rebuilt from the registry store.
    #[arg(required_unless_present_any = ["all", "since", "pending"])]
    events: Vec<PathBuf>,
    /// The registry ledger: every signed bundle built is stored in it, and numbers,
    /// --all, --since and --pending rebuild from its events (default: PITH_REGISTRY, else
    /// ./pith-registry.sqlite).
    #[arg(long, value_name = "DB")]
    registry: Option<PathBuf>,
    /// Rebuild every paper that has events in the registry store.
    #[arg(long, conflicts_with_all = ["since", "pending", "events"])]
    all: bool,
    /// Rebuild the papers with an event created at or after this time (UTC).
    #[arg(long, value_name = "TIME", conflicts_with_all = ["pending", "events"])]
    since: Option<String>,
    /// Rebuild the papers with events newer than their newest bundle from the store.
    #[arg(long, conflicts_with = "events")]
    pending: bool,
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
    /// The bundle signing key: a key file or a `pkcs11:` URI (not needed with --unsigned or
    /// --request).
    #[arg(long, value_name = "FILE", required_unless_present_any = ["unsigned", "request"])]
    key: Option<PathBuf>,
    #[command(flatten)]
    unlock: UnlockArgs,
    /// With --unsigned: the key id that will sign it, so its document is in public_keys.
    #[arg(long)]
    signer_key_id: Option<String>,
    /// Write here instead of stdout.
    #[arg(short = 'o', long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Replace an existing --out file.
    #[arg(long)]
    force: bool,
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
    if let Some(papers) = papers(&a)? {
        return from_store(&a, &keyring, papers);
    }
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
    if key.is_some() {
        // stored before it is reported
        let verified = pith::verify::verify_bundle(out, &keyring).map_err(|r| {
            Failure::Refused(format!(
                "the bundle just signed does not verify: {}",
                r.failures
                    .first()
                    .map(ToString::to_string)
                    .unwrap_or_default()
            ))
        })?;
        let path = ledger_path(&a);
        pith::registry::ledger::Ledger::open(&path)
            .and_then(|mut l| l.store_bundle(&verified, false))
            .map_err(|e| Failure::of(&e))?;
        out_value(verified.value(), a.out.as_ref(), a.force)?;
        infoln!(
            "bundle of {} ({} event(s)) stored in {}",
            verified.number(),
            verified.event_ids().len(),
            shown(&path)
        );
        return Ok(0);
    }
    out_value(&out, a.out.as_ref(), a.force)
}

fn ledger_path(a: &BundleArgs) -> PathBuf {
    a.registry
        .clone()
        .unwrap_or_else(pith::registry::ledger::default_path)
}

/// Which papers to rebuild from the store, when the command asks for that: --all,
/// --since, --pending, or positional arguments that are all Pith numbers.
fn papers(a: &BundleArgs) -> Result<Option<pith::registry::rebuild::Papers>, Failure> {
    use pith::registry::ledger::Select;
    use pith::registry::rebuild::Papers;
    if a.all {
        return Ok(Some(Papers::Walk(Select::All)));
    }
    if a.pending {
        return Ok(Some(Papers::Walk(Select::Pending)));
    }
    if let Some(s) = &a.since {
        let t = Timestamp::parse(s).ok_or_else(|| {
            Failure::Usage(format!("--since {s:?}: expected YYYY-MM-DDTHH:MM:SSZ"))
        })?;
        return Ok(Some(Papers::Walk(Select::Since(t))));
    }
    let numbers: Vec<Option<pith::format::digest::PithNumber>> = a
        .events
        .iter()
        .map(|p| p.to_str().and_then(pith::format::digest::PithNumber::parse))
        .collect();
    match (
        numbers.iter().all(Option::is_some),
        numbers.iter().any(Option::is_some),
    ) {
        (true, _) => Ok(Some(Papers::Numbers(
            numbers.into_iter().flatten().collect(),
        ))),
        (false, true) => Err(Failure::Usage(
            "give event files or Pith numbers (rebuilt from the registry store), not both".into(),
        )),
        (false, false) => Ok(None),
    }
}

/// `pith bundle NUMBER…|--all|--since T|--pending`: rebuild from the registry store.
fn from_store(
    a: &BundleArgs,
    keyring: &pith::verify::keyring::Keyring,
    papers: pith::registry::rebuild::Papers,
) -> Result<u8, Failure> {
    let (built, key, _) = built_and_key(a)?;
    let Some(key) = key else {
        return Err(Failure::Usage(
            "rebuilding from the registry store signs: give --key".into(),
        ));
    };
    let path = super::registry::existing(Some(&ledger_path(a)))?;
    let mut ledger = pith::registry::ledger::Ledger::open(&path).map_err(|e| Failure::of(&e))?;
    let mut sink = super::bulkio::Sink::open(a.out.as_deref(), a.force)?;
    let how = pith::registry::rebuild::Rebuild {
        keyring,
        key: &key,
        base_url: &a.base_url,
        built_at: built,
        signed_at: built,
    };
    let sum = pith::registry::rebuild::rebuild(
        &mut ledger,
        &papers,
        &how,
        sink.writer(),
        &mut |n, why| errln!("refused: {n}: {}", super::vis(&why)),
    )
    .map_err(|e| Failure::of(&e))?;
    sink.finish()?;
    infoln!(
        "{} bundle(s) rebuilt from {} and stored, {} refused",
        sum.done,
        shown(&path),
        sum.refused
    );
    Ok(u8::from(sum.refused > 0))
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
    let path = ledger_path(a);
    let mut ledger = match &key {
        Some(_) => Some(pith::registry::ledger::Ledger::open(&path).map_err(|e| Failure::of(&e))?),
        None => None,
    };
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
        ledger.as_mut(),
        sink.writer(),
        &mut |no, e| errln!("refused: {name}:{no}: {}", super::vis(&e)),
    )
    .map_err(|e| Failure::of(&e))?;
    sink.finish()?;
    infoln!("{} bundled, {} refused", sum.done, sum.refused);
    Ok(u8::from(sum.refused > 0))
}
