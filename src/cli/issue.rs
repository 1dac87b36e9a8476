//! `pith record` and `pith issue`: arXiv metadata to canonical records, numbers, receipts.

use std::path::PathBuf;

use pith::arxiv::{self, Format, Item, ReadOptions, Rejected};
use pith::format::canon::{self, Value};

use super::unlock::UnlockArgs;
use super::{Failure, chain, json_line, shown};

/// How inputs are read (shared by `record` and `issue`).
#[derive(clap::Args, Debug)]
pub struct InputArgs {
    /// Input files (`-` for stdin): Atom, OAI-PMH arXiv/arXivRaw, snapshot JSON lines,
    /// .abs, or canonical-record JSON. The format is detected from the content.
    #[arg(required = true)]
    pub(super) inputs: Vec<PathBuf>,
    /// Force the input format.
    #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(Format::NAMES))]
    pub(super) format: Option<String>,
    /// Only this version (where the source lists versions); default the latest.
    #[arg(long, conflicts_with = "all_versions")]
    version: Option<u32>,
    /// One record per version the source lists.
    #[arg(long)]
    all_versions: bool,
    /// License URL for records that state none (otherwise they are refused).
    #[arg(long, value_name = "URL")]
    default_license: Option<String>,
    /// Also write refused records here, as JSON lines.
    #[arg(long, value_name = "FILE")]
    pub(super) rejects: Option<PathBuf>,
}

impl InputArgs {
    pub(super) fn options(&self) -> ReadOptions {
        ReadOptions {
            format: self.format.as_deref().and_then(Format::parse),
            version: self.version,
            all_versions: self.all_versions,
            default_license: self.default_license.clone(),
        }
    }

    /// Read every input; refused records and unreadable inputs are reported on stderr (and
    /// in `--rejects`). Returns the good items and whether anything was refused.
    fn read_all(&self) -> Result<(Vec<Item>, bool), Failure> {
        let opts = self.options();
        let mut good = Vec::new();
        let mut rejects: Vec<Rejected> = Vec::new();
        for f in &self.inputs {
            let name = shown(f);
            let bytes = pith::io::read_input(f)?;
            match arxiv::read(&bytes, &name, &opts) {
                Ok(items) => {
                    for it in items {
                        match it {
                            Ok(i) => good.push(i),
                            Err(r) => rejects.push(r),
                        }
                    }
                }
                Err(e) => rejects.push(Rejected {
                    file: name,
                    record: "(whole input)".into(),
                    field: "-".into(),
                    message: e.message,
                }),
            }
        }
        for r in &rejects {
            eprintln!("refused: {}", super::with_hint(&r));
        }
        if let Some(p) = &self.rejects {
            let mut out = Vec::new();
            for r in &rejects {
                let v = serde_json::to_value(r).map_err(|e| Failure::Usage(e.to_string()))?;
                out.extend_from_slice(json_line(&v).as_bytes());
            }
            pith::io::write_output(Some(p), &out, true)?;
        }
        Ok((good, !rejects.is_empty()))
    }
}

#[derive(clap::Args, Debug)]
pub struct RecordArgs {
    #[command(flatten)]
    input: InputArgs,
    /// Machine-readable output: one JSON object per record.
    #[arg(long)]
    json: bool,
    /// Write the records' lines here (atomically, at the end) instead of stdout.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Replace an existing --out file.
    #[arg(long)]
    force: bool,
}

