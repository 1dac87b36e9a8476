//! `pith record`: canonical records and Pith numbers of arXiv metadata (no key needed).

use std::path::PathBuf;

use pith::arxiv::{self, Item, Rejected};

use super::input::{InputArgs, source_label, to_json};
use super::{Failure, json_line, shown};

#[derive(clap::Args, Debug)]
pub struct RecordArgs {
    #[command(flatten)]
    input: InputArgs,
    /// Machine-readable output: one JSON object per record.
    #[arg(long)]
    json: bool,
    /// Write the records' lines here (atomically, at the end) instead of stdout.
    #[arg(short = 'o', long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Replace an existing --out file.
    #[arg(long)]
    force: bool,
}

pub fn record(a: RecordArgs) -> Result<u8, Failure> {
    // the lines are the output, with or without --json
    let mut sink = super::bulkio::Sink::open(a.out.as_deref(), a.force)?;
    let out = sink.writer();
    let mut rejects = super::bulkio::JsonLines::open(a.input.rejects.as_deref(), a.force)?;
    let mut report = super::bulkio::JsonLines::open(a.input.report.as_deref(), a.force)?;
    let mut refused = false;
    let (mut done, mut n_refused) = (0u64, 0u64);
    let opts = a.input.options();
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    for f in &a.input.inputs {
        let name = shown(f);
        let mut emit_items =
            |items: Vec<Result<Item, Rejected>>| -> Result<(), pith::registry::bulk::BulkError> {
                for it in items {
                    match it {
                        Ok(it) => {
                            done += 1;
                            report.push(&report_line(&name, &it));
                            let line = record_line(&it, a.json);
                            out.write_all(line.as_bytes()).map_err(|source| {
                                pith::registry::bulk::BulkError::Io {
                                    what: "cannot write the output".into(),
                                    source,
                                }
                            })?;
                        }
                        Err(r) => {
                            errln!("refused: {}", super::with_hint(&r));
                            rejects.push(&super::bulkio::rejected_json(&r));
                            report.push(&super::bulkio::refused_report(&r));
                            refused = true;
                            n_refused += 1;
                        }
                    }
                }
                Ok(())
            };
        match super::bulkio::open_input(f, &a.input)? {
            super::bulkio::Input::Lines(mut reader) => {
                pith::registry::bulk::read_lines(
                    &mut reader,
                    &name,
                    threads,
                    &opts,
                    &mut emit_items,
                )
                .map_err(|e| Failure::of(&e))?;
            }
            super::bulkio::Input::Whole(bytes) => {
                let items = match arxiv::read(&bytes, &name, &opts) {
                    Ok(items) => items,
                    Err(e) => vec![Err(Rejected::from(e))],
                };
                emit_items(items).map_err(|e| Failure::of(&e))?;
            }
        }
    }
    sink.finish()?;
    rejects.finish()?;
    report.finish()?;
    infoln!("{done} record(s), {n_refused} refused");
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

/// One record's line in `--report`.
fn report_line(file: &str, it: &Item) -> serde_json::Value {
    let withdrawn = it.paper.as_ref().is_some_and(|p| p.withdrawn);
    let number = pith::sign::issue::number_of(&it.record);
    serde_json::json!({
        "file": file, "record": it.position, "outcome": "record",
        "source": source_label(&it.record),
        "pith_number": number.as_ref().map(|(_, n)| n.to_string()),
        "canonical_sha256": number.as_ref().map(|(s, _)| s.hex()),
        "withdrawn": withdrawn,
        "notes": pith::registry::bulk::notes(withdrawn, None),
    })
}
