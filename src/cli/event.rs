//! `pith event sign|resign`: events of the other kinds, and re-signatures (spec §3, §9).

use std::path::PathBuf;

use pith::format::canon::Value;
use pith::format::digest::PithNumber;
use pith::format::time::Timestamp;
use pith::sign::issue::EventDraft;

use super::signing::{Mode, SignArgs, now_s, sign_or_request, store_and_out};
use super::{Failure, read_json, shown};

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
            let ids = a.prev.iter().map(|i| ("--prev", i));
            for (flag, id) in ids.chain(a.supersedes.iter().map(|i| ("--supersedes", i))) {
                if !event_id_ok(id) {
                    return Err(Failure::Usage(format!(
                        "{flag} {id:?}: expected an event id sha256:<64 hex>"
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
            if !matches!(pith::verify::detect(&ev), Ok(pith::verify::Kind::Event)) {
                return Err(Failure::Refused(format!(
                    "{}: expected a signed event to re-sign; this is {}",
                    shown(&a.event),
                    pith::verify::describe(&ev)
                )));
            }
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
            let Mode::Key(key, ring) = a.sign.mode()? else {
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
                errln!(
                    "warning: re-signed with {} ({}), not the signer's key: verifiers accept it only when their keyring has a key transition from the signer's key to it",
                    key.key_id(),
                    key.public().fingerprint()
                );
            }
            store_and_out(&a.sign, resigned, &ring)
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
