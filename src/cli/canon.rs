//! `pith canon`: the canonical form of a JSON document (spec §2).

use std::path::PathBuf;

use super::{Failure, json_line, read_json};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The JSON document (`-` for stdin).
    #[arg(default_value = "-")]
    file: PathBuf,
    /// Print the SHA-256 (hex) of the canonical bytes instead of the bytes.
    #[arg(long)]
    sha256: bool,
    /// Machine-readable output: {"canonical": ..., "sha256": ...}.
    #[arg(long)]
    json: bool,
    /// Write to this file instead of stdout (refuses to overwrite without --force).
    #[arg(short = 'o', long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Replace an existing --out file (atomically).
    #[arg(long)]
    force: bool,
}

pub fn run(a: Args) -> Result<u8, Failure> {
    let v = read_json(&a.file)?;
    let bytes = pith::format::canon::to_canonical(&v);
    let digest = pith::format::digest::sha256(&bytes).hex();
    let out = if a.json {
        let text = String::from_utf8_lossy(&bytes).into_owned();
        json_line(&serde_json::json!({ "canonical": text, "sha256": digest })).into_bytes()
    } else if a.sha256 {
        format!("{digest}\n").into_bytes()
    } else {
        let mut b = bytes;
        b.push(b'\n');
        b
    };
    super::emit_reported(a.out.as_ref(), a.force, &out)?;
    Ok(0)
}
