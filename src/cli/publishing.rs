//! `pith graph`, `pith event sign|resign`, `pith bundle`, `pith publish` (issue 5).

use std::path::PathBuf;

use pith::format::canon::{self, Value};
use pith::format::digest::PithNumber;
use pith::format::time::Timestamp;
use pith::sign::issue::EventDraft;

use super::unlock::UnlockArgs;
use super::{Failure, chain, emit, read_json, shown};

/// The default registry base URL for links and mirror hints.
pub const DEFAULT_BASE_URL: &str = "https://pith.science";

/// Sign now, or write a signing request.
pub enum Mode {
    /// Sign with this key.
    Key(Box<pith::trust::policy::Authorized>),
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
    eprintln!(
        "wrote signing request {} ({} item(s)) for key {}: {}",
        path.display(),
        items.len(),
        key.key_id,
        id
    );
    eprintln!("  read-out: {}", pith::sign::offline::words(id));
    Ok(0)
}

fn now_s() -> Timestamp {
    let n = Timestamp::now();
    Timestamp::parse(&n.fmt_seconds()).unwrap_or(n)
}

fn out_value(v: &Value, out: Option<&PathBuf>, force: bool) -> Result<u8, Failure> {
    let mut b = canon::to_canonical(v);
    b.push(b'\n');
    emit(out, force, &b)?;
    Ok(0)
}

/// The signing key and where its output goes (shared by the signing commands).
#[derive(clap::Args, Debug)]
pub struct SignArgs {
    /// The signing key (an age-encrypted ID.key.age).
    #[arg(long, value_name = "FILE", required_unless_present = "request")]
    key: Option<PathBuf>,
    /// Instead of signing, write a signing request for an offline signer (issue 6).
    #[arg(long, value_name = "FILE", conflicts_with = "key", requires_all = ["signer", "keyring"])]
    request: Option<PathBuf>,
    /// With --request: the id of the key that will sign.
    #[arg(long, value_name = "KEY_ID")]
    signer: Option<String>,
    /// The keyring holding the signing key's document and statements, which decide
    /// whether it may sign (default: the key file's directory); with --request, the
    /// keyring holding the signer's key document.
    #[arg(long, value_name = "DIR")]
    keyring: Option<PathBuf>,
    #[command(flatten)]
    unlock: UnlockArgs,
    /// `signer.signer_id` of new events.
    #[arg(long, default_value = pith::format::rules::SIGNER_ID)]
    signer_id: String,
    /// Write here instead of stdout.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Replace an existing --out file.
    #[arg(long)]
    force: bool,
    /// Accepted for uniformity: the output is the signed JSON object.
    #[arg(long)]
    json: bool,
}

