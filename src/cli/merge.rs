//! `pith merge`: events into a state (spec §10).

use std::path::PathBuf;

use pith::format::digest::PithNumber;

use super::{Failure, json_line, shown};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Event files: one event, a JSON array of events, or JSON lines (`-` for stdin).
    #[arg(required = true)]
    events: Vec<PathBuf>,
    /// Check event signatures against this keyring (a directory of *.pub.json).
    /// Without it, signatures are not checked and a warning says so.
    #[arg(long)]
    keyring: Option<PathBuf>,
    /// The Pith number the state is about (default: derived from the record_created event).
    #[arg(long)]
    subject: Option<String>,
    /// Machine-readable output: {"state": ..., "rejected": [...], "warnings": [...]}.
    #[arg(long)]
    json: bool,
    /// Write the state to this file instead of stdout.
    #[arg(short = 'o', long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Replace an existing --out file (atomically).
    #[arg(long)]
    force: bool,
}

pub fn run(a: Args) -> Result<u8, Failure> {
    let keyring = a
        .keyring
        .as_deref()
        .map(pith::verify::keyring::Keyring::load)
        .transpose()?;
    let mut events = Vec::new();
    let mut names = Vec::new();
    for f in &a.events {
        let bytes = pith::io::read_input(f)?;
        let evs = pith::verify::merge::read_events(&bytes)
            .map_err(|e| Failure::Usage(format!("{}: not valid events JSON {e}", shown(f))))?;
        let n = evs.len();
        for (i, ev) in evs.into_iter().enumerate() {
            names.push(if n == 1 {
                format!("{}:$", shown(f))
            } else {
                format!("{}:$[{i}]", shown(f))
            });
            events.push(ev);
        }
    }
    if events.is_empty() {
        return Err(Failure::Usage("no events in the input".into()));
    }
    let subject = match &a.subject {
        Some(s) => PithNumber::parse(s).ok_or_else(|| Failure::Usage(format!("--subject {s:?} is not a Pith number (pith:YYYY:<26 base32 chars>)")))?,
        None => pith::verify::merge::subject_of(&events).ok_or_else(|| {
            Failure::Usage("cannot tell which record the events are about: no well-formed record_created event and no subject_pith_number; pass --subject".into())
        })?,
    };
    let merged =
        pith::verify::merge::merge(&subject, &events, keyring.as_ref(), &|i| names[i].clone());
    let mut rejected = Vec::new();
    for (i, fs) in &merged.problems {
        for f in fs {
            rejected.push(f.clone());
            if !a.json {
                errln!("rejected event {}: {}", names[*i], super::vis(f));
            }
        }
    }
    if keyring.is_none() {
        errln!("warning: no --keyring: event signatures were not checked");
    }
    if !a.json {
        for w in &merged.warnings {
            errln!("warning: {}", super::vis(w));
        }
    }
    let out = if a.json {
        let state: serde_json::Value =
            serde_json::from_slice(&pith::format::canon::to_canonical(merged.state.value()))
                .map_err(|e| Failure::Usage(format!("internal: state is not JSON: {e}")))?;
        json_line(&serde_json::json!({
            "state": state,
            "signatures_checked": keyring.is_some(),
            "rejected": rejected,
            "warnings": merged.warnings,
        }))
        .into_bytes()
    } else {
        let mut b = pith::format::canon::to_canonical(merged.state.value());
        b.push(b'\n');
        b
    };
    super::emit_reported(a.out.as_ref(), a.force, &out)?;
    Ok(0)
}
