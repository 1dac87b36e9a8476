//! `pith log`: the registry's transparency log — its head, proofs, signed checkpoints.

use std::path::PathBuf;

use pith::format::canon;
use pith::format::time::Timestamp;
use pith::trust::keys::b64_encode;

use super::unlock::UnlockArgs;
use super::{Failure, emit};

#[derive(clap::Subcommand, Debug)]
pub enum Cmd {
    /// Print the log's tree size and head.
    Head(HeadArgs),
    /// Print inclusion proofs of a Pith number's or an event's leaves (the document
    /// `verify --proof` reads), or with --from a consistency proof from an older size.
    Prove(ProveArgs),
    /// Sign a checkpoint of the log's current tree (C2SP tlog-checkpoint in a signed note),
    /// kept in the ledger before it is written out; the keyring's key statements not yet
    /// in the log are appended first.
    Checkpoint(CheckpointArgs),
    /// Monitor a served log: recompute every hash from its entries, check the checkpoint,
    /// the tiles, the key statements and the served bundles, and that the log extends the
    /// one last audited (--state); the state moves forward only after a sound audit.
    Audit(AuditArgs),
}

#[derive(clap::Args, Debug)]
pub struct AuditArgs {
    /// The published tree (its log/ and pith/ directories).
    tree: PathBuf,
    /// The keyring: the log's key, and the key statements that must be in the log.
    #[arg(long, value_name = "DIR")]
    keyring: PathBuf,
    /// The monitor's state: the last log it accepted (read if present; written after a
    /// sound audit).
    #[arg(long, value_name = "FILE")]
    state: Option<PathBuf>,
    /// The log's expected origin line.
    #[arg(long, default_value = pith::format::rules::LOG_ORIGIN, value_parser = super::note_name)]
    origin: String,
    /// Machine-readable output.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    output: super::ReportOut,
}

#[derive(clap::Args, Debug)]
pub struct HeadArgs {
    /// The ledger; default $PITH_REGISTRY, else ./pith-registry.sqlite.
    #[arg(long, value_name = "DB")]
    registry: Option<PathBuf>,
    /// Machine-readable output.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    output: super::ReportOut,
}

#[derive(clap::Args, Debug)]
pub struct ProveArgs {
    /// A Pith number (`pith:YYYY:CODE`) or an `event_id`.
    #[arg(required_unless_present = "from", conflicts_with = "from")]
    what: Option<String>,
    /// Prove the current tree consistent with the tree of this many leaves.
    #[arg(long, value_name = "SIZE")]
    from: Option<u64>,
    /// The ledger; default $PITH_REGISTRY, else ./pith-registry.sqlite.
    #[arg(long, value_name = "DB")]
    registry: Option<PathBuf>,
    /// Write here instead of stdout.
    #[arg(short = 'o', long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Replace an existing --out file.
    #[arg(long)]
    force: bool,
}

#[derive(clap::Args, Debug)]
pub struct CheckpointArgs {
    /// The signing key (an age-encrypted ID.key.age, or a `pkcs11:` URI of a token key): the
    /// registry key or a log key.
    #[arg(long, value_name = "FILE")]
    key: PathBuf,
    /// The keyring that decides whether the key may sign (default: the key file's
    /// directory).
    #[arg(long, value_name = "DIR")]
    keyring: Option<PathBuf>,
    #[command(flatten)]
    unlock: UnlockArgs,
    /// The log's origin line; fixed by its first checkpoint.
    #[arg(long, default_value = pith::format::rules::LOG_ORIGIN, value_parser = super::note_name)]
    origin: String,
    /// The ledger; default $PITH_REGISTRY, else ./pith-registry.sqlite.
    #[arg(long, value_name = "DB")]
    registry: Option<PathBuf>,
    /// Write here instead of stdout.
    #[arg(short = 'o', long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Replace an existing --out file.
    #[arg(long)]
    force: bool,
}

pub fn run(cmd: Cmd) -> Result<u8, Failure> {
    match cmd {
        Cmd::Head(a) => head(a),
        Cmd::Prove(a) => prove(a),
        Cmd::Checkpoint(a) => checkpoint(a),
        Cmd::Audit(a) => audit(a),
    }
}

fn head(mut a: HeadArgs) -> Result<u8, Failure> {
    let o = std::mem::take(&mut a.output);
    o.run(|| head_to(a))
}

fn head_to(a: HeadArgs) -> Result<u8, Failure> {
    let l = super::registry::open(a.registry.as_ref())?;
    let (size, root) = l.log_head().map_err(|e| Failure::of(&e))?;
    if a.json {
        emit(
            None,
            false,
            super::json_line(&serde_json::json!({
                "tree_size": size,
                "root_hex": root.hex(),
                "root_b64": b64_encode(&root.0),
            }))
            .as_bytes(),
        )?;
    } else {
        outln!("tree size  {size}");
        outln!("root       {}", root.hex());
    }
    Ok(0)
}

