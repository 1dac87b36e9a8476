//! Bulk paths: JSON lines in, JSON lines out, bounded memory, every core.
//!
//! Input is read in chunks of lines; each chunk is parsed and signed on `threads` worker
//! threads and written in input order, so the output is byte-identical whatever the
//! thread count. The ledger takes up to [`RECORDS_PER_TRANSACTION`] records per
//! transaction; records carry the time read when their batch took the write lock (so
//! concurrent issuers stay ordered), and a batch goes on across a commit while no other
//! writer commits in between; `--at` fixes one time for the whole run, which makes a run
//! reproducible.

use std::io::{BufRead, Write};

use crate::arxiv::{self, Item, ReadOptions, Rejected};
use crate::format::canon::{self, Value};
use crate::format::rules;
use crate::format::time::Timestamp;
use crate::registry::ledger::{Ledger, LedgerError, Plan, Prepared, SignedRows};
use crate::sign::issue::{self, EventDraft};
use crate::trust::policy::Authorized;
use crate::verify::Report;
use crate::verify::keyring::Keyring;

/// Lines per chunk: bounds memory (a chunk of bundles is a few MiB).
pub(crate) const CHUNK: usize = 256;

/// Records per ledger transaction in bulk issue (16 chunks): a large ledger's index pages
/// are written once per transaction, not once per chunk.
pub const RECORDS_PER_TRANSACTION: usize = 4096;

/// How a bulk issue runs.
#[derive(Clone, Debug)]
pub struct IssueOptions {
    /// Worker threads (1 = no extra threads).
    pub threads: usize,
    /// Reader options (format, version, default license).
    pub read: ReadOptions,
    /// Write one signed bundle per record (record_created + no-verdict graph snapshot)
    /// instead of the record_created event.
    pub bundles: bool,
    /// Registry base URL for bundles.
    pub base_url: String,
    /// `signer.signer_id`.
    pub signer_id: String,
    /// The run's time (`--at`); None: the time each ledger transaction starts.
    pub now: Option<Timestamp>,
    /// Records per ledger transaction (default [`RECORDS_PER_TRANSACTION`]).
    pub transaction_records: usize,
}

/// Counts of a bulk run.
#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
pub struct Summary {
    /// Records written.
    pub done: u64,
    /// Records refused.
    pub refused: u64,
    /// Input lines read.
    pub lines: u64,
}

/// A bulk failure that stops the run (I/O or ledger); refused records do not stop it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BulkError {
    /// Reading the input or writing the output failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The ledger failed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

/// The worker pool for `threads` threads, made once per thread count and kept, so that
/// threads (and their allocator caches) live for the whole run, not for one chunk. None
/// when the system cannot start threads: the caller then works alone.
fn pool(threads: usize) -> Option<std::sync::Arc<rayon::ThreadPool>> {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex, OnceLock};
    static POOLS: OnceLock<Mutex<HashMap<usize, Arc<rayon::ThreadPool>>>> = OnceLock::new();
    let mut pools = POOLS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(p) = pools.get(&threads) {
        return Some(p.clone());
    }
    let built = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("pith-worker-{i}"))
        .build()
        .ok()?;
    Some(pools.entry(threads).or_insert(Arc::new(built)).clone())
}

/// Map `f` over `items` on up to `threads` worker threads, keeping order.
pub(crate) fn par_map<T: Sync, R: Send>(
    items: &[T],
    threads: usize,
    f: impl Fn(&T) -> R + Sync + Send,
) -> Vec<R> {
    use rayon::prelude::*;
    if let Some(p) = (threads > 1 && items.len() > 1)
        .then(|| pool(threads))
        .flatten()
    {
        return p.install(|| items.par_iter().with_min_len(4).map(&f).collect());
    }
    items.iter().map(&f).collect()
}

/// Map `f` over `items`, consumed, on up to `threads` worker threads, keeping order.
pub(crate) fn par_map_owned<T: Send, R: Send>(
    items: Vec<T>,
    threads: usize,
    f: impl Fn(T) -> R + Sync + Send,
) -> Vec<R> {
    use rayon::prelude::*;
    if let Some(p) = (threads > 1 && items.len() > 1)
        .then(|| pool(threads))
        .flatten()
    {
        return p.install(|| items.into_par_iter().with_min_len(4).map(&f).collect());
    }
    items.into_iter().map(&f).collect()
}

