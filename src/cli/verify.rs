//! `pith verify`: every check of spec §12, trusting only the operator's keyring.

use std::path::PathBuf;

use pith::verify::Report;

use super::{Failure, chain, json_line, read_json, shown};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Artifacts to verify: bundles, states, events, receipts, key documents (`-` for stdin).
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// The keyring: a directory of key documents (*.pub.json). Only these keys are trusted.
    #[arg(long)]
    keyring: PathBuf,
    /// The canonical record a standalone receipt covers: its hash is checked too.
    #[arg(long)]
    record: Option<PathBuf>,
    /// Machine-readable output: one JSON object per file (per line for JSON-lines files).
    #[arg(long)]
    json: bool,
    /// Worker threads for JSON-lines files of artifacts (default: every core).
    #[arg(long)]
    threads: Option<usize>,
    /// Show every failed check, also those that follow from an untrusted signer.
    #[arg(long)]
    verbose: bool,
    /// For a transcript: the entry count the custodians' paper log records.
    #[arg(long, value_name = "N")]
    expect_entries: Option<usize>,
    /// For a transcript: the head hash (sha256:…) the custodians' paper log records.
    #[arg(long, value_name = "HASH")]
    expect_head: Option<String>,
    /// Also require every event of each bundle to be in the transparency log whose
    /// checkpoint this is (a signed note, signed by a keyring key valid now); default with
    /// --tiles: the tree's log/checkpoint.
    #[arg(long, value_name = "FILE", requires = "log_source")]
    checkpoint: Option<PathBuf>,
    /// The inclusion proofs (`pith log prove NUMBER` against the checkpoint's tree).
    #[arg(
        long,
        value_name = "FILE",
        group = "log_source",
        requires = "checkpoint"
    )]
    proof: Option<PathBuf>,
    /// A published tree (`pith publish --registry`): the proofs are computed from its
    /// log/ tiles and the paper's leaf indices, and checked against the checkpoint.
    #[arg(long, value_name = "DIR", group = "log_source")]
    tiles: Option<PathBuf>,
    /// The log's expected origin line.
    #[arg(long, default_value = pith::format::rules::LOG_ORIGIN, value_parser = super::note_name)]
    origin: String,
    /// Require the checkpoint cosigned by a quorum of these witnesses (a
    /// pith_witness_policy_v1 file).
    #[arg(long, value_name = "FILE", requires = "log_source")]
    witness_policy: Option<PathBuf>,
    #[command(flatten)]
    output: super::ReportOut,
}

/// The log a bundle must be in: its verified checkpoint and the proofs against it.
struct InLog {
    checkpoint: pith::verify::Verified<pith::verify::checkpoint::SignedCheckpoint>,
    proofs: Option<pith::verify::log::InclusionProofs>,
}

fn in_log(a: &Args, keyring: &pith::verify::keyring::Keyring) -> Result<Option<InLog>, Failure> {
    let cp = match (&a.checkpoint, &a.tiles) {
        (Some(cp), _) => cp.clone(),
        (None, Some(t)) => t.join("log/checkpoint"),
        (None, None) => return Ok(None),
    };
    let cp = &cp;
    let bytes = pith::io::read_input(cp)?;
    let checkpoint = pith::verify::checkpoint::verify_checkpoint(
        &bytes,
        keyring,
        &a.origin,
        &pith::format::time::Timestamp::now(),
    )
    .map_err(|e| Failure::Refused(format!("{}: {e}", shown(cp))))?;
    if let Some(wp) = &a.witness_policy {
        let policy = pith::verify::checkpoint::WitnessPolicy::from_value(&read_json(wp)?)
            .map_err(|e| Failure::Usage(format!("{}: {e}", shown(wp))))?;
        let names = pith::verify::checkpoint::check_witnesses(&checkpoint, &policy)
            .map_err(|e| Failure::Refused(format!("{}: {e}", shown(cp))))?;
        infoln!("{}: cosigned by {}", shown(cp), names.join(", "));
    }
    let proofs = match &a.proof {
        Some(pf) => Some(
            pith::verify::log::InclusionProofs::from_value(&read_json(pf)?)
                .map_err(|e| Failure::Usage(format!("{}: {e}", shown(pf))))?,
        ),
        None => None,
    };
    Ok(Some(InLog { checkpoint, proofs }))
}

