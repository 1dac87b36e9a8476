//! Subcommands: one file each, with an args struct and `run()`.

use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};

/// `println!` that a closed pipe cannot panic (see [`out`]).
macro_rules! outln {
    () => { $crate::cli::out(format_args!("\n")) };
    ($($t:tt)*) => { $crate::cli::out(format_args!("{}\n", format_args!($($t)*))) };
}
/// `print!` that a closed pipe cannot panic.
macro_rules! outp {
    ($($t:tt)*) => { $crate::cli::out(format_args!($($t)*)) };
}
/// `eprintln!` that a closed stderr cannot panic.
macro_rules! errln {
    ($($t:tt)*) => { $crate::cli::err(format_args!("{}\n", format_args!($($t)*))) };
}
/// A success or progress line on stderr, which `--quiet` silences (warnings, refusals and
/// errors use `errln!` and always show).
macro_rules! infoln {
    ($($t:tt)*) => { if !$crate::cli::quiet() { errln!($($t)*) } };
}

mod bulkio;
mod bundle;
mod canon;
mod docs;
mod event;
mod graph;
mod input;
mod issue;
mod key;
mod log;
mod merge;
mod offline;
mod publish;
mod record;
mod registry;
mod signing;
mod unlock;
mod verify;
mod witness;

/// pith: issue, sign and verify Pith numbers for arXiv papers, offline.
#[derive(Parser, Debug)]
#[command(name = "pith", version, about, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
    /// No success lines or progress on stderr (warnings, refusals and errors still show).
    #[arg(short, long, global = true)]
    quiet: bool,
}

static QUIET: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether `--quiet` was given.
pub fn quiet() -> bool {
    QUIET.load(std::sync::atomic::Ordering::Relaxed)
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Print the canonical form of a JSON document (spec §2), or its SHA-256.
    Canon(canon::Args),
    /// Merge events into a state (spec §10).
    Merge(merge::Args),
    /// Verify bundles, states, events, receipts, key documents against a keyring (spec §12).
    Verify(verify::Args),
    /// Canonical records and Pith numbers of arXiv metadata (no key needed).
    Record(record::RecordArgs),
    /// Issue Pith numbers: signed receipts in record_created events, kept in the ledger.
    Issue(issue::IssueArgs),
    /// The registry ledger: show, export, import, add, check.
    #[command(subcommand)]
    Registry(registry::Cmd),
    /// The registry's transparency log: head, proofs, signed checkpoints.
    #[command(subcommand)]
    Log(log::Cmd),
    /// Witness a log: cosign its checkpoints, only forward.
    #[command(subcommand)]
    Witness(witness::Cmd),
    /// Sign a graph_snapshot event for a paper (spec §9).
    Graph(graph::GraphArgs),
    /// Sign or re-sign events of the other kinds.
    #[command(subcommand)]
    Event(event::EventCmd),
    /// Merge events and assemble a signed bundle (spec §11).
    Bundle(bundle::BundleArgs),
    /// Write the static resolver tree for verified bundles.
    Publish(publish::PublishArgs),
    /// Sign a signing request on the offline machine, after review.
    Sign(offline::SignArgs),
    /// Apply a signing response: insert, verify, then write (and record in the ledger).
    Apply(offline::ApplyArgs),
    /// The offline signer's audit log.
    #[command(subcommand)]
    Audit(offline::AuditCmd),
    /// Key custody: generate, import, list, rotate, revoke.
    #[command(subcommand)]
    Key(key::Cmd),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(docs::CompletionsArgs),
    /// Write the man pages: one per command.
    Man(docs::ManArgs),
}