/// The longest line a bulk path accepts; a longer one is refused (and skipped) without
/// being held in memory.
pub const MAX_LINE: usize = 16 << 20;

/// A chunk ends early once its lines hold this many bytes, so a file of long lines is
/// held a few chunks at a time, not `CHUNK` lines of [`MAX_LINE`] each.
pub(crate) const CHUNK_BYTES: usize = 32 << 20;

/// A line too long to read: its bytes are replaced by this marker (never valid JSON).
const TOO_LONG: &[u8] = b"\x00line longer than 16 MiB";

/// Read up to `n` lines (without their line ends); empty lines are kept as positions.
fn read_chunk(
    input: &mut dyn BufRead,
    n: usize,
    first_line: u64,
) -> std::io::Result<Vec<(u64, Vec<u8>)>> {
    let mut out = Vec::with_capacity(n);
    let mut no = first_line;
    let mut bytes = 0;
    while out.len() < n && bytes < CHUNK_BYTES {
        let mut buf = Vec::new();
        let got =
            std::io::Read::take(&mut *input, MAX_LINE as u64 + 1).read_until(b'\n', &mut buf)?;
        if got == 0 {
            break;
        }
        no += 1;
        if buf.len() > MAX_LINE && buf.last() != Some(&b'\n') {
            // skip the rest of the line in bounded steps
            loop {
                let avail = input.fill_buf()?;
                if avail.is_empty() {
                    break;
                }
                match avail.iter().position(|b| *b == b'\n') {
                    Some(i) => {
                        input.consume(i + 1);
                        break;
                    }
                    None => {
                        let l = avail.len();
                        input.consume(l);
                    }
                }
            }
            out.push((no, TOO_LONG.to_vec()));
            continue;
        }
        while buf.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
            buf.pop();
        }
        bytes += buf.len();
        out.push((no, buf));
    }
    Ok(out)
}

/// What one input line became.
pub enum Outcome {
    /// Written to the output (a bundle or an event).
    Done(Box<Done>),
    /// Refused, with the reason (line number in `record`).
    Refused(Rejected),
}

/// A record issued in a bulk run: what the ledger did, the output line, and the paper.
pub struct Done {
    /// What the ledger recorded.
    pub issued: crate::registry::ledger::Issued,
    /// The output line (a bundle or an event, with its line end).
    pub line: Vec<u8>,
    /// Where the record was in its input (`line 12`, `record 3`).
    pub position: String,
    /// The paper's title, when the input carried one.
    pub title: Option<String>,
    /// The paper (or this version) is withdrawn.
    pub withdrawn: bool,
}

impl Done {
    /// What a person should be told about this record beyond its number: a withdrawn
    /// paper, changed metadata, a retry that wrote nothing. Empty for a plain issue.
    pub fn notes(&self) -> Vec<String> {
        notes(self.withdrawn, Some(&self.issued))
    }
}

/// The notes on one record (see [`Done::notes`]); `issued` is None where nothing is
/// issued (`pith record`).
pub fn notes(withdrawn: bool, issued: Option<&crate::registry::ledger::Issued>) -> Vec<String> {
    let mut out = Vec::new();
    if withdrawn {
        out.push("withdrawn".to_owned());
    }
    if let Some(i) = issued {
        if let Some(r) = &i.replaces {
            out.push(format!("metadata changed; replaces {r}"));
        }
        if i.already {
            out.push("already recorded: nothing new written".to_owned());
        }
    }
    out
}

/// The reader saw one line as line 1 (or a record); name it by its line in the file.
fn renumber(pos: &str, no: u64) -> String {
    match pos.strip_prefix("line 1") {
        Some(rest) if rest.is_empty() || rest.starts_with(' ') => format!("line {no}{rest}"),
        _ => format!("line {no} ({pos})"),
    }
}