/// Verify one file as a bundle whose events are all in the log.
fn verify_in_log(
    f: &std::path::Path,
    keyring: &pith::verify::keyring::Keyring,
    log: &InLog,
    a: &Args,
) -> Result<u8, Failure> {
    let name = shown(f);
    let v = read_json(f)?;
    let bundle = match pith::verify::verify_bundle(v, keyring) {
        Ok(b) => b,
        Err(report) => {
            print(&name, &report, a);
            return Ok(1);
        }
    };
    let cp = &log.checkpoint.checkpoint;
    let found = match (&log.proofs, &a.tiles) {
        (Some(p), _) => pith::verify::log::bundle_in_log(&bundle, &log.checkpoint, p),
        (None, Some(t)) => pith::verify::log::bundle_in_tiles(&bundle, &log.checkpoint, t),
        (None, None) => Err(pith::verify::log::ProofError(
            "give --proof FILE or --tiles DIR".into(),
        )),
    };
    let (ok, what, leaves) = match found {
        Ok(l) => (true, String::new(), l),
        Err(e) => (false, e.to_string(), Vec::new()),
    };
    if a.json {
        outp!(
            "{}",
            json_line(&serde_json::json!({
                "file": name,
                "ok": ok,
                "kind": "bundle",
                "pith_number": bundle.number().to_string(),
                "log": {"origin": cp.origin(), "tree_size": cp.size(), "leaves": leaves.iter().map(|(id, i)| serde_json::json!({"event_id": id, "leaf_index": i})).collect::<Vec<_>>()},
                "failures": if ok { Vec::new() } else { vec![what.clone()] },
            }))
        );
    } else if ok {
        outln!(
            "{name}: verified bundle {}: its {} event(s) in log {} (tree of {} leaves, signed by {})",
            bundle.number(),
            leaves.len(),
            super::vis(&cp.origin()),
            cp.size(),
            log.checkpoint.signers.join(", ")
        );
    } else {
        outln!(
            "{name}: FAILED bundle {}: {}",
            bundle.number(),
            super::vis(&what)
        );
    }
    Ok(u8::from(!ok))
}

pub fn run(mut a: Args) -> Result<u8, Failure> {
    let o = std::mem::take(&mut a.output);
    o.run(|| run_to(a))
}

fn run_to(a: Args) -> Result<u8, Failure> {
    let keyring = pith::verify::keyring::Keyring::load(&a.keyring)?;
    let record = a.record.as_deref().map(read_json).transpose()?;
    let expect = pith::verify::Expect {
        entries: a.expect_entries,
        head: a.expect_head.clone(),
    };
    let mut worst = 0u8;
    if let Some(log) = in_log(&a, &keyring)? {
        for f in &a.files {
            worst = worst.max(verify_in_log(f, &keyring, &log, &a)?);
        }
        return Ok(worst);
    }
    for f in &a.files {
        let name = shown(f);
        let outcome = match verify_stream(f, &keyring, &a)? {
            Opened::Streamed(code) => {
                worst = worst.max(code);
                continue;
            }
            Opened::Whole(bytes) => verify_bytes(f, bytes, &keyring, record.as_ref(), &expect),
        };
        match outcome {
            Ok(report) => {
                worst = worst.max(u8::from(!report.ok()));
                print(&name, &report, &a);
            }
            Err(e) => {
                worst = 2;
                if a.json {
                    outp!(
                        "{}",
                        json_line(
                            &serde_json::json!({ "file": name, "ok": false, "error": e.to_string() })
                        )
                    );
                } else {
                    errln!("pith: {}", super::vis(&e));
                }
            }
        }
    }
    Ok(worst)
}

