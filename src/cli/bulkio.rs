//! Bulk plumbing for the CLI: streaming inputs, atomic output, progress, rejects.

use std::io::{BufRead, BufReader, IsTerminal as _, Read as _, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use super::Failure;
use super::input::InputArgs;

/// A bulk input opened, with its first line read under the bulk line limit.
pub struct FirstLine {
    /// The input after that line.
    pub rest: Box<dyn BufRead + Send>,
    /// The line (with its line end), or its first `MAX_LINE + 1` bytes.
    pub line: Vec<u8>,
    /// Whether the line was cut at the limit.
    pub overlong: bool,
}

/// Open `f` (a file, or stdin for `-`) buffered, and read its first line.
pub fn open_first_line(f: &Path) -> Result<FirstLine, Failure> {
    let rerr = |source| {
        Failure::from(pith::io::IoError::Read {
            path: f.into(),
            source,
        })
    };
    let mut r: Box<dyn BufRead + Send> = if f == Path::new("-") {
        Box::new(BufReader::with_capacity(1 << 20, std::io::stdin()))
    } else {
        Box::new(BufReader::with_capacity(
            1 << 20,
            std::fs::File::open(f).map_err(rerr)?,
        ))
    };
    let max = pith::registry::bulk::MAX_LINE as u64 + 1;
    let mut first = Vec::new();
    (&mut r)
        .take(max)
        .read_until(b'\n', &mut first)
        .map_err(rerr)?;
    let overlong = first.len() as u64 == max && !first.ends_with(b"\n");
    Ok(FirstLine {
        rest: r,
        line: first,
        overlong,
    })
}

/// An input, opened: streamed as JSON lines, or read whole for a whole-input reader.
pub enum Input {
    /// Snapshot or canonical-record JSON lines, streamed.
    Lines(Box<dyn BufRead + Send>),
    /// Everything else, read whole (bounded), from a file or stdin alike.
    Whole(Vec<u8>),
}

/// Every input file opens for reading (and is not a directory): checked before a command
/// creates its ledger or any output, so a mistyped name leaves nothing behind.
pub fn readable(inputs: &[std::path::PathBuf]) -> Result<(), Failure> {
    for f in inputs.iter().filter(|f| f.as_path() != Path::new("-")) {
        let fail = |source| {
            Failure::from(pith::io::IoError::Read {
                path: f.clone(),
                source,
            })
        };
        let file = std::fs::File::open(f).map_err(fail)?;
        if file.metadata().map_err(fail)?.is_dir() {
            return Err(fail(std::io::Error::from(std::io::ErrorKind::IsADirectory)));
        }
    }
    Ok(())
}

/// Open `f` (a file or `-`): a stream of JSON lines when its content is snapshot or
/// canonical-record JSON lines with more than one line (any line count on stdin); read
/// whole for every other format, detected from content either way.
pub fn open_input(f: &Path, a: &InputArgs) -> Result<Input, Failure> {
    let forced = a.format.as_deref().and_then(pith::arxiv::Format::parse);
    if forced.is_some_and(|x| {
        !matches!(
            x,
            pith::arxiv::Format::Snapshot | pith::arxiv::Format::Record
        )
    }) {
        return Ok(Input::Whole(pith::io::read_input(f)?));
    }
    let FirstLine {
        rest: mut r,
        line: first,
        overlong,
    } = open_first_line(f)?;
    let rerr = |source| {
        Failure::from(pith::io::IoError::Read {
            path: f.into(),
            source,
        })
    };
    let stdin = f == Path::new("-");
    let format = forced.or_else(|| pith::arxiv::detect(&first));
    let line_format = matches!(
        format,
        Some(pith::arxiv::Format::Snapshot | pith::arxiv::Format::Record)
    );
    let lines = if overlong {
        // too long for any line: stream it, so that line alone is refused with its number
        forced.is_none() || line_format
    } else {
        // one line on stdin is a one-line stream; a one-line file is read whole
        let more = !r.fill_buf().map_err(rerr)?.is_empty();
        line_format && (stdin || (more && first.ends_with(b"\n")))
    };
    if !lines && stdin {
        // stdin cannot be reopened: the rest of it, after the line already read
        let mut bytes = first;
        let limit = (pith::io::MAX_INPUT + 1).saturating_sub(bytes.len()) as u64;
        std::io::Read::read_to_end(&mut r.take(limit), &mut bytes).map_err(rerr)?;
        if bytes.len() > pith::io::MAX_INPUT {
            return Err(pith::io::IoError::TooLarge { path: f.into() }.into());
        }
        return Ok(Input::Whole(bytes));
    }
    if !lines {
        return Ok(Input::Whole(pith::io::read_input(f)?));
    }
    Ok(Input::Lines(Box::new(std::io::Cursor::new(first).chain(r))))
}

/// Where artifacts go: a temp file beside `--out`, persisted at the end, or stdout.
pub struct Sink {
    w: Box<dyn Write>,
    tmp: Option<(tempfile::TempPath, std::path::PathBuf, bool)>,
}

impl Sink {
    /// Open the output: the artifacts always go to `--out` or stdout (machine summaries
    /// go elsewhere, never in their place).
    pub fn open(out: Option<&Path>, force: bool) -> Result<Self, Failure> {
        match out.filter(|p| *p != Path::new("-")) {
            Some(p) => {
                if p.exists() && !force && p != Path::new("/dev/null") {
                    return Err(pith::io::IoError::Exists { path: p.into() }.into());
                }
                if p == Path::new("/dev/null") {
                    return Ok(Sink {
                        w: Box::new(std::io::sink()),
                        tmp: None,
                    });
                }
                let dir = p
                    .parent()
                    .filter(|d| !d.as_os_str().is_empty())
                    .unwrap_or(Path::new("."));
                let tf = pith::io::temp_file_in(dir, Some(0o644))
                    .map_err(|e| Failure::Usage(format!("cannot write {}: {e}", p.display())))?;
                let (file, path) = tf.into_parts();
                Ok(Sink {
                    w: Box::new(std::io::BufWriter::with_capacity(1 << 20, file)),
                    tmp: Some((path, p.to_path_buf(), force)),
                })
            }
            None => Ok(Sink {
                w: Box::new(std::io::BufWriter::with_capacity(
                    1 << 16,
                    std::io::stdout(),
                )),
                tmp: None,
            }),
        }
    }
    /// The writer.
    pub fn writer(&mut self) -> &mut dyn Write {
        &mut *self.w
    }
    /// Flush, fsync and move into place.
    pub fn finish(mut self) -> Result<(), Failure> {
        self.w.flush().map_err(|e| {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                Failure::Pipe
            } else {
                Failure::Usage(format!("cannot write the output: {e}"))
            }
        })?;
        drop(self.w);
        if let Some((tmp, dest, force)) = self.tmp {
            std::fs::File::open(&tmp)
                .and_then(|f| f.sync_all())
                .map_err(|e| Failure::Usage(format!("cannot write {}: {e}", dest.display())))?;
            let r = if force {
                tmp.persist(&dest).map_err(|e| e.error)
            } else {
                tmp.persist_noclobber(&dest).map_err(|e| e.error)
            };
            r.map_err(|e| Failure::Usage(format!("cannot write {}: {e}", dest.display())))?;
        }
        Ok(())
    }
}