pub fn record(a: RecordArgs) -> Result<u8, Failure> {
    // the lines are the output, with or without --json
    let mut sink = super::bulkio::Sink::open(a.out.as_deref(), a.force, false)?;
    let out = sink.writer();
    let mut rejects = super::bulkio::Rejects::open(a.input.rejects.as_deref())?;
    let mut refused = false;
    let opts = a.input.options();
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    for f in &a.input.inputs {
        let name = shown(f);
        let mut emit_items =
            |items: Vec<Result<Item, Rejected>>| -> Result<(), pith::registry::bulk::BulkError> {
                for it in items {
                    match it {
                        Ok(it) => {
                            let line = record_line(&it, a.json);
                            out.write_all(line.as_bytes()).map_err(|source| {
                                pith::registry::bulk::BulkError::Io {
                                    what: "cannot write the output".into(),
                                    source,
                                }
                            })?;
                        }
                        Err(r) => {
                            eprintln!("refused: {}", super::with_hint(&r));
                            rejects.push(&r);
                            refused = true;
                        }
                    }
                }
                Ok(())
            };
        match super::bulkio::open_lines(f, &a.input)? {
            Some(mut reader) => {
                pith::registry::bulk::read_lines(
                    &mut reader,
                    &name,
                    threads,
                    &opts,
                    &mut emit_items,
                )
                .map_err(|e| Failure::Usage(chain(&e)))?;
            }
            None => {
                let bytes = pith::io::read_input(f)?;
                let items = match arxiv::read(&bytes, &name, &opts) {
                    Ok(items) => items,
                    Err(e) => vec![Err(Rejected {
                        file: name.clone(),
                        record: "(whole input)".into(),
                        field: "-".into(),
                        message: e.message,
                    })],
                };
                emit_items(items).map_err(|e| Failure::Usage(chain(&e)))?;
            }
        }
    }
    sink.finish()?;
    rejects.finish()?;
    Ok(u8::from(refused))
}

/// One record's output line.
fn record_line(it: &Item, json: bool) -> String {
    let Some((sha, number)) = pith::sign::issue::number_of(&it.record) else {
        return format!("{}: internal: record without a number\n", it.position);
    };
    let withdrawn = it.paper.as_ref().is_some_and(|p| p.withdrawn);
    let id = source_label(&it.record);
    if json {
        json_line(&serde_json::json!({
            "position": it.position,
            "source": id,
            "pith_number": number.to_string(),
            "short_pith_number": number.short(),
            "canonical_sha256": sha.hex(),
            "canonical_record": to_json(&it.record),
            "withdrawn": withdrawn,
        }))
    } else {
        format!(
            "{number}  {id}  {}{}\n",
            sha.hex(),
            if withdrawn { "  withdrawn" } else { "" }
        )
    }
}

#[derive(clap::Args, Debug)]
pub struct IssueArgs {
    #[command(flatten)]
    input: InputArgs,
    /// The signing key (an age-encrypted ID.key.age).
    #[arg(long, value_name = "FILE", required_unless_present = "request")]
    key: Option<PathBuf>,
    /// Instead of signing, write a signing request for an offline signer (needs --signer
    /// and --keyring); nothing is recorded until `pith apply`.
    #[arg(long, value_name = "FILE", conflicts_with = "key", requires_all = ["signer", "keyring"])]
    request: Option<PathBuf>,
    /// With --request: the id of the key that will sign.
    #[arg(long, value_name = "KEY_ID")]
    signer: Option<String>,
    #[command(flatten)]
    unlock: UnlockArgs,
    /// Refuse unless the key is in this keyring and valid now.
    #[arg(long, value_name = "DIR")]
    keyring: Option<PathBuf>,
    /// The registry ledger (SQLite); default $PITH_REGISTRY, else ./pith-registry.sqlite.
    #[arg(long, value_name = "PATH")]
    registry: Option<PathBuf>,
    /// `signer.signer_id` of the events.
    #[arg(long, default_value = pith::format::rules::SIGNER_ID)]
    signer_id: String,
    /// Write the events here (JSON for one, JSON lines for many) instead of stdout.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Replace an existing --out file.
    #[arg(long)]
    force: bool,
    /// Machine-readable summary on stdout, one object per record (the signed artifacts
    /// go to --out only).
    #[arg(long)]
    json: bool,
    /// Write, per record, the signed bundle of its record_created event and a no-verdict
    /// graph snapshot (one per line), instead of the event. Needs --keyring.
    #[arg(long)]
    bundle: bool,
    /// Registry base URL for bundles' links and mirror hints.
    #[arg(long, default_value = "https://pith.science")]
    base_url: String,
    /// Worker threads (default: every core).
    #[arg(long)]
    threads: Option<usize>,
    /// Records per ledger transaction in a bulk run (fewer, larger transactions write less).
    #[arg(long, value_name = "N", default_value_t = pith::registry::bulk::RECORDS_PER_TRANSACTION,
          value_parser = clap::value_parser!(usize))]
    transaction_records: usize,
    /// The run's time for every created_at, receipt and signature (default now): makes a
    /// run reproducible.
    #[arg(long, value_name = "TIME")]
    at: Option<String>,
    /// No progress or per-record lines on stderr (refusals are still reported).
    #[arg(long)]
    quiet: bool,
}