/// One input line's records: one, or with `--all-versions` one per version it lists.
fn parse_line(name: &str, no: u64, line: &[u8], opts: &ReadOptions) -> Vec<Result<Item, Rejected>> {
    let rej = |field: &str, message: String| Rejected {
        file: name.to_owned(),
        record: format!("line {no}"),
        field: field.into(),
        message,
    };
    if line == TOO_LONG {
        return vec![Err(rej(
            "",
            format!("line longer than {} MiB: refused unread", MAX_LINE >> 20),
        ))];
    }
    let items = match arxiv::read_line(line, name, opts) {
        Ok(items) => items,
        Err(e) => return vec![Err(rej("", e.message))],
    };
    if items.is_empty() {
        return vec![Err(rej("", "no record on this line".into()))];
    }
    items
        .into_iter()
        .map(|r| match r {
            Ok(mut i) => {
                i.position = renumber(&i.position, no);
                Ok(i)
            }
            Err(mut r) => {
                r.record = renumber(&r.record, no);
                Err(r)
            }
        })
        .collect()
}

/// Make the signed objects of one record: the record_created event, and with
/// `opts.bundles` the graph snapshot and the signed bundle. Returns the output line and
/// the extra signatures made (label, digest) for the audit table.
fn make(
    item: &Item,
    plan: &Plan,
    key: &Authorized,
    key_doc: &Value,
    opts: &IssueOptions,
) -> Result<(SignedRows, Vec<u8>), String> {
    let now = &plan.now;
    let created = now.to_seconds();
    let receipt = issue::receipt(key, &plan.sha, &plan.first, now, now)
        .map_err(|e| e.to_string())?
        .memo();
    let rc = issue::sign_event_owned(
        issue::record_created_draft(
            &plan.number,
            &item.record,
            &plan.sha,
            receipt,
            now,
            &opts.signer_id,
        ),
        key,
        now,
    )
    .map_err(|e| e.to_string())?;
    if !opts.bundles {
        let mut line = canon::to_canonical(&rc);
        line.push(b'\n');
        return Ok((SignedRows::of_event(&rc, &plan.sha, Vec::new()), line));
    }
    let paper = item.paper.as_ref().ok_or("a canonical record alone has no title or authors for the graph snapshot; give arXiv metadata")?;
    let payload = crate::sign::graph::payload(paper, &item.record, None, None)
        .map_err(|e| e.to_string())?
        .memo();
    let graph = issue::sign_event_owned(
        EventDraft {
            event_type: crate::format::rules::EventType::GraphSnapshot,
            subject: plan.number.clone(),
            payload,
            created_at: created,
            supersedes: Vec::new(),
            prev_event: None,
            signer_id: opts.signer_id.clone(),
        },
        key,
        now,
    )
    .map_err(|e| e.to_string())?;
    let graph_digest = graph
        .get("content_sha256")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let mut rows = SignedRows::of_event(&rc, &plan.sha, Vec::new());
    rows.events
        .push(crate::registry::ledger::StoredEvent::of(&graph));
    let unsigned =
        crate::sign::bundle::assemble_own(vec![rc, graph], key_doc, &opts.base_url, &created)
            .map_err(|e| e.to_string())?;
    let (bundle_digest, mut line) =
        crate::sign::bundle::sign_to_bytes(&unsigned, key, now).map_err(|e| e.to_string())?;
    let mut stored = crate::registry::ledger::StoredBundle {
        sha256: bundle_digest.hex(),
        number: plan.number.to_string(),
        built_at: created.fmt_seconds(),
        text: String::new(),
        events: Vec::new(),
        spliced: None,
    };
    let events: Vec<&str> = rows.events.iter().map(|e| e.text.as_str()).collect();
    match std::str::from_utf8(&line) {
        Ok(text) => stored.set_text_cut(text, &events),
        Err(_) => stored.text = canon::into_text(line.clone()),
    }
    rows.bundle = Some(stored);
    let event_row = rows.signatures.get(1).cloned().unwrap_or_default();
    for (label, digest) in [
        (rules::LABEL_EVENT, graph_digest),
        (rules::LABEL_BUNDLE, bundle_digest.hex()),
    ] {
        rows.signatures.push(crate::registry::ledger::SignatureRow {
            label,
            digest,
            ..event_row.clone()
        });
    }
    line.push(b'\n');
    Ok((rows, line))
}

