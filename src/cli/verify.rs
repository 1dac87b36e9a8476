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
}

pub fn run(a: Args) -> Result<u8, Failure> {
    let keyring = pith::verify::keyring::Keyring::load(&a.keyring)?;
    let record = a.record.as_deref().map(read_json).transpose()?;
    let expect = pith::verify::Expect {
        entries: a.expect_entries,
        head: a.expect_head.clone(),
    };
    let mut worst = 0u8;
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
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
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