pub fn issue(a: IssueArgs) -> Result<u8, Failure> {
    if let Some(req) = &a.request {
        return issue_request(&a, req);
    }
    let Some(key_path) = a.key.as_ref() else {
        return Err(Failure::Usage("give --key FILE or --request FILE".into()));
    };
    let at = match &a.at {
        Some(t) => Some(pith::format::time::Timestamp::parse(t).ok_or_else(|| {
            Failure::Usage(format!(
                "--at {t:?}: expected a UTC time YYYY-MM-DDTHH:MM:SS[.ffffff]Z"
            ))
        })?),
        None => None,
    };
    let now = at.unwrap_or_else(pith::format::time::Timestamp::now);
    let (key, _ring) = super::unlock::signing_key(key_path, &a.unlock, a.keyring.as_deref(), &now)?;
    let key_doc = key.document().clone();
    let path = a
        .registry
        .clone()
        .unwrap_or_else(pith::registry::ledger::default_path);
    let mut ledger =
        pith::registry::ledger::Ledger::open(&path).map_err(|e| Failure::Usage(chain(&e)))?;
    let opts = pith::registry::bulk::IssueOptions {
        threads: a
            .threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from)),
        read: a.input.options(),
        bundles: a.bundle,
        base_url: a.base_url.clone(),
        signer_id: a.signer_id.clone(),
        now: at,
        transaction_records: a.transaction_records.max(1),
    };
    let mut sink = super::bulkio::Sink::open(a.out.as_deref(), a.force, a.json)?;
    let mut progress = super::bulkio::Progress::new(a.quiet);
    let mut rejects = super::bulkio::Rejects::open(a.input.rejects.as_deref())?;
    let mut total = pith::registry::bulk::Summary::default();
    let json = a.json;
    let mut is = pith::registry::bulk::Issuer {
        key: &key,
        key_doc: &key_doc,
        ledger: &mut ledger,
        opts: &opts,
    };
    for f in &a.input.inputs {
        let name = shown(f);
        let lines = super::bulkio::open_lines(f, &a.input)?;
        let streaming = lines.is_some();
        let mut each = |o: &pith::registry::bulk::Outcome| {
            match o {
                pith::registry::bulk::Outcome::Done(done, _, title, withdrawn) => {
                    if json {
                        println!(
                            "{}",
                            serde_json::json!({
                                "pith_number": done.pith_number, "canonical_sha256": done.canonical_sha256, "new": done.new,
                                "first_computed_at": done.first_computed_at, "last_reissued_at": done.last_reissued_at,
                                "replaces": done.replaces, "withdrawn": withdrawn, "title": title,
                            })
                        );
                    }
                    if !streaming && !a.quiet {
                        eprintln!(
                            "{} {}{}{}",
                            if done.new { "issued  " } else { "reissued" },
                            done.pith_number,
                            if *withdrawn { "  WITHDRAWN" } else { "" },
                            done.replaces
                                .as_deref()
                                .map(|r| format!("  (metadata changed; replaces {r})"))
                                .unwrap_or_default()
                        );
                    }
                }
                pith::registry::bulk::Outcome::Refused(r) => {
                    progress.suspend(|| eprintln!("refused: {}", super::with_hint(&r)));
                    rejects.push(r);
                }
            }
            progress.tick(o);
        };
        let res = match lines {
            Some(mut reader) => pith::registry::bulk::issue_lines(
                &mut reader,
                &name,
                &mut is,
                sink.writer(),
                &mut each,
            ),
            None => {
                let bytes = pith::io::read_input(f)?;
                let items = match pith::arxiv::read(&bytes, &name, &opts.read) {
                    Ok(items) => items,
                    Err(e) => vec![Err(pith::arxiv::Rejected {
                        file: name.clone(),
                        record: "(whole input)".into(),
                        field: "-".into(),
                        message: e.message,
                    })],
                };
                pith::registry::bulk::issue_items(items, &name, &mut is, sink.writer(), &mut each)
            }
        };
        let sum = res.map_err(|e| Failure::Usage(chain(&e)))?;
        total.done += sum.done;
        total.refused += sum.refused;
        total.lines += sum.lines;
    }
    sink.finish()?;
    rejects.finish()?;
    progress.finish(&total);
    Ok(u8::from(total.refused > 0))
}