/// Everything a bulk issue needs besides its input.
pub struct Issuer<'a> {
    /// The signing key.
    pub key: &'a Authorized,
    /// Its key document (the bundles' `public_keys`).
    pub key_doc: &'a Value,
    /// The ledger.
    pub ledger: &'a mut Ledger,
    /// Options.
    pub opts: &'a IssueOptions,
}

/// Stream a JSON-lines input (snapshot or canonical records) a chunk at a time, parsing
/// each chunk on `threads` threads; `each` gets every chunk's items in input order.
pub fn read_lines(
    input: &mut dyn BufRead,
    name: &str,
    threads: usize,
    opts: &ReadOptions,
    each: &mut dyn FnMut(Vec<Result<Item, Rejected>>) -> Result<(), BulkError>,
) -> Result<u64, BulkError> {
    let mut lines_read = 0u64;
    loop {
        let lines = read_chunk(input, CHUNK, lines_read).map_err(|source| BulkError::Io {
            what: format!("cannot read {name}"),
            source,
        })?;
        if lines.is_empty() {
            break;
        }
        lines_read += lines.len() as u64;
        let lines: Vec<&(u64, Vec<u8>)> = lines
            .iter()
            .filter(|(_, l)| !l.iter().all(u8::is_ascii_whitespace))
            .collect();
        let parsed = par_map(&lines, threads, |(no, l)| parse_line(name, *no, l, opts));
        each(parsed.into_iter().flatten().collect())?;
    }
    Ok(lines_read)
}

/// A record read and made ready for the ledger (its canonical text, digest and number
/// computed off the write lock), or why it was refused.
pub type Ready = Result<(Item, Prepared), Rejected>;

fn prepare(name: &str, r: Result<Item, Rejected>) -> Ready {
    let mut item = r?;
    // the record is written once: its ledger text, digest, payloads, state and bundle copy it
    item.record = std::mem::replace(&mut item.record, Value::Null).memo();
    match Prepared::new(&item.record) {
        Some(p) => Ok((item, p)),
        None => Err(Rejected {
            file: name.to_owned(),
            record: item.position.clone(),
            field: "metadata.submitted_at".into(),
            message: "no valid submitted_at: cannot derive a Pith number".into(),
        }),
    }
}

/// Issue every record of a JSON-lines input (snapshot or canonical records), streaming
/// a chunk of lines at a time; see [`Issuer::chunk`]. With more than one thread, a reader
/// thread parses the next chunk while this one signs and records the current one.
pub fn issue_lines(
    input: &mut (dyn BufRead + Send),
    name: &str,
    is: &mut Issuer<'_>,
    out: &mut dyn Write,
    each: &mut dyn FnMut(&Outcome),
) -> Result<Summary, BulkError> {
    let mut sum = Summary::default();
    is.ledger.hold_transactions(is.opts.transaction_records);
    let mut pending = None;
    let (threads, opts) = (is.opts.threads, is.opts.read.clone());
    if threads <= 1 {
        sum.lines = read_lines(input, name, 1, &opts, &mut |parsed| {
            let ready = parsed.into_iter().map(|r| prepare(name, r)).collect();
            is.chunk(ready, &mut pending, name, out, &mut sum, each)
        })?;
    } else {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Ready>>(1);
        let opts = &opts;
        let read = std::thread::scope(|s| {
            let reader = s.spawn(move || {
                read_lines(input, name, threads, opts, &mut |parsed| {
                    let ready = par_map_owned(parsed, threads, |r| prepare(name, r));
                    // the receiver is gone only when issuing failed; stop reading
                    tx.send(ready).map_err(|_| BulkError::Io {
                        what: "issuing stopped".into(),
                        source: std::io::Error::other("receiver gone"),
                    })
                })
            });
            let mut res = Ok(());
            for ready in rx.iter() {
                res = is.chunk(ready, &mut pending, name, out, &mut sum, each);
                if res.is_err() {
                    break;
                }
            }
            drop(rx);
            let lines = reader
                .join()
                .unwrap_or_else(|p| std::panic::resume_unwind(p));
            res.and(lines)
        });
        sum.lines = read?;
    }
    is.drain(&mut pending, name, out, &mut sum, each)?;
    is.ledger.commit()?;
    out.flush().map_err(|source| BulkError::Io {
        what: "cannot write the output".into(),
        source,
    })?;
    Ok(sum)
}

