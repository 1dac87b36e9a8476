//! `pith registry`: what the ledger holds.

use std::path::PathBuf;

use pith::format::canon;

use super::{Failure, emit};

#[derive(clap::Subcommand, Debug)]
pub enum Cmd {
    /// Show the records (and receipts) of a Pith number, short number or arXiv id.
    Show(ShowArgs),
    /// Export every record as JSON lines.
    Export(ExportArgs),
}

#[derive(clap::Args, Debug)]
pub struct ShowArgs {
    /// `pith:YYYY:CODE`, `pith:CODE8…`, or an arXiv id (`2605.18404`, `2605.18404v1`).
    query: String,
    /// The ledger; default $PITH_REGISTRY, else ./pith-registry.sqlite.
    #[arg(long)]
    registry: Option<PathBuf>,
    /// Machine-readable output.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args, Debug)]
pub struct ExportArgs {
    /// The ledger; default $PITH_REGISTRY, else ./pith-registry.sqlite.
    #[arg(long)]
    registry: Option<PathBuf>,
    /// Write here instead of stdout.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Replace an existing --out file.
    #[arg(long)]
    force: bool,
    /// Accepted for uniformity: export is always JSON lines.
    #[arg(long)]
    json: bool,
}

fn open(p: Option<&PathBuf>) -> Result<pith::registry::ledger::Ledger, Failure> {
    let path = p
        .cloned()
        .unwrap_or_else(pith::registry::ledger::default_path);
    if !path.exists() {
        return Err(Failure::Usage(format!(
            "no registry ledger at {}",
            path.display()
        )));
    }
    pith::registry::ledger::Ledger::open_read_only(&path).map_err(|e| Failure::of(&e))
}

pub fn run(cmd: Cmd) -> Result<u8, Failure> {
    match cmd {
        Cmd::Show(a) => {
            let l = open(a.registry.as_ref())?;
            let rows = l.show(&a.query).map_err(|e| Failure::of(&e))?;
            if rows.is_empty() {
                return Err(Failure::Refused(format!(
                    "{:?} is not in the ledger",
                    a.query
                )));
            }
            for r in rows {
                if a.json {
                    let mut b = canon::to_canonical(&r);
                    b.push(b'\n');
                    emit(None, false, &b)?;
                } else {
                    let g = |k: &str| r.get(k).map(canon::Value::brief).unwrap_or_default();
                    outln!(
                        "{}  {}v{}",
                        g("pith_number").trim_matches('"'),
                        g("source_id").trim_matches('"'),
                        g("source_version")
                    );
                    outln!(
                        "  canonical_sha256   {}",
                        g("canonical_sha256").trim_matches('"')
                    );
                    outln!(
                        "  first_computed_at  {}",
                        g("first_computed_at").trim_matches('"')
                    );
                    outln!(
                        "  last_reissued_at   {}",
                        g("last_reissued_at").trim_matches('"')
                    );
                    if let Some(rep) = r.get("replaces").and_then(canon::Value::as_str) {
                        outln!("  replaces           {rep} (metadata changed)");
                    }
                    let n = r
                        .get("receipts")
                        .and_then(canon::Value::as_array)
                        .map_or(0, Vec::len);
                    outln!("  receipts           {n}");
                }
            }
            Ok(0)
        }
        Cmd::Export(a) => {
            let l = open(a.registry.as_ref())?;
            let mut bytes = Vec::new();
            l.export(|v| {
                bytes.extend_from_slice(&canon::to_canonical(&v));
                bytes.push(b'\n');
                Ok(())
            })
            .map_err(|e| Failure::of(&e))?;
            emit(a.out.as_ref(), a.force, &bytes)?;
            Ok(0)
        }
    }
}