impl SignArgs {
    fn mode(&self) -> Result<Mode, Failure> {
        match (&self.key, &self.request) {
            (Some(k), _) => Ok(Mode::Key(Box::new(
                super::unlock::signing_key(
                    k,
                    &self.unlock,
                    self.keyring.as_deref(),
                    &Timestamp::now(),
                )?
                .0,
            ))),
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

#[derive(clap::Args, Debug)]
pub struct GraphArgs {
    /// The paper's arXiv metadata (any format `pith record` reads); exactly one record.
    #[arg(long, value_name = "INPUT")]
    record: PathBuf,
    /// Version to use when the source lists several.
    #[arg(long)]
    version: Option<u32>,
    /// License URL when the source states none.
    #[arg(long, value_name = "URL")]
    default_license: Option<String>,
    /// The registry's verdict (JSON object); without it the no-verdict shape is written.
    #[arg(long, value_name = "FILE")]
    verdict: Option<PathBuf>,
    /// Operator sections (integrity, references, formal_canon, author_claims, and
    /// claims.snapshot_sha256), kept as given.
    #[arg(long, value_name = "FILE")]
    sections: Option<PathBuf>,
    #[command(flatten)]
    sign: SignArgs,
}

pub fn graph(a: GraphArgs) -> Result<u8, Failure> {
    let bytes = pith::io::read_input(&a.record)?;
    let opts = pith::arxiv::ReadOptions {
        format: None,
        version: a.version,
        all_versions: false,
        default_license: a.default_license.clone(),
    };
    let items = pith::arxiv::read(&bytes, &shown(&a.record), &opts)
        .map_err(|e| Failure::Refused(e.to_string()))?;
    let mut good = Vec::new();
    for it in items {
        match it {
            Ok(i) => good.push(i),
            Err(r) => {
                return Err(Failure::Refused(format!(
                    "refused: {}",
                    super::with_hint(&r)
                )));
            }
        }
    }
    let [item] = <[_; 1]>::try_from(good).map_err(|g: Vec<_>| {
        Failure::Usage(format!(
            "{}: {} records; pith graph takes exactly one",
            shown(&a.record),
            g.len()
        ))
    })?;
    let Some(paper) = &item.paper else {
        return Err(Failure::Usage(format!(
            "{}: a canonical record alone has no title or authors; give the arXiv metadata",
            shown(&a.record)
        )));
    };
    let verdict = a.verdict.as_deref().map(read_json).transpose()?;
    let sections = a.sections.as_deref().map(read_json).transpose()?;
    let payload =
        pith::sign::graph::payload(paper, &item.record, verdict.as_ref(), sections.as_ref())
            .map_err(|e| {
                Failure::Usage(format!(
                    "{}: {e}",
                    a.verdict
                        .as_deref()
                        .or(a.sections.as_deref())
                        .map(shown)
                        .unwrap_or_default()
                ))
            })?;
    let (_, number) = pith::sign::issue::number_of(&item.record)
        .ok_or_else(|| Failure::Usage("internal: record without a number".into()))?;
    let draft = EventDraft {
        event_type: pith::format::rules::EventType::GraphSnapshot,
        subject: number,
        payload,
        created_at: now_s(),
        supersedes: Vec::new(),
        prev_event: None,
        signer_id: a.sign.signer_id.clone(),
    };
    sign_or_request(&a.sign, &draft, Some(paper.title.clone()))
}

#[derive(clap::Subcommand, Debug)]
pub enum EventCmd {
    /// Sign a new event of any kind other than record_created and graph_snapshot.
    Sign(EventSignArgs),
    /// Re-sign an event: a new signature (later signed_at, maybe a successor key), the
    /// event id unchanged.
    Resign(ResignArgs),
}

#[derive(clap::Args, Debug)]
pub struct EventSignArgs {
    /// Event type: author_attestation, timestamp_anchor, storage_attestation,
    /// citation_signature, replication_record, correction, mirror_hint.
    #[arg(long = "type")]
    event_type: String,
    /// The Pith number the event is about.
    #[arg(long)]
    subject: String,
    /// The payload (a JSON object).
    #[arg(long, value_name = "FILE")]
    payload: PathBuf,
    /// `prev_event`: the event id this one follows.
    #[arg(long, value_name = "EVENT_ID")]
    prev: Option<String>,
    /// Event ids this one supersedes. Repeatable.
    #[arg(long, value_name = "EVENT_ID")]
    supersedes: Vec<String>,
    #[command(flatten)]
    sign: SignArgs,
}

fn event_id_ok(s: &str) -> bool {
    s.strip_prefix("sha256:").is_some_and(|h| {
        h.len() == 64
            && h.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

pub fn event(cmd: EventCmd) -> Result<u8, Failure> {
    match cmd {
        EventCmd::Sign(a) => {
            use pith::format::rules::EventType;
            let event_type = match EventType::parse(&a.event_type) {
                Some(EventType::GraphSnapshot) => {
                    return Err(Failure::Usage(
                        "--type graph_snapshot: use pith graph".into(),
                    ));
                }
                Some(k) if k.state_list().is_some() => k,
                _ => {
                    let others: Vec<&str> = EventType::ALL
                        .into_iter()
                        .filter(|k| k.state_list().is_some() && *k != EventType::GraphSnapshot)
                        .map(EventType::as_str)
                        .collect();
                    return Err(Failure::Usage(format!(
                        "--type {:?}: expected one of {}",
                        a.event_type,
                        others.join(", ")
                    )));
                }
            };
            let subject = PithNumber::parse(&a.subject).ok_or_else(|| {
                Failure::Usage(format!(
                    "--subject {:?}: expected pith:YYYY:<26 base32 chars>",
                    a.subject
                ))
            })?;
            for id in a.prev.iter().chain(&a.supersedes) {
                if !event_id_ok(id) {
                    return Err(Failure::Usage(format!(
                        "{id:?}: expected an event id sha256:<64 hex>"
                    )));
                }
            }
            let payload = read_json(&a.payload)?;
            if payload.as_object().is_none() {
                return Err(Failure::Usage(format!(
                    "{}: $: expected a JSON object",
                    shown(&a.payload)
                )));
            }
            let draft = EventDraft {
                event_type,
                subject,
                payload,
                created_at: now_s(),
                supersedes: a.supersedes.clone(),
                prev_event: a.prev.clone(),
                signer_id: a.sign.signer_id.clone(),
            };
            sign_or_request(&a.sign, &draft, None)
        }
        EventCmd::Resign(a) => {
            let ev = read_json(&a.event)?;
            let mut ck = pith::verify::check::Checker::new(None);
            pith::verify::check::event(&mut ck, &ev, "$", None);
            let bad: Vec<String> = ck
                .failures
                .iter()
                .filter(|f| f.code != "bad_signature")
                .map(ToString::to_string)
                .collect();
            if !bad.is_empty() {
                return Err(Failure::Refused(format!(
                    "{}: not re-signing an event that does not check: {}",
                    shown(&a.event),
                    bad.join("; ")
                )));
            }
            let Mode::Key(key) = a.sign.mode()? else {
                return Err(Failure::Usage(
                    "pith event resign signs now: give --key".into(),
                ));
            };
            let resigned = pith::sign::issue::resign_event(&ev, &key, &Timestamp::now())
                .map_err(|e| Failure::Refused(format!("{}: {e}", shown(&a.event))))?;
            let signer_fp = ev
                .get("signer")
                .and_then(|s| s.get("public_key_fingerprint"))
                .and_then(Value::as_str)
                .unwrap_or_default();
            if signer_fp != key.public().fingerprint() {
                eprintln!(
                    "warning: re-signed with {} ({}), not the signer's key: verifiers accept it only when their keyring has a key transition from the signer's key to it",
                    key.key_id(),
                    key.public().fingerprint()
                );
            }
            out_value(&resigned, a.sign.out.as_ref(), a.sign.force)
        }
    }
}

/// Sign an event now, or write a request for it.
fn sign_or_request(
    sign: &SignArgs,
    draft: &EventDraft,
    title: Option<String>,
) -> Result<u8, Failure> {
    match sign.mode()? {
        Mode::Key(key) => out_value(
            &pith::sign::issue::sign_event(draft, &key, &Timestamp::now())
                .map_err(|e| Failure::Refused(e.to_string()))?,
            sign.out.as_ref(),
            sign.force,
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

#[derive(clap::Args, Debug)]
pub struct ResignArgs {
    /// The event to re-sign.
    event: PathBuf,
    #[command(flatten)]
    sign: SignArgs,
}

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
    let built = match &a.built_at {
        Some(s) => {
            let t = Timestamp::parse(s).ok_or_else(|| {
                Failure::Usage(format!("--built-at {s:?}: expected YYYY-MM-DDTHH:MM:SSZ"))
            })?;
            if !t.whole_seconds() {
                return Err(Failure::Usage(format!(
                    "--built-at {s:?}: expected whole seconds"
                )));
            }
            t
        }
        None => now_s(),
    };
    // the key must be valid now and at built_at, the bundle's protected time
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

#[derive(clap::Args, Debug)]
pub struct PublishArgs {
    /// Signed bundles to publish; each must verify against --keyring.
    #[arg(required = true)]
    bundles: Vec<PathBuf>,
    /// The keyring: bundles are verified against it, its documents are published.
    #[arg(long)]
    keyring: PathBuf,
    /// The output directory (the resolver's document root).
    #[arg(long)]
    out: PathBuf,
    /// The registry's base URL, for the mirror manifest.
    #[arg(long, default_value = DEFAULT_BASE_URL)]
    base_url: String,
    /// Machine-readable summary.
    #[arg(long)]
    json: bool,
}

pub fn publish(a: PublishArgs) -> Result<u8, Failure> {
    let keyring = pith::verify::keyring::Keyring::load(&a.keyring)?;
    let mut bundles = Vec::new();
    for f in &a.bundles {
        let v = read_json(f)?;
        let b = pith::verify::verify_bundle(v, &keyring).map_err(|r| {
            let first = r
                .failures
                .first()
                .map_or_else(|| "does not verify".to_owned(), ToString::to_string);
            Failure::Refused(format!("{}: not publishing: {first}", shown(f)))
        })?;
        bundles.push(b);
    }
    let done = pith::registry::publish::publish(&bundles, &keyring, &a.base_url, &a.out)?;
    if a.json {
        println!(
            "{}",
            serde_json::to_string(&done).map_err(|e| Failure::Usage(e.to_string()))?
        );
    } else {
        for w in &done.written {
            println!("wrote {}", a.out.join(w).display());
        }
        println!(
            "{} file(s) written, {} unchanged",
            done.written.len(),
            done.unchanged
        );
    }
    Ok(0)
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
    let built = match &a.built_at {
        Some(s) => Timestamp::parse(s)
            .filter(Timestamp::whole_seconds)
            .ok_or_else(|| {
                Failure::Usage(format!("--built-at {s:?}: expected YYYY-MM-DDTHH:MM:SSZ"))
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
    let f = &a.events[0];
    let name = shown(f);
    let file = std::fs::File::open(f).map_err(|source| {
        Failure::from(pith::io::IoError::Read {
            path: f.clone(),
            source,
        })
    })?;
    let mut input = std::io::BufReader::with_capacity(1 << 20, file);
    let mut sink = super::bulkio::Sink::open(a.out.as_deref(), a.force, false)?;
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
        &mut |no, e| eprintln!("refused: {name}:{no}: {e}"),
    )
    .map_err(|e| Failure::Usage(chain(&e)))?;
    sink.finish()?;
    eprintln!("{} bundled, {} refused", sum.done, sum.refused);
    Ok(u8::from(sum.refused > 0))
}
