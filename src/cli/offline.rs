//! `pith sign` (offline), `pith apply` (online), `pith audit export`.

use std::io::{BufRead as _, Write as _};
use std::path::{Path, PathBuf};

use pith::format::canon::{self, Value};
use pith::sign::issue::KeyRef;

use super::unlock::UnlockArgs;
use super::{Failure, chain, emit, read_json, shown};

/// The signer's audit log next to its key, unless --log says otherwise.
const DEFAULT_LOG: &str = "signer-audit.jsonl";

#[derive(clap::Args, Debug)]
pub struct SignArgs {
    /// The signing request.
    request: PathBuf,
    /// The signing key: an age-encrypted ID.key.age, or a `pkcs11:` URI of a token key.
    #[arg(long, value_name = "FILE")]
    key: PathBuf,
    #[command(flatten)]
    unlock: UnlockArgs,
    /// Sign without asking (for scripts); the review is still printed.
    #[arg(long)]
    yes: bool,
    /// Write the response here (never over an existing file); default stdout.
    #[arg(short = 'o', long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// The signer's hash-chained audit log (default: signer-audit.jsonl beside the key; for
    /// a pkcs11: key, in --keyring).
    #[arg(long, value_name = "FILE")]
    log: Option<PathBuf>,
    /// The keyring that says whether the key may sign (default: the key file's directory).
    #[arg(long, value_name = "DIR")]
    keyring: Option<PathBuf>,
    /// Print the review as JSON on stderr.
    #[arg(long)]
    json: bool,
}

fn refused(e: impl std::fmt::Display) -> Failure {
    Failure::Refused(e.to_string())
}

pub fn sign(a: SignArgs) -> Result<u8, Failure> {
    let req = read_json(&a.request)?;
    let now = pith::format::time::Timestamp::now();
    let (key, _ring) = super::unlock::signing_key(&a.key, &a.unlock, a.keyring.as_deref(), &now)?;
    let review = pith::sign::offline::review(&req, &KeyRef::from(&key))
        .map_err(|e| refused(format!("{}: {e}", shown(&a.request))))?;
    // a token key has no directory: its audit log sits in the keyring
    let token = a
        .key
        .to_str()
        .is_some_and(pith::trust::pkcs11::Pkcs11Uri::is_uri);
    let log = match (&a.log, token, &a.keyring) {
        (Some(l), _, _) => l.clone(),
        (None, true, Some(dir)) => dir.join(DEFAULT_LOG),
        (None, true, None) => {
            return Err(Failure::Usage(
                "a pkcs11: key needs --keyring DIR (its audit log is kept there unless --log FILE)"
                    .into(),
            ));
        }
        (None, false, _) => a.key.parent().unwrap_or(Path::new(".")).join(DEFAULT_LOG),
    };
    pith::sign::offline::check_replay(&log, &review.request_id).map_err(refused)?;
    if a.json {
        errln!(
            "{}",
            serde_json::to_string(&review).map_err(|e| Failure::Usage(e.to_string()))?
        );
    } else {
        use pith::format::text::visible_line as v;
        errln!("signing request {}", v(&review.request_id));
        errln!("  read-out (compare by voice): {}", review.words);
        errln!("  key: {} ({})", v(&review.key_id), v(&review.fingerprint));
        errln!(
            "  {} signature(s) in {} item(s):",
            review.signatures,
            review.items.len()
        );
        for (k, n) in &review.counts {
            errln!("  {n} x {k}");
        }
        for (kind, subject, title) in &review.items {
            errln!("    {kind:<14} {}  {}", v(subject), v(title));
        }
    }
    if !a.yes {
        let mut tty = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/tty")
            .map_err(|_| refused("no terminal to confirm on: pass --yes to sign without asking"))?;
        write!(
            tty,
            "Make these {} signature(s) over {} item(s) with {}? Type yes to sign: ",
            review.signatures,
            review.items.len(),
            pith::format::text::visible_line(&review.key_id)
        )
        .map_err(|e| Failure::Usage(e.to_string()))?;
        let mut line = String::new();
        std::io::BufReader::new(&tty)
            .read_line(&mut line)
            .map_err(|e| Failure::Usage(e.to_string()))?;
        if line.trim() != "yes" {
            return Err(refused("not confirmed: nothing signed"));
        }
    }
    let (response, made) =
        pith::sign::offline::sign_logged(&req, &key, &log, &now).map_err(refused)?;
    if made.len() != review.signatures {
        // the review is what the custodian agreed to; anything else is a defect
        return Err(Failure::Usage(format!(
            "internal: {} signatures made where the review announced {}",
            made.len(),
            review.signatures
        )));
    }
    let mut b = canon::to_canonical(&response);
    b.push(b'\n');
    emit(a.out.as_ref(), false, &b)?;
    infoln!(
        "signed {} signature(s); audit log {}",
        made.len(),
        log.display()
    );
    Ok(0)
}

#[derive(clap::Args, Debug)]
pub struct ApplyArgs {
    /// The signing request that was carried to the signer.
    request: PathBuf,
    /// The signer's response.
    response: PathBuf,
    /// The keyring every signed artifact must verify against.
    #[arg(long)]
    keyring: PathBuf,
    /// The registry ledger for record_created items; default $PITH_REGISTRY, else
    /// ./pith-registry.sqlite.
    #[arg(long)]
    registry: Option<PathBuf>,
    /// Write the signed artifacts here (JSON for one, JSON lines for many).
    #[arg(short = 'o', long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Replace an existing --out file.
    #[arg(long)]
    force: bool,
}

