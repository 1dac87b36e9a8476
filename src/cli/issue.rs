//! `pith issue`: Pith numbers, signed receipts in record_created events, kept in the ledger.

use std::path::PathBuf;

use super::input::InputArgs;
use super::unlock::UnlockArgs;
use super::{Failure, chain, shown};

#[derive(clap::Args, Debug)]
pub struct IssueArgs {
    #[command(flatten)]
    input: InputArgs,
    /// The signing key: an age-encrypted ID.key.age, or a `pkcs11:` URI of a token key.
    #[arg(long, value_name = "FILE", required_unless_present = "request")]
    key: Option<PathBuf>,
    /// Instead of signing, write a signing request for an offline signer (needs --signer
    /// and --keyring); nothing is recorded until `pith apply`.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["key", "report"], requires_all = ["signer", "keyring"])]
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
    #[arg(short = 'o', long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Replace an existing --out file.
    #[arg(long)]
    force: bool,
    /// A machine-readable summary on stderr, one JSON object per record, in place of the
    /// human lines (the signed artifacts still go to stdout or --out, and the ledger).
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
}

/// `--at`, parsed.
fn run_time(a: &IssueArgs) -> Result<Option<pith::format::time::Timestamp>, Failure> {
    a.at.as_ref()
        .map(|t| {
            pith::format::time::Timestamp::parse(t).ok_or_else(|| {
                Failure::Usage(format!(
                    "--at {t:?}: expected a UTC time YYYY-MM-DDTHH:MM:SS[.ffffff]Z"
                ))
            })
        })
        .transpose()
}

pub fn issue(a: IssueArgs) -> Result<u8, Failure> {
    if let Some(req) = &a.request {
        return issue_request(&a, req);
    }
    let Some(key_path) = a.key.as_ref() else {
        return Err(Failure::Usage("give --key FILE or --request FILE".into()));
    };
    let at = run_time(&a)?;
    let now = at.unwrap_or_else(pith::format::time::Timestamp::now);
    let (key, _ring) = super::unlock::signing_key(key_path, &a.unlock, a.keyring.as_deref(), &now)?;
    let key_doc = key.document().clone();
    super::bulkio::readable(&a.input.inputs)?;
    let path = a
        .registry
        .clone()
        .unwrap_or_else(pith::registry::ledger::default_path);
    let mut ledger = pith::registry::ledger::Ledger::open(&path).map_err(|e| Failure::of(&e))?;
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
    let mut sink = super::bulkio::Sink::open(a.out.as_deref(), a.force)?;
    let mut progress = super::bulkio::Progress::new(super::quiet());
    let mut rejects = super::bulkio::JsonLines::open(a.input.rejects.as_deref(), a.force)?;
    let mut report = super::bulkio::JsonLines::open(a.input.report.as_deref(), a.force)?;
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
        let input = super::bulkio::open_input(f, &a.input)?;
        let streaming = matches!(input, super::bulkio::Input::Lines(_));
        let mut each = |o: &pith::registry::bulk::Outcome| {
            match o {
                pith::registry::bulk::Outcome::Done(d) => {
                    let notes = d.notes();
                    let line = done_json(&name, d, &notes);
                    if json {
                        errln!("{line}");
                    } else if !super::quiet() && (!streaming || !notes.is_empty()) {
                        // a stream of many records shows only the records with notes
                        let i = &d.issued;
                        progress.suspend(|| {
                            errln!(
                                "{} {}{}{}",
                                if i.new { "issued  " } else { "reissued" },
                                i.pith_number,
                                if streaming {
                                    format!("  {}: {}", super::vis(&name), super::vis(&d.position))
                                } else {
                                    String::new()
                                },
                                notes.iter().map(|n| format!("  ({n})")).collect::<String>()
                            )
                        });
                    }
                    report.push(&line);
                }
                pith::registry::bulk::Outcome::Refused(r) => {
                    progress.suspend(|| errln!("refused: {}", super::with_hint(&r)));
                    rejects.push(&super::bulkio::rejected_json(r));
                    report.push(&super::bulkio::refused_report(r));
                }
            }
            progress.tick(o);
        };
        let res = match input {
            super::bulkio::Input::Lines(mut reader) => pith::registry::bulk::issue_lines(
                &mut reader,
                &name,
                &mut is,
                sink.writer(),
                &mut each,
            ),
            super::bulkio::Input::Whole(bytes) => {
                let items = match pith::arxiv::read(&bytes, &name, &opts.read) {
                    Ok(items) => items,
                    Err(e) => vec![Err(pith::arxiv::Rejected::from(e))],
                };
                pith::registry::bulk::issue_items(items, &name, &mut is, sink.writer(), &mut each)
            }
        };
        let sum = res.map_err(|e| Failure::of(&e))?;
        total.done += sum.done;
        total.refused += sum.refused;
        total.lines += sum.lines;
    }
    sink.finish()?;
    rejects.finish()?;
    report.finish()?;
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
    let kr = super::signing::key_ref(dir, signer)?;
    let now = run_time(a)?.unwrap_or_else(pith::format::time::Timestamp::now);
    let (items, mut refused) = a.input.read_all(a.force)?;
    let path = a
        .registry
        .clone()
        .unwrap_or_else(pith::registry::ledger::default_path);
    let ledger =
        pith::registry::ledger::Ledger::open_for_planning(&path).map_err(|e| Failure::of(&e))?;
    let mut out = Vec::new();
    for it in &items {
        let plan = match ledger.plan_at(&it.record, &now) {
            Ok(p) => p,
            Err(e @ pith::registry::ledger::LedgerError::Collision { .. }) => {
                errln!(
                    "refused: {}: {}",
                    super::vis(&it.position),
                    super::vis(&chain(&e))
                );
                refused = true;
                continue;
            }
            Err(e) => return Err(Failure::of(&e)),
        };
        let receipt = pith::sign::issue::unsigned_receipt(&kr, &plan.sha, &plan.first, &plan.now);
        let Some(title) = it.paper.as_ref().map(|p| p.title.clone()) else {
            errln!(
                "refused: {}: a canonical record alone has no title to show the offline signer; give arXiv metadata",
                it.position
            );
            refused = true;
            continue;
        };
        let draft = pith::sign::issue::record_created_draft(
            &plan.number,
            &it.record,
            &plan.sha,
            receipt,
            &plan.now,
            &a.signer_id,
        );
        out.push(pith::sign::offline::Item {
            kind: pith::sign::offline::ItemKind::RecordCreated,
            subject: plan.number.to_string(),
            title: Some(title),
            digest: plan.sha,
            artifact: pith::sign::issue::unsigned_event(&draft, &kr),
        });
    }
    if out.is_empty() {
        return Err(Failure::Refused("no record to put in the request".into()));
    }
    super::signing::write_request(req, &kr, &out)?;
    Ok(u8::from(refused))
}

/// One issued record as JSON: its line in `--report`, and on stderr with `--json`.
fn done_json(file: &str, d: &pith::registry::bulk::Done, notes: &[String]) -> serde_json::Value {
    let i = &d.issued;
    serde_json::json!({
        "file": file, "record": d.position,
        "outcome": if i.new { "issued" } else { "reissued" },
        "pith_number": i.pith_number, "canonical_sha256": i.canonical_sha256, "new": i.new,
        "first_computed_at": i.first_computed_at, "last_reissued_at": i.last_reissued_at,
        "replaces": i.replaces, "withdrawn": d.withdrawn, "title": d.title, "notes": notes,
    })
}
