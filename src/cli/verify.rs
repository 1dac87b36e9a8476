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
    /// Machine-readable output: one JSON object per file.
    #[arg(long)]
    json: bool,
}

pub fn run(a: Args) -> Result<u8, Failure> {
    let keyring = pith::keys::Keyring::load(&a.keyring)?;
    let record = a.record.as_deref().map(read_json).transpose()?;
    let mut worst = 0u8;
    for f in &a.files {
        let name = shown(f);
        let outcome = verify_file(f, &keyring, record.as_ref());
        match outcome {
            Ok(report) => {
                worst = worst.max(u8::from(!report.ok()));
                print(&name, &report, a.json);
            }
            Err(e) => {
                worst = 2;
                if a.json {
                    print!(
                        "{}",
                        json_line(
                            &serde_json::json!({ "file": name, "ok": false, "error": e.to_string() })
                        )
                    );
                } else {
                    eprintln!("pith: {e}");
                }
            }
        }
    }
    Ok(worst)
}

/// One file: a single JSON artifact, or a transcript in JSON lines.
fn verify_file(
    f: &std::path::Path,
    keyring: &pith::keys::Keyring,
    record: Option<&pith::canon::Value>,
) -> Result<Report, Failure> {
    let name = shown(f);
    let bytes = pith::io::read_input(f)?;
    match pith::canon::parse(&bytes) {
        Ok(v) => pith::verify::verify_value(&v, keyring, record)
            .map_err(|e| Failure::Usage(format!("{name}: {}", chain(&e)))),
        Err(e) => match pith::merge::read_events(&bytes) {
            Ok(lines)
                if lines.len() > 1
                    && lines.iter().all(|l| l.get("transcript_version").is_some()) =>
            {
                Ok(pith::verify::verify_transcript(&lines, keyring))
            }
            _ => Err(Failure::Usage(format!("{name}: not valid JSON {e}"))),
        },
    }
}

fn print(name: &str, r: &Report, json: bool) {
    if json {
        print!(
            "{}",
            json_line(&serde_json::json!({
                "file": name,
                "ok": r.ok(),
                "kind": r.kind,
                "pith_number": r.pith_number,
                "failures": r.failures,
                "warnings": r.warnings,
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
        println!("{name}: verified {}{about}{w}", r.kind.name());
    } else {
        println!(
            "{name}: FAILED {}{about}: {} failed check(s)",
            r.kind.name(),
            r.failures.len()
        );
        for f in &r.failures {
            println!("  FAIL {f}");
        }
    }
    for w in &r.warnings {
        println!("  warning: {w}");
    }
}