pub fn apply(a: ApplyArgs) -> Result<u8, Failure> {
    let req = read_json(&a.request)?;
    // a response that cannot be read is an I/O error (exit 2); one that reads but does not
    // parse was damaged on its way from the air-gapped machine: refused (exit 1)
    let resp_bytes = pith::io::read_input(&a.response)?;
    let resp = pith::format::canon::parse(&resp_bytes).map_err(|e| {
        refused(format!(
            "{}: not valid JSON {e}: refusing a truncated or damaged response",
            super::shown(&a.response)
        ))
    })?;
    let keyring = pith::verify::keyring::Keyring::load(&a.keyring)?;
    let artifacts = pith::sign::offline::apply(&req, &resp, &keyring)
        .map_err(|e| refused(format!("{}: {e}; nothing written", shown(&a.response))))?;
    // stored before it is reported: every artifact is in the ledger, then printed
    let path = a
        .registry
        .clone()
        .unwrap_or_else(pith::registry::ledger::default_path);
    let mut ledger = pith::registry::ledger::Ledger::open(&path).map_err(|e| Failure::of(&e))?;
    let mut already = 0usize;
    for art in &artifacts {
        use pith::registry::ledger::{AppliedOutcome, Put};
        match ledger.record_applied(art).map_err(|e| refused(chain(&e)))? {
            AppliedOutcome::Issued(done) if done.already => already += 1,
            AppliedOutcome::Issued(done) => infoln!(
                "{} {}",
                if done.new { "issued  " } else { "reissued" },
                done.pith_number
            ),
            AppliedOutcome::Event(Put::Already) | AppliedOutcome::Bundle(false) => already += 1,
            AppliedOutcome::Event(_) | AppliedOutcome::Bundle(true) => {}
        }
    }
    let mut b = Vec::new();
    for v in &artifacts {
        b.extend_from_slice(&canon::to_canonical(v.value()));
        b.push(b'\n');
    }
    // a retry that finds its own output in place leaves it (nothing new to write)
    let same = a
        .out
        .as_ref()
        .is_some_and(|o| std::fs::read(o).is_ok_and(|old| old == b));
    if !same {
        emit(a.out.as_ref(), a.force, &b)?;
    }
    if already == artifacts.len() {
        infoln!(
            "already applied: all {} signed artifact(s) are in {}",
            artifacts.len(),
            shown(&path)
        );
    } else {
        infoln!(
            "applied {} signed artifact(s) to {}{}",
            artifacts.len() - already,
            shown(&path),
            if already > 0 {
                format!(" ({already} already there)")
            } else {
                String::new()
            }
        );
    }
    Ok(0)
}

#[derive(clap::Subcommand, Debug)]
pub enum AuditCmd {
    /// Print the offline signer's audit log.
    Export(AuditArgs),
}

#[derive(clap::Args, Debug)]
pub struct AuditArgs {
    /// The audit log (signer-audit.jsonl).
    #[arg(long)]
    log: PathBuf,
    /// Verify each entry's signature against this keyring (without it, only the chain
    /// is checked: who signed the entries is not).
    #[arg(long)]
    keyring: Option<PathBuf>,
    /// Print the entries as JSON lines.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    output: super::ReportOut,
}

pub fn audit(cmd: AuditCmd) -> Result<u8, Failure> {
    let AuditCmd::Export(mut a) = cmd;
    let o = std::mem::take(&mut a.output);
    o.run(|| export(a))
}

fn export(a: AuditArgs) -> Result<u8, Failure> {
    let name = shown(&a.log);
    match std::fs::metadata(&a.log) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Failure::Usage(format!(
                "no audit log at {name} (the signer keeps {DEFAULT_LOG} beside its key; name it with --log FILE)"
            )));
        }
        Ok(m) if m.is_dir() => {
            return Err(Failure::Usage(format!(
                "{name} is a directory, not an audit log"
            )));
        }
        _ => {}
    }
    let entries = pith::sign::custody::read_log(&a.log).map_err(|e| Failure::of(&e))?;
    let keyring = a
        .keyring
        .as_deref()
        .map(pith::verify::keyring::Keyring::load)
        .transpose()?;
    let report = pith::verify::audit_log(&entries, keyring.as_ref());
    if !report.ok() {
        errln!(
            "refused: {name} is not an intact signer audit log: {} failed check(s)",
            report.failures.len()
        );
        for f in &report.failures {
            errln!("  FAIL {}", super::vis(f));
        }
        return Ok(1);
    }
    let mut out = super::Stdout;
    for e in &entries {
        let line = if a.json {
            let mut b = canon::to_canonical(e);
            b.push(b'\n');
            String::from_utf8_lossy(&b).into_owned()
        } else {
            let g = |k: &str| {
                e.get(k)
                    .map(Value::brief)
                    .unwrap_or_default()
                    .trim_matches('"')
                    .to_owned()
            };
            let d = |k: &str| {
                e.get("details")
                    .and_then(|x| x.get(k))
                    .map(Value::brief)
                    .unwrap_or_default()
                    .trim_matches('"')
                    .to_owned()
            };
            format!(
                "{:>4}  {}  {}  {}  {}  {}  {}\n",
                g("seq"),
                g("at"),
                g("key_id"),
                d("signed_message"),
                d("subject"),
                d("digest"),
                d("request_id")
            )
        };
        out.write_all(line.as_bytes())
            .map_err(|e| Failure::of(&e))?;
    }
    let head = report.log.map(|l| l.head).unwrap_or_default();
    match &a.keyring {
        Some(k) => infoln!(
            "{name}: {} entries, head {head}; chain and signatures verified against {}",
            entries.len(),
            shown(k)
        ),
        None => infoln!(
            "{name}: {} entries, head {head}; chain checked, signatures not (pass --keyring DIR)",
            entries.len()
        ),
    }
    Ok(0)
}