/// Run a parsed command line; the exit code on success paths (0, or 1 for a failed check).
pub fn run(cli: Cli) -> Result<u8, Failure> {
    QUIET.store(cli.quiet, std::sync::atomic::Ordering::Relaxed);
    match cli.cmd {
        Cmd::Canon(a) => canon::run(a),
        Cmd::Merge(a) => merge::run(a),
        Cmd::Verify(a) => verify::run(a),
        Cmd::Key(c) => key::run(c),
        Cmd::Sign(a) => offline::sign(a),
        Cmd::Apply(a) => offline::apply(a),
        Cmd::Audit(c) => offline::audit(c),
        Cmd::Graph(a) => graph::graph(a),
        Cmd::Event(c) => event::event(c),
        Cmd::Bundle(a) => bundle::bundle(a),
        Cmd::Publish(a) => publish::publish(a),
        Cmd::Record(a) => record::record(a),
        Cmd::Issue(a) => issue::issue(a),
        Cmd::Registry(c) => registry::run(c),
        Cmd::Log(c) => log::run(c),
        Cmd::Witness(c) => witness::run(c),
        Cmd::Completions(a) => docs::completions(a),
        Cmd::Man(a) => docs::man(a),
    }
}

/// Why a command stopped: printed once, with its cause chain, by `main`.
#[derive(Debug)]
pub enum Failure {
    /// Usage, I/O or parse error: exit 2.
    Usage(String),
    /// Refused (the operation would overwrite, or the keyring's state forbids it): exit 1.
    Refused(String),
    /// The reader of our output went away (`| head`): the command ends quietly, exit 0,
    /// as a Unix filter does; anything signed was stored before it was written.
    Pipe,
}

impl Failure {
    /// The process exit code for this failure.
    pub fn exit_code(&self) -> u8 {
        match self {
            Failure::Usage(_) => 2,
            Failure::Refused(_) => 1,
            Failure::Pipe => 0,
        }
    }
    /// A library error as a usage/I-O failure, or [`Failure::Pipe`] when its cause is a
    /// closed pipe.
    pub fn of(e: &(dyn std::error::Error + 'static)) -> Self {
        let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
        while let Some(c) = cur {
            if c.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            {
                return Failure::Pipe;
            }
            cur = c.source();
        }
        Failure::Usage(chain(e))
    }
}

/// A report command's output while `-o FILE` holds it (see [`ReportOut`]).
static CAPTURE: std::sync::Mutex<Option<Vec<u8>>> = std::sync::Mutex::new(None);

/// `-o/--out FILE` for commands whose output is a report printed as it is made (`verify`,
/// `key list`, `log head`, …): the report is held and written atomically once the command
/// has run (also when a check failed, exit 1; not on an error, exit 2).
#[derive(clap::Args, Debug, Default)]
pub struct ReportOut {
    /// Write the output here instead of stdout (atomically; refused if it exists unless
    /// --force).
    #[arg(short = 'o', long = "out", value_name = "FILE")]
    out: Option<PathBuf>,
    /// Replace an existing --out file.
    #[arg(long)]
    force: bool,
}

impl ReportOut {
    /// Run `f` with its standard output going where `-o` says.
    pub fn run(&self, f: impl FnOnce() -> Result<u8, Failure>) -> Result<u8, Failure> {
        let Some(path) = self.out.as_deref().filter(|p| *p != Path::new("-")) else {
            return f();
        };
        // refused before the command runs: a report must not follow a revocation signed
        // and then go unwritten
        if !self.force && std::fs::symlink_metadata(path).is_ok() {
            return Err(pith::io::IoError::Exists { path: path.into() }.into());
        }
        *CAPTURE
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Vec::new());
        let res = f();
        let held = CAPTURE
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
            .unwrap_or_default();
        let code = res?;
        pith::io::write_output(Some(path), &held, self.force)?;
        infoln!("wrote {}", shown(path));
        Ok(code)
    }
}

/// Standard output as a writer: stdout, or the buffer `-o` holds.
pub struct Stdout;

impl std::io::Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Some(held) = CAPTURE
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .as_mut()
        {
            held.extend_from_slice(buf);
            return Ok(buf.len());
        }
        std::io::stdout().lock().write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stdout().lock().flush()
    }
}