fn prove(a: ProveArgs) -> Result<u8, Failure> {
    let l = super::registry::open(a.registry.as_ref())?;
    if a.from == Some(0) {
        return Err(Failure::Usage(
            "--from 0: a consistency proof is from a tree of at least 1 leaf".into(),
        ));
    }
    if let Some(w) = a.what.as_deref() {
        let event_id = w.strip_prefix("sha256:").is_some_and(|h| {
            h.len() == 64 && h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        });
        if !event_id && pith::format::digest::PithNumber::parse(w).is_none() {
            return Err(Failure::Usage(format!(
                "{}: expected a Pith number (pith:YYYY:CODE) or an event id (sha256:<64 hex>)",
                super::vis(&w)
            )));
        }
    }
    let doc = if let Some(old) = a.from {
        let Some((size, root, path)) = l.log_consistency(old).map_err(|e| Failure::of(&e))? else {
            let (size, _) = l.log_head().map_err(|e| Failure::of(&e))?;
            return Err(Failure::Refused(format!(
                "--from {old}: the log has {size} leaves; a consistency proof needs 1 to {size}"
            )));
        };
        pith::verify::log::ConsistencyProof {
            old_size: old,
            size,
            root,
            path,
        }
        .to_value()
    } else {
        let what = a.what.as_deref().unwrap_or_default();
        let inc = if pith::format::digest::PithNumber::parse(what).is_some() {
            l.log_inclusion_of_subject(what)
        } else {
            l.log_inclusion(what)
        }
        .map_err(|e| Failure::of(&e))?;
        if inc.proofs.is_empty() {
            return Err(Failure::Refused(format!(
                "{}: no leaf of the log's tree of {} leaves logs it",
                super::vis(&what),
                inc.size
            )));
        }
        let n = inc.proofs.len();
        let doc = inc.to_proofs().to_value();
        infoln!(
            "{n} leaf proof(s) in the tree of {} leaves, head {}",
            inc.size,
            inc.root.hex()
        );
        doc
    };
    let mut b = canon::to_canonical(&doc);
    b.push(b'\n');
    emit(a.out.as_ref(), a.force, &b)?;
    Ok(0)
}

fn checkpoint(a: CheckpointArgs) -> Result<u8, Failure> {
    let path = super::registry::existing(a.registry.as_ref())?;
    let mut ledger = pith::registry::ledger::Ledger::open(&path).map_err(|e| Failure::of(&e))?;
    let now = Timestamp::now();
    let (key, ring) = super::unlock::signing_key(&a.key, &a.unlock, a.keyring.as_deref(), &now)?;
    // every key statement the keyring trusts is in the tree the checkpoint signs
    let added = ledger.log_statements(&ring).map_err(|e| Failure::of(&e))?;
    if added > 0 {
        infoln!("logged {added} key statement(s) of the keyring");
    }
    let draft = ledger
        .log_checkpoint_draft(&a.origin)
        .map_err(|e| Failure::Refused(super::chain(&e)))?;
    let note = pith::sign::checkpoint::sign_checkpoint(&draft, &key, &now)
        .map_err(|e| Failure::Refused(format!("{}: {e}", a.key.display())))?;
    let text = note.text();
    // what is kept and shown is what a reader with this keyring accepts
    pith::verify::checkpoint::verify_checkpoint(text.as_bytes(), &ring, &a.origin, &now).map_err(
        |e| Failure::Refused(format!("the checkpoint just signed does not verify: {e}")),
    )?;
    ledger
        .store_checkpoint(&draft, &note, &now)
        .map_err(|e| Failure::Refused(super::chain(&e)))?;
    emit(a.out.as_ref(), a.force, text.as_bytes())?;
    infoln!(
        "signed checkpoint of {} ({} leaves) with key {}, kept in {}",
        super::vis(&draft.origin()),
        draft.size(),
        key.key_id(),
        super::shown(&path)
    );
    Ok(0)
}

fn audit(mut a: AuditArgs) -> Result<u8, Failure> {
    let o = std::mem::take(&mut a.output);
    o.run(|| audit_to(a))
}

fn audit_to(a: AuditArgs) -> Result<u8, Failure> {
    use pith::verify::audit::MonitorState;
    let keyring = pith::verify::keyring::Keyring::load(&a.keyring)?;
    let state = match &a.state {
        Some(p) if std::fs::symlink_metadata(p).is_ok() => Some(
            MonitorState::from_value(&super::read_json(p)?)
                .map_err(|e| Failure::Usage(format!("{}: {e}", super::shown(p))))?,
        ),
        _ => None,
    };
    let r = pith::verify::audit::audit(
        &a.tree,
        &keyring,
        &a.origin,
        state.as_ref(),
        &Timestamp::now(),
    )
    .map_err(|e| Failure::Usage(e.to_string()))?;
    if a.json {
        outp!(
            "{}",
            super::json_line(&serde_json::to_value(&r).map_err(|e| Failure::Usage(e.to_string()))?)
        );
    } else {
        for p in &r.problems {
            outln!("PROBLEM {}", super::vis(p));
        }
        if !super::quiet() {
            for n in &r.notes {
                outln!("note: {}", super::vis(n));
            }
        }
        let before = r
            .previous_size
            .map(|s| format!(", last audited at {s}"))
            .unwrap_or_default();
        outln!(
            "{} log {}: {} leaves ({} events, {} key statements), root {}{before}; {} served bundle(s) checked",
            if r.ok() { "audited" } else { "FAILED" },
            super::vis(&r.origin),
            r.tree_size,
            r.event_leaves,
            r.statement_leaves,
            r.root_hex,
            r.bundles_checked
        );
    }
    if !r.ok() {
        return Ok(1);
    }
    if let (Some(p), Some(s)) = (&a.state, r.state()) {
        let mut b = canon::to_canonical(&s.to_value());
        b.push(b'\n');
        pith::io::write_output(Some(p), &b, true)?;
    }
    Ok(0)
}