/// Progress on stderr: a bar on a terminal, a line every 10 s otherwise, none when quiet.
pub struct Progress {
    bar: Option<indicatif::ProgressBar>,
    quiet: bool,
    start: Instant,
    last: Instant,
    done: u64,
    refused: u64,
}

impl Progress {
    /// Start.
    pub fn new(quiet: bool) -> Self {
        let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
            let b = indicatif::ProgressBar::new_spinner();
            b.set_style(
                indicatif::ProgressStyle::with_template(
                    "{spinner} {elapsed_precise} {pos} done {msg}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
            );
            b.enable_steady_tick(Duration::from_millis(200));
            b
        });
        let now = Instant::now();
        Progress {
            bar,
            quiet,
            start: now,
            last: now,
            done: 0,
            refused: 0,
        }
    }
    /// Count one outcome.
    pub fn tick(&mut self, o: &pith::registry::bulk::Outcome) {
        match o {
            pith::registry::bulk::Outcome::Done(_) => self.done += 1,
            pith::registry::bulk::Outcome::Refused(_) => self.refused += 1,
        }
        if let Some(b) = &self.bar {
            b.set_position(self.done);
            // integer rates: "(1357/s)", never "(1,357.3302/s)"
            b.set_message(format!("{} refused ({:.0}/s)", self.refused, self.rate()));
        } else if !self.quiet && self.last.elapsed() >= Duration::from_secs(10) {
            self.last = Instant::now();
            errln!(
                "... {} done, {} refused, {:.0}/s",
                self.done,
                self.refused,
                self.rate()
            );
        }
    }
    /// Print without tearing the bar.
    pub fn suspend(&self, f: impl FnOnce()) {
        match &self.bar {
            Some(b) => b.suspend(f),
            None => f(),
        }
    }
    fn rate(&self) -> f64 {
        self.done as f64 / self.start.elapsed().as_secs_f64().max(1e-9)
    }
    /// The final summary line.
    pub fn finish(self, total: &pith::registry::bulk::Summary) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
        if !self.quiet {
            errln!(
                "{} done, {} refused, {:.0}/s, {:.2}s elapsed",
                total.done,
                total.refused,
                self.rate(),
                self.start.elapsed().as_secs_f64()
            );
        }
    }
}

/// A JSON-lines side file (`--rejects`, `--report`): streamed to a temp file beside it
/// and moved into place at the end, refused at the start if it exists (unless `--force`).
pub struct JsonLines {
    sink: Option<(Sink, std::path::PathBuf)>,
    error: Option<std::io::Error>,
}

impl JsonLines {
    /// Open for `path` (nothing is written when None).
    pub fn open(path: Option<&Path>, force: bool) -> Result<Self, Failure> {
        let sink = match path {
            Some(p) if p == Path::new("-") => {
                return Err(Failure::Usage(format!(
                    "{}: a side file needs a file name, not -",
                    p.display()
                )));
            }
            Some(p) => Some((Sink::open(Some(p), force)?, p.to_path_buf())),
            None => None,
        };
        Ok(JsonLines { sink, error: None })
    }
    /// One line.
    pub fn push(&mut self, v: &serde_json::Value) {
        if let Some((s, _)) = &mut self.sink
            && self.error.is_none()
            && let Err(e) = s.writer().write_all(super::json_line(v).as_bytes())
        {
            self.error = Some(e);
        }
    }
    /// Move the file into place.
    pub fn finish(self) -> Result<(), Failure> {
        if let Some((s, p)) = self.sink {
            if let Some(e) = self.error {
                return Err(Failure::Usage(format!("cannot write {}: {e}", p.display())));
            }
            s.finish()?;
        }
        Ok(())
    }
}

/// A refused record as a JSON value (its line in `--rejects`).
pub fn rejected_json(r: &pith::arxiv::Rejected) -> serde_json::Value {
    serde_json::to_value(r).unwrap_or(serde_json::Value::Null)
}

/// A refused record's line in `--report`.
pub fn refused_report(r: &pith::arxiv::Rejected) -> serde_json::Value {
    let mut v = rejected_json(r);
    if let Some(o) = v.as_object_mut() {
        o.insert("outcome".into(), "refused".into());
    }
    v
}