/// Write a line to stdout; a closed pipe ends the command quietly (exit 0), another
/// write error exits 2. `println!` would panic.
pub fn out(args: std::fmt::Arguments<'_>) {
    use std::io::Write as _;
    let mut o = Stdout;
    if let Err(e) = o.write_fmt(args).and_then(|()| o.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        let _ = writeln!(std::io::stderr(), "pith: cannot write the output: {e}");
        std::process::exit(2);
    }
}

/// Write to stderr, ignoring a closed stderr (nothing could report it). `eprintln!`
/// would panic.
pub fn err(args: std::fmt::Arguments<'_>) {
    use std::io::Write as _;
    let _ = std::io::stderr().lock().write_fmt(args);
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Usage(m) | Failure::Refused(m) => f.write_str(m),
            Failure::Pipe => f.write_str("the output was closed"),
        }
    }
}

/// An error with its source chain, as one line.
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let cs = c.to_string();
        if !s.contains(&cs) {
            s.push_str(": ");
            s.push_str(&cs);
        }
        cur = c.source();
    }
    s
}

impl From<pith::io::IoError> for Failure {
    fn from(e: pith::io::IoError) -> Self {
        match e {
            pith::io::IoError::Exists { .. } => {
                Failure::Refused(format!("{}; pass --force to replace it", chain(&e)))
            }
            e => Failure::of(&e),
        }
    }
}

impl From<pith::verify::keyring::KeyringError> for Failure {
    fn from(e: pith::verify::keyring::KeyringError) -> Self {
        Failure::Usage(chain(&e))
    }
}

/// A library refusal with the flag that settles it, where one does (library messages
/// never name flags).
pub fn with_hint(msg: &dyn std::fmt::Display) -> String {
    let m = vis(msg);
    if m.contains(pith::arxiv::NO_FORMAT) {
        format!("{m} (pass --format)")
    } else if m.contains(pith::arxiv::NO_LICENSE) {
        format!("{m} (pass --default-license URL)")
    } else {
        m
    }
}

/// Any text for a person, controls and bidi overrides made visible (`format::text`).
pub fn vis(x: &dyn std::fmt::Display) -> String {
    pith::format::text::visible(&x.to_string()).into_owned()
}

/// Name a path for messages (`-` is stdin).
pub fn shown(p: &Path) -> String {
    if p == Path::new("-") {
        "<stdin>".to_owned()
    } else {
        // a file name is text from outside too: controls shown, never sent
        pith::format::text::visible_line(&p.display().to_string()).into_owned()
    }
}

/// Read and strictly parse one JSON input.
pub fn read_json(p: &Path) -> Result<pith::format::canon::Value, Failure> {
    let bytes = pith::io::read_input(p)?;
    pith::format::canon::parse(&bytes)
        .map_err(|e| Failure::Usage(format!("{}: not valid JSON {e}", shown(p))))
}

/// A log origin or note key name given on the command line, checked as it is parsed (a
/// usage error, exit 2) by the rule the notes are made and read with.
pub fn note_name(s: &str) -> Result<String, String> {
    pith::format::note::check_name(s)
        .map(|()| s.to_owned())
        .map_err(|e| e.to_string())
}

/// Write command output to `--out` (atomically, never overwriting unless `force`) or stdout.
pub fn emit(out: Option<&PathBuf>, force: bool, bytes: &[u8]) -> Result<(), Failure> {
    pith::io::write_output(out.map(PathBuf::as_path), bytes, force)?;
    Ok(())
}

/// [`emit`], then the success line of a command whose only report is the file it wrote.
pub fn emit_reported(out: Option<&PathBuf>, force: bool, bytes: &[u8]) -> Result<(), Failure> {
    emit(out, force, bytes)?;
    if let Some(p) = out.filter(|p| p.as_path() != Path::new("-")) {
        infoln!("wrote {}", shown(p));
    }
    Ok(())
}

/// Print one JSON value as a line (for `--json`).
pub fn json_line(v: &serde_json::Value) -> String {
    let mut s = v.to_string();
    s.push('\n');
    s
}