/// What [`verify_stream`] made of an input.
enum Opened {
    /// A JSON-lines input of artifacts, verified; the exit code.
    Streamed(u8),
    /// A single document (or a transcript): the bytes read so far for stdin, which cannot
    /// be reopened; None for a file.
    Whole(Option<Vec<u8>>),
}

/// A JSON-lines input of artifacts (one per line, not a transcript): verified streaming on
/// every core, one line per failed artifact. The first line decides, and is read with the
/// bulk line limit; an overlong first line streams too, so that it alone is refused.
fn verify_stream(
    f: &std::path::Path,
    keyring: &pith::verify::keyring::Keyring,
    a: &Args,
) -> Result<Opened, Failure> {
    use std::io::{BufRead as _, Read as _};
    let rerr = |source| {
        Failure::from(pith::io::IoError::Read {
            path: f.into(),
            source,
        })
    };
    let stdin = f == std::path::Path::new("-");
    let super::bulkio::FirstLine {
        rest: mut r,
        line: mut first,
        overlong,
    } = super::bulkio::open_first_line(f)?;
    let more = overlong || !r.fill_buf().map_err(rerr)?.is_empty();
    let artifact = || match pith::format::canon::parse(first.trim_ascii_end()) {
        Ok(v) => v.get("transcript_version").is_none() && pith::verify::detect(&v).is_ok(),
        Err(_) => false,
    };
    if !(more && (overlong || artifact())) {
        if !stdin {
            return Ok(Opened::Whole(None));
        }
        // the rest of stdin, under the same limit as any whole input
        let limit = (pith::io::MAX_INPUT + 1).saturating_sub(first.len()) as u64;
        r.take(limit).read_to_end(&mut first).map_err(rerr)?;
        if first.len() > pith::io::MAX_INPUT {
            return Err(pith::io::IoError::TooLarge { path: f.into() }.into());
        }
        return Ok(Opened::Whole(Some(first)));
    }
    let mut input = std::io::Read::chain(std::io::Cursor::new(first), r);
    let name = shown(f);
    let threads = a
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from));
    let start = std::time::Instant::now();
    let mut out = std::io::BufWriter::new(super::Stdout);
    let mut werr = None;
    let sum = pith::registry::bulk::verify_lines(&mut input, &name, keyring, threads, &mut |no, r| {
        use std::io::Write as _;
        let line = match (&r, a.json) {
            (Ok(rep), true) => Some(json_line(&serde_json::json!({"file": name, "line": no, "ok": rep.ok(), "kind": rep.kind, "pith_number": rep.pith_number, "failures": rep.failures, "warnings": rep.warnings}))),
            (Err(e), true) => Some(json_line(&serde_json::json!({"file": name, "line": no, "ok": false, "error": e}))),
            (Ok(rep), false) if rep.ok() => (!super::quiet()).then(|| format!("{name}:{no}: verified {} {}\n", rep.kind.name(), rep.pith_number.as_deref().unwrap_or(""))),
            (Ok(rep), false) => Some(format!("{name}:{no}: FAILED {} {}: {}\n", rep.kind.name(), rep.pith_number.as_deref().unwrap_or(""), rep.failures.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))),
            (Err(e), false) => Some(format!("{name}:{no}: FAILED {e}\n")),
        };
        if let Some(l) = line
            && let Err(e) = out.write_all(l.as_bytes())
        {
            werr.get_or_insert(e);
        }
    })
    .map_err(|e| Failure::of(&e))?;
    if let Some(e) = werr {
        return Err(Failure::Usage(format!("cannot write stdout: {e}")));
    }
    drop(out);
    let secs = start.elapsed().as_secs_f64();
    errln!(
        "{name}: {} verified, {} failed, {:.0}/s, {secs:.2}s elapsed",
        sum.done,
        sum.refused,
        sum.done as f64 / secs.max(1e-9)
    );
    Ok(Opened::Streamed(u8::from(sum.refused > 0)))
}

