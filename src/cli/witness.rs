//! `pith witness`: cosign a log's checkpoints, only forward.

use std::path::PathBuf;

use pith::format::canon;
use pith::format::time::Timestamp;

use super::unlock::UnlockArgs;
use super::{Failure, emit, shown};

#[derive(clap::Subcommand, Debug)]
pub enum Cmd {
    /// Cosign a checkpoint (C2SP tlog-cosignature) after checking it is the log's and
    /// extends the last one this witness cosigned; writes the note with the cosignature.
    Cosign(CosignArgs),
}

#[derive(clap::Args, Debug)]
pub struct CosignArgs {
    /// The log's checkpoint (a signed note; `-` for stdin).
    checkpoint: PathBuf,
    /// The witness's signing key: an age-encrypted ID.key.age, its document beside it, or a
    /// `pkcs11:` URI of a token key (with --keyring).
    #[arg(long, value_name = "FILE")]
    key: PathBuf,
    #[command(flatten)]
    unlock: UnlockArgs,
    /// The keyring holding the witness key's document (default: the key file's directory;
    /// needed for a pkcs11: key).
    #[arg(long, value_name = "DIR")]
    keyring: Option<PathBuf>,
    /// The witness's name in its cosignature lines (printable ASCII, no spaces or '+').
    #[arg(long, value_parser = super::note_name)]
    name: String,
    /// The keyring holding the log's key.
    #[arg(long, value_name = "DIR")]
    log_keyring: PathBuf,
    /// The log's expected origin line.
    #[arg(long, default_value = pith::format::rules::LOG_ORIGIN, value_parser = super::note_name)]
    origin: String,
    /// The witness's state directory: the last checkpoint cosigned, per log.
    #[arg(long, value_name = "DIR")]
    state: PathBuf,
    /// The consistency proof from the size last cosigned (`pith log prove --from N`).
    #[arg(long, value_name = "FILE")]
    proof: Option<PathBuf>,
    /// Write here instead of stdout.
    #[arg(short = 'o', long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Replace an existing --out file.
    #[arg(long)]
    force: bool,
}

pub fn run(cmd: Cmd) -> Result<u8, Failure> {
    match cmd {
        Cmd::Cosign(a) => cosign(a),
    }
}

fn cosign(a: CosignArgs) -> Result<u8, Failure> {
    use pith::verify::audit::MonitorState;
    let log_ring = pith::verify::keyring::Keyring::load(&a.log_keyring)?;
    let bytes = pith::io::read_input(&a.checkpoint)?;
    // one state file per log, named by its origin's hash so no origin makes a path
    let file = a.state.join(format!(
        "{}.json",
        pith::format::digest::sha256(a.origin.as_bytes()).hex()
    ));
    let last = match std::fs::symlink_metadata(&file) {
        Ok(_) => Some(
            MonitorState::from_value(&super::read_json(&file)?)
                .map_err(|e| Failure::Usage(format!("{}: {e}", shown(&file))))?,
        ),
        Err(_) => None,
    };
    let proof = match &a.proof {
        Some(p) => Some(
            pith::verify::log::ConsistencyProof::from_value(&super::read_json(p)?)
                .map_err(|e| Failure::Usage(format!("{}: {e}", shown(p))))?,
        ),
        None => None,
    };
    let now = Timestamp::now();
    let (key, _) = super::unlock::signing_key(&a.key, &a.unlock, a.keyring.as_deref(), &now)?;
    let (note, state) = pith::sign::checkpoint::witness_cosign(
        &bytes,
        &log_ring,
        &a.origin,
        last.as_ref(),
        proof.as_ref(),
        &pith::sign::checkpoint::Witness {
            name: &a.name,
            key: &key,
        },
        &now,
    )
    .map_err(|e| Failure::Refused(format!("{}: not cosigned: {e}", shown(&a.checkpoint))))?;
    // the state moves forward before the cosignature is shown
    std::fs::create_dir_all(&a.state).map_err(|e| {
        Failure::Usage(format!(
            "cannot create the state directory {}: {e}",
            shown(&a.state)
        ))
    })?;
    let mut b = canon::to_canonical(&state.to_value());
    b.push(b'\n');
    pith::io::write_output(Some(&file), &b, true)?;
    emit(a.out.as_ref(), a.force, note.text().as_bytes())?;
    infoln!(
        "cosigned {} at {} leaves as witness {} (key {})",
        super::vis(&a.origin),
        state.size,
        super::vis(&a.name),
        key.key_id()
    );
    Ok(0)
}