/// Issue items already read (XML, .abs, single JSON inputs), a chunk at a time.
pub fn issue_items(
    items: Vec<Result<Item, Rejected>>,
    name: &str,
    is: &mut Issuer<'_>,
    out: &mut dyn Write,
    each: &mut dyn FnMut(&Outcome),
) -> Result<Summary, BulkError> {
    let mut sum = Summary {
        lines: items.len() as u64,
        ..Summary::default()
    };
    let threads = is.opts.threads;
    is.ledger.hold_transactions(is.opts.transaction_records);
    let mut pending = None;
    let mut items = items.into_iter().peekable();
    while items.peek().is_some() {
        let chunk: Vec<_> = items.by_ref().take(CHUNK).collect();
        let ready = par_map_owned(chunk, threads, |r| prepare(name, r));
        is.chunk(ready, &mut pending, name, out, &mut sum, each)?;
    }
    is.drain(&mut pending, name, out, &mut sum, each)?;
    is.ledger.commit()?;
    out.flush().map_err(|source| BulkError::Io {
        what: "cannot write the output".into(),
        source,
    })?;
    Ok(sum)
}

/// What signing one record gave: its ledger rows and output line, or why it failed.
type Made = Result<(SignedRows, Vec<u8>), String>;

/// A chunk planned against the ledger and signed, waiting to be recorded and written.
pub struct Signed {
    ready: Vec<Ready>,
    plans: Vec<Result<Plan, LedgerError>>,
    /// For each record read well: its rows and output line, why it could not be made, or
    /// nothing when its plan was refused.
    made: Vec<Option<Made>>,
}