/// One input: a single JSON artifact, or a transcript in JSON lines (`bytes` when already
/// read, else read from `f`).
fn verify_bytes(
    f: &std::path::Path,
    bytes: Option<Vec<u8>>,
    keyring: &pith::verify::keyring::Keyring,
    record: Option<&pith::format::canon::Value>,
    expect: &pith::verify::Expect,
) -> Result<Report, Failure> {
    let name = shown(f);
    let bytes = match bytes {
        Some(b) => b,
        None => pith::io::read_input(f)?,
    };
    match pith::format::canon::parse(&bytes) {
        Ok(v) if v.get("transcript_version").is_some() => Ok(
            pith::verify::verify_transcript_expecting(std::slice::from_ref(&v), keyring, expect),
        ),
        Ok(v) => pith::verify::verify_value(&v, keyring, record)
            .map_err(|e| Failure::Usage(format!("{name}: {}", chain(&e)))),
        Err(e) => match pith::verify::merge::read_events(&bytes) {
            Ok(lines)
                if lines.len() > 1
                    && lines.iter().all(|l| l.get("transcript_version").is_some()) =>
            {
                Ok(pith::verify::verify_transcript_expecting(
                    &lines, keyring, expect,
                ))
            }
            _ => Err(Failure::Usage(format!("{name}: not valid JSON {e}"))),
        },
    }
}

fn print(name: &str, r: &Report, a: &Args) {
    if a.json {
        outp!(
            "{}",
            json_line(&serde_json::json!({
                "file": name,
                "ok": r.ok(),
                "kind": r.kind,
                "pith_number": r.pith_number,
                "failures": r.failures,
                "warnings": r.warnings,
                "notes": r.notes,
                "log": r.log,
            }))
        );
        return;
    }
    let about = r
        .pith_number
        .as_deref()
        .map(|n| format!(" {n}"))
        .unwrap_or_default();
    if r.ok() {
        let w = match r.warnings.len() {
            0 => String::new(),
            1 => " (1 warning)".into(),
            n => format!(" ({n} warnings)"),
        };
        let w = match (r.notes.len(), a.verbose) {
            (0, _) => w,
            (n, true) => format!("{w} ({n} note(s))"),
            (n, false) => format!("{w} ({n} note(s); --verbose shows them)"),
        };
        let log = r
            .log
            .as_ref()
            .map(|l| format!(": {} entries, head {}", l.entries, l.head))
            .unwrap_or_default();
        outln!("{name}: verified {}{about}{log}{w}", r.kind.name());
    } else {
        outln!(
            "{name}: FAILED {}{about}: {} failed check(s)",
            r.kind.name(),
            r.failures.len()
        );
        // a signer the keyring does not hold explains the rest: say that, once
        let unknown: std::collections::BTreeSet<&str> = r
            .failures
            .iter()
            .filter(|f| f.code == "unknown_key")
            .map(|f| f.found.as_str())
            .collect();
        if !unknown.is_empty() && !a.verbose {
            for fp in &unknown {
                outln!(
                    "  FAIL signed by key {}, which is not in the keyring {}",
                    fp.trim_matches('"'),
                    a.keyring.display()
                );
            }
            let hidden = r
                .failures
                .iter()
                .filter(|f| f.code != "unknown_key")
                .count();
            if hidden > 0 {
                outln!("  ({hidden} check(s) that follow from it not shown; --verbose shows them)");
            }
        } else {
            for f in &r.failures {
                outln!("  FAIL {}", super::vis(f));
            }
        }
    }
    for w in &r.warnings {
        outln!("  warning: {}", super::vis(w));
    }
    if a.verbose {
        for n in &r.notes {
            outln!("  note: {}", super::vis(n));
        }
    }
}