/// `pith issue --request`: plan every record against the ledger (read-only) and write the
/// unsigned record_created events as a signing request.
fn issue_request(a: &IssueArgs, req: &std::path::Path) -> Result<u8, Failure> {
    let (Some(signer), Some(dir)) = (&a.signer, &a.keyring) else {
        return Err(Failure::Usage(
            "--request needs --signer KEY_ID and --keyring DIR".into(),
        ));
    };
    let kr = super::publishing::key_ref(dir, signer)?;
    let (items, mut refused) = a.input.read_all()?;
    let path = a
        .registry
        .clone()
        .unwrap_or_else(pith::registry::ledger::default_path);
    let ledger =
        pith::registry::ledger::Ledger::open(&path).map_err(|e| Failure::Usage(chain(&e)))?;
    let mut out = Vec::new();
    for it in &items {
        let plan = match ledger.plan(&it.record) {
            Ok(p) => p,
            Err(e @ pith::registry::ledger::LedgerError::Collision { .. }) => {
                eprintln!("refused: {}: {}", it.position, chain(&e));
                refused = true;
                continue;
            }
            Err(e) => return Err(Failure::Usage(chain(&e))),
        };
        let receipt = pith::sign::issue::unsigned_receipt(&kr, &plan.sha, &plan.first, &plan.now);
        let created =
            pith::format::time::Timestamp::parse(&plan.now.fmt_seconds()).unwrap_or(plan.now);
        let draft = pith::sign::issue::EventDraft {
            event_type: pith::format::rules::EventType::RecordCreated,
            subject: plan.number.clone(),
            payload: pith::sign::issue::record_created_payload(&it.record, &plan.sha, receipt),
            created_at: created,
            supersedes: Vec::new(),
            prev_event: None,
            signer_id: a.signer_id.clone(),
        };
        out.push(pith::sign::offline::Item {
            kind: pith::sign::offline::ItemKind::RecordCreated,
            subject: plan.number.to_string(),
            title: it.paper.as_ref().map(|p| p.title.clone()),
            digest: plan.sha,
            artifact: pith::sign::issue::unsigned_event(&draft, &kr),
        });
    }
    if out.is_empty() {
        return Err(Failure::Refused("no record to put in the request".into()));
    }
    super::publishing::write_request(req, &kr, &out)?;
    Ok(u8::from(refused))
}

fn to_json(v: &Value) -> serde_json::Value {
    serde_json::from_slice(&canon::to_canonical(v)).unwrap_or(serde_json::Value::Null)
}

/// `2605.18404v1` for a record.
fn source_label(record: &Value) -> String {
    let s = record.get("source");
    let id = s
        .and_then(|s| s.get("id"))
        .and_then(Value::as_str)
        .unwrap_or("?");
    let v = s
        .and_then(|s| s.get("version"))
        .and_then(Value::as_int)
        .unwrap_or(0);
    format!("{id}v{v}")
}