impl Issuer<'_> {
    /// One chunk: plan it against the ledger, then sign it on the worker threads while
    /// this thread records and writes the previous chunk (`pending`), committing the
    /// transaction when it is full; the chunk becomes the new `pending`. A commit does
    /// not stop the workers: the batch goes on in the next transaction unless another
    /// writer committed in between, and then this chunk is planned and signed again.
    pub fn chunk(
        &mut self,
        ready: Vec<Ready>,
        pending: &mut Option<Signed>,
        name: &str,
        out: &mut dyn Write,
        sum: &mut Summary,
        each: &mut dyn FnMut(&Outcome),
    ) -> Result<(), BulkError> {
        let good = ready.iter().filter(|p| p.is_ok()).count();
        if self.opts.threads <= 1 {
            self.drain(pending, name, out, sum, each)?;
        }
        let records: Vec<&Prepared> = ready
            .iter()
            .filter_map(|p| p.as_ref().ok())
            .map(|(_, p)| p)
            .collect();
        let plans = match self.ledger.plan_batch(&records, self.opts.now.as_ref()) {
            Ok(p) => p,
            Err(e) => {
                // the transaction is rolled back: what was planned in it is void
                *pending = None;
                return Err(e.into());
            }
        };
        drop(records);
        let batch = self.ledger.batch();
        let (key, key_doc, opts) = (self.key, self.key_doc, self.opts);
        let pairs: Vec<(&Item, Option<&Plan>)> = ready
            .iter()
            .filter_map(|p| p.as_ref().ok())
            .zip(&plans)
            .map(|((item, _), plan)| (item, plan.as_ref().ok()))
            .collect();
        debug_assert_eq!(pairs.len(), good);
        let sign = || {
            par_map(&pairs, opts.threads, |(item, plan)| {
                plan.map(|p| make(item, p, key, key_doc, opts))
            })
        };
        let made = match pending.is_some().then(|| pool(opts.threads)).flatten() {
            Some(pool) => {
                let slot = std::sync::Mutex::new(None);
                let mut finished = Ok(());
                pool.in_place_scope(|s| {
                    s.spawn(|_| {
                        let m = sign();
                        *slot
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(m);
                    });
                    finished = self.drain(pending, name, out, sum, each);
                });
                finished?;
                slot.into_inner()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .unwrap_or_default()
            }
            _ => {
                self.drain(pending, name, out, sum, each)?;
                sign()
            }
        };
        drop(pairs);
        if !self.ledger.holds_batch(batch) {
            // another writer committed while the previous chunk's transaction ended: the
            // plans this chunk was signed with are void; plan and sign it again (nothing
            // is pending now, so this time it is planned in the transaction it ends in)
            drop((plans, made));
            return self.chunk(ready, pending, name, out, sum, each);
        }
        *pending = Some(Signed { ready, plans, made });
        Ok(())
    }

    /// Record and write the chunk waiting in `pending`, if any, then commit the
    /// transaction if it is full.
    pub fn drain(
        &mut self,
        pending: &mut Option<Signed>,
        name: &str,
        out: &mut dyn Write,
        sum: &mut Summary,
        each: &mut dyn FnMut(&Outcome),
    ) -> Result<(), BulkError> {
        let Some(Signed { ready, plans, made }) = pending.take() else {
            return Ok(());
        };
        let records: Vec<&Prepared> = ready
            .iter()
            .filter_map(|p| p.as_ref().ok())
            .map(|(_, p)| p)
            .collect();
        let mut rows = Vec::with_capacity(made.len());
        let mut lines = Vec::with_capacity(made.len());
        for m in made {
            match m {
                Some(Ok((r, line))) => {
                    rows.push(Some(r));
                    lines.push(Some(Ok(line)));
                }
                Some(Err(e)) => {
                    rows.push(None);
                    lines.push(Some(Err(e)));
                }
                None => {
                    rows.push(None);
                    lines.push(None);
                }
            }
        }
        let results = self.ledger.record_batch(&records, plans, rows)?;
        drop(records);
        self.ledger.commit_if_full()?;
        let mut results = results.into_iter();
        let mut lines = lines.into_iter();
        for p in ready {
            let outcome = match p {
                Err(r) => Outcome::Refused(r),
                Ok((item, _)) => {
                    let res = results.next();
                    let m = lines.next().flatten();
                    let refuse = |message: String| {
                        Outcome::Refused(Rejected {
                            file: name.into(),
                            record: item.position.clone(),
                            field: String::new(),
                            message,
                        })
                    };
                    match (res, m) {
                        (Some(Ok(issued)), Some(Ok(line))) => Outcome::Done(Box::new(Done {
                            issued,
                            line,
                            title: item.paper.as_ref().map(|p| p.title.clone()),
                            withdrawn: item.paper.as_ref().is_some_and(|p| p.withdrawn),
                            position: item.position.clone(),
                        })),
                        (_, Some(Err(e))) => refuse(e),
                        (Some(Err(e)), _) => refuse(e.to_string()),
                        _ => refuse("not issued".into()),
                    }
                }
            };
            match &outcome {
                Outcome::Done(d) => {
                    out.write_all(&d.line).map_err(|source| BulkError::Io {
                        what: "cannot write the output".into(),
                        source,
                    })?;
                    sum.done += 1;
                }
                Outcome::Refused(_) => sum.refused += 1,
            }
            each(&outcome);
        }
        Ok(())
    }
}

/// Verify a JSON-lines file of artifacts (one per line) on `threads` threads; `each` gets
/// (line number, report or parse error) in input order.
pub fn verify_lines(
    input: &mut dyn BufRead,
    name: &str,
    keyring: &Keyring,
    threads: usize,
    each: &mut dyn FnMut(u64, Result<Report, String>),
) -> Result<Summary, BulkError> {
    let mut sum = Summary::default();
    loop {
        let lines = read_chunk(input, CHUNK, sum.lines).map_err(|source| BulkError::Io {
            what: format!("cannot read {name}"),
            source,
        })?;
        if lines.is_empty() {
            break;
        }
        sum.lines += lines.len() as u64;
        let lines: Vec<&(u64, Vec<u8>)> = lines
            .iter()
            .filter(|(_, l)| !l.iter().all(u8::is_ascii_whitespace))
            .collect();
        let reports = par_map(&lines, threads, |(_, l)| match canon::parse(l) {
            _ if l.as_slice() == TOO_LONG => Err(format!(
                "line longer than {} MiB: refused unread",
                MAX_LINE >> 20
            )),
            Ok(v) => crate::verify::verify_value(&v, keyring, None).map_err(|e| e.to_string()),
            Err(e) => Err(format!("not valid JSON {e}")),
        });
        for ((no, _), r) in lines.iter().zip(reports) {
            if r.as_ref().is_ok_and(Report::ok) {
                sum.done += 1;
            } else {
                sum.refused += 1;
            }
            each(*no, r);
        }
    }
    Ok(sum)
}

