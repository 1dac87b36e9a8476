//! `pith registry`: what the ledger holds.

use std::path::PathBuf;

use pith::format::canon;

use super::{Failure, emit};

#[derive(clap::Subcommand, Debug)]
pub enum Cmd {
    /// Show the records (and receipts) of a Pith number, short number or arXiv id.
    Show(ShowArgs),
    /// Export the whole ledger as JSON lines: records, receipts, signature audit rows,
    /// event versions and bundles.
    Export(ExportArgs),
    /// Load an export into an empty ledger (a mirror's setup), verifying everything.
    Import(ImportArgs),
    /// Store signed events and bundles from files (each verified with --keyring), such as
    /// the events an older ledger did not keep.
    Add(AddArgs),
    /// Check the ledger whole (SQLite integrity, foreign keys, every stored event's bytes).
    Check(CheckArgs),
}

#[derive(clap::Args, Debug)]
pub struct CheckArgs {
    /// The ledger; default $PITH_REGISTRY, else ./pith-registry.sqlite.
    #[arg(long)]
    registry: Option<PathBuf>,
    /// Machine-readable output: one object with the counts and the problems found.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    output: super::ReportOut,
}

#[derive(clap::Args, Debug)]
pub struct AddArgs {
    /// Files of events or bundles: one JSON document, an array, or JSON lines.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// The keyring every artifact must verify against.
    #[arg(long)]
    keyring: PathBuf,
    /// The ledger; default $PITH_REGISTRY, else ./pith-registry.sqlite.
    #[arg(long)]
    registry: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
pub struct ImportArgs {
    /// The export (JSON lines; `-` for stdin).
    input: PathBuf,
    /// The keyring every receipt, event and bundle must verify against.
    #[arg(long)]
    keyring: PathBuf,
    /// The ledger to load (created; it must be empty); default $PITH_REGISTRY, else
    /// ./pith-registry.sqlite.
    #[arg(long)]
    registry: Option<PathBuf>,
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
    #[command(flatten)]
    output: super::ReportOut,
}

#[derive(clap::Args, Debug)]
pub struct ExportArgs {
    /// The ledger; default $PITH_REGISTRY, else ./pith-registry.sqlite.
    #[arg(long)]
    registry: Option<PathBuf>,
    /// Write here instead of stdout.
    #[arg(short = 'o', long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Replace an existing --out file.
    #[arg(long)]
    force: bool,
}

/// The ledger path (`--registry`, else the default), which must exist.
pub(super) fn existing(p: Option<&PathBuf>) -> Result<PathBuf, Failure> {
    let path = p
        .cloned()
        .unwrap_or_else(pith::registry::ledger::default_path);
    if !path.exists() {
        return Err(Failure::Usage(format!(
            "no registry ledger at {} (name one with --registry DB or $PITH_REGISTRY)",
            path.display()
        )));
    }
    Ok(path)
}

/// An existing ledger, opened read-only.
pub(super) fn open(p: Option<&PathBuf>) -> Result<pith::registry::ledger::Ledger, Failure> {
    pith::registry::ledger::Ledger::open_read_only(&existing(p)?).map_err(|e| Failure::of(&e))
}

pub fn run(cmd: Cmd) -> Result<u8, Failure> {
    match cmd {
        Cmd::Show(mut a) => {
            let o = std::mem::take(&mut a.output);
            o.run(|| show(a))
        }
        Cmd::Export(a) => {
            let l = open(a.registry.as_ref())?;
            let mut sink = super::bulkio::Sink::open(a.out.as_deref(), a.force)?;
            let w = sink.writer();
            let n = l
                .export(&mut |v| {
                    w.write_all(&canon::to_canonical(v))?;
                    w.write_all(b"\n")
                })
                .map_err(|e| Failure::of(&e))?;
            sink.finish()?;
            infoln!("exported {n} row(s)");
            Ok(0)
        }
        Cmd::Import(a) => import(a),
        Cmd::Add(a) => add(a),
        Cmd::Check(mut a) => {
            let o = std::mem::take(&mut a.output);
            o.run(|| check(a))
        }
    }
}

fn show(a: ShowArgs) -> Result<u8, Failure> {
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

fn check(a: CheckArgs) -> Result<u8, Failure> {
    let l = open(a.registry.as_ref())?;
    let c = l.check().map_err(|e| Failure::of(&e))?;
    let (records, receipts, sigs) = l.counts().map_err(|e| Failure::of(&e))?;
    let (events, versions, bundles) = l.store_counts().map_err(|e| Failure::of(&e))?;
    if a.json {
        outp!(
            "{}",
            super::json_line(&serde_json::json!({
                "ledger": super::shown(l.path()),
                "schema": l.schema(),
                "whole": c.problems.is_empty(),
                "problems": c.problems,
                "records": records,
                "receipts": receipts,
                "signature_rows": sigs,
                "events": events,
                "event_versions": versions,
                "bundles": bundles,
                "receipts_without_event": c.receipts_without_event,
            }))
        );
        return Ok(u8::from(!c.problems.is_empty()));
    }
    for p in &c.problems {
        errln!("problem: {}", super::vis(p));
    }
    if l.schema() < pith::registry::ledger::SCHEMA_VERSION {
        errln!(
            "note: schema {} (upgraded in place{}, on the ledger's next write)",
            l.schema(),
            if l.schema() < 3 {
                ", its log filled in"
            } else {
                ""
            }
        );
    }
    if c.receipts_without_event > 0 {
        errln!(
            "note: {} receipt(s) have no stored event (a ledger older than the event store): pith registry add EVENTS --keyring DIR brings them in",
            c.receipts_without_event
        );
    }
    outln!(
        "{records} record(s), {receipts} receipt(s), {sigs} signature row(s), {events} event(s) in {versions} version(s), {bundles} bundle(s): {}",
        if c.problems.is_empty() {
            "whole"
        } else {
            "NOT whole"
        }
    );
    Ok(u8::from(!c.problems.is_empty()))
}

fn import(a: ImportArgs) -> Result<u8, Failure> {
    use std::io::BufRead as _;
    let keyring = pith::verify::keyring::Keyring::load(&a.keyring)?;
    let path = a
        .registry
        .clone()
        .unwrap_or_else(pith::registry::ledger::default_path);
    let name = super::shown(&a.input);
    let reader: Box<dyn std::io::BufRead> = if a.input == std::path::Path::new("-") {
        Box::new(std::io::BufReader::new(std::io::stdin()))
    } else {
        let f = std::fs::File::open(&a.input).map_err(|source| {
            Failure::from(pith::io::IoError::Read {
                path: a.input.clone(),
                source,
            })
        })?;
        Box::new(std::io::BufReader::with_capacity(1 << 20, f))
    };
    let max = pith::registry::bulk::MAX_LINE as u64;
    let mut reader = reader;
    let mut lines = std::iter::from_fn(move || {
        let mut buf = Vec::new();
        match std::io::Read::take(&mut reader, max + 1).read_until(b'\n', &mut buf) {
            Ok(0) => None,
            Ok(_) if buf.len() as u64 > max => Some(Err(format!("longer than {max} bytes"))),
            Ok(_) => Some(
                canon::parse(buf.trim_ascii_end()).map_err(|e| format!("not canonical JSON: {e}")),
            ),
            Err(e) => Some(Err(format!("cannot read: {e}"))),
        }
    });
    // an existing ledger is looked at read-only first: a refused import upgrades nothing
    if std::fs::symlink_metadata(&path).is_ok() {
        let ro =
            pith::registry::ledger::Ledger::open_read_only(&path).map_err(|e| Failure::of(&e))?;
        let (records, receipts, sigs) = ro.counts().map_err(|e| Failure::of(&e))?;
        if records + receipts + sigs > 0 {
            return Err(Failure::Refused(format!(
                "registry ledger {}: not empty; import loads into an empty ledger only",
                path.display()
            )));
        }
    }
    let mut ledger = pith::registry::ledger::Ledger::open(&path).map_err(|e| Failure::of(&e))?;
    use pith::registry::ledger::ImportError;
    let n = ledger.import(&mut lines, &keyring).map_err(|e| match e {
        ImportError::Ledger(l) => Failure::of(&l),
        ImportError::Line { line, what } => Failure::Refused(format!(
            "{name}:{line}: {}; nothing imported",
            super::vis(&what)
        )),
        other => Failure::Refused(other.to_string()),
    })?;
    infoln!(
        "imported {n} row(s) from {name} into {}",
        super::shown(&path)
    );
    Ok(0)
}

/// A verified artifact `registry add` stores.
enum Artifact {
    Bundle(pith::verify::Verified<pith::model::Bundle>),
    Event(pith::verify::Verified<pith::model::Event>),
}

fn add(a: AddArgs) -> Result<u8, Failure> {
    use pith::registry::ledger::Put;
    let keyring = pith::verify::keyring::Keyring::load(&a.keyring)?;
    let path = a
        .registry
        .clone()
        .unwrap_or_else(pith::registry::ledger::default_path);
    // every artifact read and verified before the ledger is opened (or created): a bad
    // file leaves no ledger behind and stores nothing
    let mut verified = Vec::new();
    for f in &a.inputs {
        let bytes = pith::io::read_input(f)?;
        let values = pith::verify::merge::read_events(&bytes).map_err(|e| {
            Failure::Usage(format!(
                "{}: not events or bundles JSON {e}",
                super::shown(f)
            ))
        })?;
        for (i, v) in values.into_iter().enumerate() {
            let what = |r: &pith::verify::Report| {
                Failure::Refused(format!(
                    "{} (item {}): not stored: {}",
                    super::shown(f),
                    i + 1,
                    r.failures
                        .first()
                        .map(ToString::to_string)
                        .unwrap_or_default()
                ))
            };
            verified.push(if v.get("bundle_type").is_some() {
                Artifact::Bundle(pith::verify::verify_bundle(v, &keyring).map_err(|r| what(&r))?)
            } else {
                Artifact::Event(pith::verify::verify_event(v, &keyring).map_err(|r| what(&r))?)
            });
        }
    }
    let mut ledger = pith::registry::ledger::Ledger::open(&path).map_err(|e| Failure::of(&e))?;
    let (mut new, mut already) = (0usize, 0usize);
    for v in &verified {
        let fresh = match v {
            Artifact::Bundle(b) => ledger.store_bundle(b, false).map_err(|e| Failure::of(&e))?,
            Artifact::Event(e) => {
                ledger.store_event(e).map_err(|e| Failure::of(&e))? != Put::Already
            }
        };
        if fresh {
            new += 1;
        } else {
            already += 1;
        }
    }
    infoln!(
        "stored {new} artifact(s) in {} ({already} already there)",
        super::shown(&path)
    );
    Ok(0)
}