/// Bundle many records at once: each input line is a JSON array of one record's events;
/// each output line is its bundle (signed with `key`, else unsigned), in input order.
/// `each` gets (line number, error) for every line that could not be bundled.
#[allow(clippy::too_many_arguments)]
pub fn bundle_lines(
    input: &mut dyn BufRead,
    name: &str,
    keyring: &Keyring,
    key: Option<&Authorized>,
    signer: Option<&str>,
    base_url: &str,
    built_at: &Timestamp,
    signed_at: &Timestamp,
    threads: usize,
    mut ledger: Option<&mut Ledger>,
    out: &mut dyn Write,
    each: &mut dyn FnMut(u64, &str),
) -> Result<Summary, BulkError> {
    let mut sum = Summary::default();
    loop {
        let lines = read_chunk(input, CHUNK, sum.lines).map_err(|source| BulkError::Io {
            what: format!("cannot read {name}"),
            source,
        })?;
        if lines.is_empty() {
            break;
        }
        sum.lines += lines.len() as u64;
        let lines: Vec<&(u64, Vec<u8>)> = lines
            .iter()
            .filter(|(_, l)| !l.iter().all(u8::is_ascii_whitespace))
            .collect();
        let made = par_map(
            &lines,
            threads,
            |(_, l)| -> Result<(Vec<u8>, Option<crate::registry::ledger::StoredBundle>), String> {
                if l.as_slice() == TOO_LONG {
                    return Err(format!(
                        "line longer than {} MiB: refused unread",
                        MAX_LINE >> 20
                    ));
                }
                let v = canon::parse(l).map_err(|e| format!("not valid JSON {e}"))?;
                let events = v
                    .as_array()
                    .ok_or("expected a JSON array of one record's events")?;
                let unsigned =
                    crate::sign::bundle::assemble(events, keyring, base_url, built_at, signer)
                        .map_err(|e| e.to_string())?;
                let (mut line, stored) = match key {
                    Some(k) => {
                        let (sha, line) =
                            crate::sign::bundle::sign_to_bytes(&unsigned, k, signed_at)
                                .map_err(|e| e.to_string())?;
                        let stored = crate::registry::ledger::StoredBundle {
                            sha256: sha.hex(),
                            number: unsigned
                                .get("pith_number")
                                .and_then(Value::as_str)
                                .unwrap_or_default()
                                .to_owned(),
                            built_at: built_at.fmt_seconds(),
                            text: canon::into_text(line.clone()),
                            events: crate::registry::ledger::EventKey::all_of(&unsigned),
                            spliced: None,
                        };
                        (line, Some(stored))
                    }
                    None => (canon::to_canonical(&unsigned), None),
                };
                line.push(b'\n');
                Ok((line, stored))
            },
        );
        // the chunk's signed bundles are stored before any of them is written
        if let Some(l) = ledger.as_deref_mut() {
            let signed: Vec<&crate::registry::ledger::StoredBundle> = made
                .iter()
                .filter_map(|m| m.as_ref().ok().and_then(|(_, b)| b.as_ref()))
                .collect();
            l.store_bundles(&signed)?;
        }
        for ((no, _), m) in lines.iter().zip(made) {
            match m {
                Ok((line, _)) => {
                    out.write_all(&line).map_err(|source| BulkError::Io {
                        what: "cannot write the output".into(),
                        source,
                    })?;
                    sum.done += 1;
                }
                Err(e) => {
                    sum.refused += 1;
                    each(*no, &e);
                }
            }
        }
    }
    out.flush().map_err(|source| BulkError::Io {
        what: "cannot write the output".into(),
        source,
    })?;
    Ok(sum)
}
